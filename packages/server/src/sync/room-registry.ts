import type { Logger } from 'pino';
import * as Y from 'yjs';
import type { Metrics } from '../ops/metrics.js';
import type { Storage } from '../storage/storage.js';
import { checkComplete, storedUpdates } from '../storage/stored-doc.js';
import { KithError } from '../errors/catalogue.js';
import type { PresenceLimits } from './awareness-guard.js';
import { Room, type CommitScheduler, type RoomPeer } from './room.js';
import { StructBudget } from './struct-budget.js';

/**
 * A room is loaded without building its document (see Room.loadStoredLazily) when its snapshot
 * has a stored state vector (or it has no snapshot yet) and at most this many log entries follow
 * it: a fresh client is then sent each of them as a frame.
 */
const LAZY_MAX_LOG_ENTRIES = 256;

/** An empty document as an update, and its state vector: where a room that was never compacted starts. */
const EMPTY_SNAPSHOT = Y.encodeStateAsUpdate(new Y.Doc());
const EMPTY_STATE_VECTOR = Y.encodeStateVector(new Map());

/**
 * The rooms in memory. Loads are deduplicated; a load that fails is forgotten and refused (never
 * served as an empty document); rooms with no socket unload after a grace period, or at once when
 * they were only read from their stored bytes (see peerLeft).
 */
export class RoomRegistry<P extends RoomPeer = RoomPeer> {
  readonly rooms = new Map<string, Room<P>>();
  private readonly loading = new Map<string, Promise<Room<P>>>();
  /** Rooms dropped with a commit in flight: the commit, which a new load of the room waits for. */
  private readonly landing = new Map<string, Promise<void>>();
  /** Idle rooms waiting out their grace period before they unload. */
  private readonly unloadTimers = new Map<Room<P>, NodeJS.Timeout>();
  /** Structs every loaded room's document holds, against the process's budget (struct-budget.ts). */
  private structBudget: StructBudget | undefined;

  get structs(): StructBudget {
    return (this.structBudget ??= new StructBudget(this.presenceLimits.maxLoadedStructs, this.presenceLimits.maxRoomStructs));
  }

  constructor(
    private readonly storage: Storage,
    private readonly scheduler: CommitScheduler,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
    private readonly unloadGraceMs: number,
    private readonly presenceLimits: PresenceLimits & { maxRoomStructs?: number; maxLoadedStructs?: number },
    /** Told when a room enters and leaves memory (e.g. to follow it across instances). */
    private readonly lifecycle: { loaded(room: Room<P>): void; unloaded(room: Room<P>): void } = {
      loaded: () => undefined,
      unloaded: () => undefined,
    },
  ) {}

  /** Returns the loaded room with a hold on it (released by `release` or by adding a connection). */
  async acquire(roomId: string): Promise<Room<P>> {
    const room = this.rooms.get(roomId) ?? (await this.load(roomId));
    room.hold();
    this.cancelUnload(room);
    return room;
  }

  release(room: Room<P>): void {
    room.unhold();
    this.maybeScheduleUnload(room);
  }

  /** Releases the hold and, if that left the room idle with everything stored, unloads it now (no grace). */
  releaseAndUnload(room: Room<P>): void {
    room.unhold();
    this.unloadNowOrLater(room, true);
  }

  /**
   * A socket left the room. A room still served from its stored bytes (never built) goes at once
   * when idle: it holds nothing that is not on disk and loads again with a read, while keeping it
   * for the grace would keep its bytes too (rooms opened once and left would pile up in memory).
   * A built room waits out the grace, so that a client reconnecting does not rebuild it.
   */
  peerLeft(room: Room<P>): void {
    this.unloadNowOrLater(room, !room.documentBuilt);
  }

  private unloadNowOrLater(room: Room<P>, now: boolean): void {
    if (now && room.idle && !room.hasUnstoredWork && this.rooms.get(room.roomId) === room) this.unload(room);
    else this.maybeScheduleUnload(room);
  }

  /** Called whenever a room may have become idle. */
  private maybeScheduleUnload(room: Room<P>): void {
    if (!room.idle || this.unloadTimers.has(room) || this.rooms.get(room.roomId) !== room) return;
    const timer = setTimeout(() => {
      this.unloadTimers.delete(room);
      if (!room.idle) return;
      if (room.hasUnstoredWork) {
        this.maybeScheduleUnload(room);
        return;
      }
      this.unload(room);
    }, this.unloadGraceMs);
    this.unloadTimers.set(room, timer);
  }

  cancelUnload(room: Room<P>): void {
    const timer = this.unloadTimers.get(room);
    if (timer === undefined) return;
    clearTimeout(timer);
    this.unloadTimers.delete(room);
  }

  /**
   * Drops the room from memory at once (its sockets must already be closed or closing); whoever
   * waits for its pending edits gets `err`.
   */
  unload(room: Room<P>, err?: Error): void {
    this.cancelUnload(room);
    if (this.rooms.get(room.roomId) === room) {
      this.rooms.delete(room.roomId);
      this.lifecycle.unloaded(room);
    }
    if (room.hasUnstoredWork) {
      // Its batch in flight may still land: the next load of the room waits for it (see whenNothingInFlight).
      const settled = room.whenNothingInFlight().finally(() => {
        if (this.landing.get(room.roomId) === settled) this.landing.delete(room.roomId);
      });
      this.landing.set(room.roomId, settled);
    }
    room.destroy(err);
    this.metrics.roomsLoaded.set(this.rooms.size);
    this.logger.debug({ roomId: room.roomId }, 'room unloaded');
  }

  /**
   * The in-memory document cannot be trusted (Yjs threw mid-update, or a commit failed). What is
   * on disk is intact, so the room is dropped from memory; its clients reconnect and load it again,
   * and resend anything of theirs that was not stored.
   */
  reloadBroken(room: Room<P>, code: 'ROOM_UNAVAILABLE' | 'STORAGE_UNAVAILABLE' = 'ROOM_UNAVAILABLE'): void {
    this.logger.warn({ roomId: room.roomId, code }, 'room state untrusted; reloading it from storage');
    for (const peer of [...room.peers]) peer.close(code);
    this.unload(room, new KithError(code));
  }

  /** After an error: a room whose stored data failed to apply is logged and dropped (503 until it loads). */
  dropIfBroken(room: Room<P>, err: unknown): void {
    if (!room.broken || this.rooms.get(room.roomId) !== room) return;
    const cause = (err as { cause?: unknown } | null)?.cause ?? err;
    this.logger.error({ err: cause, roomId: room.roomId }, 'stored room data failed to apply; refusing the room');
    this.reloadBroken(room);
  }

  private load(roomId: string): Promise<Room<P>> {
    let p = this.loading.get(roomId);
    if (p) return p;
    p = (async () => {
      const started = performance.now();
      let room: Room<P> | undefined;
      try {
        await this.landing.get(roomId);
        const stored = await this.storage.docs.load(roomId);
        checkComplete(stored);
        const updates = stored.updates.map((u) => u.data);
        const logBytes = stored.updates.reduce((n, u) => n + u.data.byteLength, 0);
        room = new Room<P>(
          roomId,
          {
            bytes: logBytes + (stored.snapshot?.byteLength ?? 0),
            logBytes,
            logCount: stored.updates.length,
          },
          this.scheduler,
          this.presenceLimits,
          this.structs,
        );
        const headSeq = stored.updates.at(-1)?.seq ?? stored.snapshotSeq;
        // A room never compacted (no snapshot) is its log alone: lazily, that is an empty snapshot and the log after it.
        const [base, baseStateVector] =
          stored.snapshot === null ? [EMPTY_SNAPSHOT, EMPTY_STATE_VECTOR] : [stored.snapshot, stored.snapshotStateVector];
        const lazy =
          baseStateVector !== null &&
          updates.length <= LAZY_MAX_LOG_ENTRIES &&
          room.loadStoredLazily(base, baseStateVector, updates, headSeq);
        if (!lazy) room.loadStored(storedUpdates(stored), headSeq);
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
