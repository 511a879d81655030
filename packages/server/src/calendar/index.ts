import { initRoom } from '@kith/model';
import type { KithModule } from '../modules/module.js';
import { ImportRunner } from './import-runner.js';
import { LiveServer } from './live.js';
import type { CalendarSync } from './room-sync.js';
import { calendarRoutes, feedRoutes } from './routes.js';

/**
 * The calendar on top of the room documents: REST events and occurrences, the live JSON socket at
 * `/live`, the secret ICS feed and ICS import. No tables of its own: events live in the rooms, and
 * the feeds in the core's storage.
 */
export function calendarModule(): KithModule {
  return {
    name: 'calendar',
    async install(ctx) {
      const sync: CalendarSync = {
        readRoom: (roomId, read) => ctx.rooms.read(roomId, read),
        editRoom: (roomId, edit) => ctx.rooms.edit(roomId, edit),
        watchRoom: (roomId, watcher) => ctx.rooms.watch(roomId, watcher),
        quota: ctx.upgrades.quota,
        addressOf: (req) => ctx.upgrades.addressOf(req),
      };
      // A room made over REST gets the header a @kith/client writes on open (schema version, name),
      // so every client finds it from the start.
      const stopInit = ctx.members.onRoomCreated(({ roomId, name }) => ctx.rooms.edit(roomId, (doc) => initRoom(doc, { name })));
      const options = { sync, storage: ctx.storage, config: ctx.config };
      const imports = new ImportRunner(ctx.config.limits, ctx.componentLogger('import'));
      await ctx.app.register(calendarRoutes, { ...options, imports });
      await ctx.app.register(feedRoutes, options);
      const live = new LiveServer({
        app: ctx.app,
        ...options,
        logger: ctx.componentLogger('live'),
        // A removed member's live sockets are told at once (membership is also re-read per delivery).
        membership: { subscribe: ctx.members.onChange },
      });
      ctx.upgrades.register('/live', live.handleUpgrade);
      return {
        close: async () => {
          stopInit();
          await Promise.all([live.close(), imports.close()]);
        },
      };
    },
  };
}
