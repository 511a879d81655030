import { parseArgs } from 'node:util';
import path from 'node:path';
import { ConfigError, helpLines, optionReader, type ConfigOption, type ModuleOptions, type OptionReader } from './module-options.js';
import { DEFAULT_MAX_ROOM_STRUCTS } from '../sync/struct-budget.js';

// Module options, exported from here too (`@kith/server/config`): a binary reads its command line
// without loading the whole server, so that --help and bad flags answer at once.
export { ConfigError, optionReader, type ConfigOption, type ModuleOptions, type OptionReader } from './module-options.js';
// The notification channels' options (SMTP, VAPID) join the command line like a module's; their parser is
// light, so the binary can read them before it loads the server.
export { channelOptions, type ChannelConfig } from '../notify/channels/config.js';

export type SqliteSynchronous = 'full' | 'normal';
/** Who may create an account: anyone, only people holding a valid invite code, or no one. */
/** How log lines look (see ops/logger.ts): `auto` is `pretty` on a terminal and `json` elsewhere. */
export type LogFormat = 'auto' | 'pretty' | 'json';
const isLogFormat = (v: string): v is LogFormat => v === 'auto' || v === 'pretty' || v === 'json';

export type RegistrationPolicy = 'open' | 'invite-only' | 'closed';

export interface Limits {
  /** Largest WebSocket message accepted; larger ones close the socket with 1009. */
  maxMessageBytes: number;
  /** Stored size (snapshot + log) past which a room accepts no more updates. */
  maxRoomBytes: number;
  /** Yjs structs one room's document may hold in memory (see sync/struct-budget.ts). */
  maxRoomStructs: number;
  /** Yjs structs every loaded room may hold together; undefined: half of V8's heap limit. */
  maxLoadedStructs: number | undefined;
  /** Sustained Yjs updates per second per connection (token bucket rate). */
  updatesPerSecond: number;
  /** Burst size of that token bucket. */
  updatesBurst: number;
  /** Login attempts per minute per client IP and username (an IP gets 3× that across usernames). */
  loginPerMinute: number;
  /** Components (BEGIN: lines: VEVENTs, VALARMs, VTIMEZONE parts, …) one ICS import may hold. */
  maxImportComponents: number;
  /** How long one ICS import may run in its worker thread before it is stopped. */
  importTimeoutMs: number;
  /** Heap (old generation, MiB) of one ICS import's worker thread. */
  importMemoryMb: number;
  /** ICS imports running at once (each in its own worker thread) ... */
  importWorkers: number;
  /** ... and how many more may wait; beyond that an import is refused with 503 IMPORT_BUSY. */
  importQueue: number;
  /** Open WebSockets (`/sync` and `/live` together) per user; more are refused with 429 TOO_MANY_SOCKETS. */
  socketsPerUser: number;
  /** Open WebSockets per client address (the proxy-resolved one under --trust-proxy). */
  socketsPerIp: number;
  /** Largest presence (awareness) state of one client, JSON bytes; a larger one closes the socket (4413). */
  maxPresenceBytes: number;
  /** Presence client ids one sync socket may introduce; further ones are dropped. */
  presencePerSocket: number;
  /** Presence client ids one room holds at most; further ones are dropped. */
  presencePerRoom: number;
  /** Login attempts per minute for one username from all addresses together (distributed guessing). */
  loginPerAccountPerMinute: number;
  /** Rooms one user may own; creating another is refused with 409 TOO_MANY_ROOMS. */
  roomsPerUser: number;
  /** Usable (unexpired, not used up, not revoked) invites one room may hold; more: 409 TOO_MANY_INVITES. */
  invitesPerRoom: number;
}

export interface SyncTuning {
  /** How long a room with no connection stays loaded. */
  unloadGraceMs: number;
  /** Compact once the room's log holds this many updates ... */
  compactAfterUpdates: number;
  /** ... or this many bytes. */
  compactAfterBytes: number;
  /** WebSocket ping interval; a socket that misses a pong is closed. */
  pingIntervalMs: number;
  /** How often open sockets' memberships are re-checked (revocation latency bound). */
  membershipCheckMs: number;
}

export interface KithConfig {
  host: string;
  port: number;
  dataDir: string;
  /** Base URL used in invite links; derived from the request when unset. */
  publicUrl: string | undefined;
  logLevel: string;
  /** `pretty` (readable lines), `json` (one object a line), or `auto`: pretty on a terminal, JSON otherwise. */
  logFormat: LogFormat;
  /** One line per HTTP request at info level; otherwise they are logged at debug. */
  accessLog: boolean;
  /** HMAC secret for access tokens; generated once and kept in the data dir when unset. */
  jwtSecret: string | undefined;
  accessTokenTtlSeconds: number;
  refreshTokenTtlDays: number;
  /** `full` fsyncs every commit (survives power loss); `normal` survives process crashes only. */
  sqliteSynchronous: SqliteSynchronous;
  /** Folder of a built web app to serve at `/`, if any. */
  staticDir: string | undefined;
  /**
   * Behind a gateway, which proxies to believe about the client's address (X-Forwarded-For):
   * false (default), true (any), or comma-separated addresses, CIDRs and the named ranges
   * loopback, linklocal and uniquelocal (private networks, as in Docker or Kubernetes).
   */
  trustProxy: boolean | string;
  /** `postgres://…` stores everything in PostgreSQL; unset means SQLite in the data dir. */
  databaseUrl: string | undefined;
  /** `redis://…` turns on fan-out between several instances. */
  redisUrl: string | undefined;
  /**
   * On SIGTERM/SIGINT, how long in-flight HTTP requests may take to finish before their
   * connections are cut (sync sockets are closed with 1001 at once; their data is stored first).
   */
  shutdownGraceMs: number;
  limits: Limits;
  sync: SyncTuning;
  /** Who may register (see RegistrationPolicy). */
  registration: RegistrationPolicy;
  /** Lifetime of an invite created without `expiresInHours`. */
  inviteExpiryHours: number;
  /** How many people may accept an invite created without `maxUses`. */
  inviteMaxUses: number;
  /** Bearer token that reads /metrics from anywhere; unset, only loopback clients may read it. */
  metricsToken: string | undefined;
}

export const DEFAULT_LIMITS: Limits = {
  maxMessageBytes: 4 * 1024 * 1024,
  maxRoomBytes: 64 * 1024 * 1024,
  maxRoomStructs: DEFAULT_MAX_ROOM_STRUCTS,
  maxLoadedStructs: undefined,
  updatesPerSecond: 200,
  updatesBurst: 1000,
  loginPerMinute: 10,
  maxImportComponents: 20_000,
  importTimeoutMs: 60_000,
  importMemoryMb: 256,
  importWorkers: 2,
  importQueue: 8,
  // A family member's phones, laptops and tabs, each with a few calendars open; a household behind one NAT.
  socketsPerUser: 50,
  socketsPerIp: 200,
  // Presence is a name, a cursor, what is being viewed: well under a kilobyte for stock clients.
  maxPresenceBytes: 4096,
  presencePerSocket: 4,
  presencePerRoom: 128,
  loginPerAccountPerMinute: 100,
  // Far more calendars than a family keeps; small enough that deleting an account settles them in one request.
  roomsPerUser: 200,
  invitesPerRoom: 100,
};

export const DEFAULT_SYNC: SyncTuning = {
  unloadGraceMs: 30_000,
  compactAfterUpdates: 1_000,
  compactAfterBytes: 4 * 1024 * 1024,
  pingIntervalMs: 30_000,
  membershipCheckMs: 60_000,
};

export function defaultConfig(overrides: Partial<KithConfig> = {}): KithConfig {
  return {
    host: '127.0.0.1',
    port: 8080,
    dataDir: path.resolve('data'),
    publicUrl: undefined,
    logLevel: 'info',
    logFormat: 'auto',
    accessLog: false,
    jwtSecret: undefined,
    accessTokenTtlSeconds: 15 * 60,
    refreshTokenTtlDays: 30,
    sqliteSynchronous: 'full',
    staticDir: undefined,
    trustProxy: false,
    databaseUrl: undefined,
    redisUrl: undefined,
    shutdownGraceMs: 10_000,
    registration: 'open',
    inviteExpiryHours: 7 * 24,
    inviteMaxUses: 10,
    metricsToken: undefined,
    ...overrides,
    limits: { ...DEFAULT_LIMITS, ...overrides.limits },
    sync: { ...DEFAULT_SYNC, ...overrides.sync },
  };
}

/** Every option: its flag, the environment variable it falls back to, and its help text. */
const OPTIONS = {
  port: { env: 'PORT', help: 'TCP port to listen on (default 8080; 0 picks a free one)' },
  host: { env: 'HOST', help: 'address to bind (default 127.0.0.1; 0.0.0.0 for every interface)' },
  'data-dir': { env: 'KITH_DATA_DIR', help: 'folder for the SQLite database and the generated secret (default ./data)' },
  'public-url': { env: 'KITH_PUBLIC_URL', help: 'base URL used in invite links (default: from the request)' },
  'log-level': { env: 'LOG_LEVEL', help: 'fatal, error, warn, info, debug, trace or silent (default info)' },
  'log-format': { env: 'KITH_LOG_FORMAT', help: 'auto (readable on a terminal, JSON otherwise; default), pretty or json' },
  'access-log': { env: 'KITH_ACCESS_LOG', help: 'log every HTTP request at info level (default: at debug only)', boolean: true },
  'jwt-secret': { env: 'KITH_JWT_SECRET', help: 'secret that signs access tokens (default: generated once into the data dir)' },
  'access-token-ttl': { env: 'KITH_ACCESS_TOKEN_TTL', help: 'access token lifetime in seconds (default 900)' },
  'refresh-token-ttl-days': { env: 'KITH_REFRESH_TOKEN_TTL_DAYS', help: 'refresh token lifetime in days (default 30)' },
  'sqlite-sync': { env: 'KITH_SQLITE_SYNC', help: 'full (fsync each commit, default) or normal (survives process crashes only)' },
  'trust-proxy': {
    env: 'KITH_TRUST_PROXY',
    help: 'behind a gateway: true, or proxy addresses/CIDRs/loopback,linklocal,uniquelocal whose X-Forwarded-For to trust (default false)',
  },
  'database-url': {
    env: 'DATABASE_URL',
    help: 'postgres://user:pass@host:5432/db to store data in PostgreSQL (default: SQLite in the data dir)',
  },
  'redis-url': { env: 'REDIS_URL', help: 'redis://host:6379 to fan out between several instances (default: one instance)' },
  'static-dir': { env: 'KITH_STATIC_DIR', help: 'built web app to serve at / (default: the bundled example app, when built)' },
  'max-message-bytes': { env: 'KITH_MAX_MESSAGE_BYTES', help: 'largest WebSocket message (default 4194304)' },
  'max-room-bytes': { env: 'KITH_MAX_ROOM_BYTES', help: 'largest stored room (default 67108864)' },
  'max-room-structs': { env: 'KITH_MAX_ROOM_STRUCTS', help: 'most Yjs structs one room holds in memory (default 1000000)' },
  'max-loaded-structs': { env: 'KITH_MAX_LOADED_STRUCTS', help: 'most Yjs structs all loaded rooms hold (default: half the heap limit / 480 bytes)' },
  'updates-per-second': { env: 'KITH_UPDATES_PER_SECOND', help: 'sustained updates per second per connection (default 200)' },
  'updates-burst': { env: 'KITH_UPDATES_BURST', help: 'burst of updates per connection (default 1000)' },
  'login-per-minute': { env: 'KITH_LOGIN_PER_MINUTE', help: 'login attempts per minute per IP and per username (default 10)' },
  'max-import-components': {
    env: 'KITH_MAX_IMPORT_COMPONENTS',
    help: 'components (VEVENTs, VALARMs, VTIMEZONE parts, …) one ICS import may hold (default 20000)',
  },
  'import-timeout-ms': { env: 'KITH_IMPORT_TIMEOUT_MS', help: 'how long one ICS import may run before it is stopped (default 60000)' },
  'import-memory-mb': { env: 'KITH_IMPORT_MEMORY_MB', help: 'heap of one ICS import worker thread, MiB (default 256)' },
  'import-workers': { env: 'KITH_IMPORT_WORKERS', help: 'ICS imports running at once, each in a worker thread (default 2)' },
  'import-queue': { env: 'KITH_IMPORT_QUEUE', help: 'ICS imports that may wait for a worker; more get 503 (default 8)' },
  'sockets-per-user': { env: 'KITH_SOCKETS_PER_USER', help: 'open WebSockets (/sync and /live) per user (default 50)' },
  'sockets-per-ip': { env: 'KITH_SOCKETS_PER_IP', help: 'open WebSockets per client address (default 200)' },
  'max-presence-bytes': { env: 'KITH_MAX_PRESENCE_BYTES', help: 'largest presence (awareness) state of one client (default 4096)' },
  'presence-per-socket': { env: 'KITH_PRESENCE_PER_SOCKET', help: 'presence client ids one sync socket may introduce (default 4)' },
  'presence-per-room': { env: 'KITH_PRESENCE_PER_ROOM', help: 'presence client ids per room (default 128)' },
  'unload-grace-ms': { env: 'KITH_UNLOAD_GRACE_MS', help: 'how long an unused room stays in memory (default 30000)' },
  'compact-after-updates': { env: 'KITH_COMPACT_AFTER_UPDATES', help: 'compact a room once its log has this many updates (default 1000)' },
  'shutdown-grace-ms': { env: 'KITH_SHUTDOWN_GRACE_MS', help: 'on SIGTERM, how long in-flight HTTP requests may take before being cut off (default 10000)' },
  registration: { env: 'KITH_REGISTRATION', help: 'who may register: open (default), invite-only (needs a valid invite code) or closed' },
  'invite-expiry-hours': { env: 'KITH_INVITE_EXPIRY_HOURS', help: 'lifetime of an invite created without expiresInHours (default 168)' },
  'invite-max-uses': { env: 'KITH_INVITE_MAX_USES', help: 'uses of an invite created without maxUses (default 10)' },
  'metrics-token': { env: 'KITH_METRICS_TOKEN', help: 'bearer token to read /metrics from anywhere (default: loopback clients only)' },
  'login-per-account-per-minute': {
    env: 'KITH_LOGIN_PER_ACCOUNT_PER_MINUTE',
    help: 'login attempts per minute for one username from all addresses (default 100)',
  },
  'rooms-per-user': { env: 'KITH_ROOMS_PER_USER', help: 'rooms one user may own; more are refused with 409 (default 200)' },
  'invites-per-room': {
    env: 'KITH_INVITES_PER_ROOM',
    help: 'usable (unexpired, not used up) invites one room may hold; more are refused with 409 (default 100)',
  },
} as const;

type OptionName = keyof typeof OPTIONS;

/** Every option of the server with its modules', in `--help` order. */
function allOptions(modules: ReadonlyArray<ModuleOptions<unknown>>): Record<string, ConfigOption> {
  const entries: Array<[string, ConfigOption]> = Object.entries(OPTIONS);
  for (const m of modules) {
    const at = m.helpAfter ? entries.findIndex(([flag]) => flag === m.helpAfter) + 1 : 0;
    entries.splice(at > 0 ? at : entries.length, 0, ...Object.entries(m.options));
  }
  return Object.fromEntries(entries);
}

export function helpText(modules: ReadonlyArray<ModuleOptions<unknown>> = []): string {
  const lines = helpLines(allOptions(modules));
  return [
    'kith-server — the self-hosted Kith calendar server',
    '',
    'Usage: kith-server [options]',
    '',
    'Options (each falls back to the environment variable named below it):',
    ...lines,
    '  --help                     show this help',
    '',
  ].join('\n');
}

/** Reads flags first, then environment variables, then defaults. Throws ConfigError on bad values. */
export function parseConfig(argv: string[], env: NodeJS.ProcessEnv): KithConfig | 'help' {
  const parsed = parseServerConfig(argv, env, []);
  return parsed === 'help' ? 'help' : parsed.config;
}

/** The configuration of each module, in the order the modules' options were given. */
type ModuleValues<M extends ReadonlyArray<ModuleOptions<unknown>>> = { [K in keyof M]: M[K] extends ModuleOptions<infer T> ? T : never };

/**
 * The server's configuration and its modules' (e.g. `[googleOptions]` → `[GoogleConfig]`) from one
 * command line: every flag known, `--help` answered with all of them.
 */
export function parseServerConfig<const M extends ReadonlyArray<ModuleOptions<unknown>>>(
  argv: string[],
  env: NodeJS.ProcessEnv,
  modules: M,
): { config: KithConfig; modules: ModuleValues<M> } | 'help' {
  const options = allOptions(modules);
  const { values } = parseArgs({
    args: argv,
    options: {
      help: { type: 'boolean', short: 'h' },
      ...Object.fromEntries(
        Object.entries(options).map(([k, o]) => [k, { type: o.boolean ? ('boolean' as const) : ('string' as const) }]),
      ),
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) return 'help';
  const read = optionReader(options, values, env);
  const config = coreConfig(read);
  return { config, modules: modules.map((m) => m.parse(read, config)) as ModuleValues<M> };
}

function coreConfig(read: OptionReader): KithConfig {
  const raw = (name: OptionName) => read.raw(name);
  const source = (name: OptionName) => read.source(name);
  const int = (name: OptionName, min: number) => read.int(name, min);
  const d = defaultConfig();
  const sync = raw('sqlite-sync') ?? 'full';
  if (sync !== 'full' && sync !== 'normal') {
    throw new ConfigError(`${source('sqlite-sync')} must be full or normal, got "${sync}"`);
  }
  const logLevel = raw('log-level') ?? d.logLevel;
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel)) {
    throw new ConfigError(
      `${source('log-level')} must be fatal, error, warn, info, debug, trace or silent, got "${logLevel}"`,
    );
  }
  const logFormat = raw('log-format') ?? d.logFormat;
  if (!isLogFormat(logFormat)) {
    throw new ConfigError(`${source('log-format')} must be auto, pretty or json, got "${logFormat}"`);
  }
  const port = int('port', 0) ?? d.port;
  if (port > 65535) throw new ConfigError(`${source('port')} must be at most 65535, got ${port}`);
  const jwtSecret = raw('jwt-secret');
  if (jwtSecret !== undefined && jwtSecret.length < 32) {
    throw new ConfigError(`${source('jwt-secret')} must be at least 32 characters long`);
  }
  const publicUrl = raw('public-url');
  if (publicUrl !== undefined && !/^https?:\/\//.test(publicUrl)) {
    throw new ConfigError(`${source('public-url')} must start with http:// or https://, got "${publicUrl}"`);
  }
  const staticDir = raw('static-dir');
  const trustRaw = raw('trust-proxy');
  const trustProxy = trustRaw === undefined || trustRaw === 'false' ? false : trustRaw === 'true' ? true : trustRaw;
  const databaseUrl = raw('database-url');
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError(`${source('database-url')} must be a postgres:// URL`);
  }
  const registration = raw('registration') ?? 'open';
  if (registration !== 'open' && registration !== 'invite-only' && registration !== 'closed') {
    throw new ConfigError(`${source('registration')} must be open, invite-only or closed, got "${registration}"`);
  }
  const metricsToken = raw('metrics-token');
  if (metricsToken !== undefined && metricsToken.length < 16) {
    throw new ConfigError(`${source('metrics-token')} must be at least 16 characters long`);
  }
  const redisUrl = raw('redis-url');
  if (redisUrl !== undefined && !/^rediss?:\/\//.test(redisUrl)) {
    throw new ConfigError(`${source('redis-url')} must be a redis:// or rediss:// URL`);
  }
  return defaultConfig({
    port,
    host: raw('host') ?? d.host,
    dataDir: path.resolve(raw('data-dir') ?? d.dataDir),
    publicUrl: publicUrl?.replace(/\/+$/, ''),
    logLevel,
    logFormat,
    accessLog: read.bool('access-log') ?? d.accessLog,
    jwtSecret,
    accessTokenTtlSeconds: int('access-token-ttl', 5) ?? d.accessTokenTtlSeconds,
    refreshTokenTtlDays: int('refresh-token-ttl-days', 1) ?? d.refreshTokenTtlDays,
    sqliteSynchronous: sync,
    staticDir: staticDir === undefined ? undefined : path.resolve(staticDir),
    trustProxy,
    databaseUrl,
    redisUrl,
    shutdownGraceMs: int('shutdown-grace-ms', 0) ?? d.shutdownGraceMs,
    registration,
    inviteExpiryHours: int('invite-expiry-hours', 1) ?? d.inviteExpiryHours,
    inviteMaxUses: int('invite-max-uses', 1) ?? d.inviteMaxUses,
    metricsToken,
    limits: {
      maxMessageBytes: int('max-message-bytes', 1024) ?? DEFAULT_LIMITS.maxMessageBytes,
      maxRoomBytes: int('max-room-bytes', 1024) ?? DEFAULT_LIMITS.maxRoomBytes,
      maxRoomStructs: int('max-room-structs', 1000) ?? DEFAULT_LIMITS.maxRoomStructs,
      maxLoadedStructs: int('max-loaded-structs', 1000) ?? DEFAULT_LIMITS.maxLoadedStructs,
      updatesPerSecond: int('updates-per-second', 1) ?? DEFAULT_LIMITS.updatesPerSecond,
      updatesBurst: int('updates-burst', 1) ?? DEFAULT_LIMITS.updatesBurst,
      loginPerMinute: int('login-per-minute', 1) ?? DEFAULT_LIMITS.loginPerMinute,
      maxImportComponents: int('max-import-components', 1) ?? DEFAULT_LIMITS.maxImportComponents,
      importTimeoutMs: int('import-timeout-ms', 100) ?? DEFAULT_LIMITS.importTimeoutMs,
      importMemoryMb: int('import-memory-mb', 16) ?? DEFAULT_LIMITS.importMemoryMb,
      importWorkers: int('import-workers', 1) ?? DEFAULT_LIMITS.importWorkers,
      importQueue: int('import-queue', 0) ?? DEFAULT_LIMITS.importQueue,
      socketsPerUser: int('sockets-per-user', 1) ?? DEFAULT_LIMITS.socketsPerUser,
      socketsPerIp: int('sockets-per-ip', 1) ?? DEFAULT_LIMITS.socketsPerIp,
      maxPresenceBytes: int('max-presence-bytes', 64) ?? DEFAULT_LIMITS.maxPresenceBytes,
      presencePerSocket: int('presence-per-socket', 1) ?? DEFAULT_LIMITS.presencePerSocket,
      presencePerRoom: int('presence-per-room', 1) ?? DEFAULT_LIMITS.presencePerRoom,
      loginPerAccountPerMinute: int('login-per-account-per-minute', 1) ?? DEFAULT_LIMITS.loginPerAccountPerMinute,
      roomsPerUser: int('rooms-per-user', 1) ?? DEFAULT_LIMITS.roomsPerUser,
      invitesPerRoom: int('invites-per-room', 1) ?? DEFAULT_LIMITS.invitesPerRoom,
    },
    sync: {
      ...DEFAULT_SYNC,
      unloadGraceMs: int('unload-grace-ms', 0) ?? DEFAULT_SYNC.unloadGraceMs,
      compactAfterUpdates: int('compact-after-updates', 2) ?? DEFAULT_SYNC.compactAfterUpdates,
    },
  });
}
