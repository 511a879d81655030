/**
 * @kith/sync-google — the Google Calendar mirror.
 *
 * The fake Google Calendar API used by the tests and the local demo is exported from
 * `@kith/sync-google/fake-google` (and re-exported here for convenience).
 */
export * from './fake-google/index.js';
