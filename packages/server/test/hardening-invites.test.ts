/**
 * Issue 11, findings 9, 13b and 15: invites expire and run out by default, owners list and revoke
 * them, a removal sticks (old invite codes do not bring the member back), invite acceptance is
 * rate-limited, and the registration policy (open / invite-only / closed).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/index.js';
import { apiClient } from './helpers/api.js';
import { expectError, postJsonFrom } from './helpers/http-assert.js';
import { startTestServer, type TestServer } from './helpers/server.js';

type Api = ReturnType<typeof apiClient>;
type User = Awaited<ReturnType<Api['signUp']>>;
const PASSWORD = 'correct horse battery';

let n = 0;
const uniqueName = (prefix: string) => `${prefix}${Date.now().toString(36)}${(n++).toString(36)}`.slice(0, 32);

function helpers(api: Api) {
  const invite = (owner: User, roomId: string, body: Record<string, unknown> = { role: 'editor' }) =>
    api.request('POST', `/rooms/${roomId}/invites`, { body, token: owner.token });
  const code = async (owner: User, roomId: string, body?: Record<string, unknown>) => {
    const res = await invite(owner, roomId, body);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body as { inviteId: string; code: string; url: string };
  };
  const accept = (user: User, c: string) => api.request('POST', `/invites/${c}/accept`, { token: user.token });
  const remove = (by: User, roomId: string, userId: string) =>
    api.request('DELETE', `/rooms/${roomId}/members/${userId}`, { token: by.token });
  const setRole = (by: User, roomId: string, userId: string, role: string) =>
    api.request('PATCH', `/rooms/${roomId}/members/${userId}`, { token: by.token, body: { role } });
  const role = async (user: User, roomId: string) => {
    const res = await api.request('GET', `/rooms/${roomId}`, { token: user.token });
    return res.status === 200 ? (res.body.role as string) : null;
  };
  return { invite, code, accept, remove, setRole, role };
}

describe('invites: defaults, listing and revoking, and removals that stick', () => {
  let t: TestServer;
  let api: Api;
  let h: ReturnType<typeof helpers>;
  let ann: User, ben: User, cara: User;
  beforeAll(async () => {
    t = await startTestServer();
    api = apiClient(t.url);
    h = helpers(api);
    [ann, ben, cara] = (await Promise.all(['ann', 'ben', 'cara'].map((p) => api.signUp(p)))) as [User, User, User];
  });
  afterAll(async () => {
    await t?.close();
  });

  it('an invite made without limits expires after 7 days and admits 10 people', async () => {
    const roomId = await api.createRoom(ann.token);
    const before = Date.now();
    const res = await h.invite(ann, roomId, { role: 'viewer' });
    expect(res.body.maxUses).toBe(10);
    const ttl = Date.parse(res.body.expiresAt) - before;
    expect(ttl).toBeGreaterThan(168 * 3600_000 - 5000);
    expect(ttl).toBeLessThan(168 * 3600_000 + 5000);
  });

  it('the defaults come from --invite-expiry-hours and --invite-max-uses (KITH_INVITE_*)', () => {
    const c = parseConfig(['--invite-expiry-hours', '24'], { KITH_INVITE_MAX_USES: '1' });
    expect(c).toMatchObject({ inviteExpiryHours: 24, inviteMaxUses: 1 });
    expect(() => parseConfig(['--invite-max-uses', '0'], {})).toThrow(/--invite-max-uses must be an integer >= 1/);
  });

  it('owners list the room’s invites (never their codes) and revoke one: its code then stops working', async () => {
    const roomId = await api.createRoom(ann.token);
    const a = await h.code(ann, roomId, { role: 'editor', maxUses: 2 });
    const b = await h.code(ann, roomId, { role: 'viewer', expiresInHours: 1 });
    const list = await api.request('GET', `/rooms/${roomId}/invites`, { token: ann.token });
    expect(list.status).toBe(200);
    expect(list.body.invites.map((i: { inviteId: string }) => i.inviteId).sort()).toEqual([a.inviteId, b.inviteId].sort());
    const first = list.body.invites.find((i: { inviteId: string }) => i.inviteId === a.inviteId);
    expect(first).toMatchObject({ role: 'editor', createdBy: ann.userId, maxUses: 2, uses: 0, usable: true });
    expect(JSON.stringify(list.body)).not.toContain(a.code);
    expect(JSON.stringify(list.body)).not.toContain(b.code);

    expect((await api.request('DELETE', `/rooms/${roomId}/invites/${a.inviteId}`, { token: ann.token })).status).toBe(204);
    expectError(await h.accept(ben, a.code), 404, 'INVITE_NOT_FOUND');
    expectError(await api.request('DELETE', `/rooms/${roomId}/invites/${a.inviteId}`, { token: ann.token }), 404, 'INVITE_NOT_FOUND');
    // The other invite still works.
    expect((await h.accept(ben, b.code)).status).toBe(200);
  });

  it('only owners list and revoke invites; non-members get 404', async () => {
    const roomId = await api.createRoom(ann.token);
    const a = await h.code(ann, roomId);
    expect((await h.accept(ben, a.code)).status).toBe(200);
    expectError(await api.request('GET', `/rooms/${roomId}/invites`, { token: ben.token }), 403, 'FORBIDDEN');
    expectError(await api.request('DELETE', `/rooms/${roomId}/invites/${a.inviteId}`, { token: ben.token }), 403, 'FORBIDDEN');
    expectError(await api.request('GET', `/rooms/${roomId}/invites`, { token: cara.token }), 404, 'ROOM_NOT_FOUND');
    expectError(await api.request('GET', `/rooms/${roomId}/invites`), 401, 'UNAUTHENTICATED');
  });

  it('a removed member cannot come back through the code they used, nor any invite made before the removal', async () => {
    const roomId = await api.createRoom(ann.token);
    const used = await h.code(ann, roomId, { role: 'editor', maxUses: 5 });
    const other = await h.code(ann, roomId, { role: 'viewer' });
    expect((await h.accept(ben, used.code)).status).toBe(200);
    expect((await h.remove(ann, roomId, ben.userId)).status).toBe(204);

    expectError(await h.accept(ben, used.code), 403, 'REMOVED_FROM_ROOM');
    expectError(await h.accept(ben, other.code), 403, 'REMOVED_FROM_ROOM');
    expect(await h.role(ben, roomId)).toBeNull();
    // The refusals used nothing: the code still admits someone else.
    expect((await h.accept(cara, used.code)).body.role).toBe('editor');

    // An owner who wants Ben back makes a new invite, on purpose.
    const fresh = await h.code(ann, roomId, { role: 'viewer' });
    expect((await h.accept(ben, fresh.code)).body).toMatchObject({ role: 'viewer', joined: true });
  });

  it('someone who left on their own may rejoin with a link that still works', async () => {
    const roomId = await api.createRoom(ann.token);
    const link = await h.code(ann, roomId);
    expect((await h.accept(ben, link.code)).status).toBe(200);
    expect((await h.remove(ben, roomId, ben.userId)).status).toBe(204);
    expect((await h.accept(ben, link.code)).body).toMatchObject({ joined: true });
  });

  it('the invites of an owner stop working once that owner is removed or demoted, and stay dead', async () => {
    const roomId = await api.createRoom(ann.token);
    const made = await h.code(ann, roomId, { role: 'owner' });
    expect((await h.accept(ben, made.code)).status).toBe(200);
    const bens = await h.code(ben, roomId, { role: 'editor' });
    expect((await h.setRole(ann, roomId, ben.userId, 'editor')).status).toBe(200);
    expectError(await h.accept(cara, bens.code), 410, 'INVITE_REVOKED');
    // Made owner again, his old invite stays revoked (see link-revocation.test.ts); new ones work.
    expect((await h.setRole(ann, roomId, ben.userId, 'owner')).status).toBe(200);
    expectError(await h.accept(cara, bens.code), 410, 'INVITE_REVOKED');
    expect((await h.accept(cara, (await h.code(ben, roomId, { role: 'editor' })).code)).status).toBe(200);
  });
});

describe('invite acceptance is rate-limited per IP like login', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ limits: { loginPerMinute: 3 } });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('the 4th acceptance a minute from one address is 429 RATE_LIMITED with Retry-After', async () => {
    const api = apiClient(t.url);
    const guesser = await api.signUp('guesser');
    for (let i = 0; i < 3; i++) {
      expectError(await api.request('POST', `/invites/guess${i}/accept`, { token: guesser.token }), 404, 'INVITE_NOT_FOUND');
    }
    const res = await api.request('POST', '/invites/guess9/accept', { token: guesser.token });
    expectError(res, 429, 'RATE_LIMITED');
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });
});

describe('registration policy', () => {
  it('is open by default, and set by --registration or KITH_REGISTRATION; other values are refused', () => {
    expect(parseConfig([], {})).toMatchObject({ registration: 'open' });
    expect(parseConfig(['--registration', 'invite-only'], {})).toMatchObject({ registration: 'invite-only' });
    expect(parseConfig([], { KITH_REGISTRATION: 'closed' })).toMatchObject({ registration: 'closed' });
    expect(() => parseConfig(['--registration', 'sometimes'], {})).toThrow(/--registration must be open, invite-only or closed/);
  });

  describe('invite-only', () => {
    let t: TestServer;
    let api: Api;
    let h: ReturnType<typeof helpers>;
    let owner: User;
    beforeAll(async () => {
      t = await startTestServer({ registration: 'invite-only' });
      api = apiClient(t.url);
      h = helpers(api);
      // The first account of an invite-only server comes from somewhere: here, straight from storage.
      owner = await seedUser(t, api, 'owner');
    });
    afterAll(async () => {
      await t?.close();
    });
    const register = (body: Record<string, unknown>) => api.request('POST', '/users/register', { body });

    it('refuses to register without an invite code: 403 INVITE_REQUIRED', async () => {
      expectError(await register({ username: uniqueName('nocode'), password: PASSWORD }), 403, 'INVITE_REQUIRED');
    });

    it('registers with a valid code and joins its room in the same step; plain login then works', async () => {
      const roomId = await api.createRoom(owner.token, 'The Millers');
      const inv = await h.code(owner, roomId, { role: 'viewer' });
      const username = uniqueName('newbie');
      const res = await register({ username, password: PASSWORD, inviteCode: inv.code });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      expect(res.body).toEqual({ userId: expect.any(String), username, room: { roomId, name: 'The Millers', role: 'viewer' } });
      const login = await api.request('POST', '/users/login', { body: { username, password: PASSWORD } });
      expect(login.status).toBe(200);
      const rooms = await api.request('GET', '/rooms', { token: login.body.token });
      expect(rooms.body.rooms).toEqual([{ roomId, name: 'The Millers', role: 'viewer' }]);
    });

    it('an unknown, expired, used-up or revoked code creates no account', async () => {
      const roomId = await api.createRoom(owner.token);
      const once = await h.code(owner, roomId, { role: 'editor', maxUses: 1 });
      const expiring = await h.code(owner, roomId, { role: 'editor', expiresInHours: 1 / 3600 });
      const revoked = await h.code(owner, roomId);
      await api.request('DELETE', `/rooms/${roomId}/invites/${revoked.inviteId}`, { token: owner.token });
      expect((await register({ username: uniqueName('first'), password: PASSWORD, inviteCode: once.code })).status).toBe(201);
      await new Promise((r) => setTimeout(r, 1100));
      const cases: Array<[string, number, 'INVITE_NOT_FOUND' | 'INVITE_EXPIRED' | 'INVITE_USED_UP']> = [
        ['no-such-code', 404, 'INVITE_NOT_FOUND'],
        [expiring.code, 410, 'INVITE_EXPIRED'],
        [once.code, 410, 'INVITE_USED_UP'],
        [revoked.code, 404, 'INVITE_NOT_FOUND'],
      ];
      for (const [code, status, error] of cases) {
        const username = uniqueName('nope');
        expectError(await register({ username, password: PASSWORD, inviteCode: code }), status, error);
        // No account was left behind: the name is free and cannot sign in.
        expectError(await api.request('POST', '/users/login', { body: { username, password: PASSWORD } }), 401, 'INVALID_CREDENTIALS');
      }
    });

    it('a taken username is 409 USERNAME_TAKEN and uses nothing of the invite', async () => {
      const roomId = await api.createRoom(owner.token);
      const once = await h.code(owner, roomId, { role: 'editor', maxUses: 1 });
      expectError(await register({ username: owner.username, password: PASSWORD, inviteCode: once.code }), 409, 'USERNAME_TAKEN');
      expect((await register({ username: uniqueName('after'), password: PASSWORD, inviteCode: once.code })).status).toBe(201);
    });
  });

  it('closed refuses every registration, with or without a code: 403 REGISTRATION_CLOSED; login still works', async () => {
    const t = await startTestServer({ registration: 'closed' });
    try {
      const api = apiClient(t.url);
      const owner = await seedUser(t, api, 'closed');
      const roomId = await api.createRoom(owner.token);
      const inv = await helpers(api).code(owner, roomId);
      for (const body of [{ username: uniqueName('x'), password: PASSWORD }, { username: uniqueName('y'), password: PASSWORD, inviteCode: inv.code }]) {
        expectError(await api.request('POST', '/users/register', { body }), 403, 'REGISTRATION_CLOSED');
      }
    } finally {
      await t.close();
    }
  });

  it('open (the default) registers without a code as before, and with one joins its room', async () => {
    const t = await startTestServer();
    try {
      const api = apiClient(t.url);
      const owner = await api.signUp('open');
      const roomId = await api.createRoom(owner.token, 'Open house');
      const inv = await helpers(api).code(owner, roomId);
      const res = await postJsonFrom('127.0.0.1', t.url, '/users/register', { username: uniqueName('guest'), password: PASSWORD, inviteCode: inv.code });
      expect(res.status).toBe(201);
      expect(res.body.room).toEqual({ roomId, name: 'Open house', role: 'editor' });
    } finally {
      await t.close();
    }
  });
});

/** Creates a user directly in storage (an invite-only or closed server has no open sign-up) and logs in. */
async function seedUser(t: TestServer, api: Api, prefix: string): Promise<User> {
  const { hashPassword } = await import('../src/auth/passwords.js');
  const username = uniqueName(prefix);
  const userId = crypto.randomUUID();
  await t.server.storage.users.create({ userId, username, passwordHash: await hashPassword(PASSWORD), createdAt: Date.now() });
  const login = await api.request('POST', '/users/login', { body: { username, password: PASSWORD } });
  expect(login.status).toBe(200);
  return { userId, username, password: PASSWORD, token: login.body.token, refreshToken: login.body.refreshToken };
}
