/**
 * A NUL byte in what a CalDAV client or the app-password API sends (a sync token, a resource name,
 * a Basic username, a label) on each engine: PostgreSQL's text cannot hold one, and each was a 500
 * there (the PUT's after its event was stored). Each is a clear 4xx now, with nothing stored.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient } from './helpers/api.js';
import { expectError } from './helpers/http-assert.js';
import { storageEngines } from './helpers/postgres.js';
import { basic, CALDAV, calendarPath, DAV, dav, davUser, expectDavError, ICS, multistatus, objectPath, propfindBody, startCaldavServer, vevent, type DavUser } from './helpers/caldav.js';

const engines = await storageEngines('NUL bytes in CalDAV input');

describe.each(engines)('NUL bytes in CalDAV input on $engine', ({ skip, database }) => {
  let server: Awaited<ReturnType<typeof startCaldavServer>>;
  let api: ReturnType<typeof apiClient>;
  let anna: DavUser;
  let room: string;
  let drop: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    if (skip) return;
    const db = await database();
    drop = db.drop;
    server = await startCaldavServer({ databaseUrl: db.databaseUrl });
    api = apiClient(server.url);
    anna = await davUser(api, 'anna');
    room = await api.createRoom(anna.token, 'Family');
    expect((await dav(server.url, 'PUT', objectPath(anna, room, 'base@x'), { user: anna, body: vevent('base@x'), headers: ICS })).status).toBe(201);
  });
  afterAll(async () => {
    await server?.close();
    await drop?.();
  });

  const sync = (token: string) =>
    dav(server.url, 'REPORT', calendarPath(anna, room), {
      user: anna,
      body: `<D:sync-collection xmlns:D="DAV:"><D:sync-token>${token}</D:sync-token><D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>`,
    });
  /** Every object of the room as a client syncing from scratch sees it. */
  const listed = async () => multistatus(await sync('')).responses.map((r) => decodeURIComponent(r.href.split('/').at(-1)!)).sort();

  it.skipIf(skip)('refuses a sync token whose continuation holds NUL as unknown (403 valid-sync-token)', async () => {
    for (const after of ['%00', 'a%00b']) {
      expectDavError(await sync(`http://kith.invalid/ns/sync/${room}/0/${after}`), 403, { ns: DAV, name: 'valid-sync-token' });
    }
    expect(await listed()).toEqual(['base@x.ics']);
  });

  it.skipIf(skip)('refuses a resource name (400) or an object (403 valid-calendar-data) holding NUL before anything is stored', async () => {
    const nul = `${calendarPath(anna, room)}a%00b.ics`;
    const put = await dav(server.url, 'PUT', nul, { user: anna, body: vevent('nul-name@x'), headers: ICS });
    expectDavError(put, 400);
    expect(String(put.body)).toMatch(/NUL/);
    // The event was stored (and answered 500) before: now nothing is.
    expect(await listed()).toEqual(['base@x.ics']);
    expect((await dav(server.url, 'GET', objectPath(anna, room, 'nul-name@x'), { user: anna })).status).toBe(404);
    // NUL in the body's UID (RFC 5545 allows none anywhere): the event was stored, then the name's row failed.
    for (const body of [vevent('nul\u0000uid@x'), vevent('fine@x', { summary: 'Den\u0000tist' })]) {
      const res = await dav(server.url, 'PUT', objectPath(anna, room, 'other-name'), { user: anna, body, headers: ICS });
      expectDavError(res, 403, { ns: CALDAV, name: 'valid-calendar-data' });
    }
    expect(await listed()).toEqual(['base@x.ics']);
    // Reading or deleting such a name finds nothing.
    expect((await dav(server.url, 'GET', nul, { user: anna })).status).toBe(404);
    expect((await dav(server.url, 'DELETE', nul, { user: anna })).status).toBe(404);
    expect((await dav(server.url, 'PROPFIND', nul, { user: anna, depth: '0', body: propfindBody('D:getetag') })).status).toBe(404);
  });

  it.skipIf(skip)('answers a Basic username holding NUL with 401 and a challenge, as any unknown user', async () => {
    const authorization = basic(`${anna.username}\u0000x`, anna.appPassword);
    for (const [method, body] of [['GET', undefined], ['PROPFIND', propfindBody('D:displayname')]] as const) {
      const res = await dav(server.url, method, '/dav/', { headers: { authorization }, ...(body ? { body } : {}) });
      expect(res.status, String(res.body)).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Basic /);
    }
    expect((await dav(server.url, 'PROPFIND', '/dav/', { user: anna, depth: '0', body: propfindBody('D:displayname') })).status).toBe(207);
  });

  it.skipIf(skip)('refuses an app-password label holding NUL with 400 VALIDATION_FAILED naming the field', async () => {
    for (const label of ['phone\u0000x', '\u0000']) {
      const res = await api.request('POST', '/users/me/app-passwords', { token: anna.token, body: { label } });
      expectError(res, 400, 'VALIDATION_FAILED', /\blabel\b/);
    }
    const list = await api.request('GET', '/users/me/app-passwords', { token: anna.token });
    expect(list.body.appPasswords.map((p: { label: string }) => p.label)).toEqual(['phone']);
    // And the sign-in that came before still works.
    expect((await dav(server.url, 'REPORT', calendarPath(anna, room), { user: anna, body: `<C:calendar-query xmlns:D="DAV:" xmlns:C="${CALDAV}"><D:prop><D:getetag/></D:prop><C:filter><C:comp-filter name="VCALENDAR"/></C:filter></C:calendar-query>` })).status).toBe(207);
  });
});
