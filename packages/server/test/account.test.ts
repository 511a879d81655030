/**
 * The account module over loopback with the real server (core + calendar + account modules):
 * `GET /users/me/export` (the account and each of its rooms, as .ics read back with ical.js and as
 * the document's JSON; nothing of other rooms) and `DELETE /users/me` (password, a decision for
 * each room the member alone owns, nothing changed when a check fails; the sockets the account
 * leaves behind closed at once).
 */
import ICAL from 'ical.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testServers } from '@kith/test-support';
import { accountModule, calendarModule, defaultConfig, startKithServer, type KithConfig, type KithServer } from '../src/index.js';
import { ERRORS } from '../src/errors/catalogue.js';
import { apiClient } from './helpers/api.js';
import { expectError } from './helpers/http-assert.js';
import { TEST_JWT_SECRET } from './helpers/server.js';
import { readStoredDoc, storedRowCounts } from './helpers/stored-doc.js';
import { connectProvider, waitFor, waitForSynced } from './helpers/yjs-clients.js';

const { startTestServer } = testServers<KithConfig, KithServer>(
  { defaultConfig, startKithServer: (config) => startKithServer(config, { modules: [calendarModule(), accountModule()] }) },
  { jwtSecret: TEST_JWT_SECRET, loginPerMinute: 1000, dataDirPrefix: 'kith-export-' },
);

describe('export my data', () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let api: ReturnType<typeof apiClient>;
  beforeAll(async () => {
    server = await startTestServer();
    api = apiClient(server.url);
  });
  afterAll(() => server?.close());

  it('answers each of my rooms as .ics and JSON, and nothing of other rooms', async () => {
    const mum = await api.signUp('mum');
    const dad = await api.signUp('dad');
    const family = await api.createRoom(mum.token, 'Millers');
    const work = await api.createRoom(mum.token, 'Work');
    const secret = await api.createRoom(dad.token, 'Surprise party');
    await api.addMember(mum.token, family, dad.token, 'editor');
    const event = { eventTitle: 'Dentist', startTime: '2026-12-10T16:00:00+01:00', endTime: '2026-12-10T17:00:00+01:00', timeZone: 'Europe/Berlin' };
    const made = await api.request('POST', `/rooms/${family}/events`, { token: dad.token, body: event });
    expect(made.status).toBe(201);
    expect((await api.request('POST', `/rooms/${secret}/events`, { token: dad.token, body: { ...event, eventTitle: 'Cake' } })).status).toBe(201);

    const res = await api.request('GET', '/users/me/export', { token: mum.token });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-disposition')).toMatch(new RegExp(`^attachment; filename="kith-export-${mum.username}-\\d{4}-\\d{2}-\\d{2}\\.json"$`));
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    // Sent as it is made, a room at a time (never the whole answer in memory).
    expect(res.headers.get('transfer-encoding')).toBe('chunked');
    expect(res.body.format).toBe('kith-export/1');
    expect(res.body.user).toMatchObject({ userId: mum.userId, username: mum.username });
    expect(res.body.rooms.map((r: { name: string }) => r.name).sort()).toEqual(['Millers', 'Work']);
    const millers = res.body.rooms.find((r: { roomId: string }) => r.roomId === family);
    expect(millers.role).toBe('owner');
    expect(millers.members).toEqual(expect.arrayContaining([{ username: mum.username, role: 'owner' }, { username: dad.username, role: 'editor' }]));
    const vevents = new ICAL.Component(ICAL.parse(millers.ics)).getAllSubcomponents('vevent');
    expect(vevents.map((v) => v.getFirstPropertyValue('summary'))).toEqual(['Dentist']);
    expect(Object.keys(millers.document)).toEqual(expect.arrayContaining(['room', 'events']));
    expect(Object.values(millers.document.events as Record<string, { title: string }>).map((e) => e.title)).toEqual(['Dentist']);
    expect(JSON.stringify(res.body)).not.toContain('Cake');
    expect(res.body.rooms.find((r: { roomId: string }) => r.roomId === work).ics).toContain('BEGIN:VCALENDAR');
    expect(work).toBeTruthy();
  });

  it('needs a bearer token', async () => {
    expectError(await api.request('GET', '/users/me/export'), 401, 'UNAUTHENTICATED');
  });
});

describe('delete my account', () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let api: ReturnType<typeof apiClient>;
  beforeAll(async () => {
    server = await startTestServer();
    api = apiClient(server.url);
  });
  afterAll(() => server?.close());

  it('needs the password and a decision for each room I alone own, and changes nothing until all checks pass', async () => {
    const mum = await api.signUp('mum');
    const dad = await api.signUp('dad');
    const kid = await api.signUp('kid');
    const family = await api.createRoom(mum.token, 'Millers');
    const work = await api.createRoom(mum.token, 'Work');
    const shared = await api.createRoom(dad.token, 'Dad and Mum');
    await api.addMember(mum.token, family, dad.token, 'editor');
    await api.addMember(mum.token, work, kid.token, 'viewer');
    await api.addMember(dad.token, shared, mum.token, 'owner');
    const del = (body: unknown, token = mum.token) => api.request('DELETE', '/users/me', { token, body });

    expectError(await del({ password: 'wrong password' }), 401, 'INVALID_CREDENTIALS');
    const undecided = await del({ password: mum.password, soleOwnedRooms: [{ roomId: family, action: 'delete' }] });
    expectError(undecided, 409, 'ACCOUNT_OWNS_ROOMS');
    expect(undecided.body.error.message).toContain(work);
    expect(undecided.body.error.message).not.toContain(shared); // dad owns it too
    expectError(
      await del({ password: mum.password, soleOwnedRooms: [{ roomId: family, action: 'hand-over', to: kid.userId }, { roomId: work, action: 'delete' }] }),
      404,
      'MEMBER_NOT_FOUND',
    );
    expectError(await del({ password: mum.password, soleOwnedRooms: [{ roomId: shared, action: 'delete' }] }), 400, 'VALIDATION_FAILED');
    expectError(await del({ password: mum.password, soleOwnedRooms: [{ roomId: family, action: 'burn' }] }), 400, 'VALIDATION_FAILED');
    expectError(await api.request('DELETE', '/users/me', { body: { password: mum.password } }), 401, 'UNAUTHENTICATED');
    // Nothing changed so far.
    expect((await api.request('GET', '/rooms', { token: mum.token })).body.rooms).toHaveLength(3);
    expect((await api.request('GET', `/rooms/${work}`, { token: kid.token })).status).toBe(200);

    const done = await del({
      password: mum.password,
      soleOwnedRooms: [
        { roomId: family, action: 'hand-over', to: dad.userId },
        { roomId: work, action: 'delete' },
      ],
    });
    expect(done.status).toBe(204);

    // The account is gone: no login, no token, no refresh; the name is free again.
    expectError(await api.request('POST', '/users/login', { body: { username: mum.username, password: mum.password } }), 401, 'INVALID_CREDENTIALS');
    expectError(await api.request('GET', '/users/me/export', { token: mum.token }), 401, 'UNAUTHENTICATED');
    expect((await api.request('POST', '/users/refresh', { body: { refreshToken: mum.refreshToken } })).status).toBe(401);
    expect((await api.request('POST', '/users/register', { body: { username: mum.username, password: 'another password' } })).status).toBe(201);
    // Handed over: dad owns the family room, alone; the work room is gone for its other member too.
    const familyNow = await api.request('GET', `/rooms/${family}`, { token: dad.token });
    expect(familyNow.body.members.map((m: { username: string; role: string }) => [m.username, m.role])).toEqual([[dad.username, 'owner']]);
    expect((await api.request('GET', `/rooms/${work}`, { token: kid.token })).status).toBe(404);
    expect((await api.request('GET', '/rooms', { token: kid.token })).body.rooms).toEqual([]);
    const sharedNow = await api.request('GET', `/rooms/${shared}`, { token: dad.token });
    expect(sharedNow.body.members.map((m: { username: string }) => m.username)).toEqual([dad.username]);
  });

  it('closes at once the sockets it leaves behind: mine to rooms I leave, the other members\' to a room deleted with me', async () => {
    const mum = await api.signUp('mum');
    const dad = await api.signUp('dad');
    const kid = await api.signUp('kid');
    const work = await api.createRoom(mum.token, 'Work');
    const shared = await api.createRoom(dad.token, 'Dad and Mum');
    await api.addMember(mum.token, work, kid.token, 'editor');
    await api.addMember(dad.token, shared, mum.token, 'editor');
    const kids = connectProvider(server.wsUrl, work, kid.token);
    const mums = connectProvider(server.wsUrl, shared, mum.token);
    await Promise.all([waitForSynced(kids.provider), waitForSynced(mums.provider)]);
    const closes: Array<[string, number]> = [];
    for (const [who, c] of [['kid', kids], ['mum', mums]] as const) {
      c.provider.once('connection-close', (event: { code: number } | null) => {
        closes.push([who, event?.code ?? -1]);
        c.provider.shouldConnect = false; // no reconnecting: the sockets' own fate is what this test is about
      });
    }

    const done = await api.request('DELETE', '/users/me', {
      token: mum.token,
      body: { password: mum.password, soleOwnedRooms: [{ roomId: work, action: 'delete' }] },
    });
    expect(done.status).toBe(204);
    // The old code left both open until the membership check a minute later.
    await waitFor(() => closes.length === 2, 5000, 'both sockets closed');
    const revoked = ERRORS.MEMBERSHIP_REVOKED.closeCode;
    expect(closes.sort()).toEqual([['kid', revoked], ['mum', revoked]]);
    // Edits made after the deletion reach neither dad's room nor the deleted one.
    kids.doc.getMap('notes').set('after', 'kid');
    mums.doc.getMap('notes').set('after', 'mum');
    await new Promise((r) => setTimeout(r, 300));
    expect(readStoredDoc(server.dataDir, shared).getMap('notes').get('after')).toBeUndefined();
    expect(storedRowCounts(server.dataDir, work)).toEqual({ log: 0, snapshots: 0 });
    kids.provider.destroy();
    mums.provider.destroy();
  });
});
