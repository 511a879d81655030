/**
 * The channels' tables on each engine, with two instances sharing one PostgreSQL database: one
 * VAPID key for both (kept in the database), a subscription saved through one instance is pushed
 * from the other, and the same email deliveries handed to both instances at once (with SMTP
 * failing 30% of the time) arrive exactly once each. Skipped without PostgreSQL unless
 * KITH_REQUIRE_SERVICES=1.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, requireServices, Rng, testServers } from '@kith/test-support';
import { defaultConfig, startKithServer, type KithConfig, type KithServer } from '../src/index.js';
import type { ChannelConfig } from '../src/notify/channels/index.js';
import type { Delivery } from '../src/notify/delivery.js';
import { apiClient } from './helpers/api.js';
import { channelsTestModule, MockPushService, TestSmtp } from './helpers/notify-channels.js';
import { createTestSchema, probePostgres } from './helpers/postgres.js';
import { TEST_JWT_SECRET } from './helpers/server.js';

const probe = await probePostgres();
if (!probe.available && requireServices) {
  describe('notification channels on PostgreSQL', () => {
    it('needs a reachable PostgreSQL (KITH_REQUIRE_SERVICES=1)', () => {
      throw new Error(`PostgreSQL is not reachable: ${probe.reason}`);
    });
  });
}

async function startInstance(options: Partial<ChannelConfig>, databaseUrl: string) {
  const { module, handle } = channelsTestModule(options);
  const port = await freePort();
  const { startTestServer } = testServers<KithConfig, KithServer>(
    { defaultConfig, startKithServer: (config) => startKithServer(config, { modules: [module] }) },
    { jwtSecret: TEST_JWT_SECRET, loginPerMinute: 1000, dataDirPrefix: 'kith-notify-pg-' },
  );
  const server = await startTestServer({ port, publicUrl: `http://127.0.0.1:${port}`, databaseUrl });
  return { server, handle, api: apiClient(server.url) };
}

describe.skipIf(!probe.available)('notification channels on PostgreSQL, two instances', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('share one VAPID key, push from either instance, and send each email exactly once', async () => {
    if (!probe.available) return;
    const schema = await createTestSchema(probe.url);
    cleanups.push(schema.drop);
    const databaseUrl = `${probe.url}?options=${encodeURIComponent(`-c search_path=${schema.schema}`)}`;
    const rng = new Rng(2);
    let failing = false;
    const smtp = await TestSmtp.start({ transient: () => failing && rng.float() < 0.3 });
    cleanups.push(() => smtp.close());
    const mock = await MockPushService.start();
    cleanups.push(() => mock.close());
    const options = { smtpUrl: smtp.url, allowLoopbackPush: true, retryBaseMs: 20, outboxPollMs: 25 };
    const a = await startInstance(options, databaseUrl);
    cleanups.push(() => a.server.close());
    const b = await startInstance(options, databaseUrl);
    cleanups.push(() => b.server.close());

    const keyA = (await a.api.request('GET', '/push/vapid-public-key')).body.publicKey;
    expect((await b.api.request('GET', '/push/vapid-public-key')).body.publicKey).toBe(keyA);

    const ivy = await a.api.signUp('ivy');
    const sub = await mock.subscribe(keyA);
    expect((await a.api.request('POST', '/users/me/push-subscriptions', { token: ivy.token, body: { endpoint: sub.endpoint, keys: sub.keys } })).status).toBe(201);
    // A room of ivy's: an email is retried only to a member of its room.
    const roomId = await a.api.createRoom(ivy.token, 'Ivy’s');
    const d: Delivery = { key: 'k-push', userId: ivy.userId, roomId, kind: 'changes', title: 'Mum moved Dentist', body: 'to Thu 16:00', url: `/#/rooms/${roomId}` };
    expect(await b.handle.channel('push').send(d)).toBe('sent');
    expect((await mock.messages(sub)).map((m) => JSON.parse(m).title)).toEqual(['Mum moved Dentist']);

    expect((await a.api.request('POST', '/users/me/email', { token: ivy.token, body: { address: 'ivy@family.test' } })).status).toBe(202);
    await smtp.waitFor(() => smtp.to('ivy@family.test').length === 1);
    const code = /\b(\d{6})\b/.exec(smtp.to('ivy@family.test')[0]!.text ?? '')![1]!;
    // Verified through the other instance: the code is checked against the shared table and key.
    expect((await b.api.request('POST', '/users/me/email/verify', { token: ivy.token, body: { code } })).status).toBe(200);

    failing = true;
    const N = 20;
    const mail = (n: number): Delivery => ({ ...d, key: `k-mail-${n}`, title: `Notice ${n}` });
    // Both instances are handed every delivery at once (as two schedulers racing would).
    await Promise.all(
      Array.from({ length: N }, (_, n) => [a.handle.channel('email').send(mail(n)), b.handle.channel('email').send(mail(n))]).flat(),
    );
    await smtp.waitFor(() => smtp.to('ivy@family.test').length >= N + 1, 30_000);
    await new Promise((r) => setTimeout(r, 300));
    const subjects = smtp.to('ivy@family.test').slice(1).map((m) => m.subject);
    expect(subjects).toHaveLength(N);
    expect(new Set(subjects).size).toBe(N);
    expect(smtp.stats.refused).toBeGreaterThan(0);
  });
});
