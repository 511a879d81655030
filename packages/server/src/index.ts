export { startKithServer, type KithServer, type StartOptions } from './server.js';
export { defaultConfig, parseConfig, helpText, type KithConfig, type Limits, type SyncTuning } from './config/config.js';
export { createLogger, logDestination, resolveLogFormat } from './ops/logger.js';
export { ERRORS, KithError, type ErrorCode } from './errors/catalogue.js';
export type * from './storage/storage.js';
export { openSqliteStorage, sqliteFileIn } from './storage/sqlite/sqlite-storage.js';
export { openStorage, storageEngineFor } from './storage/open-storage.js';
export { openPostgresStorage } from './storage/postgres/postgres-storage.js';
export { LocalFanout, type Fanout } from './cluster/fanout.js';
export { RedisFanout } from './cluster/redis-fanout.js';
export * as protocol from '@kith/protocol';
export { calendarModule } from './calendar/index.js';
export { caldavModule } from './caldav/index.js';
export { accountModule } from './account/index.js';
export { DueIndex as NotifyDueIndex } from './notify/due-index.js';
export { remindersOf as notifyRemindersOf } from './notify/reminders.js';
export { ManualClock, notifyModule, webhookChannel, type AnyChannel, type Channel, type Delivery, type NotifyOptions, type NotifyParts, type SendOutcome } from './notify/index.js';
export { channelsOption, NOTIFY_CHANNEL_MIGRATIONS } from './notify/channels/index.js';
export type {
  KithModule,
  InstalledModule,
  ModuleContext,
  RoomApi,
  RoomWatcher,
  UpgradeAccess,
  UpgradeHandler,
  RequestAuth,
  AuthenticatedUser,
  MemberLookup,
  MembershipChange,
} from './modules/module.js';
export type { ModuleMigrations, ModuleSql, ModuleTables } from './storage/module-tables.js';
export {
  parseServerConfig,
  optionReader,
  ConfigError,
  type ConfigOption,
  type ModuleOptions,
  type OptionReader,
} from './config/config.js';
