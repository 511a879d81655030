import type { Logger } from 'pino';
import type { Metrics } from '../ops/metrics.js';
import type { Storage, StoredDoc } from '../storage/storage.js';
import { KithError } from '../errors/catalogue.js';
import type { PresenceLimits } from './awareness-guard.js';
import { Room, type CommitScheduler } from './room.js';

/**
 * A room is loaded without building its document (see Room.loadStoredLazily) when its snapshot
 * has a stored state vector and at most this many log entries follow it: a fresh client is then
 * sent each of them as a frame.
 */
const LAZY_MAX_LOG_ENTRIES = 256;

/**
 * The rooms in memory. Loads are deduplicated; a load that fails is forgotten and refused (never
 * served as an empty document); rooms with no socket unload after a grace period.
 */
export class RoomRegistry {
  readonly rooms = new Map<string, Room>();
  private readonly loading = new Map<string, Promise<Room>>();

  constructor(
    private readonly storage: Storage,
    private readonly scheduler: CommitScheduler,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
    private readonly unloadGraceMs: number,
    private readonly presenceLimits: PresenceLimits,
    /** Told when a room enters and leaves memory (e.g. to follow it across instances). */
    private readonly lifecycle: { loaded(room: Room): void; unloaded(room: Room): void } = {
      loaded: () => undefined,
      unloaded: () => undefined,
    },
  ) {}

  /** Returns the loaded room with a hold on it (released by `release` or by adding a connection). */
  async acquire(roomId: string): Promise<Room> {
    const room = this.rooms.get(roomId) ?? (await this.load(roomId));
    room.holds += 1;
    this.cancelUnload(room);
    return room;
  }

  release(room: Room): void {
    room.holds = Math.max(0, room.holds - 1);
    this.maybeScheduleUnload(room);
  }

  /** Called whenever a room may have become idle. */
  maybeScheduleUnload(room: Room): void {
    if (!room.idle || room.unloadTimer || this.rooms.get(room.roomId) !== room) return;
    room.unloadTimer = setTimeout(() => {
      room.unloadTimer = undefined;
      if (!room.idle) return;
      if (room.hasUnstoredWork) {
        this.maybeScheduleUnload(room);
        return;
      }
      this.unload(room);
    }, this.unloadGraceMs);
  }

  cancelUnload(room: Room): void {
    if (room.unloadTimer) clearTimeout(room.unloadTimer);
    room.unloadTimer = undefined;
  }

  /**
   * Drops the room from memory at once (its sockets must already be closed or closing); whoever
   * waits for its pending edits gets `err`.
   */
  unload(room: Room, err?: Error): void {
    if (this.rooms.get(room.roomId) === room) {
      this.rooms.delete(room.roomId);
      this.lifecycle.unloaded(room);
    }
    room.destroy(err);
    this.metrics.roomsLoaded.set(this.rooms.size);
    this.logger.debug({ roomId: room.roomId }, 'room unloaded');
  }

  private load(roomId: string): Promise<Room> {
    let p = this.loading.get(roomId);
    if (p) return p;
    p = (async () => {
      const started = performance.now();
      let room: Room | undefined;
      try {
        const stored = await this.storage.docs.load(roomId);
        checkComplete(stored);
        const updates = stored.updates.map((u) => u.data);
        const logBytes = stored.updates.reduce((n, u) => n + u.data.byteLength, 0);
        room = new Room(
          roomId,
          {
            bytes: logBytes + (stored.snapshot?.byteLength ?? 0),
            logBytes,
            logCount: stored.updates.length,
          },
          this.scheduler,
          this.presenceLimits,
        );
        const headSeq = stored.updates.at(-1)?.seq ?? stored.snapshotSeq;
        const lazy =
          stored.snapshot !== null &&
          stored.snapshotStateVector !== null &&
          updates.length <= LAZY_MAX_LOG_ENTRIES &&
          room.loadStoredLazily(stored.snapshot, stored.snapshotStateVector, updates, headSeq);
        if (!lazy) room.loadStored(stored.snapshot ? [stored.snapshot, ...updates] : updates, headSeq);
      } catch (err) {
        room?.destroy();
        this.logger.error({ err, roomId }, 'room failed to load; refusing its connections');
        throw new KithError('ROOM_UNAVAILABLE');
      } finally {
        this.loading.delete(roomId);
      }
      this.rooms.set(roomId, room);
      this.lifecycle.loaded(room);
      this.metrics.roomsLoaded.set(this.rooms.size);
      this.metrics.roomLoadSeconds.observe((performance.now() - started) / 1000);
      this.logger.debug({ roomId, ms: performance.now() - started }, 'room loaded');
      return room;
    })();
    this.loading.set(roomId, p);
    return p;
  }
}

/**
 * Throws when the rows loaded do not add up to the stored head: a position skipped, or a head
 * beyond the last position read. Rows are then missing (a partial restore, a hand-edited
 * database), and serving what is left would show clients a room without them, as if synced.
 */
export function checkComplete(stored: StoredDoc): void {
  let through = stored.snapshotSeq;
  for (const u of stored.updates) {
    if (u.seq !== through + 1) {
      throw new Error(`stored room data is incomplete: log position ${through + 1} is missing (next found: ${u.seq})`);
    }
    through = u.seq;
  }
  if (through !== stored.head) {
    throw new Error(
      `stored room data is incomplete: its head is ${stored.head} but the snapshot and log reach only position ${through}`,
    );
  }
}
