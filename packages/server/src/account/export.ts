import type { FeedBuilder } from '../calendar/feed-builder.js';
import type { Storage } from '../storage/storage.js';

/** An account export: what its log line and file name need, and its JSON text, a room at a time. */
export interface AccountExport {
  exportedAt: string;
  roomCount: number;
  /**
   * `{format: 'kith-export/1', exportedAt, user: {userId, username, createdAt}, rooms: [{roomId,
   * name, role, members: [{username, role}], ics, document}]}`: each room's calendar as iCalendar
   * (as its feed would serve it) and its whole document as JSON (events, overrides, comments,
   * settings: nothing left out). Each room is read and built when the reader asks for more, so a
   * member of many large rooms costs one room's text at a time, however slowly the answer is read.
   */
  chunks: AsyncIterable<string>;
}

/**
 * "Export my data": the account and each of its rooms, as .ics and as the document's JSON. Both are
 * made in a worker from the room's stored bytes (FeedBuilder, as the feed is): building a room of
 * thousands of events takes seconds of CPU, and only loading it, to read its JSON on the event loop,
 * a quarter to half a second (5,000 events). The .ics and the JSON come from the same bytes. Rooms
 * are read one at a time, as the answer is sent; the document arrives as JSON text and is put into
 * the answer as it is.
 */
export async function exportAccount(userId: string, deps: { storage: Storage; feeds: FeedBuilder }): Promise<AccountExport | undefined> {
  const user = await deps.storage.users.findById(userId);
  if (!user) return undefined;
  const exportedAt = new Date().toISOString();
  const rooms = await deps.storage.rooms.listForUser(userId);
  const head = { format: 'kith-export/1', exportedAt, user: { userId: user.userId, username: user.username, createdAt: new Date(user.createdAt).toISOString() } };
  return { exportedAt, roomCount: rooms.length, chunks: exportText(head, rooms, deps) };
}

async function* exportText(
  head: object,
  rooms: Array<{ roomId: string; name: string; role: string }>,
  deps: { storage: Storage; feeds: FeedBuilder },
): AsyncGenerator<string> {
  yield `${JSON.stringify(head).slice(0, -1)},"rooms":[`;
  for (const [index, room] of rooms.entries()) {
    const members = (await deps.storage.rooms.members(room.roomId)).map((m) => ({ username: m.username, role: m.role }));
    const stored = await deps.storage.docs.loadOffLoop(room.roomId);
    const { ics, document } = await deps.feeds.build({ roomId: room.roomId, name: room.name, stored }, { withDocument: true });
    yield (index > 0 ? ',' : '') + withRawField({ roomId: room.roomId, name: room.name, role: room.role, members, ics }, 'document', document ?? 'null');
  }
  yield ']}';
}

/** `value` as JSON with one more field, last, whose value is JSON text already. */
function withRawField(value: object, field: string, rawJson: string): string {
  return `${JSON.stringify(value).slice(0, -1)},${JSON.stringify(field)}:${rawJson}}`;
}
