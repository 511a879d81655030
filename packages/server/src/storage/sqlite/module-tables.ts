import type { Database, Statement } from 'better-sqlite3';
import {
  checkModuleName,
  MODULE_MIGRATIONS_TABLE,
  type ModuleMigrations,
  type ModuleSql,
  type ModuleTables,
} from '../module-tables.js';

const MAX_CACHED_STATEMENTS = 256;

/** Module tables in the server's SQLite file, on the core's connection (see ModuleSql.transaction). */
export class SqliteModuleTables implements ModuleTables {
  /** Module transactions one after another: they share the one connection. */
  private queue: Promise<unknown> = Promise.resolve();
  /**
   * Prepared statements by SQL text: modules run the same few statements over and over, and
   * preparing one costs more than running it. Emptied when full (SQL built with a varying number
   * of placeholders would otherwise grow it without end).
   */
  private readonly statements = new Map<string, Statement>();

  constructor(private readonly db: Database) {}

  private prepare(sql: string): Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      if (this.statements.size >= MAX_CACHED_STATEMENTS) this.statements.clear();
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  async open(module: string, migrations: ModuleMigrations): Promise<ModuleSql> {
    checkModuleName(module);
    const db = this.db;
    db.exec(`CREATE TABLE IF NOT EXISTS ${MODULE_MIGRATIONS_TABLE} (
      module TEXT NOT NULL, version INTEGER NOT NULL, applied_at INTEGER NOT NULL,
      PRIMARY KEY (module, version)) WITHOUT ROWID`);
    const applied = new Set(
      db.prepare(`SELECT version FROM ${MODULE_MIGRATIONS_TABLE} WHERE module = ?`).pluck().all(module) as number[],
    );
    const newest = Math.max(0, ...applied);
    if (newest > migrations.sqlite.length) {
      throw new Error(`module ${module}: its tables (version ${newest}) are newer than this module knows (${migrations.sqlite.length})`);
    }
    migrations.sqlite.forEach((sql, i) => {
      const version = i + 1;
      if (applied.has(version)) return;
      db.transaction(() => {
        db.exec(sql);
        db.prepare(`INSERT INTO ${MODULE_MIGRATIONS_TABLE} (module, version, applied_at) VALUES (?, ?, ?)`).run(
          module,
          version,
          Date.now(),
        );
      }).immediate();
    });
    return this.handle(false);
  }

  private handle(inTransaction: boolean): ModuleSql {
    const db = this.db;
    const handle: ModuleSql = {
      engine: 'sqlite',
      get: async <T>(sql: string, params: readonly unknown[] = []) => this.prepare(sql).get(...params) as T | undefined,
      all: async <T>(sql: string, params: readonly unknown[] = []) => this.prepare(sql).all(...params) as T[],
      run: async (sql, params = []) => ({ changes: this.prepare(sql).run(...params).changes }),
      transaction: async (fn) => {
        if (inTransaction) return fn(handle);
        const run = this.queue.then(async () => {
          db.exec('BEGIN IMMEDIATE');
          try {
            const result = await fn(this.handle(true));
            db.exec('COMMIT');
            return result;
          } catch (err) {
            if (db.inTransaction) db.exec('ROLLBACK');
            throw err;
          }
        });
        this.queue = run.catch(() => undefined);
        return run;
      },
    };
    return handle;
  }
}
