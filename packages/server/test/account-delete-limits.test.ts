/**
 * `DELETE /users/me` checks the account password: its wrong guesses are limited per account, in
 * sign-in's own per-account counter (6 a minute here), not only per client address. Guesses come
 * from many loopback addresses, each with its own per-address budget untouched.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testServers } from '@kith/test-support';
import { accountModule, calendarModule, defaultConfig, startKithServer, type KithConfig, type KithServer } from '../src/index.js';
import { apiClient, type ApiResponse } from './helpers/api.js';
import { expectError, postJsonFrom, rawRequest } from './helpers/http-assert.js';
import { TEST_JWT_SECRET } from './helpers/server.js';

const { startTestServer } = testServers<KithConfig, KithServer>(
  { defaultConfig, startKithServer: (config) => startKithServer(config, { modules: [calendarModule(), accountModule()] }) },
  { jwtSecret: TEST_JWT_SECRET, loginPerMinute: 1000, dataDirPrefix: 'kith-delete-limits-' },
);

const PER_ACCOUNT = 6;

/** Login's 429: RATE_LIMITED with a Retry-After of at most the minute. */
function expectLimited(res: ApiResponse): void {
  expectError(res, 429, 'RATE_LIMITED');
  const retryAfter = Number(res.headers.get('retry-after'));
  expect(Number.isInteger(retryAfter), `Retry-After: ${res.headers.get('retry-after')}`).toBe(true);
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(60);
}

describe(`account deletion's password check is limited per account (${PER_ACCOUNT} a minute, with sign-in)`, () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let api: ReturnType<typeof apiClient>;
  const deleteFrom = (ip: string, token: string, password: string) =>
    rawRequest(server.url, '/users/me', {
      method: 'DELETE',
      localAddress: ip,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ password }),
    });
  const loginFrom = (ip: string, username: string, password: string) => postJsonFrom(ip, server.url, '/users/login', { username, password });

  beforeAll(async () => {
    // Per address: 1000 per username, 3000 across usernames; neither is reached here.
    server = await startTestServer({ limits: { loginPerMinute: 1000, loginPerAccountPerMinute: PER_ACCOUNT } });
    api = apiClient(server.url);
  });
  afterAll(() => server?.close());

  it('wrong passwords from many addresses: 429 after the limit, then even the right password is refused; other accounts unaffected', async () => {
    const victim = await api.signUp('victim'); // its login is the account's first attempt
    const other = await api.signUp('other');
    for (let i = 0; i < PER_ACCOUNT - 1; i++) {
      expectError(await deleteFrom(`127.0.0.${41 + i}`, victim.token, 'wrong password'), 401, 'INVALID_CREDENTIALS');
    }
    // A fresh address, with its own budgets untouched, is refused for this account ...
    expectLimited(await deleteFrom('127.0.0.51', victim.token, 'wrong password'));
    // ... even with the right password, as login is when locked ...
    expectLimited(await deleteFrom('127.0.0.52', victim.token, victim.password));
    expectLimited(await loginFrom('127.0.0.53', victim.username, victim.password));
    // ... and the account is still there.
    expect((await api.request('GET', '/users/me', { token: victim.token })).status).toBe(200);

    // Another account, from the same addresses, is not affected.
    expectError(await deleteFrom('127.0.0.51', other.token, 'wrong password'), 401, 'INVALID_CREDENTIALS');
    expect((await loginFrom('127.0.0.52', other.username, other.password)).status).toBe(200);
    expect((await deleteFrom('127.0.0.52', other.token, other.password)).status).toBe(204);
  });

  it('wrong guesses through login and through deletion add up in one counter', async () => {
    const victim = await api.signUp('mixed'); // 1
    for (let i = 0; i < 2; i++) expectError(await loginFrom(`127.0.0.${61 + i}`, victim.username, 'wrong password'), 401, 'INVALID_CREDENTIALS'); // 3
    for (let i = 0; i < 3; i++) expectError(await deleteFrom(`127.0.0.${63 + i}`, victim.token, 'wrong password'), 401, 'INVALID_CREDENTIALS'); // 6
    expectLimited(await loginFrom('127.0.0.66', victim.username, victim.password));
    expectLimited(await deleteFrom('127.0.0.67', victim.token, victim.password));
  });
});
