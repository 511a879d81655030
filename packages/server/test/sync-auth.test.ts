import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSigner } from 'fast-jwt';
import { protocol } from '../src/index.js';
import { apiClient } from './helpers/api.js';
import { jwtClaims, sleep } from './helpers/http-assert.js';
import { RawClient } from './helpers/raw-client.js';
import { TEST_JWT_SECRET, startTestServer, type TestServer } from './helpers/server.js';
import { connectProvider, nextClose, rawSocket, waitFor, waitForSynced } from './helpers/yjs-clients.js';

let t: TestServer;
let api: ReturnType<typeof apiClient>;

beforeAll(async () => {
  t = await startTestServer({ sync: { membershipCheckMs: 60_000 } });
  api = apiClient(t.url);
});
afterAll(async () => {
  await t.close();
});

async function refusal(url: string, headers: Record<string, string> = {}) {
  try {
    const ws = await rawSocket(url, headers);
    ws.close();
    throw new Error('upgrade was accepted');
  } catch (err) {
    const e = err as { status?: number; body?: string };
    if (!e.status) throw err;
    return { status: e.status, body: JSON.parse(e.body ?? '{}') };
  }
}

const expiredToken = (userId: string, username: string) =>
  createSigner({ key: TEST_JWT_SECRET, algorithm: 'HS256' })({
    sub: userId,
    username,
    iat: Math.floor(Date.now() / 1000) - 1000,
    exp: Math.floor(Date.now() / 1000) - 10,
  });

describe('sync socket authentication (before the upgrade)', () => {
  it('refuses a missing, garbage or foreign-signed token with 401 and a JSON error', async () => {
    const alice = await api.signUp('alice');
    const roomId = await api.createRoom(alice.token);
    const missing = await refusal(`${t.wsUrl}/${roomId}`);
    expect(missing).toMatchObject({ status: 401, body: { error: { code: 'UNAUTHENTICATED' } } });
    const garbage = await refusal(`${t.wsUrl}/${roomId}?token=not-a-jwt`);
    expect(garbage.status).toBe(401);
    const foreign = createSigner({ key: 'another-secret-another-secret-another-secret', algorithm: 'HS256' })({
      sub: alice.userId,
      username: alice.username,
    });
    expect((await refusal(`${t.wsUrl}/${roomId}?token=${foreign}`)).status).toBe(401);
    const expired = await refusal(`${t.wsUrl}/${roomId}?token=${expiredToken(alice.userId, alice.username)}`);
    expect(expired).toMatchObject({ status: 401, body: { error: { code: 'TOKEN_EXPIRED' } } });
  });

  it('refuses a non-member with 403, the same as for a room that does not exist', async () => {
    const alice = await api.signUp('alice');
    const mallory = await api.signUp('mallory');
    const roomId = await api.createRoom(alice.token);
    const notMember = await refusal(`${t.wsUrl}/${roomId}?token=${mallory.token}`);
    const noRoom = await refusal(`${t.wsUrl}/AAAAAAAAAAAAAAAAAAAAAA?token=${mallory.token}`);
    expect(notMember).toEqual({ status: 403, body: { error: { code: 'ROOM_ACCESS_DENIED', message: expect.any(String) } } });
    expect(noRoom).toEqual(notMember);
  });

  it('answers 404 for upgrades outside /sync/:roomId', async () => {
    const alice = await api.signUp('alice');
    const res = await refusal(`${t.url.replace('http', 'ws')}/elsewhere?token=${alice.token}`);
    expect(res).toMatchObject({ status: 404, body: { error: { code: 'NOT_FOUND' } } });
  });

  it('accepts the token in an Authorization header (Node clients)', async () => {
    const alice = await api.signUp('alice');
    const roomId = await api.createRoom(alice.token);
    const c = await RawClient.connect(`${t.wsUrl}/${roomId}`, { authorization: `Bearer ${alice.token}` });
    await c.waitSynced();
    c.close();
  });
});

describe('roles and revocation on open sockets', () => {
  it('a viewer receives edits but its own updates are neither applied nor broadcast; awareness is allowed', async () => {
    const owner = await api.signUp('owner');
    const viewer = await api.signUp('viewer');
    const roomId = await api.createRoom(owner.token);
    await api.addMember(owner.token, roomId, viewer.token, 'viewer');
    const o = connectProvider(t.wsUrl, roomId, owner.token);
    const v = connectProvider(t.wsUrl, roomId, viewer.token);
    await Promise.all([waitForSynced(o.provider), waitForSynced(v.provider)]);

    o.doc.getMap('events').set('e1', 'Dinner');
    await waitFor(() => v.doc.getMap('events').get('e1') === 'Dinner', 5000, 'owner edit reaches viewer');

    v.doc.getMap('events').set('hack', 'nope');
    v.provider.awareness.setLocalStateField('viewing', '2026-11-21');
    await waitFor(
      () => [...o.provider.awareness.getStates().values()].some((s) => s.viewing === '2026-11-21'),
      5000,
      'viewer awareness reaches owner',
    );
    // A later owner edit proves the pipe is flowing; the viewer's write must still be absent.
    o.doc.getMap('events').set('e2', 'Lunch');
    await waitFor(() => v.doc.getMap('events').get('e2') === 'Lunch', 5000, 'second edit');
    await new Promise((r) => setTimeout(r, 100));
    expect(o.doc.getMap('events').has('hack')).toBe(false);

    // And it was not stored: a fresh client does not see it.
    const fresh = connectProvider(t.wsUrl, roomId, owner.token);
    await waitForSynced(fresh.provider);
    await waitFor(() => fresh.doc.getMap('events').get('e2') === 'Lunch', 5000, 'fresh sync');
    expect(fresh.doc.getMap('events').has('hack')).toBe(false);
    for (const p of [o, v, fresh]) p.provider.destroy();
  });

  it('tells a Kith client its role (103) at once and on every change; a viewer is never sent permission-denied', async () => {
    const owner = await api.signUp('owner');
    const bob = await api.signUp('bob');
    const roomId = await api.createRoom(owner.token);
    await api.addMember(owner.token, roomId, bob.token, 'editor');
    const b = await RawClient.connect(`${t.wsUrl}/${roomId}?token=${bob.token}`);
    await b.waitSynced();
    b.subscribeDurable();
    await waitFor(() => b.roles.length === 1, 5000, 'initial role');
    expect(b.roles).toEqual(['editor']);
    await api.request('PATCH', `/rooms/${roomId}/members/${bob.userId}`, { token: owner.token, body: { role: 'viewer' } });
    await waitFor(() => b.roles.length === 2, 5000, 'role change');
    expect(b.roles).toEqual(['editor', 'viewer']);
    b.doc.getMap('m').set('a', 1);
    b.doc.getMap('m').set('b', 2);
    // Stock clients print a permission-denied message with their URL (and token) to the console.
    b.send(protocol.encodeStoredBarrier(9));
    await waitFor(() => b.barriers.includes(9), 5000, 'writes processed');
    expect(b.denied).toEqual([]);
    b.close();
  });

  it('a removed member is cut off within 1 s with 4403 MEMBERSHIP_REVOKED', async () => {
    const owner = await api.signUp('owner');
    const bob = await api.signUp('bob');
    const roomId = await api.createRoom(owner.token);
    await api.addMember(owner.token, roomId, bob.token, 'editor');
    const b = await RawClient.connect(`${t.wsUrl}/${roomId}?token=${bob.token}`);
    await b.waitSynced();
    const res = await api.request('DELETE', `/rooms/${roomId}/members/${bob.userId}`, { token: owner.token });
    expect(res.status).toBe(204);
    // Counted from the answer: the request itself may be slow on a loaded machine.
    const answered = Date.now();
    const closed = await b.closed;
    expect(closed).toEqual({ code: 4403, reason: 'MEMBERSHIP_REVOKED' });
    expect(Date.now() - answered).toBeLessThan(1000);
  });

  it('lowering a role to viewer makes an open socket read-only at once', async () => {
    const owner = await api.signUp('owner');
    const bob = await api.signUp('bob');
    const roomId = await api.createRoom(owner.token);
    await api.addMember(owner.token, roomId, bob.token, 'editor');
    const o = await RawClient.connect(`${t.wsUrl}/${roomId}?token=${owner.token}`);
    const b = await RawClient.connect(`${t.wsUrl}/${roomId}?token=${bob.token}`);
    await Promise.all([o.waitSynced(), b.waitSynced()]);
    b.doc.getMap('m').set('before', 1);
    await waitFor(() => o.doc.getMap('m').get('before') === 1, 5000, 'editor write');

    const res = await api.request('PATCH', `/rooms/${roomId}/members/${bob.userId}`, {
      token: owner.token,
      body: { role: 'viewer' },
    });
    expect(res.status).toBe(200);
    b.doc.getMap('m').set('after', 2);
    o.doc.getMap('m').set('marker', 3);
    await waitFor(() => b.doc.getMap('m').get('marker') === 3, 5000, 'owner marker');
    await new Promise((r) => setTimeout(r, 100));
    expect(o.doc.getMap('m').has('after')).toBe(false);
    o.close();
    b.close();
  });
});

describe('token lifetime on open sockets', () => {
  /** Runs a test against a server whose access tokens live 4 s, with alice and a room of hers. */
  async function withShortTokens(
    test: (s: { short: TestServer; a: ReturnType<typeof apiClient>; alice: Awaited<ReturnType<typeof api.signUp>>; roomId: string }) => Promise<void>,
  ): Promise<void> {
    const short = await startTestServer({ accessTokenTtlSeconds: 4 });
    try {
      const a = apiClient(short.url);
      const alice = await a.signUp('alice');
      const roomId = await a.createRoom(alice.token);
      await test({ short, a, alice, roomId });
    } finally {
      await short.close();
    }
  }

  it('closes a socket whose token expires with 4401 TOKEN_EXPIRED', () =>
    withShortTokens(async ({ short, a, alice, roomId }) => {
      // A fresh token right before connecting (a loaded machine may take a while to get here).
      const login = await a.request('POST', '/users/login', { body: { username: alice.username, password: alice.password } });
      const c = await RawClient.connect(`${short.wsUrl}/${roomId}?token=${login.body.token}`);
      await c.waitSynced();
      expect(await c.closed).toEqual({ code: 4401, reason: 'TOKEN_EXPIRED' });
    }));

  it('keeps the socket open when the client sends a refreshed token before expiry', () =>
    // exp is in whole seconds, so a 4 s token lives between 3 and 4 s: refreshing every 1.2 s is in
    // time, counted from a login right before connecting (a loaded machine may take a while to get here).
    withShortTokens(async ({ short, a, alice, roomId }) => {
      const login = await a.request('POST', '/users/login', { body: { username: alice.username, password: alice.password } });
      alice.refreshToken = login.body.refreshToken;
      const c = await RawClient.connect(`${short.wsUrl}/${roomId}?token=${login.body.token}`);
      await c.waitSynced();
      let closedAt: number | undefined;
      void c.closed.then(() => (closedAt = Date.now()));
      // Refresh four times, each before the current token runs out: 4.8 s, past the first token's expiry.
      for (let i = 0; i < 4; i++) {
        await sleep(1200);
        const refreshed = await a.request('POST', '/users/refresh', { body: { refreshToken: alice.refreshToken } });
        expect(refreshed.status).toBe(200);
        alice.refreshToken = refreshed.body.refreshToken;
        c.send(protocol.encodeToken(refreshed.body.token));
      }
      await sleep(1200);
      expect(closedAt).toBeUndefined();
      c.doc.getMap('m').set('still', 'here');
      c.subscribeDurable();
      await waitFor(() => c.allSaved, 5000, 'write after refresh is stored');
      c.close();
    }));

  it('closes a refreshed socket when the refreshed token runs out, not before', () =>
    withShortTokens(async ({ short, a, alice, roomId }) => {
      const expiry = (token: string) => (jwtClaims(token).exp as number) * 1000;
      const login = await a.request('POST', '/users/login', { body: { username: alice.username, password: alice.password } });
      const c = await RawClient.connect(`${short.wsUrl}/${roomId}?token=${login.body.token}`);
      await c.waitSynced();
      let closedAt = 0;
      const closed = c.closed.then((r) => ((closedAt = Date.now()), r));
      await sleep(1200);
      const refreshed = await a.request('POST', '/users/refresh', { body: { refreshToken: login.body.refreshToken } });
      c.send(protocol.encodeToken(refreshed.body.token));
      expect(await closed).toEqual({ code: 4401, reason: 'TOKEN_EXPIRED' });
      // The sweep armed for the first token found the socket refreshed and waited for the new expiry.
      expect(expiry(refreshed.body.token)).toBeGreaterThan(expiry(login.body.token));
      expect(closedAt).toBeGreaterThanOrEqual(expiry(refreshed.body.token));
    }));

  it('closes with 4403 when a refreshed token belongs to someone else', async () => {
    const alice = await api.signUp('alice');
    const eve = await api.signUp('eve');
    const roomId = await api.createRoom(alice.token);
    const c = await RawClient.connect(`${t.wsUrl}/${roomId}?token=${alice.token}`);
    await c.waitSynced();
    c.send(protocol.encodeToken(eve.token));
    expect(await c.closed).toEqual({ code: 4403, reason: 'TOKEN_USER_MISMATCH' });
  });

  it('closes with 4401 when a refreshed token is invalid', async () => {
    const alice = await api.signUp('alice');
    const roomId = await api.createRoom(alice.token);
    const c = await RawClient.connect(`${t.wsUrl}/${roomId}?token=${alice.token}`);
    await c.waitSynced();
    c.send(protocol.encodeToken('garbage'));
    expect(await c.closed).toEqual({ code: 4401, reason: 'UNAUTHENTICATED' });
  });
});

describe('limits', () => {
  it('closes a socket that exceeds its update rate with 4429, and the room keeps serving', async () => {
    const limited = await startTestServer({ limits: { updatesPerSecond: 5, updatesBurst: 10 } });
    try {
      const a = apiClient(limited.url);
      const alice = await a.signUp('alice');
      const roomId = await a.createRoom(alice.token);
      const spammer = await RawClient.connect(`${limited.wsUrl}/${roomId}?token=${alice.token}`);
      const calm = await RawClient.connect(`${limited.wsUrl}/${roomId}?token=${alice.token}`);
      await Promise.all([spammer.waitSynced(), calm.waitSynced()]);
      for (let i = 0; i < 50; i++) spammer.doc.getMap('m').set(`k${i}`, i);
      expect(await spammer.closed).toEqual({ code: 4429, reason: 'RATE_LIMITED' });
      calm.doc.getMap('m').set('calm', true);
      calm.subscribeDurable();
      await waitFor(() => calm.allSaved, 5000, 'calm client saved');
      calm.close();
    } finally {
      await limited.close();
    }
  });

  it('closes a socket sending a message over the size limit with 1009', async () => {
    const small = await startTestServer({ limits: { maxMessageBytes: 4096 } });
    try {
      const a = apiClient(small.url);
      const alice = await a.signUp('alice');
      const roomId = await a.createRoom(alice.token);
      const c = await RawClient.connect(`${small.wsUrl}/${roomId}?token=${alice.token}`);
      await c.waitSynced();
      c.doc.getMap('m').set('big', 'x'.repeat(10_000));
      expect((await c.closed).code).toBe(1009);
    } finally {
      await small.close();
    }
  });

  it('refuses updates past the room size limit with 4413 ROOM_TOO_LARGE', async () => {
    const small = await startTestServer({ limits: { maxRoomBytes: 2048 } });
    try {
      const a = apiClient(small.url);
      const alice = await a.signUp('alice');
      const roomId = await a.createRoom(alice.token);
      const c = await RawClient.connect(`${small.wsUrl}/${roomId}?token=${alice.token}`);
      await c.waitSynced();
      c.doc.getMap('m').set('a', 'x'.repeat(1500));
      c.subscribeDurable();
      await waitFor(() => c.allSaved, 5000, 'first write stored');
      c.doc.getMap('m').set('b', 'y'.repeat(1500));
      expect(await c.closed).toEqual({ code: 4413, reason: 'ROOM_TOO_LARGE' });
    } finally {
      await small.close();
    }
  });
});
