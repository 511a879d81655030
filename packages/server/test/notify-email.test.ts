/**
 * The email channel over loopback: the real server with the channels' test module and an
 * in-process `smtp-server` whose every message is parsed by `mailparser` (headers, both bodies, the
 * .ics read back with ical.js). Verified addresses (codes: wrong, limited, rate-limited), RFC 8058
 * one-click unsubscribe, CRLF refused, permanent rejections counted, and an SMTP server failing 30%
 * of the time: every delivery arrives exactly once in the end (the durable outbox retries).
 */
import ICAL from 'ical.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, Rng, testServers } from '@kith/test-support';
import { accountModule, createLogger, defaultConfig, startKithServer, type KithConfig, type KithModule, type KithServer } from '../src/index.js';
import type { ChannelConfig } from '../src/notify/channels/index.js';
import type { EmailChannel } from '../src/notify/channels/email.js';
import type { Delivery } from '../src/notify/delivery.js';
import { apiClient } from './helpers/api.js';
import { expectError } from './helpers/http-assert.js';
import { channelsTestModule, TestSmtp, type ChannelsHandle } from './helpers/notify-channels.js';
import { TEST_JWT_SECRET } from './helpers/server.js';

async function startWithChannels(options: Partial<ChannelConfig>, log?: string[], modules: KithModule[] = []) {
  const { module, handle } = channelsTestModule(options);
  const port = await freePort();
  const logger = log ? createLogger('info', { write: (line: string) => void log.push(line) }) : undefined;
  const { startTestServer } = testServers<KithConfig, KithServer>(
    { defaultConfig, startKithServer: (config) => startKithServer(config, { modules: [module, ...modules], ...(logger ? { logger } : {}) }) },
    { jwtSecret: TEST_JWT_SECRET, loginPerMinute: 1000, dataDirPrefix: 'kith-email-' },
  );
  const server = await startTestServer({ port, publicUrl: `http://127.0.0.1:${port}` });
  return { server, handle, api: apiClient(server.url) };
}

const ICS = [
  'BEGIN:VCALENDAR',
  'VERSION:2.0',
  'PRODID:-//Kith//test//EN',
  'BEGIN:VEVENT',
  'UID:e1@kith',
  'DTSTAMP:20261203T120000Z',
  'DTSTART:20261210T150000Z',
  'DTEND:20261210T160000Z',
  'SUMMARY:Dentist',
  'END:VEVENT',
  'END:VCALENDAR',
  '',
].join('\r\n');

const delivery = (userId: string, n: number, extra: Partial<Delivery> = {}): Delivery => ({
  key: `rem:r1:e${n}:2026-12-10T15:00:00Z:a1:${userId}:email`,
  userId,
  roomId: 'r1',
  kind: 'reminder',
  title: `Dentist at 16:00 (#${n})`,
  body: `Thu 10 Dec 16:00 – 17:00\nDr Miller <& Sons>`,
  url: `/#/rooms/r1/events/e${n}`,
  ...extra,
});

type Api = ReturnType<typeof apiClient>;

/** Adds and verifies `address` for the user, reading the code from the mail it receives. */
async function verifyAddress(api: Api, smtp: TestSmtp, token: string, address: string): Promise<void> {
  const before = smtp.to(address).length;
  const res = await api.request('POST', '/users/me/email', { token, body: { address } });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  await smtp.waitFor(() => smtp.to(address).length > before);
  const code = /\b(\d{6})\b/.exec(smtp.to(address).at(-1)!.subject ?? '')![1]!;
  expect((await api.request('POST', '/users/me/email/verify', { token, body: { code } })).status).toBe(200);
}

describe('email channel', () => {
  let smtp: TestSmtp;
  let server: Awaited<ReturnType<typeof startWithChannels>>['server'];
  let handle: ChannelsHandle;
  let api: Api;
  const log: string[] = [];

  beforeAll(async () => {
    smtp = await TestSmtp.start();
    ({ server, handle, api } = await startWithChannels({ smtpUrl: smtp.url, mailFrom: 'Kith <kith@family.test>' }, log));
  });
  afterAll(async () => {
    await server?.close();
    await smtp?.close();
  });

  it('verifies an address with a 6-digit code sent to it', async () => {
    const anna = await api.signUp('anna');
    expect((await api.request('GET', '/users/me/email', { token: anna.token })).body).toEqual({
      address: null,
      verified: false,
      unsubscribed: false,
      pendingAddress: null,
    });
    const res = await api.request('POST', '/users/me/email', { token: anna.token, body: { address: ' Anna@Family.test ' } });
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ pendingAddress: 'Anna@Family.test' });
    await smtp.waitFor(() => smtp.to('anna@family.test').length === 1);
    const mail = smtp.to('anna@family.test')[0]!;
    const code = /\b(\d{6})\b/.exec(mail.text ?? '')![1]!;
    expect(mail.subject).toContain(code);
    expect(mail.html).toContain(code);
    expect(mail.from?.value[0]?.address).toBe('kith@family.test');
    expect(await handle.channel('email').available(anna.userId)).toBe(false);

    const wrong = code === '000000' ? '111111' : '000000';
    expectError(await api.request('POST', '/users/me/email/verify', { token: anna.token, body: { code: wrong } }), 400, 'EMAIL_CODE_INVALID');
    expectError(await api.request('POST', '/users/me/email/verify', { token: anna.token, body: { code: '12345' } }), 400, 'VALIDATION_FAILED');
    const ok = await api.request('POST', '/users/me/email/verify', { token: anna.token, body: { code } });
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ address: 'Anna@Family.test', verified: true, unsubscribed: false, pendingAddress: null });
    expect(await handle.channel('email').available(anna.userId)).toBe(true);
    // Used up: the same code does nothing more.
    expectError(await api.request('POST', '/users/me/email/verify', { token: anna.token, body: { code } }), 409, 'EMAIL_NOT_PENDING');
    // No code in the log.
    expect(log.join('\n')).not.toContain(code);
  });

  it('allows a few attempts per code, and one new code a minute', async () => {
    const ben = await api.signUp('ben');
    expect((await api.request('POST', '/users/me/email', { token: ben.token, body: { address: 'ben@family.test' } })).status).toBe(202);
    await smtp.waitFor(() => smtp.to('ben@family.test').length === 1);
    const code = /\b(\d{6})\b/.exec(smtp.to('ben@family.test')[0]!.text ?? '')![1]!;
    const wrong = String((Number(code) + 1) % 1_000_000).padStart(6, '0');
    for (let i = 0; i < 5; i++) {
      expectError(await api.request('POST', '/users/me/email/verify', { token: ben.token, body: { code: wrong } }), 400, 'EMAIL_CODE_INVALID');
    }
    // Out of attempts: even the right code is refused now.
    expectError(await api.request('POST', '/users/me/email/verify', { token: ben.token, body: { code } }), 400, 'EMAIL_CODE_INVALID');
    expect((await api.request('GET', '/users/me/email', { token: ben.token })).body.verified).toBe(false);
    const again = await api.request('POST', '/users/me/email', { token: ben.token, body: { address: 'ben@family.test' } });
    expectError(again, 429, 'RATE_LIMITED');
    expect(Number(again.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(smtp.to('ben@family.test')).toHaveLength(1);
  });

  it('refuses addresses with CRLF or other junk with a 400, sending and storing nothing', async () => {
    const cara = await api.signUp('cara');
    const before = smtp.received.length;
    for (const address of [
      'cara@family.test\r\nBcc: all@evil.test',
      'cara@family.test\nX: y',
      'Cara <cara@family.test>',
      'cara@@family.test',
      'cara family@test',
      'cara@localhost',
      `${'c'.repeat(250)}@family.test`,
    ]) {
      const res = await api.request('POST', '/users/me/email', { token: cara.token, body: { address } });
      expect([400], address).toContain(res.status);
      expect(['INVALID_EMAIL', 'VALIDATION_FAILED']).toContain(res.body.error.code);
    }
    expect((await api.request('GET', '/users/me/email', { token: cara.token })).body.pendingAddress).toBeNull();
    expect(smtp.received.length).toBe(before);
  });

  it('sends a notification with both bodies, an .ics attachment, and RFC 8058 one-click unsubscribe', async () => {
    const dan = await api.signUp('dan');
    await verifyAddress(api, smtp, dan.token, 'dan@family.test');
    const email = handle.channel('email');
    const d = delivery(dan.userId, 1, { ics: ICS });
    expect(await email.send(d)).toBe('sent');
    const mails = smtp.to('dan@family.test');
    const mail = mails.at(-1)!;
    expect(mail.subject).toBe('Dentist at 16:00 (#1)');
    expect(mail.text).toContain('Dr Miller <& Sons>');
    expect(mail.text).toContain(`http://127.0.0.1:${server.port}/#/rooms/r1/events/e1`);
    expect(mail.html).toContain('Dr Miller &lt;&amp; Sons&gt;');
    expect(mail.html).not.toContain('<& Sons>');
    expect(mail.messageId).toMatch(/@family\.test>?$/);

    const ics = mail.attachments.find((a) => a.contentType === 'text/calendar');
    expect(ics?.filename).toBe('event.ics');
    const vevent = new ICAL.Component(ICAL.parse(ics!.content.toString('utf8'))).getFirstSubcomponent('vevent')!;
    expect(vevent.getFirstPropertyValue('summary')).toBe('Dentist');
    expect(vevent.getFirstPropertyValue('uid')).toBe('e1@kith');

    const postHeader = mail.headerLines.find((h) => h.key === 'list-unsubscribe-post')?.line;
    expect(postHeader).toBe('List-Unsubscribe-Post: List-Unsubscribe=One-Click');
    const link = /<([^>]+)>/.exec(mail.headerLines.find((h) => h.key === 'list-unsubscribe')!.line)![1]!;
    expect(link).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${server.port}/unsubscribe\\?token=`));
    expect(mail.text).toContain(link);

    // Sent again with the same key (a scheduler retrying after a crash): nothing new goes out.
    expect(await email.send(d)).toBe('sent');
    expect(smtp.to('dan@family.test')).toHaveLength(mails.length);

    // A GET (a mail scanner following the link) changes nothing; a forged token is refused.
    const page = await fetch(link);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<form method="post"');
    expect(await email.available(dan.userId)).toBe(true);
    const forged = link.slice(0, -3) + (link.endsWith('AAA') ? 'BBB' : 'AAA');
    const bad = await fetch(forged, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'List-Unsubscribe=One-Click' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('UNSUBSCRIBE_TOKEN_INVALID');

    // The one click, as a mail client sends it.
    const click = await fetch(link, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'List-Unsubscribe=One-Click' });
    expect(click.status).toBe(200);
    expect(await email.available(dan.userId)).toBe(false);
    expect((await api.request('GET', '/users/me/email', { token: dan.token })).body).toMatchObject({ verified: true, unsubscribed: true });
    expect(await email.send(delivery(dan.userId, 2))).toBe('gone');
    expect(smtp.to('dan@family.test')).toHaveLength(mails.length);
    // No unsubscribe token's signature in the log, not even in logged URLs (the user id before it is no secret).
    const mac = decodeURIComponent(link.split('token=')[1]!).split('.')[1]!;
    expect(mac.length).toBeGreaterThan(20);
    expect(log.join('\n')).not.toContain(mac.slice(0, 16));
  });

  it('counts and logs a permanent rejection (5xx) and answers gone', async () => {
    // An address the SMTP server refuses cannot even be verified (the code's mail is refused).
    expectError(await api.request('POST', '/users/me/email', { token: (await api.signUp('fin')).token, body: { address: 'reject@family.test' } }), 400, 'INVALID_EMAIL');
    // Verified while the mailbox existed; refused (550) by the time the notice goes out.
    const eli = await api.signUp('eli');
    await verifyAddress(api, smtp, eli.token, 'eli@family.test');
    smtp.rejecting.add('eli@family.test');
    const email = handle.channel('email');
    const before = smtp.received.length;
    expect(await email.send(delivery(eli.userId, 3))).toBe('gone');
    expect(await email.send(delivery(eli.userId, 3))).toBe('gone'); // given up: not tried again
    expect(smtp.received.length).toBe(before);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/kith_notify_channel_attempts_total\{channel="email",outcome="failed"\} 1\n/);
    expect(metrics).toMatch(/kith_notify_channel_attempts_total\{channel="email",outcome="sent"\} [1-9]/);
    expect(log.some((line) => line.includes('SMTP rejected an email for good') && line.includes('550'))).toBe(true);
  });

  it('answers 503 for email routes when no SMTP server is configured', async () => {
    const bare = await startWithChannels({});
    try {
      const gus = await bare.api.signUp('gus');
      expectError(await bare.api.request('POST', '/users/me/email', { token: gus.token, body: { address: 'gus@family.test' } }), 503, 'EMAIL_NOT_CONFIGURED');
      expect(bare.handle.channels.map((c) => c.name)).toEqual(['push']);
    } finally {
      await bare.server.close();
    }
  });
});

describe('email with an SMTP server failing 30% of the time', () => {
  it('a queued email waits for its backoff when the dispatcher asks again, instead of spending its tries', async () => {
    let down = false;
    const smtp = await TestSmtp.start({ transient: () => down });
    const { server, handle, api } = await startWithChannels({ smtpUrl: smtp.url, retryBaseMs: 3_600_000, outboxPollMs: 3_600_000 });
    try {
      const ivy = await api.signUp('ivy');
      await verifyAddress(api, smtp, ivy.token, 'ivy@family.test');
      down = true;
      const refusedBefore = smtp.stats.refused;
      const email = handle.channel('email');
      // The dispatcher asks every minute while the SMTP server is down: 15 asks.
      const outcomes: string[] = [];
      for (let i = 0; i < 15; i++) outcomes.push(await email.send(delivery(ivy.userId, 900)));
      expect(new Set(outcomes)).toEqual(new Set(['retry']));
      // One SMTP attempt (the first); the rest wait for the outbox's backoff, so nothing is given up.
      expect(smtp.stats.refused - refusedBefore).toBeLessThanOrEqual(1);
    } finally {
      await server.close();
      await smtp.close();
    }
  });

  it('a retry goes only to a recipient still in the room: one removed since, or whose room was deleted, is dropped, not sent', async () => {
    let down = false;
    const smtp = await TestSmtp.start({ transient: () => down });
    const log: string[] = [];
    const { server, handle, api } = await startWithChannels({ smtpUrl: smtp.url, retryBaseMs: 20, outboxPollMs: 3_600_000 }, log, [accountModule()]);
    try {
      const mum = await api.signUp('mum');
      const dad = await api.signUp('dad');
      const kid = await api.signUp('kid');
      const gran = await api.signUp('gran');
      const millers = await api.createRoom(mum.token, 'Millers');
      await api.addMember(mum.token, millers, dad.token, 'editor');
      await api.addMember(mum.token, millers, kid.token, 'viewer');
      const club = await api.createRoom(gran.token, 'Gran’s club');
      await api.addMember(gran.token, club, kid.token, 'editor');
      await verifyAddress(api, smtp, dad.token, 'dad@millers.test');
      await verifyAddress(api, smtp, kid.token, 'kid@millers.test');

      // SMTP down at the first attempt: all three wait in the outbox.
      down = true;
      const email = handle.channel('email');
      const toDad = delivery(dad.userId, 1, { roomId: millers });
      const toKid = delivery(kid.userId, 2, { roomId: millers });
      const clubNews = delivery(kid.userId, 3, { roomId: club, kind: 'changes', title: 'Changes in Gran’s club' });
      for (const d of [toDad, toKid, clubNews]) expect(await email.send(d)).toBe('retry');

      // Meanwhile dad is removed from the Millers, and gran deletes her account with her club.
      expect((await api.request('DELETE', `/rooms/${millers}/members/${dad.userId}`, { token: mum.token })).status).toBe(204);
      const deleted = await api.request('DELETE', '/users/me', { token: gran.token, body: { password: gran.password, soleOwnedRooms: [{ roomId: club, action: 'delete' }] } });
      expect(deleted.status).toBe(204);

      down = false;
      await new Promise((r) => setTimeout(r, 50)); // past the 20 ms backoff
      await (email as EmailChannel).drain();
      // The kid, still a Millers member, gets the Millers' reminder; nothing else goes out.
      expect(smtp.to('kid@millers.test').map((m) => m.subject)).toEqual([expect.stringContaining('Kith code'), toKid.title]);
      expect(smtp.to('dad@millers.test').map((m) => m.subject)).toEqual([expect.stringContaining('Kith code')]);
      // Dropped for good: asked again, the channel answers gone and sends nothing.
      expect(await email.send(toDad)).toBe('gone');
      expect(await email.send(clubNews)).toBe('gone');
      expect(await email.send(toKid)).toBe('sent');
      expect(smtp.to('kid@millers.test')).toHaveLength(2);
      expect(smtp.to('dad@millers.test')).toHaveLength(1);
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      expect(metrics).toMatch(/kith_notify_channel_attempts_total\{channel="email",outcome="dropped"\} 2\n/);
      expect(metrics).toMatch(/kith_notify_channel_attempts_total\{channel="email",outcome="sent"\} 1\n/);
      expect(log.filter((line) => line.includes('no longer a member of its room'))).toHaveLength(2);
    } finally {
      await server.close();
      await smtp.close();
    }
  });

  it('delivers each notification exactly once in the end (outbox retries with backoff; the scheduler may send again)', async () => {
    const rng = new Rng(8058);
    let failing = false;
    const smtp = await TestSmtp.start({ transient: () => failing && rng.float() < 0.3 });
    const { server, handle, api } = await startWithChannels({ smtpUrl: smtp.url, retryBaseMs: 20, outboxPollMs: 25 });
    try {
      const hal = await api.signUp('hal');
      await verifyAddress(api, smtp, hal.token, 'hal@family.test');
      // A room of hal's: a retry goes only to a member of the delivery's room.
      const roomId = await api.createRoom(hal.token, 'Hal’s');
      const mail = (n: number) => delivery(hal.userId, 100 + n, { roomId });
      const before = smtp.to('hal@family.test').length;
      failing = true;
      const email = handle.channel('email');
      const N = 40;
      const outcomes = await Promise.all(Array.from({ length: N }, (_, n) => email.send(mail(n))));
      expect(outcomes.every((o) => o === 'sent' || o === 'retry')).toBe(true);
      // The scheduler retrying those that answered `retry`, while the outbox retries them too.
      await Promise.all(outcomes.map((o, n) => (o === 'retry' ? email.send(mail(n)) : undefined)));
      await smtp.waitFor(() => smtp.to('hal@family.test').length - before >= N, 30_000);
      await new Promise((r) => setTimeout(r, 300)); // room for a duplicate to show up, were there one
      const got = smtp.to('hal@family.test').slice(before);
      expect(got).toHaveLength(N);
      expect(new Set(got.map((m) => m.subject)).size).toBe(N);
      expect(new Set(got.map((m) => m.messageId)).size).toBe(N);
      expect(smtp.stats.refused).toBeGreaterThan(N * 0.1);
      // Everything answers `sent` now.
      for (let n = 0; n < N; n++) expect(await email.send(mail(n))).toBe('sent');
      expect(smtp.to('hal@family.test').length - before).toBe(N);
    } finally {
      await server.close();
      await smtp.close();
    }
  });
});
