/**
 * W5 durable writes (Kith only): the highest rate of updates per second that Kith stores on disk
 * (it broadcasts only after the commit) with p99 ≤ 50 ms. Each room has one writer and one
 * reader; the offered rate rises in steps, spread evenly over the writers (each stays under
 * Kith's per-socket limit of 200 updates/s). Latency is writer send → reader receipt, i.e. it
 * includes the commit (fsync) of the update. A step passes when p99 ≤ 50 ms, nothing is lost,
 * Kith's own counter of stored updates grew by every update sent, and the load generator kept
 * the offered rate (within 5 %).
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import pg from 'pg';
import { connectMany, SyncClient } from '../client.js';
import { EditLedger, EditWriter, nowMicros, stamp, type PreparedEdit } from '../edits.js';
import { DeliveryMeter, runSchedule } from '../load.js';
import type { Logger } from '../log.js';
import { monotonicMicros, writeWindow } from '../profile.js';
import type { Column, Figures, WorkloadResult } from '../result.js';
import { kithMetric, openSession, sleep, startServer } from '../servers.js';
import { summarize } from '../stats.js';

export interface DurableSpec {
  rooms: number;
  rates: number[];
  stepS: number;
  p99LimitMs: number;
  cpuProfileDir?: string;
}

const STEP_COLUMNS: Column[] = [
  { key: 'offered', label: 'offered updates/s', format: 'int' },
  { key: 'attempt', label: 'try', format: 'int' },
  { key: 'achieved', label: 'sent updates/s', format: 'int' },
  { key: 'persistedPerS', label: 'stored updates/s', format: 'int' },
  { key: 'p50', label: 'p50 ms', format: 'ms' },
  { key: 'p99', label: 'p99 ms', format: 'ms' },
  { key: 'max', label: 'max ms', format: 'ms' },
  { key: 'lost', label: 'lost', format: 'int' },
  { key: 'cpuPct', label: 'server CPU %', format: 'pct' },
  { key: 'cpuUsPerUpdate', label: 'server CPU µs per stored update', format: 'us' },
  { key: 'genCpuPct', label: 'load generator CPU %', format: 'pct' },
  { key: 'pass', label: 'pass', format: 'text' },
];

const COLUMNS: Column[] = [
  { key: 'maxPersistedPerS', label: 'highest stored updates/s with p99 ≤ 50 ms', format: 'int', better: 'higher' },
  { key: 'p50AtMax', label: 'p50 ms there', format: 'ms' },
  { key: 'p99AtMax', label: 'p99 ms there', format: 'ms' },
  { key: 'cpuPctAtMax', label: 'server CPU % there', format: 'pct' },
  { key: 'firstFailure', label: 'failing step above it', format: 'text' },
];

/** One Kith server's steps, on SQLite (as shipped) or on PostgreSQL (`env` names it). */
async function runSteps(
  spec: DurableSpec,
  runDir: string,
  log: Logger,
  store: 'sqlite' | 'postgres',
  env: Record<string, string>,
): Promise<Figures[]> {
  const server = await startServer('kith', {
    dir: path.join(runDir, `W5-kith-${store}`),
    cpuProfile: spec.cpuProfileDir && store === 'sqlite' ? { dir: spec.cpuProfileDir, name: 'W5-kith.cpuprofile' } : undefined,
    env,
  });
  const totalEdits = 2 * spec.rates.reduce((n, r) => n + Math.ceil(r * spec.stepS), 0) + 2 * Math.min(spec.rates[0]!, 1000) + 16;
  const ledger = new EditLedger(totalEdits);
  const meter = new DeliveryMeter(ledger, spec.rates.length * 2);
  let writers: SyncClient[] = [];
  let readers: SyncClient[] = [];
  const gens: EditWriter[] = [];
  const steps: Figures[] = [];
  try {
    const session = await openSession(server);
    const rooms = await session.rooms(spec.rooms, 'W5');
    let ids = 0;
    const make = (i: number) =>
      new SyncClient(
        { id: ids++, url: server.socketUrl(rooms[i % spec.rooms]!, session.token), prefix: server.framePrefix(rooms[i % spec.rooms]!) },
        meter.sink,
      );
    writers = await connectMany(spec.rooms, make);
    readers = await connectMany(spec.rooms, make);
    for (const w of writers) gens.push(new EditWriter(w.prefix, 'w'));
    log(`  Kith (${store}): ${spec.rooms} writers + ${spec.rooms} readers synced`);

    const runStep = async (rate: number, seconds: number, series: number) => {
      const n = Math.round(rate * seconds);
      const prepared: PreparedEdit[] = new Array(n);
      const from = ledger.count;
      for (let k = 0; k < n; k++) prepared[k] = gens[k % spec.rooms]!.prepare(ledger.add(writers[k % spec.rooms]!.id, 1, series));
      const stored0 = await kithMetric(server, 'kith_updates_total');
      const p0 = server.proc();
      const g0 = process.cpuUsage();
      const ms = await runSchedule(
        n,
        (k) => (k / rate) * 1000,
        (k) => {
          const e = prepared[k]!;
          const t = nowMicros();
          stamp(e, t);
          ledger.sentAt[e.editId] = t / 1000;
          writers[k % spec.rooms]!.send(e.frame);
        },
      );
      await meter.drain(from, ledger.count, 3000);
      const p1 = server.proc();
      const g = process.cpuUsage(g0);
      const stored1 = await kithMetric(server, 'kith_updates_total');
      return {
        n,
        ms,
        from,
        to: ledger.count,
        cpu: p1.cpuSeconds - p0.cpuSeconds,
        genCpu: (g.user + g.system) / 1e6,
        wall: (p1.at - p0.at) / 1000,
        stored: stored1 - stored0,
      };
    };

    await runStep(Math.min(spec.rates[0]!, 1000), 2, 255); // warm-up
    await sleep(300);
    // A failing step is tried once more (one fsync stall on a busy disk can spoil a p99); the run
    // stops after two failing steps in a row.
    const windowStart = monotonicMicros();
    let failuresInARow = 0;
    let series = 0;
    for (const rate of spec.rates) {
      let row: Figures | undefined;
      for (let attempt = 1; attempt <= 2; attempt++) {
        const s = await runStep(rate, spec.stepS, series);
        const lat = summarize(meter.series[series]!);
        series++;
        const tally = ledger.tally((id) => id >= s.from && id < s.to);
        const achieved = s.n / (s.ms / 1000);
        const offeredKept = s.ms <= spec.stepS * 1000 * 1.05 + 50;
        const pass = lat.p99 <= spec.p99LimitMs && tally.lost === 0 && s.stored >= s.n && offeredKept;
        const why = [
          lat.p99 > spec.p99LimitMs ? `p99 ${lat.p99.toFixed(1)} ms` : '',
          tally.lost > 0 ? `${tally.lost} lost` : '',
          s.stored < s.n ? `only ${s.stored} of ${s.n} stored` : '',
          offeredKept ? '' : `load generator fell behind (${achieved.toFixed(0)}/s)`,
        ].filter(Boolean);
        row = {
          offered: rate,
          attempt,
          achieved,
          persistedPerS: s.stored / (s.ms / 1000),
          stored: s.stored,
          p50: lat.p50,
          p99: lat.p99,
          max: lat.max,
          lost: tally.lost,
          cpuPct: (s.cpu / s.wall) * 100,
          cpuUsPerUpdate: s.stored > 0 ? (s.cpu / s.stored) * 1e6 : null,
          genCpuPct: (s.genCpu / s.wall) * 100,
          pass: pass ? 'yes' : `no: ${why.join(', ')}`,
        };
        steps.push(row);
        log(
          `  ${store} ${rate}/s (try ${attempt}): p50 ${lat.p50.toFixed(1)} ms, p99 ${lat.p99.toFixed(1)} ms, lost ${tally.lost}, stored ${s.stored}/${s.n}, ` +
            `server ${((s.cpu / Math.max(1, s.stored)) * 1e6).toFixed(1)} µs CPU per update, generator CPU ${((s.genCpu / s.wall) * 100).toFixed(0)} % → ${pass ? 'pass' : 'fail'}`,
        );
        await sleep(300);
        if (pass) break;
      }
      failuresInARow = row!.pass === 'yes' ? 0 : failuresInARow + 1;
      if (failuresInARow >= 2) break;
    }
    if (spec.cpuProfileDir && store === 'sqlite') writeWindow(spec.cpuProfileDir, 'W5-kith.cpuprofile', { startUs: windowStart, endUs: monotonicMicros() });
  } finally {
    for (const c of [...writers, ...readers]) c.close();
    for (const g of gens) g.destroy();
    await server.stop();
  }
  return steps;
}

/** The step with the most stored updates/s among those that passed, and the first failing one above it. */
function summarizeSteps(steps: Figures[]): { best: Figures | undefined; failed: Figures | undefined } {
  const passing = steps.filter((s) => s.pass === 'yes');
  const best = passing.reduce<Figures | undefined>((b, s) => (!b || (s.persistedPerS as number) > (b.persistedPerS as number) ? s : b), undefined);
  const failed = steps.find((s) => s.pass !== 'yes' && (!best || (s.offered as number) > (best.offered as number)));
  return { best, failed };
}

const figuresOf = ({ best, failed }: ReturnType<typeof summarizeSteps>): Figures => ({
  maxPersistedPerS: best ? (best.persistedPerS as number) : 0,
  p50AtMax: best ? (best.p50 as number) : null,
  p99AtMax: best ? (best.p99 as number) : null,
  cpuPctAtMax: best ? (best.cpuPct as number) : null,
  firstFailure: failed ? `${failed.offered}/s (${String(failed.pass).replace(/^no: /, '')})` : 'none',
});

export async function runDurable(spec: DurableSpec, runDir: string, log: Logger): Promise<WorkloadResult> {
  const started = performance.now();
  const notes: string[] = [];
  const steps = await runSteps(spec, runDir, log, 'sqlite', {});
  const sqlite = summarizeSteps(steps);
  const extraTables: WorkloadResult['extraTables'] = [{ title: 'W5 steps (SQLite)', columns: STEP_COLUMNS, rows: steps }];
  // The same steps with PostgreSQL storage and Redis fan-out, in a schema of its own (dropped after).
  const pg = await postgresFor(log);
  if (pg.ok) {
    try {
      const pgSteps = await runSteps(spec, runDir, log, 'postgres', { DATABASE_URL: pg.url, REDIS_URL: REDIS_URL });
      const summary = summarizeSteps(pgSteps);
      extraTables.push({ title: 'W5 steps (PostgreSQL + Redis)', columns: STEP_COLUMNS, rows: pgSteps });
      notes.push(
        `PostgreSQL (${redactUrl(POSTGRES_URL)}, Redis ${REDIS_URL}), same steps: highest stored updates/s with p99 ≤ ${spec.p99LimitMs} ms ` +
          `${Math.round(figuresOf(summary).maxPersistedPerS as number).toLocaleString('en-US')}` +
          (summary.failed ? `; failing step above it ${figuresOf(summary).firstFailure}.` : '.'),
      );
    } finally {
      await pg.drop();
    }
  } else {
    notes.push(`No PostgreSQL figure: ${pg.reason}.`);
  }
  if (!sqlite.failed) notes.push(`Every step passed: the highest offered rate (${spec.rates.at(-1)}/s) is a lower bound; raise --w5-rates to find the ceiling.`);
  notes.push(
    'Load generator and server share the 2 cores; at high rates the load generator (encoding, sending and receiving every update) takes a large share of the machine. "server CPU µs per stored update" is the server process\'s CPU (all threads) over the step divided by the updates it stored.',
  );
  return {
    id: 'W5',
    title: 'W5 durable writes (Kith)',
    description: `${spec.rooms} rooms, one writer and one reader each; offered rate rises in ${spec.stepS} s steps (a failing step is tried twice; the run stops after two failing steps in a row). A step passes with p99 ≤ ${spec.p99LimitMs} ms, nothing lost, every update counted as stored by Kith (kith_updates_total), and the load generator keeping the offered rate. Durability as shipped (--sqlite-sync full). The table is SQLite; the PostgreSQL run (with Redis fan-out) is in its own steps table and the notes.`,
    params: { rooms: spec.rooms, rates: spec.rates, stepS: spec.stepS, p99LimitMs: spec.p99LimitMs },
    columns: COLUMNS,
    servers: { kith: figuresOf(sqlite) },
    extraTables,
    targets: [{ key: 'maxPersistedPerS', op: '>=', value: 20_000, label: '≥ 20,000 stored updates/s with p99 ≤ 50 ms' }],
    notes,
    wallSeconds: (performance.now() - started) / 1000,
  };
}

const POSTGRES_URL = process.env.KITH_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env.KITH_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

const redactUrl = (url: string): string => url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');

async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 3_000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** A fresh schema for Kith's tables (the database may be shared), or why there is none. */
async function postgresFor(
  log: Logger,
): Promise<{ ok: true; url: string; drop: () => Promise<void> } | { ok: false; reason: string }> {
  const schema = `kith_bench_${randomBytes(6).toString('hex')}`;
  try {
    await adminQuery(`CREATE SCHEMA ${schema}`);
  } catch (err) {
    const reason = `PostgreSQL at ${redactUrl(POSTGRES_URL)} not reachable (${(err as Error).message})`;
    log(`  ${reason}; W5 on SQLite only`);
    return { ok: false, reason };
  }
  const url = new URL(POSTGRES_URL);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return {
    ok: true,
    url: url.toString(),
    drop: () => adminQuery(`DROP SCHEMA ${schema} CASCADE`).catch((err) => log(`  could not drop schema ${schema}: ${(err as Error).message}`)),
  };
}
