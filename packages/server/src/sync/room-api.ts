import type * as Y from 'yjs';
import { KithError } from '../errors/catalogue.js';
import type { WriteHealth } from '../storage/write-health.js';
import type { RoomRegistry } from './room-registry.js';

/** Follows one room's committed changes (see `RoomApi.watch`). */
export interface RoomWatcher {
  /** Runs on the loaded document first (e.g. to attach observers). */
  onOpen?(doc: Y.Doc): void;
  /** After each commit of the room (stored and broadcast), including other instances' updates. */
  onCommitted(doc: Y.Doc): void;
  /** The room was dropped from memory (reload after a failure, shutdown): watch again to follow it. */
  onLost?(): void;
}

export interface ReadOptions {
  /**
   * A read that had to load the room lets it go at once when nothing else holds it, instead of
   * keeping it for the unload grace: for passes over many rooms (the reminder scheduler's start-up
   * pass), which would otherwise hold every room they read in memory for the grace.
   */
  transient?: boolean;
}

/** What server-side code (modules: REST, the live JSON socket, importers, Google) may do with a room. */
export interface RoomApi {
  /** Reads a room's document as it is on disk (what any client would be served). */
  read<T>(roomId: string, read: (doc: Y.Doc) => T, options?: ReadOptions): Promise<T>;
  /**
   * Edits a room's document on the server. The edit is stored and broadcast like a client's;
   * the promise resolves once it is on disk. `origin` becomes the Yjs transaction origin, so the
   * caller's own observers can tell its edits apart.
   */
  edit<T>(roomId: string, edit: (doc: Y.Doc) => T, origin?: string): Promise<T>;
  /**
   * Keeps a room loaded and calls `onCommitted(doc)` after each commit of it (its changes are on
   * disk and were broadcast), including updates stored by other instances. `onOpen(doc)` runs on
   * the loaded document first — e.g. to attach observers that note which calendar events changed.
   * If the room is dropped from memory (a reload after a failure, or shutdown), `onLost` is called
   * and the watch ends: watch again to follow the reloaded room. Returns a function that stops watching.
   */
  watch(roomId: string, watcher: RoomWatcher): Promise<() => void>;
  /**
   * A loaded room's stored bytes (snapshot and log) as this instance counts them — as loaded, plus
   * its own commits since (other instances' are not counted) — without a query; undefined when the
   * room is not loaded. For choosing how to read a room, not for exact accounting.
   */
  storedBytes(roomId: string): number | undefined;
  /**
   * Calls `listener(roomId, local)` after each commit of any room loaded on this instance (sockets',
   * server edits, and — with `local` false — other instances' stored updates), without keeping rooms
   * loaded: for modules that index many rooms (notifications) and re-read a room only when it
   * changed. Returns unsubscribe.
   */
  onAnyCommit(listener: (roomId: string, local: boolean) => void): () => void;
  /**
   * Calls `listener(roomId, doc)` when a room's document is loaded on this instance, as stored and
   * before any change reaches it (a lazily loaded room: when its document is first built). For
   * modules that compare a room with how it was (change notices) without reading every room at
   * start-up. The listener must not keep or change `doc`. Returns unsubscribe.
   */
  onAnyOpen(listener: (roomId: string, doc: Y.Doc) => void): () => void;
  /**
   * Calls `listener(roomId)` when a room leaves memory on this instance (idle past the grace, a
   * transient read, a reload after a failure, shutdown): modules drop what they keep per loaded
   * room, and `onAnyOpen` tells them again when it next loads. Returns unsubscribe.
   */
  onAnyUnload(listener: (roomId: string) => void): () => void;
}

/** The room API over the rooms in memory: edits go through the same commit path as sockets' updates. */
export class LoadedRooms implements RoomApi {
  constructor(
    private readonly registry: RoomRegistry,
    /** Whether storage takes writes; edits are refused while it does not. */
    private readonly writeHealth: WriteHealth,
    private readonly maxRoomBytes: number,
  ) {}

  private readonly commitListeners = new Set<(roomId: string, local: boolean) => void>();
  private readonly openListeners = new Set<(roomId: string, doc: Y.Doc) => void>();
  private readonly unloadListeners = new Set<(roomId: string) => void>();

  /** Hooked to each room as it loads (see SyncServer): tells `onAnyCommit` listeners. */
  roomCommitted(roomId: string, local: boolean): void {
    for (const listener of this.commitListeners) listener(roomId, local);
  }

  storedBytes(roomId: string): number | undefined {
    return this.registry.rooms.get(roomId)?.stored.bytes;
  }

  onAnyCommit(listener: (roomId: string, local: boolean) => void): () => void {
    this.commitListeners.add(listener);
    return () => this.commitListeners.delete(listener);
  }

  /** Hooked to each room as it loads (see SyncServer): tells `onAnyOpen` listeners. */
  roomOpened(roomId: string, doc: Y.Doc): void {
    for (const listener of this.openListeners) listener(roomId, doc);
  }

  onAnyOpen(listener: (roomId: string, doc: Y.Doc) => void): () => void {
    this.openListeners.add(listener);
    return () => this.openListeners.delete(listener);
  }

  /** Hooked to the registry (see SyncServer): tells `onAnyUnload` listeners. */
  roomUnloaded(roomId: string): void {
    for (const listener of this.unloadListeners) listener(roomId);
  }

  onAnyUnload(listener: (roomId: string) => void): () => void {
    this.unloadListeners.add(listener);
    return () => this.unloadListeners.delete(listener);
  }

  async edit<T>(roomId: string, edit: (doc: Y.Doc) => T, origin?: string): Promise<T> {
    // While commits fail, refuse before touching the document (an edit applied but never stored
    // would have to be thrown away with the whole room).
    if (!this.writeHealth.writable) throw new KithError('STORAGE_UNAVAILABLE');
    const room = await this.registry.acquire(roomId);
    try {
      if (room.bytesWithUnstored >= this.maxRoomBytes) throw new KithError('ROOM_TOO_LARGE');
      // An edit's structs are not known before it runs: one more is what a room at its cap refuses.
      const refusal = room.structRefusal(1);
      if (refusal) throw new KithError(refusal);
      const result = room.applyServerEdit(origin === undefined ? edit : (doc) => doc.transact(() => edit(doc), origin));
      await room.durable();
      return result;
    } catch (err) {
      this.registry.dropIfBroken(room, err);
      throw err;
    } finally {
      this.registry.release(room);
    }
  }

  async read<T>(roomId: string, read: (doc: Y.Doc) => T, options: ReadOptions = {}): Promise<T> {
    const letGo = options.transient === true && !this.registry.rooms.has(roomId);
    const room = await this.registry.acquire(roomId);
    try {
      return await new Promise<T>((resolve, reject) =>
        room.whenDurable(() => {
          try {
            const result = read(room.doc);
            return () => resolve(result);
          } catch (err) {
            return () => reject(err);
          }
        }, reject),
      );
    } catch (err) {
      this.registry.dropIfBroken(room, err);
      throw err;
    } finally {
      if (letGo) this.registry.releaseAndUnload(room);
      else this.registry.release(room);
    }
  }

  async watch(roomId: string, watcher: RoomWatcher): Promise<() => void> {
    const room = await this.registry.acquire(roomId);
    let stopped = false;
    const unwatch = room.watch(
      () => watcher.onCommitted(room.doc),
      () => {
        stopped = true;
        watcher.onLost?.();
      },
    );
    watcher.onOpen?.(room.doc);
    return () => {
      if (stopped) return;
      stopped = true;
      unwatch();
      this.registry.release(room);
    };
  }
}
