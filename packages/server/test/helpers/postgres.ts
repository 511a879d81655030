import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { requireServices } from '@kith/test-support';
import { describe, it } from 'vitest';
import { openPostgresStorage } from '../../src/storage/postgres/postgres-storage.js';
import type { Storage } from '../../src/storage/storage.js';

/**
 * PostgreSQL for tests. The server under test is `KITH_TEST_DATABASE_URL` if set, else the local
 * one CI runs (127.0.0.1:5432, trust auth, database `test`, user `postgres` or `root`). Each test
 * storage gets a fresh schema, dropped afterwards, so runs and parallel test files never meet.
 */
const CANDIDATE_URLS = process.env.KITH_TEST_DATABASE_URL
  ? [process.env.KITH_TEST_DATABASE_URL]
  : ['postgres://postgres@127.0.0.1:5432/test', 'postgres://root@127.0.0.1:5432/test'];

/** Where the tests look for PostgreSQL, for messages: `host:port` of the first candidate. */
export const postgresTarget = (() => {
  const u = new URL(CANDIDATE_URLS[0]!);
  return `${u.hostname}:${u.port || '5432'}`;
})();

export type PostgresProbe = { available: true; url: string } | { available: false; reason: string };

/** Finds a PostgreSQL server the tests can use, trying each candidate URL once (2 s timeout). */
export async function probePostgres(): Promise<PostgresProbe> {
  const reasons: string[] = [];
  for (const url of CANDIDATE_URLS) {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.query('SELECT 1');
      return { available: true, url };
    } catch (err) {
      reasons.push(`${redact(url)}: ${(err as Error).message || String(err)}`);
    } finally {
      await client.end().catch(() => undefined);
    }
  }
  return { available: false, reason: reasons.join('; ') };
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}

/** Creates an empty schema `kith_test_<random>`; `drop()` removes it with everything in it. */
/**
 * A fresh schema; `databaseUrl` is `url` with the schema as its search_path (libpq `options`), for
 * server processes and in-process servers that share it.
 */
export async function createTestSchema(url: string): Promise<{ schema: string; databaseUrl: string; drop: () => Promise<void> }> {
  const schema = `kith_test_${randomBytes(6).toString('hex')}`;
  const admin = async (sql: string) => {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await admin(`CREATE SCHEMA ${schema}`);
  return {
    schema,
    databaseUrl: `${url}?options=${encodeURIComponent(`-c search_path=${schema}`)}`,
    drop: () => admin(`DROP SCHEMA IF EXISTS ${schema} CASCADE`),
  };
}

/** A migrated PostgreSQL storage in a fresh schema; `cleanup` closes it and drops the schema. */
export async function openTestPostgresStorage(
  url: string,
): Promise<{ storage: Storage; schema: string; cleanup: () => Promise<void> }> {
  const { schema, drop } = await createTestSchema(url);
  let storage: Storage;
  try {
    // The schema goes in the URL's libpq `options` (as a deployment could put it), together with
    // synchronous_commit=off: tests need no crash durability, and it spares a WAL flush per commit
    // without changing what any transaction sees or locks.
    const withOptions = new URL(url);
    withOptions.searchParams.set('options', `-c search_path=${schema} -c synchronous_commit=off`);
    storage = await openPostgresStorage({ connectionString: withOptions.toString() });
  } catch (err) {
    await drop();
    throw err;
  }
  return {
    storage,
    schema,
    cleanup: async () => {
      await storage.close();
      await drop();
    },
  };
}

/**
 * `body(url)` as a describe block when PostgreSQL is reachable; skipped (and said so) when it is
 * not — unless KITH_REQUIRE_SERVICES=1 (CI), where its absence is a failing test naming why.
 */
export async function describeOnPostgres(name: string, body: (url: string) => void): Promise<void> {
  const probe = await probePostgres();
  if (!probe.available && requireServices) {
    describe(name, () => {
      it('needs a reachable PostgreSQL (KITH_REQUIRE_SERVICES=1)', () => {
        throw new Error(`PostgreSQL is not reachable: ${probe.reason}`);
      });
    });
    return;
  }
  if (!probe.available) {
    console.warn(`PostgreSQL at ${postgresTarget} is not reachable: skipping "${name}" (${probe.reason}). Set KITH_REQUIRE_SERVICES=1 to fail instead.`);
  }
  describe.skipIf(!probe.available)(name, () => body(probe.available ? probe.url : ''));
}

/** One storage engine for `describe.each`, and how to get a fresh database on it. */
export interface StorageEngine {
  engine: 'SQLite' | 'PostgreSQL';
  skip: boolean;
  /** No URL for SQLite (the server's data dir holds it); a fresh schema on PostgreSQL. */
  database(): Promise<{ databaseUrl?: string; drop: () => Promise<void> }>;
}

/**
 * SQLite, and PostgreSQL when reachable, for `describe.each(engines)`. PostgreSQL's absence is
 * said and its runs skipped — unless KITH_REQUIRE_SERVICES=1 (CI): then it is a failing test
 * named after `what`.
 */
export async function storageEngines(what: string): Promise<StorageEngine[]> {
  const probe = await probePostgres();
  if (!probe.available && requireServices) {
    describe(`${what} on PostgreSQL`, () => {
      it('needs a reachable PostgreSQL (KITH_REQUIRE_SERVICES=1)', () => {
        throw new Error(`PostgreSQL is not reachable: ${probe.reason}`);
      });
    });
  } else if (!probe.available) {
    console.warn(`PostgreSQL at ${postgresTarget} is not reachable: skipping "${what}" on PostgreSQL (${probe.reason}). Set KITH_REQUIRE_SERVICES=1 to fail instead.`);
  }
  return [
    { engine: 'SQLite', skip: false, database: async () => ({ drop: async () => undefined }) },
    {
      engine: 'PostgreSQL',
      skip: !probe.available,
      database: async () => {
        if (!probe.available) throw new Error(`PostgreSQL is not reachable: ${probe.reason}`);
        const { databaseUrl, drop } = await createTestSchema(probe.url);
        return { databaseUrl, drop };
      },
    },
  ];
}
