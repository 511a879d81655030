/**
 * The channels' time limits with a controlled clock, on a real SQLite file and a real SMTP server:
 * a verification code expires after 15 minutes and a reset link after 30; unsubscribing and
 * verifying again turns notices back on.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword, verifyPassword } from '../src/auth/passwords.js';
import { openStorage } from '../src/storage/open-storage.js';
import type { ModuleSql } from '../src/storage/module-tables.js';
import type { Storage } from '../src/storage/storage.js';
import { EMAIL_LIMITS, EmailAddresses } from '../src/notify/channels/email-addresses.js';
import { Mailer } from '../src/notify/channels/mailer.js';
import { NOTIFY_CHANNEL_MIGRATIONS } from '../src/notify/channels/migrations.js';
import { AccountRecovery, RESET_LIMITS } from '../src/notify/channels/recovery.js';
import { channelKeys } from '../src/notify/channels/signing.js';
import { sweepDeletedUsers } from '../src/notify/channels/deleted-users.js';
import { PushSubscriptions } from '../src/notify/channels/push-subscriptions.js';
import type { Channel } from '../src/notify/delivery.js';
import { TestSmtp } from './helpers/notify-channels.js';

describe('channel time limits', () => {
  let dir: string;
  let storage: Storage;
  let sql: ModuleSql;
  let smtp: TestSmtp;
  let mailer: Mailer;
  let addresses: EmailAddresses;
  let recovery: AccountRecovery;
  const T0 = Date.UTC(2026, 11, 3, 12, 0, 0);

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kith-notify-clock-'));
    storage = await openStorage({ dataDir: dir, sqliteSynchronous: 'normal' });
    sql = await storage.modules.open('notify', NOTIFY_CHANNEL_MIGRATIONS);
    smtp = await TestSmtp.start();
    const logger = pino({ level: 'silent' });
    mailer = new Mailer(smtp.url, 'Kith <kith@family.test>', logger);
    addresses = new EmailAddresses(sql, (await channelKeys(storage)).codes);
    const noEmail: Channel = { name: 'email', available: async () => false, send: async () => 'gone' };
    recovery = new AccountRecovery({ sql, storage, addresses, mailer, email: noEmail, linkBase: 'https://kith.test', logger });
  });
  afterAll(async () => {
    mailer?.close();
    await smtp?.close();
    await storage?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function user(name: string) {
    const u = { userId: `u-${name}`, username: name, passwordHash: await hashPassword('old password 1'), createdAt: T0 };
    expect(await storage.users.create(u)).toBe(true);
    return u;
  }

  it('a code works until 15 minutes have passed, not after', async () => {
    const ann = await user('ann');
    const code = await addresses.startVerification(ann.userId, 'ann@family.test', T0);
    await expect(addresses.verify(ann.userId, code, T0 + EMAIL_LIMITS.codeTtlMs)).rejects.toMatchObject({ code: 'EMAIL_CODE_INVALID' });
    const again = await addresses.startVerification(ann.userId, 'ann@family.test', T0 + EMAIL_LIMITS.codeTtlMs + 1);
    expect(await addresses.verify(ann.userId, again, T0 + EMAIL_LIMITS.codeTtlMs + 60_000)).toBe('ann@family.test');
    // The code is stored only as an HMAC.
    const row = await sql.get<Record<string, unknown>>('SELECT * FROM notify_email_addresses WHERE user_id = ?', [ann.userId]);
    expect(JSON.stringify(row)).not.toContain(again);
  });

  it('unsubscribing stops notices but not account mail; verifying again turns notices back on', async () => {
    const bo = await user('bo');
    const code = await addresses.startVerification(bo.userId, 'bo@family.test', T0);
    await addresses.verify(bo.userId, code, T0 + 1000);
    expect(await addresses.unsubscribe(bo.userId, 'BO@family.test')).toBe(true);
    expect(await addresses.deliverable(bo.userId, 'notice')).toBeUndefined();
    expect(await addresses.deliverable(bo.userId, 'account')).toBe('bo@family.test');
    const code2 = await addresses.startVerification(bo.userId, 'bo@family.test', T0 + 120_000);
    await addresses.verify(bo.userId, code2, T0 + 121_000);
    expect(await addresses.deliverable(bo.userId, 'notice')).toBe('bo@family.test');
  });

  it('a reset link works for 30 minutes, not after', async () => {
    const cy = await user('cy');
    const code = await addresses.startVerification(cy.userId, 'cy@family.test', T0);
    await addresses.verify(cy.userId, code, T0 + 1000);
    const now = Date.now();
    await recovery.requestReset('cy@family.test', now - RESET_LIMITS.ttlMs - 1);
    await recovery.requestReset('cy@family.test', now - RESET_LIMITS.ttlMs + 60_000);
    const tokens = smtp.to('cy@family.test').map((m) => /token=([A-Za-z0-9_-]+)/.exec(m.text ?? '')![1]!);
    expect(tokens).toHaveLength(2);
    await expect(recovery.confirmReset(tokens[0]!, 'new password 2', now)).rejects.toMatchObject({ code: 'RESET_TOKEN_INVALID' });
    expect(await recovery.confirmReset(tokens[1]!, 'new password 2', now)).toBe(cy.userId);
    expect(await verifyPassword('new password 2', (await storage.users.findById(cy.userId))!.passwordHash)).toBe(true);
    // Only hashes are stored.
    const rows = await sql.all<Record<string, unknown>>('SELECT * FROM notify_password_resets WHERE user_id = ?', [cy.userId]);
    for (const t of tokens) expect(JSON.stringify(rows)).not.toContain(t);
  });

  it('forgets the channel data of a deleted account, and only of it', async () => {
    const dee = await user('dee');
    const eva = await user('eva');
    const subs = new PushSubscriptions(sql);
    const keys = { p256dh: 'B'.repeat(87), auth: 'A'.repeat(22) };
    for (const u of [dee, eva]) {
      await subs.save(u.userId, { endpoint: `https://fcm.googleapis.com/fcm/send/${u.username}`, keys }, T0);
      const code = await addresses.startVerification(u.userId, `${u.username}@family.test`, T0);
      await addresses.verify(u.userId, code, T0 + 1000);
    }
    expect(await storage.users.delete(dee.userId)).toBe('ok');
    expect(await sweepDeletedUsers(sql)).toBe(2);
    expect(await subs.count(dee.userId)).toBe(0);
    expect((await addresses.status(dee.userId)).address).toBeNull();
    expect(await subs.count(eva.userId)).toBe(1);
    expect((await addresses.status(eva.userId)).address).toBe('eva@family.test');
  });
});
