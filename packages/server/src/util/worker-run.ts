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
 * Runs one job in a fresh worker thread with a memory cap and a deadline, and terminates the worker
 * at its first answer or its deadline: for work of unknown cost that must neither block the event
 * loop nor take the server's memory. The worker is in `running` meanwhile (to terminate at shutdown).
 */
export function runInWorker<A>(script: URL, job: unknown, limits: WorkerLimits, running: Set<Worker>): Promise<WorkerOutcome<A>> {
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
    worker.postMessage(job);
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

  async run<A>(script: URL, job: unknown, limits: WorkerLimits): Promise<WorkerOutcome<A>> {
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
      return await runInWorker<A>(script, job, limits, this.workers);
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
