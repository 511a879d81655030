import { initRoom } from '@kith/model';
import type { KithModule } from '../modules/module.js';
import { FeedBuilder } from './feed-builder.js';
import { FeedCache } from './feed-cache.js';
import { ImportRunner } from './import-runner.js';
import { LiveServer } from './live.js';
import { calendarRoutes, feedRoutes } from './routes.js';
import { WorkBudgets } from './work-budget.js';

/**
 * The calendar on top of the room documents: REST events and occurrences, the live JSON socket at
 * `/live`, the secret ICS feed and ICS import. No tables of its own: events live in the rooms, and
 * the feeds in the core's storage.
 */
export function calendarModule(): KithModule {
  return {
    name: 'calendar',
    async install(ctx) {
      // A room made over REST gets the header a @kith/client writes on open (schema version, name),
      // so every client finds it from the start.
      const stopInit = ctx.members.onRoomCreated(({ roomId, name }) => ctx.rooms.edit(roomId, (doc) => initRoom(doc, { name })));
      const options = { rooms: ctx.rooms, storage: ctx.storage, config: ctx.config };
      const imports = new ImportRunner(ctx.config.limits, ctx.componentLogger('import'));
      // One conversion-work budget per user across REST and /live (work-budget.ts).
      const work = new WorkBudgets();
      await ctx.app.register(calendarRoutes, { ...options, imports, work });
      const builder = new FeedBuilder(ctx.componentLogger('feeds'));
      await ctx.app.register(feedRoutes, { ...options, feeds: new FeedCache(ctx.metrics.registry), builder });
      const live = new LiveServer({
        app: ctx.app,
        ...options,
        upgrades: ctx.upgrades,
        logger: ctx.componentLogger('live'),
        // A removed member's live sockets are told at once (membership is also re-read per delivery).
        membership: { subscribe: ctx.members.onChange },
        work,
      });
      ctx.upgrades.register('/live', live.handleUpgrade);
      return {
        close: async () => {
          stopInit();
          await Promise.all([live.close(), imports.close(), builder.close()]);
        },
      };
    },
  };
}
