import { KithError } from '../errors/catalogue.js';
import type { KithModule } from '../modules/module.js';
import { exportAccount } from './export.js';

/**
 * The member's own account as a whole: `GET /users/me/export` (each room as .ics plus the room
 * document's JSON). No tables of its own.
 */
export function accountModule(): KithModule {
  return {
    name: 'account',
    async install(ctx) {
      ctx.app.get('/users/me/export', { config: { rateLimit: { max: 5, timeWindow: '1 minute' } } }, async (request, reply) => {
        const me = await ctx.auth.verifyRequest(request);
        const data = await exportAccount(me.userId, { storage: ctx.storage, rooms: ctx.rooms });
        if (!data) throw new KithError('UNAUTHENTICATED');
        request.log.info({ rooms: data.rooms.length }, 'account exported');
        const day = data.exportedAt.slice(0, 10);
        return reply
          .header('cache-control', 'no-store')
          .header('content-disposition', `attachment; filename="kith-export-${me.username}-${day}.json"`)
          .send(data);
      });
      return { close: async () => undefined };
    },
  };
}
