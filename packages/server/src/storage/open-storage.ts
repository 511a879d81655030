import type { SqliteSynchronous } from '../config/config.js';
import { openSqliteStorage, sqliteFileIn } from './sqlite/sqlite-storage.js';
import type { Storage } from './storage.js';

export interface OpenStorageOptions {
  /**
   * `postgres://…` or `postgresql://…` selects PostgreSQL. Unset or empty: the SQLite file in
   * `dataDir`. Any other value is refused rather than silently falling back to a local file.
   */
  databaseUrl?: string | undefined;
  /** Folder of the SQLite file (used only without a database URL). */
  dataDir: string;
  sqliteSynchronous?: SqliteSynchronous;
  /** PostgreSQL only: called when an idle pooled connection fails (the pool replaces it). */
  onIdleError?: (err: Error) => void;
}

export type StorageEngine = 'postgres' | 'sqlite';

/** Which engine `openStorage` picks for this URL; throws on a URL of an unsupported kind. */
export function storageEngineFor(databaseUrl: string | undefined): StorageEngine {
  if (databaseUrl === undefined || databaseUrl.trim() === '') return 'sqlite';
  if (/^postgres(ql)?:\/\//i.test(databaseUrl.trim())) return 'postgres';
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(databaseUrl)?.[1];
  throw new Error(
    `Unsupported database URL${scheme ? ` scheme "${scheme}:"` : ''}: use postgres://… or postgresql://…, or leave it unset for SQLite in the data dir.`,
  );
}

/**
 * Opens the configured storage: PostgreSQL when a postgres URL is given (connects and migrates,
 * hence async), otherwise the embedded SQLite file in the data dir.
 */
export async function openStorage(options: OpenStorageOptions): Promise<Storage> {
  if (storageEngineFor(options.databaseUrl) === 'postgres') {
    // Loaded only when used: `pg` is not needed (nor paid for at start-up) on the SQLite default.
    const { openPostgresStorage } = await import('./postgres/postgres-storage.js');
    return openPostgresStorage({
      connectionString: (options.databaseUrl as string).trim(),
      ...(options.onIdleError ? { onIdleError: options.onIdleError } : {}),
    });
  }
  return openSqliteStorage({
    file: sqliteFileIn(options.dataDir),
    ...(options.sqliteSynchronous ? { synchronous: options.sqliteSynchronous } : {}),
  });
}
