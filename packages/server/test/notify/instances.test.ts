/**
 * Three kith-server instances over one PostgreSQL database, each with the notify module and the same
 * webhook sink: every instance indexes the room and wakes for every reminder, and the ledger's
 * conditional claim lets exactly one of them send each (no kills here, so each key arrives once,
 * raw). Skipped with a clear message when PostgreSQL is absent (KITH_REQUIRE_SERVICES=1 fails instead).
 */
import { createEvent } from '@kith/model';
import { requireServices } from '@kith/test-support';
import { afterAll, describe, expect, it } from 'vitest';
import { apiClient } from '../helpers/api.js';
import { createTestSchema, probePostgres } from '../helpers/postgres.js';
import { killAllServers, type ServerProcess } from '../helpers/process.js';
import { connectProvider, waitFor, waitForSynced } from '../helpers/yjs-clients.js';
import { startNotifyProcess, startWebhookSink } from './harness.js';

const pg = await probePostgres();
if (!pg.available) {
  const msg = `notify three-instance test needs PostgreSQL (${pg.reason}): ${requireServices ? 'failing (KITH_REQUIRE_SERVICES=1)' : 'skipping'}`;
  if (requireServices) throw new Error(msg);
  console.warn(msg);
}

const EVENTS = 10;
const SPACING_MS = 2_000;
let sink: Awaited<ReturnType<typeof startWebhookSink>> | undefined;
let dropSchema: (() => Promise<void>) | undefined;
afterAll(async () => {
  await killAllServers();
  await sink?.close();
  await dropSchema?.();
});

const wall = (ms: number) => new Date(ms).toISOString().slice(0, 19);

describe.skipIf(!pg.available)('notify on three instances over PostgreSQL', () => {
  it('each reminder is sent by exactly one instance', async () => {
    // Reminders only (change notices are not under test here).
    sink = await startWebhookSink((key) => key.startsWith('rem:'));
    const { url: hook, keys: received } = sink;
    const { databaseUrl, drop } = await createTestSchema(pg.available ? pg.url : '');
    dropSchema = drop;
    const startInstance = () => startNotifyProcess(databaseUrl, hook, { KITH_NOTIFY_LEASE_MS: '5000' });

    const first = await startInstance();
    const api = apiClient(first.url);
    const mum = await api.signUp('mum');
    const dad = await api.signUp('dad');
    const roomId = await api.createRoom(mum.token, 'Three instances');
    await api.addMember(mum.token, roomId, dad.token, 'editor');
    // Due times start after the other two instances are up (their start-up pass reads the room).
    const base = Math.ceil(Date.now() / 1000) * 1000 + 45_000 + 60_000;
    const { doc, provider } = connectProvider(first.wsUrl, roomId, mum.token);
    await waitForSynced(provider);
    const expected = new Set<string>();
    for (let i = 0; i < EVENTS; i++) {
      const startMs = base + i * SPACING_MS;
      const eventId = createEvent(
        doc,
        { title: `Event ${i}`, start: wall(startMs), end: wall(startMs + 600_000), tz: 'UTC', reminders: [{ id: `r${i}`, minutesBefore: 1 }] },
        { actor: mum.userId },
      );
      for (const user of [mum.userId, dad.userId]) expected.add(`rem:${roomId}:${eventId}:${new Date(startMs).toISOString()}:r${i}:${user}:webhook`);
    }
    const from = new Date(base - 1_000).toISOString();
    const to = new Date(base + EVENTS * SPACING_MS).toISOString();
    for (let tries = 0; ; tries++) {
      const page = await api.request('GET', `/rooms/${roomId}/events?from=${from}&to=${to}`, { token: mum.token });
      if (page.body.occurrences?.length === EVENTS) break;
      if (tries > 100) throw new Error('events did not reach the server');
      await new Promise((r) => setTimeout(r, 50));
    }
    provider.destroy();
    const instances: ServerProcess[] = [first, await startInstance(), await startInstance()];
    expect(Date.now()).toBeLessThan(base - 60_000); // all three were up before the first due time

    const lastDue = base - 60_000 + (EVENTS - 1) * SPACING_MS;
    await waitFor(() => new Set(received).size >= expected.size, lastDue - Date.now() + 20_000, 'all reminders');
    await new Promise((r) => setTimeout(r, 3_000));
    const sentBy = await Promise.all(
      instances.map(async (s) => {
        const text = await (await fetch(`${s.url}/metrics`)).text();
        return Number(/^kith_notifications_sent_total\{channel="webhook",kind="reminder"\} (\d+)$/m.exec(text)?.[1] ?? 0);
      }),
    );
    console.log(`notify three instances: ${expected.size} reminders, ${received.length} received, sent per instance ${sentBy.join('/')}`);
    expect([...new Set(received)].sort()).toEqual([...expected].sort());
    expect(received.length).toBe(expected.size);
    expect(sentBy.reduce((a, b) => a + b, 0)).toBe(expected.size);
    for (const s of instances) await s.stop('SIGTERM');
  }, 240_000);
});
