/**
 * The Web Push channel over loopback: the real server with the channels' test module, the
 * `web-push-testing` mock push service (checks the VAPID signature, decrypts the aes128gcm payload,
 * answers 410 for an expired subscription), VAPID keys kept across restarts, strict subscription
 * input, and a push service failing 30% of the time.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng, testServers } from '@kith/test-support';
import webpush from 'web-push';
import BetterSqlite3 from 'better-sqlite3';
import { sha256 } from '../src/ids.js';
import { createLogger, defaultConfig, startKithServer, type ErrorCode, type KithConfig, type KithServer } from '../src/index.js';
import type { ChannelConfig } from '../src/notify/channels/index.js';
import type { Delivery } from '../src/notify/delivery.js';
import { apiClient } from './helpers/api.js';
import { expectError } from './helpers/http-assert.js';
import { channelsTestModule, MockPushService, type ChannelsHandle } from './helpers/notify-channels.js';
import { makeDataDir, TEST_JWT_SECRET } from './helpers/server.js';

function startWithChannels(options: Partial<ChannelConfig>, overrides: Partial<KithConfig> = {}, log?: string[]) {
  const { module, handle } = channelsTestModule(options);
  const logger = log ? createLogger('info', { write: (line: string) => void log.push(line) }) : undefined;
  const { startTestServer } = testServers<KithConfig, KithServer>(
    { defaultConfig, startKithServer: (config) => startKithServer(config, { modules: [module], ...(logger ? { logger } : {}) }) },
    { jwtSecret: TEST_JWT_SECRET, loginPerMinute: 1000, dataDirPrefix: 'kith-push-' },
  );
  return startTestServer(overrides).then((server) => ({ server, handle }));
}

const delivery = (userId: string, n: number, extra: Partial<Delivery> = {}): Delivery => ({
  key: `test:${userId}:${n}`,
  userId,
  roomId: 'r1',
  kind: 'reminder',
  title: `Dentist at 16:0${n % 10}`,
  body: 'Thu 16:00 · Dr Miller',
  url: `/#/rooms/r1/events/e${n}`,
  tag: `e${n}`,
  ...extra,
});

describe('web push channel', () => {
  let mock: MockPushService;
  let server: Awaited<ReturnType<typeof startWithChannels>>['server'];
  let handle: ChannelsHandle;
  let api: ReturnType<typeof apiClient>;
  let publicKey: string;
  const log: string[] = [];

  beforeAll(async () => {
    mock = await MockPushService.start();
    ({ server, handle } = await startWithChannels({ allowLoopbackPush: true }, {}, log));
    api = apiClient(server.url);
    publicKey = (await api.request('GET', '/push/vapid-public-key')).body.publicKey;
  });
  afterAll(async () => {
    await server?.close();
    await mock?.close();
  });

  it('generates a VAPID key pair into the data dir (0600) and keeps it across restarts', async () => {
    expect(Buffer.from(publicKey, 'base64url')).toHaveLength(65);
    const file = path.join(server.dataDir, 'vapid.json');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(fs.readFileSync(file, 'utf8')).publicKey).toBe(publicKey);
    await server.close();
    ({ server, handle } = await startWithChannels({ allowLoopbackPush: true }, { dataDir: server.dataDir }, log));
    api = apiClient(server.url);
    expect((await api.request('GET', '/push/vapid-public-key')).body.publicKey).toBe(publicKey);
  });

  it('uses the configured VAPID keys when given', async () => {
    const keys = webpush.generateVAPIDKeys();
    const other = await startWithChannels({ vapidPublicKey: keys.publicKey, vapidPrivateKey: keys.privateKey });
    try {
      expect((await apiClient(other.server.url).request('GET', '/push/vapid-public-key')).body).toEqual({ publicKey: keys.publicKey });
      expect(fs.existsSync(path.join(other.server.dataDir, 'vapid.json'))).toBe(false);
    } finally {
      await other.server.close();
    }
  });

  it('delivers an encrypted, VAPID-signed push that carries only title, body, url and tag', async () => {
    const anna = await api.signUp('anna');
    const push = handle.channel('push');
    expect(await push.available(anna.userId)).toBe(false);
    const sub = await mock.subscribe(publicKey);
    const res = await api.request('POST', '/users/me/push-subscriptions', {
      token: anna.token,
      body: { endpoint: sub.endpoint, expirationTime: null, keys: sub.keys },
    });
    expect(res.status).toBe(201);
    expect(await push.available(anna.userId)).toBe(true);

    const d = delivery(anna.userId, 1, { ics: 'BEGIN:VCALENDAR\r\nEND:VCALENDAR', html: '<p>x</p>' });
    expect(await push.send(d)).toBe('sent');
    const messages = await mock.messages(sub);
    expect(messages).toHaveLength(1);
    expect(JSON.parse(messages[0]!)).toEqual({ title: d.title, body: d.body, url: d.url, tag: d.tag });
  });

  it('reaches each of a member\'s browsers, and drops one the push service says is gone (410)', async () => {
    const ben = await api.signUp('ben');
    const phone = await mock.subscribe(publicKey);
    const laptop = await mock.subscribe(publicKey);
    for (const sub of [phone, laptop]) {
      expect((await api.request('POST', '/users/me/push-subscriptions', { token: ben.token, body: { endpoint: sub.endpoint, keys: sub.keys } })).status).toBe(201);
    }
    const push = handle.channel('push');
    expect(await push.send(delivery(ben.userId, 2))).toBe('sent');
    expect(await mock.messages(phone)).toHaveLength(1);
    expect(await mock.messages(laptop)).toHaveLength(1);

    await mock.expire(phone);
    expect(await push.send(delivery(ben.userId, 3))).toBe('sent'); // the laptop still took it
    expect(await mock.messages(laptop)).toHaveLength(2);
    await mock.expire(laptop);
    expect(await push.send(delivery(ben.userId, 4))).toBe('gone');
    expect(await push.available(ben.userId)).toBe(false);
    expect(log.some((line) => line.includes('push subscription gone; removed'))).toBe(true);
    // Neither the endpoint (a capability URL) nor the keys of a subscription reach the log.
    for (const sub of [phone, laptop]) {
      for (const secret of [sub.clientHash, sub.keys.auth, sub.keys.p256dh]) expect(log.join('\n')).not.toContain(secret);
    }
    // Removed, so nothing is left to delete.
    expectError(await api.request('DELETE', '/users/me/push-subscriptions', { token: ben.token, body: { endpoint: phone.endpoint } }), 404, 'PUSH_SUBSCRIPTION_NOT_FOUND');
  });

  it('drops a stored subscription whose key is off the curve, and still reaches the member’s other browser once', async () => {
    const gil = await api.signUp('gil');
    const laptop = await mock.subscribe(publicKey);
    expect((await api.request('POST', '/users/me/push-subscriptions', { token: gil.token, body: { endpoint: laptop.endpoint, keys: laptop.keys } })).status).toBe(201);
    // Stored before keys were checked on the curve (as an older server did).
    const broken = `${laptop.endpoint}-broken`;
    const db = new BetterSqlite3(path.join(server.dataDir, 'kith.sqlite'));
    db.prepare('INSERT INTO notify_push_subscriptions (endpoint_hash, user_id, endpoint, p256dh, auth, created_at) VALUES (?, ?, ?, ?, ?, ?)').run(
      sha256(broken), gil.userId, broken, Buffer.concat([Buffer.from([4]), Buffer.alloc(64, 7)]).toString('base64url'), laptop.keys.auth, 0,
    );
    db.close();
    const push = handle.channel('push');
    expect(await push.send(delivery(gil.userId, 5))).toBe('sent');
    expect(await mock.messages(laptop)).toHaveLength(1);
    expect(log.some((line) => line.includes('push subscription unusable; removed'))).toBe(true);
    // Gone from the table: the next send reaches the laptop alone, once.
    expect(await push.send(delivery(gil.userId, 6))).toBe('sent');
    expect(await mock.messages(laptop)).toHaveLength(2);
  });

  it('deletes a subscription by its endpoint, only for its owner', async () => {
    const cara = await api.signUp('cara');
    const dan = await api.signUp('dan');
    const sub = await mock.subscribe(publicKey);
    await api.request('POST', '/users/me/push-subscriptions', { token: cara.token, body: { endpoint: sub.endpoint, keys: sub.keys } });
    expectError(await api.request('DELETE', '/users/me/push-subscriptions', { token: dan.token, body: { endpoint: sub.endpoint } }), 404, 'PUSH_SUBSCRIPTION_NOT_FOUND');
    expect((await api.request('DELETE', '/users/me/push-subscriptions', { token: cara.token, body: { endpoint: sub.endpoint } })).status).toBe(204);
    expect(await handle.channel('push').available(cara.userId)).toBe(false);
    expectError(await api.request('DELETE', '/users/me/push-subscriptions', { body: { endpoint: sub.endpoint } }), 401, 'UNAUTHENTICATED');
  });

  it('refuses invalid subscriptions and unknown push hosts with a clear 4xx, storing nothing', async () => {
    const eve = await api.signUp('eve');
    const sub = await mock.subscribe(publicKey);
    const good = { endpoint: 'https://fcm.googleapis.com/fcm/send/abc123', keys: sub.keys };
    const cases: Array<[unknown, number, ErrorCode]> = [
      [{ endpoint: good.endpoint }, 400, 'VALIDATION_FAILED'],
      [{ ...good, keys: { p256dh: sub.keys.p256dh } }, 400, 'VALIDATION_FAILED'],
      [{ ...good, extra: 1 }, 400, 'VALIDATION_FAILED'],
      [{ ...good, keys: { ...sub.keys, p256dh: sub.keys.p256dh.slice(0, 40) } }, 400, 'INVALID_PUSH_SUBSCRIPTION'],
      [{ ...good, keys: { ...sub.keys, p256dh: 'A' + sub.keys.p256dh.slice(1) } }, 400, 'INVALID_PUSH_SUBSCRIPTION'],
      // 65 bytes, 0x04 first, but no point on P-256: nothing could ever be encrypted to it.
      [{ ...good, keys: { ...sub.keys, p256dh: Buffer.concat([Buffer.from([4]), Buffer.alloc(64, 7)]).toString('base64url') } }, 400, 'INVALID_PUSH_SUBSCRIPTION'],
      [{ ...good, keys: { ...sub.keys, auth: sub.keys.auth + 'AAAA' } }, 400, 'INVALID_PUSH_SUBSCRIPTION'],
      [{ ...good, keys: { ...sub.keys, auth: 'not base64!' } }, 400, 'VALIDATION_FAILED'],
      [{ ...good, endpoint: 'not a url' }, 400, 'INVALID_PUSH_SUBSCRIPTION'],
      [{ ...good, endpoint: 'http://fcm.googleapis.com/fcm/send/abc' }, 400, 'INVALID_PUSH_SUBSCRIPTION'],
      [{ ...good, endpoint: 'https://user:pw@fcm.googleapis.com/x' }, 400, 'INVALID_PUSH_SUBSCRIPTION'],
      [{ ...good, endpoint: 'https://push.evil.example/x' }, 400, 'PUSH_HOST_NOT_ALLOWED'],
      [{ ...good, endpoint: 'https://fcm.googleapis.com.evil.example/x' }, 400, 'PUSH_HOST_NOT_ALLOWED'],
      [{ ...good, endpoint: 'https://fcm.googleapis.com:8443/x' }, 400, 'PUSH_HOST_NOT_ALLOWED'],
      [{ ...good, endpoint: 'https://169.254.169.254/latest' }, 400, 'PUSH_HOST_NOT_ALLOWED'],
      [{ ...good, endpoint: `https://fcm.googleapis.com/${'x'.repeat(1100)}` }, 400, 'VALIDATION_FAILED'],
    ];
    for (const [body, status, code] of cases) {
      expectError(await api.request('POST', '/users/me/push-subscriptions', { token: eve.token, body }), status, code);
    }
    expectError(
      await api.request('POST', '/users/me/push-subscriptions', { token: eve.token, rawBody: '{"endpoint": ', headers: { 'content-type': 'application/json' } }),
      400,
      'VALIDATION_FAILED',
    );
    expect(await handle.channel('push').available(eve.userId)).toBe(false);
    // A real vendor host is accepted (nothing is sent to it here).
    expect((await api.request('POST', '/users/me/push-subscriptions', { token: eve.token, body: { ...good, endpoint: 'https://web.push.apple.com/QGx' } })).status).toBe(201);
  });

  it('refuses loopback endpoints unless the test option allows them', async () => {
    const strict = await startWithChannels({});
    try {
      const sapi = apiClient(strict.server.url);
      const fay = await sapi.signUp('fay');
      const key = (await sapi.request('GET', '/push/vapid-public-key')).body.publicKey;
      const sub = await mock.subscribe(key);
      expectError(await sapi.request('POST', '/users/me/push-subscriptions', { token: fay.token, body: { endpoint: sub.endpoint, keys: sub.keys } }), 400, 'INVALID_PUSH_SUBSCRIPTION');
      const https = sub.endpoint.replace('http://', 'https://');
      expectError(await sapi.request('POST', '/users/me/push-subscriptions', { token: fay.token, body: { endpoint: https, keys: sub.keys } }), 400, 'PUSH_HOST_NOT_ALLOWED');
    } finally {
      await strict.server.close();
    }
  });
});

describe('web push with a push service failing 30% of the time', () => {
  it('delivers each notification exactly once in the end', async () => {
    const rng = new Rng(14);
    const mock = await MockPushService.start({ fail: () => rng.float() < 0.3 });
    const { server, handle } = await startWithChannels({ allowLoopbackPush: true });
    try {
      const api = apiClient(server.url);
      const gus = await api.signUp('gus');
      const sub = await mock.subscribe((await api.request('GET', '/push/vapid-public-key')).body.publicKey);
      await api.request('POST', '/users/me/push-subscriptions', { token: gus.token, body: { endpoint: sub.endpoint, keys: sub.keys } });
      const push = handle.channel('push');
      const N = 40;
      let retries = 0;
      for (let n = 0; n < N; n++) {
        // What the scheduler does with `retry`: send the same delivery again later.
        for (let attempt = 0; ; attempt++) {
          const outcome = await push.send(delivery(gus.userId, n));
          if (outcome === 'sent') break;
          expect(outcome).toBe('retry');
          retries++;
          expect(attempt).toBeLessThan(30);
        }
      }
      const got = (await mock.messages(sub)).map((m) => JSON.parse(m).url as string);
      expect(got).toHaveLength(N);
      expect(new Set(got).size).toBe(N);
      expect(retries).toBe(mock.stats.refused);
      expect(retries).toBeGreaterThan(N * 0.1);
    } finally {
      await server.close();
      await mock.close();
    }
  });
});
