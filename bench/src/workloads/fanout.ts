/**
 * W1 (fan-out) and W2 (many rooms). All servers run at once, each with its own clients connected
 * and synced; the measured edits are then sent in short slices that rotate between the servers
 * (K H Y, H Y K, Y K H, ...), so that whatever else the machine is doing hits every server alike.
 */
import path from 'node:path';
import { connectMany, SyncClient } from '../client.js';
import { EditLedger, EditWriter, nowMicros, stamp } from '../edits.js';
import { DeliveryMeter, runSchedule } from '../load.js';
import { GeneratorPool } from '../gen-pool.js';
import { clkTck, openFileLimits, type ProcSample } from '../proc.js';
import type { Column, Figures, Target, WorkloadResult } from '../result.js';
import { openSession, SERVER_LABEL, sleep, startServer, type RunningServer, type ServerKind } from '../servers.js';
import { summarize } from '../stats.js';
import type { Logger } from '../log.js';
import { monotonicMicros, writeWindow } from '../profile.js';

export interface FanoutSpec {
  id: string;
  title: string;
  description: string;
  rooms: number;
  clientsPerRoom: number;
  /** W1: client 0 of each room writes, the others read. W2: the room's clients take turns. */
  writers: 'first' | 'rotate';
  editsPerSecondPerRoom: number;
  /** Measured time per server, seconds (split into `slices`). */
  durationS: number;
  slices: number;
  warmupS: number;
  targets?: Target[];
  cpuProfileDir?: string;
  /**
   * Worker processes of the load generator: 0 keeps every client in the bench process; N ≥ 1 forks N
   * workers that hold the readers (W1; its writers stay here) or every client (W2, whose clients all
   * write in turn), so the generator is not the bottleneck. More are forked when the sockets would
   * not fit in N processes' open-file limits (see generatorProcesses).
   */
  genProcs?: number;
}

/**
 * How many generator worker processes hold `workerSockets` sockets (over every server) when `asked`
 * are wanted: at least enough that none holds more than half its open-file limit (the rest is left
 * for the process's other files and for headroom). 0 stays 0 while the bench process can hold all.
 */
export function generatorProcesses(asked: number, workerSockets: number, benchSockets: number, softLimit: number): number {
  const perProcess = Math.max(1, Math.floor(softLimit / 2));
  if (asked === 0 && workerSockets + benchSockets <= perProcess) return 0;
  return Math.max(asked, 1, Math.ceil(workerSockets / perProcess));
}

interface ServerState {
  kind: ServerKind;
  series: number;
  server: RunningServer;
  roomNames: string[];
  /** Each room's client ids, in order (client 0 writes in W1; W2's take turns). */
  clientIds: number[][];
  /** The clients held by the bench process (the rest are in the generator's workers). */
  local: Map<number, SyncClient>;
  /** Devices making the edits of the bench process's own writers. */
  writers: Map<number, EditWriter>;
  nextWrite: number[];
  before?: ProcSample;
  after?: ProcSample;
  activeCpu: number;
  activeMs: number;
  /** The load generator's CPU (bench process + reader workers) during this server's slices. */
  genCpu: number;
  firstEdit: number;
  edits: number[];
}

const COLUMNS: Column[] = [
  { key: 'deliveries', label: 'deliveries', format: 'int' },
  { key: 'lost', label: 'lost', format: 'int', better: 'lower' },
  { key: 'p50', label: 'p50 ms', format: 'ms', better: 'lower' },
  { key: 'p90', label: 'p90 ms', format: 'ms', better: 'lower' },
  { key: 'p99', label: 'p99 ms', format: 'ms', better: 'lower' },
  { key: 'max', label: 'max ms', format: 'ms', better: 'lower' },
  { key: 'cpuUsPerDelivery', label: 'CPU µs/delivery', format: 'us', better: 'lower' },
  // The split shows how much of a delivery is the kernel's (socket writes), which no server code avoids.
  { key: 'userUsPerDelivery', label: 'user µs/delivery', format: 'us', better: 'lower' },
  { key: 'kernelUsPerDelivery', label: 'kernel µs/delivery', format: 'us', better: 'lower' },
  { key: 'cpuSecPer1k', label: 'CPU s/1k deliveries', format: 's', better: 'lower' },
  { key: 'cpuPct', label: 'CPU %', format: 'pct', better: 'lower' },
  { key: 'rssMB', label: 'RSS MB', format: 'mb', better: 'lower' },
  { key: 'genCpuUsPerWrite', label: 'generator CPU µs/write', format: 'us' },
];

/** CPU seconds of this process (all threads). */
const ownCpuSeconds = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

export async function runFanout(spec: FanoutSpec, servers: readonly ServerKind[], runDir: string, log: Logger): Promise<WorkloadResult> {
  const started = performance.now();
  const perServerEdits = Math.ceil((spec.durationS + spec.warmupS + 1) * spec.editsPerSecondPerRoom * spec.rooms) + spec.rooms;
  const ledger = new EditLedger(perServerEdits * servers.length + 16);
  const meter = new DeliveryMeter(ledger, servers.length);
  const states: ServerState[] = [];
  let clientIds = 0;
  const notes: string[] = [];
  const oneWriter = spec.writers === 'first';
  const socketsPerServer = spec.rooms * spec.clientsPerRoom;
  const asked = Math.max(0, spec.genProcs ?? 0);
  // Node raises its soft limit to the hard one at start-up, so this is what every process here gets.
  const limit = openFileLimits().soft;
  if (socketsPerServer + 256 > limit) {
    throw new Error(
      `${socketsPerServer} sockets in each server need more open files than this machine's limit (${limit}); raise the hard limit (ulimit -Hn) to run this point`,
    );
  }
  // With workers, W1's writers stay here and its readers go; W2's clients all go.
  const genProcs = generatorProcesses(
    asked,
    (oneWriter ? socketsPerServer - spec.rooms : socketsPerServer) * servers.length,
    oneWriter ? spec.rooms * servers.length : 0,
    limit,
  );
  if (genProcs > asked) notes.push(`${genProcs} generator processes instead of ${asked}: each holds at most half its open-file limit (${limit}).`);
  const pool = genProcs > 0 ? new GeneratorPool(genProcs, (id, ms) => meter.record(id, ms)) : undefined;
  const genCpu = (): number => ownCpuSeconds() + (pool?.cpuSeconds() ?? 0);
  try {
    // Start every server and connect its clients.
    for (const [series, kind] of servers.entries()) {
      const server = await startServer(kind, {
        dir: path.join(runDir, `${spec.id}-${kind}`),
        cpuProfile: spec.cpuProfileDir && kind === 'kith' ? { dir: spec.cpuProfileDir, name: `${spec.id}-kith.cpuprofile` } : undefined,
      });
      const session = await openSession(server);
      const roomNames = await session.rooms(spec.rooms, spec.id);
      const st: ServerState = {
        kind,
        series,
        server,
        roomNames,
        clientIds: [],
        local: new Map(),
        writers: new Map(),
        nextWrite: new Array(spec.rooms).fill(0),
        activeCpu: 0,
        activeMs: 0,
        genCpu: 0,
        firstEdit: -1,
        edits: [],
      };
      states.push(st);
      const total = socketsPerServer;
      // Client i is in room i % rooms; room r's clients are r, r + rooms, r + 2·rooms, … (client 0 first).
      const specs = Array.from({ length: total }, (_, i) => {
        const room = roomNames[i % spec.rooms]!;
        const writes = oneWriter ? i < spec.rooms : true;
        return { id: clientIds++, url: server.socketUrl(room, session.token), prefix: server.framePrefix(room), authToken: server.authFrame ? 'bench' : undefined, writes, slot: Math.floor(i / spec.rooms) };
      });
      for (let r = 0; r < spec.rooms; r++) st.clientIds.push([]);
      specs.forEach((c, i) => st.clientIds[i % spec.rooms]!.push(c.id));
      const here = pool ? (oneWriter ? specs.slice(0, spec.rooms) : []) : specs;
      const there = pool ? (oneWriter ? specs.slice(spec.rooms) : specs) : [];
      const opened = await connectMany(here.length, (i) => new SyncClient(here[i]!, meter.sink));
      opened.forEach((c, i) => {
        st.local.set(c.id, c);
        if (here[i]!.writes) st.writers.set(c.id, new EditWriter(c.prefix, `w${here[i]!.slot}`));
      });
      if (pool) await pool.connect(there.map(({ id, url, prefix, authToken, writes, slot }) => ({ id, url, prefix: [...prefix], authToken, writerKey: writes ? `w${slot}` : undefined })));
      log(`  ${SERVER_LABEL[kind]}: ${total} clients synced (pid ${server.pid})`);
    }

    const sendSlice = async (st: ServerState, seconds: number, series: number): Promise<{ from: number; to: number; ms: number }> => {
      const perRoom = Math.round(seconds * spec.editsPerSecondPerRoom);
      const n = perRoom * spec.rooms;
      const from = ledger.count;
      // Edit k: round j = floor(k / rooms) of room i = k % rooms, due at (j + i / rooms) / rate.
      const offsetMs = (k: number): number => ((Math.floor(k / spec.rooms) + (k % spec.rooms) / spec.rooms) / spec.editsPerSecondPerRoom) * 1000;
      const writerIds = new Array<number>(n);
      for (let k = 0; k < n; k++) {
        const room = k % spec.rooms;
        const slot = oneWriter ? 0 : st.nextWrite[room]!++ % spec.clientsPerRoom;
        writerIds[k] = st.clientIds[room]![slot]!;
      }
      const editIds = writerIds.map((clientId) => ledger.add(clientId, spec.clientsPerRoom - 1, series));
      const started = performance.now();
      if (!st.local.has(writerIds[0]!)) {
        // The writers live in the generator's workers (W2): they send; we learn the send times.
        const sentAt = await pool!.sendEdits({ clientIds: writerIds, editIds, offsetsMs: editIds.map((_, k) => offsetMs(k)) });
        for (const [id, at] of sentAt) ledger.sentAt[id] = at;
        return { from, to: ledger.count, ms: performance.now() - started };
      }
      const prepared = writerIds.map((clientId, k) => ({ client: st.local.get(clientId)!, edit: st.writers.get(clientId)!.prepare(editIds[k]!) }));
      const ms = await runSchedule(n, offsetMs, (k) => {
        const p = prepared[k]!;
        const t = nowMicros();
        stamp(p.edit, t);
        ledger.sentAt[p.edit.editId] = t / 1000;
        p.client.send(p.edit.frame);
      });
      return { from, to: ledger.count, ms };
    };

    // Warm-up (not measured): lets each server's JIT and allocator settle.
    for (const st of states) {
      const w = await sendSlice(st, spec.warmupS, 255);
      await meter.drain(w.from, w.to, 2000);
    }
    await sleep(500);
    for (const st of states) st.before = st.server.proc();
    const windowStart = monotonicMicros();

    const sliceS = spec.durationS / spec.slices;
    for (let round = 0; round < spec.slices; round++) {
      const order = states.map((_, i) => states[(i + round) % states.length]!);
      for (const st of order) {
        const p0 = st.server.proc();
        const g0 = genCpu();
        const s = await sendSlice(st, sliceS, st.series);
        await meter.drain(s.from, s.to, 2000);
        const p1 = st.server.proc();
        st.genCpu += genCpu() - g0;
        st.activeCpu += p1.cpuSeconds - p0.cpuSeconds;
        st.activeMs += p1.at - p0.at;
        for (let id = s.from; id < s.to; id++) st.edits.push(id);
      }
      log(`  slice round ${round + 1}/${spec.slices} done`);
    }
    // Deferred work (e.g. Hocuspocus's debounced store, 2 s after the last change) counts too.
    await sleep(3000);
    for (const st of states) st.after = st.server.proc();
    if (spec.cpuProfileDir) writeWindow(spec.cpuProfileDir, `${spec.id}-kith.cpuprofile`, { startUs: windowStart, endUs: monotonicMicros() });

    const figures: Partial<Record<ServerKind, Figures>> = {};
    const curves: Partial<Record<ServerKind, number[]>> = {};
    for (const st of states) {
      const mine = new Set(st.edits);
      const tally = ledger.tally((id) => mine.has(id));
      const lat = summarize(meter.series[st.series]!);
      const cpu = st.after!.cpuSeconds - st.before!.cpuSeconds;
      const userS = (st.after!.utimeTicks - st.before!.utimeTicks) / clkTck();
      const kernelS = (st.after!.stimeTicks - st.before!.stimeTicks) / clkTck();
      const usPerDelivery = (seconds: number) => (tally.received ? (seconds / tally.received) * 1e6 : null);
      const activeS = (spec.durationS);
      const closed = [...st.local.values()].filter((c) => c.closed).length;
      figures[st.kind] = {
        edits: tally.sent,
        deliveries: tally.received,
        expected: tally.expected,
        lost: tally.lost,
        duplicates: tally.duplicates,
        p50: lat.p50,
        p90: lat.p90,
        p99: lat.p99,
        p999: lat.p999,
        max: lat.max,
        mean: lat.mean,
        cpuSeconds: cpu,
        cpuSecondsActiveSlices: st.activeCpu,
        cpuUsPerDelivery: usPerDelivery(cpu),
        userUsPerDelivery: usPerDelivery(userS),
        kernelUsPerDelivery: usPerDelivery(kernelS),
        cpuSecPer1k: tally.received ? (cpu / tally.received) * 1000 : null,
        cpuPct: (cpu / activeS) * 100,
        rssMB: st.after!.rssBytes / 2 ** 20,
        peakRssMB: st.after!.hwmBytes / 2 ** 20,
        socketsClosed: closed,
        genCpuUsPerWrite: tally.sent ? (st.genCpu / tally.sent) * 1e6 : null,
        genCpuUsPerDelivery: tally.received ? (st.genCpu / tally.received) * 1e6 : null,
      };
      curves[st.kind] = lat.curve;
      if (closed > 0) notes.push(`${SERVER_LABEL[st.kind]}: ${closed} client sockets were closed during the run.`);
      if (tally.duplicates > 0) notes.push(`${SERVER_LABEL[st.kind]}: ${tally.duplicates} duplicate deliveries.`);
    }
    if (pool) {
      const closed = await pool.closedSockets();
      if (closed > 0) notes.push(`${closed} client sockets in the generator's workers were closed during the run.`);
    }
    notes.push(
      `Load generator: ${pool ? (oneWriter ? `writers in the bench process, readers spread over ${genProcs} worker processes` : `every client spread over ${genProcs} worker processes, which send the edits the bench process plans`) : 'every client in the bench process'}; its CPU (bench process + workers, utime+stime) during each server's slices is shown per write. Send and receipt times are on the system-wide monotonic clock (process.hrtime).`,
    );
    notes.push(
      `CPU is the server process's utime+stime (all threads; user and kernel µs/delivery split it) from after the warm-up until 3 s after its last slice (so deferred work such as debounced stores counts); CPU % is that over the ${spec.durationS} s of edits.`,
    );
    return {
      id: spec.id,
      title: spec.title,
      description: spec.description,
      params: {
        rooms: spec.rooms,
        clientsPerRoom: spec.clientsPerRoom,
        writers: spec.writers,
        editsPerSecondPerRoom: spec.editsPerSecondPerRoom,
        durationS: spec.durationS,
        slices: spec.slices,
        warmupS: spec.warmupS,
        genProcs,
      },
      columns: COLUMNS,
      servers: figures,
      curves,
      targets: spec.targets,
      notes,
      wallSeconds: (performance.now() - started) / 1000,
    };
  } finally {
    for (const st of states) {
      for (const c of st.local.values()) c.close();
      for (const w of st.writers.values()) w.destroy();
    }
    await pool?.close();
    await Promise.all(states.map((st) => st.server.stop()));
  }
}
