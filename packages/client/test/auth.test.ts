import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KithApiError, LocalStorageTokenStore, MemoryTokenStore, type Session, type StorageLike } from '../src/index.js';
import { PASSWORD, makeClient, signUp, sleep, uniqueName } from './helpers/clients.js';
import { startServer, type TestServer } from './helpers/server.js';

let t: TestServer;
/**
 * Access tokens live 2 s here. JWT expiry is in whole seconds, so a token lives 1–2 s from issue:
 * one refreshed here still outlives the request that follows (a 1 s token could live 1 ms).
 */
let twoSeconds: TestServer;
beforeAll(async () => {
  [t, twoSeconds] = await Promise.all([startServer(), startServer({ accessTokenTtlSeconds: 2 })]);
});
afterAll(async () => {
  await Promise.all([t.close(), twoSeconds.close()]);
});

/** fetch that records every request path. */
function recordingFetch(): { fetch: typeof fetch; paths: string[] } {
  const paths: string[] = [];
  return {
    paths,
    fetch: (input, init) => {
      paths.push(`${init?.method ?? 'GET'} ${new URL(String(input)).pathname}`);
      return fetch(input, init);
    },
  };
}

function storeWith(session: Session): MemoryTokenStore {
  const store = new MemoryTokenStore();
  store.set(session);
  return store;
}

class FakeStorage implements StorageLike {
  readonly map = new Map<string, string>();
  getItem(k: string) {
    return this.map.get(k) ?? null;
  }
  setItem(k: string, v: string) {
    this.map.set(k, v);
  }
  removeItem(k: string) {
    this.map.delete(k);
  }
}

describe('auth', () => {
  it('registers, logs in, answers me() and knows the user without the network', async () => {
    const client = makeClient(t.url);
    const username = uniqueName('ann');
    const registered = await client.register(username, PASSWORD);
    expect(registered).toEqual({ userId: expect.any(String), username });
    expect(client.user).toBeNull();
    const user = await client.login(username, PASSWORD);
    expect(user).toEqual(registered);
    expect(client.user).toEqual(registered);
    expect(await client.me()).toEqual(registered);
  });

  it('throws KithApiError with the catalogue code, status and message', async () => {
    const client = makeClient(t.url);
    const { username } = await signUp(client, 'bob');
    const taken = await client.register(username.toUpperCase(), PASSWORD).catch((e: unknown) => e);
    expect(taken).toBeInstanceOf(KithApiError);
    expect(taken).toMatchObject({ status: 409, code: 'USERNAME_TAKEN', message: expect.stringMatching(/taken/) });
    const wrong = await makeClient(t.url).login(username, 'wrong password!').catch((e: unknown) => e);
    expect(wrong).toMatchObject({ status: 401, code: 'INVALID_CREDENTIALS' });
    const signedOut = await makeClient(t.url).me().catch((e: unknown) => e);
    expect(signedOut).toMatchObject({ status: 401, code: 'NOT_LOGGED_IN' });
  });

  it('reports an unreachable server as NETWORK_ERROR with status 0', async () => {
    const client = makeClient('http://127.0.0.1:1');
    const err = await client.register('nobody', PASSWORD).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 0, code: 'NETWORK_ERROR' });
  });

  it('refreshes an expired access token transparently: a REST call after expiry succeeds', async () => {
    const short = await startServer({ accessTokenTtlSeconds: 2 });
    try {
      const rec = recordingFetch();
      const client = makeClient(short.url, { fetch: rec.fetch });
      const user = await signUp(client, 'cara');
      const before = (await client.ready(), client['session']!.token as string);
      await sleep(2200);
      expect(await client.me()).toEqual(user);
      expect(rec.paths.filter((p) => p === 'POST /users/refresh')).toHaveLength(1);
      expect(client['session']!.token).not.toBe(before);
    } finally {
      await short.close();
    }
  });

  it('retries once after a 401 TOKEN_EXPIRED from the server even when the local clock disagrees', async () => {
    const rec = recordingFetch();
    const client = makeClient(twoSeconds.url, { fetch: rec.fetch });
    const user = await signUp(client, 'dan');
    // Pretend the local clock thinks the token is still fresh.
    client['session']!.expiresAt = Date.now() + 3_600_000;
    await sleep(2100);
    expect(await client.me()).toEqual(user);
    expect(rec.paths).toEqual(expect.arrayContaining(['GET /users/me', 'POST /users/refresh']));
    expect(rec.paths.filter((p) => p === 'GET /users/me')).toHaveLength(2);
  });

  it('dedupes concurrent refreshes: one rotation serves many requests', async () => {
    const rec = recordingFetch();
    // Long-lived tokens, with the local clock made to think this one has expired: every request
    // below must refresh first. (With 1 s tokens the rotated one could expire again before a
    // loaded machine sent the requests, and a second, correct, refresh failed the count.)
    const client = makeClient(t.url, { fetch: rec.fetch });
    const user = await signUp(client, 'eve');
    await client.rooms.create('Home');
    client['session']!.expiresAt = Date.now() - 1;
    rec.paths.length = 0;
    const results = await Promise.all([client.me(), client.rooms.list(), client.me(), client.rooms.list(), client.me()]);
    expect(results[0]).toEqual(user);
    expect(results[1]).toHaveLength(1);
    expect(rec.paths.filter((p) => p === 'POST /users/refresh')).toHaveLength(1);
    // The rotated refresh token still works (a reused one would have revoked the whole family).
    await client.refresh();
    expect(await client.me()).toEqual(user);
  });

  it('logout revokes the refresh token and forgets the session', async () => {
    const store = new MemoryTokenStore();
    const client = makeClient(t.url, { tokenStore: store });
    await signUp(client, 'fay');
    const session = store.get()!;
    const sessions: Array<unknown> = [];
    client.on('session', (u) => sessions.push(u));
    await client.logout();
    expect(store.get()).toBeNull();
    expect(client.user).toBeNull();
    expect(sessions).toEqual([null]);
    // The old refresh token no longer works.
    const other = makeClient(t.url, { tokenStore: storeWith(session) });
    const err = await other.refresh().catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 401, code: 'REFRESH_TOKEN_INVALID' });
  });

  it('a refused refresh ends the session and emits auth-required', async () => {
    const store = new MemoryTokenStore();
    const client = makeClient(twoSeconds.url, { tokenStore: store });
    await signUp(client, 'gus');
    const stolen = { ...store.get()! };
    // Someone else uses the refresh token first: ours is now a reuse of a rotated one.
    const thief = makeClient(twoSeconds.url, { tokenStore: storeWith(stolen) });
    await thief.refresh();
    const required: string[] = [];
    client.on('auth-required', ({ code }) => required.push(code));
    await sleep(2100);
    const err = await client.me().catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 401, code: 'REFRESH_TOKEN_REUSED' });
    expect(required).toEqual(['REFRESH_TOKEN_REUSED']);
    expect(client.user).toBeNull();
    expect(store.get()).toBeNull();
  });

  it('keeps the session in localStorage: a new client (a reload) is signed in', async () => {
    const storage = new FakeStorage();
    const first = makeClient(t.url, { tokenStore: new LocalStorageTokenStore('kith.session', storage) });
    const user = await signUp(first, 'hal');
    expect(JSON.parse(storage.getItem('kith.session')!)).toMatchObject({ user });
    const reloaded = makeClient(t.url, { tokenStore: new LocalStorageTokenStore('kith.session', storage) });
    expect(await reloaded.currentUser()).toEqual(user);
    expect(await reloaded.me()).toEqual(user);
    await reloaded.logout();
    expect(storage.getItem('kith.session')).toBeNull();
  });

  it('adopts a token pair another tab already rotated instead of reusing the old refresh token', async () => {
    const storage = new FakeStorage();
    const tabA = makeClient(t.url, { tokenStore: new LocalStorageTokenStore('k', storage) });
    const user = await signUp(tabA, 'ida');
    const tabB = makeClient(t.url, { tokenStore: new LocalStorageTokenStore('k', storage) });
    await tabB.ready();
    await tabA.refresh(); // rotates; tab B still holds the old pair in memory
    await tabB.refresh(); // must adopt A's pair, not send the rotated token
    expect(await tabB.me()).toEqual(user);
    expect(await tabA.me()).toEqual(user);
  });
});
