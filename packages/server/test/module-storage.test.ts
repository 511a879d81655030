/**
 * Modules' own tables (storage.modules): the same contract on SQLite and PostgreSQL — migrations
 * applied once per module and version, kept apart between modules, `?` placeholders on both
 * engines, transactions that commit or roll back as a whole. PostgreSQL is skipped like in
 * storage-contract.test.ts when it is not reachable (unless KITH_REQUIRE_SERVICES=1).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openStorage } from '../src/storage/open-storage.js';
import type { ModuleMigrations } from '../src/storage/module-tables.js';
import { toPostgresPlaceholders } from '../src/storage/postgres/module-tables.js';
import type { Storage } from '../src/storage/storage.js';
import { describeOnPostgres, openTestPostgresStorage } from './helpers/postgres.js';

type Opened = { storage: Storage; reopen: () => Promise<Storage>; cleanup: () => Promise<void> };

/** A CalDAV-like module: a table in version 1, a column added in version 2. */
const V1: ModuleMigrations = {
  sqlite: ['CREATE TABLE davtest_passwords (user_id TEXT PRIMARY KEY, label TEXT NOT NULL, created_at INTEGER NOT NULL)'],
  postgres: ['CREATE TABLE davtest_passwords (user_id text PRIMARY KEY, label text NOT NULL, created_at bigint NOT NULL)'],
};
const V2: ModuleMigrations = {
  sqlite: [...V1.sqlite, 'ALTER TABLE davtest_passwords ADD COLUMN used_at INTEGER'],
  postgres: [...V1.postgres, 'ALTER TABLE davtest_passwords ADD COLUMN used_at bigint'],
};

function describeModuleTables(name: string, open: () => Promise<Opened>): void {
  describe(`module tables: ${name}`, () => {
    const cleanups: Array<() => Promise<void>> = [];
    afterEach(async () => {
      for (const c of cleanups.splice(0)) await c();
    });
    const opened = async () => {
      const o = await open();
      cleanups.push(o.cleanup);
      return o;
    };

    it('applies a module’s migrations once, then only the new ones, across restarts', async () => {
      const o = await opened();
      const sql = await o.storage.modules.open('davtest', V1);
      await sql.run('INSERT INTO davtest_passwords (user_id, label, created_at) VALUES (?, ?, ?)', ['u1', 'phone', 1]);
      // Opening again (another start of the server) does not run version 1 again.
      const again = await o.storage.modules.open('davtest', V1);
      expect(await again.all('SELECT user_id, label FROM davtest_passwords')).toEqual([{ user_id: 'u1', label: 'phone' }]);
      const storage = await o.reopen();
      const v2 = await storage.modules.open('davtest', V2);
      await v2.run('UPDATE davtest_passwords SET used_at = ? WHERE user_id = ?', [5, 'u1']);
      expect(await v2.get('SELECT label, used_at FROM davtest_passwords WHERE user_id = ?', ['u1'])).toEqual({
        label: 'phone',
        used_at: 5,
      });
      expect(await v2.get('SELECT label FROM davtest_passwords WHERE user_id = ?', ['nobody'])).toBeUndefined();
      const versions = await v2.all<{ module: string; version: number }>(
        'SELECT module, version FROM module_migrations ORDER BY module, version',
      );
      expect(versions.map((v) => [v.module, Number(v.version)])).toEqual([
        ['davtest', 1],
        ['davtest', 2],
      ]);
    });

    it('keeps modules’ versions apart, and refuses tables newer than the module knows', async () => {
      const o = await opened();
      await o.storage.modules.open('davtest', V2);
      const other = await o.storage.modules.open('notifytest', {
        sqlite: ['CREATE TABLE notifytest_subs (id TEXT PRIMARY KEY)'],
        postgres: ['CREATE TABLE notifytest_subs (id text PRIMARY KEY)'],
      });
      expect(await other.run('INSERT INTO notifytest_subs (id) VALUES (?)', ['s1'])).toEqual({ changes: 1 });
      await expect(o.storage.modules.open('davtest', V1)).rejects.toThrow(/newer than this module knows/);
      await expect(o.storage.modules.open('Bad Name', V1)).rejects.toThrow(/lowercase/);
    });

    it('a failing migration leaves its version unapplied, so the next start runs it again', async () => {
      const o = await opened();
      const broken: ModuleMigrations = {
        sqlite: [...V1.sqlite, 'ALTER TABLE no_such_table ADD COLUMN x INTEGER'],
        postgres: [...V1.postgres, 'ALTER TABLE no_such_table ADD COLUMN x bigint'],
      };
      await expect(o.storage.modules.open('davtest', broken)).rejects.toThrow();
      const sql = await o.storage.modules.open('davtest', V2);
      await sql.run('INSERT INTO davtest_passwords (user_id, label, created_at, used_at) VALUES (?, ?, ?, ?)', ['u', 'l', 1, 2]);
      expect(await sql.get('SELECT used_at FROM davtest_passwords')).toEqual({ used_at: 2 });
    });

    it('a transaction commits as a whole, or rolls back as a whole when its body throws', async () => {
      const o = await opened();
      const sql = await o.storage.modules.open('davtest', V1);
      await sql.transaction(async (tx) => {
        await tx.run('INSERT INTO davtest_passwords (user_id, label, created_at) VALUES (?, ?, ?)', ['a', 'one', 1]);
        await tx.run('INSERT INTO davtest_passwords (user_id, label, created_at) VALUES (?, ?, ?)', ['b', 'two', 2]);
      });
      await expect(
        sql.transaction(async (tx) => {
          await tx.run('INSERT INTO davtest_passwords (user_id, label, created_at) VALUES (?, ?, ?)', ['c', 'three', 3]);
          // A nested transaction joins the outer one.
          await tx.transaction((inner) => inner.run('DELETE FROM davtest_passwords WHERE user_id = ?', ['a']));
          throw new Error('changed my mind');
        }),
      ).rejects.toThrow('changed my mind');
      const rows = await sql.all<{ user_id: string }>('SELECT user_id FROM davtest_passwords ORDER BY user_id');
      expect(rows.map((r) => r.user_id)).toEqual(['a', 'b']);
      // Concurrent transactions each see their own reads and writes.
      await Promise.all(
        ['x', 'y', 'z'].map((id, i) =>
          sql.transaction(async (tx) => {
            const n = await tx.get<{ n: number }>('SELECT COUNT(*) AS n FROM davtest_passwords');
            await tx.run('INSERT INTO davtest_passwords (user_id, label, created_at) VALUES (?, ?, ?)', [id, String(n?.n), i]);
          }),
        ),
      );
      expect(Number((await sql.get<{ n: number }>('SELECT COUNT(*) AS n FROM davtest_passwords'))?.n)).toBe(5);
    });
  });
}

describe('placeholders for PostgreSQL', () => {
  it('numbers each ?, leaving those in string literals and quoted identifiers alone', () => {
    expect(toPostgresPlaceholders(`SELECT * FROM t WHERE a = ? AND b = '?' AND "c?" = ? AND d = 'it''s ?'`)).toBe(
      `SELECT * FROM t WHERE a = $1 AND b = '?' AND "c?" = $2 AND d = 'it''s ?'`,
    );
  });
});

describeModuleTables('SQLite', async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kith-module-tables-'));
  const opened: Storage[] = [];
  const openOne = async () => {
    const storage = await openStorage({ dataDir, sqliteSynchronous: 'normal' });
    opened.push(storage);
    return storage;
  };
  const storage = await openOne();
  return {
    storage,
    reopen: async () => {
      await opened.at(-1)!.close();
      return openOne();
    },
    cleanup: async () => {
      for (const s of opened) await s.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
});

await describeOnPostgres('PostgreSQL', (pgUrl) => {
  describeModuleTables('PostgreSQL', async () => {
    const first = await openTestPostgresStorage(pgUrl);
    // Reopening is a second pool on the same schema: another start of the server (or another instance).
    const { openPostgresStorage } = await import('../src/storage/postgres/postgres-storage.js');
    const others: Storage[] = [];
    return {
      storage: first.storage,
      reopen: async () => {
        const url = new URL(pgUrl);
        url.searchParams.set('options', `-c search_path=${first.schema}`);
        const s = await openPostgresStorage({ connectionString: url.toString() });
        others.push(s);
        return s;
      },
      cleanup: async () => {
        for (const s of others) await s.close();
        await first.cleanup();
      },
    };
  });
});
