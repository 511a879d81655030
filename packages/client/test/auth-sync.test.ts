import { createHmac } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { syncConnectionOf } from '../src/calendar.js';
import { MemoryTokenStore, type KithClient, type Session, type StatusInfo, type StopInfo } from '../src/index.js';
import { countingWebSocket, makeClient, signUp, sleep, waitFor } from './helpers/clients.js';
import { TEST_JWT_SECRET, startServer, type TestServer } from './helpers/server.js';

/** An access token signed with the test server's key (for tokens that have already expired). */
function signToken(payload: Record<string, unknown>): string {
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const head = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ iat: Math.floor(Date.now() / 1000) - 60, ...payload })}`;
  return `${head}.${createHmac('sha256', TEST_JWT_SECRET).update(head).digest('base64url')}`;
}

/**
 * Access tokens live 4 s here (3–4 s from issue: exp is in whole seconds), so expiry happens within
 * a test, and the proactive refresh (a quarter of the lifetime ahead) has a second to get through.
 */
let short: TestServer;
let normal: TestServer;
beforeAll(async () => {
  [short, normal] = await Promise.all([startServer({ accessTokenTtlSeconds: 4 }), startServer()]);
});
afterAll(async () => {
  await Promise.all([short.close(), normal.close()]);
});

const clients: KithClient[] = [];
afterEach(async () => {
  while (clients.length) await clients.pop()!.close();
});

async function signedIn(url: string, options: Parameters<typeof makeClient>[1] = {}) {
  const ws = countingWebSocket();
  const client = makeClient(url, { WebSocket: ws.WebSocket, ...options });
  clients.push(client);
  const user = await signUp(client, 'user');
  return { client, user, attempts: ws.attempts };
}

/** POST /users/logout with the client's refresh token, from elsewhere: its session family is revoked. */
async function revokeSession(url: string, client: KithClient): Promise<void> {
  const { refreshToken } = (client as unknown as { session: { refreshToken: string } }).session;
  const res = await fetch(`${url}/users/logout`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ refreshToken }),
  });
  expect(res.status).toBe(204);
}

describe('auth on sync sockets', () => {
  it('keeps the socket open past the old token expiry by sending refreshed tokens over it', async () => {
    const { client, attempts } = await signedIn(short.url);
    const { roomId } = await client.rooms.create('Home');
    const cal = await client.openCalendar(roomId);
    await cal.whenSaved(5000);
    const statuses: StatusInfo[] = [];
    cal.on('status', (s) => statuses.push(s));
    const firstToken = (client as unknown as { session: { token: string } }).session.token;
    await sleep(4600); // the first token (4 s, issued before the calendar opened) expired a while ago
    expect((client as unknown as { session: { token: string } }).session.token).not.toBe(firstToken);
    expect(attempts()).toBe(1);
    expect(statuses.map((s) => s.status)).not.toContain('offline');
    expect(syncConnectionOf(cal).provider.wsconnected).toBe(true);
    cal.createEvent({ title: 'Still here', start: '2026-03-01T10:00', end: '2026-03-01T11:00', tz: 'UTC' });
    await cal.whenSaved(5000);
    expect(attempts()).toBe(1);
  });

  it('on 4401 TOKEN_EXPIRED refreshes once and reconnects', async () => {
    const { client, attempts } = await signedIn(short.url, { autoRefresh: false });
    const { roomId } = await client.rooms.create('Home');
    const cal = await client.openCalendar(roomId);
    await cal.whenSaved(5000);
    await waitFor(() => attempts() === 2, 10_000, 'a reconnect after the 4401 close');
    await cal.whenSaved(5000);
    cal.createEvent({ title: 'After reconnect', start: '2026-03-01T10:00', end: '2026-03-01T11:00', tz: 'UTC' });
    await cal.whenSaved(5000);
  });

  it('emits auth-required and stops reconnecting when the session was revoked (socket closed with 4401)', async () => {
    const { client, attempts } = await signedIn(short.url, { autoRefresh: false });
    const { roomId } = await client.rooms.create('Home');
    const cal = await client.openCalendar(roomId);
    await cal.whenSaved(5000);
    const required: StopInfo[] = [];
    const clientRequired: string[] = [];
    cal.on('auth-required', (i) => required.push(i));
    client.on('auth-required', (i) => clientRequired.push(i.code));
    await revokeSession(short.url, client);
    await waitFor(() => required.length > 0, 10_000, 'auth-required');
    // The refresh after the 4401 close was refused: the session is over.
    expect(required).toEqual([{ code: 'REFRESH_TOKEN_INVALID' }]);
    expect(clientRequired).toEqual(['REFRESH_TOKEN_INVALID']);
    expect(client.user).toBeNull();
    await sleep(1000); // a reconnect loop would make several attempts here (backoff ≤ 300 ms)
    expect(attempts()).toBe(1);
    expect(cal.status).toBe('offline');
    // Offline editing still works, and a new login resumes syncing.
    cal.createEvent({ title: 'While signed out', start: '2026-03-02T10:00', end: '2026-03-02T11:00', tz: 'UTC' });
    expect(cal.unsavedEdits).toBe(1);
  });

  it('emits auth-required from the proactive refresh when the session was revoked, with no reconnect loop', async () => {
    const { client, user, attempts } = await signedIn(short.url);
    const { roomId } = await client.rooms.create('Home');
    const cal = await client.openCalendar(roomId);
    await cal.whenSaved(5000);
    const required: StopInfo[] = [];
    cal.on('auth-required', (i) => required.push(i));
    await revokeSession(short.url, client);
    await waitFor(() => required.length > 0, 10_000, 'auth-required');
    expect(required[0]!.code).toBe('REFRESH_TOKEN_INVALID');
    cal.createEvent({ title: 'Offline', start: '2026-03-02T10:00', end: '2026-03-02T11:00', tz: 'UTC' });
    await sleep(1000);
    expect(attempts()).toBe(1);
    expect(required).toHaveLength(1);

    // Signing in again resumes the calendar where it stopped.
    await client.login(user.username, 'correct horse battery');
    await cal.whenSaved(5000);
    expect(attempts()).toBe(2);
  });

  it('classifies a refused upgrade (401 before the socket opens) through the REST API instead of looping', async () => {
    const { client, user, attempts } = await signedIn(short.url, { autoRefresh: false });
    const { roomId } = await client.rooms.create('Home');
    await revokeSession(short.url, client);
    // The access token has expired for the server (signed by its key), though the local clock
    // thinks it is fresh, and the refresh token is revoked: the upgrade is refused with 401.
    const session = (client as unknown as { session: { token: string; expiresAt: number } }).session;
    session.token = signToken({ sub: user.userId, username: user.username, exp: Math.floor(Date.now() / 1000) - 5 });
    session.expiresAt = Date.now() + 3_600_000;
    const cal = await client.openCalendar(roomId);
    const required: StopInfo[] = [];
    cal.on('auth-required', (i) => required.push(i));
    await waitFor(() => required.length > 0, 10_000, 'auth-required');
    expect(required).toEqual([{ code: 'REFRESH_TOKEN_INVALID' }]);
    const after = attempts();
    // The check starts at the second refusal; retries 300 ms apart meanwhile depend on how fast
    // the REST answers come on this machine. What matters is that they stop (below).
    expect(after).toBeGreaterThanOrEqual(2);
    expect(after).toBeLessThanOrEqual(5);
    await sleep(1000);
    expect(attempts()).toBe(after);
    expect(cal.status).toBe('offline');
  });

  it('refreshes a token that expired while the app was closed before opening the socket', async () => {
    const { client, user, attempts } = await signedIn(short.url, { autoRefresh: false });
    const { roomId } = await client.rooms.create('Home');
    const session = (client as unknown as { session: { token: string; expiresAt: number } }).session;
    session.token = signToken({ sub: user.userId, username: user.username, exp: Math.floor(Date.now() / 1000) - 5 });
    session.expiresAt = Date.now() - 5000;
    const cal = await client.openCalendar(roomId);
    await cal.whenSaved(5000);
    expect(attempts()).toBe(1);
  });
  it('does not refresh in a loop when access tokens outlive a timer (over 24.8 days)', async () => {
    const long = await startServer({ accessTokenTtlSeconds: 30 * 86_400 });
    try {
      const refreshes: string[] = [];
      const counting: typeof fetch = (input, init) => {
        if (new URL(String(input)).pathname === '/users/refresh') refreshes.push(String(input));
        return fetch(input, init);
      };
      const { client } = await signedIn(long.url, { fetch: counting });
      const { roomId } = await client.rooms.create('Home');
      const cal = await client.openCalendar(roomId);
      await cal.whenSaved(5000);
      await sleep(1000);
      // setTimeout fires at once for delays past 2^31 - 1 ms: each refresh scheduled the next at once.
      expect(refreshes).toHaveLength(0);
    } finally {
      await long.close();
    }
  });

  it('a refresh still on its way when the user signs out does not sign them back in', async () => {
    // fetch that holds the answer to /users/refresh until released (the server has rotated by then).
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let refreshAsked = false;
    const gated: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      if (new URL(String(input)).pathname === '/users/refresh') {
        refreshAsked = true;
        await held;
      }
      return res;
    };
    const store = new MemoryTokenStore();
    const { client, attempts } = await signedIn(normal.url, { fetch: gated, tokenStore: store });
    const { roomId } = await client.rooms.create('Home');
    const cal = await client.openCalendar(roomId);
    await cal.whenSaved(5000);
    const sessions: Array<unknown> = [];
    client.on('session', (u) => sessions.push(u));
    const refreshing = client.refresh().catch((e: unknown) => e);
    await waitFor(() => refreshAsked, 5000, 'the refresh reaching the server');
    await client.logout();
    release();
    await refreshing;
    await sleep(800); // a resumed calendar would reconnect here (backoff ≤ 300 ms)
    expect(client.user).toBeNull();
    expect(store.get()).toBeNull();
    expect(sessions).toEqual([null]);
    expect(cal.status).toBe('offline');
    expect(attempts()).toBe(1);
  });
});

/**
 * fetch whose /users/refresh requests are counted and held until `release()` (later ones are not):
 * forwarded to the server, or answered 503 without reaching it.
 */
function heldRefreshes(answer: 'server' | 'unavailable') {
  let asked = 0;
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  const f: typeof fetch = async (input, init) => {
    if (new URL(String(input)).pathname !== '/users/refresh') return fetch(input, init);
    asked++;
    const res =
      answer === 'server'
        ? await fetch(input, init)
        : new Response('{"error":{"code":"SERVICE_UNAVAILABLE","message":"busy"}}', { status: 503, headers: { 'content-type': 'application/json' } });
    await held;
    return res;
  };
  return { fetch: f, asked: () => asked, release: () => release() };
}

/** Counts calls of `client.refresh` from now on: the refresh timer makes them too. */
function countRefreshCalls(client: KithClient): () => number {
  let calls = 0;
  const refresh = client.refresh.bind(client);
  client.refresh = (stale) => {
    calls++;
    return refresh(stale);
  };
  return () => calls;
}

const sessionOf = (client: KithClient) => (client as unknown as { session: Session | null }).session;

describe('token refresh after close()', () => {
  it('a refresh that fails after close() is not retried', async () => {
    const r = heldRefreshes('unavailable');
    const { client } = await signedIn(short.url, { fetch: r.fetch });
    const { roomId } = await client.rooms.create('Home');
    await client.openCalendar(roomId, { connect: false }); // arms the proactive refresh (4 s tokens)
    await waitFor(() => r.asked() === 1, 6000, 'the proactive refresh');
    await client.close();
    const calls = countRefreshCalls(client);
    r.release();
    await sleep(5600); // a failed refresh is retried after 5 s
    expect(r.asked()).toBe(1);
    expect(calls()).toBe(0); // no retry timer was armed either
  });

  it('close() while a refresh retry is pending: the retry never runs', async () => {
    const r = heldRefreshes('unavailable');
    const { client } = await signedIn(short.url, { fetch: r.fetch });
    const [home, work] = await Promise.all([client.rooms.create('Home'), client.rooms.create('Work')]);
    await client.openCalendar(home.roomId, { connect: false });
    await waitFor(() => r.asked() === 1, 6000, 'the proactive refresh');
    // Opening another calendar schedules the refresh again, due at once: it joins the one on its way,
    // and both then arm a retry.
    await client.openCalendar(work.roomId, { connect: false });
    await sleep(400);
    r.release();
    await sleep(200);
    expect(r.asked()).toBe(1); // failed; its retry is pending
    await client.close();
    const calls = countRefreshCalls(client);
    await sleep(5600);
    expect(r.asked()).toBe(1);
    expect(calls()).toBe(0); // no retry timer outlived close()
  });

  it('a refresh answered after close() changes nothing in the client and keeps a login saved since', async () => {
    const r = heldRefreshes('server');
    const store = new MemoryTokenStore();
    const { client, user } = await signedIn(normal.url, { fetch: r.fetch, tokenStore: store });
    const before = sessionOf(client);
    const events: unknown[] = [];
    client.on('session', (u) => events.push(u));
    client.on('auth-required', (i) => events.push(i));
    const refreshing = client.refresh().catch((e: unknown) => e);
    await waitFor(() => r.asked() === 1, 5000, 'the refresh reaching the server');
    await client.close();
    // Meanwhile the app starts over on the same store and someone signs in.
    const next = makeClient(normal.url, { tokenStore: store });
    clients.push(next);
    await signUp(next, 'next');
    const saved = store.get();
    r.release();
    expect(await refreshing).toMatchObject({ code: 'CLIENT_CLOSED' });
    expect(store.get()).toBe(saved);
    expect(sessionOf(client)).toBe(before);
    expect(client.user).toEqual(user);
    expect(events).toEqual([]);
    await expect(client.refresh()).rejects.toMatchObject({ code: 'CLIENT_CLOSED' });
    expect(r.asked()).toBe(1);
  });

  it('a refresh answered after close() leaves a usable login in the store (the spent token would revoke it)', async () => {
    const r = heldRefreshes('server');
    const store = new MemoryTokenStore();
    const { client, user } = await signedIn(normal.url, { fetch: r.fetch, tokenStore: store });
    const spent = store.get()!.refreshToken;
    const refreshing = client.refresh().catch((e: unknown) => e);
    await waitFor(() => r.asked() === 1, 5000, 'the refresh reaching the server');
    await client.close();
    r.release();
    expect(await refreshing).toMatchObject({ code: 'CLIENT_CLOSED' });
    expect(store.get()!.refreshToken).not.toBe(spent);
    // The next run refreshes with what the store holds: the spent token would be refused as reused.
    const next = makeClient(normal.url, { tokenStore: store });
    clients.push(next);
    await expect(next.refresh()).resolves.toMatchObject({ user });
  });
});

describe('membership on sync sockets', () => {
  it('a removed member gets access-revoked at once and does not reconnect', async () => {
    const owner = await signedIn(normal.url);
    const member = await signedIn(normal.url);
    const { roomId } = await owner.client.rooms.create('Family');
    await member.client.rooms.acceptInvite((await owner.client.rooms.invite(roomId, { role: 'editor' })).url);
    const cal = await member.client.openCalendar(roomId);
    await cal.whenSaved(5000);
    const revoked: StopInfo[] = [];
    cal.on('access-revoked', (i) => revoked.push(i));
    await owner.client.rooms.removeMember(roomId, member.user.userId);
    await waitFor(() => revoked.length > 0, 5000, 'access-revoked');
    expect(revoked).toEqual([{ code: 'MEMBERSHIP_REVOKED', closeCode: 4403 }]);
    await sleep(1000);
    expect(member.attempts()).toBe(1);
    expect(cal.status).toBe('offline');
  });

  it('a member removed while offline gets access-revoked from the refused upgrade (403), after a bounded number of attempts', async () => {
    const owner = await signedIn(normal.url);
    const member = await signedIn(normal.url);
    const { roomId } = await owner.client.rooms.create('Family');
    await member.client.rooms.acceptInvite((await owner.client.rooms.invite(roomId, { role: 'editor' })).code);
    await owner.client.rooms.removeMember(roomId, member.user.userId);
    const cal = await member.client.openCalendar(roomId);
    const revoked: StopInfo[] = [];
    cal.on('access-revoked', (i) => revoked.push(i));
    await waitFor(() => revoked.length > 0, 5000, 'access-revoked');
    expect(revoked).toEqual([{ code: 'ROOM_ACCESS_DENIED' }]);
    const after = member.attempts();
    expect(after).toBeLessThanOrEqual(5); // as above: bounded, however fast the REST check answers
    await sleep(1000);
    expect(member.attempts()).toBe(after);
  });

  it('stops with an error event on 4413 ROOM_TOO_LARGE instead of resending forever', async () => {
    const small = await startServer({ limits: { maxRoomBytes: 4096 } });
    try {
      const { client, attempts } = await signedIn(small.url);
      const { roomId } = await client.rooms.create('Home');
      const cal = await client.openCalendar(roomId);
      await cal.whenSaved(5000);
      const errors: Array<{ code: string; closeCode: number }> = [];
      cal.on('error', (e) => errors.push({ code: e.code, closeCode: e.closeCode }));
      cal.transact((doc) => doc.getMap('blob').set('x', 'y'.repeat(6000)));
      await waitFor(() => errors.length > 0, 5000, 'error event');
      expect(errors).toEqual([{ code: 'ROOM_TOO_LARGE', closeCode: 4413 }]);
      await sleep(1000);
      expect(attempts()).toBe(1);
      expect(cal.unsavedEdits).toBe(1);
    } finally {
      await small.close();
    }
  });

  it('backs off and reconnects after 4429 RATE_LIMITED, then saves everything', async () => {
    const limited = await startServer({ limits: { updatesPerSecond: 5, updatesBurst: 10 } });
    try {
      const { client, attempts } = await signedIn(limited.url);
      const { roomId } = await client.rooms.create('Home');
      const cal = await client.openCalendar(roomId);
      await cal.whenSaved(5000);
      for (let i = 0; i < 30; i++) cal.transact((doc) => doc.getMap('m').set(`k${i}`, i));
      await waitFor(() => attempts() === 2, 5000, 'reconnect after the rate-limit close');
      await cal.whenSaved(10_000);
      expect(cal.unsavedEdits).toBe(0);
    } finally {
      await limited.close();
    }
  });

  it('logout stops open calendars with auth-required LOGGED_OUT', async () => {
    const { client, attempts } = await signedIn(normal.url);
    const { roomId } = await client.rooms.create('Home');
    const cal = await client.openCalendar(roomId);
    await cal.whenSaved(5000);
    const required: StopInfo[] = [];
    cal.on('auth-required', (i) => required.push(i));
    await client.logout();
    expect(cal.status).toBe('offline');
    expect(required).toEqual([{ code: 'LOGGED_OUT' }]);
    await sleep(800);
    expect(attempts()).toBe(1);
  });
});
