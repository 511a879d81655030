import type { Pool, PoolClient } from 'pg';
import {
  checkModuleName,
  MODULE_MIGRATIONS_TABLE,
  type ModuleMigrations,
  type ModuleSql,
  type ModuleTables,
} from '../module-tables.js';

/** Advisory lock class of module migrations (the core's schema migrations use another). */
const MODULE_MIGRATION_LOCK = 0x6b69_7402;

/** Module tables in the server's PostgreSQL schema; several instances may open them at once. */
export class PostgresModuleTables implements ModuleTables {
  constructor(
    private readonly pool: Pool,
    /** The storage's transactions: rolled back on error, retried on deadlock or serialization failure. */
    private readonly tx: <T>(fn: (c: PoolClient) => Promise<T>) => Promise<T>,
  ) {}

  async open(module: string, migrations: ModuleMigrations): Promise<ModuleSql> {
    checkModuleName(module);
    await this.tx(async (c) => {
      // One instance migrates at a time; the others then find the versions applied.
      await c.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [MODULE_MIGRATION_LOCK, module]);
      await c.query(`CREATE TABLE IF NOT EXISTS ${MODULE_MIGRATIONS_TABLE} (
        module text NOT NULL, version integer NOT NULL, applied_at bigint NOT NULL,
        PRIMARY KEY (module, version))`);
      const rows = await c.query<{ version: number }>(
        `SELECT version FROM ${MODULE_MIGRATIONS_TABLE} WHERE module = $1`,
        [module],
      );
      const applied = new Set(rows.rows.map((r) => r.version));
      const newest = Math.max(0, ...applied);
      if (newest > migrations.postgres.length) {
        throw new Error(`module ${module}: its tables (version ${newest}) are newer than this module knows (${migrations.postgres.length})`);
      }
      for (const [i, sql] of migrations.postgres.entries()) {
        if (applied.has(i + 1)) continue;
        await c.query(sql);
        await c.query(`INSERT INTO ${MODULE_MIGRATIONS_TABLE} (module, version, applied_at) VALUES ($1, $2, $3)`, [
          module,
          i + 1,
          Date.now(),
        ]);
      }
    });
    return handleOn(this.pool, (fn) =>
      this.tx((c) => {
        // Inside a transaction, a nested `transaction` just runs on the same connection.
        const tx: ModuleSql = handleOn(c, (inner) => inner(tx));
        return fn(tx);
      }),
    );
  }
}

type Queryable = Pick<Pool, 'query'> | PoolClient;

function handleOn(q: Queryable, transaction: ModuleSql['transaction']): ModuleSql {
  const query = async (sql: string, params: readonly unknown[]) => q.query(toPostgresPlaceholders(sql), [...params]);
  const handle: ModuleSql = {
    engine: 'postgres',
    get: async <T>(sql: string, params: readonly unknown[] = []) => (await query(sql, params)).rows[0] as T | undefined,
    all: async <T>(sql: string, params: readonly unknown[] = []) => (await query(sql, params)).rows as T[],
    run: async (sql, params = []) => ({ changes: (await query(sql, params)).rowCount ?? 0 }),
    transaction,
  };
  return handle;
}


/** `?` → `$1, $2, …`, leaving quoted strings and identifiers alone. */
export function toPostgresPlaceholders(sql: string): string {
  let n = 0;
  return sql.replace(/'(?:[^']|'')*'|"(?:[^"]|"")*"|\?/g, (m) => (m === '?' ? `$${++n}` : m));
}
