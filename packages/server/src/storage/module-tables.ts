/**
 * Tables that belong to a module (CalDAV, notifications, …), kept in the server's own storage next
 * to the core's, with the module's own migrations. The core never reads them.
 */

/** A module's schema, in order, once per engine. Never edit a shipped step: append a new one. */
export interface ModuleMigrations {
  sqlite: readonly string[];
  postgres: readonly string[];
}

/**
 * A small SQL handle on the server's database. Placeholders are `?` on both engines (translated to
 * `$1, $2, …` for PostgreSQL). Write portable SQL, or branch on `engine`.
 */
export interface ModuleSql {
  readonly engine: 'sqlite' | 'postgres';
  get<T = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<T | undefined>;
  all<T = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  /** Runs a statement; resolves with how many rows it changed. */
  run(sql: string, params?: readonly unknown[]): Promise<{ changes: number }>;
  /**
   * Runs `fn` in one transaction, rolled back if it throws. On SQLite the database is one
   * connection shared with the core, so the body must await only this handle (no network or
   * timers): then it runs to the end before anything else touches the database. On PostgreSQL
   * a deadlock or serialization failure runs the whole of `fn` again (a few times), like the core's
   * own transactions: keep side effects outside it.
   */
  transaction<T>(fn: (sql: ModuleSql) => Promise<T>): Promise<T>;
}

export interface ModuleTables {
  /**
   * Applies the module's migrations not yet applied (recorded in `module_migrations(module,
   * version)`, version = 1-based index in the list) and returns its SQL handle.
   */
  open(module: string, migrations: ModuleMigrations): Promise<ModuleSql>;
}

/** Table names are shared with the core: prefix yours with the module name. */
export const MODULE_MIGRATIONS_TABLE = 'module_migrations';

export function checkModuleName(module: string): void {
  if (!/^[a-z][a-z0-9-]{0,62}$/.test(module)) {
    throw new Error(`module name "${module}" must be lowercase letters, digits and dashes`);
  }
}
