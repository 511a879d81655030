/**
 * The exactly-once ledger: claim → send → mark, per delivery key, in the server's database so that
 * restarts and other instances see it.
 *
 * A claim is a conditional insert (or the take-over of a claim whose lease ran out), so one holder
 * at a time sends a key. Honest window: a holder that dies after the channel accepted a message but
 * before `markSent` leaves a claim that is retried once its lease expires — at-least-once for that
 * instant. Channels close it by treating `Delivery.key` as an idempotency key (email Message-ID,
 * push tag; the webhook channel sends it as `Idempotency-Key`).
 */
import type { ModuleSql } from '../storage/module-tables.js';

export type LedgerState = 'claimed' | 'sent' | 'gone' | 'skipped' | 'failed';

export class Ledger {
  constructor(private readonly sql: ModuleSql) {}

  /** True when `holder` now holds the key: new, or claimed by someone whose lease expired. */
  async claim(key: string, holder: string, now: number, leaseMs: number): Promise<boolean> {
    const inserted = await this.sql.run(
      `INSERT INTO notify_ledger (key, state, holder, lease_until, attempts, updated_at)
       VALUES (?, 'claimed', ?, ?, 1, ?) ON CONFLICT (key) DO NOTHING`,
      [key, holder, now + leaseMs, now],
    );
    if (inserted.changes === 1) return true;
    const taken = await this.sql.run(
      `UPDATE notify_ledger SET holder = ?, lease_until = ?, attempts = attempts + 1, updated_at = ?
       WHERE key = ? AND state = 'claimed' AND lease_until <= ?`,
      [holder, now + leaseMs, now, key, now],
    );
    return taken.changes === 1;
  }

  /** Ends the key (`sent`, `gone`, `failed`), if we still hold it. */
  async finish(key: string, holder: string, state: Exclude<LedgerState, 'claimed' | 'skipped'>, now: number): Promise<void> {
    await this.sql.run(`UPDATE notify_ledger SET state = ?, updated_at = ? WHERE key = ? AND holder = ? AND state = 'claimed'`, [
      state,
      now,
      key,
      holder,
    ]);
  }

  /** Gives the key back for a retry no sooner than `retryAt` (a channel said "retry"). */
  async retryLater(key: string, holder: string, retryAt: number, now: number): Promise<void> {
    await this.sql.run(`UPDATE notify_ledger SET lease_until = ?, updated_at = ? WHERE key = ? AND holder = ? AND state = 'claimed'`, [
      retryAt,
      now,
      key,
      holder,
    ]);
  }

  /** Records a key that will never be sent (missed while down, or too late); true when it was new. */
  async skip(key: string, now: number): Promise<boolean> {
    const r = await this.sql.run(
      `INSERT INTO notify_ledger (key, state, holder, lease_until, attempts, updated_at)
       VALUES (?, 'skipped', NULL, 0, 0, ?) ON CONFLICT (key) DO NOTHING`,
      [key, now],
    );
    return r.changes === 1;
  }

  /**
   * Records keys that will never be sent, as `skip` does, in batches: a reminder's channels the
   * member did not have when it was delivered (so that no later look tries them again).
   */
  async skipAll(keys: readonly string[], now: number): Promise<void> {
    for (let i = 0; i < keys.length; i += 200) {
      const chunk = keys.slice(i, i + 200);
      await this.sql.run(
        `INSERT INTO notify_ledger (key, state, holder, lease_until, attempts, updated_at)
         VALUES ${chunk.map(() => "(?, 'skipped', NULL, 0, 0, ?)").join(', ')} ON CONFLICT (key) DO NOTHING`,
        chunk.flatMap((k) => [k, now]),
      );
    }
  }

  /** Which of `keys` are in the ledger at all, with their state. */
  async states(keys: readonly string[]): Promise<Map<string, { state: LedgerState; leaseUntil: number }>> {
    const out = new Map<string, { state: LedgerState; leaseUntil: number }>();
    for (let i = 0; i < keys.length; i += 200) {
      const chunk = keys.slice(i, i + 200);
      const rows = await this.sql.all<{ key: string; state: LedgerState; lease_until: number | string }>(
        `SELECT key, state, lease_until FROM notify_ledger WHERE key IN (${chunk.map(() => '?').join(', ')})`,
        chunk,
      );
      for (const r of rows) out.set(r.key, { state: r.state, leaseUntil: Number(r.lease_until) });
    }
    return out;
  }

  /**
   * Forgets finished rows last touched before `before`, and claims whose lease ran out before it (a
   * holder that died, and nobody asked for the key again: its reminder's occurrence passed). Safe
   * once `before` is older than any reminder the scheduler still looks back at (four weeks): their
   * keys are never asked for again. A claim whose lease still runs (or that waits for a retry) stays.
   */
  async prune(before: number): Promise<number> {
    const r = await this.sql.run(`DELETE FROM notify_ledger WHERE updated_at < ? AND (state <> 'claimed' OR lease_until < ?)`, [before, before]);
    return r.changes;
  }

  /** Forgets a deleted room's reminder and change-notice keys (they name the room: `rem:<room>:…`, `chg:<room>:…`). */
  async forgetRoom(roomId: string): Promise<number> {
    const like = (prefix: string) => `${prefix}:${roomId.replace(/[\\%_]/g, (c) => `\\${c}`)}:%`;
    const r = await this.sql.run(`DELETE FROM notify_ledger WHERE key LIKE ? ESCAPE '\\' OR key LIKE ? ESCAPE '\\'`, [like('rem'), like('chg')]);
    return r.changes;
  }

  async getState(name: string): Promise<number | undefined> {
    const row = await this.sql.get<{ value: number | string }>('SELECT value FROM notify_state WHERE name = ?', [name]);
    return row === undefined ? undefined : Number(row.value);
  }

  /** Raises a named value (never lowers it: instances share it). */
  async raiseState(name: string, value: number): Promise<void> {
    await this.sql.run(
      `INSERT INTO notify_state (name, value) VALUES (?, ?)
       ON CONFLICT (name) DO UPDATE SET value = CASE WHEN notify_state.value < excluded.value THEN excluded.value ELSE notify_state.value END`,
      [name, value],
    );
  }
}
