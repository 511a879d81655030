/**
 * Reads rooms for the notification module's looks (a room's due reminders, a member's day for the
 * agenda, and change notices' first picture of a big room, from bytes they took: `readState`)
 * where it costs the event loop least. A room not in memory is loaded from its stored bytes
 * first, and for a room of thousands of events that is megabytes of Yjs decoding — a quarter to half
 * a second on the event loop at 5,000 events — each time one of its reminders falls due or a
 * member's agenda is made while nobody has it open. A room in memory needs no load, but its look
 * still expands its events: with a client holding a dense room (a tenth of its events unended weekly
 * series) open, a due look held the loop 49 ms at 500 events, 60–73 ms at 1,500 and 103–167 ms at
 * 5,000. So every room of more than OFF_LOOP_BYTES stored is read in a worker thread from its stored
 * bytes, one at a time. The bytes are read off the loop too (`loadOffLoop`: SQLite's reader thread)
 * and moved to the worker, not copied: at 5,000 events (3.1 MB) the loop's longest wait during a
 * read went from 17–34 ms (the read on the main connection) to 8–23 ms. Smaller rooms, most of
 * them, are read in process, where a look costs a few milliseconds.
 * A room's stored bytes hold everything its sockets were told (an update reaches another client
 * only once stored), and an edit not yet stored brings its own look once it is. Either way the
 * answer is computed by the same function, `lookAt`.
 */
import type { Storage } from '../storage/storage.js';
import type { RoomApi } from '../sync/room-api.js';
import { completeUpdates } from '../storage/stored-doc.js';
import { WorkerSlots, type WorkerLimits } from '../util/worker-run.js';
import { workerScript } from '../util/worker-script.js';
import { lookAt, type LookQuery, type LookResults } from './look-at.js';
import type { NotifyMetrics } from './metrics.js';

/**
 * Stored bytes above which a room is read in a worker: about 400 events, whose load took 20–100 ms
 * (a family's year, ~300 events, stays in process).
 */
export const OFF_LOOP_BYTES = 256 * 1024;

/** A read's limits in its worker: far above a 5,000-event room's (about 0.5 s). */
export const ROOM_READ_LIMITS: WorkerLimits = { timeoutMs: 60_000, memoryMb: 1024 };

export interface RoomReadJob {
  /** The room's stored bytes in order: its snapshot, if any, then its log (see storedUpdates). */
  stored: Uint8Array[];
  query: LookQuery;
}

export type RoomReadAnswer = { ok: true; result: unknown } | { ok: false; detail: string };

export class RoomReader {
  private readonly slots = new WorkerSlots({ size: 1 });

  constructor(
    private readonly deps: { rooms: RoomApi; storage: Storage; metrics: NotifyMetrics },
    private readonly options: { offLoopBytes: number; limits: WorkerLimits } = { offLoopBytes: OFF_LOOP_BYTES, limits: ROOM_READ_LIMITS },
  ) {}

  /** `lookAt(the room as stored, query)`; rejects when the room cannot be read (the caller tries again later). */
  async read<Q extends LookQuery>(roomId: string, query: Q): Promise<LookResults[Q['kind']]> {
    const { rooms, metrics } = this.deps;
    if (this.readsOffLoop(await this.storedBytes(roomId))) {
      metrics.roomReads.inc({ for: query.kind, where: 'worker' });
      const stored = completeUpdates(await this.deps.storage.docs.loadOffLoop(roomId));
      return (await this.inWorker(stored, query)) as LookResults[Q['kind']];
    }
    metrics.roomReads.inc({ for: query.kind, where: 'loop' });
    // A room loaded only for this read leaves memory with it (a start-up pass reads every room).
    return rooms.read(roomId, (doc) => lookAt(doc, query), { transient: true });
  }

  /** Whether a room of `bytes` stored is read in the worker. */
  readsOffLoop(bytes: number): boolean {
    return bytes > this.options.offLoopBytes;
  }

  /** `lookAt(the room in state, query)`, in the worker: for a state taken from memory (change notices' picture of a big room). */
  async readState<Q extends LookQuery>(state: Uint8Array, query: Q): Promise<LookResults[Q['kind']]> {
    this.deps.metrics.roomReads.inc({ for: query.kind, where: 'worker' });
    return (await this.inWorker([state], query)) as LookResults[Q['kind']];
  }

  close(): Promise<void> {
    return this.slots.close();
  }

  /** A loaded room's size is known without a query (a busy room is looked at every few seconds). */
  private async storedBytes(roomId: string): Promise<number> {
    const known = this.deps.rooms.storedBytes(roomId);
    if (known !== undefined) return known;
    const stats = await this.deps.storage.docs.stats(roomId);
    return stats.snapshotBytes + stats.logBytes;
  }

  private async inWorker(stored: Uint8Array[], query: LookQuery): Promise<unknown> {
    const job: RoomReadJob = { stored, query };
    const script = workerScript(import.meta.url, './room-read-worker.js', '../../dist/notify/room-read-worker.js');
    const outcome = await this.slots.run<RoomReadAnswer>(script, job, this.options.limits, job.stored);
    if (outcome.kind === 'answer' && outcome.answer.ok) return outcome.answer.result;
    const why = outcome.kind === 'answer' ? 'failed' : outcome.kind;
    const detail = outcome.kind === 'answer' && !outcome.answer.ok ? outcome.answer.detail : outcome.kind === 'crashed' ? outcome.err.message : undefined;
    throw new Error(`the room read's worker ${why}${detail === undefined ? '' : `: ${detail}`}`);
  }
}
