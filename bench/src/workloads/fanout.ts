/**
 * W1 (fan-out) and W2 (many rooms). All servers run at once, each with its own clients connected
 * and synced; the measured edits are then sent in short slices that rotate between the servers
 * (K H Y, H Y K, Y K H, ...), so that whatever else the machine is doing hits every server alike.
 */
import path from 'node:path';
import { connectMany, SyncClient } from '../client.js';
import { EditLedger, EditWriter, nowMicros, stamp, type PreparedEdit } from '../edits.js';
import { DeliveryMeter, runSchedule } from '../load.js';
import { GeneratorPool } from '../gen-pool.js';
import type { ProcSample } from '../proc.js';
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
   * Reader processes of the load generator: 0 keeps every client in the bench process; N ≥ 1 forks N
   * workers that hold the readers (W1 only: writers: 'first'), so the generator is not the bottleneck.
   */
  genProcs?: number;
}

interface ServerState {
  kind: ServerKind;
  series: number;
  server: RunningServer;
  roomNames: string[];
  clients: SyncClient[][];
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
  const genProcs = spec.writers === 'first' ? Math.max(0, spec.genProcs ?? 0) : 0;
  if ((spec.genProcs ?? 0) > 0 && genProcs === 0) notes.push('Reader workers apply to one-writer rooms (W1) only; every client ran in the bench process.');
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
        clients: [],
        writers: new Map(),
        nextWrite: new Array(spec.rooms).fill(0),
        activeCpu: 0,
        activeMs: 0,
        genCpu: 0,
        firstEdit: -1,
        edits: [],
      };
      states.push(st);
      const total = spec.rooms * spec.clientsPerRoom;
      const spec_ = (i: number) => {
        const room = roomNames[i % spec.rooms]!;
        return { id: clientIds++, url: server.socketUrl(room, session.token), prefix: server.framePrefix(room), authToken: server.authFrame ? 'bench' : undefined };
      };
      for (let r = 0; r < spec.rooms; r++) st.clients.push([]);
      if (pool) {
        // Writers (client 0 of each room) here, readers in the workers.
        const writerSpecs = Array.from({ length: spec.rooms }, (_, i) => spec_(i));
        const readerSpecs = Array.from({ length: total - spec.rooms }, (_, i) => spec_(spec.rooms + i));
        const writers = await connectMany(spec.rooms, (i) => new SyncClient(writerSpecs[i]!, meter.sink));
        writers.forEach((c, i) => st.clients[i]!.push(c));
        await pool.connect(readerSpecs.map((c) => ({ ...c, prefix: [...c.prefix] })));
      } else {
        const flat = await connectMany(total, (i) => new SyncClient(spec_(i), meter.sink));
        flat.forEach((c, i) => st.clients[i % spec.rooms]!.push(c));
      }
      for (let r = 0; r < spec.rooms; r++) {
        const n = spec.writers === 'first' ? 1 : spec.clientsPerRoom;
        for (let w = 0; w < n; w++) {
          const c = st.clients[r]![w]!;
          st.writers.set(c.id, new EditWriter(c.prefix, `w${w}`));
        }
      }
      log(`  ${SERVER_LABEL[kind]}: ${total} clients synced (pid ${server.pid})`);
    }

    const sendSlice = async (st: ServerState, seconds: number, series: number): Promise<{ from: number; to: number; ms: number }> => {
      const perRoom = Math.round(seconds * spec.editsPerSecondPerRoom);
      const n = perRoom * spec.rooms;
      const prepared: Array<{ client: SyncClient; edit: PreparedEdit }> = new Array(n);
      const from = ledger.count;
      // Edit k: round j = floor(k / rooms) of room i = k % rooms, due at (j + i / rooms) / rate.
      for (let k = 0; k < n; k++) {
        const room = k % spec.rooms;
        const roomClients = st.clients[room]!;
        const slot = spec.writers === 'first' ? 0 : st.nextWrite[room]!++ % spec.clientsPerRoom;
        const client = roomClients[slot]!;
        const id = ledger.add(client.id, spec.clientsPerRoom - 1, series);
        prepared[k] = { client, edit: st.writers.get(client.id)!.prepare(id) };
      }
      const ms = await runSchedule(
        n,
        (k) => ((Math.floor(k / spec.rooms) + (k % spec.rooms) / spec.rooms) / spec.editsPerSecondPerRoom) * 1000,
        (k) => {
          const p = prepared[k]!;
          const t = nowMicros();
          stamp(p.edit, t);
          ledger.sentAt[p.edit.editId] = t / 1000;
          p.client.send(p.edit.frame);
        },
      );
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
      const activeS = (spec.durationS);
      const closed = st.clients.flat().filter((c) => c.closed).length;
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
        cpuUsPerDelivery: tally.received ? (cpu / tally.received) * 1e6 : null,
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
      if (closed > 0) notes.push(`${closed} reader sockets in the generator's workers were closed during the run.`);
    }
    notes.push(
      `Load generator: ${pool ? `writers in the bench process, readers spread over ${genProcs} worker processes` : 'every client in the bench process'}; its CPU (bench process + workers, utime+stime) during each server's slices is shown per write. Send and receipt times are on the system-wide monotonic clock (process.hrtime).`,
    );
    notes.push(
      `CPU is the server process's utime+stime (all threads) from after the warm-up until 3 s after its last slice (so deferred work such as debounced stores counts); CPU % is that over the ${spec.durationS} s of edits.`,
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
      for (const c of st.clients.flat()) c.close();
      for (const w of st.writers.values()) w.destroy();
    }
    await pool?.close();
    await Promise.all(states.map((st) => st.server.stop()));
  }
}
