import { randomBytes, randomInt } from 'node:crypto';
import { KithError } from '../errors/catalogue.js';
import { sha256 } from '../ids.js';
import type { ModuleMigrations, ModuleSql } from '../storage/module-tables.js';

/**
 * Per-device app passwords, the CalDAV module's first table. A CalDAV client sends one with every
 * request (HTTP Basic), so checking it must be cheap: it is stored as its SHA-256, not with the
 * scrypt of account passwords (auth/passwords.ts). That is safe because, unlike a password a person
 * chose, it is 120 random bits from the server's CSPRNG: a slow hash only helps against guessing
 * from a small space, and 2^120 SHA-256 guesses are out of anyone's reach. scrypt would cost
 * 50–100 ms of CPU per request, and a phone's sync makes dozens.
 */
export const APP_PASSWORD_MIGRATIONS: ModuleMigrations = {
  sqlite: [
    `CREATE TABLE caldav_app_passwords (
       id TEXT PRIMARY KEY, user_id TEXT NOT NULL, label TEXT NOT NULL, hash TEXT NOT NULL,
       created_at INTEGER NOT NULL, last_used_at INTEGER)`,
    'CREATE INDEX caldav_app_passwords_user ON caldav_app_passwords (user_id, created_at)',
  ],
  postgres: [
    `CREATE TABLE caldav_app_passwords (
       id text PRIMARY KEY, user_id text NOT NULL, label text NOT NULL, hash text NOT NULL,
       created_at bigint NOT NULL, last_used_at bigint)`,
    'CREATE INDEX caldav_app_passwords_user ON caldav_app_passwords (user_id, created_at)',
  ],
};

/**
 * What a label (one line naming a device) may not hold: control characters (NUL among them, which
 * PostgreSQL's text cannot hold: the insert failed with a 500), lone surrogates, U+FFFE, U+FFFF.
 */
const NOT_LABEL_TEXT = /[\u0000-\u001F\u007F-\u009F\uD800-\uDFFF\uFFFE\uFFFF]/u;

/** Bounds: a label names a device; a family member needs a handful of devices, not hundreds. */
export const APP_PASSWORD_LIMITS = { maxPerUser: 20, maxLabelLength: 64 } as const;

// Crockford's base32 (no i, l, o, u), 5 bits a character; a retyped o is read as 0, i and l as 1,
// so the letters that look alike cannot be mistyped.
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';
const GROUPS = 6;
const GROUP_LENGTH = 4;

/** `xxxx-xxxx-xxxx-xxxx-xxxx-xxxx`: 24 characters of 5 bits, 120 bits in all. */
export function newAppPassword(): string {
  const groups: string[] = [];
  for (let g = 0; g < GROUPS; g++) {
    let group = '';
    for (let i = 0; i < GROUP_LENGTH; i++) group += ALPHABET[randomInt(ALPHABET.length)];
    groups.push(group);
  }
  return groups.join('-');
}

/**
 * The stored form of a presented password: dashes, spaces and case do not matter (people retype
 * these). undefined when it cannot be an app password at all, so nothing is looked up for it.
 */
export function appPasswordHash(presented: string): string | undefined {
  const compact = presented.replace(/[-\s]/g, '').toLowerCase().replace(/o/g, '0').replace(/[il]/g, '1');
  if (compact.length !== GROUPS * GROUP_LENGTH) return undefined;
  for (const ch of compact) if (!ALPHABET.includes(ch)) return undefined;
  return sha256(`kith-app-password:${compact}`);
}

export interface AppPasswordView {
  id: string;
  label: string;
  createdAt: number;
  lastUsedAt: number | null;
}

export interface AppPasswordRow {
  id: string;
  hash: string;
  last_used_at: number | null;
}

type Row = { id: string; label: string; created_at: number | string; last_used_at: number | string | null };
const view = (r: Row): AppPasswordView => ({
  id: r.id,
  label: r.label,
  createdAt: Number(r.created_at),
  lastUsedAt: r.last_used_at === null ? null : Number(r.last_used_at),
});

/** The table's reads and writes; every one is scoped to one user. */
export class AppPasswords {
  constructor(private readonly sql: ModuleSql) {}

  /** Makes one; the answer carries the password, which is never available again. */
  async create(userId: string, label: string, now = Date.now()): Promise<AppPasswordView & { password: string }> {
    if (NOT_LABEL_TEXT.test(label)) throw new KithError('VALIDATION_FAILED', 'body/label must not hold control characters.');
    const password = newAppPassword();
    const row = { id: randomBytes(9).toString('base64url'), label, createdAt: now };
    // Count and insert in one transaction, so a burst of requests cannot go past the bound: on
    // SQLite transactions are serial; on PostgreSQL a per-user lock makes them so (else racing
    // inserts could each count 19).
    await this.sql.transaction(async (tx) => {
      if (tx.engine === 'postgres') await tx.get('SELECT pg_advisory_xact_lock(hashtext(?::text))', [`caldav_app_passwords:${userId}`]);
      const count = await tx.get<{ n: number | string }>('SELECT COUNT(*) AS n FROM caldav_app_passwords WHERE user_id = ?', [userId]);
      if (Number(count?.n ?? 0) >= APP_PASSWORD_LIMITS.maxPerUser) {
        throw new KithError(
          'TOO_MANY_APP_PASSWORDS',
          `You already have ${APP_PASSWORD_LIMITS.maxPerUser} app passwords, the most allowed; revoke one you no longer use first.`,
        );
      }
      await tx.run(
        'INSERT INTO caldav_app_passwords (id, user_id, label, hash, created_at, last_used_at) VALUES (?, ?, ?, ?, ?, NULL)',
        [row.id, userId, label, appPasswordHash(password), now],
      );
    });
    return { ...row, lastUsedAt: null, password };
  }

  async list(userId: string): Promise<AppPasswordView[]> {
    const rows = await this.sql.all<Row>(
      'SELECT id, label, created_at, last_used_at FROM caldav_app_passwords WHERE user_id = ? ORDER BY created_at, id',
      [userId],
    );
    return rows.map(view);
  }

  /** true when it was the user's and is gone now. */
  async revoke(userId: string, id: string): Promise<boolean> {
    const { changes } = await this.sql.run('DELETE FROM caldav_app_passwords WHERE id = ? AND user_id = ?', [id, userId]);
    return changes > 0;
  }

  /** Every one of the user's (a deleted account). */
  async revokeAll(userId: string): Promise<void> {
    await this.sql.run('DELETE FROM caldav_app_passwords WHERE user_id = ?', [userId]);
  }

  /** The user's hashes, for the verifier to compare in constant time (at most maxPerUser rows). */
  async hashesOf(userId: string): Promise<AppPasswordRow[]> {
    const rows = await this.sql.all<AppPasswordRow>(
      'SELECT id, hash, last_used_at FROM caldav_app_passwords WHERE user_id = ?',
      [userId],
    );
    return rows.map((r) => ({ ...r, last_used_at: r.last_used_at === null ? null : Number(r.last_used_at) }));
  }

  async touch(id: string, now: number): Promise<void> {
    await this.sql.run('UPDATE caldav_app_passwords SET last_used_at = ? WHERE id = ?', [now, id]);
  }
}
