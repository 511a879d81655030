import { Worker } from 'node:worker_threads';
import { postMoving } from './worker-run.js';

/** What a job thread's script posts back for job `id`: its answer, or why there is none. */
export type JobReply<A> = { id: number; answer: A } | { id: number; error: string; code?: string };

type Pending<A> = { resolve: (answer: A) => void; reject: (err: Error) => void };

/**
 * A long-lived worker thread answering numbered jobs, for work frequent enough that a thread per
 * job would cost more than the job (compaction merges, SQLite reads). Started at the first job; it
 * keeps the process alive only while a job is in flight, and is stopped after `idleMs` without
 * one, so an idle server holds no thread. A thread that dies fails the jobs it had; the next job
 * starts another. Its script answers `{ id, ...job }` with a JobReply.
 */
export class JobThread<A> {
  private worker: Worker | undefined;
  private readonly jobs = new Map<number, Pending<A>>();
  private nextId = 1;
  private idleTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly script: URL,
    private readonly options: { name: string; workerData?: unknown; idleMs?: number; onCrash?: (err: Error) => void },
  ) {}

  /** Runs `job` on the thread, moving the arrays named in `moving` (see postMoving). */
  run(job: object, moving: Iterable<Uint8Array> = []): Promise<A> {
    if (this.closed) return Promise.reject(new Error(`${this.options.name} is closed`));
    const worker = this.ensureWorker();
    const id = this.nextId++;
    return new Promise<A>((resolve, reject) => {
      this.jobs.set(id, { resolve, reject });
      worker.ref();
      postMoving(worker, { ...job, id }, moving);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.fail(new Error(`${this.options.name} is closed`));
    await this.stop();
  }

  private ensureWorker(): Worker {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    if (this.worker) return this.worker;
    const worker = new Worker(this.script, { workerData: this.options.workerData });
    worker.unref();
    worker.on('message', (reply: JobReply<A>) => {
      const job = this.jobs.get(reply.id);
      if (!job) return;
      this.jobs.delete(reply.id);
      if ('answer' in reply) job.resolve(reply.answer);
      else job.reject(Object.assign(new Error(reply.error), reply.code ? { code: reply.code } : {}));
      if (this.jobs.size === 0) {
        worker.unref();
        this.idleTimer = setTimeout(() => void this.stop(), this.options.idleMs ?? 10_000);
        this.idleTimer.unref();
      }
    });
    const lost = (err: Error) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      this.options.onCrash?.(err);
      this.fail(err);
    };
    worker.on('error', lost);
    worker.on('exit', (code) => lost(new Error(`the ${this.options.name} thread exited with code ${code}`)));
    this.worker = worker;
    return worker;
  }

  /** Terminates the thread (its exit is then no failure: jobs after this go to a new one). */
  private async stop(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    if (worker) await worker.terminate();
  }

  private fail(err: Error): void {
    for (const job of this.jobs.values()) job.reject(err);
    this.jobs.clear();
  }
}
