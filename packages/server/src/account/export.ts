import { ROOT } from '@kith/model';
import type * as Y from 'yjs';
import type { FeedBuilder } from '../calendar/feed-builder.js';
import type { RoomApi } from '../sync/room-api.js';
import type { Storage } from '../storage/storage.js';

export interface RoomExport {
  roomId: string;
  name: string;
  role: string;
  members: Array<{ username: string; role: string }>;
  /** The room's calendar as iCalendar, as its feed would serve it. */
  ics: string;
  /** The whole room document as JSON (events, overrides, comments, settings): nothing left out. */
  document: unknown;
}

export interface AccountExport {
  format: 'kith-export/1';
  exportedAt: string;
  user: { userId: string; username: string; createdAt: string };
  rooms: RoomExport[];
}

/**
 * "Export my data": the account and each of its rooms, as .ics and as the document's JSON. Rooms
 * are read one at a time (each through the sync server, like a client's view), so memory holds one
 * room's export at a time beyond the answer being built. The .ics is built as the feed's is, in a
 * worker from the stored bytes (seconds of CPU for a room of thousands of events).
 */
export async function exportAccount(userId: string, deps: { storage: Storage; rooms: RoomApi; feeds: FeedBuilder }): Promise<AccountExport | undefined> {
  const user = await deps.storage.users.findById(userId);
  if (!user) return undefined;
  const rooms: RoomExport[] = [];
  for (const room of await deps.storage.rooms.listForUser(userId)) {
    const members = (await deps.storage.rooms.members(room.roomId)).map((m) => ({ username: m.username, role: m.role }));
    const document = await deps.rooms.read(room.roomId, documentJson);
    const { ics } = await deps.feeds.build({ roomId: room.roomId, name: room.name, stored: await deps.storage.docs.load(room.roomId) });
    rooms.push({ roomId: room.roomId, name: room.name, role: room.role, members, ics, document });
  }
  return {
    format: 'kith-export/1',
    exportedAt: new Date().toISOString(),
    user: { userId: user.userId, username: user.username, createdAt: new Date(user.createdAt).toISOString() },
    rooms,
  };
}

/**
 * Every top-level map of a room document as JSON: the calendar's (room, members, events) and any
 * a module added (e.g. comments). A key whose type is not a map is read as an array.
 */
function documentJson(doc: Y.Doc): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name of new Set<string>([...Object.values(ROOT), ...doc.share.keys()])) {
    try {
      out[name] = doc.getMap(name).toJSON();
    } catch {
      out[name] = doc.getArray(name).toJSON();
    }
  }
  return out;
}
