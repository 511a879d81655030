/**
 * @kith/client — the library apps embed: sign in, manage rooms, and open offline-first calendars
 * that sync with kith-server. Browser- and Node-safe; the file store lives in `@kith/client/node`.
 * Only what an app needs is exported here (documented in README.md); the wire format and the
 * ledger of unsaved edits stay inside.
 */
export {
  createKithClient,
  KithClient,
  type AcceptedInvite,
  type ClientEvents,
  type Invite,
  type InviteOptions,
  type InviteSummary,
  type RegisteredUser,
  type RegisterOptions,
  type KithClientOptions,
  type Member,
  type PersistenceOption,
  type Role,
  type RoomDetails,
  type RoomSummary,
} from './client.js';
export {
  Calendar,
  type CalendarEvents,
  type CalendarOptions,
  type LocalOrigin,
  type PresenceEntry,
  type StatusInfo,
  type WindowInput,
} from './calendar.js';
export { KithApiError, KithSyncError } from './errors.js';
export {
  LocalStorageTokenStore,
  MemoryTokenStore,
  type Session,
  type StorageLike,
  type TokenStore,
  type User,
} from './session.js';
export type { StopInfo, SyncStatus, WebSocketConstructor } from './sync.js';
export type { LocalPersistence, RoomStore } from './persistence/types.js';
export { memoryPersistence } from './persistence/memory.js';
export { indexedDbPersistence } from './persistence/indexeddb.js';
export type * from '@kith/model';
