import { loginLimits } from '../auth/login-limits.js';
import type { KithModule } from '../modules/module.js';
import { APP_PASSWORD_MIGRATIONS, AppPasswords } from './app-passwords.js';
import { BasicVerifier } from './basic-auth.js';
import { appPasswordRoutes, davProbeRoutes } from './routes.js';

/**
 * CalDAV: each room a calendar in phones' own calendar apps. This first part is its sign-in:
 * per-device app passwords (REST under `/users/me/app-passwords`, table `caldav_app_passwords`)
 * and the HTTP Basic verifier the CalDAV routes will call, exposed for now by the `GET /dav/` probe.
 */
export function caldavModule(): KithModule {
  return {
    name: 'caldav',
    migrations: APP_PASSWORD_MIGRATIONS,
    async install(ctx) {
      const appPasswords = new AppPasswords(ctx.sql);
      const verifier = new BasicVerifier({
        appPasswords,
        storage: ctx.storage,
        // The login's limits, applied to failed Basic sign-ins (see failure-limits.ts).
        limits: loginLimits(ctx.config.limits),
        logger: ctx.logger,
      });
      await ctx.app.register(appPasswordRoutes, { appPasswords, auth: ctx.auth });
      await ctx.app.register(davProbeRoutes, { verifier });
      return { close: async () => undefined };
    },
  };
}
