import path from 'node:path';
import { createHash } from 'node:crypto';
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient } from './helpers/api.js';
import { expectError, expectValidationError, signJwt, sleep } from './helpers/http-assert.js';
import { startTestServer, TEST_JWT_SECRET, type TestServer } from './helpers/server.js';

type User = Awaited<ReturnType<ReturnType<typeof apiClient>['signUp']>>;

let t: TestServer;
let api: ReturnType<typeof apiClient>;
/** Six users, reused across tests; every test makes its own rooms. */
let alice: User, bob: User, carol: User, dave: User, erin: User, frank: User;

beforeAll(async () => {
  t = await startTestServer();
  api = apiClient(t.url);
  const users = await Promise.all(['alice', 'bob', 'carol', 'dave', 'erin', 'frank'].map((p) => api.signUp(p)));
  [alice, bob, carol, dave, erin, frank] = users as [User, User, User, User, User, User];
});
afterAll(async () => {
  await t?.close();
});

const ROOM_ID = /^[A-Za-z0-9_-]{22,}$/;

const createRoom = (token: string | undefined, body: unknown) => api.request('POST', '/rooms', { body, token });
const listRooms = (token: string) => api.request('GET', '/rooms', { token });
const getRoom = (token: string | undefined, roomId: string) => api.request('GET', `/rooms/${roomId}`, { token });
const invite = (token: string | undefined, roomId: string, body: unknown) =>
  api.request('POST', `/rooms/${roomId}/invites`, { body, token });
const accept = (token: string | undefined, code: string) => api.request('POST', `/invites/${code}/accept`, { token });
const setRole = (token: string | undefined, roomId: string, userId: string, body: unknown) =>
  api.request('PATCH', `/rooms/${roomId}/members/${userId}`, { body, token });
const removeMember = (token: string | undefined, roomId: string, userId: string) =>
  api.request('DELETE', `/rooms/${roomId}/members/${userId}`, { token });

/** A room owned by `owner`, with each of `members` joined through an invite of the given role. */
async function roomWith(owner: User, members: Array<[User, 'owner' | 'editor' | 'viewer']> = []): Promise<string> {
  const roomId = await api.createRoom(owner.token, 'Family');
  for (const [user, role] of members) await api.addMember(owner.token, roomId, user.token, role);
  return roomId;
}

async function newInvite(owner: User, roomId: string, body: Record<string, unknown>): Promise<string> {
  const res = await invite(owner.token, roomId, body);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.code;
}

async function rolesIn(roomId: string, viewer: User = alice): Promise<Record<string, string>> {
  const res = await getRoom(viewer.token, roomId);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return Object.fromEntries(res.body.members.map((m: { username: string; role: string }) => [m.username, m.role]));
}

describe('POST /rooms', () => {
  it('creates a room and answers 201 with exactly {roomId, name, role: "owner"}', async () => {
    const res = await createRoom(alice.token, { name: 'Family' });
    expect(res.status).toBe(201);
    expect(Object.keys(res.body).sort()).toEqual(['name', 'role', 'roomId']);
    expect(res.body).toMatchObject({ name: 'Family', role: 'owner' });
    expect(res.body.roomId).toMatch(ROOM_ID);
  });

  it('trims the name and keeps any other character', async () => {
    const res = await createRoom(alice.token, { name: '  Smiths’ 🏠 calendar  ' });
    expect(res.status).toBe(201);
    expect(res.body.name).toBe('Smiths’ 🏠 calendar');
    expect((await getRoom(alice.token, res.body.roomId)).body.name).toBe('Smiths’ 🏠 calendar');
  });

  it('gives URL-safe, unguessable (>= 22 base64url characters), distinct room ids', async () => {
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => createRoom(alice.token, { name: `Room ${i}` })));
    const ids = results.map((r) => {
      expect(r.status).toBe(201);
      return r.body.roomId as string;
    });
    for (const id of ids) {
      expect(id).toMatch(ROOM_ID);
      expect(encodeURIComponent(id)).toBe(id);
    }
    expect(new Set(ids).size).toBe(ids.length);
  });

  it.each([
    ['a missing name', {}, 'name'],
    ['an empty name', { name: '' }, 'name'],
    ['a name of only spaces', { name: '   ' }, 'name'],
    ['a name longer than 100 characters', { name: 'x'.repeat(101) }, 'name'],
    ['a number as name (no type coercion)', { name: 42 }, 'name'],
    ['an extra field', { name: 'Family', ownerId: 'someone' }, 'ownerId'],
    // Control characters and non-characters: calendar apps (CalDAV's XML) cannot carry them.
    ['a name with a control character', { name: 'Fam\u0001ily' }, 'name'],
    ['a name with NUL', { name: 'Fam\u0000ily' }, 'name'],
    ['a name with a line break', { name: 'Fam\nily' }, 'name'],
    ['a name with DEL or a C1 control', { name: 'Fam\u007F\u0085ily' }, 'name'],
    ['a name with U+FFFE', { name: 'Fam\uFFFEily' }, 'name'],
    ['a name with U+FFFF', { name: 'Family\uFFFF' }, 'name'],
    ['a name with a lone surrogate', { name: 'Fam\uD800ily' }, 'name'],
  ])('refuses %s with 400 VALIDATION_FAILED naming the field', async (_what, body, field) => {
    expectValidationError(await createRoom(alice.token, body), field);
  });

  it('refuses a body that is not application/json with 415 UNSUPPORTED_MEDIA_TYPE', async () => {
    const res = await api.request('POST', '/rooms', {
      token: alice.token,
      rawBody: JSON.stringify({ name: 'Family' }),
      headers: { 'content-type': 'text/plain' },
    });
    expectError(res, 415, 'UNSUPPORTED_MEDIA_TYPE');
  });
});

describe('authentication on every room route', () => {
  let roomId: string;
  let code: string;
  beforeAll(async () => {
    roomId = await roomWith(alice, [[bob, 'editor']]);
    code = await newInvite(alice, roomId, { role: 'viewer' });
  });

  const routes = () =>
    [
      ['POST /rooms', (token?: string) => createRoom(token, { name: 'Family' })],
      ['POST /rooms (with an invalid body)', (token?: string) => createRoom(token, { nope: true })],
      ['GET /rooms', (token?: string) => api.request('GET', '/rooms', { token })],
      ['GET /rooms/:roomId', (token?: string) => getRoom(token, roomId)],
      ['POST /rooms/:roomId/invites', (token?: string) => invite(token, roomId, { role: 'viewer' })],
      ['POST /invites/:code/accept', (token?: string) => accept(token, code)],
      ['PATCH /rooms/:roomId/members/:userId', (token?: string) => setRole(token, roomId, bob.userId, { role: 'viewer' })],
      ['DELETE /rooms/:roomId/members/:userId', (token?: string) => removeMember(token, roomId, bob.userId)],
    ] as const;

  /** Calls every route with `token` and expects the same 401 from each. */
  async function expectAll401(token: string | undefined, code: 'UNAUTHENTICATED' | 'TOKEN_EXPIRED') {
    for (const [route, call] of routes()) {
      const res = await call(token);
      expect({ route, status: res.status, code: res.body?.error?.code }).toEqual({ route, status: 401, code });
      expectError(res, 401, code);
    }
  }

  it('answers 401 UNAUTHENTICATED without a token, before looking at the body', async () => {
    await expectAll401(undefined, 'UNAUTHENTICATED');
  });

  it('answers 401 UNAUTHENTICATED for a token signed with another secret', async () => {
    const forged = signJwt(
      { sub: alice.userId, username: alice.username, exp: Math.floor(Date.now() / 1000) + 600 },
      'another-secret-that-is-long-enough-0123456789',
    );
    await expectAll401(forged, 'UNAUTHENTICATED');
  });

  it('answers 401 TOKEN_EXPIRED for an expired token', async () => {
    const now = Math.floor(Date.now() / 1000);
    const expired = signJwt({ sub: alice.userId, username: alice.username, iat: now - 999, exp: now - 1 }, TEST_JWT_SECRET);
    await expectAll401(expired, 'TOKEN_EXPIRED');
  });

  it('answers 401 UNAUTHENTICATED (not 500) for a well-signed token of a user that does not exist', async () => {
    const ghost = signJwt(
      { sub: '00000000-0000-4000-8000-000000000000', username: 'ghost', exp: Math.floor(Date.now() / 1000) + 600 },
      TEST_JWT_SECRET,
    );
    await expectAll401(ghost, 'UNAUTHENTICATED');
  });

  it('changed nothing: the room still has its two members and the invite is unused', async () => {
    expect(await rolesIn(roomId)).toEqual({ [alice.username]: 'owner', [bob.username]: 'editor' });
    const res = await accept(carol.token, code);
    expect(res.status).toBe(200);
    expect(res.body.joined).toBe(true);
  });
});

describe('GET /rooms', () => {
  it('lists exactly the rooms I belong to, with my role in each', async () => {
    const mine = await api.createRoom(erin.token, 'Erin own');
    const joined = await roomWith(frank, [[erin, 'viewer']]);
    const notMine = await api.createRoom(frank.token, 'Frank only');

    const res = await listRooms(erin.token);
    expect(res.status).toBe(200);
    expect(Object.keys(res.body)).toEqual(['rooms']);
    for (const room of res.body.rooms) expect(Object.keys(room).sort()).toEqual(['name', 'role', 'roomId']);
    const byId = Object.fromEntries(res.body.rooms.map((r: { roomId: string }) => [r.roomId, r]));
    expect(byId[mine]).toEqual({ roomId: mine, name: 'Erin own', role: 'owner' });
    expect(byId[joined]).toEqual({ roomId: joined, name: 'Family', role: 'viewer' });
    expect(byId[notMine]).toBeUndefined();
    // Every listed room is one erin can open.
    for (const r of res.body.rooms) expect((await getRoom(erin.token, r.roomId)).status).toBe(200);
  });

  it('answers an empty list for a user in no room', async () => {
    const loner = await api.signUp('loner');
    expect((await listRooms(loner.token)).body).toEqual({ rooms: [] });
  });
});

describe('GET /rooms/:roomId', () => {
  it('answers the details, my role and every member with userId, username and role', async () => {
    const roomId = await roomWith(alice, [[bob, 'editor'], [carol, 'viewer']]);
    for (const [user, role] of [[alice, 'owner'], [bob, 'editor'], [carol, 'viewer']] as const) {
      const res = await getRoom(user.token, roomId);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ roomId, name: 'Family', role });
      expect(new Date(res.body.createdAt).toISOString()).toBe(res.body.createdAt);
      expect(Math.abs(Date.parse(res.body.createdAt) - Date.now())).toBeLessThan(60_000);
      expect(res.body.members).toHaveLength(3);
      for (const m of res.body.members) expect(Object.keys(m).sort()).toEqual(['role', 'userId', 'username']);
      expect(res.body.members).toEqual(
        expect.arrayContaining([
          { userId: alice.userId, username: alice.username, role: 'owner' },
          { userId: bob.userId, username: bob.username, role: 'editor' },
          { userId: carol.userId, username: carol.username, role: 'viewer' },
        ]),
      );
    }
  });

  it('answers 404 ROOM_NOT_FOUND to a non-member, exactly as for a room that does not exist', async () => {
    const roomId = await roomWith(alice);
    const hidden = await getRoom(dave.token, roomId);
    const missing = await getRoom(dave.token, 'A'.repeat(22));
    expectError(hidden, 404, 'ROOM_NOT_FOUND');
    expectError(missing, 404, 'ROOM_NOT_FOUND');
    expect(hidden.body).toEqual(missing.body);
  });
});

describe('POST /rooms/:roomId/invites', () => {
  it('lets an owner create an invite: 201 {inviteId, code, url, role, expiresAt, maxUses}, by default for 7 days and 10 people', async () => {
    const roomId = await roomWith(alice);
    const before = Date.now();
    const res = await invite(alice.token, roomId, { role: 'editor' });
    expect(res.status).toBe(201);
    expect(Object.keys(res.body).sort()).toEqual(['code', 'expiresAt', 'inviteId', 'maxUses', 'role', 'url']);
    expect(res.body.code).toMatch(/^[A-Za-z0-9_-]{22,}$/);
    expect(res.body.url).toBe(`${t.url}/invite/${res.body.code}`);
    expect(res.body).toMatchObject({ role: 'editor', maxUses: 10 });
    const expiresAt = Date.parse(res.body.expiresAt);
    expect(expiresAt - before).toBeGreaterThanOrEqual(168 * 3600_000 - 1000);
    expect(expiresAt - before).toBeLessThanOrEqual(168 * 3600_000 + 5000);
  });

  it('reports expiry and use limit when given', async () => {
    const roomId = await roomWith(alice);
    const before = Date.now();
    const res = await invite(alice.token, roomId, { role: 'viewer', expiresInHours: 48, maxUses: 5 });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ role: 'viewer', maxUses: 5 });
    const expiresAt = Date.parse(res.body.expiresAt);
    expect(expiresAt - before).toBeGreaterThanOrEqual(48 * 3600_000 - 1000);
    expect(expiresAt - before).toBeLessThanOrEqual(48 * 3600_000 + 5000);
  });

  it('gives a different code each time', async () => {
    const roomId = await roomWith(alice);
    const codes = await Promise.all([1, 2, 3, 4, 5].map(() => newInvite(alice, roomId, { role: 'viewer' })));
    expect(new Set(codes).size).toBe(5);
  });

  it('answers 403 FORBIDDEN to an editor and a viewer, and 404 ROOM_NOT_FOUND to a non-member', async () => {
    const roomId = await roomWith(alice, [[bob, 'editor'], [carol, 'viewer']]);
    expectError(await invite(bob.token, roomId, { role: 'viewer' }), 403, 'FORBIDDEN');
    expectError(await invite(carol.token, roomId, { role: 'viewer' }), 403, 'FORBIDDEN');
    expectError(await invite(dave.token, roomId, { role: 'viewer' }), 404, 'ROOM_NOT_FOUND');
    expectError(await invite(dave.token, 'B'.repeat(22), { role: 'viewer' }), 404, 'ROOM_NOT_FOUND');
  });

  it.each([
    ['a missing role', {}, 'role'],
    ['an unknown role', { role: 'admin' }, 'role'],
    ['a zero expiresInHours', { role: 'viewer', expiresInHours: 0 }, 'expiresInHours'],
    ['a negative expiresInHours', { role: 'viewer', expiresInHours: -1 }, 'expiresInHours'],
    ['an expiresInHours of more than a year', { role: 'viewer', expiresInHours: 24 * 366 }, 'expiresInHours'],
    ['a string expiresInHours (no type coercion)', { role: 'viewer', expiresInHours: '5' }, 'expiresInHours'],
    ['a zero maxUses', { role: 'viewer', maxUses: 0 }, 'maxUses'],
    ['a fractional maxUses', { role: 'viewer', maxUses: 1.5 }, 'maxUses'],
    ['an extra field', { role: 'viewer', roomId: 'x' }, 'roomId'],
  ])('refuses %s with 400 VALIDATION_FAILED naming the field', async (_what, body, field) => {
    const roomId = await roomWith(alice);
    expectValidationError(await invite(alice.token, roomId, body), field);
  });

  it('names the allowed roles when the role is unknown', async () => {
    const roomId = await roomWith(alice);
    const message = expectValidationError(await invite(alice.token, roomId, { role: 'admin' }), 'role');
    for (const role of ['owner', 'editor', 'viewer']) expect(message).toContain(role);
  });

  it('stores only a hash of the invite code', async () => {
    const roomId = await roomWith(alice);
    const code = await newInvite(alice, roomId, { role: 'viewer' });
    const db = new BetterSqlite3(path.join(t.dataDir, 'kith.sqlite'), { readonly: true });
    try {
      const rows = db.prepare('SELECT * FROM invites WHERE room_id = ?').all(roomId);
      expect(rows).toHaveLength(1);
      expect(JSON.stringify(rows)).not.toContain(code);
      expect((rows[0] as { code_hash: string }).code_hash).toBe(createHash('sha256').update(code).digest('base64url'));
    } finally {
      db.close();
    }
  });
});

describe('POST /invites/:code/accept', () => {
  it('makes the caller a member with the invite role: 200 {roomId, name, role, joined: true}', async () => {
    const roomId = await roomWith(alice);
    const code = await newInvite(alice, roomId, { role: 'viewer' });
    const res = await accept(bob.token, code);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ roomId, name: 'Family', role: 'viewer', joined: true });
    expect(await rolesIn(roomId)).toEqual({ [alice.username]: 'owner', [bob.username]: 'viewer' });
    expect((await listRooms(bob.token)).body.rooms).toContainEqual({ roomId, name: 'Family', role: 'viewer' });
  });

  it('makes the caller an owner through an owner invite', async () => {
    const roomId = await roomWith(alice);
    expect((await accept(bob.token, await newInvite(alice, roomId, { role: 'owner' }))).body.role).toBe('owner');
    // The new owner has owner powers.
    expect((await invite(bob.token, roomId, { role: 'viewer' })).status).toBe(201);
  });

  it('answers a second accept by a member with joined: false and keeps the role', async () => {
    const roomId = await roomWith(alice, [[bob, 'editor']]);
    const code = await newInvite(alice, roomId, { role: 'viewer' });
    const res = await accept(bob.token, code);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ roomId, name: 'Family', role: 'editor', joined: false });
    expect((await accept(alice.token, code)).body).toMatchObject({ role: 'owner', joined: false });
    expect(await rolesIn(roomId)).toEqual({ [alice.username]: 'owner', [bob.username]: 'editor' });
  });

  it('answers 410 INVITE_USED_UP once maxUses people joined; accepting twice uses it only once', async () => {
    const roomId = await roomWith(alice);
    const code = await newInvite(alice, roomId, { role: 'editor', maxUses: 2 });
    expect((await accept(bob.token, code)).body.joined).toBe(true);
    expect((await accept(bob.token, code)).body.joined).toBe(false);
    expect((await accept(bob.token, code)).body.joined).toBe(false);
    // Bob's repeats did not count: a second person still gets in ...
    expect((await accept(carol.token, code)).body.joined).toBe(true);
    // ... and then the invite is used up.
    expectError(await accept(dave.token, code), 410, 'INVITE_USED_UP');
    expect(Object.keys(await rolesIn(roomId)).sort()).toEqual([alice.username, bob.username, carol.username].sort());
  });

  it('lets only maxUses of many concurrent accepts join', async () => {
    const roomId = await roomWith(alice);
    const code = await newInvite(alice, roomId, { role: 'viewer', maxUses: 1 });
    const results = await Promise.all([bob, carol, dave, erin].map((u) => accept(u.token, code)));
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    for (const r of results.filter((r) => r.status !== 200)) expectError(r, 410, 'INVITE_USED_UP');
    expect(Object.keys(await rolesIn(roomId))).toHaveLength(2);
  });

  it('answers 410 INVITE_EXPIRED after the invite expired, and the room is unchanged', async () => {
    const roomId = await roomWith(alice);
    const code = await newInvite(alice, roomId, { role: 'editor', expiresInHours: 0.0008 }); // ~2.9 s, for a slow machine
    const early = await accept(bob.token, code);
    expect(early.body.joined).toBe(true);
    await sleep(3100);
    expectError(await accept(carol.token, code), 410, 'INVITE_EXPIRED');
    expect(Object.keys(await rolesIn(roomId)).sort()).toEqual([alice.username, bob.username].sort());
  });

  it('answers 404 INVITE_NOT_FOUND for an unknown code', async () => {
    expectError(await accept(bob.token, 'C'.repeat(24)), 404, 'INVITE_NOT_FOUND');
  });

  it('does not take a room id as an invite code', async () => {
    const roomId = await roomWith(alice);
    expectError(await accept(bob.token, roomId), 404, 'INVITE_NOT_FOUND');
  });
});

describe('PATCH /rooms/:roomId/members/:userId', () => {
  it('lets an owner change a role: 200 {userId, username, role}, seen by everyone', async () => {
    const roomId = await roomWith(alice, [[bob, 'viewer']]);
    const res = await setRole(alice.token, roomId, bob.userId, { role: 'editor' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ userId: bob.userId, username: bob.username, role: 'editor' });
    expect((await getRoom(bob.token, roomId)).body.role).toBe('editor');
    expect((await listRooms(bob.token)).body.rooms).toContainEqual({ roomId, name: 'Family', role: 'editor' });
  });

  it('lets an owner make another member an owner, who may then demote the first', async () => {
    const roomId = await roomWith(alice, [[bob, 'editor']]);
    expect((await setRole(alice.token, roomId, bob.userId, { role: 'owner' })).status).toBe(200);
    expect((await setRole(bob.token, roomId, alice.userId, { role: 'viewer' })).body.role).toBe('viewer');
    expect(await rolesIn(roomId, bob)).toEqual({ [alice.username]: 'viewer', [bob.username]: 'owner' });
  });

  it('answers 409 LAST_OWNER when the last owner would be demoted, and keeps the role', async () => {
    const roomId = await roomWith(alice, [[bob, 'editor']]);
    for (const role of ['editor', 'viewer']) {
      expectError(await setRole(alice.token, roomId, alice.userId, { role }), 409, 'LAST_OWNER');
    }
    // Setting the same role again is fine.
    expect((await setRole(alice.token, roomId, alice.userId, { role: 'owner' })).status).toBe(200);
    expect((await rolesIn(roomId))[alice.username]).toBe('owner');
  });

  it('lets one of two owners step down, but not the remaining one', async () => {
    const roomId = await roomWith(alice, [[bob, 'owner']]);
    expect((await setRole(alice.token, roomId, alice.userId, { role: 'editor' })).status).toBe(200);
    expectError(await setRole(bob.token, roomId, bob.userId, { role: 'editor' }), 409, 'LAST_OWNER');
  });

  it('answers 403 FORBIDDEN to an editor and a viewer, even about themselves', async () => {
    const roomId = await roomWith(alice, [[bob, 'editor'], [carol, 'viewer']]);
    expectError(await setRole(bob.token, roomId, carol.userId, { role: 'editor' }), 403, 'FORBIDDEN');
    expectError(await setRole(bob.token, roomId, bob.userId, { role: 'owner' }), 403, 'FORBIDDEN');
    expectError(await setRole(carol.token, roomId, carol.userId, { role: 'editor' }), 403, 'FORBIDDEN');
    expect(await rolesIn(roomId)).toEqual({ [alice.username]: 'owner', [bob.username]: 'editor', [carol.username]: 'viewer' });
  });

  it('answers 404 ROOM_NOT_FOUND to a non-member and 404 MEMBER_NOT_FOUND for a user not in the room', async () => {
    const roomId = await roomWith(alice, [[bob, 'editor']]);
    expectError(await setRole(dave.token, roomId, bob.userId, { role: 'viewer' }), 404, 'ROOM_NOT_FOUND');
    expectError(await setRole(alice.token, roomId, dave.userId, { role: 'viewer' }), 404, 'MEMBER_NOT_FOUND');
    expectError(await setRole(alice.token, roomId, 'no-such-user', { role: 'viewer' }), 404, 'MEMBER_NOT_FOUND');
  });

  it.each([
    ['a missing role', {}, 'role'],
    ['an unknown role', { role: 'admin' }, 'role'],
    ['an extra field', { role: 'viewer', userId: 'x' }, 'userId'],
  ])('refuses %s with 400 VALIDATION_FAILED naming the field', async (_what, body, field) => {
    const roomId = await roomWith(alice, [[bob, 'editor']]);
    expectValidationError(await setRole(alice.token, roomId, bob.userId, body), field);
  });
});

describe('DELETE /rooms/:roomId/members/:userId', () => {
  it('lets an owner remove a member: 204, and the room is gone for them (404, not listed)', async () => {
    const roomId = await roomWith(alice, [[bob, 'editor']]);
    const res = await removeMember(alice.token, roomId, bob.userId);
    expect(res.status).toBe(204);
    expect(res.body).toBeUndefined();
    expectError(await getRoom(bob.token, roomId), 404, 'ROOM_NOT_FOUND');
    expect((await listRooms(bob.token)).body.rooms.map((r: { roomId: string }) => r.roomId)).not.toContain(roomId);
    expect(await rolesIn(roomId)).toEqual({ [alice.username]: 'owner' });
  });

  it('lets any member remove themself', async () => {
    const roomId = await roomWith(alice, [[bob, 'editor'], [carol, 'viewer']]);
    expect((await removeMember(carol.token, roomId, carol.userId)).status).toBe(204);
    expect((await removeMember(bob.token, roomId, bob.userId)).status).toBe(204);
    expect(await rolesIn(roomId)).toEqual({ [alice.username]: 'owner' });
  });

  it('answers 403 FORBIDDEN when an editor or viewer removes someone else', async () => {
    const roomId = await roomWith(alice, [[bob, 'editor'], [carol, 'viewer']]);
    expectError(await removeMember(bob.token, roomId, carol.userId), 403, 'FORBIDDEN');
    expectError(await removeMember(carol.token, roomId, bob.userId), 403, 'FORBIDDEN');
    expectError(await removeMember(bob.token, roomId, alice.userId), 403, 'FORBIDDEN');
    expect(Object.keys(await rolesIn(roomId))).toHaveLength(3);
  });

  it('answers 409 LAST_OWNER when the last owner would leave', async () => {
    const roomId = await roomWith(alice, [[bob, 'editor']]);
    expectError(await removeMember(alice.token, roomId, alice.userId), 409, 'LAST_OWNER');
    expect((await rolesIn(roomId))[alice.username]).toBe('owner');
  });

  it('lets an owner leave or be removed while another owner remains', async () => {
    const roomId = await roomWith(alice, [[bob, 'owner'], [carol, 'owner']]);
    expect((await removeMember(alice.token, roomId, alice.userId)).status).toBe(204);
    expect((await removeMember(bob.token, roomId, carol.userId)).status).toBe(204);
    expectError(await removeMember(bob.token, roomId, bob.userId), 409, 'LAST_OWNER');
    expect(await rolesIn(roomId, bob)).toEqual({ [bob.username]: 'owner' });
  });

  it('answers 404 ROOM_NOT_FOUND to a non-member and 404 MEMBER_NOT_FOUND for a user not in the room', async () => {
    const roomId = await roomWith(alice, [[bob, 'editor']]);
    expectError(await removeMember(dave.token, roomId, bob.userId), 404, 'ROOM_NOT_FOUND');
    expectError(await removeMember(dave.token, roomId, dave.userId), 404, 'ROOM_NOT_FOUND');
    expectError(await removeMember(alice.token, roomId, dave.userId), 404, 'MEMBER_NOT_FOUND');
    // A removed member asking again is no longer a member.
    expect((await removeMember(bob.token, roomId, bob.userId)).status).toBe(204);
    expectError(await removeMember(bob.token, roomId, bob.userId), 404, 'ROOM_NOT_FOUND');
  });

  it('lets a removed member rejoin through a new invite', async () => {
    const roomId = await roomWith(alice, [[bob, 'editor']]);
    expect((await removeMember(alice.token, roomId, bob.userId)).status).toBe(204);
    const res = await accept(bob.token, await newInvite(alice, roomId, { role: 'viewer' }));
    expect(res.body).toEqual({ roomId, name: 'Family', role: 'viewer', joined: true });
  });
});
