import { loginLimits } from '../auth/login-limits.js';
import type { KithModule } from '../modules/module.js';
import { APP_PASSWORD_MIGRATIONS, AppPasswords } from './app-passwords.js';
import { BasicVerifier } from './basic-auth.js';
import { Calendars } from './calendars.js';
import { davRoutes } from './dav-routes.js';
import { catalogMetrics, ObjectCatalog } from './object-catalog.js';
import { appPasswordRoutes, davProbeRoutes } from './routes.js';
import { OBJECT_NAME_MIGRATIONS, ObjectNames } from './object-names.js';
import { SYNC_INDEX_MIGRATIONS, SYNC_PRUNE_MIGRATIONS, SYNC_STATE_MIGRATIONS, SyncIndex, type TombstoneLimits } from './sync-index.js';

/**
 * CalDAV: each room a calendar in phones' own calendar apps (RFC 4791, RFC 6578 sync, RFC 6764
 * discovery), read and write, under `/dav/`. Sign-in is per-device app passwords (REST under
 * `/users/me/app-passwords`, table `caldav_app_passwords`) over HTTP Basic; the sync index
 * (`caldav_sync_*`) gives every instance the same sync tokens; `caldav_object_names` keeps
 * client-chosen resource names that differ from the UID.
 */
export interface CaldavOptions {
  /** How many sync tombstones a room keeps, and for how long (sync-index.ts). */
  tombstones?: Partial<TombstoneLimits>;
  /** How long a request waits for this instance's copy of a room to catch up with the sync index (calendars.ts). */
  catchUpMs?: number;
}

export function caldavModule(options: CaldavOptions = {}): KithModule {
  return {
    name: 'caldav',
    // One list per engine, in the order shipped: app passwords, the sync index, object names, tombstone pruning, then the recorded state.
    migrations: {
      sqlite: [...APP_PASSWORD_MIGRATIONS.sqlite, ...SYNC_INDEX_MIGRATIONS.sqlite, ...OBJECT_NAME_MIGRATIONS.sqlite, ...SYNC_PRUNE_MIGRATIONS.sqlite, ...SYNC_STATE_MIGRATIONS.sqlite],
      postgres: [...APP_PASSWORD_MIGRATIONS.postgres, ...SYNC_INDEX_MIGRATIONS.postgres, ...OBJECT_NAME_MIGRATIONS.postgres, ...SYNC_PRUNE_MIGRATIONS.postgres, ...SYNC_STATE_MIGRATIONS.postgres],
    },
    async install(ctx) {
      const appPasswords = new AppPasswords(ctx.sql);
      const verifier = new BasicVerifier({
        appPasswords,
        storage: ctx.storage,
        // The login's limits, applied to failed Basic sign-ins (see failure-limits.ts).
        limits: loginLimits(ctx.config.limits),
        logger: ctx.logger,
      });
      const catalog = new ObjectCatalog(ctx.rooms, undefined, undefined, catalogMetrics(ctx.metrics.registry));
      const index = new SyncIndex(ctx.sql, options.tombstones);
      const calendars = new Calendars({
        catalog,
        index,
        names: new ObjectNames(ctx.sql),
        members: ctx.members,
        storage: ctx.storage,
        catchUpMs: options.catchUpMs,
      });
      // An account deletion takes the module's rows with it: a deleted room's sync index and object
      // names, and the user's app passwords (before the 204, as the user expects).
      const stopRoomDeleted = ctx.members.onRoomDeleted(async (roomId) => {
        await index.forget(roomId);
        await ctx.sql.run('DELETE FROM caldav_object_names WHERE room_id = ?', [roomId]);
      });
      const stopUserDeleted = ctx.members.onUserDeleted((userId) => appPasswords.revokeAll(userId));
      await ctx.app.register(appPasswordRoutes, { appPasswords, auth: ctx.auth });
      await ctx.app.register(davProbeRoutes, { verifier });
      await ctx.app.register(davRoutes, { verifier, calendars });
      return {
        close: async () => {
          stopRoomDeleted();
          stopUserDeleted();
          catalog.close();
        },
      };
    },
  };
}
