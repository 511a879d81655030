import { createHmac, randomInt, timingSafeEqual } from 'node:crypto';
import { KithError } from '../../errors/catalogue.js';
import type { ModuleSql } from '../../storage/module-tables.js';

export const EMAIL_LIMITS = {
  maxAddressLength: 254,
  codeTtlMs: 15 * 60_000,
  maxCodeAttempts: 5,
  /** One new code a minute: each one is an email we send to someone else's inbox. */
  resendAfterMs: 60_000,
} as const;

/**
 * A deliberately plain address check: one @, no spaces, no control characters (CRLF would inject
 * SMTP headers), no display name or angle brackets. The code sent to it proves the rest.
 */
export function normaliseAddress(input: string): string {
  const address = input.trim();
  if (address.length > EMAIL_LIMITS.maxAddressLength || /[\x00-\x1f\x7f]/.test(address)) throw new KithError('INVALID_EMAIL');
  if (!/^[^\s@<>(),;:"\\[\]]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$/.test(address)) {
    throw new KithError('INVALID_EMAIL');
  }
  return address;
}

/** Case-insensitive lookup key (the local part is case-insensitive in practice everywhere). */
export const addressKey = (address: string): string => address.toLowerCase();

export interface EmailStatus {
  address: string | null;
  verified: boolean;
  unsubscribed: boolean;
  pendingAddress: string | null;
}

type Row = {
  user_id: string;
  address: string | null;
  unsubscribed: number | string;
  pending_address: string | null;
  code_hash: string | null;
  code_expires_at: number | string | null;
  code_attempts: number | string;
  code_sent_at: number | string | null;
};

/**
 * Members' email addresses. A new address waits (pending) until the 6-digit code mailed to it is
 * typed back; the code is kept as an HMAC under a server secret (a million codes are too few for a
 * plain hash to hide them), expires, and allows a few attempts only.
 */
export class EmailAddresses {
  constructor(
    private readonly sql: ModuleSql,
    private readonly codeKey: Buffer,
  ) {}

  private codeHash(userId: string, address: string, code: string): string {
    return createHmac('sha256', this.codeKey).update(`${userId}\n${addressKey(address)}\n${code}`).digest('base64url');
  }

  private row(userId: string): Promise<Row | undefined> {
    return this.sql.get<Row>('SELECT * FROM notify_email_addresses WHERE user_id = ?', [userId]);
  }

  async status(userId: string): Promise<EmailStatus> {
    const r = await this.row(userId);
    return {
      address: r?.address ?? null,
      verified: !!r?.address,
      unsubscribed: !!r && Number(r.unsubscribed) === 1,
      pendingAddress: r?.pending_address ?? null,
    };
  }

  /** Starts verifying `address`; returns the code to mail (never stored, never logged). */
  async startVerification(userId: string, address: string, now = Date.now()): Promise<string> {
    const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
    const r = await this.row(userId);
    if (r?.code_sent_at != null && now - Number(r.code_sent_at) < EMAIL_LIMITS.resendAfterMs) {
      const wait = Math.ceil((EMAIL_LIMITS.resendAfterMs - (now - Number(r.code_sent_at))) / 1000);
      throw new KithError('RATE_LIMITED', `A code was just sent; ask again in ${wait} s.`, { 'retry-after': String(wait) });
    }
    const hash = this.codeHash(userId, address, code);
    const expires = now + EMAIL_LIMITS.codeTtlMs;
    if (r) {
      await this.sql.run(
        `UPDATE notify_email_addresses SET pending_address = ?, code_hash = ?, code_expires_at = ?, code_attempts = 0,
           code_sent_at = ?, updated_at = ? WHERE user_id = ?`,
        [address, hash, expires, now, now, userId],
      );
    } else {
      await this.sql.run(
        `INSERT INTO notify_email_addresses (user_id, address, address_key, unsubscribed, pending_address, code_hash,
           code_expires_at, code_attempts, code_sent_at, updated_at) VALUES (?, NULL, NULL, 0, ?, ?, ?, 0, ?, ?)`,
        [userId, address, hash, expires, now, now],
      );
    }
    return code;
  }

  /** Forgets the code when it could not be mailed, so the member may ask again at once. */
  async cancelCode(userId: string): Promise<void> {
    await this.sql.run(
      'UPDATE notify_email_addresses SET pending_address = NULL, code_hash = NULL, code_expires_at = NULL, code_sent_at = NULL WHERE user_id = ?',
      [userId],
    );
  }

  /** Checks a typed code; on success the pending address becomes the verified one (and subscribed). */
  async verify(userId: string, code: string, now = Date.now()): Promise<string> {
    return this.sql.transaction(async (tx) => {
      const r = await tx.get<Row>('SELECT * FROM notify_email_addresses WHERE user_id = ?', [userId]);
      if (!r?.pending_address || !r.code_hash) throw new KithError('EMAIL_NOT_PENDING');
      const attempts = Number(r.code_attempts);
      if (attempts >= EMAIL_LIMITS.maxCodeAttempts || Number(r.code_expires_at) <= now) throw new KithError('EMAIL_CODE_INVALID');
      const expected = Buffer.from(r.code_hash);
      const given = Buffer.from(this.codeHash(userId, r.pending_address, code));
      if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
        await tx.run('UPDATE notify_email_addresses SET code_attempts = code_attempts + 1 WHERE user_id = ?', [userId]);
        return undefined;
      }
      await tx.run(
        `UPDATE notify_email_addresses SET address = ?, address_key = ?, unsubscribed = 0, pending_address = NULL,
           code_hash = NULL, code_expires_at = NULL, code_attempts = 0, updated_at = ? WHERE user_id = ?`,
        [r.pending_address, addressKey(r.pending_address), now, userId],
      );
      return r.pending_address;
    }).then((address) => {
      // Thrown outside the transaction, so that the counted attempt is committed.
      if (address === undefined) throw new KithError('EMAIL_CODE_INVALID');
      return address;
    });
  }

  async remove(userId: string): Promise<void> {
    await this.sql.run('DELETE FROM notify_email_addresses WHERE user_id = ?', [userId]);
  }

  /** The verified address to mail, or undefined. `account` mail ignores unsubscribing (resets, sign-ins). */
  async deliverable(userId: string, kind: 'notice' | 'account'): Promise<string | undefined> {
    const r = await this.row(userId);
    if (!r?.address) return undefined;
    if (kind === 'notice' && Number(r.unsubscribed) === 1) return undefined;
    return r.address;
  }

  async unsubscribe(userId: string, address: string): Promise<boolean> {
    const { changes } = await this.sql.run('UPDATE notify_email_addresses SET unsubscribed = 1 WHERE user_id = ? AND address_key = ?', [
      userId,
      addressKey(address),
    ]);
    return changes > 0;
  }

  /** Users who verified this address (account recovery). Usually one; a shared family inbox may serve several. */
  async usersWith(address: string): Promise<Array<{ userId: string; address: string }>> {
    const rows = await this.sql.all<{ user_id: string; address: string }>(
      'SELECT user_id, address FROM notify_email_addresses WHERE address_key = ? LIMIT 10',
      [addressKey(address)],
    );
    return rows.map((r) => ({ userId: r.user_id, address: r.address }));
  }
}
