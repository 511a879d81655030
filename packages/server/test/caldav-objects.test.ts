/**
 * CalDAV objects over loopback: PUT (create with the client's UID, update, If-Match /
 * If-None-Match), RECURRENCE-ID overrides and EXDATEs, UIDs that need percent-encoding, DELETE,
 * viewers refused with DAV:need-privileges, and the field-level merge: a stock y-websocket client
 * edits the title offline while a CalDAV PUT moves the time; both survive.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { editFollowing, getEvent, updateEvent, listEvents } from '@kith/model';
import { eventIdForUid } from '../src/calendar/ics-import.js';
import { apiClient } from './helpers/api.js';
import { DAV, dav, davUser, expectDavError, ICS, multistatus, objectPath, calendarPath, propfindBody, startCaldavServer, vevent, type DavUser } from './helpers/caldav.js';
import { connectProvider, waitFor, waitForSynced } from './helpers/yjs-clients.js';

describe('CalDAV objects', () => {
  let server: Awaited<ReturnType<typeof startCaldavServer>>;
  let api: ReturnType<typeof apiClient>;
  let anna: DavUser;
  let vic: DavUser;
  let room: string;

  beforeAll(async () => {
    server = await startCaldavServer();
    api = apiClient(server.url);
    anna = await davUser(api, 'anna');
    vic = await davUser(api, 'vic');
    room = await api.createRoom(anna.token, 'Family');
    await api.addMember(anna.token, room, vic.token, 'viewer');
  });
  afterAll(() => server?.close());

  const put = (user: DavUser, uid: string, body: string, headers: Record<string, string> = {}) =>
    dav(server.url, 'PUT', objectPath(user, room, uid), { user, body, headers: { ...ICS, ...headers } });
  const get = (user: DavUser, uid: string) => dav(server.url, 'GET', objectPath(user, room, uid), { user });
  const restEvent = async (uid: string) => (await api.request('GET', `/rooms/${room}/events/${eventIdForUid(uid)}`, { token: anna.token })).body;
  const ctag = async () =>
    multistatus(await dav(server.url, 'PROPFIND', calendarPath(anna, room), { depth: '0', user: anna, body: propfindBody('CS:getctag') })).responses[0]!.props.get(
      'http://calendarserver.org/ns/|getctag',
    )!.text;

  it('refuses a PUT of the first part of a series split in Kith (409), which would have dropped every later part', async () => {
    expect((await put(anna, 'choir@x', vevent('choir@x', { summary: 'Choir', start: '20261005T190000', end: '20261005T210000', extra: ['RRULE:FREQ=WEEKLY;COUNT=10'] }))).status).toBe(201);
    const eventId = eventIdForUid('choir@x');
    await server.server.sync.rooms.edit(room, (doc) => editFollowing(doc, eventId, '2026-11-02', { title: 'Choir (new hall)' }, { actor: anna.userId }));
    const stored = () => server.server.sync.rooms.read(room, (doc) => getEvent(doc, eventId));
    const before = await stored();
    expect(before?.segments.length).toBeGreaterThan(0);
    const first = await get(anna, 'choir@x');
    expect(first.status).toBe(200);
    const refused = expectDavError(await put(anna, 'choir@x', String(first.body).replace('SUMMARY:Choir', 'SUMMARY:Choir!')), 409);
    expect(JSON.stringify(refused)).toMatch(/split into parts in Kith/);
    expect(await stored()).toEqual(before);
  });

  it('creates an event with the client’s UID, refuses a second create, and updates only with the current ETag', async () => {
    const uid = 'A1B2C3-dentist@phone.example';
    const created = await put(anna, uid, vevent(uid, { summary: 'Dentist' }), { 'if-none-match': '*' });
    expect(created.status).toBe(201);
    // The stored object is Kith's rendering of it, not the bytes sent: no ETag (RFC 4791 §5.3.4).
    expect(created.headers.get('etag')).toBeNull();
    const ev = await restEvent(uid);
    expect(ev.eventTitle).toBe('Dentist');
    expect(ev.startTime).toBe('2026-03-10T09:00:00+01:00');

    const got = await get(anna, uid);
    expect(got.status).toBe(200);
    expect(got.body).toContain(`UID:${uid}`);
    const etag = got.headers.get('etag')!;

    expectDavError(await put(anna, uid, vevent(uid, { summary: 'Again' }), { 'if-none-match': '*' }), 412);
    expectDavError(await put(anna, uid, vevent(uid, { summary: 'Stale' }), { 'if-match': '"not-the-etag"' }), 412);
    expectDavError(await put(anna, 'never-made@phone', vevent('never-made@phone'), { 'if-match': etag }), 412);
    expect((await restEvent(uid)).eventTitle).toBe('Dentist');
    expect((await get(anna, 'never-made@phone')).status).toBe(404);

    const updated = await put(anna, uid, vevent(uid, { summary: 'Dentist (moved)', start: '20260311T140000', end: '20260311T143000' }), { 'if-match': etag });
    expect(updated.status).toBe(204);
    const after = await restEvent(uid);
    expect(after.eventTitle).toBe('Dentist (moved)');
    expect(after.startTime).toBe('2026-03-11T14:00:00+01:00');
    expect(after.endTime).toBe('2026-03-11T14:30:00+01:00');
    const again = await get(anna, uid);
    expect(again.headers.get('etag')).not.toBe(etag);
    // Sending the same object again changes nothing: same ETag.
    expect((await put(anna, uid, vevent(uid, { summary: 'Dentist (moved)', start: '20260311T140000', end: '20260311T143000' }))).status).toBe(204);
    expect((await get(anna, uid)).headers.get('etag')).toBe(again.headers.get('etag'));
  });

  it('keeps UIDs that need percent-encoding (slashes, spaces, @) and answers them at their own URL', async () => {
    const uid = 'folder/sub dir/ev+1@exchange.example';
    expect((await put(anna, uid, vevent(uid, { summary: 'Odd UID' }))).status).toBe(201);
    const listing = multistatus(await dav(server.url, 'PROPFIND', calendarPath(anna, room), { depth: '1', user: anna, body: propfindBody('D:getetag') }));
    expect(listing.responses.map((r) => r.href)).toContain(objectPath(anna, room, uid));
    const got = await get(anna, uid);
    expect(got.status).toBe(200);
    expect(got.body).toContain(`UID:${uid}`);
  });

  it('keeps a new object under the name the client chose when it differs from the UID (vdirsyncer’s <uuid>.ics)', async () => {
    const name = '4f0c7c1e-6a0b-4a57-9a3e-2b7d1c2e9f10';
    const uid = 'chess@phone.example';
    const syncBody = (token = '') =>
      `<D:sync-collection xmlns:D="DAV:"><D:sync-token>${token}</D:sync-token><D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>`;
    const sync = async (token?: string) => multistatus(await dav(server.url, 'REPORT', calendarPath(anna, room), { user: anna, depth: '1', body: syncBody(token) }));
    const start = await sync();
    expect((await put(anna, name, vevent(uid, { summary: 'Chess' }), { 'if-none-match': '*' })).status).toBe(201);
    // Found under its name, and not under its UID (one object, one name).
    const got = await get(anna, name);
    const etagOf = (res: typeof got) => res.headers.get('etag');
    expect(got.status).toBe(200);
    expect(got.body).toContain(`UID:${uid}`);
    expect((await get(anna, uid)).status).toBe(404);
    const listing = multistatus(await dav(server.url, 'PROPFIND', calendarPath(anna, room), { depth: '1', user: anna, body: propfindBody('D:getetag') }));
    const hrefs = listing.responses.map((r) => r.href);
    expect(hrefs).toContain(objectPath(anna, room, name));
    expect(hrefs).not.toContain(objectPath(anna, room, uid));
    const multiget = `<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/></D:prop><D:href>${objectPath(anna, room, name)}</D:href></C:calendar-multiget>`;
    const mg = multistatus(await dav(server.url, 'REPORT', calendarPath(anna, room), { user: anna, depth: '1', body: multiget }));
    expect(mg.responses.map((r) => r.href)).toEqual([objectPath(anna, room, name)]);
    expect(mg.responses[0]!.props.get('DAV:|getetag')?.text).toBe(etagOf(got));
    const changed = await sync(start.syncToken);
    expect(changed.responses.map((r) => r.href)).toEqual([objectPath(anna, room, name)]);

    // Updates under the name, with If-Match; the UID it holds cannot change, nor be taken by another name.
    const etag = got.headers.get('etag')!;
    expect((await put(anna, name, vevent(uid, { summary: 'Chess club' }), { 'if-match': etag })).status).toBe(204);
    expect((await restEvent(uid)).eventTitle).toBe('Chess club');
    const other = expectDavError(await put(anna, name, vevent('other@phone.example')), 403, { ns: 'urn:ietf:params:xml:ns:caldav', name: 'no-uid-conflict' });
    expect(JSON.stringify(other)).toContain(name);
    const taken = expectDavError(await put(anna, 'second-name', vevent(uid)), 403, { ns: 'urn:ietf:params:xml:ns:caldav', name: 'no-uid-conflict' });
    expect(JSON.stringify(taken)).toContain(`${name}.ics`);
    expectDavError(await put(anna, uid, vevent(uid)), 403, { ns: 'urn:ietf:params:xml:ns:caldav', name: 'no-uid-conflict' });

    // Deleting it: reported gone under its name, and the name is free again.
    const beforeDelete = await sync();
    const etag2 = (await get(anna, name)).headers.get('etag')!;
    expect((await dav(server.url, 'DELETE', objectPath(anna, room, name), { user: anna, headers: { 'if-match': etag2 } })).status).toBe(204);
    expect((await get(anna, name)).status).toBe(404);
    const gone = await sync(beforeDelete.syncToken);
    expect(gone.responses.map((r) => r.href)).toEqual([objectPath(anna, room, name)]);
    expect(gone.responses[0]!.status).toMatch(/404/);
    expect((await put(anna, name, vevent('reused@phone.example'))).status).toBe(201);
    expect((await get(anna, name)).body).toContain('UID:reused@phone.example');
  });

  it('maps RECURRENCE-ID components to occurrence overrides and EXDATE to cancelled occurrences', async () => {
    const uid = 'weekly-swim@phone';
    const body = [
      'BEGIN:VCALENDAR',
      'VERSION:2.0',
      'PRODID:-//test//EN',
      'BEGIN:VEVENT',
      `UID:${uid}`,
      'DTSTAMP:20260101T000000Z',
      'DTSTART;TZID=Europe/Berlin:20260302T170000',
      'DTEND;TZID=Europe/Berlin:20260302T180000',
      'RRULE:FREQ=WEEKLY;COUNT=6',
      'EXDATE;TZID=Europe/Berlin:20260316T170000',
      'SUMMARY:Swimming',
      'END:VEVENT',
      'BEGIN:VEVENT',
      `UID:${uid}`,
      'DTSTAMP:20260101T000000Z',
      'RECURRENCE-ID;TZID=Europe/Berlin:20260309T170000',
      'DTSTART;TZID=Europe/Berlin:20260309T180000',
      'DTEND;TZID=Europe/Berlin:20260309T190000',
      'SUMMARY:Swimming (late)',
      'END:VEVENT',
      'END:VCALENDAR',
      '',
    ].join('\r\n');
    expect((await put(anna, uid, body)).status).toBe(201);
    const occ = await api.request('GET', `/rooms/${room}/events?from=2026-03-01T00:00:00Z&to=2026-04-30T00:00:00Z&timeZone=Europe/Berlin`, { token: anna.token });
    expect(occ.status).toBe(200);
    const mine = occ.body.occurrences.filter((o: any) => o.eventId === eventIdForUid(uid));
    expect(mine.map((o: any) => o.startTime.slice(0, 16))).toEqual(['2026-03-02T17:00', '2026-03-09T18:00', '2026-03-23T17:00', '2026-03-30T17:00', '2026-04-06T17:00']);
    expect(mine[1].eventTitle).toBe('Swimming (late)');
    // Read back: the override is its own VEVENT with the series' UID, the cancelled one an EXDATE.
    const got = String((await get(anna, uid)).body);
    expect(got.match(/BEGIN:VEVENT/g)).toHaveLength(2);
    expect(got).toContain('RECURRENCE-ID;TZID=Europe/Berlin:20260309T170000');
    expect(got).toMatch(/EXDATE;TZID=Europe\/Berlin:20260316T170000/);

    // Dropping the override in a later PUT removes it; a new EXDATE cancels that occurrence.
    const fewer = body.replace(/BEGIN:VEVENT\r\nUID:[^\r]+\r\nDTSTAMP:[^\r]+\r\nRECURRENCE-ID[\s\S]*?END:VEVENT\r\n/, '').replace('EXDATE;TZID=Europe/Berlin:20260316T170000', 'EXDATE;TZID=Europe/Berlin:20260316T170000,20260323T170000');
    expect((await put(anna, uid, fewer)).status).toBe(204);
    const occ2 = await api.request('GET', `/rooms/${room}/events?from=2026-03-01T00:00:00Z&to=2026-04-30T00:00:00Z&timeZone=Europe/Berlin`, { token: anna.token });
    const mine2 = occ2.body.occurrences.filter((o: any) => o.eventId === eventIdForUid(uid));
    expect(mine2.map((o: any) => o.startTime.slice(0, 16))).toEqual(['2026-03-02T17:00', '2026-03-09T17:00', '2026-03-30T17:00', '2026-04-06T17:00']);
    expect(mine2.every((o: any) => o.eventTitle === 'Swimming')).toBe(true);
  });

  it('deletes with the right ETag only, and then the object is gone', async () => {
    const uid = 'to-delete@phone';
    expect((await put(anna, uid, vevent(uid))).status).toBe(201);
    const etag = (await get(anna, uid)).headers.get('etag')!;
    expectDavError(await dav(server.url, 'DELETE', objectPath(anna, room, uid), { user: anna, headers: { 'if-match': '"other"' } }), 412);
    expect((await get(anna, uid)).status).toBe(200);
    expect((await dav(server.url, 'DELETE', objectPath(anna, room, uid), { user: anna, headers: { 'if-match': etag } })).status).toBe(204);
    expect((await get(anna, uid)).status).toBe(404);
    expect((await api.request('GET', `/rooms/${room}/events/${eventIdForUid(uid)}`, { token: anna.token })).status).toBe(404);
    expectDavError(await dav(server.url, 'DELETE', objectPath(anna, room, uid), { user: anna }), 404);
    // The resource is gone, so a PUT of the same UID creates it again (RFC 4791 §5.3.2; caldav-put.test.ts).
    expect((await put(anna, uid, vevent(uid, { summary: 'Back' }), { 'if-none-match': '*' })).status).toBe(201);
    expect((await get(anna, uid)).body).toContain('SUMMARY:Back');
  });

  it('lets viewers read but answers their writes 403 with DAV:need-privileges, changing nothing', async () => {
    const uid = 'viewer-target@phone';
    expect((await put(anna, uid, vevent(uid, { summary: 'Kept' }))).status).toBe(201);
    const before = await ctag();
    expect((await get(vic, uid)).status).toBe(200);
    const refusedPut = expectDavError(await put(vic, uid, vevent(uid, { summary: 'Changed by a viewer' })), 403, { ns: DAV, name: 'need-privileges' });
    expect(JSON.stringify(refusedPut)).toContain('write-content');
    expectDavError(await put(vic, 'viewer-new@phone', vevent('viewer-new@phone')), 403, { ns: DAV, name: 'need-privileges' });
    expectDavError(await dav(server.url, 'DELETE', objectPath(vic, room, uid), { user: vic }), 403, { ns: DAV, name: 'need-privileges' });
    expect((await restEvent(uid)).eventTitle).toBe('Kept');
    expect(await ctag()).toBe(before);
  });

  it('merges field by field: a title changed offline over y-websocket and a time changed over CalDAV both survive', async () => {
    const uid = 'merge-me@phone';
    expect((await put(anna, uid, vevent(uid, { summary: 'Piano' }))).status).toBe(201);
    const eventId = eventIdForUid(uid);
    const web = connectProvider(server.wsUrl, room, anna.token);
    try {
      await waitForSynced(web.provider);
      await waitFor(() => listEvents(web.doc).some((e) => e.id === eventId), 5000, 'event reaches the web client');
      web.provider.disconnect();
      // The web client, offline, renames the event.
      updateEvent(web.doc, eventId, { title: 'Piano lesson' }, { actor: anna.userId });
      // Meanwhile the phone moves it by an hour (sending the title it knows).
      const phone = await put(anna, uid, vevent(uid, { summary: 'Piano', start: '20260310T100000', end: '20260310T110000' }), {
        'if-match': (await get(anna, uid)).headers.get('etag')!,
      });
      expect(phone.status).toBe(204);
      web.provider.connect();
      await waitForSynced(web.provider);
      await waitFor(() => web.doc.getMap('events').size > 0 && listEvents(web.doc).find((e) => e.id === eventId)?.start === '2026-03-10T10:00', 5000, 'the phone’s time reaches the web client');
      // Both edits are in the room for everyone.
      let ev: any;
      for (let i = 0; i < 100; i++) {
        ev = await restEvent(uid);
        if (ev.eventTitle === 'Piano lesson') break;
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(ev.eventTitle).toBe('Piano lesson');
      expect(ev.startTime).toBe('2026-03-10T10:00:00+01:00');
      expect(ev.endTime).toBe('2026-03-10T11:00:00+01:00');
      const local = listEvents(web.doc).find((e) => e.id === eventId)!;
      expect(local.title).toBe('Piano lesson');
      expect(local.start).toBe('2026-03-10T10:00');
      const phoneView = String((await get(anna, uid)).body);
      expect(phoneView).toContain('SUMMARY:Piano lesson');
      expect(phoneView).toContain('DTSTART;TZID=Europe/Berlin:20260310T100000');
    } finally {
      web.provider.destroy();
    }
  });
});
