/**
 * Configuration of the Google mirror, and the small interface it needs from the server that hosts it.
 */
import type { Role } from '@kith/protocol';
import type { FastifyRequest } from 'fastify';
import type * as Y from 'yjs';

/**
 * What the mirror needs from kith-server. kith-server's `SyncServer` provides the first three as they are;
 * `memberRole` comes from its storage (`storage.rooms.member(roomId, userId)?.role`). A host that reaches rooms
 * as the linking user (the standalone worker) rejects with `RoomRefused` when the server refuses that user the
 * room for good.
 */
export interface GoogleSyncHost {
  /** Runs a server-side edit of the room's document; resolves once it is stored (and broadcast). */
  editRoom<T>(roomId: string, edit: (doc: Y.Doc) => T): Promise<T>;
  /** Reads the room's document as stored. */
  readRoom<T>(roomId: string, read: (doc: Y.Doc) => T): Promise<T>;
  /** Keeps the room loaded; `onCommitted` runs after each commit of it. Returns the function that stops watching. */
  watchRoom(
    roomId: string,
    watcher: { onOpen?(doc: Y.Doc): void; onCommitted(doc: Y.Doc): void; onLost?(): void },
  ): Promise<() => void>;
  memberRole(roomId: string, userId: string): Promise<Role | undefined>;
  /** The room's name, for the calendar's title (optional; kith-server: `storage.rooms.get(roomId)?.name`). */
  roomName?(roomId: string): Promise<string | undefined>;
}

/** The server refuses the linking user this room (removed from it, or the room is gone): retrying cannot help. */
export class RoomRefused extends Error {
  constructor(
    readonly roomId: string,
    message: string,
  ) {
    super(message);
    this.name = 'RoomRefused';
  }
}

export interface VerifiedUser {
  userId: string;
  username: string;
}

export interface GoogleSyncLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface GoogleSyncOptions {
  /** OAuth client (GOOGLE_CLIENT_ID / GOOGLE_CLIENT_SECRET). Without both, every route answers 503 GOOGLE_NOT_CONFIGURED. */
  clientId?: string | undefined;
  clientSecret?: string | undefined;
  /** The callback URL registered with the OAuth client, ending in `/google/callback` (GOOGLE_REDIRECT_URL). */
  redirectUrl?: string | undefined;
  /** Calendar API root (GOOGLE_API_ROOT_URL), e.g. the fake's `http://127.0.0.1:4100/`. Default Google's. */
  apiRootUrl?: string | undefined;
  /** Base of the OAuth endpoints (GOOGLE_OAUTH_BASE_URL): `<base>/o/oauth2/v2/auth`, `/token`, `/revoke`. Default Google's. */
  oauthBaseUrl?: string | undefined;
  /** Where the mirror keeps `sync-google.sqlite` (and the generated token key). kith-server's data dir. */
  dataDir: string;
  /** Key for tokens at rest (GOOGLE_TOKEN_KEY): 64 hex chars, base64 of 32 bytes, or a ≥32-char passphrase. Default: generated into the data dir. */
  tokenKey?: string | undefined;
  /**
   * Public base URL of this server for Google's push notifications (`<url>/google/push`); Google requires
   * HTTPS. Without it the mirror polls only.
   */
  webhookBaseUrl?: string | undefined;
  /** Authenticates a REST request (kith's bearer tokens): the user, or throw / return null for 401. */
  verifyUser?: (request: FastifyRequest) => Promise<VerifiedUser | null> | VerifiedUser | null;
  /** OAuth scopes (default: `calendar.app.created`, the narrowest that can create a calendar and manage its events). */
  scopes?: string[];
  /** Zone of created calendars when the room has none (default UTC). */
  defaultTimeZone?: string;
  /** Poll Google this often (default 5 min; 15 min when a push channel is live). */
  pollIntervalMs?: number;
  /** Debounce of local changes and push notifications (default 250 ms). */
  debounceMs?: number;
  /**
   * Requests per second per linking user, and the burst (default 8/s, burst 10): under Google's documented
   * 600 requests per minute per user, with room for the user's own apps.
   */
  requestsPerSecond?: number;
  requestBurst?: number;
  /** Backoff for rate limits, 429, 5xx and network errors: base and cap (default 1 s → 64 s), with full jitter. */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** Attempts per request before the cycle gives up and retries later (default 6). */
  maxAttempts?: number;
  /**
   * Google writes an export makes before it stops to list Google's changes (default 20): a large export is
   * sent in batches with imports between them, so Google's changes never wait for all of it.
   */
  exportBatch?: number;
  /**
   * More events than this deleted in Google in one listing (someone emptied the calendar) holds the link
   * (status `awaiting_confirmation`) until an owner applies or undoes the deletion (default 50).
   */
  massDeleteLimit?: number;
  /** Events exported at the same time (default 4), all under the per-user rate above. */
  exportConcurrency?: number;
  /** Pause after 403 quotaExceeded (default 2 h). */
  quotaPauseMs?: number;
  /** Push channel lifetime asked for (default 7 days) and renewal margin (default 1 day). */
  channelTtlMs?: number;
  channelRenewBeforeMs?: number;
  /**
   * Run the mirror in this process (default true). kith-server sets false when a separate `kith-sync-google`
   * process mirrors the rooms: the routes keep working here and write links the other process picks up.
   */
  runWorker?: boolean;
  /** Check the state file for links made or removed by another process this often (standalone worker). */
  linkPollMs?: number;
  /** Member id written as the author of the mirror's edits (default `google`). */
  actor?: string;
  logger?: GoogleSyncLogger;
  /** Clock (tests). */
  now?: () => number;
  /** Random source for jitter (tests). */
  random?: () => number;
}

export const CALENDAR_APP_CREATED = 'https://www.googleapis.com/auth/calendar.app.created';
export const CALENDAR_FULL = 'https://www.googleapis.com/auth/calendar';

/** The Yjs transaction origin of every edit the mirror makes. */
export const SYNC_ORIGIN = 'sync-google';

export interface ResolvedOptions {
  clientId: string;
  clientSecret: string;
  redirectUrl: string;
  apiRootUrl: string;
  oauthBaseUrl: string;
  dataDir: string;
  tokenKey: string | undefined;
  webhookBaseUrl: string | undefined;
  verifyUser: GoogleSyncOptions['verifyUser'];
  scopes: string[];
  defaultTimeZone: string;
  pollIntervalMs: number;
  debounceMs: number;
  requestsPerSecond: number;
  requestBurst: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  maxAttempts: number;
  exportBatch: number;
  massDeleteLimit: number;
  exportConcurrency: number;
  quotaPauseMs: number;
  channelTtlMs: number;
  channelRenewBeforeMs: number;
  runWorker: boolean;
  linkPollMs: number | undefined;
  actor: string;
  logger: GoogleSyncLogger;
  now: () => number;
  random: () => number;
}

const silent: GoogleSyncLogger = { debug() {}, info() {}, warn() {}, error() {} };

/** Whether Google credentials are configured (client id, secret and redirect URL). */
export function isConfigured(o: GoogleSyncOptions): boolean {
  return Boolean(o.clientId && o.clientSecret && o.redirectUrl);
}

export function resolveOptions(o: GoogleSyncOptions): ResolvedOptions {
  return {
    clientId: o.clientId ?? '',
    clientSecret: o.clientSecret ?? '',
    redirectUrl: o.redirectUrl ?? '',
    apiRootUrl: o.apiRootUrl ? (o.apiRootUrl.endsWith('/') ? o.apiRootUrl : `${o.apiRootUrl}/`) : 'https://www.googleapis.com/',
    oauthBaseUrl: (o.oauthBaseUrl ?? '').replace(/\/+$/, ''),
    dataDir: o.dataDir,
    tokenKey: o.tokenKey,
    webhookBaseUrl: o.webhookBaseUrl?.replace(/\/+$/, ''),
    verifyUser: o.verifyUser,
    scopes: o.scopes ?? [CALENDAR_APP_CREATED],
    defaultTimeZone: o.defaultTimeZone ?? 'UTC',
    pollIntervalMs: o.pollIntervalMs ?? 5 * 60_000,
    debounceMs: o.debounceMs ?? 250,
    requestsPerSecond: o.requestsPerSecond ?? 8,
    requestBurst: o.requestBurst ?? 10,
    backoffBaseMs: o.backoffBaseMs ?? 1_000,
    backoffMaxMs: o.backoffMaxMs ?? 64_000,
    maxAttempts: o.maxAttempts ?? 6,
    exportBatch: Math.max(1, o.exportBatch ?? 20),
    massDeleteLimit: Math.max(1, o.massDeleteLimit ?? 50),
    exportConcurrency: Math.min(16, Math.max(1, o.exportConcurrency ?? 4)),
    quotaPauseMs: o.quotaPauseMs ?? 2 * 3_600_000,
    channelTtlMs: o.channelTtlMs ?? 7 * 24 * 3_600_000,
    channelRenewBeforeMs: o.channelRenewBeforeMs ?? 24 * 3_600_000,
    runWorker: o.runWorker ?? true,
    linkPollMs: o.linkPollMs,
    actor: o.actor ?? 'google',
    logger: o.logger ?? silent,
    now: o.now ?? Date.now,
    random: o.random ?? Math.random,
  };
}

/** OAuth endpoints for google-auth-library's `OAuth2Client({ endpoints })`, when pointed elsewhere. */
export function oauthEndpoints(o: ResolvedOptions):
  | { oauth2AuthBaseUrl: string; oauth2TokenUrl: string; oauth2RevokeUrl: string; tokenInfoUrl: string }
  | undefined {
  if (!o.oauthBaseUrl) return undefined;
  return {
    oauth2AuthBaseUrl: `${o.oauthBaseUrl}/o/oauth2/v2/auth`,
    oauth2TokenUrl: `${o.oauthBaseUrl}/token`,
    oauth2RevokeUrl: `${o.oauthBaseUrl}/revoke`,
    tokenInfoUrl: `${o.oauthBaseUrl}/tokeninfo`,
  };
}
