import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { bearerToken, verifyAccessToken } from '../auth/access-tokens.js';
import type { KithConfig } from '../config/config.js';
import { KithError } from '../errors/catalogue.js';
import type { Metrics } from '../ops/metrics.js';
import type { SignInEvents } from '../auth/sign-in-events.js';
import type { MembershipEvents } from '../rooms/membership-events.js';
import type { ModuleSql } from '../storage/module-tables.js';
import type { Storage } from '../storage/storage.js';
import type { SyncServer } from '../sync/sync-server.js';
import type { InstalledModule, KithModule, ModuleContext } from './module.js';

/** What the server hands the host; each module gets its own context built from it. */
export interface ModuleHostDeps {
  app: FastifyInstance;
  sync: SyncServer;
  storage: Storage;
  membership: MembershipEvents;
  /** Absent in hosts built without the auth routes' bus: then no sign-in is ever reported. */
  signIns?: SignInEvents;
  config: KithConfig;
  metrics: Metrics;
  logger: Logger;
}

/** Builds the module's context (opening its tables first, if it has any) and installs it. */
export async function installModule(module: KithModule, deps: ModuleHostDeps): Promise<InstalledModule> {
  const sql = module.migrations ? await deps.storage.modules.open(module.name, module.migrations) : noTables(module.name);
  return module.install(moduleContext(module.name, sql, deps));
}

function moduleContext(name: string, sql: ModuleSql, deps: ModuleHostDeps): ModuleContext {
  const { app, sync, storage } = deps;
  const verifyToken = async (token: string | undefined) => {
    const claims = verifyAccessToken(app, token);
    // A valid token of a deleted account is no longer anyone.
    if (!(await storage.users.findById(claims.userId))) throw new KithError('UNAUTHENTICATED');
    return { userId: claims.userId, username: claims.username };
  };
  return {
    app,
    rooms: sync.rooms,
    upgrades: {
      register: (path, handler) => sync.registerUpgrade(path, handler),
      addressOf: (req) => sync.addressOf(req),
      quota: sync.quota,
    },
    auth: {
      verifyRequest: (request) => verifyToken(bearerToken(request.headers.authorization)),
      verifyToken,
      onSignIn: (listener) => deps.signIns?.subscribe(listener) ?? (() => undefined),
    },
    members: {
      role: async (roomId, userId) => (await storage.rooms.member(roomId, userId))?.role,
      roomName: async (roomId) => (await storage.rooms.get(roomId))?.name,
      onChange: (listener) => deps.membership.subscribe(listener),
      onRoomCreated: (listener) => deps.membership.onRoomCreated(listener),
      onRoomDeleted: (listener) => deps.membership.onRoomDeleted(listener),
      roomDeleted: (roomId) => deps.membership.roomDeleted(roomId),
      onUserDeleted: (listener) => deps.membership.onUserDeleted(listener),
      userDeleted: (userId) => deps.membership.userDeleted(userId),
      changed: (change) => deps.membership.publish(change),
    },
    sql,
    storage,
    config: deps.config,
    metrics: deps.metrics,
    logger: deps.logger.child({ component: name }),
    componentLogger: (component) => deps.logger.child({ component }),
    dataDir: deps.config.dataDir,
  };
}

/** The `sql` of a module without tables: says what is missing instead of failing obscurely. */
function noTables(name: string): ModuleSql {
  const fail = (): never => {
    throw new Error(`module ${name} declared no migrations, so it has no tables`);
  };
  return { engine: 'sqlite', get: fail, all: fail, run: fail, transaction: fail };
}
