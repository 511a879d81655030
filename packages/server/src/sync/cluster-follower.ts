import type { Logger } from 'pino';
import { LocalFanout, type Fanout } from '../cluster/fanout.js';
import type { Metrics } from '../ops/metrics.js';
import type { Storage } from '../storage/storage.js';
import type { Room, RoomBatch } from './room.js';
import { REMOTE_ORIGIN } from './room-presence.js';
import type { RoomRegistry } from './room-registry.js';

/** One room's catch-up from the log: armed timer, run in progress, another run wanted after it. */
interface CatchUp {
  timer: NodeJS.Timeout | undefined;
  running: boolean;
  again: boolean;
}

/**
 * Keeps loaded rooms level with what other instances store: publishes this instance's commits
 * and presence through the fan-out (Redis), applies theirs, and reads from the log whatever the
 * fan-out missed (a gap in log positions, a fan-out outage, the moment between load and subscribe).
 */
export class ClusterFollower {
  private readonly catchUps = new WeakMap<Room, CatchUp>();
  private readonly pollTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly fanout: Fanout,
    private readonly registry: RoomRegistry,
    private readonly storage: Storage,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
  ) {
    fanout.onResumed(() => {
      for (const room of registry.rooms.values()) this.scheduleCatchUp(room, 0);
    });
    // While fan-out is down, rooms in use poll the log head, so other instances' edits still arrive.
    if (fanout.canFail) {
      this.pollTimer = setInterval(() => void this.pollHeads(), 1000);
      this.pollTimer.unref();
    }
  }

  /** A room entered memory: follow what other instances store in it. */
  follow(room: Room): void {
    this.fanout.joinRoom(room.roomId, {
      onUpdate: (seq, update) => this.onRemoteUpdate(room, seq, update),
      onAwareness: (update) => {
        try {
          room.presence.apply(REMOTE_ORIGIN, update);
        } catch (err) {
          this.logger.warn({ err, roomId: room.roomId }, 'bad awareness update from another instance');
        }
      },
    });
    room.presence.publishLocal((update) => this.fanout.publishAwareness(room.roomId, update));
    // Anything stored between our load and our subscription would otherwise wait for the next gap.
    if (!(this.fanout instanceof LocalFanout)) this.scheduleCatchUp(room, 50, true);
  }

  /** A room left memory: no more fan-out for it, and no catch-up pending. */
  unfollow(room: Room): void {
    this.fanout.leaveRoom(room.roomId);
    const catchUp = this.catchUps.get(room);
    if (catchUp?.timer) clearTimeout(catchUp.timer);
    if (catchUp) catchUp.timer = undefined;
  }

  /** A commit of ours is on disk: other instances get it; a gap it revealed below it is filled. */
  afterCommit(batch: RoomBatch, seq: number): void {
    const room = batch.room;
    this.fanout.publishUpdate(room.roomId, seq, batch.update);
    if (room.position.hasGap) this.scheduleCatchUp(room);
  }

  stopPolling(): void {
    clearInterval(this.pollTimer);
  }

  close(): Promise<void> {
    return this.fanout.close();
  }

  private onRemoteUpdate(room: Room, seq: number, update: Uint8Array): void {
    if (room.broken || this.registry.rooms.get(room.roomId) !== room || room.position.has(seq)) return;
    try {
      // Applied at once even past a gap (Yjs keeps what lacks its dependencies pending); the gap
      // itself is filled from the log.
      room.applyStored([update], seq === room.position.head + 1 ? seq : undefined);
    } catch (err) {
      this.logger.error({ err, roomId: room.roomId }, 'an update from another instance failed to apply');
      this.registry.reloadBroken(room);
      return;
    }
    if (room.position.note(seq)) this.scheduleCatchUp(room);
  }

  /** Reads what this room's document lacks from the log, after a short wait for stragglers. */
  private scheduleCatchUp(room: Room, delayMs = 100, checkHead = false): void {
    let catchUp = this.catchUps.get(room);
    if (!catchUp) this.catchUps.set(room, (catchUp = { timer: undefined, running: false, again: false }));
    if (catchUp.timer) return;
    const state = catchUp;
    state.timer = setTimeout(() => {
      state.timer = undefined;
      void this.catchUp(room, state, checkHead);
    }, delayMs);
    state.timer.unref();
  }

  private async catchUp(room: Room, state: CatchUp, checkHead: boolean): Promise<void> {
    if (state.running) {
      state.again = true;
      return;
    }
    state.running = true;
    try {
      do {
        state.again = false;
        if (checkHead && (await this.storage.docs.head(room.roomId)) <= room.position.head) return;
        const stored = await this.storage.docs.load(room.roomId, room.position.head);
        if (room.broken || this.registry.rooms.get(room.roomId) !== room) return;
        const parts = stored.updates.map((u) => u.data);
        if (stored.snapshot) parts.unshift(stored.snapshot);
        const last = stored.updates.at(-1)?.seq ?? stored.snapshotSeq;
        if (parts.length > 0 && last > room.position.head) {
          room.applyStored(parts, last);
          this.metrics.catchUps.inc();
        }
      } while (state.again);
    } catch (err) {
      this.logger.warn({ err, roomId: room.roomId }, 'catching up from the log failed; will retry');
      this.scheduleCatchUp(room, 1000);
    } finally {
      state.running = false;
    }
  }

  private async pollHeads(): Promise<void> {
    if (this.fanout.healthy) return;
    for (const room of this.registry.rooms.values()) {
      if (room.peers.size > 0) this.scheduleCatchUp(room, 0, true);
    }
  }
}
