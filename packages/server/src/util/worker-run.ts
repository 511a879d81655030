import { Worker } from 'node:worker_threads';

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
