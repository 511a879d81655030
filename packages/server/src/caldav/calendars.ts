/**
 * What the CalDAV handlers share: who may see which calendar, and a calendar's objects with its
 * sync version, consistent with each other (the catalogue's view recorded in the sync index).
 */
import type { Role } from '@kith/protocol';
import * as Y from 'yjs';
import type { AuthenticatedUser, MemberLookup } from '../modules/module.js';
import type { Storage } from '../storage/storage.js';
import { completeUpdates } from '../storage/stored-doc.js';
import { notFound } from './dav-errors.js';
import type { DavObject, ObjectCatalog } from './object-catalog.js';
import type { ObjectNames, RoomNames } from './object-names.js';
import type { CalendarInfo } from './properties.js';
import { covers, sameState, type Recorded, type SyncIndex } from './sync-index.js';

export interface CalendarSnapshot {
  objects: ReadonlyMap<string, DavObject>;
  /**
   * The room's sync version these objects answer: every row up to it matches them, or is of an
   * object they hold newer (recorded again above it later). Below `head` when the copy is behind.
   */
  version: number;
  /** The room's newest version (tokens up to it are known). */
  head: number;
  /** Whether this copy was recorded (false: it is behind the index; see sync-index.ts). */
  recorded: boolean;
  /** The names the objects are listed under. */
  names: RoomNames;
}

/** Rooms whose stored state vector a listing remembers. */
const MAX_STORED_STATES = 10_000;

/** How long a request waits for its copy of a room to catch up with the index (fan-out takes milliseconds). */
export const DEFAULT_CATCH_UP_MS = 2_000;

export class Calendars {
  constructor(
    private readonly deps: { catalog: ObjectCatalog; index: SyncIndex; names: ObjectNames; members: MemberLookup; storage: Storage; catchUpMs?: number },
  ) {}

  get index(): SyncIndex {
    return this.deps.index;
  }

  get catalog(): ObjectCatalog {
    return this.deps.catalog;
  }

  get names(): ObjectNames {
    return this.deps.names;
  }

  /**
   * The calendar a path names, when it is the user's own path and they are a member of the room;
   * otherwise 404, whether the room exists or not (nothing is learnt about other people's rooms).
   */
  async open(user: AuthenticatedUser, userId: string, roomId: string): Promise<CalendarInfo> {
    if (userId !== user.userId) throw notFound();
    const role: Role | undefined = await this.deps.members.role(roomId, user.userId);
    if (role === undefined) throw notFound();
    const name = (await this.deps.members.roomName(roomId)) ?? roomId;
    return { roomId, name, role };
  }

  /** The user's calendars: every room they belong to. */
  async list(user: AuthenticatedUser): Promise<CalendarInfo[]> {
    const rooms = await this.deps.storage.rooms.listForUser(user.userId);
    return rooms.map((r) => ({ roomId: r.roomId, name: r.name, role: r.role }));
  }

  /**
   * The room's objects now, with the version the sync index gives that state. A copy behind the
   * one the index was last recorded from (another instance's commits on their way here) is waited
   * for, up to `catchUpMs`; past that it answers at the version this instance last recorded.
   */
  snapshot(roomId: string): Promise<CalendarSnapshot> {
    const { catalog, index } = this.deps;
    return index.serial(roomId, async () => {
      const deadline = Date.now() + (this.deps.catchUpMs ?? DEFAULT_CATCH_UP_MS);
      let force = false;
      for (;;) {
        const names = await this.deps.names.forRoom(roomId);
        const seen = await catalog.read(roomId, (o) => ({
          objects: new Map(o.byUid),
          state: Y.encodeStateVector(o.doc),
          pending: o.takePending(),
          giveBack: o.giveBack,
          newer: o.newer,
        }));
        let recorded: Recorded;
        try {
          recorded = await index.recordCopy(roomId, seen.objects, seen.state, seen.pending, (uid) => names.nameOf(uid), force);
        } catch (err) {
          seen.giveBack('all'); // not recorded: the next request records everything again
          throw err;
        }
        if (!recorded.behind) return { objects: seen.objects, names, version: recorded.version, head: recorded.version, recorded: true };
        seen.giveBack(seen.pending);
        if (await seen.newer(deadline - Date.now())) continue;
        // A recorded state the room as stored does not hold (the database restored under it) is
        // never reached: a copy holding all that is stored records every object, and its state.
        if (!force && (await this.unreachable(recorded.state, Y.decodeStateVector(seen.state), roomId))) {
          seen.giveBack('all');
          force = true;
          continue;
        }
        return { objects: seen.objects, names, version: Math.min(index.answered(roomId), recorded.head), head: recorded.head, recorded: false };
      }
    });
  }

  /** Whether `recorded` has updates the stored room lacks while `copy` has all the stored room has. */
  private async unreachable(recorded: Map<number, number>, copy: Map<number, number>, roomId: string): Promise<boolean> {
    const stored = await this.storedState(roomId).catch(() => undefined);
    return stored !== undefined && !covers(stored, recorded) && covers(copy, stored);
  }

  /**
   * The room's version for a listing of the user's calendars (ctag, sync token), without rendering
   * a room the catalogue does not keep: when the room as stored has exactly the updates of the copy
   * the index was last recorded from, every row matches it and the index's version is the room's.
   * Otherwise (the room changed since it was last recorded) it is rendered and recorded like any
   * request. The stored state is read once per stored log head (storedState).
   */
  async version(roomId: string): Promise<number> {
    const { catalog, index } = this.deps;
    if (!catalog.has(roomId)) {
      // A room whose stored bytes cannot be read (rows missing) is answered as any request would be.
      const stored = await this.storedState(roomId).catch(() => undefined);
      const head = await index.head(roomId);
      if (stored !== undefined && sameState(stored, head.state)) return head.version;
    }
    return (await this.snapshot(roomId)).version;
  }

  /** Rooms' stored state vectors, each at the log head it was read at (the oldest forgotten beyond MAX_STORED_STATES). */
  private readonly storedStates = new Map<string, { head: number; state: Map<number, number> }>();

  /**
   * The state vector of the room as stored, from its bytes (no copy in memory, which may lag the
   * log): read again only once the log's head has moved, which every commit does.
   */
  private async storedState(roomId: string): Promise<Map<number, number>> {
    const { storage } = this.deps;
    const logHead = await storage.docs.head(roomId);
    const known = this.storedStates.get(roomId);
    if (known?.head === logHead) return known.state;
    const stored = await storage.docs.loadOffLoop(roomId);
    const parts = completeUpdates(stored);
    const state = parts.length === 0 ? new Map<number, number>() : Y.decodeStateVector(Y.encodeStateVectorFromUpdate(Y.mergeUpdates(parts)));
    this.storedStates.delete(roomId);
    this.storedStates.set(roomId, { head: stored.head, state });
    if (this.storedStates.size > MAX_STORED_STATES) this.storedStates.delete(this.storedStates.keys().next().value as string);
    return state;
  }
}
