/**
 * The Google mirror as a kith-server module: its OAuth and link routes, and its worker in this
 * process unless it runs as its own `kith-sync-google` (`worker: 'external'`). Without credentials
 * the routes answer GOOGLE_NOT_CONFIGURED.
 */
import type { KithModule } from '@kith/server';
import type { GoogleConfig } from './config.js';
import { installGoogleSync } from './install.js';

/** How long an account deletion waits for Google to take the deleted user's revocation before it answers. */
const USER_DELETION_WAIT_MS = 5_000;

export function googleModule(config: GoogleConfig): KithModule {
  return {
    // Also the `component` of its log lines, as before it was a module.
    name: 'sync-google',
    async install(ctx) {
      const installed = await installGoogleSync(
        ctx.app,
        {
          editRoom: (roomId, edit) => ctx.rooms.edit(roomId, edit),
          readRoom: (roomId, read) => ctx.rooms.read(roomId, read),
          watchRoom: (roomId, watcher) => ctx.rooms.watch(roomId, watcher),
          memberRole: (roomId, userId) => ctx.members.role(roomId, userId),
          roomName: (roomId) => ctx.members.roomName(roomId),
        },
        {
          clientId: config.clientId,
          clientSecret: config.clientSecret,
          redirectUrl: config.redirectUrl,
          apiRootUrl: config.apiRootUrl,
          oauthBaseUrl: config.oauthBaseUrl,
          tokenKey: config.tokenKey,
          webhookBaseUrl: config.webhookUrl,
          runWorker: config.worker !== 'external',
          dataDir: ctx.dataDir,
          logger: ctx.logger,
          verifyUser: (request) => ctx.auth.verifyRequest(request),
        },
      );
      // A deleted room (its last owner deleted their account) can no longer be unlinked by anyone: unlink it here,
      // so its Google grant is revoked and its tokens forgotten. In the background: Google must not hold up the
      // account deletion (a revocation it refuses is retried later).
      const stopWatching = ctx.members.onRoomDeleted(async (roomId) => {
        void installed.worker?.unlink(roomId).catch((err: unknown) => {
          ctx.logger.warn({ roomId, err: err instanceof Error ? err.message : String(err) }, 'could not unlink a deleted room from Google');
        });
      });
      // A deleted user's Google access ends with their account: the links they made in rooms that remain stop at
      // once and their tokens are erased (done before the worker's first await, so before the account deletion
      // answers), then their grant is revoked unless a link of another user holds it. Google's part is waited for
      // a few seconds at most: a revocation it refuses, or one still under way, is retried in the background.
      const stopWatchingUsers = ctx.members.onUserDeleted(async (userId) => {
        const worker = installed.worker;
        if (!worker) return;
        const done = worker.userDeleted(userId).catch((err: unknown) => {
          ctx.logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'could not stop the Google links of a deleted user');
        });
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([done, new Promise<void>((resolve) => (timer = setTimeout(resolve, USER_DELETION_WAIT_MS)))]);
        clearTimeout(timer);
      });
      return {
        worker: installed.worker,
        close: async () => {
          stopWatching();
          stopWatchingUsers();
          await installed.close();
        },
      };
    },
  };
}
