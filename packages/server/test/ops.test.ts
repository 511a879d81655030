/**
 * The operations surface of the real binary: liveness, readiness (also during shutdown) and the
 * Prometheus metrics, whose values must move when clients connect and write.
 */
import fs from 'node:fs/promises';
import net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { apiClient } from './helpers/api.js';
import {
  PROCESS_JWT_SECRET,
  RawSyncClient,
  killAllServers,
  makeTempDir,
  startServerProcess,
  type ServerProcess,
} from './helpers/process.js';
import { connectProvider, waitFor, waitForSynced } from './helpers/yjs-clients.js';

const dirs: string[] = [];
const cleanups: Array<() => void> = [];

afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});
afterAll(async () => {
  await killAllServers();
  await Promise.all(dirs.map((d) => fs.rm(d, { recursive: true, force: true })));
});

async function startServer(extra: string[] = []): Promise<ServerProcess> {
  const dataDir = await makeTempDir('kith-ops-');
  dirs.push(dataDir);
  return startServerProcess([
    '--port', '0', '--data-dir', dataDir, '--jwt-secret', PROCESS_JWT_SECRET, '--log-level', 'warn', ...extra,
  ]);
}

/** One sample line of the text exposition format: name, optional {labels}, value. */
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (-?[0-9.e+-]+|[+-]?Inf|NaN)$/i; // special values are case-insensitive (Go ParseFloat)

interface Scrape {
  text: string;
  /** `name{labels}` exactly as exposed → value. */
  samples: Map<string, number>;
  types: Map<string, string>;
}

async function scrape(url: string): Promise<Scrape> {
  const res = await fetch(`${url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  const samples = new Map<string, number>();
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const type = /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type) {
      types.set(type[1]!, type[2]!);
      continue;
    }
    if (line.startsWith('# HELP ')) continue;
    const m = SAMPLE.exec(line);
    expect(m, `not a valid exposition line: ${line}`).not.toBeNull();
    samples.set(`${m![1]}${m![2] ?? ''}`, Number(m![3]));
  }
  return { text, samples, types };
}

function value(s: Scrape, series: string): number {
  const v = s.samples.get(series);
  if (v === undefined) throw new Error(`series ${series} missing from /metrics:\n${s.text}`);
  return v;
}

/** Polls /metrics until `check` holds (metrics move asynchronously to the client's view). */
async function scrapeUntil(url: string, check: (s: Scrape) => boolean, what: string): Promise<Scrape> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const s = await scrape(url);
    if (check(s)) return s;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${s.text}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('health and readiness', () => {
  let s: ServerProcess;
  beforeAll(async () => {
    s = await startServer();
  });
  afterAll(async () => {
    await s.stop('SIGTERM');
  });

  it('GET /healthz answers 200 with status ok', async () => {
    const res = await apiClient(s.url).request('GET', '/healthz');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
  });

  it('GET /readyz answers 200 with status ready while storage answers', async () => {
    const res = await apiClient(s.url).request('GET', '/readyz');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ready' });
  });
});

describe('GET /readyz during shutdown', () => {
  it('answers 503 once SIGTERM has begun the shutdown, then the server exits 0', async () => {
    const s = await startServer(['--shutdown-grace-ms', '5000']);
    // A request already under way when the signal comes: half its headers are sent before it,
    // the rest after. (An idle connection would simply be closed.)
    const sock = net.connect(s.port, '127.0.0.1');
    cleanups.push(() => sock.destroy());
    await new Promise((r) => sock.once('connect', r));
    let answer = '';
    sock.setEncoding('utf8').on('data', (c: string) => (answer += c));
    sock.write('GET /readyz HTTP/1.1\r\nHost: kith\r\n');
    await new Promise((r) => setTimeout(r, 50));

    s.child.kill('SIGTERM');
    // Shutdown has begun once the listening socket is closed.
    const deadline = Date.now() + 3000;
    for (;;) {
      const accepted = await new Promise<boolean>((resolve) => {
        const probe = net.connect(s.port, '127.0.0.1');
        probe.once('connect', () => (probe.destroy(), resolve(true)));
        probe.once('error', () => resolve(false));
      });
      if (!accepted) break;
      if (Date.now() > deadline) throw new Error('server kept accepting connections after SIGTERM');
      await new Promise((r) => setTimeout(r, 5));
    }
    sock.write('\r\n');
    await waitFor(() => /\r\n\r\n/.test(answer), 3000, 'the answer to /readyz');
    expect(answer).toMatch(/^HTTP\/1\.1 503 /);
    expect(answer.toLowerCase()).toContain('connection: close');
    // It finishes the shutdown by itself (a second signal would mean "exit now").
    expect(await s.exited).toEqual({ code: 0, signal: null });
  });
});

describe('GET /metrics', () => {
  let s: ServerProcess;
  beforeAll(async () => {
    // Small compaction threshold and no unload grace, so those metrics move within the test.
    s = await startServer(['--compact-after-updates', '2', '--unload-grace-ms', '0']);
  });
  afterAll(async () => {
    await s.stop('SIGTERM');
  });

  it('is Prometheus text format with the kith_ series, of the right types, before any traffic', async () => {
    const m = await scrape(s.url);
    expect(m.types.get('kith_connections')).toBe('gauge');
    expect(m.types.get('kith_rooms_loaded')).toBe('gauge');
    expect(m.types.get('kith_updates_total')).toBe('counter');
    expect(m.types.get('kith_persist_latency_seconds')).toBe('histogram');
    expect(m.types.get('kith_compactions_total')).toBe('counter');
    expect(value(m, 'kith_connections')).toBe(0);
    expect(value(m, 'kith_rooms_loaded')).toBe(0);
    expect(value(m, 'kith_updates_total')).toBe(0);
    expect(value(m, 'kith_persist_latency_seconds_count')).toBe(0);
    expect(value(m, 'kith_persist_latency_seconds_bucket{le="+Inf"}')).toBe(0);
    // Labelled counters are exported at 0 from the start, so the first event is a visible increase.
    expect(value(m, 'kith_compactions_total{outcome="done"}')).toBe(0);
    expect(value(m, 'kith_updates_rejected_total{reason="read-only"}')).toBe(0);
    // Process metrics share the prefix.
    expect(m.types.get('kith_process_cpu_seconds_total')).toBe('counter');
  });

  it('moves kith_connections, kith_rooms_loaded, kith_updates_total, the persist histogram and kith_compactions_total with traffic', async () => {
    const api = apiClient(s.url);
    const alice = await api.signUp('alice');
    const bob = await api.signUp('bob');
    const roomId = await api.createRoom(alice.token);
    await api.addMember(alice.token, roomId, bob.token, 'viewer');
    const before = await scrape(s.url);

    const a = connectProvider(s.wsUrl, roomId, alice.token);
    cleanups.push(() => a.provider.destroy());
    await waitForSynced(a.provider);
    let m = await scrapeUntil(s.url, (x) => value(x, 'kith_connections') === 1, 'one connection');
    expect(value(m, 'kith_rooms_loaded')).toBe(1);

    const b = await RawSyncClient.connect(s.wsUrl, roomId, bob.token);
    cleanups.push(() => b.close());
    await b.waitSynced();
    m = await scrapeUntil(s.url, (x) => value(x, 'kith_connections') === 2, 'two connections');
    expect(value(m, 'kith_rooms_loaded')).toBe(1); // same room

    // Three updates, one at a time: each is its own commit.
    const events = a.doc.getMap<string>('events');
    for (let i = 0; i < 3; i++) {
      events.set(`e${i}`, `event ${i}`);
      await waitFor(() => b.doc.getMap('events').get(`e${i}`) === `event ${i}`, 5000, `update ${i} to reach bob`);
    }
    m = await scrapeUntil(
      s.url,
      (x) => value(x, 'kith_compactions_total{outcome="done"}') >= 1,
      'a compaction (threshold 2 updates)',
    );
    expect(value(m, 'kith_updates_total') - value(before, 'kith_updates_total')).toBe(3);
    const commits = value(m, 'kith_persist_latency_seconds_count');
    expect(commits - value(before, 'kith_persist_latency_seconds_count')).toBe(3);
    expect(value(m, 'kith_persist_latency_seconds_sum')).toBeGreaterThan(0);
    expect(value(m, 'kith_persist_latency_seconds_bucket{le="+Inf"}')).toBe(commits);
    expect(value(m, 'kith_persist_latency_seconds_bucket{le="1"}')).toBeLessThanOrEqual(commits);

    // A viewer's write is refused, counted, and not counted as an update. (Measured as a delta:
    // the viewer's empty sync-step-2 handshake is itself counted as a rejected update today.)
    const rejectedBefore = value(m, 'kith_updates_rejected_total{reason="read-only"}');
    b.doc.getMap('events').set('from-viewer', 'nope');
    m = await scrapeUntil(
      s.url,
      (x) => value(x, 'kith_updates_rejected_total{reason="read-only"}') === rejectedBefore + 1,
      'rejected update',
    );
    expect(value(m, 'kith_updates_total') - value(before, 'kith_updates_total')).toBe(3);

    // Disconnecting brings the gauges back down (the room unloads at once with --unload-grace-ms 0).
    a.provider.destroy();
    b.close();
    m = await scrapeUntil(
      s.url,
      (x) => value(x, 'kith_connections') === 0 && value(x, 'kith_rooms_loaded') === 0,
      'connections and rooms back to 0',
    );
  });
});
