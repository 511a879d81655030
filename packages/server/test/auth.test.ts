import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient, type ApiResponse } from './helpers/api.js';
import {
  expectError,
  expectValidationError,
  jwtClaims,
  median,
  postJsonFrom,
  rawRequest,
  signJwt,
  sleep,
} from './helpers/http-assert.js';
import { startTestServer, TEST_JWT_SECRET, type TestServer } from './helpers/server.js';

const PASSWORD = 'correct horse battery staple';

let t: TestServer;
let api: ReturnType<typeof apiClient>;

beforeAll(async () => {
  t = await startTestServer();
  api = apiClient(t.url);
});
afterAll(async () => {
  await t?.close();
});

const register = (body: unknown) => api.request('POST', '/users/register', { body });
const login = (username: string, password = PASSWORD) =>
  api.request('POST', '/users/login', { body: { username, password } });
const refresh = (refreshToken: string) => api.request('POST', '/users/refresh', { body: { refreshToken } });
const logout = (refreshToken: string) => api.request('POST', '/users/logout', { body: { refreshToken } });
const me = (token?: string, headers?: Record<string, string>) => api.request('GET', '/users/me', { token, headers });

async function registered(username: string, password = PASSWORD): Promise<{ userId: string; username: string }> {
  const res = await register({ username, password });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body;
}

async function loggedIn(username: string, password = PASSWORD) {
  const res = await login(username, password);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as { token: string; refreshToken: string; expiresIn: number };
}

describe('POST /users/register', () => {
  it('creates a user and answers 201 with exactly {userId, username}', async () => {
    const res = await register({ username: 'reg_first', password: PASSWORD });
    expect(res.status).toBe(201);
    expect(Object.keys(res.body).sort()).toEqual(['userId', 'username']);
    expect(res.body.username).toBe('reg_first');
    expect(res.body.userId).toMatch(/^[0-9a-f-]{36}$/);
    // The new user can sign in and is who /users/me says.
    const { token } = await loggedIn('reg_first');
    expect((await me(token)).body).toEqual({ userId: res.body.userId, username: 'reg_first' });
  });

  it('accepts usernames of 3 to 32 letters, digits, "_", "." and "-", and passwords of exactly 8 characters', async () => {
    const names = ['abc', 'a'.repeat(32), 'a.b-c_d09', 'MixedCase_1'];
    const results = await Promise.all(names.map((username) => register({ username, password: '12345678' })));
    for (const [i, res] of results.entries()) {
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      expect(res.body.username).toBe(names[i]);
    }
  });

  it('refuses a taken username with 409 USERNAME_TAKEN, comparing usernames case-insensitively', async () => {
    const first = await registered('Alice');
    for (const username of ['Alice', 'alice', 'ALICE', 'aLiCe']) {
      expectError(await register({ username, password: 'another password' }), 409, 'USERNAME_TAKEN');
    }
    // The original account is untouched: its password still works, the others' do not.
    const { token } = await loggedIn('alice');
    expect((await me(token)).body).toEqual(first);
    expectError(await login('alice', 'another password'), 401, 'INVALID_CREDENTIALS');
  });

  const validName = 'valid_name';
  const invalid: Array<[string, unknown, string]> = [
    ['a username shorter than 3 characters', { username: 'ab', password: PASSWORD }, 'username'],
    ['a username longer than 32 characters', { username: 'a'.repeat(33), password: PASSWORD }, 'username'],
    ['a username with a space', { username: 'al ice', password: PASSWORD }, 'username'],
    ['a username with "!"', { username: 'alice!', password: PASSWORD }, 'username'],
    ['a username with a "/"', { username: 'a/b/c', password: PASSWORD }, 'username'],
    ['a username with a non-ASCII letter', { username: 'ålice', password: PASSWORD }, 'username'],
    ['an empty username', { username: '', password: PASSWORD }, 'username'],
    ['a password of 7 characters', { username: validName, password: '1234567' }, 'password'],
    ['a password longer than 1024 characters', { username: validName, password: 'x'.repeat(1025) }, 'password'],
    ['a missing username', { password: PASSWORD }, 'username'],
    ['a missing password', { username: validName }, 'password'],
    ['an extra field', { username: validName, password: PASSWORD, admin: true }, 'admin'],
    ['a number as username (no type coercion)', { username: 12345, password: PASSWORD }, 'username'],
    ['a number as password (no type coercion)', { username: validName, password: 12345678 }, 'password'],
    ['an array holding a username (no type coercion)', { username: [validName], password: PASSWORD }, 'username'],
    ['null as username', { username: null, password: PASSWORD }, 'username'],
    ['an object as password', { username: validName, password: { p: PASSWORD } }, 'password'],
  ];
  it.each(invalid)('refuses %s with 400 VALIDATION_FAILED naming the field', async (_what, body, field) => {
    expectValidationError(await register(body), field);
  });

  it('created no user for any of the refused bodies', async () => {
    // Had a refused body (e.g. a coerced number or array) created an account, these would be 409.
    for (const username of [validName, '12345']) {
      expect((await register({ username, password: PASSWORD })).status).toBe(201);
    }
  });

  it.each([
    ['a JSON array', '[]'],
    ['JSON null', 'null'],
    ['a JSON string', '"alice"'],
    ['malformed JSON', '{"username": "alice", "password": '],
    ['an empty body', ''],
  ])('refuses %s as body with 400 VALIDATION_FAILED', async (_what, rawBody) => {
    const res = await api.request('POST', '/users/register', {
      rawBody,
      headers: { 'content-type': 'application/json' },
    });
    expectError(res, 400, 'VALIDATION_FAILED');
  });

  it('refuses a body that is not application/json with 415 UNSUPPORTED_MEDIA_TYPE', async () => {
    const json = JSON.stringify({ username: 'not_json_user', password: PASSWORD });
    for (const contentType of ['text/plain', 'text/plain; charset=utf-8', 'application/x-www-form-urlencoded', 'application/xml']) {
      const res = await api.request('POST', '/users/register', { rawBody: json, headers: { 'content-type': contentType } });
      expectError(res, 415, 'UNSUPPORTED_MEDIA_TYPE');
    }
    // A body with no content-type at all.
    expectError(await rawRequest(t.url, '/users/register', { body: json }), 415, 'UNSUPPORTED_MEDIA_TYPE');
    // None of them created the user.
    expect((await register({ username: 'not_json_user', password: PASSWORD })).status).toBe(201);
  });

  it('accepts application/json with a charset parameter', async () => {
    const res = await api.request('POST', '/users/register', {
      rawBody: JSON.stringify({ username: 'charset_user', password: PASSWORD }),
      headers: { 'content-type': 'application/json; charset=utf-8' },
    });
    expect(res.status).toBe(201);
  });
});

describe('POST /users/login', () => {
  let user: { userId: string; username: string };
  beforeAll(async () => {
    user = await registered('login_user');
  });

  it('answers 200 with exactly {token, refreshToken, expiresIn: 900}', async () => {
    const res = await login('login_user');
    expect(res.status).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual(['expiresIn', 'refreshToken', 'token']);
    expect(res.body.expiresIn).toBe(900);
    expect(res.body.token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    const claims = jwtClaims(res.body.token);
    expect(claims.sub).toBe(user.userId);
    expect(claims.username).toBe('login_user');
    expect((claims.exp as number) - (claims.iat as number)).toBe(900);
    expect(res.body.refreshToken).toMatch(/^[\w-]{43,}$/);
    expect(res.body.refreshToken).not.toBe(res.body.token);
  });

  it('matches the username case-insensitively and returns the stored spelling', async () => {
    const { token } = await loggedIn('LOGIN_User');
    expect((await me(token)).body).toEqual(user);
  });

  it('answers a wrong password and an unknown username with the same 401 INVALID_CREDENTIALS', async () => {
    const wrong = await login('login_user', 'wrong password!');
    const unknown = await login('nobody_by_this_name', 'wrong password!');
    expectError(wrong, 401, 'INVALID_CREDENTIALS');
    expectError(unknown, 401, 'INVALID_CREDENTIALS');
    expect(unknown.body).toEqual(wrong.body);
    expect(unknown.headers.get('www-authenticate')).toBe(wrong.headers.get('www-authenticate'));
  });

  it('answers a password shorter than the signup minimum with 401, not 400', async () => {
    expectError(await login('login_user', 'x'), 401, 'INVALID_CREDENTIALS');
  });

  it('takes a similar time for an unknown username as for a wrong password (median within 0.5x-2x)', async () => {
    const time = async (username: string) => {
      const started = performance.now();
      const res = await login(username, 'not the password');
      const ms = performance.now() - started;
      expectError(res, 401, 'INVALID_CREDENTIALS');
      return ms;
    };
    await time('login_user');
    await time('unknown_user_0');
    // A real leak (e.g. skipping the hash for unknown users) is systematic and fails every round;
    // a round spoilt by other load on a shared 2-core machine is measured again, up to 3 times.
    let unknown: number[] = [];
    let known: number[] = [];
    let ratio = 0;
    for (let round = 0; round < 3; round++) {
      known = [];
      unknown = [];
      for (let i = 1; i <= 7; i++) {
        // Alternate the order so that drift in machine load hits both sides alike.
        if (i % 2) {
          known.push(await time('login_user'));
          unknown.push(await time(`unknown_user_${round}_${i}`));
        } else {
          unknown.push(await time(`unknown_user_${round}_${i}`));
          known.push(await time('login_user'));
        }
      }
      ratio = median(unknown) / median(known);
      if (ratio > 0.5 && ratio < 2) break;
    }
    expect(ratio, `unknown ${median(unknown).toFixed(1)} ms vs wrong password ${median(known).toFixed(1)} ms`).toBeGreaterThan(0.5);
    expect(ratio).toBeLessThan(2);
    // And both are doing real (scrypt) work, not answering at once.
    expect(median(unknown)).toBeGreaterThan(5);
  });

  it.each([
    ['a missing password', { username: 'login_user' }, 'password'],
    ['a missing username', { password: PASSWORD }, 'username'],
    ['an empty username', { username: '', password: PASSWORD }, 'username'],
    ['an extra field', { username: 'login_user', password: PASSWORD, remember: true }, 'remember'],
    ['a number as password (no type coercion)', { username: 'login_user', password: 12345678 }, 'password'],
  ])('refuses %s with 400 VALIDATION_FAILED naming the field', async (_what, body, field) => {
    expectValidationError(await api.request('POST', '/users/login', { body }), field);
  });

  it('refuses a text/plain body with 415 UNSUPPORTED_MEDIA_TYPE', async () => {
    const res = await api.request('POST', '/users/login', {
      rawBody: JSON.stringify({ username: 'login_user', password: PASSWORD }),
      headers: { 'content-type': 'text/plain' },
    });
    expectError(res, 415, 'UNSUPPORTED_MEDIA_TYPE');
  });
});

describe('GET /users/me', () => {
  let user: { userId: string; username: string };
  let token: string;
  beforeAll(async () => {
    user = await registered('me_user');
    token = (await loggedIn('me_user')).token;
  });

  it('answers exactly {userId, username} for a valid bearer token', async () => {
    const res = await me(token);
    expect(res.status).toBe(200);
    expect(res.body).toEqual(user);
  });

  it('accepts the "bearer" scheme in any case', async () => {
    expect((await me(undefined, { authorization: `bearer ${token}` })).body).toEqual(user);
  });

  it('answers 401 UNAUTHENTICATED without an Authorization header', async () => {
    expectError(await me(), 401, 'UNAUTHENTICATED');
  });

  it.each([
    ['a garbage token', () => 'not-a-jwt'],
    ['a three-part garbage token', () => 'abc.def.ghi'],
    ['a token signed with another secret', () =>
      signJwt({ sub: user.userId, username: user.username, exp: Math.floor(Date.now() / 1000) + 600 }, 'another-secret-that-is-long-enough-0123456789')],
    ['an unsigned "alg: none" token', () =>
      signJwt({ sub: user.userId, username: user.username, exp: Math.floor(Date.now() / 1000) + 600 }, '', 'none')],
    ['a token with a tampered payload', () => {
      const [h, , s] = token.split('.');
      const forged = Buffer.from(JSON.stringify({ ...jwtClaims(token), username: 'admin' })).toString('base64url');
      return `${h}.${forged}.${s}`;
    }],
    ['a correctly signed token without a subject', () =>
      signJwt({ username: user.username, exp: Math.floor(Date.now() / 1000) + 600 }, TEST_JWT_SECRET)],
    ['a correctly signed token of a user that does not exist', () =>
      signJwt({ sub: '00000000-0000-4000-8000-000000000000', username: 'ghost', exp: Math.floor(Date.now() / 1000) + 600 }, TEST_JWT_SECRET)],
    ['the refresh token used as a bearer token', () => 'REFRESH'],
  ])('answers 401 UNAUTHENTICATED for %s', async (_what, make) => {
    let bearer = make();
    if (bearer === 'REFRESH') bearer = (await loggedIn('me_user')).refreshToken;
    expectError(await me(bearer), 401, 'UNAUTHENTICATED');
  });

  it('answers 401 UNAUTHENTICATED for a non-Bearer scheme', async () => {
    expectError(await me(undefined, { authorization: `Basic ${Buffer.from('me_user:' + PASSWORD).toString('base64')}` }), 401, 'UNAUTHENTICATED');
    expectError(await me(undefined, { authorization: token }), 401, 'UNAUTHENTICATED');
  });

  it('answers 401 TOKEN_EXPIRED for an expired token signed with the server secret', async () => {
    const now = Math.floor(Date.now() / 1000);
    const expired = signJwt({ sub: user.userId, username: user.username, iat: now - 1000, exp: now - 100 }, TEST_JWT_SECRET);
    expectError(await me(expired), 401, 'TOKEN_EXPIRED');
    // The same claims, not yet expired, are accepted: it is the expiry that is refused.
    const fresh = signJwt({ sub: user.userId, username: user.username, iat: now, exp: now + 100 }, TEST_JWT_SECRET);
    expect((await me(fresh)).body).toEqual(user);
  });
});

describe('POST /users/refresh', () => {
  beforeAll(async () => {
    await registered('refresh_user');
  });

  it('exchanges a refresh token for a new {token, refreshToken, expiresIn}, again and again', async () => {
    const first = await loggedIn('refresh_user');
    let current = first.refreshToken;
    const seen = new Set([current]);
    for (let i = 0; i < 3; i++) {
      const res = await refresh(current);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(Object.keys(res.body).sort()).toEqual(['expiresIn', 'refreshToken', 'token']);
      expect(res.body.expiresIn).toBe(900);
      expect(seen.has(res.body.refreshToken)).toBe(false);
      seen.add(res.body.refreshToken);
      expect((await me(res.body.token)).body.username).toBe('refresh_user');
      current = res.body.refreshToken;
    }
  });

  it('retires the used token: presenting it again is 401 REFRESH_TOKEN_REUSED', async () => {
    const { refreshToken } = await loggedIn('refresh_user');
    expect((await refresh(refreshToken)).status).toBe(200);
    expectError(await refresh(refreshToken), 401, 'REFRESH_TOKEN_REUSED');
  });

  it('on reuse revokes the whole family, newest token included, and leaves other logins alone', async () => {
    const stolen = (await loggedIn('refresh_user')).refreshToken;
    const other = (await loggedIn('refresh_user')).refreshToken;
    const second = (await refresh(stolen)).body.refreshToken as string;
    const newest = (await refresh(second)).body.refreshToken as string;

    expectError(await refresh(stolen), 401, 'REFRESH_TOKEN_REUSED');
    // Every token of that family is now dead, the newest (never used) one too.
    expectError(await refresh(newest), 401, 'REFRESH_TOKEN_INVALID');
    expectError(await refresh(second), 401, 'REFRESH_TOKEN_INVALID');
    // Another login of the same user is a different family and still works.
    const res = await refresh(other);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect((await refresh(res.body.refreshToken)).status).toBe(200);
  });

  it('lets exactly one of two concurrent uses of a token succeed, and treats the other as reuse', async () => {
    const { refreshToken } = await loggedIn('refresh_user');
    const results = await Promise.all([refresh(refreshToken), refresh(refreshToken)]);
    const ok = results.filter((r) => r.status === 200);
    const refused = results.filter((r) => r.status !== 200);
    expect(ok).toHaveLength(1);
    expect(refused).toHaveLength(1);
    expectError(refused[0]!, 401, 'REFRESH_TOKEN_REUSED');
    // The reuse revoked the family, so the winner's successor is dead too.
    expectError(await refresh(ok[0]!.body.refreshToken), 401, 'REFRESH_TOKEN_INVALID');
  });

  it('answers an unknown refresh token with 401 REFRESH_TOKEN_INVALID', async () => {
    expectError(await refresh('A'.repeat(43)), 401, 'REFRESH_TOKEN_INVALID');
  });

  it('does not take an access token as a refresh token', async () => {
    const { token } = await loggedIn('refresh_user');
    expectError(await refresh(token), 401, 'REFRESH_TOKEN_INVALID');
  });

  it.each([
    ['a missing refreshToken', {}, 'refreshToken'],
    ['an empty refreshToken', { refreshToken: '' }, 'refreshToken'],
    ['a refreshToken longer than 256 characters', { refreshToken: 'a'.repeat(257) }, 'refreshToken'],
    ['a number as refreshToken', { refreshToken: 42 }, 'refreshToken'],
    ['an extra field', { refreshToken: 'abc', userId: 'x' }, 'userId'],
  ])('refuses %s with 400 VALIDATION_FAILED naming the field', async (_what, body, field) => {
    expectValidationError(await api.request('POST', '/users/refresh', { body }), field);
  });
});

describe('POST /users/logout', () => {
  beforeAll(async () => {
    await registered('logout_user');
  });

  it('answers 204 with no body and revokes that refresh token', async () => {
    const { refreshToken } = await loggedIn('logout_user');
    const res = await logout(refreshToken);
    expect(res.status).toBe(204);
    expect(res.body).toBeUndefined();
    expectError(await refresh(refreshToken), 401, 'REFRESH_TOKEN_INVALID');
  });

  it('revokes the whole family of the token (earlier rotated tokens too) and no other login', async () => {
    const first = (await loggedIn('logout_user')).refreshToken;
    const other = (await loggedIn('logout_user')).refreshToken;
    const second = (await refresh(first)).body.refreshToken as string;
    expect((await logout(second)).status).toBe(204);
    expectError(await refresh(second), 401, 'REFRESH_TOKEN_INVALID');
    expectError(await refresh(first), 401, 'REFRESH_TOKEN_INVALID');
    expect((await refresh(other)).status).toBe(200);
  });

  it('is idempotent: logging out twice, or with an unknown token, answers 204', async () => {
    const { refreshToken } = await loggedIn('logout_user');
    expect((await logout(refreshToken)).status).toBe(204);
    expect((await logout(refreshToken)).status).toBe(204);
    expect((await logout('B'.repeat(43))).status).toBe(204);
  });

  it('refuses a missing refreshToken with 400 and a text/plain body with 415', async () => {
    expectValidationError(await api.request('POST', '/users/logout', { body: {} }), 'refreshToken');
    const res = await api.request('POST', '/users/logout', {
      rawBody: JSON.stringify({ refreshToken: 'abc' }),
      headers: { 'content-type': 'text/plain' },
    });
    expectError(res, 415, 'UNSUPPORTED_MEDIA_TYPE');
  });
});

describe('secrets at rest', () => {
  it('stores refresh tokens only as their sha256 and passwords only as scrypt hashes', async () => {
    const password = 'a very particular password';
    const user = await registered('at_rest_user', password);
    const { refreshToken } = await loggedIn('at_rest_user', password);
    const rotated = (await refresh(refreshToken)).body.refreshToken as string;

    const db = new BetterSqlite3(path.join(t.dataDir, 'kith.sqlite'), { readonly: true });
    try {
      const tokens = db.prepare('SELECT * FROM refresh_tokens WHERE user_id = ?').all(user.userId) as Array<Record<string, unknown>>;
      expect(tokens).toHaveLength(2);
      const dump = JSON.stringify(tokens);
      expect(dump).not.toContain(refreshToken);
      expect(dump).not.toContain(rotated);
      const sha = (s: string) => createHash('sha256').update(s).digest('base64url');
      expect(tokens.map((r) => r.token_hash).sort()).toEqual([sha(refreshToken), sha(rotated)].sort());
      expect(Object.fromEntries(tokens.map((r) => [r.token_hash, r.status]))).toEqual({
        [sha(refreshToken)]: 'rotated',
        [sha(rotated)]: 'active',
      });

      const row = db.prepare('SELECT * FROM users WHERE user_id = ?').get(user.userId) as Record<string, string>;
      expect(row.password_hash).toMatch(/^scrypt\$/);
      expect(JSON.stringify(row)).not.toContain(password);
      // Each hash has its own salt: the same password hashes differently for two users.
      await registered('at_rest_user2', password);
      const other = db.prepare(`SELECT password_hash FROM users WHERE username = 'at_rest_user2'`).pluck().get() as string;
      expect(other).toMatch(/^scrypt\$/);
      expect(other).not.toBe(row.password_hash);
    } finally {
      db.close();
    }
    // Nor do the secrets appear anywhere in the database files (the WAL included).
    for (const file of fs.readdirSync(t.dataDir).filter((f) => f.startsWith('kith.sqlite'))) {
      const bytes = fs.readFileSync(path.join(t.dataDir, file));
      for (const secret of [password, refreshToken, rotated]) expect(bytes.includes(secret), `${secret} in ${file}`).toBe(false);
    }
  });
});

describe('unknown routes', () => {
  it('answer 404 NOT_FOUND with the error body', async () => {
    expectError(await api.request('GET', '/users/nope'), 404, 'NOT_FOUND');
    expectError(await api.request('DELETE', '/users/me'), 404, 'NOT_FOUND');
  });

  it('takes path parameters as long as their schemas allow (event ids of 128 characters), and names a longer one', async () => {
    const me = await api.signUp('longids');
    const room = await api.createRoom(me.token, 'Ids');
    // 101–128 characters: a valid event id the router used to refuse as an undecodable URL.
    expectError(await api.request('GET', `/rooms/${room}/events/${'e'.repeat(110)}`, { token: me.token }), 404, 'EVENT_NOT_FOUND');
    const tooLong = await rawRequest(t.url, `/rooms/${room}/events/${'e'.repeat(300)}`, { method: 'GET' });
    expect(expectError(tooLong, 400, 'VALIDATION_FAILED')).toMatch(/longer than 256 characters/);
  });

  it('a URL that cannot be decoded answers 400 VALIDATION_FAILED with the error body', async () => {
    for (const url of ['/feeds/%E0.ics', '/rooms/%E0%A4%A/events']) {
      expectError(await rawRequest(t.url, url, { method: 'GET' }), 400, 'VALIDATION_FAILED');
    }
  });
});

describe('login rate limits (3 per minute per IP and username, 9 per IP, 6 per account)', () => {
  let limited: TestServer;
  const from = (ip: string, username: string, password = 'wrong password') =>
    postJsonFrom(ip, limited.url, '/users/login', { username, password });
  const expectLimited = (res: ApiResponse) => {
    expectError(res, 429, 'RATE_LIMITED');
    const retryAfter = Number(res.headers.get('retry-after'));
    expect(Number.isInteger(retryAfter), `Retry-After: ${res.headers.get('retry-after')}`).toBe(true);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
  };

  beforeAll(async () => {
    limited = await startTestServer({ limits: { loginPerMinute: 3, loginPerAccountPerMinute: 6 } });
    const res = await postJsonFrom('127.0.0.1', limited.url, '/users/register', { username: 'victim', password: PASSWORD });
    expect(res.status).toBe(201);
  });
  afterAll(async () => {
    await limited?.close();
  });

  it('limits one IP to 3 attempts a minute at one username: the 4th is 429 RATE_LIMITED with Retry-After', async () => {
    for (let i = 0; i < 3; i++) expectError(await from('127.0.0.11', 'ip_a'), 401, 'INVALID_CREDENTIALS');
    expectLimited(await from('127.0.0.11', 'IP_A'));
    // Another address is not affected.
    expectError(await from('127.0.0.12', 'ip_a'), 401, 'INVALID_CREDENTIALS');
  });

  it('limits one IP to 9 attempts a minute across usernames', async () => {
    for (let i = 0; i < 9; i++) expectError(await from('127.0.0.13', `spray${i}`), 401, 'INVALID_CREDENTIALS');
    expectLimited(await from('127.0.0.13', 'spray9'));
  });

  it('limits one username to 6 attempts a minute from all addresses together, case-insensitively', async () => {
    for (let i = 0; i < 6; i++) expectError(await from(`127.0.0.${21 + i}`, i % 2 ? 'victim' : 'VICTIM'), 401, 'INVALID_CREDENTIALS');
    // A seventh address, with its own budgets untouched, is refused for this username ...
    expectLimited(await from('127.0.0.28', 'victim'));
    // ... even with the right password ...
    expectLimited(await from('127.0.0.29', 'victim', PASSWORD));
    // ... while the same address may still try another username.
    expectError(await from('127.0.0.28', 'someone_else'), 401, 'INVALID_CREDENTIALS');
  });

  it('limits registrations per IP too (3 x 3 per minute), counting refused ones', async () => {
    for (let i = 0; i < 9; i++) {
      expectError(await postJsonFrom('127.0.0.31', limited.url, '/users/register', { username: 'x' }), 400, 'VALIDATION_FAILED');
    }
    expectLimited(await postJsonFrom('127.0.0.31', limited.url, '/users/register', { username: 'x' }));
  });
});

describe('short-lived tokens (1 s access token, 1 s refresh token)', () => {
  let short: TestServer;
  beforeAll(async () => {
    short = await startTestServer({ accessTokenTtlSeconds: 1, refreshTokenTtlDays: 1 / 86_400 });
  });
  afterAll(async () => {
    await short?.close();
  });

  it('reports the configured expiresIn, then refuses the expired access token (TOKEN_EXPIRED) and refresh token', async () => {
    const client = apiClient(short.url);
    const user = await client.signUp('short');
    const pair = await client.request('POST', '/users/login', { body: { username: user.username, password: user.password } });
    expect(pair.body.expiresIn).toBe(1);
    await sleep(2100);
    expectError(await client.request('GET', '/users/me', { token: pair.body.token }), 401, 'TOKEN_EXPIRED');
    expectError(
      await client.request('POST', '/users/refresh', { body: { refreshToken: pair.body.refreshToken } }),
      401,
      'REFRESH_TOKEN_INVALID',
    );
  });
});
