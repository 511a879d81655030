import type { Logger } from 'pino';
import { hashPassword } from '../../auth/passwords.js';
import type { SignIn } from '../../auth/sign-in-events.js';
import { KithError } from '../../errors/catalogue.js';
import { newSecretToken, sha256 } from '../../ids.js';
import type { ModuleSql } from '../../storage/module-tables.js';
import type { Storage } from '../../storage/storage.js';
import type { Channel } from '../delivery.js';
import type { EmailAddresses } from './email-addresses.js';
import type { Mailer } from './mailer.js';
import { newDeviceMail, passwordResetMail } from './templates.js';

export const RESET_LIMITS = {
  ttlMs: 30 * 60_000,
  /** Reset emails per account an hour: enough to retry, too few to flood someone's inbox. */
  perAccountPerHour: 3,
} as const;

export interface RecoveryDeps {
  sql: ModuleSql;
  storage: Storage;
  addresses: EmailAddresses;
  mailer: Mailer;
  /** The email channel, for the new-device notice (durable, retried like any delivery). */
  email: Channel;
  linkBase: string;
  logger: Logger;
}

/**
 * Account recovery through a verified email: single-use, short-lived password reset links, and a
 * notice when a new device signs in. Reset links are mailed directly, never through the outbox, so
 * the secret is never stored (only its SHA-256).
 */
export class AccountRecovery {
  constructor(private readonly deps: RecoveryDeps) {}

  /**
   * Mails a reset link to each account that verified `address`. Never throws and says nothing
   * about whether the address is known: the route answers 202 before this runs.
   */
  async requestReset(address: string, now = Date.now()): Promise<void> {
    const { sql, storage, addresses, mailer, logger } = this.deps;
    for (const { userId, address: to } of await addresses.usersWith(address)) {
      const recent = await sql.get<{ n: number | string }>(
        'SELECT COUNT(*) AS n FROM notify_password_resets WHERE user_id = ? AND created_at > ?',
        [userId, now - 3600_000],
      );
      if (Number(recent?.n ?? 0) >= RESET_LIMITS.perAccountPerHour) {
        logger.info({ userId }, 'password reset not sent: hourly limit reached');
        continue;
      }
      const user = await storage.users.findById(userId);
      if (!user) continue;
      const token = newSecretToken();
      await sql.run('INSERT INTO notify_password_resets (token_hash, user_id, expires_at, used_at, created_at) VALUES (?, ?, ?, NULL, ?)', [
        sha256(token),
        userId,
        now + RESET_LIMITS.ttlMs,
        now,
      ]);
      const link = `${this.deps.linkBase}/#/reset-password?token=${token}`;
      const result = await mailer.send({ to, ...passwordResetMail(user.username, link, RESET_LIMITS.ttlMs / 60_000) });
      logger.info({ userId, outcome: result.outcome }, 'password reset email');
    }
  }

  /** Sets the new password if the token is valid, unused and unexpired; signs the user out everywhere. */
  async confirmReset(token: string, newPassword: string, now = Date.now()): Promise<string> {
    const { sql, storage } = this.deps;
    const hash = sha256(token);
    // Use the token first (a conditional UPDATE): of two racing confirmations only one passes.
    const { changes } = await sql.run(
      'UPDATE notify_password_resets SET used_at = ? WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?',
      [now, hash, now],
    );
    if (changes !== 1) throw new KithError('RESET_TOKEN_INVALID');
    const row = await sql.get<{ user_id: string }>('SELECT user_id FROM notify_password_resets WHERE token_hash = ?', [hash]);
    if (!row || !(await storage.users.setPasswordHash(row.user_id, await hashPassword(newPassword)))) {
      throw new KithError('RESET_TOKEN_INVALID');
    }
    // Every other link mailed before is void now, and every session must sign in again.
    await sql.run('UPDATE notify_password_resets SET used_at = ? WHERE user_id = ? AND used_at IS NULL', [now, row.user_id]);
    await storage.refreshTokens.revokeUser(row.user_id);
    return row.user_id;
  }

  /**
   * A login: remembers the client (a hash of its User-Agent); an unknown one, for an account that
   * had signed in before, earns an email. The first device of an account is no news.
   */
  async signedIn(signIn: SignIn): Promise<void> {
    const { sql, email } = this.deps;
    const label = deviceLabel(signIn.userAgent);
    const device = sha256(label);
    const { changes } = await sql.run(
      `INSERT INTO notify_known_devices (user_id, device_hash, first_seen_at) VALUES (?, ?, ?) ON CONFLICT (user_id, device_hash) DO NOTHING`,
      [signIn.userId, device, signIn.at],
    );
    if (changes !== 1) return;
    const known = await sql.get<{ n: number | string }>('SELECT COUNT(*) AS n FROM notify_known_devices WHERE user_id = ?', [signIn.userId]);
    if (Number(known?.n ?? 0) <= 1) return;
    if (!(await this.deps.addresses.deliverable(signIn.userId, 'account'))) return;
    const when = new Date(signIn.at).toUTCString();
    const content = newDeviceMail(signIn.username, label, when);
    await email.send({
      key: `signin:${signIn.userId}:${device}`,
      userId: signIn.userId,
      roomId: '',
      kind: 'account',
      title: content.subject,
      body: content.text,
      url: '/#/settings',
    });
  }
}

const BROWSERS: Array<[RegExp, string]> = [
  [/Edg\//, 'Edge'],
  [/Firefox\//, 'Firefox'],
  [/Chrome\//, 'Chrome'],
  [/Safari\//, 'Safari'],
  [/okhttp|Dalvik/i, 'Android app'],
  [/curl\//, 'curl'],
];
const SYSTEMS: Array<[RegExp, string]> = [
  [/iPhone/, 'iPhone'],
  [/iPad/, 'iPad'],
  [/Android/, 'Android'],
  [/Windows/, 'Windows'],
  [/Mac OS X|Macintosh/, 'Mac'],
  [/CrOS/, 'ChromeOS'],
  [/Linux/, 'Linux'],
];

/**
 * "Firefox on Windows": what a device is, from its User-Agent. Coarse on purpose: browsers update
 * their version every few weeks, and that is not a new device worth an email.
 */
export function deviceLabel(userAgent: string): string {
  const browser = BROWSERS.find(([re]) => re.test(userAgent))?.[1];
  const system = SYSTEMS.find(([re]) => re.test(userAgent))?.[1];
  if (!browser && !system) return userAgent ? 'an unrecognised client' : 'a client that did not say what it is';
  return [browser ?? 'a browser', system].filter(Boolean).join(' on ');
}
