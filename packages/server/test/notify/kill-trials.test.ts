/**
 * Exactly once across crashes: the real kith-server binary, with reminders falling due every
 * second or so, is SIGKILLed 20 times at random moments (restarted on the same data dir each time).
 * Deliveries go to a loopback HTTP sink through the webhook channel (KITH_NOTIFY_WEBHOOK_URL), which
 * answers slowly so that kills also land between "claimed" and "marked sent".
 *
 * What must hold: every reminder is delivered (none lost to a crash); counted by the delivery key
 * that the channel sends as Idempotency-Key, none twice. Raw repeats of one key (a kill after the
 * sink accepted and before the ledger said "sent": the documented at-least-once instant, which the
 * key makes harmless) are counted and reported.
 */
import { createServer, type Server } from 'node:http';
import fs from 'node:fs/promises';
import { createEvent } from '@kith/model';
import { Rng } from '@kith/test-support';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { apiClient } from '../helpers/api.js';
import { killAllServers, makeTempDir, PROCESS_JWT_SECRET, startServerProcess, type ServerProcess } from '../helpers/process.js';
import { connectProvider, waitFor, waitForSynced } from '../helpers/yjs-clients.js';

const KILLS = Number(process.env.KITH_NOTIFY_KILLS ?? 20);
// Twelve due times over ~100 s: the twenty kills (each a 0–3 s wait plus a restart) span them all.
const EVENTS = 12;
/** Between due times: a restart of the binary takes several seconds on a loaded 2-core machine. */
const SPACING_MS = 8_000;
const LEAD_MIN = 2;

let dataDir: string | undefined;
let sink: Server | undefined;
afterEach(async () => {
  await killAllServers();
});
afterAll(async () => {
  await killAllServers();
  await new Promise((r) => (sink ? sink.close(() => r(undefined)) : r(undefined)));
  if (dataDir) await fs.rm(dataDir, { recursive: true, force: true });
});

/** A webhook receiver that takes 40 ms to answer; records each POST's Idempotency-Key. */
async function startSink(): Promise<{ url: string; received: string[] }> {
  const received: string[] = [];
  sink = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const key = String(req.headers['idempotency-key']);
      if (key.startsWith('rem:')) received.push(key); // reminders only (change notices are not under test here)
      setTimeout(() => res.writeHead(200).end('{}'), 40);
    });
  });
  await new Promise<void>((r) => sink!.listen(0, '127.0.0.1', () => r()));
  const addr = sink.address() as { port: number };
  return { url: `http://127.0.0.1:${addr.port}/hook`, received };
}

const wall = (ms: number) => new Date(ms).toISOString().slice(0, 19);

describe('reminders exactly once under SIGKILL', () => {
  it(`at least ${KILLS} kills around due times: every reminder delivered, no key twice`, async () => {
    dataDir = await makeTempDir('kith-notify-kill-');
    const { url: hook, received } = await startSink();
    const start = () =>
      startServerProcess(['--port', '0', '--data-dir', dataDir!, '--jwt-secret', PROCESS_JWT_SECRET, '--log-level', 'warn'], {
        env: { KITH_NOTIFY_WEBHOOK_URL: hook, KITH_NOTIFY_LEASE_MS: '1500', KITH_NOTIFY_RETRY_MS: '500' },
        timeoutMs: 60_000,
      });
    let server: ServerProcess = await start();
    const api = apiClient(server.url);
    const mum = await api.signUp('mum');
    const dad = await api.signUp('dad');
    const roomId = await api.createRoom(mum.token, 'Kill trials');
    await api.addMember(mum.token, roomId, dad.token, 'editor');

    // Reminders (for both) fall due from ~12 s from now, one every SPACING_MS; events start LEAD_MIN later.
    const base = Math.ceil(Date.now() / 1000) * 1000 + 12_000 + LEAD_MIN * 60_000;
    const { doc, provider } = connectProvider(server.wsUrl, roomId, mum.token);
    await waitForSynced(provider);
    const expected = new Set<string>();
    for (let i = 0; i < EVENTS; i++) {
      const startMs = base + i * SPACING_MS;
      const eventId = createEvent(
        doc,
        { title: `Event ${i}`, start: wall(startMs), end: wall(startMs + 600_000), tz: 'UTC', reminders: [{ id: `r${i}`, minutesBefore: LEAD_MIN }] },
        { actor: mum.userId },
      );
      for (const user of [mum.userId, dad.userId]) {
        expected.add(`rem:${roomId}:${eventId}:${new Date(startMs).toISOString()}:r${i}:${user}:webhook`);
      }
    }
    const from = new Date(base - 1_000).toISOString();
    const to = new Date(base + EVENTS * SPACING_MS + 1_000).toISOString();
    for (let tries = 0; ; tries++) {
      const page = await api.request('GET', `/rooms/${roomId}/events?from=${from}&to=${to}`, { token: mum.token });
      if (page.body.occurrences?.length === EVENTS) break;
      if (tries > 100) throw new Error('events did not reach the server');
      await new Promise((r) => setTimeout(r, 50));
    }
    provider.destroy();
    const t0 = Date.now();
    const trace = (m: string) => process.env.KITH_NOTIFY_TRACE && console.log(`${Date.now() - t0} ms: ${m} (${received.length} received)`);
    trace('events stored');

    const rng = new Rng(1403);
    const stats = { kills: 0, receivedAtKill: [] as number[] };
    const lastDue = base - LEAD_MIN * 60_000 + (EVENTS - 1) * SPACING_MS;
    // At least KILLS kills, and on until the last reminder has fallen due (restarts are slow on a loaded machine, fast elsewhere).
    for (let k = 0; k < KILLS || Date.now() < lastDue; k++) {
      await new Promise((r) => setTimeout(r, rng.int(0, 3_000)));
      await server.kill();
      stats.kills += 1;
      stats.receivedAtKill.push(received.length);
      server = await start();
      trace(`restart ${k + 1}`);
    }
    await waitFor(() => new Set(received).size >= expected.size, Math.max(0, lastDue - Date.now()) + 20_000, 'all reminders');
    await new Promise((r) => setTimeout(r, 2_000)); // anything late and twice would show now
    const unique = new Set(received);
    const missing = [...expected].filter((k) => !unique.has(k));
    const unexpected = [...unique].filter((k) => !expected.has(k));
    const repeats = received.length - unique.size;
    console.log(
      `notify kill trials: ${stats.kills} SIGKILLs, ${expected.size} reminders expected, ${unique.size} delivered keys, ` +
        `${missing.length} missing, ${repeats} raw repeats of a key (collapsed by Idempotency-Key)`,
    );
    expect(missing).toEqual([]);
    expect(unexpected).toEqual([]);
    expect(unique.size).toBe(expected.size);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    // The last instance may have had nothing left to send; its metrics still name the families.
    expect(metrics).toMatch(/^# TYPE kith_notifications_sent_total counter$/m);
    expect(metrics).toMatch(/^# TYPE kith_reminders_skipped_total counter$/m);
    await server.stop('SIGTERM');
  }, 600_000);
});
