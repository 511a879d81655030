import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { buildApp } from './app.js';
import { roomStateRoute } from './sync/room-state-route.js';
import { loadOrCreateJwtSecret, loadOrCreateSharedJwtSecret } from './auth/secret.js';
import { defaultConfig, type KithConfig } from './config/config.js';
import { createLogger, logDestination } from './ops/logger.js';
import { Metrics } from './ops/metrics.js';
import { MembershipEvents } from './rooms/membership-events.js';
import { SignInEvents } from './auth/sign-in-events.js';
import { RefreshTokenPruner } from './auth/refresh-tokens.js';
import { openStorage } from './storage/open-storage.js';
import type { Storage } from './storage/storage.js';
import { WriteHealth } from './storage/write-health.js';
import { SyncServer } from './sync/sync-server.js';
import type { Fanout } from './cluster/fanout.js';
import type { InstalledModule, KithModule } from './modules/module.js';
import { installModule } from './modules/module-host.js';

export interface KithServer {
  readonly url: string;
  readonly port: number;
  readonly app: FastifyInstance;
  readonly sync: SyncServer;
  readonly storage: Storage;
  readonly metrics: Metrics;
  /** Graceful stop: refuse new work, store what is pending, close sockets with 1001. */
  close(): Promise<void>;
}

export interface StartOptions {
  logger?: Logger;
  /** Storage to use instead of the SQLite file in the data dir. */
  storage?: Storage;
  /** Cross-instance fan-out to use (e.g. a RedisFanout); one instance alone by default. */
  fanout?: Fanout;
  /**
   * Features on top of the rooms (e.g. `calendarModule()`), installed in this order before the
   * server listens and closed in reverse order. None by default: the core serves auth, rooms and sync.
   */
  modules?: readonly KithModule[];
}

/** Starts a kith-server: HTTP API and sync WebSocket on one port. */
export async function startKithServer(
  config: KithConfig = defaultConfig(),
  options: StartOptions = {},
): Promise<KithServer> {
  const logger = options.logger ?? createLogger(config.logLevel, logDestination(config.logFormat));
  if (!options.storage || !config.jwtSecret) {
    // The data dir holds password hashes and the signing secret: when we create it, only the
    // server's user may enter it (an existing dir keeps the mode its operator gave it).
    fs.mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  }
  const storage =
    options.storage ??
    (await openStorage({
      databaseUrl: config.databaseUrl,
      dataDir: config.dataDir,
      sqliteSynchronous: config.sqliteSynchronous,
      onIdleError: (err) => logger.warn({ err: err.message }, 'PostgreSQL connection dropped; the pool reconnects'),
    }));
  let fanout = options.fanout;
  if (!fanout && config.redisUrl) {
    // Loaded only when configured: one instance alone needs no Redis client.
    const { RedisFanout } = await import('./cluster/redis-fanout.js');
    const redis = new RedisFanout(config.redisUrl, logger.child({ component: 'redis' }));
    // Start even if Redis is down: each instance serves its own clients and catches up later.
    await redis.ready(5000).catch(() => logger.warn('Redis is not reachable yet; instances catch up from the log'));
    fanout = redis;
  }
  const metrics = new Metrics();
  const writeHealth = new WriteHealth(storage, metrics, logger.child({ component: 'storage' }));
  const membership = new MembershipEvents();
  const signIns = new SignInEvents();
  // Deletes refresh-token rows that can no longer matter, a few at a time, while the server runs.
  const authLogger = logger.child({ component: 'auth' });
  const pruner = new RefreshTokenPruner(storage.refreshTokens, {
    onError: (err) => authLogger.warn({ err: (err as Error)?.message }, 'sweep of expired refresh tokens failed; retried later'),
  });
  let accepting = true;
  let app: FastifyInstance | undefined;
  let sync: SyncServer | undefined;
  /** Installed modules, last installed first: the order they close in. */
  const installed: InstalledModule[] = [];
  try {
    app = await buildApp({
      config,
      storage,
      metrics,
      membership,
      signIns,
      logger,
      // Shared storage: one secret for every instance, kept in the database. Alone (SQLite), the
      // data dir's secret file, as always.
      jwtSecret: storage.shared
        ? await loadOrCreateSharedJwtSecret(config.dataDir, config.jwtSecret, storage.secrets)
        : loadOrCreateJwtSecret(config.dataDir, config.jwtSecret),
      isAccepting: () => accepting,
      writeHealth,
    });
    sync = new SyncServer({ app, config, storage, metrics, membership, logger, fanout, writeHealth });
    sync.attach(app.server);
    // A room's state over HTTP, compressed: what a new device fetches before its first sync.
    await app.register(roomStateRoute, { rooms: sync.rooms, storage });
    for (const module of options.modules ?? []) {
      installed.unshift(await installModule(module, { app, sync, storage, membership, signIns, config, metrics, logger }));
    }
    await app.listen({ port: config.port, host: config.host });
  } catch (err) {
    // A server that failed to start (e.g. port taken) leaves nothing open behind it.
    for (const module of installed) await module.close().catch(() => undefined);
    await sync?.close().catch(() => undefined);
    await app?.close().catch(() => undefined);
    writeHealth.close();
    await pruner.close();
    if (!options.storage) await storage.close().catch(() => undefined);
    throw err;
  }
  pruner.start();
  return running(config, app, sync, installed, storage, metrics, () => {
    accepting = false;
    writeHealth.close();
    return pruner.close();
  });
}

function running(
  config: KithConfig,
  app: FastifyInstance,
  sync: SyncServer,
  /** Installed modules, in closing order; they close before the sync server. */
  modules: readonly InstalledModule[],
  storage: Storage,
  metrics: Metrics,
  /** Called first when closing; what it returns (background work stopping) is awaited before storage closes. */
  stopAccepting: () => Promise<void>,
): KithServer {
  const port = (app.server.address() as AddressInfo).port;
  const host = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      // /readyz answers 503 and sync upgrades are refused from here on.
      const stoppedBackground = stopAccepting();
      // Stop listening first so no new socket arrives while we drain.
      const stopped = new Promise<void>((resolve) => app.server.close(() => resolve()));
      // Frames already received when shutdown began (e.g. an update sent just before SIGTERM,
      // delivered in the same poll as the signal) are read and applied before the sockets are
      // closed, so the drain below stores them: let the current poll phase finish first.
      await nextTurn();
      // Modules first (they watch rooms, e.g. the live JSON sockets), then: commit everything
      // pending and close every sync socket with 1001.
      for (const module of modules) await module.close();
      await sync.close();
      app.server.closeIdleConnections?.();
      // In-flight HTTP requests get a grace period; a stalled client cannot hold the exit forever.
      const cutOff = setTimeout(() => app.server.closeAllConnections?.(), config.shutdownGraceMs);
      try {
        await app.close();
        await stopped.catch(() => undefined);
      } finally {
        clearTimeout(cutOff);
      }
      await stoppedBackground;
      await storage.close();
    })();
    return closing;
  };
  return { url, port, app, sync, storage, metrics, close };
}
