/**
 * Runs ICS imports in worker threads, each with a deadline and a memory cap, a few at a time.
 * An import is untrusted work of unknown cost (a crafted 376-byte file once made ical.js expand
 * a SECONDLY zone rule until the process died): in a worker it can neither block the event loop
 * nor take the server's memory; past its limit it is terminated and answered with a clear error.
 */
import type { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { Limits } from '../config/config.js';
import { KithError, type ErrorCode } from '../errors/catalogue.js';
import { runInWorker } from '../util/worker-run.js';
import { workerScript } from '../util/worker-script.js';
import type { ImportResult } from './ics-import.js';

export interface ImportJob {
  body: string;
  /** The room's document as one Yjs update. */
  state: Uint8Array;
  actor: string;
}

export type WorkerAnswer =
  | { ok: true; result: ImportResult; updates: Uint8Array[] }
  | { ok: false; code: ErrorCode; message: string; detail?: string };

type ImportLimits = Pick<Limits, 'importTimeoutMs' | 'importMemoryMb' | 'importWorkers' | 'importQueue'>;

export class ImportRunner {
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  private readonly workers = new Set<Worker>();
  private closed = false;

  constructor(
    private readonly limits: ImportLimits,
    private readonly logger: Logger,
  ) {}

  /** Runs one import; rejects with a KithError (IMPORT_BUSY, IMPORT_TIME_LIMIT, …) on refusal. */
  async run(job: ImportJob): Promise<{ result: ImportResult; updates: Uint8Array[] }> {
    if (this.closed) throw new KithError('SHUTTING_DOWN');
    if (this.running >= this.limits.importWorkers) {
      if (this.waiting.length >= this.limits.importQueue) {
        throw new KithError(
          'IMPORT_BUSY',
          `${this.running} imports are running and ${this.waiting.length} waiting (--import-workers ${this.limits.importWorkers}, --import-queue ${this.limits.importQueue}); try again shortly.`,
          { 'retry-after': '5' },
        );
      }
      // A finishing import hands its slot over directly, so no newcomer can slip in between.
      await new Promise<void>((resolve) => this.waiting.push(resolve));
      if (this.closed) throw new KithError('SHUTTING_DOWN');
    } else {
      this.running++;
    }
    try {
      const answer = await this.inWorker(job);
      if (!answer.ok) {
        if (answer.detail) this.logger.error({ detail: answer.detail }, 'ICS import failed in its worker');
        throw new KithError(answer.code, answer.message);
      }
      return { result: answer.result, updates: answer.updates };
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const wake of this.waiting.splice(0)) wake();
    await Promise.all([...this.workers].map((w) => w.terminate()));
  }

  private async inWorker(job: ImportJob): Promise<WorkerAnswer> {
    const { importTimeoutMs, importMemoryMb } = this.limits;
    const script = workerScript(import.meta.url, './import-worker.js', '../../dist/calendar/import-worker.js');
    const outcome = await runInWorker<WorkerAnswer>(script, job, { timeoutMs: importTimeoutMs, memoryMb: importMemoryMb }, this.workers);
    switch (outcome.kind) {
      case 'answer':
        return outcome.answer;
      case 'time-limit':
        throw new KithError('IMPORT_TIME_LIMIT', `The import was stopped after ${importTimeoutMs} ms (--import-timeout-ms); split the file or simplify its time zones.`);
      case 'memory-limit':
        throw new KithError('IMPORT_MEMORY_LIMIT', `The import needed more than ${importMemoryMb} MiB (--import-memory-mb) and was stopped; split the file.`);
      case 'crashed':
        this.logger.error({ err: outcome.err }, 'ICS import worker crashed');
        throw new KithError('INTERNAL');
      case 'exited':
        throw this.closed ? new KithError('SHUTTING_DOWN') : new KithError('INTERNAL');
    }
  }
}
