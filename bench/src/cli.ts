/**
 * `pnpm bench` — Kith side by side with Hocuspocus and the y-websocket reference server.
 *
 *   pnpm bench                 every workload (≈ 20 min on 2 cores) → bench/results/latest.{md,json,svg}
 *   pnpm bench --quick         a ≈ 2-minute smoke run with small parameters → bench/results/quick.{md,json,svg}
 *   pnpm bench --profile       Kith only, under node --cpu-prof for W1 R=500, W2, W3, W5 and W6 (+ a W3 heap
 *                              snapshot) → bench/results/profile.md and bench/results/profiles/
 *   --only W1,W4               run some workloads (W1 W2 W3 W4 W5 W6 W7 W8 N1)
 *   --servers kith,hocuspocus  run some servers (kith, hocuspocus, ywebsocket, ywebsocket3)
 *   --out DIR                  where to write results (default bench/results)
 *   --keep                     keep the servers' data folders (printed at the end)
 *   --w5-rates 1000,5000,...   W5's offered rates
 *   --w1-readers 10,50,...     W1's cost-curve points (readers in the room)
 *   --w2-rooms 100,250,...     W2's cost-curve points (rooms of 4 clients)
 *   --w7-rooms N               W7's number of rooms (default 20,000; quick 200)
 *   --gen-procs N              W1's readers and W2's clients spread over N load-generator processes (default 2;
 *                              0 = all in this process; more when the sockets need them, see generatorProcesses)
 *   --gen-check                W1 (largest R) at 1, 2, 4 generator processes: does p99 still improve?
 *   --no-build                 do not rebuild packages/server first
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { makeLogger } from './log.js';
import { diffHeap, readWindow, renderCpuSummary, renderHeapSummary, summarizeCpuProfileFile, summarizeHeapSnapshotFile } from './profile.js';
import { renderChart, renderMarkdown, SERVER_COLORS, type BenchResults, type RunMeta } from './report.js';
import type { Target, WorkloadResult } from './result.js';
import { ALL_SERVERS, BENCH_DIR, REPO_DIR, SERVER_LABEL, type ServerKind } from './servers.js';
import { runFanout } from './workloads/fanout.js';
import { genCheckResult } from './gen-check.js';
import { collectCurves, renderCurvesSvg } from './curves.js';
import { runIdle } from './workloads/idle.js';
import { runCold } from './workloads/cold.js';
import { runDurable } from './workloads/durable.js';
import { runCaldav } from './workloads/caldav.js';
import { runPresence } from './workloads/presence.js';
import { runManyRooms } from './workloads/many-rooms.js';
import { runScheduler } from './workloads/scheduler.js';

interface Params {
  /** `readers` / `rooms` are the cost-curve points; the target point (R = 500, 500 rooms) runs `durationS`, the others `curveS`. */
  w1: { readers: number[]; durationS: number; curveS: number; slices: number; warmupS: number };
  w2: { rooms: number[]; clientsPerRoom: number; durationS: number; curveS: number; slices: number; warmupS: number };
  w3: { rooms: number; socketsPerRoom: number };
  w4: { events: number; updatesPerEvent: number; reps: number; connectTimeoutMs: number };
  w5: { rooms: number; rates: number[]; stepS: number };
  w6: { clients: number; hz: number; durationS: number; slices: number; warmupS: number };
  w7: { rooms: number; eventsPerRoom: number; concurrency: number };
  n1: { sampleRooms: number };
  w8: { events: number; fullReps: number; incrementalReps: number; monthReps: number };
}

const FULL: Params = {
  w1: { readers: [10, 50, 100, 250, 500, 1000], durationS: 20, curveS: 8, slices: 4, warmupS: 1 },
  w2: { rooms: [100, 250, 500, 1000, 2000], clientsPerRoom: 4, durationS: 20, curveS: 8, slices: 4, warmupS: 2 },
  w3: { rooms: 1000, socketsPerRoom: 5 },
  w4: { events: 5000, updatesPerEvent: 10, reps: 3, connectTimeoutMs: 60_000 },
  w5: { rooms: 400, rates: [1000, 2500, 5000, 10000, 15000, 20000, 25000, 30000, 40000, 50000], stepS: 4 },
  w6: { clients: 300, hz: 2, durationS: 20, slices: 4, warmupS: 2 },
  w7: { rooms: 20_000, eventsPerRoom: 300, concurrency: 16 },
  n1: { sampleRooms: 200 },
  w8: { events: 5000, fullReps: 5, incrementalReps: 100, monthReps: 50 },
};

const QUICK: Params = {
  w1: { readers: [10, 100], durationS: 4, curveS: 4, slices: 2, warmupS: 1 },
  w2: { rooms: [50, 100], clientsPerRoom: 4, durationS: 4, curveS: 4, slices: 2, warmupS: 1 },
  w3: { rooms: 150, socketsPerRoom: 5 },
  w4: { events: 1000, updatesPerEvent: 10, reps: 1, connectTimeoutMs: 30_000 },
  w5: { rooms: 100, rates: [1000, 5000, 10000, 15000], stepS: 2 },
  w6: { clients: 60, hz: 2, durationS: 4, slices: 2, warmupS: 1 },
  w7: { rooms: 200, eventsPerRoom: 300, concurrency: 16 },
  n1: { sampleRooms: 20 },
  w8: { events: 500, fullReps: 2, incrementalReps: 10, monthReps: 5 },
};

// Issue 17's targets, as ratios to the anchors measured in the same run.
const W1_TARGETS = (r: number): Target[] =>
  r === 500
    ? [
        { key: 'cpuUsPerDelivery', op: '<=', value: 0.5, relativeTo: 'best-anchor', label: 'server CPU per delivery ≤ 0.5× the best anchor' },
        { key: 'p99', op: '<=', value: 0.7, relativeTo: 'best-anchor', label: 'p99 ≤ 0.7× the best anchor' },
        { key: 'lost', op: '==', value: 0, label: '0 lost' },
      ]
    : [{ key: 'lost', op: '==', value: 0, label: '0 lost' }];

const W2_TARGETS: Target[] = [
  { key: 'cpuSecPer1k', op: '<=', value: 0.8, relativeTo: 'ywebsocket', label: 'CPU per 1k deliveries ≤ 0.8× the in-memory y-websocket ref' },
  { key: 'p99', op: '<=', value: 1, relativeTo: 'ywebsocket', label: "p99 ≤ the y-websocket ref's" },
  { key: 'lost', op: '==', value: 0, label: '0 lost' },
];

const W6_TARGETS: Target[] = [
  { key: 'cpuUsPerDelivery', op: '<=', value: 0.5, relativeTo: 'best-anchor', label: 'server CPU per awareness delivery ≤ 0.5× the best anchor' },
  { key: 'p99', op: '<=', value: 1, relativeTo: 'best-anchor', label: "p99 ≤ the best anchor's" },
  { key: 'lost', op: '==', value: 0, label: '0 lost' },
];

const W7_TARGETS: Target[] = [{ key: 'afterRatio', op: '<=', value: 1.1, label: 'RSS after every room unloaded within 10 % of the start' }];

const W3_TARGETS: Target[] = [
  { key: 'kbPerSocket', op: '<=', value: 6, label: '≤ 6 KB per idle socket' },
  { key: 'kbPerRoom', op: '<=', value: 30, label: '≤ 30 KB per room of 5 idle sockets' },
];

const W4_TARGETS: Target[] = [
  { key: 'coldSyncedAfter', op: '<=', value: 1, relativeTo: 'hocuspocus', label: 'cold connect → synced no slower than Hocuspocus (after compaction)' },
  { key: 'coldShareAfter', op: '<=', value: 30, label: 'server share ≤ 30 ms after compaction' },
];

const W8_TARGETS: Target[] = [
  { key: 'incP99', op: '<=', value: 20, label: 'incremental CalDAV sync p99 ≤ 20 ms' },
  { key: 'fullP99', op: '<=', value: 1, relativeTo: 'radicale', label: 'full CalDAV sync p99 no slower than Radicale' },
  { key: 'incP99', op: '<=', value: 1, relativeTo: 'radicale', label: 'incremental CalDAV sync p99 no slower than Radicale' },
  { key: 'monthP99', op: '<=', value: 1, relativeTo: 'radicale', label: 'month calendar-query p99 no slower than Radicale' },
];

function rotate<T>(xs: readonly T[], by: number): T[] {
  return xs.map((_, i) => xs[(i + by) % xs.length]!);
}

/** Builds packages/server. tsc emits JavaScript even when types fail, so a type error is reported, not fatal. */
function buildKith(log: (s: string) => void): string {
  const tsc = path.join(REPO_DIR, 'node_modules/typescript/bin/tsc');
  try {
    execFileSync(process.execPath, [tsc, '-p', path.join(REPO_DIR, 'packages/server/tsconfig.json')], { cwd: REPO_DIR, stdio: ['ignore', 'pipe', 'pipe'] });
    return 'clean';
  } catch (err) {
    const out = String((err as { stdout?: Buffer }).stdout ?? '') + String((err as { stderr?: Buffer }).stderr ?? '');
    const errors = out.split('\n').filter((l) => /error TS\d+/.test(l));
    log(`warning: packages/server has ${errors.length} type error(s); benchmarking the JavaScript tsc emitted anyway:\n  ${errors.slice(0, 5).join('\n  ')}`);
    return `type errors (${errors.length}); emitted JavaScript used`;
  }
}

function git(args: string[]): string {
  try {
    return execFileSync('git', args, { cwd: REPO_DIR, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}

function findPackageVersion(fromDir: string, name: string): string {
  let dir = fs.realpathSync(fromDir);
  for (;;) {
    const f = path.join(dir, 'node_modules', name, 'package.json');
    if (fs.existsSync(f)) return (JSON.parse(fs.readFileSync(f, 'utf8')) as { version: string }).version;
    const up = path.dirname(dir);
    if (up === dir) return '?';
    dir = up;
  }
}

function versions(): Record<string, string> {
  const hp = path.join(BENCH_DIR, 'node_modules/@hocuspocus/server');
  const ext = path.join(BENCH_DIR, 'node_modules/@hocuspocus/extension-sqlite');
  const yws = path.join(BENCH_DIR, 'node_modules/y-websocket');
  const kith = path.join(REPO_DIR, 'packages/server');
  const v = (dir: string) => (JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version: string }).version;
  return {
    '@kith/server': v(kith),
    '@hocuspocus/server': v(hp),
    '@hocuspocus/common': findPackageVersion(hp, '@hocuspocus/common'),
    '@hocuspocus/extension-sqlite': v(ext),
    'y-websocket': v(yws),
    '@y/websocket-server': v(path.join(BENCH_DIR, 'node_modules/@y/websocket-server')),
    'yjs (kith)': findPackageVersion(kith, 'yjs'),
    'yjs (hocuspocus)': findPackageVersion(hp, 'yjs'),
    'yjs (y-websocket)': findPackageVersion(yws, 'yjs'),
    'ws (kith)': findPackageVersion(kith, 'ws'),
    'ws (y-websocket)': findPackageVersion(yws, 'ws'),
    'better-sqlite3 (kith)': findPackageVersion(kith, 'better-sqlite3'),
    'better-sqlite3 (hocuspocus)': findPackageVersion(ext, 'better-sqlite3'),
  };
}

function cpuModel(): string {
  try {
    return /model name\s*:\s*(.+)/.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? os.cpus()[0]?.model ?? '?';
  } catch {
    return os.cpus()[0]?.model ?? '?';
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(2).filter((a) => a !== '--'),
    options: {
      quick: { type: 'boolean' },
      profile: { type: 'boolean' },
      only: { type: 'string' },
      servers: { type: 'string' },
      out: { type: 'string' },
      keep: { type: 'boolean' },
      'w5-rates': { type: 'string' },
      'w1-readers': { type: 'string' },
      'w2-rooms': { type: 'string' },
      'w7-rooms': { type: 'string' },
      'no-build': { type: 'boolean' },
      'gen-procs': { type: 'string' },
      'gen-check': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(fs.readFileSync(new URL(import.meta.url)).toString().split('*/')[0]!.replace(/^\/\*\*?|^ \* ?/gm, '') + '\n');
    return;
  }
  const log = makeLogger();
  const build = values['no-build'] ? 'not rebuilt (--no-build)' : buildKith(log);
  const mode: 'full' | 'quick' = values.quick ? 'quick' : 'full';
  const P = structuredClone(mode === 'quick' ? QUICK : FULL);
  const list = (v: string) => v.split(',').map(Number).filter((n) => Number.isInteger(n) && n > 0);
  if (values['w5-rates']) P.w5.rates = list(values['w5-rates']);
  if (values['w1-readers']) P.w1.readers = list(values['w1-readers']);
  if (values['w2-rooms']) P.w2.rooms = list(values['w2-rooms']);
  if (values['w7-rooms']) P.w7.rooms = list(values['w7-rooms'])[0] ?? P.w7.rooms;
  const profile = Boolean(values.profile);
  // A profile run looks at the target point only (R = 500), not the whole cost curve.
  if (profile && mode === 'full' && !values['w1-readers']) P.w1.readers = [500];
  const genProcs = values['gen-procs'] === undefined ? 2 : Number(values['gen-procs']);
  if (!Number.isInteger(genProcs) || genProcs < 0 || genProcs > 16) throw new Error('--gen-procs takes an integer 0…16');
  const servers = (values.servers ? values.servers.split(',').map((s) => s.trim()) : profile ? ['kith'] : [...ALL_SERVERS]) as ServerKind[];
  for (const s of servers) if (!ALL_SERVERS.includes(s)) throw new Error(`unknown server "${s}" (kith, hocuspocus, ywebsocket, ywebsocket3)`);
  const only = new Set((values.only ?? (profile ? 'W1,W3' : 'W1,W2,W3,W4,W5,W6,W7,W8,N1')).toUpperCase().split(','));
  const outDir = path.resolve(values.out ?? path.join(BENCH_DIR, 'results'));
  const base = profile ? 'profile' : mode === 'quick' ? 'quick' : 'latest';
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kith-bench-'));
  const profileDir = profile ? path.join(outDir, 'profiles') : undefined;
  if (profileDir) fs.rmSync(profileDir, { recursive: true, force: true });
  const cacheDir = path.join(BENCH_DIR, '.cache');
  const t0 = performance.now();
  const meta: RunMeta = {
    mode,
    startedAt: new Date().toISOString(),
    wallSeconds: 0,
    node: process.version,
    cpu: cpuModel(),
    cores: os.cpus().length,
    memGiB: os.totalmem() / 2 ** 30,
    loadAvgStart: os.loadavg(),
    loadAvgEnd: [],
    git: `${git(['rev-parse', '--short', 'HEAD']) || 'unknown'}${git(['status', '--porcelain']) ? ' (uncommitted changes)' : ''}; kith-server build: ${build}`,
    versions: versions(),
    servers,
    substitutions: [
      `Hocuspocus ${versions()['@hocuspocus/server']} declares engines node ≥ 22; it runs here unmodified on Node ${process.version} (the repo's .npmrc has engine-strict=false), so no older Hocuspocus was substituted. @hocuspocus/common resolved to ${versions()['@hocuspocus/common']} (the server's ^4.7.0 range). Hocuspocus clients use its framing (a document-name prefix on every frame and an Auth frame first); it runs with the SQLite extension on a file and every other option at its default.`,
      'The y-websocket reference server is y-websocket@2.1.0\'s stock bin/server.cjs (setupWSConnection from bin/utils.cjs) without persistence, with the ws version that package resolves to.',
      ...(profile ? ['PROFILE RUN: Kith runs under node --cpu-prof (and a heap snapshot is taken in W3); its figures carry the profiler\'s overhead.'] : []),
    ],
    argv: process.argv.slice(2),
  };
  log(`kith bench (${mode}${profile ? ', profile' : ''}): servers ${servers.join(', ')}; workloads ${[...only].join(', ')}; data in ${runDir}`);
  for (const k of servers) log(`  ${SERVER_LABEL[k]}`);

  const workloads: WorkloadResult[] = [];
  const run = async (id: string, title: string, fn: () => Promise<WorkloadResult>) => {
    log(`${id}: ${title}`);
    const started = performance.now();
    try {
      const r = await fn();
      workloads.push(r);
      log(`${id}: done in ${((performance.now() - started) / 1000).toFixed(0)} s`);
    } catch (err) {
      log(`${id}: FAILED: ${(err as Error).stack ?? String(err)}`);
      workloads.push({ id, title, description: '', params: {}, columns: [], servers: {}, notes: [], error: (err as Error).message });
    }
  };

  let turn = 0;
  const w1S = (r: number) => (r === 500 ? P.w1.durationS : P.w1.curveS);
  const w1 = (r: number, procs: number, id: string, prof: string | undefined) =>
    runFanout(
      {
        id,
        title: `W1 fan-out, R = ${r}`,
        description: `One room: 1 writer + ${r} readers; the writer sends a small edit every 50 ms. ${w1S(r)} s of edits per server, in ${P.w1.slices} slices rotating between the servers.`,
        rooms: 1,
        clientsPerRoom: r + 1,
        writers: 'first',
        editsPerSecondPerRoom: 20,
        durationS: w1S(r),
        slices: P.w1.slices,
        warmupS: P.w1.warmupS,
        targets: mode === 'full' ? W1_TARGETS(r) : [{ key: 'lost', op: '==', value: 0, label: '0 lost' }],
        cpuProfileDir: prof,
        genProcs: procs,
      },
      rotate(servers, turn++),
      runDir,
      log,
    );
  if (values['gen-check']) {
    const r = Math.max(...P.w1.readers);
    const procs = [1, 2, 4];
    const runs: WorkloadResult[] = [];
    for (const n of procs) {
      const id = `W1-R${r}-gen${n}`;
      await run(id, `W1 fan-out, R = ${r}, ${n} generator process${n > 1 ? 'es' : ''}`, () => w1(r, n, id, undefined));
      runs.push(workloads.at(-1)!);
    }
    workloads.push(genCheckResult(procs, runs, r));
    for (const [k, f] of Object.entries(workloads.at(-1)!.servers)) log(`  gen check ${k}: p99 still improves from 2 to 4 processes: ${f.stillImproves}`);
  } else if (only.has('W1')) {
    for (const r of P.w1.readers) {
      const prof = profileDir && (r === Math.max(...P.w1.readers)) ? profileDir : undefined;
      await run(`W1-R${r}`, `W1 fan-out, R = ${r}`, () => w1(r, genProcs, `W1-R${r}`, prof));
    }
  }
  if (only.has('W2')) {
    for (const n of P.w2.rooms) {
      const id = `W2-N${n}`;
      const dur = n === 500 ? P.w2.durationS : P.w2.curveS;
      await run(id, `W2 many rooms, ${n} rooms`, () =>
        runFanout(
          {
            id,
            title: `W2 many rooms, ${n} rooms`,
            description: `${n} rooms × ${P.w2.clientsPerRoom} clients; one edit per room per second (the room's clients take turns writing), spread evenly over the second. ${dur} s per server, in ${P.w2.slices} slices rotating between the servers.`,
            rooms: n,
            clientsPerRoom: P.w2.clientsPerRoom,
            writers: 'rotate',
            editsPerSecondPerRoom: 1,
            durationS: dur,
            slices: P.w2.slices,
            warmupS: P.w2.warmupS,
            targets: mode === 'full' && n === 500 ? W2_TARGETS : [{ key: 'lost', op: '==', value: 0, label: '0 lost' }],
            cpuProfileDir: n === 500 ? profileDir : undefined,
            genProcs,
          },
          rotate(servers, turn++),
          runDir,
          log,
        ),
      );
    }
  }
  if (only.has('W3')) {
    await run('W3', 'W3 idle sockets', () =>
      runIdle(
        {
          ...P.w3,
          targets: mode === 'full' ? W3_TARGETS : W3_TARGETS,
          cpuProfileDir: profileDir,
          heapSnapshotDir: profileDir,
        },
        rotate(servers, turn++),
        runDir,
        log,
      ),
    );
  }
  if (only.has('W4')) {
    await run('W4', 'W4 cold room', () =>
      runCold({ ...P.w4, cacheDir, targets: W4_TARGETS }, rotate(servers, turn++), runDir, log),
    );
  }
  if (only.has('W5') && servers.includes('kith')) {
    await run('W5', 'W5 durable writes (Kith)', () =>
      runDurable({ ...P.w5, p99LimitMs: 50, cpuProfileDir: profile ? profileDir : undefined }, runDir, log),
    );
  }

  if (only.has('W6')) {
    await run('W6', 'W6 presence storm', () =>
      runPresence({ ...P.w6, genProcs: Math.max(2, genProcs), targets: mode === 'full' ? W6_TARGETS : [{ key: 'lost', op: '==', value: 0, label: '0 lost' }], cpuProfileDir: profileDir }, rotate(servers, turn++), runDir, log),
    );
  }
  if (only.has('W7') && servers.includes('kith')) {
    await run('W7', 'W7 many rooms over time (Kith)', () => runManyRooms({ ...P.w7, cacheDir, targets: W7_TARGETS }, runDir, log));
  }
  if (only.has('W8') && servers.includes('kith')) {
    await run('W8', 'W8 CalDAV (Kith and Radicale)', () => runCaldav({ ...P.w8, targets: W8_TARGETS }, runDir, log));
  }

  if (only.has('N1')) {
    await run('N1', 'N1 reminder scheduler (Kith)', () => runScheduler({ ...P.n1 }));
  }

  meta.wallSeconds = (performance.now() - t0) / 1000;
  meta.loadAvgEnd = os.loadavg();
  const results: BenchResults = { meta, workloads };
  fs.mkdirSync(outDir, { recursive: true });
  // ${base}.svg: the cost curves (W1 and W2 at several loads); ${base}-latency.svg: latency percentiles per workload.
  const curves = collectCurves(workloads);
  const curvesName = curves.length ? `${base}.svg` : undefined;
  if (curvesName) fs.writeFileSync(path.join(outDir, curvesName), renderCurvesSvg(curves, SERVER_COLORS, SERVER_LABEL));
  const chartName = `${base}-latency.svg`;
  fs.writeFileSync(path.join(outDir, chartName), renderChart(workloads));
  let md = renderMarkdown(results, chartName, curvesName);
  if (profileDir && fs.existsSync(profileDir)) md += '\n' + profileSection(profileDir, P.w3.rooms * P.w3.socketsPerRoom, log);
  fs.writeFileSync(path.join(outDir, `${base}.md`), md);
  fs.writeFileSync(path.join(outDir, `${base}.json`), JSON.stringify(results, (_k, v) => (v === Infinity ? 'timeout' : v), 2) + '\n');
  log(`wrote ${path.join(outDir, base)}.{md,json,svg} in ${(meta.wallSeconds / 60).toFixed(1)} min`);
  if (values.keep) log(`server data kept in ${runDir}`);
  else fs.rmSync(runDir, { recursive: true, force: true });
  const failed = workloads.filter((w) => w.error);
  if (failed.length) {
    log(`${failed.length} workload(s) failed: ${failed.map((w) => w.id).join(', ')}`);
    process.exitCode = 1;
  }
}

function profileSection(dir: string, sockets: number, log: (s: string) => void): string {
  const out = [
    '# Kith profiles',
    '',
    'CPU: self time per function from `node --cpu-prof` (sampled on wall-clock time, so time blocked in a synchronous call such as an fsync inside better-sqlite3 counts for that call), over the measured window of the workload (warm-up, start-up and room creation left out). Heap: self size by constructor, what the W3 sockets added (end snapshot minus baseline snapshot).',
    '',
  ];
  const files = fs.readdirSync(dir).sort();
  for (const f of files.filter((x) => x.endsWith('.cpuprofile'))) {
    const file = path.join(dir, f);
    try {
      const window = readWindow(file);
      out.push(renderCpuSummary(`CPU: ${f}`, summarizeCpuProfileFile(file, 25, window), window));
    } catch (err) {
      log(`could not summarize ${f}: ${(err as Error).message}`);
    }
  }
  const base = path.join(dir, 'W3-baseline.heapsnapshot');
  const end = path.join(dir, 'W3-end.heapsnapshot');
  if (fs.existsSync(base) && fs.existsSync(end)) {
    try {
      const a = summarizeHeapSnapshotFile(base, 30);
      const b = summarizeHeapSnapshotFile(end, 30);
      out.push(renderHeapSummary(`Heap added by ${sockets} idle sockets (W3 end − baseline)`, diffHeap(a, b, 30), sockets));
      out.push(`Baseline JS heap before any socket: ${(a.totalBytes / 2 ** 20).toFixed(1)} MB in ${a.nodes.toLocaleString('en-US')} objects.`, '');
    } catch (err) {
      log(`could not summarize the heap snapshots: ${(err as Error).message}`);
    }
  }
  return out.join('\n');
}

main().catch((err) => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
