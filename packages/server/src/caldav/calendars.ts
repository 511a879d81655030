/**
 * What the CalDAV handlers share: who may see which calendar, and a calendar's objects with its
 * sync version, consistent with each other (the catalogue's view recorded in the sync index).
 */
import type { Role } from '@kith/protocol';
import type { AuthenticatedUser, MemberLookup } from '../modules/module.js';
import type { Storage } from '../storage/storage.js';
import { notFound } from './dav-errors.js';
import type { DavObject, ObjectCatalog } from './object-catalog.js';
import type { ObjectNames, RoomNames } from './object-names.js';
import type { CalendarInfo } from './properties.js';
import type { SyncIndex } from './sync-index.js';

export interface CalendarSnapshot {
  objects: ReadonlyMap<string, DavObject>;
  /** The room's sync version that includes every object above. */
  version: number;
  /** The names the objects are listed under. */
  names: RoomNames;
}

export class Calendars {
  constructor(
    private readonly deps: { catalog: ObjectCatalog; index: SyncIndex; names: ObjectNames; members: MemberLookup; storage: Storage },
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

  /** The room's objects now, with the version the sync index gives that state. */
  snapshot(roomId: string): Promise<CalendarSnapshot> {
    const { catalog, index } = this.deps;
    return index.serial(roomId, async () => {
      const names = await this.deps.names.forRoom(roomId);
      const seen = await catalog.read(roomId, (o) => ({ objects: new Map(o.byUid), pending: o.takePending(), giveBack: o.giveBack }));
      try {
        return { objects: seen.objects, names, version: await index.record(roomId, seen.objects, seen.pending, (uid) => names.nameOf(uid)) };
      } catch (err) {
        seen.giveBack(); // not recorded: the next request records everything again
        throw err;
      }
    });
  }
}
