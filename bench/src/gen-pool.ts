/**
 * Spreads client sockets over N forked worker processes (gen-worker.ts), so one process's read loop
 * (or its open-file limit) does not limit or distort the measurement and the generator's CPU can be
 * measured apart from the servers'. W1's writers stay in the bench process; W2's clients, which all
 * write in turn, live in the workers and send the edits the bench process plans for them.
 * Deliveries come back as (edit id, latency).
 */
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchEpochNs, benchNowMs } from './clock.js';
import { readProc } from './proc.js';

export interface ReaderSpec {
  id: number;
  url: string;
  prefix: number[];
  authToken?: string;
  /** W6: clients that send presence as well as read it. `group` tells the servers apart, `index` is the client's place in its room (0…N-1). */
  presence?: { group: number; index: number };
  /** W2: the client also writes edits (to this key of the shared map), when a plan names it. */
  writerKey?: string;
}

/**
 * W2: one worker's share of a slice: edit `editIds[k]` is written by client `clientIds[k]`
 * `offsetsMs[k]` after the slice starts (offsets do not decrease).
 */
export interface EditPlan {
  clientIds: number[];
  editIds: number[];
  offsetsMs: number[];
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
  /** Prepares the planned edits' frames ahead of the send, so the schedule carries only sends. */
  | ({ type: 'plan'; seq: number } & EditPlan)
  /** Sends the prepared plan, starting at `startAtMs` on the shared bench clock. */
  | { type: 'send'; seq: number; startAtMs: number }
  | { type: 'close'; seq: number };

export type WorkerReport =
  | { type: 'deliveries'; ids: number[]; lat: number[] }
  | { type: 'connected'; seq: number; closed: number }
  /** A plan was sent: each edit's id and send time (bench clock, ms). */
  | { type: 'sent'; seq: number; editIds: number[]; sentAtMs: number[] }
  | { type: 'error'; seq: number; message: string };

type Reply = Exclude<WorkerReport, { type: 'deliveries' } | { type: 'error' }>;

const WORKER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'gen-worker.js');

export class GeneratorPool {
  private readonly workers: ChildProcess[] = [];
  private readonly waiters = new Map<number, { resolve: (reply: Reply) => void; reject: (e: Error) => void }>();
  /** Which worker holds each client (by client id). */
  private readonly home = new Map<number, number>();
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
        else waiter.resolve(msg);
      });
      w.on('exit', (code) => {
        if (code !== 0) for (const wt of this.waiters.values()) wt.reject(new Error(`generator worker exited with ${code}`));
      });
      this.workers.push(w);
    }
  }

  private call(w: ChildProcess, cmd: WorkerCommand extends infer T ? (T extends WorkerCommand ? Omit<T, 'seq'> : never) : never): Promise<Reply> {
    const seq = ++this.seq;
    return new Promise((resolve, reject) => {
      this.waiters.set(seq, { resolve, reject });
      w.send({ ...cmd, seq });
    });
  }

  /** Connects clients round-robin over the workers and waits until all are synced. */
  async connect(clients: ReaderSpec[]): Promise<void> {
    const parts: ReaderSpec[][] = this.workers.map(() => []);
    for (const c of clients) {
      const i = this.next++ % this.workers.length;
      parts[i]!.push(c);
      this.home.set(c.id, i);
    }
    await Promise.all(this.workers.map((w, i) => (parts[i]!.length ? this.call(w, { type: 'connect', clients: parts[i]! }) : 0)));
  }

  /**
   * W2: every worker writes its clients' share of the slice, from one start time a little ahead
   * (after every worker has prepared its frames). Resolves with each edit's send time (bench clock, ms).
   */
  async sendEdits(plan: EditPlan): Promise<Map<number, number>> {
    const parts: EditPlan[] = this.workers.map(() => ({ clientIds: [], editIds: [], offsetsMs: [] }));
    plan.clientIds.forEach((clientId, k) => {
      const i = this.home.get(clientId);
      if (i === undefined) throw new Error(`client ${clientId} is not in a generator worker`);
      const part = parts[i]!;
      part.clientIds.push(clientId);
      part.editIds.push(plan.editIds[k]!);
      part.offsetsMs.push(plan.offsetsMs[k]!);
    });
    const busy = this.workers.filter((_, i) => parts[i]!.clientIds.length > 0);
    await Promise.all(this.workers.map((w, i) => (parts[i]!.clientIds.length ? this.call(w, { type: 'plan', ...parts[i]! }) : 0)));
    const startAtMs = benchNowMs() + 20;
    const replies = await Promise.all(busy.map((w) => this.call(w, { type: 'send', startAtMs })));
    const sentAt = new Map<number, number>();
    for (const r of replies) if (r.type === 'sent') r.editIds.forEach((id, k) => sentAt.set(id, r.sentAtMs[k]!));
    return sentAt;
  }

  /** W6: every worker sends its share of one presence slice; resolves when all have sent. */
  async presence(slice: PresenceSlice): Promise<void> {
    await Promise.all(this.workers.map((w) => this.call(w, { type: 'presence', ...slice })));
  }

  async closedSockets(): Promise<number> {
    const replies = await Promise.all(this.workers.map((w) => this.call(w, { type: 'count-closed' })));
    return replies.reduce((a, r) => a + (r.type === 'connected' ? r.closed : 0), 0);
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
