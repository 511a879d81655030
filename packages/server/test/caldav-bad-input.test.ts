/**
 * CalDAV bad input over loopback: malformed XML, XXE and entity expansion, oversized bodies, an
 * object with 10,000 VEVENTs, the wrong Content-Type, a UID that differs from the URL, several
 * UIDs, no VEVENT. Each gets a clear 4xx naming the problem and changes nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listEvents } from '@kith/model';
import { apiClient } from './helpers/api.js';
import { expectError } from './helpers/http-assert.js';
import { icsTimesOutOfRange, OUT_OF_RANGE, writeOutOfRange } from './helpers/out-of-range.js';
import { connectProvider, waitForSynced } from './helpers/yjs-clients.js';
import { CALDAV, DAV, calendarPath, dav, davUser, expectDavError, ICS, multistatus, objectPath, propfindBody, startCaldavServer, vevent, type DavUser } from './helpers/caldav.js';

describe('CalDAV bad input', () => {
  let server: Awaited<ReturnType<typeof startCaldavServer>>;
  let api: ReturnType<typeof apiClient>;
  let anna: DavUser;
  let room: string;

  beforeAll(async () => {
    server = await startCaldavServer();
    api = apiClient(server.url);
    anna = await davUser(api, 'anna');
    room = await api.createRoom(anna.token, 'Family');
    expect((await dav(server.url, 'PUT', objectPath(anna, room, 'base@x'), { user: anna, body: vevent('base@x'), headers: ICS })).status).toBe(201);
  });
  afterAll(() => server?.close());

  /** What a client sees of the calendar: its token and every object's ETag. */
  const state = async () => {
    const sync = `<D:sync-collection xmlns:D="DAV:"><D:sync-token/><D:prop><D:getetag/></D:prop></D:sync-collection>`;
    const res = multistatus(await dav(server.url, 'REPORT', calendarPath(anna, room), { user: anna, body: sync }));
    return JSON.stringify([res.syncToken, res.responses.map((r) => [r.href, r.props.get(`${DAV}|getetag`)?.text])]);
  };
  const put = (uid: string, body: string, headers: Record<string, string> = ICS) => dav(server.url, 'PUT', objectPath(anna, room, uid), { user: anna, body, headers });

  it('refuses malformed XML bodies with 400', async () => {
    const before = await state();
    for (const body of ['<D:propfind xmlns:D="DAV:"><D:prop>', 'not xml at all', '<a></b>', '<D:propfind xmlns:D="DAV:"><D:prop><x:y/></D:prop></D:propfind>']) {
      const root = expectDavError(await dav(server.url, 'PROPFIND', calendarPath(anna, room), { user: anna, depth: '0', body }), 400);
      expect(JSON.stringify(root)).toMatch(/XML body was refused/);
    }
    expectDavError(await dav(server.url, 'REPORT', calendarPath(anna, room), { user: anna, body: '<<<' }), 400);
    expect(await state()).toBe(before);
  });

  it('refuses DOCTYPEs: no external entity is read, no entity is expanded', async () => {
    const xxe = `<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><D:propfind xmlns:D="DAV:"><D:prop><D:displayname>&xxe;</D:displayname></D:prop></D:propfind>`;
    const laughs = `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]><C:calendar-multiget xmlns:D="DAV:" xmlns:C="${CALDAV}"><D:href>&lol3;</D:href></C:calendar-multiget>`;
    const undeclared = `<D:propfind xmlns:D="DAV:"><D:prop><D:displayname>&xxe;</D:displayname></D:prop></D:propfind>`;
    for (const [method, body] of [['PROPFIND', xxe], ['REPORT', laughs], ['PROPFIND', undeclared]] as const) {
      const res = await dav(server.url, method, calendarPath(anna, room), { user: anna, depth: '0', body });
      expectDavError(res, 400);
      expect(String(res.body)).not.toContain('root:');
      expect(String(res.body)).not.toContain('lollol');
    }
  });

  it('refuses a 10 MB PUT with 413 and an object of 10,000 VEVENTs with 413, storing nothing', async () => {
    const before = await state();
    const big = vevent('big@x', { extra: [`DESCRIPTION:${'x'.repeat(10 * 1024 * 1024)}`] });
    const tooBig = await put('big@x', big);
    expectError(tooBig, 413, 'PAYLOAD_TOO_LARGE');
    const many = ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//t//EN'];
    for (let i = 0; i < 10_000; i++) many.push('BEGIN:VEVENT', `UID:many-${i}@x`, 'DTSTAMP:20260101T000000Z', 'DTSTART:20260101T100000Z', 'SUMMARY:x', 'END:VEVENT');
    many.push('END:VCALENDAR', '');
    const res = await put('many-0@x', many.join('\r\n'));
    const root = expectDavError(res, 413, { ns: CALDAV, name: 'max-resource-size' });
    expect(JSON.stringify(root)).toMatch(/10001 components/);
    // The same count under one UID (a series with 9,999 overrides) is refused the same way.
    const oneUid = many.join('\r\n').replace(/UID:many-\d+@x/g, 'UID:many-0@x');
    expectDavError(await put('many-0@x', oneUid), 413, { ns: CALDAV, name: 'max-resource-size' });
    expect(await state()).toBe(before);
  });

  it('refuses the wrong Content-Type with 415', async () => {
    const before = await state();
    expectDavError(await put('json@x', vevent('json@x'), { 'content-type': 'application/json' }), 415, { ns: CALDAV, name: 'supported-calendar-data' });
    expectDavError(await put('none@x', vevent('none@x'), {}), 415, { ns: CALDAV, name: 'supported-calendar-data' });
    expectDavError(await dav(server.url, 'PROPFIND', calendarPath(anna, room), { user: anna, depth: '0', body: propfindBody('D:displayname'), headers: { 'content-type': 'text/plain' } }), 415);
    expect(await state()).toBe(before);
  });

  // This test asserted once that any UID differing from the URL's name is refused; RFC 4791 ties
  // no name to the UID, so a new object may be created under any free name (caldav-objects.test.ts).
  // What stays refused: a UID differing from the one the name holds, or one another name holds.
  it('refuses a UID that differs from the one the name holds, several UIDs, no VEVENT and broken iCalendar with 403 and the precondition (RFC 4791 §1.3)', async () => {
    expect((await put('held@x', vevent('held@x'))).status).toBe(201);
    const before = await state();
    const mismatch = expectDavError(await put('held@x', vevent('body-uid@x')), 403, { ns: CALDAV, name: 'no-uid-conflict' });
    expect(JSON.stringify(mismatch)).toContain(encodeURIComponent('held@x'));
    const taken = expectDavError(await put('another-name', vevent('held@x')), 403, { ns: CALDAV, name: 'no-uid-conflict' });
    expect(JSON.stringify(taken)).toContain(`${encodeURIComponent('held@x')}.ics`);
    const two = vevent('two-a@x').replace('END:VCALENDAR', vevent('two-b@x').split('\r\n').slice(3, -2).join('\r\n') + '\r\nEND:VCALENDAR');
    expectDavError(await put('two-a@x', two), 403, { ns: CALDAV, name: 'valid-calendar-object-resource' });
    const todo = 'BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VTODO\r\nUID:todo@x\r\nDTSTAMP:20260101T000000Z\r\nSUMMARY:Buy milk\r\nEND:VTODO\r\nEND:VCALENDAR\r\n';
    expectDavError(await put('todo@x', todo), 403, { ns: CALDAV, name: 'supported-calendar-component' });
    expectDavError(await put('junk@x', 'this is not iCalendar'), 403, { ns: CALDAV, name: 'valid-calendar-data' });
    const badTime = vevent('bad-time@x').replace('DTSTART;TZID=Europe/Berlin:20260310T090000', 'DTSTART;TZID=Europe/Berlin:2026031');
    expectDavError(await put('bad-time@x', badTime), 403, { ns: CALDAV, name: 'valid-calendar-object-resource' });
    // Occurrences without their series: refused, not stored as a one-off under another UID.
    const occurrence = vevent('invite@x', { extra: ['RECURRENCE-ID;TZID=Europe/Berlin:20260310T090000'] });
    const lone = expectDavError(await put('invite@x', occurrence), 403, { ns: CALDAV, name: 'valid-calendar-object-resource' });
    expect(JSON.stringify(lone)).toMatch(/without their series/);
    expect(await state()).toBe(before);
  });

  it('writes a property in no namespace as well-formed XML (xmlns="", never a prefix bound to "")', async () => {
    const body = `<D:propfind xmlns:D="DAV:"><D:prop><plain xmlns=""/><D:getetag/></D:prop></D:propfind>`;
    const res = await dav(server.url, 'PROPFIND', calendarPath(anna, room), { user: anna, depth: '0', body });
    expect(String(res.body)).not.toContain('xmlns:X=""');
    const parsed = multistatus(res);
    expect(parsed.responses).toHaveLength(1);
    expect(String(res.body)).toContain('<plain xmlns=""/>');
  });

  it('renders each property and each href once, however often a request names it, and refuses over 256 properties', async () => {
    // 20,000 copies of calendar-data: answered with the object's text once, not 20,000 times.
    const many = `<D:propfind xmlns:D="DAV:" xmlns:C="${CALDAV}"><D:prop>${'<C:calendar-data/>'.repeat(20_000)}<D:getetag/></D:prop></D:propfind>`;
    const res = multistatus(await dav(server.url, 'PROPFIND', calendarPath(anna, room), { user: anna, depth: '1', body: many }));
    const object = res.responses.find((r) => r.href.endsWith('.ics'))!;
    expect(object.props.get(`${CALDAV}|calendar-data`)?.text).toContain('UID:base@x');
    expect(String((await dav(server.url, 'PROPFIND', calendarPath(anna, room), { user: anna, depth: '1', body: many })).body).split('calendar-data>').length).toBeLessThan(6);
    const distinct = `<D:propfind xmlns:D="DAV:" xmlns:X="urn:x"><D:prop>${Array.from({ length: 257 }, (_, i) => `<X:p${i}/>`).join('')}</D:prop></D:propfind>`;
    const refused = expectDavError(await dav(server.url, 'PROPFIND', calendarPath(anna, room), { user: anna, depth: '0', body: distinct }), 400);
    expect(JSON.stringify(refused)).toMatch(/at most 256 properties/);
    const href = objectPath(anna, room, 'base@x');
    const multiget = `<C:calendar-multiget xmlns:D="DAV:" xmlns:C="${CALDAV}"><D:prop><D:getetag/><C:calendar-data/></D:prop>${`<D:href>${href}</D:href>`.repeat(5_000)}</C:calendar-multiget>`;
    expect(multistatus(await dav(server.url, 'REPORT', calendarPath(anna, room), { user: anna, body: multiget })).responses).toHaveLength(1);
  });

  it('refuses impossible dates in a time-range or an expand with 400 valid-filter, not 500', async () => {
    for (const [start, end] of [['20260230T000000Z', '20260301T000000Z'], ['20261301T000000Z', '20270101T000000Z'], ['20260301T240000Z', '20260302T000000Z']]) {
      const query = `<C:calendar-query xmlns:D="DAV:" xmlns:C="${CALDAV}"><D:prop><D:getetag/></D:prop><C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:time-range start="${start}" end="${end}"/></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>`;
      expectDavError(await dav(server.url, 'REPORT', calendarPath(anna, room), { user: anna, depth: '1', body: query }), 400, { ns: CALDAV, name: 'valid-filter' });
      const expand = `<C:calendar-multiget xmlns:D="DAV:" xmlns:C="${CALDAV}"><D:prop><C:calendar-data><C:expand start="${start}" end="${end}"/></C:calendar-data></D:prop><D:href>${objectPath(anna, room, 'base@x')}</D:href></C:calendar-multiget>`;
      expectDavError(await dav(server.url, 'REPORT', calendarPath(anna, room), { user: anna, body: expand }), 400, { ns: CALDAV, name: 'valid-filter' });
    }
  });

  it('answers 405 for methods that would make or rename calendars', async () => {
    for (const method of ['MKCALENDAR', 'PROPPATCH', 'MKCOL']) {
      expectDavError(await dav(server.url, method, calendarPath(anna, room), { user: anna }), 405);
    }
    expectDavError(await dav(server.url, 'PUT', calendarPath(anna, room), { user: anna, body: vevent('x'), headers: ICS }), 405);
    expectDavError(await dav(server.url, 'DELETE', calendarPath(anna, room), { user: anna }), 405);
  });

  it('serves no time outside the years 0001 to 9999 when the document holds such events (raw Yjs writes); the rest is served', async () => {
    const edges = await api.createRoom(anna.token, 'Edges of time');
    const { doc, provider } = connectProvider(server.wsUrl, edges, anna.token);
    try {
      await waitForSynced(provider);
      writeOutOfRange(doc, anna.userId);
      const deadline = Date.now() + 20_000;
      while ((await server.server.sync.readRoom(edges, (d) => listEvents(d).length)) < OUT_OF_RANGE.length + 1) {
        if (Date.now() > deadline) throw new Error('the raw writes did not reach the server');
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      provider.destroy();
    }
    const data = (r: { props: Map<string, { text: string }> }) => r.props.get(`${CALDAV}|calendar-data`)?.text ?? '';
    const all = await dav(server.url, 'REPORT', calendarPath(anna, edges), {
      user: anna,
      depth: '1',
      body: `<C:calendar-query xmlns:D="DAV:" xmlns:C="${CALDAV}"><D:prop><D:getetag/><C:calendar-data/></D:prop><C:filter><C:comp-filter name="VCALENDAR"/></C:filter></C:calendar-query>`,
    });
    const objects = multistatus(all).responses;
    const names = objects.map((r) => decodeURIComponent(r.href.split('/').at(-1)!));
    // Before: DTSTART:00001231T…, DTEND:100000101T060000Z, UNTIL=+0100000101T045959Z in 200s.
    for (const r of objects) expect(icsTimesOutOfRange(data(r)), r.href).toEqual([]);
    for (const id of ['in-range', 'range-5', 'range-6', 'range-7', 'range-8', 'range-9', 'range-10']) expect(names).toContain(`${id}@kith.ics`);
    for (const i of [0, 1, 2, 3, 4]) expect(names, OUT_OF_RANGE[i]![0]).not.toContain(`range-${i}@kith.ics`);
    // Time-range queries expanded at both ends of the range, and where the events with stamps out of range are.
    for (const [start, end] of [['00010101T000000Z', '00010301T000000Z'], ['99991101T000000Z', '99991231T235959Z'], ['20260101T000000Z', '20260201T000000Z']]) {
      const expanded = await dav(server.url, 'REPORT', calendarPath(anna, edges), {
        user: anna,
        depth: '1',
        body: `<C:calendar-query xmlns:D="DAV:" xmlns:C="${CALDAV}"><D:prop><D:getetag/><C:calendar-data><C:expand start="${start}" end="${end}"/></C:calendar-data></D:prop><C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:time-range start="${start}" end="${end}"/></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>`,
      });
      for (const r of multistatus(expanded).responses) expect(icsTimesOutOfRange(data(r)), `${start}: ${r.href}`).toEqual([]);
    }
  });
});
