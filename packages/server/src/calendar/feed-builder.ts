/**
 * Builds ICS feeds in worker threads, one at a time, each with a deadline and a memory cap: a
 * 5,000-event room's feed is about 2 s of CPU (ical-generator and zone work), which on the event
 * loop stalled every other room for as long, and a room near --max-room-bytes could take the
 * server's memory. The worker gets the room's stored bytes: the event loop neither loads the room
 * nor encodes it.
 */
import type { Logger } from 'pino';
import { KithError } from '../errors/catalogue.js';
import { WorkerSlots, type WorkerLimits } from '../util/worker-run.js';
import { workerScript } from '../util/worker-script.js';
import type { StoredDoc } from '../storage/storage.js';
import { servableUpdates } from '../storage/stored-doc.js';
import type { BuiltFeed } from './feed-cache.js';

export interface FeedJob {
  roomId: string;
  name: string;
  /** The room's stored bytes in order: its snapshot, if any, then its log (see storedUpdates). */
  stored: Uint8Array[];
  /** Also answer the whole document as JSON text (documentJson), from the same bytes. */
  withDocument?: boolean;
}

/** A build's answer: the feed, and the document's JSON text when the job asked for it. */
export type Built = Omit<BuiltFeed, 'etag'> & { document?: string };

export type FeedAnswer = ({ ok: true } & Built) | { ok: false; detail: string };

/** A build's limits: far above a 5,000-event room's (about 2 s, and a few hundred MB at most). */
export const FEED_BUILD_LIMITS: WorkerLimits = { timeoutMs: 120_000, memoryMb: 1024 };

export class FeedBuilder {
  /** One build at a time; the others wait (feeds: at most one per room, as FeedCache shares a room's build). */
  private readonly slots = new WorkerSlots({ size: 1 });

  constructor(
    private readonly logger: Logger,
    private readonly limits: WorkerLimits = FEED_BUILD_LIMITS,
  ) {}

  /**
   * Builds the feed of a room from its stored bytes (`storage.docs.load`), and its document's JSON
   * with `withDocument`; rejects with ROOM_UNAVAILABLE (logged) when rows are missing or its worker
   * fails or hits a limit. The stored bytes are moved to the worker: `room.stored`'s arrays are
   * empty afterwards.
   */
  async build(room: { roomId: string; name: string; stored: StoredDoc }, opts: { withDocument?: boolean } = {}): Promise<Built> {
    const stored = servableUpdates(room.stored, room.roomId, this.logger, 'ICS feed build refused: the room’s stored data is incomplete');
    return this.inWorker({ roomId: room.roomId, name: room.name, stored, withDocument: opts.withDocument === true });
  }

  close(): Promise<void> {
    return this.slots.close();
  }

  private async inWorker(job: FeedJob): Promise<Built> {
    const script = workerScript(import.meta.url, './feed-worker.js', '../../dist/calendar/feed-worker.js');
    const outcome = await this.slots.run<FeedAnswer>(script, job, this.limits, job.stored);
    if (outcome.kind === 'answer' && outcome.answer.ok) {
      const { ok: _ok, ...built } = outcome.answer;
      return built;
    }
    if (outcome.kind === 'exited' && this.slots.closed) throw new KithError('SHUTTING_DOWN');
    const why = outcome.kind === 'answer' ? 'failed' : outcome.kind;
    this.logger.error(
      { roomId: job.roomId, why, ...(outcome.kind === 'answer' && !outcome.answer.ok ? { detail: outcome.answer.detail } : {}), ...(outcome.kind === 'crashed' ? { err: outcome.err } : {}) },
      'ICS feed build failed',
    );
    throw new KithError('ROOM_UNAVAILABLE', 'The calendar feed could not be built; try again later.');
  }
}
