import type { ModuleSql } from '../../storage/module-tables.js';
import type { Delivery } from '../delivery.js';

export type OutboxStatus = 'pending' | 'sent' | 'failed';

/** After this many attempts (about a day with the default backoff) a message is given up. */
export const MAX_ATTEMPTS = 12;
/** A claim lasts longer than one SMTP send may take (nodemailer's timeouts add up to under a minute). */
const CLAIM_MS = 2 * 60_000;
const MAX_BACKOFF_MS = 6 * 3600_000;

export interface Claimed {
  delivery: Delivery;
  attempts: number;
}

/**
 * The email outbox: each delivery stored once by its key before any SMTP attempt, then claimed by
 * one sender at a time (a conditional UPDATE, so instances sharing PostgreSQL never both send),
 * marked sent, or rescheduled with exponential backoff. Never sent twice once marked sent.
 */
export class EmailOutbox {
  constructor(
    private readonly sql: ModuleSql,
    private readonly retryBaseMs: number,
  ) {}

  /** Stores it unless a delivery with its key is already there; returns the row's status, and whether this added it. */
  async add(delivery: Delivery, now = Date.now()): Promise<{ status: OutboxStatus; added: boolean }> {
    const conflict = 'ON CONFLICT (key) DO NOTHING';
    const inserted = await this.sql.run(
      `INSERT INTO notify_email_outbox (key, user_id, delivery, status, attempts, next_attempt_at, claimed_until, created_at)
       VALUES (?, ?, ?, 'pending', 0, ?, 0, ?) ${conflict}`,
      [delivery.key, delivery.userId, JSON.stringify(delivery), now, now],
    );
    const row = await this.sql.get<{ status: OutboxStatus }>('SELECT status FROM notify_email_outbox WHERE key = ?', [delivery.key]);
    return { status: row?.status ?? 'pending', added: inserted.changes === 1 };
  }

  /** Takes the row for one attempt if it is pending and nobody holds it (`force`: even if not yet due). */
  async claim(key: string, now: number, force: boolean): Promise<Claimed | undefined> {
    const due = force ? '' : 'AND next_attempt_at <= ?';
    const params = force ? [now + CLAIM_MS, key, now] : [now + CLAIM_MS, key, now, now];
    const { changes } = await this.sql.run(
      `UPDATE notify_email_outbox SET claimed_until = ? WHERE key = ? AND status = 'pending' AND claimed_until <= ? ${due}`,
      params,
    );
    if (changes !== 1) return undefined;
    const row = await this.sql.get<{ delivery: string; attempts: number | string }>(
      'SELECT delivery, attempts FROM notify_email_outbox WHERE key = ?',
      [key],
    );
    return row ? { delivery: JSON.parse(row.delivery) as Delivery, attempts: Number(row.attempts) } : undefined;
  }

  async markSent(key: string, now = Date.now()): Promise<void> {
    await this.sql.run(
      `UPDATE notify_email_outbox SET status = 'sent', sent_at = ?, attempts = attempts + 1, claimed_until = 0, last_error = NULL WHERE key = ?`,
      [now, key],
    );
  }

  /** A failed attempt: retried later, or given up ('failed') when permanent or out of attempts. */
  async markFailed(key: string, attemptsBefore: number, reason: string, permanent: boolean, now = Date.now()): Promise<OutboxStatus> {
    const attempts = attemptsBefore + 1;
    const status: OutboxStatus = permanent || attempts >= MAX_ATTEMPTS ? 'failed' : 'pending';
    // Full jitter halves a thundering herd after an SMTP outage.
    const backoff = Math.min(MAX_BACKOFF_MS, this.retryBaseMs * 2 ** (attempts - 1));
    const next = now + Math.round(backoff * (0.5 + Math.random() / 2));
    await this.sql.run(
      'UPDATE notify_email_outbox SET status = ?, attempts = ?, next_attempt_at = ?, claimed_until = 0, last_error = ? WHERE key = ?',
      [status, attempts, next, reason.slice(0, 200), key],
    );
    return status;
  }

  /** Puts a claimed row off until `at` without counting an attempt (its recipient's quiet hours). */
  async postpone(key: string, at: number): Promise<void> {
    await this.sql.run(`UPDATE notify_email_outbox SET next_attempt_at = ?, claimed_until = 0 WHERE key = ? AND status = 'pending'`, [at, key]);
  }

  /** Keys due for a retry, oldest first. */
  async due(now: number, limit: number): Promise<string[]> {
    const rows = await this.sql.all<{ key: string }>(
      `SELECT key FROM notify_email_outbox WHERE status = 'pending' AND next_attempt_at <= ? AND claimed_until <= ?
       ORDER BY next_attempt_at LIMIT ?`,
      [now, now, limit],
    );
    return rows.map((r) => r.key);
  }

  /** Sent rows are kept a week (a late duplicate from the core is still recognised), then dropped. */
  async prune(now: number): Promise<void> {
    await this.sql.run(`DELETE FROM notify_email_outbox WHERE status <> 'pending' AND created_at < ?`, [now - 7 * 24 * 3600_000]);
  }
}
