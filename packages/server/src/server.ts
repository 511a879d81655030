import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { buildApp } from './app.js';
import { loadOrCreateJwtSecret } from './auth/secret.js';
import { defaultConfig, type KithConfig } from './config/config.js';
import { createLogger } from './ops/logger.js';
import { Metrics } from './ops/metrics.js';
import { MembershipEvents } from './rooms/membership-events.js';
import { openSqliteStorage, sqliteFileIn } from './storage/sqlite/sqlite-storage.js';
import type { Storage } from './storage/storage.js';
import { SyncServer } from './sync/sync-server.js';

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
}

/** Starts a kith-server: HTTP API and sync WebSocket on one port. */
export async function startKithServer(
  config: KithConfig = defaultConfig(),
  options: StartOptions = {},
): Promise<KithServer> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const storage =
    options.storage ??
    openSqliteStorage({ file: sqliteFileIn(config.dataDir), synchronous: config.sqliteSynchronous });
  const metrics = new Metrics();
  const membership = new MembershipEvents();
  let accepting = true;
  const app = await buildApp({
    config,
    storage,
    metrics,
    membership,
    logger,
    jwtSecret: loadOrCreateJwtSecret(config.dataDir, config.jwtSecret),
    isAccepting: () => accepting,
  });
  const sync = new SyncServer({ app, config, storage, metrics, membership, logger });
  sync.attach(app.server);
  await app.listen({ port: config.port, host: config.host });
  const port = (app.server.address() as AddressInfo).port;
  const host = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      accepting = false;
      // Stop listening first so no new socket arrives while we drain.
      const stopped = new Promise<void>((resolve) => app.server.close(() => resolve()));
      await sync.close();
      app.server.closeIdleConnections?.();
      await app.close();
      await stopped.catch(() => undefined);
      await storage.close();
    })();
    return closing;
  };
  return { url, port, app, sync, storage, metrics, close };
}
