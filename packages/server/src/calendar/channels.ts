/**
 * Which calendar events changed in a room, told once the change is on disk.
 *
 * A channel watches one room (rooms.watch) while someone listens. The model's observeEvents
 * notes the ids every transaction touches — whoever made it: a Yjs client, REST, the live socket,
 * an import. Observers fire inside the transaction, before the sync layer has queued the update
 * for its commit, so nothing is sent from there. After each commit of the room the noted ids are
 * read back through `rooms.read`, which runs the read on a state that is on disk by the time
 * the answer is delivered (a change still in flight waits for its own commit). Dispatches of one
 * room are chained, so listeners see changes in order.
 */
import type * as Y from 'yjs';
import type { Logger } from 'pino';
import { getEvent, observeEvents } from '@kith/model';
import type { Role, Storage } from '../storage/storage.js';
import type { RoomApi } from '../sync/room-api.js';
import { eventView, type EventView } from './api-events.js';

export type EventChange =
  | { type: 'update_event'; roomId: string; event: EventView }
  | { type: 'delete_event'; roomId: string; eventId: string };

export interface ChannelListener {
  readonly userId: string;
  /** Delivers changes; `role` is the listener's current role, read after the commit. */
  deliver(roomId: string, role: Role, changes: EventChange[]): void;
  /** The listener is no longer a member of the room; it has been removed from the channel. */
  revoked(roomId: string): void;
  /** The room could not be watched any more (it failed to reload); the listener has been removed. */
  lost(roomId: string): void;
}

const REWATCH_DELAYS_MS = [50, 200, 1000, 3000];

export class RoomChannel {
  readonly listeners = new Set<ChannelListener>();
  private pending = new Set<string>();
  private queue: Promise<void> = Promise.resolve();
  private stopWatch: (() => void) | undefined;
  private unobserve: (() => void) | undefined;
  private stopped = false;
  /** Resolves once the room is watched; rejects if it cannot be loaded. */
  readonly ready: Promise<void>;

  constructor(
    readonly roomId: string,
    private readonly deps: { rooms: RoomApi; storage: Storage; logger: Logger },
    private readonly onEmpty: (channel: RoomChannel) => void,
  ) {
    this.ready = this.watch();
  }

  private async watch(): Promise<void> {
    const stop = await this.deps.rooms.watch(this.roomId, {
      onOpen: (doc: Y.Doc) => {
        this.unobserve = observeEvents(doc, (change) => {
          for (const id of change.ids) this.pending.add(id);
        });
      },
      onCommitted: () => this.flush(),
      onLost: () => this.onLost(),
    });
    if (this.stopped) {
      this.unobserve?.();
      stop();
      return;
    }
    this.stopWatch = stop;
  }

  add(listener: ChannelListener): void {
    this.listeners.add(listener);
  }

  remove(listener: ChannelListener): void {
    this.listeners.delete(listener);
    if (this.listeners.size === 0) this.onEmpty(this);
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.unobserve?.();
    this.unobserve = undefined;
    this.stopWatch?.();
    this.stopWatch = undefined;
  }

  private flush(): void {
    if (this.pending.size === 0 || this.stopped) return;
    const ids = [...this.pending].sort();
    this.pending.clear();
    this.queue = this.queue
      .then(() => this.dispatch(ids))
      .catch((err) => this.deps.logger.warn({ err, roomId: this.roomId }, 'live dispatch failed'));
  }

  private async dispatch(ids: string[]): Promise<void> {
    if (this.stopped || this.listeners.size === 0) return;
    const changes = await this.deps.rooms.read(this.roomId, (doc): EventChange[] =>
      ids.map((id) => {
        const ev = getEvent(doc, id);
        return ev && ev.deleted === null
          ? { type: 'update_event', roomId: this.roomId, event: eventView(ev) }
          : { type: 'delete_event', roomId: this.roomId, eventId: id };
      }),
    );
    // Membership is read after the commit, once per batch: a removed member gets nothing more.
    const roles = new Map((await this.deps.storage.rooms.members(this.roomId)).map((m) => [m.userId, m.role]));
    for (const listener of [...this.listeners]) {
      const role = roles.get(listener.userId);
      if (role === undefined) {
        this.remove(listener);
        listener.revoked(this.roomId);
      } else {
        listener.deliver(this.roomId, role, changes);
      }
    }
  }

  /** The room was dropped from memory (reloaded after a failure): watch the reloaded one. */
  private onLost(): void {
    this.stopWatch = undefined;
    this.unobserve = undefined;
    if (this.stopped) return;
    void this.rewatch(0);
  }

  private async rewatch(attempt: number): Promise<void> {
    await new Promise((r) => setTimeout(r, REWATCH_DELAYS_MS[attempt] ?? 1000).unref());
    if (this.stopped) return;
    try {
      await this.watch();
    } catch (err) {
      if (attempt + 1 < REWATCH_DELAYS_MS.length) return this.rewatch(attempt + 1);
      this.deps.logger.warn({ err, roomId: this.roomId }, 'live channel lost its room');
      for (const listener of [...this.listeners]) {
        this.listeners.delete(listener);
        listener.lost(this.roomId);
      }
      this.onEmpty(this);
    }
  }
}

/** The channels of every watched room, one per room, created on first listener and stopped on last. */
export class Channels {
  private readonly channels = new Map<string, RoomChannel>();

  constructor(private readonly deps: { rooms: RoomApi; storage: Storage; logger: Logger }) {}

  /** Adds a listener to the room's channel, watching the room first if needed. */
  async listen(roomId: string, listener: ChannelListener): Promise<void> {
    let channel = this.channels.get(roomId);
    if (!channel) {
      channel = new RoomChannel(roomId, this.deps, (c) => this.drop(c));
      this.channels.set(roomId, channel);
    }
    channel.add(listener);
    try {
      await channel.ready;
    } catch (err) {
      channel.remove(listener);
      throw err;
    }
  }

  unlisten(roomId: string, listener: ChannelListener): void {
    this.channels.get(roomId)?.remove(listener);
  }

  closeAll(): void {
    for (const channel of this.channels.values()) channel.stop();
    this.channels.clear();
  }

  private drop(channel: RoomChannel): void {
    if (this.channels.get(channel.roomId) === channel) this.channels.delete(channel.roomId);
    channel.stop();
  }
}
