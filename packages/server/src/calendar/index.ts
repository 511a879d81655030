import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { KithConfig } from '../config/config.js';
import type { MembershipEvents } from '../rooms/membership-events.js';
import type { Storage } from '../storage/storage.js';
import type { SyncServer } from '../sync/sync-server.js';
import { ImportRunner } from './import-runner.js';
import { LiveServer } from './live.js';
import { calendarRoutes, feedRoutes } from './routes.js';

export interface CalendarDeps {
  app: FastifyInstance;
  sync: SyncServer;
  storage: Storage;
  config: KithConfig;
  logger: Logger;
  /**
   * Membership changes made through this process's room API. Optional: without it a removed
   * member's live sockets stop receiving at the next change of the room (membership is re-read
   * for every delivery); with it they are told at once.
   */
  membership?: MembershipEvents;
}

export interface InstalledCalendar {
  close(): Promise<void>;
}

/**
 * The calendar APIs on top of the room documents: REST events and occurrences, the live JSON
 * socket at `/live`, the secret ICS feed and ICS import. Call before the app listens.
 */
export async function installCalendar(deps: CalendarDeps): Promise<InstalledCalendar> {
  const options = { sync: deps.sync, storage: deps.storage, config: deps.config };
  const imports = new ImportRunner(deps.config.limits, deps.logger.child({ component: 'import' }));
  await deps.app.register(calendarRoutes, { ...options, imports });
  await deps.app.register(feedRoutes, options);
  const live = new LiveServer({ ...deps, logger: deps.logger.child({ component: 'live' }) });
  deps.sync.registerUpgrade('/live', live.handleUpgrade);
  return { close: async () => Promise.all([live.close(), imports.close()]).then(() => undefined) };
}
