/**
 * @kith/client — the library apps embed: sign in, manage rooms, and open offline-first calendars
 * that sync with kith-server. Browser- and Node-safe; the file store lives in `@kith/client/node`.
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
  LocalOrigin,
  type CalendarEvents,
  type CalendarOptions,
  type PresenceEntry,
  type StatusInfo,
  type WindowInput,
} from './calendar.js';
export { KithApiError, KithSyncError } from './errors.js';
export {
  LocalStorageTokenStore,
  MemoryTokenStore,
  jwtClaims,
  type Session,
  type StorageLike,
  type TokenStore,
  type User,
} from './session.js';
export type { StopInfo, SyncStatus, WebSocketConstructor } from './sync.js';
export type { LocalPersistence, RoomStore } from './persistence/types.js';
export { memoryPersistence } from './persistence/memory.js';
export { indexedDbPersistence } from './persistence/indexeddb.js';
export {
  MESSAGE_KITH_DURABLE,
  MESSAGE_KITH_ROLE,
  MESSAGE_KITH_TOKEN,
  encodeToken as encodeTokenMessage,
  isRole,
  readRole,
} from '@kith/protocol';
export { UnsavedLedger, type LedgerState } from './unsaved.js';
export type * from '@kith/model';
