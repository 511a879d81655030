export { startKithServer, type KithServer, type StartOptions } from './server.js';
export { defaultConfig, parseConfig, helpText, type KithConfig, type Limits, type SyncTuning } from './config/config.js';
export { ERRORS, KithError, type ErrorCode } from './errors/catalogue.js';
export type * from './storage/storage.js';
export { openSqliteStorage, sqliteFileIn } from './storage/sqlite/sqlite-storage.js';
export * as protocol from './sync/protocol.js';
