/**
 * Finding 14 of issue 11: instances sharing one PostgreSQL database without KITH_JWT_SECRET share
 * one signing secret, kept in the database, so each accepts the others' tokens. SQLite alone keeps
 * its data-dir secret file (an existing file stays authoritative).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { calendarModule, defaultConfig, startKithServer, type KithServer } from '../src/index.js';
import { apiClient } from './helpers/api.js';
import { signJwt } from './helpers/http-assert.js';
import { requireServices } from '@kith/test-support';
import { createTestSchema, probePostgres } from './helpers/postgres.js';
import { makeDataDir } from './helpers/server.js';

const probe = await probePostgres();
if (!probe.available) {
  const msg = `shared-secret tests need PostgreSQL (${probe.reason}): ${requireServices ? 'failing (KITH_REQUIRE_SERVICES=1)' : 'skipping'}`;
  if (requireServices) throw new Error(msg);
  console.warn(msg);
}

const servers: KithServer[] = [];
const drops: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const s of servers) await s.close().catch(() => undefined);
  for (const drop of drops) await drop().catch(() => undefined);
});

async function start(dataDir: string, databaseUrl?: string): Promise<KithServer> {
  const server = await startKithServer(
    defaultConfig({ port: 0, host: '127.0.0.1', dataDir, logLevel: 'silent', ...(databaseUrl ? { databaseUrl } : {}) }),
    { modules: [calendarModule()] },
  );
  servers.push(server);
  return server;
}

async function schemaUrl(): Promise<string> {
  const url = (probe as { url: string }).url;
  const { schema, drop } = await createTestSchema(url);
  drops.push(drop);
  const u = new URL(url);
  u.searchParams.set('options', `-c search_path=${schema} -c synchronous_commit=off`);
  return u.toString();
}

const me = (url: string, token: string) => apiClient(url).request('GET', '/users/me', { token });

describe.skipIf(!probe.available)('one signing secret for instances sharing PostgreSQL', () => {
  it('two instances started at once without KITH_JWT_SECRET accept each other’s tokens', async () => {
    const databaseUrl = await schemaUrl();
    const [a, b] = await Promise.all([start(await makeDataDir(), databaseUrl), start(await makeDataDir(), databaseUrl)]);
    const onA = await apiClient(a.url).signUp('alice');
    const onB = await apiClient(b.url).signUp('bob');
    expect((await me(b.url, onA.token)).status).toBe(200);
    expect((await me(a.url, onB.token)).status).toBe(200);
    // A third instance started later joins the same secret.
    const c = await start(await makeDataDir(), databaseUrl);
    expect((await me(c.url, onA.token)).body).toMatchObject({ username: onA.username });
  });

  it('an instance with an existing secret file seeds the database with it: its tokens stay valid everywhere', async () => {
    const databaseUrl = await schemaUrl();
    const dataDir = await makeDataDir();
    const old = 'an-existing-secret-from-before-the-upgrade-0123456789';
    fs.writeFileSync(path.join(dataDir, 'jwt-secret'), `${old}\n`, { mode: 0o600 });
    const a = await start(dataDir, databaseUrl);
    const alice = await apiClient(a.url).signUp('alice');
    const b = await start(await makeDataDir(), databaseUrl);
    const oldToken = signJwt(
      { sub: alice.userId, username: alice.username, exp: Math.floor(Date.now() / 1000) + 600 },
      old,
    );
    expect((await me(a.url, oldToken)).status).toBe(200);
    expect((await me(b.url, oldToken)).status).toBe(200);
  });
});

describe('SQLite alone keeps its data-dir secret file', () => {
  it('an existing secret file stays authoritative; a new data dir gets a generated one that survives restarts', async () => {
    const dataDir = await makeDataDir();
    const old = 'an-existing-sqlite-secret-kept-in-the-data-dir-0123';
    fs.writeFileSync(path.join(dataDir, 'jwt-secret'), `${old}\n`, { mode: 0o600 });
    const a = await start(dataDir);
    const alice = await apiClient(a.url).signUp('alice');
    const token = signJwt({ sub: alice.userId, username: alice.username, exp: Math.floor(Date.now() / 1000) + 600 }, old);
    expect((await me(a.url, token)).status).toBe(200);

    const fresh = await makeDataDir();
    const b = await start(fresh);
    const bob = await apiClient(b.url).signUp('bob');
    await b.close();
    const again = await start(fresh);
    expect((await me(again.url, bob.token)).status).toBe(200);
    expect(fs.readFileSync(path.join(fresh, 'jwt-secret'), 'utf8').trim().length).toBeGreaterThanOrEqual(32);
  });
});
