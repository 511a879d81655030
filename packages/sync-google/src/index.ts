/**
 * @kith/sync-google — OAuth 2.0 and a crash-safe two-way mirror between Kith rooms and Google Calendar.
 *
 * - `googleModule(config)`: the mirror as a kith-server module; `googleOptions` its `--google-*` options.
 * - `installGoogleSync(app, host, options)`: routes + worker inside any Fastify server.
 * - `startGoogleSyncWorker({ host, options })`: the worker alone; `registerGoogleRoutes(app, worker)` mounts
 *   the routes on another app.
 *
 * The fake Google Calendar API used by the tests and the local demo is the private workspace package
 * `@kith/fake-google`; it is not shipped here.
 */
export { googleModule } from './module.js';
export { googleOptions, defaultGoogleConfig, readGoogleCredentials, GOOGLE_OPTIONS, type GoogleConfig } from './config.js';
export { installGoogleSync, type InstalledGoogleSync } from './install.js';
export { GoogleSyncWorker, startGoogleSyncWorker, LINKED_USER_DELETED, type LinkStatusView, type GoogleEventView } from './worker.js';
export { registerGoogleRoutes, GOOGLE_ERRORS, GoogleRouteError, type GoogleErrorCode } from './routes.js';
export {
  CALENDAR_APP_CREATED,
  CALENDAR_FULL,
  SYNC_ORIGIN,
  RoomRefused,
  isConfigured,
  type GoogleSyncHost,
  type GoogleSyncLogger,
  type GoogleSyncOptions,
  type VerifiedUser,
} from './options.js';
export { googleIdFor, adoptedKithId } from './runner.js';
export { kithParts, remoteCanon, googleMaster, type PartCanon, type Fields, type Time } from './canon.js';
export { StateStore, STATE_FILE } from './store.js';
export { startStandaloneWorker, RemoteHost, signAccessToken, readJwtSecret, type StandaloneOptions, type StandaloneWorker } from './standalone.js';
