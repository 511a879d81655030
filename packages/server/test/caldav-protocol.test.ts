/**
 * CalDAV discovery and reading over loopback with the real server: the well-known redirect,
 * OPTIONS, Basic sign-in, principal and calendar home, one calendar per room with its properties
 * (viewers read-only), objects with ETags, Depth rules, and 404 for anything not the user's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient } from './helpers/api.js';
import { expectError } from './helpers/http-assert.js';
import {
  CALDAV,
  calendarPath,
  DAV,
  dav,
  davUser,
  expectDavError,
  multistatus,
  objectPath,
  propfindBody,
  startCaldavServer,
  type DavUser,
} from './helpers/caldav.js';

const APPLE = 'http://apple.com/ns/ical/';
const CS = 'http://calendarserver.org/ns/';

describe('CalDAV discovery and reads', () => {
  let server: Awaited<ReturnType<typeof startCaldavServer>>;
  let api: ReturnType<typeof apiClient>;
  let anna: DavUser;
  let ben: DavUser;
  let family: string;
  let work: string;
  let eventId: string;

  beforeAll(async () => {
    server = await startCaldavServer();
    api = apiClient(server.url);
    anna = await davUser(api, 'anna');
    ben = await davUser(api, 'ben');
    family = await api.createRoom(anna.token, 'Family <3');
    work = await api.createRoom(ben.token, 'Ben’s work');
    await api.addMember(ben.token, work, anna.token, 'viewer');
    const created = await api.request('POST', `/rooms/${family}/events`, {
      token: anna.token,
      body: { eventTitle: 'Swimming', startTime: '2026-03-10T17:00', endTime: '2026-03-10T18:00', timeZone: 'Europe/Berlin' },
    });
    expect(created.status).toBe(201);
    eventId = created.body.eventId;
  });
  afterAll(() => server?.close());

  it('redirects /.well-known/caldav to the DAV root and answers OPTIONS with the DAV classes', async () => {
    for (const method of ['GET', 'PROPFIND']) {
      const res = await dav(server.url, method, '/.well-known/caldav');
      expect(res.status).toBe(301);
      expect(res.headers.get('location')).toBe('/dav/');
    }
    const options = await dav(server.url, 'OPTIONS', calendarPath(anna, family));
    expect(options.status).toBe(200);
    expect(options.headers.get('dav')).toBe('1, 3, calendar-access');
    expect(options.headers.get('allow')).toContain('REPORT');
  });

  it('asks for Basic credentials and takes only a live app password', async () => {
    const none = await dav(server.url, 'PROPFIND', '/dav/', { depth: '0' });
    expectError(none, 401, 'BASIC_AUTH_REQUIRED');
    expect(none.headers.get('www-authenticate')).toMatch(/^Basic realm="Kith"/);
    const wrong = await dav(server.url, 'PROPFIND', '/dav/', { depth: '0', headers: { authorization: `Basic ${Buffer.from(`${anna.username}:nope`).toString('base64')}` } });
    expectError(wrong, 401, 'BASIC_AUTH_REQUIRED');

    // A revoked app password stops working at once.
    const extra = await davUser(api, 'revoked');
    expect((await dav(server.url, 'PROPFIND', '/dav/', { depth: '0', user: extra })).status).toBe(207);
    expect((await api.request('DELETE', `/users/me/app-passwords/${extra.appPasswordId}`, { token: extra.token })).status).toBe(204);
    expectError(await dav(server.url, 'PROPFIND', '/dav/', { depth: '0', user: extra }), 401, 'BASIC_AUTH_REQUIRED');
  });

  it('leads from the root to the principal and the calendar home', async () => {
    const root = multistatus(await dav(server.url, 'PROPFIND', '/dav/', { depth: '0', user: anna, body: propfindBody('D:current-user-principal', 'D:resourcetype') }));
    expect(root.responses).toHaveLength(1);
    const principal = root.responses[0]!.props.get(`${DAV}|current-user-principal`)!.children[0]!.text;
    expect(principal).toBe(`/dav/principals/${anna.userId}/`);

    const p = multistatus(await dav(server.url, 'PROPFIND', principal, { depth: '0', user: anna, body: propfindBody('C:calendar-home-set', 'D:displayname', 'C:calendar-user-address-set') }));
    expect(p.responses[0]!.props.get(`${CALDAV}|calendar-home-set`)!.children[0]!.text).toBe(`/dav/calendars/${anna.userId}/`);
    expect(p.responses[0]!.props.get(`${DAV}|displayname`)!.text).toBe(anna.username);
    // A property it does not have is answered 404 in its own propstat, not left out.
    expect(p.responses[0]!.missing).toEqual([`${CALDAV}|calendar-user-address-set`]);
  });

  it('lists one calendar per room with its name, colour, components, ctag, sync token and privileges', async () => {
    const home = multistatus(
      await dav(server.url, 'PROPFIND', `/dav/calendars/${anna.userId}/`, {
        depth: '1',
        user: anna,
        body: propfindBody('D:resourcetype', 'D:displayname', 'A:calendar-color', 'C:supported-calendar-component-set', 'CS:getctag', 'D:sync-token', 'D:current-user-privilege-set'),
      }),
    );
    const byHref = new Map(home.responses.map((r) => [r.href, r]));
    expect([...byHref.keys()].sort()).toEqual([`/dav/calendars/${anna.userId}/`, calendarPath(anna, family), calendarPath(anna, work)].sort());
    const fam = byHref.get(calendarPath(anna, family))!;
    expect(fam.props.get(`${DAV}|resourcetype`)!.children.map((c) => `${c.ns}|${c.name}`).sort()).toEqual([`${DAV}|collection`, `${CALDAV}|calendar`]);
    expect(fam.props.get(`${DAV}|displayname`)!.text).toBe('Family <3');
    expect(fam.props.get(`${APPLE}|calendar-color`)!.text).toMatch(/^#[0-9A-F]{6}$/);
    const comps = fam.props.get(`${CALDAV}|supported-calendar-component-set`)!.children;
    expect(comps.map((c) => c.attrs.name)).toEqual(['VEVENT']);
    const ctag = fam.props.get(`${CS}|getctag`)!.text;
    expect(fam.props.get(`${DAV}|sync-token`)!.text).toBe(ctag);
    const privileges = (r: typeof fam) => r.props.get(`${DAV}|current-user-privilege-set`)!.children.map((p) => p.children[0]!.name).sort();
    expect(privileges(fam)).toEqual(['bind', 'read', 'read-current-user-privilege-set', 'unbind', 'write-content']);
    // Anna only views Ben's work room: read-only.
    expect(privileges(byHref.get(calendarPath(anna, work))!)).toEqual(['read', 'read-current-user-privilege-set']);
    expect(byHref.get(calendarPath(anna, work))!.props.get(`${DAV}|displayname`)!.text).toBe('Ben’s work');

    // Asked for names only, the same calendars (no ctag is computed then).
    const names = multistatus(await dav(server.url, 'PROPFIND', `/dav/calendars/${anna.userId}/`, { depth: '1', user: anna, body: propfindBody('D:displayname') }));
    expect(names.responses.map((r) => r.props.get(`${DAV}|displayname`)?.text).sort()).toEqual(['Ben’s work', 'Family <3', 'Kith calendars']);

    // The ctag stays while nothing changes and moves when an event changes.
    const again = multistatus(await dav(server.url, 'PROPFIND', calendarPath(anna, family), { depth: '0', user: anna, body: propfindBody('CS:getctag') }));
    expect(again.responses[0]!.props.get(`${CS}|getctag`)!.text).toBe(ctag);
    expect((await api.request('PATCH', `/rooms/${family}/events/${eventId}`, { token: anna.token, body: { eventTitle: 'Swimming lesson' } })).status).toBe(200);
    const after = multistatus(await dav(server.url, 'PROPFIND', calendarPath(anna, family), { depth: '0', user: anna, body: propfindBody('CS:getctag') }));
    expect(after.responses[0]!.props.get(`${CS}|getctag`)!.text).not.toBe(ctag);
  });

  it('lists objects with ETags and serves each with GET, the same ETag and the event’s UID', async () => {
    const listing = multistatus(await dav(server.url, 'PROPFIND', calendarPath(anna, family), { depth: '1', user: anna, body: propfindBody('D:getetag', 'D:getcontenttype') }));
    const objects = listing.responses.filter((r) => r.href.endsWith('.ics'));
    expect(objects).toHaveLength(1);
    const uid = `${eventId}@kith`;
    expect(objects[0]!.href).toBe(objectPath(anna, family, uid));
    const etag = objects[0]!.props.get(`${DAV}|getetag`)!.text;
    expect(etag).toMatch(/^"[A-Za-z0-9_-]{32}"$/);
    expect(objects[0]!.props.get(`${DAV}|getcontenttype`)!.text).toMatch(/^text\/calendar/);

    const got = await dav(server.url, 'GET', objects[0]!.href, { user: anna });
    expect(got.status).toBe(200);
    expect(got.headers.get('etag')).toBe(etag);
    expect(got.headers.get('content-type')).toMatch(/^text\/calendar/);
    expect(got.body).toContain(`UID:${uid}`);
    expect(got.body).toContain('SUMMARY:Swimming lesson');
    expect(got.body).toContain('DTSTART;TZID=Europe/Berlin:20260310T170000');
    expect((got.body as string).match(/BEGIN:VEVENT/g)).toHaveLength(1);
    // A conditional GET with the current ETag is 304; HEAD has the headers and no body.
    expect((await dav(server.url, 'GET', objects[0]!.href, { user: anna, headers: { 'if-none-match': etag } })).status).toBe(304);
    const head = await dav(server.url, 'HEAD', objects[0]!.href, { user: anna });
    expect(head.status).toBe(200);
    expect(head.headers.get('etag')).toBe(etag);
    expect(head.body).toBeFalsy();
    // Depth 0 on the object, with calendar-data.
    const one = multistatus(await dav(server.url, 'PROPFIND', objects[0]!.href, { depth: '0', user: anna, body: propfindBody('D:getetag', 'C:calendar-data') }));
    expect(one.responses[0]!.props.get(`${CALDAV}|calendar-data`)!.text).toBe(got.body);
  });

  it('refuses Depth: infinity with DAV:propfind-finite-depth', async () => {
    expectDavError(await dav(server.url, 'PROPFIND', `/dav/calendars/${anna.userId}/`, { depth: 'infinity', user: anna }), 403, { ns: DAV, name: 'propfind-finite-depth' });
  });

  it('answers 404 for rooms the user is not in, other users’ homes and unknown paths, learning nothing', async () => {
    const outsider = await davUser(api, 'outsider');
    const paths = [
      calendarPath(outsider, family).replace(outsider.userId, anna.userId), // someone else's home
      `/dav/calendars/${outsider.userId}/${family}/`, // a room they are not in
      `/dav/calendars/${outsider.userId}/no-such-room/`,
      `/dav/principals/${anna.userId}/`,
      `/dav/calendars/${outsider.userId}/${family}/${encodeURIComponent(`${eventId}@kith`)}.ics`,
      '/dav/elsewhere/',
    ];
    const bodies = new Set<string>();
    for (const path of paths) {
      const res = await dav(server.url, 'PROPFIND', path, { depth: '0', user: outsider });
      expectDavError(res, 404);
      bodies.add(String(res.body));
    }
    // The same answer whether the room exists or not.
    expect(bodies.size).toBe(1);
    expect((await dav(server.url, 'GET', `/dav/calendars/${outsider.userId}/${family}/${encodeURIComponent(`${eventId}@kith`)}.ics`, { user: outsider })).status).toBe(404);
    // Their own home lists nothing of the others' rooms.
    const home = multistatus(await dav(server.url, 'PROPFIND', `/dav/calendars/${outsider.userId}/`, { depth: '1', user: outsider }));
    expect(home.responses.map((r) => r.href)).toEqual([`/dav/calendars/${outsider.userId}/`]);
  });
});
