/**
 * Bounds on what one signed-in user can pile up through the rooms API, over the real server on
 * SQLite and PostgreSQL: rooms one user owns (POST /rooms, 409 TOO_MANY_ROOMS, a burst cannot pass
 * it), usable invites one room holds (POST /rooms/:id/invites, 409 TOO_MANY_INVITES), the invite
 * list (every usable invite and only the newest ended ones), and deleting an account that alone
 * owns more rooms than one request can name (`otherSoleOwnedRooms: "delete"`).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testServers } from '@kith/test-support';
import { accountModule, calendarModule, defaultConfig, startKithServer, type KithConfig, type KithServer } from '../src/index.js';
import { DEFAULT_LIMITS } from '../src/config/config.js';
import { LISTED_ENDED_INVITES } from '../src/rooms/routes.js';
import { apiClient } from './helpers/api.js';
import { expectError } from './helpers/http-assert.js';
import { storageEngines } from './helpers/postgres.js';
import { TEST_JWT_SECRET } from './helpers/server.js';

const { startTestServer } = testServers<KithConfig, KithServer>(
  { defaultConfig, startKithServer: (config) => startKithServer(config, { modules: [calendarModule(), accountModule()] }) },
  { jwtSecret: TEST_JWT_SECRET, loginPerMinute: 1000, dataDirPrefix: 'kith-caps-' },
);

const ROOMS = DEFAULT_LIMITS.roomsPerUser;
const INVITES = DEFAULT_LIMITS.invitesPerRoom;

/** Runs `n` calls of `fn`, `width` at a time. */
async function batched<T>(n: number, width: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < n; i += width) out.push(...(await Promise.all(Array.from({ length: Math.min(width, n - i) }, (_, j) => fn(i + j)))));
  return out;
}

describe.each(await storageEngines('room and invite caps'))('room and invite caps on $engine', ({ skip, database }) => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let api: ReturnType<typeof apiClient>;
  let drop: () => Promise<void> = async () => undefined;
  beforeAll(async () => {
    if (skip) return;
    const db = await database();
    drop = db.drop;
    server = await startTestServer(db.databaseUrl ? { databaseUrl: db.databaseUrl } : {});
    api = apiClient(server.url);
  });
  afterAll(async () => {
    await server?.close();
    await drop();
  });

  it.skipIf(skip)(`one user owns at most ${ROOMS} rooms: a burst past it gets 409 TOO_MANY_ROOMS, leaving one frees a place`, async () => {
    const mum = await api.signUp('mum');
    const dad = await api.signUp('dad');
    // A concurrent burst well past the cap: exactly the cap gets through.
    const answers = await batched(ROOMS + 30, 40, (i) => api.request('POST', '/rooms', { token: mum.token, body: { name: `R${i}` } }));
    expect(answers.filter((r) => r.status === 201)).toHaveLength(ROOMS);
    const refused = answers.filter((r) => r.status !== 201);
    expect(refused).toHaveLength(30);
    for (const r of refused) expectError(r, 409, 'TOO_MANY_ROOMS');
    expect(refused[0]!.body.error.message).toContain(String(ROOMS));
    const mine = await api.request('GET', '/rooms', { token: mum.token });
    expect(mine.body.rooms).toHaveLength(ROOMS);
    // Someone else is not affected.
    expect((await api.request('POST', '/rooms', { token: dad.token, body: { name: 'Dad' } })).status).toBe(201);
    // Handing a room over (dad made owner, mum leaves) frees a place.
    const given = mine.body.rooms[0].roomId as string;
    await api.addMember(mum.token, given, dad.token, 'owner');
    expect((await api.request('DELETE', `/rooms/${given}/members/${mum.userId}`, { token: mum.token })).status).toBe(204);
    expect((await api.request('POST', '/rooms', { token: mum.token, body: { name: 'Again' } })).status).toBe(201);
    expectError(await api.request('POST', '/rooms', { token: mum.token, body: { name: 'Too many' } }), 409, 'TOO_MANY_ROOMS');
  });

  it.skipIf(skip)('an account alone owning more rooms than one request can name is deleted with otherSoleOwnedRooms: "delete"', async () => {
    const gran = await api.signUp('gran');
    const kid = await api.signUp('kid');
    // More than DeleteAccountBody's 500 decisions: as an account could hold from before the cap, or by hand-overs.
    const many = 520;
    const storage = server.server.storage;
    const kept = await api.createRoom(gran.token, 'Family');
    await api.addMember(gran.token, kept, kid.token, 'editor');
    const ids = Array.from({ length: many }, () => randomUUID());
    for (const [i, roomId] of ids.entries()) {
      await storage.rooms.create({ roomId, name: `Old ${i}`, createdBy: gran.userId, createdAt: Date.now() + i });
    }
    const del = (body: object) => api.request('DELETE', '/users/me', { token: gran.token, body: { password: gran.password, ...body } });

    // Without the default each room still needs a decision; the answer names a bounded few.
    const undecided = await del({ soleOwnedRooms: [{ roomId: kept, action: 'hand-over', to: kid.userId }] });
    expectError(undecided, 409, 'ACCOUNT_OWNS_ROOMS');
    expect(undecided.body.error.message).toContain('otherSoleOwnedRooms');
    expect(undecided.body.error.message).toContain(`and ${many - 20} more`);
    expect(JSON.stringify(undecided.body).length).toBeLessThan(2000);
    expectError(await del({ otherSoleOwnedRooms: 'keep' }), 400, 'VALIDATION_FAILED');
    expect(await storage.rooms.get(ids[0]!)).toBeDefined();

    const t0 = performance.now();
    const gone = await del({ soleOwnedRooms: [{ roomId: kept, action: 'hand-over', to: kid.userId }], otherSoleOwnedRooms: 'delete' });
    expect(gone.status, JSON.stringify(gone.body)).toBe(204);
    console.log(`deleted an account with ${many} sole-owned rooms in ${Math.round(performance.now() - t0)} ms`);
    for (const roomId of [ids[0]!, ids[many - 1]!]) expect(await storage.rooms.get(roomId)).toBeUndefined();
    expect(await storage.rooms.soleOwnedRooms(gran.userId)).toEqual([]);
    // The room named in a decision went as decided.
    expect((await api.request('GET', `/rooms/${kept}`, { token: kid.token })).body).toMatchObject({ role: 'owner' });
  });

  it.skipIf(skip)(`a room holds at most ${INVITES} usable invites: 409 TOO_MANY_INVITES; revoked or used-up ones free a place`, async () => {
    const ann = await api.signUp('ann');
    const roomId = await api.createRoom(ann.token);
    const invite = (body: object = { role: 'viewer' }) => api.request('POST', `/rooms/${roomId}/invites`, { token: ann.token, body });
    const answers = await batched(INVITES + 20, 40, (i) => invite(i === 0 ? { role: 'viewer', maxUses: 1 } : { role: 'viewer' }));
    const made = answers.filter((r) => r.status === 201);
    expect(made).toHaveLength(INVITES);
    const refused = answers.filter((r) => r.status !== 201);
    expect(refused).toHaveLength(20);
    for (const r of refused) expectError(r, 409, 'TOO_MANY_INVITES');

    // Revoked by an owner: a place again.
    const some = made.find((r) => r.body.maxUses !== 1)!;
    expect((await api.request('DELETE', `/rooms/${roomId}/invites/${some.body.inviteId}`, { token: ann.token })).status).toBe(204);
    expect((await invite()).status).toBe(201);
    expectError(await invite(), 409, 'TOO_MANY_INVITES');
    // Used up: a place again.
    const single = made.find((r) => r.body.maxUses === 1);
    if (single) {
      const bob = await api.signUp('bob');
      expect((await api.request('POST', `/invites/${single.body.code}/accept`, { token: bob.token })).status).toBe(200);
      expect((await invite()).status).toBe(201);
      expectError(await invite(), 409, 'TOO_MANY_INVITES');
    }
    // Another room is not affected.
    const other = await api.createRoom(ann.token, 'Other');
    expect((await api.request('POST', `/rooms/${other}/invites`, { token: ann.token, body: { role: 'viewer' } })).status).toBe(201);
  });

  it.skipIf(skip)('GET /rooms/:roomId/invites lists every usable invite and only the newest ended ones', async () => {
    const ann = await api.signUp('ann');
    const roomId = await api.createRoom(ann.token);
    const storage = server.server.storage;
    const now = Date.now();
    // Thousands of ended invites (expired), as piled up over time: stored, but not listed.
    const ended = 3000;
    await batched(ended, 100, (i) =>
      storage.rooms.createInvite({
        codeHash: `ended-${i}-${randomUUID()}`,
        roomId,
        role: 'viewer',
        createdBy: ann.userId,
        expiresAt: now - 1000,
        maxUses: 10,
        uses: 0,
        createdAt: now - 100_000 + i,
      }),
    );
    const live = await batched(5, 5, () => api.request('POST', `/rooms/${roomId}/invites`, { token: ann.token, body: { role: 'editor' } }));
    const list = await api.request('GET', `/rooms/${roomId}/invites`, { token: ann.token });
    expect(list.status).toBe(200);
    const invites = list.body.invites as Array<{ inviteId: string; usable: boolean; createdAt: string }>;
    expect(invites).toHaveLength(5 + LISTED_ENDED_INVITES);
    expect(invites.filter((i) => i.usable).map((i) => i.inviteId).sort()).toEqual(live.map((r) => r.body.inviteId).sort());
    // Newest first; the ended ones listed are the newest of them.
    const times = invites.map((i) => Date.parse(i.createdAt));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    expect(Math.min(...invites.filter((i) => !i.usable).map((i) => Date.parse(i.createdAt)))).toBe(now - 100_000 + ended - LISTED_ENDED_INVITES);
    expect(JSON.stringify(list.body).length).toBeLessThan(20_000);
    // Expired ones do not count against the cap.
    expect((await api.request('POST', `/rooms/${roomId}/invites`, { token: ann.token, body: { role: 'viewer' } })).status).toBe(201);
  });
});
