import type { IncomingMessage } from 'node:http';
import type * as Y from 'yjs';
import type { RoomWatcher } from '../sync/room-api.js';
import type { SocketQuota } from '../sync/socket-quota.js';

/**
 * What the calendar needs of the sync server, in the sync server's own names: the calendar module
 * builds it from its ModuleContext, and a SyncServer fits it as it is (tests wire one directly).
 */
export interface CalendarSync {
  readRoom<T>(roomId: string, read: (doc: Y.Doc) => T): Promise<T>;
  editRoom<T>(roomId: string, edit: (doc: Y.Doc) => T): Promise<T>;
  watchRoom(roomId: string, watcher: RoomWatcher): Promise<() => void>;
  /** Sockets per user and address, shared with `/sync`. */
  readonly quota: SocketQuota;
  addressOf(req: IncomingMessage): string;
}
