/**
 * Reads a room's reminders for a look (remindersOf) where it costs the event loop least. A room
 * whose document is in memory is read there: nothing to load. Any other room is loaded from its
 * stored bytes first, and for a room of thousands of events that is megabytes of Yjs decoding — a
 * quarter to half a second on the event loop at 5,000 events, on top of its expansion — each time
 * one of its reminders falls due while nobody has it open. Such rooms (stored bytes over
 * OFF_LOOP_BYTES) are read in a worker thread from their stored bytes, one look at a time; small
 * rooms, most of them, are read in process, where a look costs a few milliseconds and a worker's
 * start-up would cost more.
 */
import type { Storage } from '../storage/storage.js';
import type { RoomApi } from '../sync/room-api.js';
import { checkComplete, storedUpdates } from '../sync/room-registry.js';
import { WorkerSlots, type WorkerLimits } from '../util/worker-run.js';
import { workerScript } from '../util/worker-script.js';
import type { NotifyMetrics } from './metrics.js';
import { remindersOf, type DueReminder } from './reminders.js';

/**
 * Stored bytes above which a room not in memory is read in a worker: about 400 events, whose load
 * took 20–100 ms (a family's year, ~300 events, stays in process).
 */
export const OFF_LOOP_BYTES = 256 * 1024;

/** A look's limits in its worker: far above a 5,000-event room's (about 0.5 s). */
export const LOOK_LIMITS: WorkerLimits = { timeoutMs: 60_000, memoryMb: 1024 };

export interface LookJob {
  /** The room's stored bytes in order: its snapshot, if any, then its log (see storedUpdates). */
  stored: Uint8Array[];
  members: string[];
  startsAfter: number;
  dueBy: number;
}

export type LookAnswer = { ok: true; reminders: DueReminder[] } | { ok: false; detail: string };

export class ReminderReader {
  private readonly slots = new WorkerSlots({ size: 1 });

  constructor(
    private readonly deps: { rooms: RoomApi; storage: Storage; metrics: NotifyMetrics },
    private readonly options: { offLoopBytes: number; limits: WorkerLimits } = { offLoopBytes: OFF_LOOP_BYTES, limits: LOOK_LIMITS },
  ) {}

  /** remindersOf(the room as stored, …); rejects when the room cannot be read (the scheduler looks again later). */
  async read(roomId: string, members: string[], startsAfter: number, dueBy: number): Promise<DueReminder[]> {
    const { rooms, storage } = this.deps;
    if (!rooms.isBuilt(roomId)) {
      const stats = await storage.docs.stats(roomId);
      if (stats.snapshotBytes + stats.logBytes > this.options.offLoopBytes) {
        this.deps.metrics.looks.inc({ where: 'worker' });
        return this.inWorker(roomId, members, startsAfter, dueBy);
      }
    }
    this.deps.metrics.looks.inc({ where: 'loop' });
    // A room loaded only for this look leaves memory with it (a start-up pass reads every room).
    return rooms.read(roomId, (doc) => remindersOf(doc, members, startsAfter, dueBy), { transient: true });
  }

  close(): Promise<void> {
    return this.slots.close();
  }

  private async inWorker(roomId: string, members: string[], startsAfter: number, dueBy: number): Promise<DueReminder[]> {
    const stored = await this.deps.storage.docs.load(roomId);
    checkComplete(stored);
    const job: LookJob = { stored: storedUpdates(stored), members, startsAfter, dueBy };
    const script = workerScript(import.meta.url, './look-worker.js', '../../dist/notify/look-worker.js');
    const outcome = await this.slots.run<LookAnswer>(script, job, this.options.limits);
    if (outcome.kind === 'answer' && outcome.answer.ok) return outcome.answer.reminders;
    const why = outcome.kind === 'answer' ? 'failed' : outcome.kind;
    const detail = outcome.kind === 'answer' && !outcome.answer.ok ? outcome.answer.detail : outcome.kind === 'crashed' ? outcome.err.message : undefined;
    throw new Error(`the reminder look's worker ${why}${detail === undefined ? '' : `: ${detail}`}`);
  }
}
