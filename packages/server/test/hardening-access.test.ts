/**
 * Issue 11, findings 12 and 13: login limits that do not lock a victim out, feed URLs that die
 * with their creator's role, /metrics that is not public, links that are not built from a
 * foreign Host header, and security headers on the web app and the API.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/index.js';
import { apiClient } from './helpers/api.js';
import { expectError, postJsonFrom, rawRequest } from './helpers/http-assert.js';
import { makeDataDir, startTestServer, type TestServer } from './helpers/server.js';

const PASSWORD = 'correct horse battery';

describe('login limits lock out the guesser, not the account owner', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ limits: { loginPerMinute: 3 } });
    expect((await postJsonFrom('127.0.0.1', t.url, '/users/register', { username: 'victim', password: PASSWORD })).status).toBe(201);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('after a guesser is refused for a username, its owner still signs in from their own address', async () => {
    const guess = () => postJsonFrom('127.0.0.41', t.url, '/users/login', { username: 'victim', password: 'wrong password' });
    for (let i = 0; i < 3; i++) expectError(await guess(), 401, 'INVALID_CREDENTIALS');
    expectError(await guess(), 429, 'RATE_LIMITED');
    const owner = await postJsonFrom('127.0.0.42', t.url, '/users/login', { username: 'victim', password: PASSWORD });
    expect(owner.status, JSON.stringify(owner.body)).toBe(200);
  });

  it('the per-account bound defaults to 100 a minute and is set by --login-per-account-per-minute', () => {
    expect(parseConfig([], {})).toMatchObject({ limits: { loginPerMinute: 10, loginPerAccountPerMinute: 100 } });
    expect(parseConfig([], { KITH_LOGIN_PER_ACCOUNT_PER_MINUTE: '30' })).toMatchObject({ limits: { loginPerAccountPerMinute: 30 } });
  });
});

describe('a feed URL stops working when its creator is no longer an owner', () => {
  let t: TestServer;
  let api: ReturnType<typeof apiClient>;
  beforeAll(async () => {
    t = await startTestServer();
    api = apiClient(t.url);
  });
  afterAll(async () => {
    await t?.close();
  });

  /** Ann owns a room; Ben, made an owner through an invite, creates its feed. */
  async function feedByBen() {
    const [ann, ben] = await Promise.all([api.signUp('ann'), api.signUp('ben')]);
    const roomId = await api.createRoom(ann.token);
    await api.addMember(ann.token, roomId, ben.token, 'owner');
    const feed = await api.request('POST', `/rooms/${roomId}/feed`, { token: ben.token });
    expect(feed.status).toBe(201);
    const feedPath = new URL(feed.body.url).pathname;
    expect((await api.request('GET', feedPath)).status).toBe(200);
    return { ann, ben, roomId, feedPath };
  }

  it('removed from the room, the creator’s feed answers 404 FEED_NOT_FOUND', async () => {
    const { ann, ben, roomId, feedPath } = await feedByBen();
    expect((await api.request('DELETE', `/rooms/${roomId}/members/${ben.userId}`, { token: ann.token })).status).toBe(204);
    expectError(await api.request('GET', feedPath), 404, 'FEED_NOT_FOUND');
  });

  it('demoted to editor, the creator’s feed answers 404; a feed made by a remaining owner works', async () => {
    const { ann, ben, roomId, feedPath } = await feedByBen();
    expect((await api.request('PATCH', `/rooms/${roomId}/members/${ben.userId}`, { token: ann.token, body: { role: 'editor' } })).status).toBe(200);
    expectError(await api.request('GET', feedPath), 404, 'FEED_NOT_FOUND');
    const fresh = await api.request('POST', `/rooms/${roomId}/feed`, { token: ann.token });
    expect((await api.request('GET', new URL(fresh.body.url).pathname)).status).toBe(200);
  });
});

describe('/metrics is not public', () => {
  it('without a metrics token: loopback clients read it; a forwarded request is refused 403 METRICS_FORBIDDEN', async () => {
    const t = await startTestServer({ trustProxy: true });
    try {
      expect((await fetch(`${t.url}/metrics`)).status).toBe(200);
      // A gateway on this machine connects from loopback while passing on someone from the internet.
      const forwarded = await apiClient(t.url).request('GET', '/metrics', { headers: { 'x-forwarded-for': '203.0.113.5' } });
      expectError(forwarded, 403, 'METRICS_FORBIDDEN');
      const viaForwarded = await apiClient(t.url).request('GET', '/metrics', { headers: { forwarded: 'for=203.0.113.5' } });
      expectError(viaForwarded, 403, 'METRICS_FORBIDDEN');
    } finally {
      await t.close();
    }
  });

  it('with KITH_METRICS_TOKEN: only a request bearing it is answered, from anywhere', async () => {
    const token = 'metrics-token-0123456789abcdef';
    const t = await startTestServer({ metricsToken: token, trustProxy: true });
    try {
      const api = apiClient(t.url);
      expectError(await api.request('GET', '/metrics'), 401, 'UNAUTHENTICATED');
      expectError(await api.request('GET', '/metrics', { token: 'wrong-token-0123456789abcdef' }), 401, 'UNAUTHENTICATED');
      const ok = await api.request('GET', '/metrics', { token, headers: { 'x-forwarded-for': '203.0.113.5' } });
      expect(ok.status).toBe(200);
      expect(ok.body).toContain('kith_connections');
    } finally {
      await t.close();
    }
  });

  it('parses --metrics-token (KITH_METRICS_TOKEN), refusing short ones', () => {
    expect(parseConfig([], { KITH_METRICS_TOKEN: 'a'.repeat(32) })).toMatchObject({ metricsToken: 'a'.repeat(32) });
    expect(() => parseConfig(['--metrics-token', 'short'], {})).toThrow(/--metrics-token must be at least 16 characters/);
  });
});

describe('invite and feed links are not built from a foreign Host header', () => {
  let t: TestServer;
  let api: ReturnType<typeof apiClient>;
  let owner: Awaited<ReturnType<ReturnType<typeof apiClient>['signUp']>>;
  let roomId: string;
  beforeAll(async () => {
    t = await startTestServer();
    api = apiClient(t.url);
    owner = await api.signUp('host');
    roomId = await api.createRoom(owner.token);
  });
  afterAll(async () => {
    await t?.close();
  });
  const post = (p: string, host: string, body?: unknown) =>
    rawRequest(t.url, p, {
      method: 'POST',
      headers: { host, authorization: `Bearer ${owner.token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });

  it('without --public-url, a Host naming another machine gets 503 PUBLIC_URL_REQUIRED and no invite or feed is made', async () => {
    expectError(await post(`/rooms/${roomId}/invites`, 'evil.example', { role: 'editor' }), 503, 'PUBLIC_URL_REQUIRED');
    expectError(await post(`/rooms/${roomId}/feed`, 'evil.example:8080'), 503, 'PUBLIC_URL_REQUIRED');
    expect((await api.request('GET', `/rooms/${roomId}/invites`, { token: owner.token })).body.invites).toEqual([]);
    expect((await api.request('GET', `/rooms/${roomId}/feed`, { token: owner.token })).body.active).toBe(false);
  });

  it('without --public-url, loopback Hosts (localhost, 127.0.0.1, [::1]) still get links: a plain local start works', async () => {
    for (const host of ['localhost:8080', '127.0.0.1:9999', '[::1]:8080', 'app.localhost']) {
      const res = await post(`/rooms/${roomId}/invites`, host, { role: 'viewer' });
      expect(res.status, host).toBe(201);
      expect(res.body.url.startsWith(`http://${host}/invite/`), res.body.url).toBe(true);
    }
  });

  it('with --public-url, links use it whatever the Host', async () => {
    const pub = await startTestServer({ publicUrl: 'https://calendar.example.org' });
    try {
      const a = apiClient(pub.url);
      const o = await a.signUp('pub');
      const r = await a.createRoom(o.token);
      const res = await rawRequest(pub.url, `/rooms/${r}/invites`, {
        method: 'POST',
        headers: { host: 'evil.example', authorization: `Bearer ${o.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ role: 'editor' }),
      });
      expect(res.status).toBe(201);
      expect(res.body.url).toMatch(/^https:\/\/calendar\.example\.org\/invite\//);
    } finally {
      await pub.close();
    }
  });
});

describe('security headers', () => {
  let t: TestServer;
  beforeAll(async () => {
    const webDir = await makeDataDir();
    await fs.writeFile(path.join(webDir, 'index.html'), '<!doctype html><title>Kith</title><div id="app"></div>');
    await fs.writeFile(path.join(webDir, 'sw.js'), 'self.addEventListener("fetch", () => {});');
    t = await startTestServer({ staticDir: webDir });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('the app (/, /index.html, /sw.js, /invite/*) is served with a strict CSP, nosniff, no framing and no Referer', async () => {
    for (const p of ['/', '/index.html', '/sw.js', '/invite/some-code']) {
      const res = await fetch(`${t.url}${p}`, { headers: { accept: 'text/html' } });
      expect(res.status, p).toBe(200);
      const csp = res.headers.get('content-security-policy') ?? '';
      expect(csp, p).toContain("default-src 'self'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("object-src 'none'");
      expect(csp).not.toMatch(/unsafe-inline|unsafe-eval/);
      expect(csp).toContain("frame-ancestors 'none'");
      expect(res.headers.get('x-content-type-options'), p).toBe('nosniff');
      expect(res.headers.get('x-frame-options'), p).toBe('DENY');
      expect(res.headers.get('referrer-policy'), p).toBe('no-referrer');
    }
  });

  it('a 304 for the app carries no CSP (the browser would merge it into the cached page)', async () => {
    // node:http, not fetch: fetch adds Cache-Control: no-cache to conditional requests, which never get a 304.
    const first = await rawRequest(t.url, '/', { method: 'GET', headers: { accept: 'text/html' } });
    const again = await rawRequest(t.url, '/', {
      method: 'GET',
      headers: { accept: 'text/html', 'if-none-match': first.headers.get('etag')!, 'if-modified-since': first.headers.get('last-modified')! },
    });
    expect(again.status).toBe(304);
    expect(again.headers.get('content-security-policy')).toBeNull();
    expect(again.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('API answers, errors included, carry nosniff and a CSP that allows nothing', async () => {
    const api = apiClient(t.url);
    for (const res of [
      await api.request('GET', '/healthz'),
      await api.request('GET', '/users/me'),
      await api.request('POST', '/users/login', { body: { username: 'nobody', password: 'x' } }),
    ]) {
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('content-security-policy')).toBe("default-src 'none'; frame-ancestors 'none'");
    }
  });

  it('JSON answers (tokens, invite codes, feed links, rooms, events) are stored by no cache; a route\'s own Cache-Control stays', async () => {
    const api = apiClient(t.url);
    const owner = await api.signUp('cache');
    const roomId = await api.createRoom(owner.token);
    const answers = [
      await api.request('POST', '/users/login', { body: { username: owner.username, password: owner.password } }),
      await api.request('POST', '/users/refresh', { body: { refreshToken: owner.refreshToken } }),
      await api.request('POST', `/rooms/${roomId}/invites`, { token: owner.token, body: { role: 'viewer' } }),
      await api.request('POST', `/rooms/${roomId}/feed`, { token: owner.token }),
      await api.request('GET', '/users/me', { token: owner.token }),
      await api.request('GET', '/rooms', { token: owner.token }),
      await api.request('GET', `/rooms/${roomId}/events`, { token: owner.token }),
      await api.request('GET', '/users/me', {}),
    ];
    for (const res of answers) expect([res.status, res.headers.get('cache-control')]).toEqual([res.status, 'no-store']);
    expect(answers.slice(0, 4).map((r) => r.status)).toEqual([200, 200, 201, 201]);
    // The app's own files keep theirs (revalidated on every load).
    const page = await fetch(`${t.url}/`, { headers: { accept: 'text/html' } });
    expect(page.headers.get('cache-control')).not.toBe('no-store');
  });
});
