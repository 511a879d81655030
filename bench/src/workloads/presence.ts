/**
 * W6 presence storm: N clients in one room, each updating its awareness state (a cursor and a
 * selection, ~300 bytes of JSON) at `hz`, against every server at once, in slices that rotate
 * between the servers as W1's do. Every client sends and reads, so all of them live in the load
 * generator's worker processes (gen-pool): the bench process only hands out edit ids and counts.
 * A delivery is one client's state reaching one other client; the send time rides in the state.
 */
import path from 'node:path';
import { EditLedger } from '../edits.js';
import { DeliveryMeter } from '../load.js';
import { GeneratorPool } from '../gen-pool.js';
import type { ProcSample } from '../proc.js';
import type { Column, Figures, Target, WorkloadResult } from '../result.js';
import { openSession, SERVER_LABEL, sleep, startServer, type RunningServer, type ServerKind } from '../servers.js';
import { summarize } from '../stats.js';
import type { Logger } from '../log.js';
import { monotonicMicros, writeWindow } from '../profile.js';

export interface PresenceSpec {
  clients: number;
  hz: number;
  /** Measured seconds per server, split into `slices`. */
  durationS: number;
  slices: number;
  warmupS: number;
  genProcs: number;
  targets?: Target[];
  /** Run Kith under --cpu-prof, writing W6-kith.cpuprofile (and its measured window) here. */
  cpuProfileDir?: string;
}

interface ServerState {
  kind: ServerKind;
  series: number;
  server: RunningServer;
  before?: ProcSample;
  after?: ProcSample;
  genCpu: number;
  edits: Array<[number, number]>;
}

const COLUMNS: Column[] = [
  { key: 'deliveries', label: 'deliveries', format: 'int' },
  { key: 'lost', label: 'lost', format: 'int', better: 'lower' },
  { key: 'p50', label: 'p50 ms', format: 'ms', better: 'lower' },
  { key: 'p90', label: 'p90 ms', format: 'ms', better: 'lower' },
  { key: 'p99', label: 'p99 ms', format: 'ms', better: 'lower' },
  { key: 'max', label: 'max ms', format: 'ms', better: 'lower' },
  { key: 'cpuUsPerDelivery', label: 'CPU µs/delivery', format: 'us', better: 'lower' },
  { key: 'cpuPct', label: 'CPU %', format: 'pct', better: 'lower' },
  { key: 'rssMB', label: 'RSS MB', format: 'mb', better: 'lower' },
  { key: 'genCpuUsPerDelivery', label: 'generator CPU µs/delivery', format: 'us' },
];

export async function runPresence(spec: PresenceSpec, servers: readonly ServerKind[], runDir: string, log: Logger): Promise<WorkloadResult> {
  const started = performance.now();
  const N = spec.clients;
  const roundsPerS = spec.hz;
  const perServer = Math.ceil((spec.durationS + spec.warmupS + 1) * roundsPerS) * N + N;
  const ledger = new EditLedger(perServer * servers.length + 16);
  const meter = new DeliveryMeter(ledger, servers.length);
  const pool = new GeneratorPool(Math.max(1, spec.genProcs), (id, ms) => meter.record(id, ms));
  const ownCpu = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  };
  const genCpu = () => ownCpu() + pool.cpuSeconds();
  const states: ServerState[] = [];
  const notes: string[] = [];
  let clientIds = 0;
  try {
    for (const [series, kind] of servers.entries()) {
      const server = await startServer(kind, {
        dir: path.join(runDir, `W6-${kind}`),
        cpuProfile: spec.cpuProfileDir && kind === 'kith' ? { dir: spec.cpuProfileDir, name: 'W6-kith.cpuprofile' } : undefined,
      });
      const session = await openSession(server);
      const [room] = await session.rooms(1, 'W6');
      const specs = Array.from({ length: N }, (_, index) => ({
        id: clientIds++,
        url: server.socketUrl(room!, session.token),
        prefix: [...server.framePrefix(room!)],
        authToken: server.authFrame ? 'bench' : undefined,
        presence: { group: series, index },
      }));
      await pool.connect(specs);
      states.push({ kind, series, server, genCpu: 0, edits: [] });
      log(`  ${SERVER_LABEL[kind]}: ${N} presence clients synced (pid ${server.pid})`);
    }

    /** One slice of `seconds` for one server: ids reserved here, sent by the workers, then drained. */
    const slice = async (st: ServerState, seconds: number, series: number): Promise<[number, number]> => {
      const rounds = Math.max(1, Math.round(seconds * roundsPerS));
      const base = ledger.count;
      for (let k = 0; k < rounds; k++) for (let i = 0; i < N; i++) ledger.add(-1, N - 1, series);
      await pool.presence({ group: st.series, base, total: N, hz: spec.hz, rounds });
      for (let id = base; id < ledger.count; id++) ledger.sentAt[id] = 0;
      await meter.drain(base, ledger.count, 3000);
      return [base, ledger.count];
    };

    for (const st of states) await slice(st, spec.warmupS, 255);
    await sleep(500);
    for (const st of states) st.before = st.server.proc();
    const windowStart = monotonicMicros();
    const sliceS = spec.durationS / spec.slices;
    for (let round = 0; round < spec.slices; round++) {
      for (let i = 0; i < states.length; i++) {
        const st = states[(i + round) % states.length]!;
        const g0 = genCpu();
        st.edits.push(await slice(st, sliceS, st.series));
        st.genCpu += genCpu() - g0;
      }
      log(`  slice round ${round + 1}/${spec.slices} done`);
    }
    await sleep(1000);
    for (const st of states) st.after = st.server.proc();
    if (spec.cpuProfileDir) writeWindow(spec.cpuProfileDir, 'W6-kith.cpuprofile', { startUs: windowStart, endUs: monotonicMicros() });

    const figures: Partial<Record<ServerKind, Figures>> = {};
    const curves: Partial<Record<ServerKind, number[]>> = {};
    for (const st of states) {
      const tally = ledger.tally((id) => st.edits.some(([a, b]) => id >= a && id < b));
      const lat = summarize(meter.series[st.series]!);
      const cpu = st.after!.cpuSeconds - st.before!.cpuSeconds;
      figures[st.kind] = {
        updates: tally.sent,
        deliveries: tally.received,
        expected: tally.expected,
        lost: tally.lost,
        duplicates: tally.duplicates,
        p50: lat.p50,
        p90: lat.p90,
        p99: lat.p99,
        max: lat.max,
        mean: lat.mean,
        cpuSeconds: cpu,
        cpuUsPerDelivery: tally.received ? (cpu / tally.received) * 1e6 : null,
        cpuPct: (cpu / spec.durationS) * 100,
        rssMB: st.after!.rssBytes / 2 ** 20,
        genCpuUsPerDelivery: tally.received ? (st.genCpu / tally.received) * 1e6 : null,
      };
      curves[st.kind] = lat.curve;
      if (tally.duplicates > 0) notes.push(`${SERVER_LABEL[st.kind]}: ${tally.duplicates} duplicate deliveries.`);
    }
    const closed = await pool.closedSockets();
    if (closed > 0) notes.push(`${closed} presence sockets were closed during the run.`);
    notes.push(
      `Every client sends and reads; all ${N} per server live in ${Math.max(1, spec.genProcs)} load-generator worker processes. A delivery is one client's state reaching one other client (its own echo is not counted); latency = receipt − the send time carried in the state. A server that merges several changes into one message (Kith, once per 4 ms tick) delivers each client's latest state: at ${spec.hz} Hz per client no state is superseded within a tick. "Lost" counts every state a client never saw, including one that a newer state of the same client replaced before it went out (a server that falls more than ${(1000 / spec.hz).toFixed(0)} ms behind and merges, as y-protocols allows, shows those here), and every state not in within 3 s of its slice's last send (a server that saturates shows those here).`,
      'CPU is the server process\'s utime+stime from after the warm-up until 1 s after its last slice, over every delivery; generator CPU is the bench process and its workers during that server\'s slices.',
    );
    return {
      id: 'W6',
      title: `W6 presence storm, ${N} clients`,
      description: `One room, ${N} clients, each updating its awareness state (cursor and selection) ${spec.hz}× a second; ${spec.durationS} s per server in ${spec.slices} slices rotating between the servers, after ${spec.warmupS} s of warm-up.`,
      params: { clients: N, hz: spec.hz, durationS: spec.durationS, slices: spec.slices, warmupS: spec.warmupS, genProcs: Math.max(1, spec.genProcs) },
      columns: COLUMNS,
      servers: figures,
      curves,
      targets: spec.targets,
      notes,
      wallSeconds: (performance.now() - started) / 1000,
    };
  } finally {
    await pool.close();
    await Promise.all(states.map((st) => st.server.stop()));
  }
}
