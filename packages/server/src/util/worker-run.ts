import { Worker } from 'node:worker_threads';
import { KithError } from '../errors/catalogue.js';

/** How a worker job ended: its answer, or why there is none. */
export type WorkerOutcome<A> =
  | { kind: 'answer'; answer: A }
  | { kind: 'time-limit' }
  | { kind: 'memory-limit' }
  | { kind: 'crashed'; err: Error }
  | { kind: 'exited' };

export interface WorkerLimits {
  timeoutMs: number;
  memoryMb: number;
}

/**
 * The buffers behind `parts` that can be moved to a worker instead of copied: copying a
 * 10,000-event room's stored bytes (6.2 MB) into a worker's job held the event loop 28–77 ms. Only an
 * array that is its buffer's whole is moved; a view into a bigger buffer (Node's shared Buffer
 * pool, a slice) is copied, since moving it would empty the buffer under its other views. The
 * caller must not read the moved arrays afterwards (they are left empty).
 */
function movableBuffers(parts: Iterable<Uint8Array>): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>();
  for (const p of parts) {
    if (p.buffer instanceof ArrayBuffer && p.byteOffset === 0 && p.byteLength === p.buffer.byteLength && p.byteLength > 0) out.add(p.buffer);
  }
  return [...out];
}

/**
 * Posts `message` to a worker (or from one, to its parent), moving the buffers of `moving`
 * (arrays inside the message) where they can be (see movableBuffers); a buffer Node will not move
 * (one it marks untransferable) makes it a copy.
 */
export function postMoving(port: { postMessage(value: unknown, transfer?: readonly ArrayBuffer[]): void }, message: unknown, moving: Iterable<Uint8Array>): void {
  const transfer = movableBuffers(moving);
  if (transfer.length > 0) {
    try {
      port.postMessage(message, transfer);
      return;
    } catch {
      // Nothing was moved when postMessage throws: copied instead, below.
    }
  }
  port.postMessage(message);
}

/**
 * Runs one job in a fresh worker thread with a memory cap and a deadline, and terminates the worker
 * at its first answer or its deadline: for work of unknown cost that must neither block the event
 * loop nor take the server's memory. The worker is in `running` meanwhile (to terminate at shutdown).
 */
export function runInWorker<A>(script: URL, job: unknown, limits: WorkerLimits, running: Set<Worker>, moving: Iterable<Uint8Array> = []): Promise<WorkerOutcome<A>> {
  const worker = new Worker(script, {
    resourceLimits: { maxOldGenerationSizeMb: limits.memoryMb, maxYoungGenerationSizeMb: Math.min(32, Math.max(4, limits.memoryMb / 8)) },
  });
  running.add(worker);
  return new Promise<WorkerOutcome<A>>((resolve) => {
    let settled = false;
    const settle = (outcome: WorkerOutcome<A>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      running.delete(worker);
      void worker.terminate();
      resolve(outcome);
    };
    const timer = setTimeout(() => settle({ kind: 'time-limit' }), limits.timeoutMs);
    worker.once('message', (answer: A) => settle({ kind: 'answer', answer }));
    worker.once('error', (err: Error & { code?: string }) => settle(err.code === 'ERR_WORKER_OUT_OF_MEMORY' ? { kind: 'memory-limit' } : { kind: 'crashed', err }));
    worker.once('exit', () => settle({ kind: 'exited' }));
    postMoving(worker, job, moving);
  });
}

export interface WorkerSlotOptions {
  /** Jobs running at once (each takes a core and up to its memory cap). */
  size: number;
  /** At most `max` jobs wait; one more is refused with the error `refuse` makes (default: no bound). */
  queue?: { max: number; refuse: (running: number, waiting: number) => KithError };
}

/**
 * Worker jobs (runInWorker) at most `size` at a time, the others waiting in line. A finishing job
 * hands its slot to the first in line, so no newcomer slips in between. Closing refuses new jobs,
 * wakes those waiting (SHUTTING_DOWN) and terminates the running ones (their outcome: `exited`).
 * Shared by the ICS imports, the feed builds and the reminder looks at big rooms.
 */
export class WorkerSlots {
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  private readonly workers = new Set<Worker>();
  private shut = false;

  constructor(private readonly options: WorkerSlotOptions) {}

  get closed(): boolean {
    return this.shut;
  }

  /** Runs `job`, moving the arrays of it named in `moving` to its worker (see postMoving). */
  async run<A>(script: URL, job: unknown, limits: WorkerLimits, moving: Iterable<Uint8Array> = []): Promise<WorkerOutcome<A>> {
    if (this.shut) throw new KithError('SHUTTING_DOWN');
    if (this.running >= this.options.size) {
      const { queue } = this.options;
      if (queue && this.waiting.length >= queue.max) throw queue.refuse(this.running, this.waiting.length);
      await new Promise<void>((resolve) => this.waiting.push(resolve));
      if (this.shut) throw new KithError('SHUTTING_DOWN');
    } else {
      this.running++;
    }
    try {
      return await runInWorker<A>(script, job, limits, this.workers, moving);
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }

  async close(): Promise<void> {
    this.shut = true;
    for (const wake of this.waiting.splice(0)) wake();
    await Promise.all([...this.workers].map((w) => w.terminate()));
  }
}
