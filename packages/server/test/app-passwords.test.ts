/**
 * CalDAV app passwords over loopback with the real server (core + calendar + caldav modules):
 * create (shown once), list (no secret), HTTP Basic through the `GET /dav/` probe, revoke at once,
 * bounds, other users, rate limits, no secret in the log, and the module's table on SQLite and
 * PostgreSQL (skipped when PostgreSQL is not reachable, unless KITH_REQUIRE_SERVICES=1).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { testServers } from '@kith/test-support';
import { appPasswordHash } from '../src/caldav/app-passwords.js';
import { caldavModule, calendarModule, createLogger, defaultConfig, startKithServer, type KithConfig, type KithServer } from '../src/index.js';
import { apiClient, type ApiResponse } from './helpers/api.js';
import { expectError, expectValidationError, rawRequest } from './helpers/http-assert.js';
import { storageEngines } from './helpers/postgres.js';
import { makeDataDir, TEST_JWT_SECRET } from './helpers/server.js';

const { startTestServer } = testServers<KithConfig, KithServer>(
  { defaultConfig, startKithServer: (config) => startKithServer(config, { modules: [calendarModule(), caldavModule()] }) },
  { jwtSecret: TEST_JWT_SECRET, loginPerMinute: 1000, dataDirPrefix: 'kith-apppw-' },
);

const basic = (username: string, password: string) => `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
const PASSWORD_SHAPE = /^[0-9a-hjkmnp-tv-z]{4}(-[0-9a-hjkmnp-tv-z]{4}){5}$/;

/** `GET /dav/` with an Authorization header (or none), optionally from another loopback address. */
function dav(url: string, authorization?: string, localAddress?: string): Promise<ApiResponse> {
  return rawRequest(url, '/dav/', { method: 'GET', headers: authorization ? { authorization } : {}, ...(localAddress ? { localAddress } : {}) });
}

function expectChallenge(res: ApiResponse): void {
  expectError(res, 401, 'BASIC_AUTH_REQUIRED');
  expect(res.headers.get('www-authenticate')).toMatch(/^Basic realm="Kith"/);
}

describe('app passwords', () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let api: ReturnType<typeof apiClient>;
  beforeAll(async () => {
    server = await startTestServer();
    api = apiClient(server.url);
  });
  afterAll(() => server?.close());

  it('creates one shown once, lists it without the secret, and signs a CalDAV client in with it', async () => {
    const anna = await api.signUp('anna');
    const created = await api.request('POST', '/users/me/app-passwords', { token: anna.token, body: { label: '  Anna’s iPhone ' } });
    expect(created.status).toBe(201);
    expect(created.headers.get('cache-control')).toBe('no-store');
    expect(Object.keys(created.body).sort()).toEqual(['createdAt', 'id', 'label', 'password']);
    expect(created.body.label).toBe('Anna’s iPhone');
    expect(created.body.password).toMatch(PASSWORD_SHAPE);
    expect(Math.abs(created.body.createdAt - Date.now())).toBeLessThan(10_000);

    const list = await api.request('GET', '/users/me/app-passwords', { token: anna.token });
    expect(list.status).toBe(200);
    expect(list.body).toEqual({ appPasswords: [{ id: created.body.id, label: 'Anna’s iPhone', createdAt: created.body.createdAt, lastUsedAt: null }] });
    expect(JSON.stringify(list.body)).not.toContain(created.body.password.slice(0, 9));

    const ok = await dav(server.url, basic(anna.username, created.body.password));
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ userId: anna.userId, username: anna.username });
    // Typed again by hand: case, dashes and look-alike letters do not matter; the username is case-insensitive.
    const retyped = created.body.password.replace(/-/g, '').toUpperCase().replace(/0/g, 'O').replace(/1/g, 'l');
    expect((await dav(server.url, basic(anna.username.toUpperCase(), retyped))).status).toBe(200);

    // lastUsedAt is recorded, to the minute: a second use within it writes nothing new.
    const used = (await api.request('GET', '/users/me/app-passwords', { token: anna.token })).body.appPasswords[0];
    expect(Math.abs(used.lastUsedAt - Date.now())).toBeLessThan(10_000);
    expect((await dav(server.url, basic(anna.username, created.body.password))).status).toBe(200);
    const again = (await api.request('GET', '/users/me/app-passwords', { token: anna.token })).body.appPasswords[0];
    expect(again.lastUsedAt).toBe(used.lastUsedAt);
  });

  it('refuses wrong, malformed and missing credentials with a Basic challenge (never the account password)', async () => {
    const ben = await api.signUp('ben');
    const { password } = (await api.request('POST', '/users/me/app-passwords', { token: ben.token, body: { label: 'laptop' } })).body;
    const wrong = password.slice(0, -1) + (password.endsWith('a') ? 'b' : 'a');
    expectChallenge(await dav(server.url, basic(ben.username, wrong)));
    expectChallenge(await dav(server.url, basic(ben.username, ben.password)));
    expectChallenge(await dav(server.url, basic('nobody-here', password)));
    expectChallenge(await dav(server.url));
    expectChallenge(await dav(server.url, 'Basic !!!not-base64'));
    expectChallenge(await dav(server.url, `Basic ${Buffer.from('no-colon').toString('base64')}`));
    expectChallenge(await dav(server.url, `Basic ${'A'.repeat(4000)}`));
    expectChallenge(await dav(server.url, `Bearer ${ben.token}`));
    expect((await dav(server.url, basic(ben.username, password))).status).toBe(200);
  });

  it('revoking one stops that device at once and leaves the others working', async () => {
    const cara = await api.signUp('cara');
    const phone = (await api.request('POST', '/users/me/app-passwords', { token: cara.token, body: { label: 'phone' } })).body;
    const tablet = (await api.request('POST', '/users/me/app-passwords', { token: cara.token, body: { label: 'tablet' } })).body;
    expect((await dav(server.url, basic(cara.username, phone.password))).status).toBe(200);

    expect((await api.request('DELETE', `/users/me/app-passwords/${phone.id}`, { token: cara.token })).status).toBe(204);
    expectChallenge(await dav(server.url, basic(cara.username, phone.password)));
    expect((await dav(server.url, basic(cara.username, tablet.password))).status).toBe(200);
    const list = await api.request('GET', '/users/me/app-passwords', { token: cara.token });
    expect(list.body.appPasswords.map((p: { label: string }) => p.label)).toEqual(['tablet']);
    expectError(await api.request('DELETE', `/users/me/app-passwords/${phone.id}`, { token: cara.token }), 404, 'APP_PASSWORD_NOT_FOUND');
  });

  it('other users can neither see nor revoke yours', async () => {
    const dan = await api.signUp('dan');
    const eve = await api.signUp('eve');
    const dans = (await api.request('POST', '/users/me/app-passwords', { token: dan.token, body: { label: 'phone' } })).body;
    expect((await api.request('GET', '/users/me/app-passwords', { token: eve.token })).body).toEqual({ appPasswords: [] });
    expectError(await api.request('DELETE', `/users/me/app-passwords/${dans.id}`, { token: eve.token }), 404, 'APP_PASSWORD_NOT_FOUND');
    // Dan's password is Dan's only: it does not sign in as Eve.
    expectChallenge(await dav(server.url, basic(eve.username, dans.password)));
    expect((await dav(server.url, basic(dan.username, dans.password))).status).toBe(200);
  });

  it('bounds labels and the number per user, and needs a bearer token', async () => {
    const fay = await api.signUp('fay');
    const create = (body: unknown, token = fay.token) => api.request('POST', '/users/me/app-passwords', { token, body });
    expectValidationError(await create({ label: '' }), 'label');
    expectValidationError(await create({ label: '   ' }), 'label');
    expectValidationError(await create({ label: 'x'.repeat(65) }), 'label');
    expectValidationError(await create({}), 'label');
    expectValidationError(await create({ label: 'ok', password: 'mine' }), 'password');
    expectError(await api.request('POST', '/users/me/app-passwords', { token: fay.token, rawBody: 'label=x', headers: { 'content-type': 'text/plain' } }), 415, 'UNSUPPORTED_MEDIA_TYPE');
    expectError(await api.request('POST', '/users/me/app-passwords', { body: { label: 'x' } }), 401, 'UNAUTHENTICATED');
    expectError(await api.request('GET', '/users/me/app-passwords'), 401, 'UNAUTHENTICATED');
    expectError(await api.request('DELETE', '/users/me/app-passwords/abc', { token: 'not-a-jwt' }), 401, 'UNAUTHENTICATED');

    const made = [];
    for (let i = 0; i < 20; i++) made.push((await create({ label: `device ${i}` })).body);
    expect(made.every((m) => PASSWORD_SHAPE.test(m.password))).toBe(true);
    expect(new Set(made.map((m) => m.password)).size).toBe(20);
    expectError(await create({ label: 'one too many' }), 409, 'TOO_MANY_APP_PASSWORDS', /20/);
    expect((await api.request('DELETE', `/users/me/app-passwords/${made[0].id}`, { token: fay.token })).status).toBe(204);
    expect((await create({ label: 'replacement' })).status).toBe(201);
  });
});

describe('Basic sign-in rate limits (the login limits, counting failures)', () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let api: ReturnType<typeof apiClient>;
  beforeAll(async () => {
    server = await startTestServer({ limits: { loginPerMinute: 3, loginPerAccountPerMinute: 5 } });
    api = apiClient(server.url);
  });
  afterAll(() => server?.close());

  const setUp = async (prefix: string) => {
    const user = await api.signUp(prefix);
    const { password } = (await api.request('POST', '/users/me/app-passwords', { token: user.token, body: { label: 'phone' } })).body;
    return { ...user, appPassword: password as string };
  };

  it('a syncing phone is never limited; guesses from one address are, even a right one after them', async () => {
    const gus = await setUp('gus');
    for (let i = 0; i < 12; i++) expect((await dav(server.url, basic(gus.username, gus.appPassword), '127.0.0.2')).status).toBe(200);
    for (let i = 0; i < 3; i++) expectChallenge(await dav(server.url, basic(gus.username, 'wrong-guess'), '127.0.0.3'));
    const limited = await dav(server.url, basic(gus.username, gus.appPassword), '127.0.0.3');
    expectError(limited, 429, 'RATE_LIMITED', /retry in \d+ s/);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    // The owner's phone elsewhere keeps working.
    expect((await dav(server.url, basic(gus.username, gus.appPassword), '127.0.0.2')).status).toBe(200);
  });

  it('guesses spread over addresses are bounded per account', async () => {
    const hal = await setUp('hal');
    for (const address of ['127.0.0.4', '127.0.0.4', '127.0.0.5', '127.0.0.5', '127.0.0.6']) {
      expectChallenge(await dav(server.url, basic(hal.username, 'wrong-guess'), address));
    }
    expectError(await dav(server.url, basic(hal.username, hal.appPassword), '127.0.0.7'), 429, 'RATE_LIMITED');
  });
});

describe('no app password reaches the log', () => {
  const lines: string[] = [];
  let server: KithServer;
  afterAll(() => server?.close());

  it('logs the requests of a whole app password life, but never the password, its header or its hash', async () => {
    const config = defaultConfig({
      port: 0,
      host: '127.0.0.1',
      dataDir: await makeDataDir(),
      logLevel: 'trace',
      jwtSecret: TEST_JWT_SECRET,
      sqliteSynchronous: 'normal',
      limits: { ...defaultConfig().limits, loginPerMinute: 1000 },
    });
    const logger = createLogger('trace', { write: (line: string) => void lines.push(line) });
    server = await startKithServer(config, { logger, modules: [calendarModule(), caldavModule()] });
    const api = apiClient(server.url);
    const ivy = await api.signUp('ivy');
    const created = (await api.request('POST', '/users/me/app-passwords', { token: ivy.token, body: { label: 'phone' } })).body;
    expect((await dav(server.url, basic(ivy.username, created.password))).status).toBe(200);
    expectChallenge(await dav(server.url, basic(ivy.username, `${created.password}x`)));
    expect((await api.request('DELETE', `/users/me/app-passwords/${created.id}`, { token: ivy.token })).status).toBe(204);
    expectChallenge(await dav(server.url, basic(ivy.username, created.password)));

    const text = lines.join('');
    expect(text).toContain('app password created');
    expect(text).toContain('/dav/');
    const secrets = [
      created.password,
      created.password.replace(/-/g, ''),
      Buffer.from(`${ivy.username}:${created.password}`).toString('base64'),
      appPasswordHash(created.password)!,
    ];
    for (const secret of secrets) expect(text).not.toContain(secret);
  });
});

/** The module's table on each engine: migrated at start, kept across restarts, revocation seen by a second instance. */
const engines = await storageEngines('the caldav_app_passwords table');
describe.each(engines)('the caldav_app_passwords table on $engine', ({ engine, skip, database }) => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it.skipIf(skip)('survives a restart and is shared by instances on one database', async () => {
    const { databaseUrl, drop } = await database();
    cleanups.push(drop);
    const dataDir = await makeDataDir();
    const start = async (dir = dataDir) => {
      const s = await startTestServer({ dataDir: dir, databaseUrl });
      cleanups.push(() => s.close());
      return s;
    };
    const first = await start();
    const api = apiClient(first.url);
    const jo = await api.signUp('jo');
    const made = (await api.request('POST', '/users/me/app-passwords', { token: jo.token, body: { label: 'phone' } })).body;
    expect((await dav(first.url, basic(jo.username, made.password))).status).toBe(200);
    await first.close();

    // Started again (migrations already applied), and a second instance next to it (PostgreSQL).
    const again = await start();
    const other = engine === 'PostgreSQL' ? await start(await makeDataDir()) : again;
    expect((await dav(again.url, basic(jo.username, made.password))).status).toBe(200);
    expect((await dav(other.url, basic(jo.username, made.password))).status).toBe(200);
    const list = await apiClient(again.url).request('GET', '/users/me/app-passwords', { token: jo.token });
    expect(list.body.appPasswords).toEqual([{ id: made.id, label: 'phone', createdAt: made.createdAt, lastUsedAt: expect.any(Number) }]);
    // Revoked through one instance, refused by the other at its next request.
    expect((await apiClient(again.url).request('DELETE', `/users/me/app-passwords/${made.id}`, { token: jo.token })).status).toBe(204);
    expectChallenge(await dav(other.url, basic(jo.username, made.password)));

    // A burst of creates across the instances stops exactly at the bound.
    const burst = await Promise.all(
      Array.from({ length: 26 }, (_, i) =>
        apiClient((i % 2 ? other : again).url).request('POST', '/users/me/app-passwords', { token: jo.token, body: { label: `d${i}` } }),
      ),
    );
    expect(burst.filter((r) => r.status === 201)).toHaveLength(20);
    for (const r of burst.filter((r) => r.status !== 201)) expectError(r, 409, 'TOO_MANY_APP_PASSWORDS');
  });
});
