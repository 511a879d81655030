/**
 * Spreads reader sockets over N forked worker processes (gen-worker.ts), so one process's read loop
 * does not limit or distort fan-out latencies and the generator's CPU can be measured apart from the
 * servers'. Writers stay in the bench process; readers' deliveries come back as (edit id, latency).
 */
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchEpochNs } from './clock.js';
import { readProc } from './proc.js';

export interface ReaderSpec {
  id: number;
  url: string;
  prefix: number[];
  authToken?: string;
  /** W6: clients that send presence as well as read it. `group` tells the servers apart, `index` is the client's place in its room (0…N-1). */
  presence?: { group: number; index: number };
}

/**
 * W6: every presence client of `group` sends `rounds` awareness updates at `hz`; the one of round k
 * from client `index` carries edit id `base + k * total + index` and its send time.
 */
export interface PresenceSlice {
  group: number;
  base: number;
  total: number;
  hz: number;
  rounds: number;
}

export type WorkerCommand =
  | { type: 'connect'; seq: number; clients: ReaderSpec[] }
  | { type: 'count-closed'; seq: number }
  | ({ type: 'presence'; seq: number } & PresenceSlice)
  | { type: 'close'; seq: number };

export type WorkerReport =
  | { type: 'deliveries'; ids: number[]; lat: number[] }
  | { type: 'connected'; seq: number; closed: number }
  | { type: 'error'; seq: number; message: string };

const WORKER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'gen-worker.js');

export class GeneratorPool {
  private readonly workers: ChildProcess[] = [];
  private readonly waiters = new Map<number, { resolve: (closed: number) => void; reject: (e: Error) => void }>();
  private seq = 0;
  private next = 0;

  /** `onDelivery(editId, latencyMs)` for every marker a worker's reader received. */
  constructor(
    readonly size: number,
    onDelivery: (editId: number, latencyMs: number) => void,
  ) {
    for (let i = 0; i < size; i++) {
      const w = fork(WORKER, [], {
        env: { ...process.env, KITH_BENCH_EPOCH_NS: String(benchEpochNs()) },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      w.on('message', (msg: WorkerReport) => {
        if (msg.type === 'deliveries') {
          for (let k = 0; k < msg.ids.length; k++) onDelivery(msg.ids[k]!, msg.lat[k]!);
          return;
        }
        const waiter = this.waiters.get(msg.seq);
        if (!waiter) return;
        this.waiters.delete(msg.seq);
        if (msg.type === 'error') waiter.reject(new Error(`generator worker: ${msg.message}`));
        else waiter.resolve(msg.closed);
      });
      w.on('exit', (code) => {
        if (code !== 0) for (const wt of this.waiters.values()) wt.reject(new Error(`generator worker exited with ${code}`));
      });
      this.workers.push(w);
    }
  }

  private call(w: ChildProcess, cmd: WorkerCommand extends infer T ? (T extends WorkerCommand ? Omit<T, 'seq'> : never) : never): Promise<number> {
    const seq = ++this.seq;
    return new Promise((resolve, reject) => {
      this.waiters.set(seq, { resolve, reject });
      w.send({ ...cmd, seq });
    });
  }

  /** Connects readers round-robin over the workers and waits until all are synced. */
  async connect(readers: ReaderSpec[]): Promise<void> {
    const parts: ReaderSpec[][] = this.workers.map(() => []);
    for (const r of readers) parts[this.next++ % this.workers.length]!.push(r);
    await Promise.all(this.workers.map((w, i) => (parts[i]!.length ? this.call(w, { type: 'connect', clients: parts[i]! }) : 0)));
  }

  /** W6: every worker sends its share of one presence slice; resolves when all have sent. */
  async presence(slice: PresenceSlice): Promise<void> {
    await Promise.all(this.workers.map((w) => this.call(w, { type: 'presence', ...slice })));
  }

  async closedSockets(): Promise<number> {
    const n = await Promise.all(this.workers.map((w) => this.call(w, { type: 'count-closed' })));
    return n.reduce((a, b) => a + b, 0);
  }

  /** CPU seconds (user + system) the workers used so far. */
  cpuSeconds(): number {
    return this.workers.reduce((sum, w) => sum + (w.exitCode === null && w.pid ? readProc(w.pid).cpuSeconds : 0), 0);
  }

  async close(): Promise<void> {
    await Promise.all(
      this.workers.map(async (w) => {
        if (w.exitCode !== null) return;
        const exited = new Promise((r) => w.once('exit', r));
        await this.call(w, { type: 'close' }).catch(() => undefined);
        const t = setTimeout(() => w.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(t);
      }),
    );
  }
}
