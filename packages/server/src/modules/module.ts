/**
 * The module interface: what a feature on top of the rooms (calendar REST/live/ICS, the Google
 * mirror, next CalDAV and notifications) gets from the core, and what it gives back. Modules
 * depend on the core, never the reverse: `startKithServer(config, { modules })` installs exactly
 * the modules it is given, in order, before it listens, and closes them in reverse order before
 * the sync server. See "Writing a module" in the README.
 */
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { SignIn } from '../auth/sign-in-events.js';
import type { KithConfig } from '../config/config.js';
import type { Metrics } from '../ops/metrics.js';
import type { CreatedRoom, MembershipChange } from '../rooms/membership-events.js';
import type { ModuleMigrations, ModuleSql } from '../storage/module-tables.js';
import type { Role, Storage } from '../storage/storage.js';
import type { RoomApi } from '../sync/room-api.js';
import type { SocketQuota } from '../sync/socket-quota.js';
import type { UpgradeHandler } from '../sync/upgrade.js';

export interface KithModule {
  /** Lowercase letters, digits and dashes: names the logger component and the module's tables. */
  readonly name: string;
  /** The module's own tables, if it has any; applied before `install`, then `ctx.sql` reaches them. */
  readonly migrations?: ModuleMigrations;
  /** Registers routes, upgrades, watchers and background work. Runs before the server listens. */
  install(ctx: ModuleContext): Promise<InstalledModule>;
}

export interface InstalledModule {
  /** Graceful stop: finish or cut background work, close the module's sockets. Runs before the sync server closes. */
  close(): Promise<void>;
}


/** WebSocket endpoints next to `/sync` on the same port. */
export interface UpgradeAccess {
  /** Serves upgrades at one exact path (e.g. `/live`). */
  register(path: string, handler: UpgradeHandler): void;
  /** The client's address, resolved through trusted proxies like `/sync` does. */
  addressOf(req: IncomingMessage): string;
  /** Sockets per user and per address, shared with `/sync`: take a slot per socket, give it back on close. */
  readonly quota: SocketQuota;
}

export interface AuthenticatedUser {
  userId: string;
  username: string;
}

export interface RequestAuth {
  /**
   * Who sent this request: a valid bearer access token of an existing user, or throws
   * KithError UNAUTHENTICATED / TOKEN_EXPIRED (answered as 401 by the core's error handler).
   */
  verifyRequest(request: FastifyRequest): Promise<AuthenticatedUser>;
  /** The same for a token that did not come in a header (e.g. the first message of a socket). */
  verifyToken(token: string | undefined): Promise<AuthenticatedUser>;
  /** Each successful password login (after its tokens are issued); returns unsubscribe. */
  onSignIn(listener: (signIn: SignIn) => void): () => void;
}

/** Who is in which room (read side of the core's rooms). */
export interface MemberLookup {
  role(roomId: string, userId: string): Promise<Role | undefined>;
  roomName(roomId: string): Promise<string | undefined>;
  /** Membership changes made through this process's room API, at once; returns unsubscribe. */
  onChange(listener: (change: MembershipChange) => void): () => void;
  /** A room created through this process's room API; awaited before the creator gets its 201. */
  onRoomCreated(listener: (room: CreatedRoom) => Promise<void>): () => void;
  /**
   * A room deleted by this process (an account deletion), after the core removed it: modules drop
   * their own rows about it. Returns unsubscribe. Other instances' deletions are not told here.
   */
  onRoomDeleted(listener: (roomId: string) => Promise<void>): () => void;
  /** Tells `onRoomDeleted` listeners; called by the module that deleted the room, awaited before it answers. */
  roomDeleted(roomId: string): Promise<void>;
  /**
   * A user deleted by this process (`DELETE /users/me`), after the core removed the account and told
   * `onRoomDeleted` of the rooms deleted with it: modules stop using, and drop, what they hold for that
   * user in rooms that remain (the Google mirror pauses the links the user made and revokes their grant).
   * Returns unsubscribe. Other instances' deletions are not told here.
   */
  onUserDeleted(listener: (userId: string) => Promise<void>): () => void;
  /** Tells `onUserDeleted` listeners; called by the module that deleted the user, awaited before it answers. */
  userDeleted(userId: string): Promise<void>;
  /**
   * Tells open sockets (this instance's, and other instances' through the fanout) and `onChange`
   * listeners of a membership a module changed in storage itself (an account deletion), as the
   * room API does for its own changes: `role: null` closes the member's sockets to the room at once.
   */
  changed(change: MembershipChange): void;
}

export interface ModuleContext {
  /** Routes (any method: `app.addHttpMethod('PROPFIND', { hasBody: true })`, content-type parsers in a plugin). */
  readonly app: FastifyInstance;
  /**
   * The room documents, through the sync server: the same storage, broadcast and limits as
   * clients' updates; `edit(roomId, fn, origin)` names the module as the transaction origin.
   */
  readonly rooms: RoomApi;
  readonly upgrades: UpgradeAccess;
  readonly auth: RequestAuth;
  readonly members: MemberLookup;
  /**
   * The module's own tables (see `KithModule.migrations`); throws when the module declared none.
   * SQLite or PostgreSQL, whichever the server stores in.
   */
  readonly sql: ModuleSql;
  /**
   * The core's storage. Read from it freely; write only what the module owns (the calendar
   * module owns the ICS feeds). New modules keep their state in `sql`.
   */
  readonly storage: Storage;
  /** The server's configuration, read-only. A module's own options come to its factory. */
  readonly config: Readonly<KithConfig>;
  /** The server's metrics; a module registers its own in `metrics.registry` (served at /metrics). */
  readonly metrics: Metrics;
  /** Child logger with `component` = the module's name. */
  readonly logger: Logger;
  /**
   * A logger for one part of the module with its own `component` (the calendar's `live` and
   * `import`): pino would repeat the key if the part were a child of `logger`.
   */
  componentLogger(component: string): Logger;
  /** The server's data dir, for a module that keeps files (the Google mirror's state file). */
  readonly dataDir: string;
}

export type { ModuleMigrations, ModuleSql } from '../storage/module-tables.js';
export type { RoomApi, RoomWatcher } from '../sync/room-api.js';
export type { UpgradeHandler } from '../sync/upgrade.js';
export type { SignIn } from '../auth/sign-in-events.js';
export type { CreatedRoom, MembershipChange } from '../rooms/membership-events.js';
