/**
 * Two kith-server instances over PostgreSQL and Redis, each with the notify module and one webhook
 * sink: mum edits through instance A while dad's device keeps the room open on instance B (so B
 * applies A's updates too). Only the instance that stored the edits tells of them: each other member
 * gets one notice, not one per instance. Skipped with a clear message without PostgreSQL or redis-server.
 */
import { createServer, type Server } from 'node:http';
import { freePort, RedisProcess, redisServerAvailable, requireServices } from '@kith/test-support';
import { afterAll, describe, expect, it } from 'vitest';
import { apiClient } from '../helpers/api.js';
import { createTestSchema, probePostgres } from '../helpers/postgres.js';
import { killAllServers, makeTempDir, PROCESS_JWT_SECRET, startServerProcess } from '../helpers/process.js';
import { connectProvider, waitFor, waitForSynced } from '../helpers/yjs-clients.js';

const pg = await probePostgres();
const haveRedis = redisServerAvailable();
const missing = [!pg.available && `PostgreSQL (${pg.reason})`, !haveRedis && 'redis-server'].filter(Boolean);
if (missing.length > 0) {
  const msg = `notify two-instance notices test needs ${missing.join(' and ')}: ${requireServices ? 'failing (KITH_REQUIRE_SERVICES=1)' : 'skipping'}`;
  if (requireServices) throw new Error(msg);
  console.warn(msg);
}

let sink: Server | undefined;
let redis: RedisProcess | undefined;
let dropSchema: (() => Promise<void>) | undefined;
afterAll(async () => {
  await killAllServers();
  await new Promise((r) => (sink ? sink.close(() => r(undefined)) : r(undefined)));
  await redis?.kill();
  await dropSchema?.();
});

describe.skipIf(missing.length > 0)('change notices on two instances', () => {
  it('one notice per other member, from the instance that stored the edits', async () => {
    const notices: Array<{ userId: string; body: string }> = [];
    sink = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        const d = JSON.parse(body) as { kind: string; userId: string; body: string };
        if (d.kind === 'changes') notices.push({ userId: d.userId, body: d.body });
        res.writeHead(200).end('{}');
      });
    });
    await new Promise<void>((r) => sink!.listen(0, '127.0.0.1', () => r()));
    const hook = `http://127.0.0.1:${(sink.address() as { port: number }).port}/hook`;
    redis = new RedisProcess(await freePort());
    await redis.start();
    const url = pg.available ? pg.url : '';
    const schema = await createTestSchema(url);
    dropSchema = schema.drop;
    const env = {
      DATABASE_URL: `${url}?options=${encodeURIComponent(`-c search_path=${schema.schema}`)}`,
      REDIS_URL: redis.url,
      KITH_JWT_SECRET: PROCESS_JWT_SECRET,
      KITH_LOGIN_PER_MINUTE: '1000',
      KITH_NOTIFY_WEBHOOK_URL: hook,
      KITH_NOTIFY_CHANGE_WINDOW_MS: '3000',
    };
    const start = async () => startServerProcess(['--port', '0', '--data-dir', await makeTempDir(), '--log-level', 'warn'], { env, timeoutMs: 60_000 });
    const a = await start();
    const b = await start();
    const api = apiClient(a.url);
    const mum = await api.signUp('mum');
    const dad = await api.signUp('dad');
    const roomId = await api.createRoom(mum.token, 'Two instances');
    await api.addMember(mum.token, roomId, dad.token, 'editor');
    const { provider } = connectProvider(b.wsUrl, roomId, dad.token);
    await waitForSynced(provider);
    // A first edit, so that B, which applies it from A, has a picture of the room to compare with.
    const titles = ['Warm-up', 'Dentist', 'Ski trip', 'Recital'];
    for (const [i, title] of titles.entries()) {
      if (i === 1) await new Promise((r) => setTimeout(r, 3_000));
      const res = await api.request('POST', `/rooms/${roomId}/events`, {
        token: mum.token,
        body: { eventTitle: title, startTime: '2026-12-20T10:00', endTime: '2026-12-20T11:00', timeZone: 'Europe/Berlin' },
      });
      expect(res.status).toBe(201);
    }
    const lines = () => notices.flatMap((n) => n.body.split(' · '));
    await waitFor(() => lines().length >= titles.length, 30_000, 'notices of every edit');
    await new Promise((r) => setTimeout(r, 8_000)); // a second instance's notice would arrive within its window
    provider.destroy();
    expect(new Set(notices.map((n) => n.userId))).toEqual(new Set([dad.userId]));
    // Each edit told once (in one or two windows), not once per instance.
    expect(lines().sort()).toEqual(titles.map((t) => `${mum.username} added ${t}`).sort());
  }, 240_000);
});
