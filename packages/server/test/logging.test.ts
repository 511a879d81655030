import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { calendarModule, defaultConfig, startKithServer, type KithServer } from '../src/index.js';
import { createLogger, redactUrl } from '../src/ops/logger.js';
import { apiClient } from './helpers/api.js';
import { expectError, rawRequest } from './helpers/http-assert.js';
import { makeDataDir, TEST_JWT_SECRET } from './helpers/server.js';
import { connectProvider, rawSocket, waitForSynced } from './helpers/yjs-clients.js';

/** A pino destination that keeps every line written to it. */
function captureStream() {
  const chunks: string[] = [];
  return {
    stream: { write: (line: string) => void chunks.push(line) },
    text: () => chunks.join(''),
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

const METRICS_TOKEN = 'metrics-token-that-must-never-be-logged';

// Request lines are at debug unless --access-log asks for them at info: both ways are checked.
describe.each([
  ['info', true],
  ['trace', false],
])('no secret reaches the log (level %s, access log at info: %s)', (level, accessLog) => {
  const log = captureStream();
  let server: KithServer;
  let api: ReturnType<typeof apiClient>;
  let wsUrl: string;

  beforeAll(async () => {
    const config = defaultConfig({
      port: 0,
      host: '127.0.0.1',
      dataDir: await makeDataDir(),
      logLevel: level,
      jwtSecret: TEST_JWT_SECRET,
      sqliteSynchronous: 'normal',
      limits: { ...defaultConfig().limits, loginPerMinute: 1000 },
      metricsToken: METRICS_TOKEN,
      accessLog,
    });
    server = await startKithServer(config, { logger: createLogger(level, log.stream), modules: [calendarModule()] });
    api = apiClient(server.url);
    wsUrl = server.url.replace(/^http/, 'ws') + '/sync';
  });
  afterAll(async () => {
    await server?.close();
  });

  it('logs requests, but no password, access token, refresh token or invite code, through a whole session', async () => {
    const password = 'Pa55word-that-must-never-be-logged';

    expect((await api.request('POST', '/users/register', { body: { username: 'logged_user', password } })).status).toBe(201);
    // Failed attempts carry the password too.
    expectError(await api.request('POST', '/users/login', { body: { username: 'logged_user', password: `${password}-wrong` } }), 401, 'INVALID_CREDENTIALS');
    expectError(await api.request('POST', '/users/register', { body: { username: 'logged_user', password, extra: password } }), 400, 'VALIDATION_FAILED');
    expectError(
      await api.request('POST', '/users/login', { rawBody: `{"username":"logged_user","password":"${password}`, headers: { 'content-type': 'application/json' } }),
      400,
      'VALIDATION_FAILED',
    );

    const login = await api.request('POST', '/users/login', { body: { username: 'logged_user', password } });
    expect(login.status).toBe(200);
    const token: string = login.body.token;
    const refreshToken: string = login.body.refreshToken;

    expect((await api.request('GET', '/users/me', { token })).status).toBe(200);
    // A token put in the query string by mistake is redacted from the logged URL.
    expectError(await api.request('GET', `/users/me?token=${token}`), 401, 'UNAUTHENTICATED');

    const refreshed = await api.request('POST', '/users/refresh', { body: { refreshToken } });
    expect(refreshed.status).toBe(200);
    const token2: string = refreshed.body.token;
    const refreshToken2: string = refreshed.body.refreshToken;
    // Reuse of the rotated token (an error path) logs nothing secret either.
    expectError(await api.request('POST', '/users/refresh', { body: { refreshToken } }), 401, 'REFRESH_TOKEN_REUSED');
    const again = await api.request('POST', '/users/login', { body: { username: 'logged_user', password } });
    const token3: string = again.body.token;
    const refreshToken3: string = again.body.refreshToken;

    // Rooms and an invite: the code is a secret in the path of the accept request.
    const roomId = await api.createRoom(token3);
    const inv = await api.request('POST', `/rooms/${roomId}/invites`, { body: { role: 'editor' }, token: token3 });
    expect(inv.status).toBe(201);
    const inviteCode: string = inv.body.code;
    const friend = await api.signUp('friend');
    expect((await api.request('POST', `/invites/${inviteCode}/accept`, { token: friend.token })).status).toBe(200);
    // Registering with an invite code, listing and revoking invites, the feed secret, /metrics' token.
    const second = await api.request('POST', `/rooms/${roomId}/invites`, { body: { role: 'viewer' }, token: token3 });
    const secondCode: string = second.body.code;
    const joiner = await api.request('POST', '/users/register', { body: { username: 'invited_user', password, inviteCode: secondCode } });
    expect(joiner.status).toBe(201);
    expectError(await api.request('POST', '/users/register', { body: { username: 'invited_again', password, inviteCode: `${secondCode}x` } }), 404, 'INVITE_NOT_FOUND');
    expect((await api.request('GET', `/rooms/${roomId}/invites`, { token: token3 })).status).toBe(200);
    expect((await api.request('DELETE', `/rooms/${roomId}/invites/${second.body.inviteId}`, { token: token3 })).status).toBe(204);
    const feed = await api.request('POST', `/rooms/${roomId}/feed`, { token: token3 });
    const feedSecret = /\/feeds\/([^/]+)\.ics$/.exec(feed.body.url)![1]!;
    expect((await api.request('GET', `/feeds/${feedSecret}.ics`)).status).toBe(200);
    expect((await api.request('GET', '/metrics', { token: METRICS_TOKEN })).status).toBe(200);
    expectError(await api.request('GET', '/metrics', { token: `${METRICS_TOKEN}-wrong` }), 401, 'UNAUTHENTICATED');

    // Sync sockets authenticate with `?token=`: a stock provider, and refused upgrades.
    const { provider } = connectProvider(wsUrl, roomId, token3);
    await waitForSynced(provider);
    provider.destroy();
    const refusedToken = token2.replace(/.{4}$/, 'AAAA');
    await expect(rawSocket(`${wsUrl}/${roomId}?token=${refusedToken}`)).rejects.toMatchObject({ status: 401 });
    await expect(rawSocket(`${wsUrl}/${'Z'.repeat(22)}?token=${friend.token}`)).rejects.toMatchObject({ status: 403 });
    const header = await rawSocket(`${wsUrl}/${roomId}`, { authorization: `Bearer ${friend.token}` });
    header.close();

    expect((await api.request('POST', '/users/logout', { body: { refreshToken: refreshToken2 } })).status).toBe(204);
    // A web-app invite link, too (the server logs every request it gets).
    await rawRequest(server.url, `/invite/${inviteCode}`, { method: 'GET', headers: { accept: 'text/html' } });

    const secrets = {
      password,
      token,
      refreshToken,
      token2,
      refreshToken2,
      token3,
      refreshToken3,
      inviteCode,
      secondCode,
      feedSecret,
      metricsToken: METRICS_TOKEN,
      friendToken: friend.token,
      friendRefreshToken: friend.refreshToken,
      friendPassword: friend.password,
      refusedToken,
    };
    const text = log.text();
    // The log is live and holds the requests made above ...
    const lines = log.lines();
    const urls = lines.map((l) => (l.req as { url?: string } | undefined)?.url).filter(Boolean);
    expect(urls).toContain('/users/login');
    expect(urls).toContain('/users/me?token=[redacted]');
    expect(urls).toContain('/invites/[redacted]/accept');
    expect(urls).toContain('/invite/[redacted]');
    expect(lines.some((l) => l.msg === 'user registered')).toBe(true);
    if (level === 'trace') expect(text).toContain(`/sync/${roomId}?token=[redacted]`);

    // ... and none of the secrets, whole or in part (a JWT's signature is enough to replay it).
    for (const [name, secret] of Object.entries(secrets)) {
      expect(text.includes(secret), `${name} in the log`).toBe(false);
    }
    for (const jwt of [token, token2, token3, friend.token, refusedToken]) {
      expect(text.includes(jwt.split('.')[2]!), 'a JWT signature in the log').toBe(false);
    }
    expect(text).not.toMatch(/authorization/i);
  });
});

describe('createLogger', () => {
  it('redacts password, token and refreshToken fields, top-level and one level down', () => {
    const log = captureStream();
    const logger = createLogger('info', log.stream);
    logger.info({ password: 'p1-secret', token: 't1-secret', refreshToken: 'r1-secret' }, 'top');
    logger.info({ body: { password: 'p2-secret', token: 't2-secret', refreshToken: 'r2-secret' } }, 'nested');
    logger.info({ req: { headers: { authorization: 'Bearer h-secret' } } }, 'header');
    const text = log.text();
    for (const s of ['p1-secret', 't1-secret', 'r1-secret', 'p2-secret', 't2-secret', 'r2-secret', 'h-secret']) {
      expect(text).not.toContain(s);
    }
    expect(log.lines()[0]).toMatchObject({ password: '[redacted]', token: '[redacted]', refreshToken: '[redacted]' });
  });
});

describe('logged errors', () => {
  it('never carry the request config, headers or response of an HTTP client error (e.g. a Google bearer token)', () => {
    const lines: string[] = [];
    const logger = createLogger('info', { write: (l: string) => void lines.push(l) });
    const err = Object.assign(new Error('Request failed with status code 403'), {
      code: '403',
      config: { url: 'https://www.googleapis.com/calendar/v3/calendars', headers: { Authorization: 'Bearer ya29.SECRET-GOOGLE-TOKEN' } },
      response: { status: 403, headers: { 'set-cookie': 'x' }, config: { headers: { Authorization: 'Bearer ya29.SECRET-GOOGLE-TOKEN' } } },
      cause: Object.assign(new Error('inner'), { request: { headers: { authorization: 'Bearer ya29.SECRET-GOOGLE-TOKEN' } } }),
    });
    logger.error({ err }, 'google call failed');
    const out = lines.join('');
    expect(out).toContain('Request failed with status code 403');
    expect(out).toContain('"code":"403"');
    expect(out).not.toContain('SECRET-GOOGLE-TOKEN');
  });
});

describe('redactUrl', () => {
  it.each([
    ['/users/me', '/users/me'],
    ['/sync/room1', '/sync/room1'],
    ['/sync/room1?token=eyJ.abc.def', '/sync/room1?token=[redacted]'],
    ['/x?a=1&token=abc&b=2', '/x?a=1&token=[redacted]&b=2'],
    ['/x?access_token=a&refresh_token=b&refreshToken=c', '/x?access_token=[redacted]&refresh_token=[redacted]&refreshToken=[redacted]'],
    ['/x?password=hunter2&code=c&state=s', '/x?password=[redacted]&code=[redacted]&state=[redacted]'],
  ])('redacts secret query parameters: %s', (url, expected) => {
    expect(redactUrl(url)).toBe(expected);
  });

  it('keeps other parameters and their order', () => {
    expect(redactUrl('/sync/r?v=2&token=abc&room=r1&x=')).toBe('/sync/r?v=2&token=[redacted]&room=r1&x=');
  });

  it('redacts every occurrence of a repeated parameter', () => {
    const out = redactUrl('/x?token=first-secret&token=second-secret');
    expect(out).not.toContain('first-secret');
    expect(out).not.toContain('second-secret');
  });

  it('redacts parameters whatever their case or percent-encoding', () => {
    for (const url of ['/x?Token=s3cret', '/x?TOKEN=s3cret', '/x?%74oken=s3cret', '/x?PassWord=s3cret', '/x?a=1&Refresh_Token=s3cret']) {
      expect(redactUrl(url), url).not.toContain('s3cret');
    }
  });

  it('redacts values containing encoded or special characters', () => {
    for (const url of ['/x?token=a%20b%26c', '/x?token=a+b', '/x?token=%E2%9C%93', '/x?token=a=b=c']) {
      const out = redactUrl(url);
      expect(out, url).toBe('/x?token=[redacted]');
    }
  });

  it('redacts invite codes in API and web-app paths', () => {
    expect(redactUrl('/invites/AbC-123_xyz/accept')).toBe('/invites/[redacted]/accept');
    expect(redactUrl('/invite/AbC-123_xyz')).toBe('/invite/[redacted]');
    expect(redactUrl('/invite/AbC-123_xyz?token=t')).toBe('/invite/[redacted]?token=[redacted]');
    expect(redactUrl('/rooms/r1/invites')).toBe('/rooms/r1/invites');
  });

  it('redacts ICS feed secrets, also in paths that match no route', () => {
    expect(redactUrl('/feeds/s3cr3t-Feed_tok.ics')).toBe('/feeds/[redacted]');
    expect(redactUrl('/feeds/s3cr3t.ics/extra')).toBe('/feeds/[redacted]/extra');
    expect(redactUrl('/rooms/r1/feed')).toBe('/rooms/r1/feed');
  });

  it('leaves a URL without query untouched and handles an empty query', () => {
    expect(redactUrl('/rooms/abc/members/u1')).toBe('/rooms/abc/members/u1');
    expect(redactUrl('/x?')).toBe('/x?');
  });
});
