/**
 * Runs ICS imports in worker threads, each with a deadline and a memory cap, a few at a time
 * (--import-workers, with at most --import-queue waiting: WorkerSlots).
 * An import is untrusted work of unknown cost (a crafted 376-byte file once made ical.js expand
 * a SECONDLY zone rule until the process died): in a worker it can neither block the event loop
 * nor take the server's memory; past its limit it is terminated and answered with a clear error.
 */
import type { Logger } from 'pino';
import type { Limits } from '../config/config.js';
import { KithError, type ErrorCode } from '../errors/catalogue.js';
import { WorkerSlots } from '../util/worker-run.js';
import { workerScript } from '../util/worker-script.js';
import type { ImportResult } from './ics-import.js';

export interface ImportJob {
  body: string;
  /** The room's stored bytes in order: its snapshot, if any, then its log (see storedUpdates). */
  stored: Uint8Array[];
  actor: string;
}

export type WorkerAnswer =
  | { ok: true; result: ImportResult; updates: Uint8Array[] }
  | { ok: false; code: ErrorCode; message: string; detail?: string };

type ImportLimits = Pick<Limits, 'importTimeoutMs' | 'importMemoryMb' | 'importWorkers' | 'importQueue'>;

export class ImportRunner {
  private readonly slots: WorkerSlots;

  constructor(
    private readonly limits: ImportLimits,
    private readonly logger: Logger,
  ) {
    this.slots = new WorkerSlots({
      size: limits.importWorkers,
      queue: {
        max: limits.importQueue,
        refuse: (running, waiting) =>
          new KithError(
            'IMPORT_BUSY',
            `${running} imports are running and ${waiting} waiting (--import-workers ${limits.importWorkers}, --import-queue ${limits.importQueue}); try again shortly.`,
            { 'retry-after': '5' },
          ),
      },
    });
  }

  /** Runs one import (`job.stored` is moved to its worker); rejects with a KithError (IMPORT_BUSY, IMPORT_TIME_LIMIT, …) on refusal. */
  async run(job: ImportJob): Promise<{ result: ImportResult; updates: Uint8Array[] }> {
    const answer = await this.inWorker(job);
    if (!answer.ok) {
      if (answer.detail) this.logger.error({ detail: answer.detail }, 'ICS import failed in its worker');
      throw new KithError(answer.code, answer.message);
    }
    return { result: answer.result, updates: answer.updates };
  }

  close(): Promise<void> {
    return this.slots.close();
  }

  private async inWorker(job: ImportJob): Promise<WorkerAnswer> {
    const { importTimeoutMs, importMemoryMb } = this.limits;
    const script = workerScript(import.meta.url, './import-worker.js', '../../dist/calendar/import-worker.js');
    const outcome = await this.slots.run<WorkerAnswer>(script, job, { timeoutMs: importTimeoutMs, memoryMb: importMemoryMb }, job.stored);
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
        throw this.slots.closed ? new KithError('SHUTTING_DOWN') : new KithError('INTERNAL');
    }
  }
}
