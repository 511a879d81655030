import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { bearerToken, verifyAccessToken } from '../auth/access-tokens.js';
import type { KithConfig } from '../config/config.js';
import { KithError } from '../errors/catalogue.js';
import type { Storage } from '../storage/storage.js';
import type { SyncServer } from '../sync/sync-server.js';

/**
 * Mounts the Google Calendar mirror (@kith/sync-google): its OAuth and link routes, and its worker
 * in this process unless it runs as its own `kith-sync-google`. Without credentials the routes
 * answer GOOGLE_NOT_CONFIGURED. The package stays free of server imports: it gets the rooms
 * through this small host.
 */
export async function installGoogle(
  app: FastifyInstance,
  sync: SyncServer,
  storage: Storage,
  config: KithConfig,
  logger: Logger,
): Promise<{ close(): Promise<void> }> {
  const { installGoogleSync } = await import('@kith/sync-google');
  const g = config.google;
  return installGoogleSync(
    app,
    {
      editRoom: (roomId, edit) => sync.editRoom(roomId, edit),
      readRoom: (roomId, read) => sync.readRoom(roomId, read),
      watchRoom: (roomId, watcher) => sync.watchRoom(roomId, watcher),
      memberRole: async (roomId, userId) => (await storage.rooms.member(roomId, userId))?.role,
      roomName: async (roomId) => (await storage.rooms.get(roomId))?.name,
    },
    {
      clientId: g.clientId,
      clientSecret: g.clientSecret,
      redirectUrl: g.redirectUrl,
      apiRootUrl: g.apiRootUrl,
      oauthBaseUrl: g.oauthBaseUrl,
      tokenKey: g.tokenKey,
      webhookBaseUrl: g.webhookUrl,
      runWorker: g.worker !== 'external',
      dataDir: config.dataDir,
      logger: logger.child({ component: 'sync-google' }),
      verifyUser: async (request) => {
        const claims = verifyAccessToken(app, bearerToken(request.headers.authorization));
        if (!(await storage.users.findById(claims.userId))) throw new KithError('UNAUTHENTICATED');
        return { userId: claims.userId, username: claims.username };
      },
    },
  );
}
