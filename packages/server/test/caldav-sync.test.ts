/**
 * CalDAV REPORTs over loopback: sync-collection (RFC 6578) from the start and incrementally
 * (changed members with new ETags, removed ones as 404 members, unknown tokens refused with
 * DAV:valid-sync-token), calendar-multiget, and calendar-query time ranges that account for
 * recurrence (RFC 4791 §9.9).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { caldavModule } from '../src/caldav/index.js';
import { apiClient } from './helpers/api.js';
import { CALDAV, DAV, calendarPath, dav, davUser, expectDavError, ICS, multistatus, objectPath, startCaldavServer, vevent, type DavUser } from './helpers/caldav.js';

const NSDECL = `xmlns:D="DAV:" xmlns:C="${CALDAV}"`;

const syncBody = (token: string) =>
  `<?xml version="1.0" encoding="utf-8"?><D:sync-collection ${NSDECL}><D:sync-token>${token}</D:sync-token><D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>`;

const queryBody = (range?: { start?: string; end?: string }, comp = 'VEVENT') =>
  `<C:calendar-query ${NSDECL}><D:prop><D:getetag/></D:prop><C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="${comp}">${
    range ? `<C:time-range${range.start ? ` start="${range.start}"` : ''}${range.end ? ` end="${range.end}"` : ''}/>` : ''
  }</C:comp-filter></C:comp-filter></C:filter></C:calendar-query>`;

describe('CalDAV reports', () => {
  let server: Awaited<ReturnType<typeof startCaldavServer>>;
  let api: ReturnType<typeof apiClient>;
  let anna: DavUser;
  let room: string;
  let other: string;

  beforeAll(async () => {
    server = await startCaldavServer();
    api = apiClient(server.url);
    anna = await davUser(api, 'anna');
    room = await api.createRoom(anna.token, 'Family');
    other = await api.createRoom(anna.token, 'Other');
  });
  afterAll(() => server?.close());

  const put = (uid: string, body: string) => dav(server.url, 'PUT', objectPath(anna, room, uid), { user: anna, body, headers: ICS });
  const report = (body: string, roomId = room) => dav(server.url, 'REPORT', calendarPath(anna, roomId), { user: anna, body, depth: '1' });
  const etags = (responses: ReturnType<typeof multistatus>['responses']) =>
    Object.fromEntries(responses.map((r) => [r.href, r.status ?? r.props.get(`${DAV}|getetag`)?.text]));

  it('syncs from the start, then answers only what changed, with removed objects as 404 members', async () => {
    expect((await put('keep@x', vevent('keep@x', { summary: 'Keep' }))).status).toBe(201);
    expect((await put('change@x', vevent('change@x', { summary: 'Change' }))).status).toBe(201);
    expect((await put('remove@x', vevent('remove@x', { summary: 'Remove' }))).status).toBe(201);

    const first = multistatus(await report(syncBody('')));
    expect(Object.keys(etags(first.responses)).sort()).toEqual(['change@x', 'keep@x', 'remove@x'].map((u) => objectPath(anna, room, u)).sort());
    expect(first.syncToken).toMatch(/^http:\/\/kith\.invalid\/ns\/sync\//);

    // Nothing changed: nothing listed, the same token.
    const idle = multistatus(await report(syncBody(first.syncToken!)));
    expect(idle.responses).toEqual([]);
    expect(idle.syncToken).toBe(first.syncToken);

    expect((await put('change@x', vevent('change@x', { summary: 'Changed' }))).status).toBe(204);
    expect((await dav(server.url, 'DELETE', objectPath(anna, room, 'remove@x'), { user: anna })).status).toBe(204);
    expect((await put('new@x', vevent('new@x', { summary: 'New' }))).status).toBe(201);
    const next = multistatus(await report(syncBody(first.syncToken!)));
    const seen = etags(next.responses);
    expect(Object.keys(seen).sort()).toEqual(['change@x', 'new@x', 'remove@x'].map((u) => objectPath(anna, room, u)).sort());
    expect(seen[objectPath(anna, room, 'remove@x')]).toBe('HTTP/1.1 404 Not Found');
    const changedEtag = (await dav(server.url, 'GET', objectPath(anna, room, 'change@x'), { user: anna })).headers.get('etag');
    expect(seen[objectPath(anna, room, 'change@x')]).toBe(changedEtag);
    expect(next.syncToken).not.toBe(first.syncToken);

    // An edit made in Kith (REST) is seen the same way.
    const ev = (await api.request('GET', `/rooms/${room}/events?from=2026-03-01T00:00:00Z&to=2026-04-01T00:00:00Z&timeZone=UTC`, { token: anna.token })).body.occurrences.find(
      (o: any) => o.eventTitle === 'Keep',
    );
    expect((await api.request('PATCH', `/rooms/${room}/events/${ev.eventId}`, { token: anna.token, body: { eventTitle: 'Kept' } })).status).toBe(200);
    const third = multistatus(await report(syncBody(next.syncToken!)));
    expect(third.responses.map((r) => r.href)).toEqual([objectPath(anna, room, 'keep@x')]);
  });

  it('refuses unknown, foreign and future sync tokens with DAV:valid-sync-token', async () => {
    const current = multistatus(await report(syncBody(''))).syncToken!;
    const version = Number(current.split('/').at(-1));
    for (const token of ['garbage', 'http://kith.invalid/ns/sync/', current.replace(room, other), current.replace(/\d+$/, String(version + 5))]) {
      expectDavError(await report(syncBody(token)), 403, { ns: DAV, name: 'valid-sync-token' });
    }
  });

  it('replaces a recorded room state that the stored room does not hold (a restore under it) instead of waiting for it forever', async () => {
    const restored = await api.createRoom(anna.token, 'Restored');
    const putIn = (uid: string) => dav(server.url, 'PUT', objectPath(anna, restored, uid), { user: anna, body: vevent(uid), headers: ICS });
    expect((await putIn('before@x')).status).toBe(201);
    const first = multistatus(await report(syncBody(''), restored));
    // The index says it was recorded from a copy holding updates no copy will ever hold, as when the
    // room's document is restored from a backup older than the index.
    const sql = await server.server.storage.modules.open('caldav', caldavModule().migrations!);
    const unreachable = Buffer.from(Y.encodeStateVector(new Map([[123_456_789, 1_000]]))).toString('base64');
    expect((await sql.run('UPDATE caldav_sync_rooms SET state = ? WHERE room_id = ?', [unreachable, restored])).changes).toBe(1);
    expect((await putIn('after@x')).status).toBe(201);
    // Waited for (up to the catch-up time), then recorded: the new object is listed, and nothing after it.
    const next = multistatus(await report(syncBody(first.syncToken!), restored));
    expect(next.responses.map((r) => r.href)).toEqual([objectPath(anna, restored, 'after@x')]);
    expect(multistatus(await report(syncBody(next.syncToken!), restored)).responses).toEqual([]);
  });

  it('answers calendar-multiget with data for known hrefs and 404 for others', async () => {
    const href = objectPath(anna, room, 'keep@x');
    const missing = objectPath(anna, room, 'nope@x');
    const foreign = objectPath(anna, other, 'keep@x');
    const body = `<C:calendar-multiget ${NSDECL}><D:prop><D:getetag/><C:calendar-data/></D:prop><D:href>${href}</D:href><D:href>${missing}</D:href><D:href>${foreign}</D:href></C:calendar-multiget>`;
    const res = multistatus(await report(body));
    expect(res.responses.map((r) => r.href)).toEqual([href, missing, foreign]);
    expect(res.responses[0]!.props.get(`${CALDAV}|calendar-data`)!.text).toContain('UID:keep@x');
    expect(res.responses[1]!.status).toBe('HTTP/1.1 404 Not Found');
    expect(res.responses[2]!.status).toBe('HTTP/1.1 404 Not Found');
  });

  it('filters calendar-query by time range, counting every occurrence of a series and its moved overrides', async () => {
    const series = [
      'BEGIN:VCALENDAR',
      'VERSION:2.0',
      'PRODID:-//t//EN',
      'BEGIN:VEVENT',
      'UID:monthly@x',
      'DTSTAMP:20260101T000000Z',
      'DTSTART:20250115T100000Z',
      'DTEND:20250115T110000Z',
      'RRULE:FREQ=MONTHLY;BYMONTHDAY=15',
      'SUMMARY:Monthly',
      'END:VEVENT',
      'BEGIN:VEVENT',
      'UID:monthly@x',
      'DTSTAMP:20260101T000000Z',
      'RECURRENCE-ID:20250215T100000Z',
      'DTSTART:20250302T100000Z',
      'DTEND:20250302T110000Z',
      'SUMMARY:Monthly (moved)',
      'END:VEVENT',
      'END:VCALENDAR',
      '',
    ].join('\r\n');
    const q = await dav(server.url, 'PUT', objectPath(anna, other, 'monthly@x'), { user: anna, body: series, headers: ICS });
    expect(q.status).toBe(201);
    const single = vevent('single@x', { start: '20260601T090000', end: '20260601T100000' });
    expect((await dav(server.url, 'PUT', objectPath(anna, other, 'single@x'), { user: anna, body: single, headers: ICS })).status).toBe(201);
    const found = async (range?: { start?: string; end?: string }, comp?: string) =>
      multistatus(await report(queryBody(range, comp), other))
        .responses.map((r) => decodeURIComponent(r.href.split('/').at(-1)!))
        .sort();

    // A series started long before the range is found by an occurrence in it.
    expect(await found({ start: '20261101T000000Z', end: '20261201T000000Z' })).toEqual(['monthly@x.ics']);
    // The moved occurrence (from Feb 15 to Mar 2) counts where it is now: a range between
    // Mar 1 and Mar 10 holds only it.
    expect(await found({ start: '20250301T000000Z', end: '20250310T000000Z' })).toEqual(['monthly@x.ics']);
    expect(await found({ start: '20250216T000000Z', end: '20250301T000000Z' })).toEqual([]);
    expect(await found({ start: '20260601T000000Z', end: '20260602T000000Z' })).toEqual(['single@x.ics']);
    expect(await found({ start: '20260520T000000Z', end: '20260601T070000Z' })).toEqual([]);
    expect(await found()).toEqual(['monthly@x.ics', 'single@x.ics']);
    expect(await found({ start: '20200101T000000Z' })).toEqual(['monthly@x.ics', 'single@x.ics']);
    // Open-ended ranges (longer than 400 days) rule out by span: a single event outside, a series
    // not started yet.
    expect(await found({ start: '20260701T000000Z' })).toEqual(['monthly@x.ics']);
    expect(await found({ end: '20250101T000000Z' })).toEqual([]);
    expect(await found(undefined, 'VTODO')).toEqual([]);
    expectDavError(await report(queryBody({ start: 'tomorrow' }), other), 400, { ns: CALDAV, name: 'valid-filter' });
    // Earlier this asserted 403 supported-filter for any prop-filter; prop-filters are now
    // answered (see the test below), while a param-filter is still refused.
    const paramFilter = `<C:calendar-query ${NSDECL}><C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:prop-filter name="SUMMARY"><C:param-filter name="LANGUAGE"/></C:prop-filter></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>`;
    expectDavError(await report(paramFilter, other), 403, { ns: CALDAV, name: 'supported-filter' });
  });

  it('calendar-query rules a finished (COUNT) series out by its last occurrence, and answers a range asked again after a change', async () => {
    const other = await api.createRoom(anna.token, 'Counted');
    const series = (count: number, moved?: string) => ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//t//EN',
      'BEGIN:VEVENT', 'UID:counted@x', 'DTSTAMP:20260101T000000Z', 'DTSTART:20260105T100000Z', 'DTEND:20260105T110000Z',
      `RRULE:FREQ=WEEKLY;COUNT=${count}`, 'SUMMARY:Counted', 'END:VEVENT',
      ...(moved ? ['BEGIN:VEVENT', 'UID:counted@x', 'DTSTAMP:20260101T000000Z', 'RECURRENCE-ID:20260112T100000Z',
        `DTSTART:${moved}`, 'DTEND:' + moved.replace('T10', 'T11'), 'SUMMARY:Counted (moved)', 'END:VEVENT'] : []),
      'END:VCALENDAR', ''].join('\r\n');
    const put = async (body: string) => (await dav(server.url, 'PUT', objectPath(anna, other, 'counted@x'), { user: anna, body, headers: ICS })).status;
    expect(await put(series(3))).toBe(201); // Jan 5, 12, 19
    const found = async (start: string, end: string) => multistatus(await report(queryBody({ start, end }), other)).responses.length;
    expect(await found('20260119T000000Z', '20260120T000000Z')).toBe(1);
    expect(await found('20260120T000000Z', '20260301T000000Z')).toBe(0);
    // The second occurrence moved past the last one: the series now ends there.
    expect(await put(series(3, '20260610T100000Z'))).toBe(204);
    expect(await found('20260601T000000Z', '20260701T000000Z')).toBe(1);
    expect(await found('20260120T000000Z', '20260301T000000Z')).toBe(0);
    // The same range again after a change: answered for the event as it is now.
    expect(await put(series(10))).toBe(204); // to Mar 9
    expect(await found('20260120T000000Z', '20260301T000000Z')).toBe(1);
    expect(await found('20260601T000000Z', '20260701T000000Z')).toBe(0);
  });

  it('calendar-query answers a counted series from its occurrences at their instants: across DST, an EXDATE, one running over the range start', async () => {
    const other = await api.createRoom(anna.token, 'Zoned');
    // Mondays 10:00–11:00 in Berlin: 09:00Z in March until the clocks go forward on Mar 29, then 08:00Z.
    const body = ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//t//EN',
      'BEGIN:VEVENT', 'UID:zoned@x', 'DTSTAMP:20260101T000000Z', 'DTSTART;TZID=Europe/Berlin:20260316T100000',
      'DTEND;TZID=Europe/Berlin:20260316T110000', 'RRULE:FREQ=WEEKLY;COUNT=4', 'EXDATE;TZID=Europe/Berlin:20260323T100000',
      'SUMMARY:Zoned', 'END:VEVENT', 'END:VCALENDAR', ''].join('\r\n');
    expect((await dav(server.url, 'PUT', objectPath(anna, other, 'zoned@x'), { user: anna, body, headers: ICS })).status).toBe(201);
    const found = async (start: string, end: string) => multistatus(await report(queryBody({ start, end }), other)).responses.length;
    expect(await found('20260316T085900Z', '20260316T090100Z')).toBe(1);
    expect(await found('20260323T000000Z', '20260324T000000Z')).toBe(0); // cancelled
    expect(await found('20260330T080000Z', '20260330T080100Z')).toBe(1); // starts at the range start
    expect(await found('20260330T083000Z', '20260330T084500Z')).toBe(1); // under way at the range start
    expect(await found('20260330T090000Z', '20260330T100000Z')).toBe(0); // ended at 09:00Z (CEST), not an hour later
    expect(await found('20260406T075900Z', '20260406T080000Z')).toBe(0); // starts where the range ends
    expect(await found('20260407T000000Z', '20260501T000000Z')).toBe(0); // after the fourth (last) one
  });

  it('calendar-query answers one-off events at their instants in their own zones, a day away from their wall clocks, all-day and in a DST gap', async () => {
    const other = await api.createRoom(anna.token, 'One-offs');
    const one = (uid: string, lines: string[]) => ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//t//EN',
      'BEGIN:VEVENT', `UID:${uid}`, 'DTSTAMP:20260101T000000Z', ...lines, 'SUMMARY:One', 'END:VEVENT', 'END:VCALENDAR', ''].join('\r\n');
    const put = async (uid: string, lines: string[]) => (await dav(server.url, 'PUT', objectPath(anna, other, uid), { user: anna, body: one(uid, lines), headers: ICS })).status;
    // 00:30 on New Year's Day at UTC+14 is 10:30Z the day before.
    expect(await put('east@x', ['DTSTART;TZID=Pacific/Kiritimati:20260101T003000', 'DTEND;TZID=Pacific/Kiritimati:20260101T013000'])).toBe(201);
    // 02:15 in New York's spring-forward gap is 03:15 EDT, 07:15Z.
    expect(await put('gap@x', ['DTSTART;TZID=America/New_York:20260308T021500', 'DTEND;TZID=America/New_York:20260308T024500'])).toBe(201);
    // A floating all-day date: midnight to midnight UTC for this calendar.
    expect(await put('day@x', ['DTSTART;VALUE=DATE:20260510', 'DTEND;VALUE=DATE:20260511'])).toBe(201);
    const found = async (start: string, end: string) =>
      multistatus(await report(queryBody({ start, end }), other)).responses.map((r) => decodeURIComponent(r.href.split('/').at(-1)!)).sort();
    expect(await found('20251231T100000Z', '20251231T110000Z')).toEqual(['east@x.ics']);
    expect(await found('20260101T000000Z', '20260102T000000Z')).toEqual([]);
    expect(await found('20260308T071500Z', '20260308T071600Z')).toEqual(['gap@x.ics']);
    expect(await found('20260308T064500Z', '20260308T071500Z')).toEqual([]); // an hour later than the wall clock says
    expect(await found('20260509T230000Z', '20260510T000000Z')).toEqual([]);
    expect(await found('20260510T235900Z', '20260511T000000Z')).toEqual(['day@x.ics']);
    expect(await found('20260301T000000Z', '20260601T000000Z')).toEqual(['day@x.ics', 'gap@x.ics']);
    // Moved by a day: the answer follows the event as it is now.
    expect(await put('east@x', ['DTSTART;TZID=Pacific/Kiritimati:20260102T003000', 'DTEND;TZID=Pacific/Kiritimati:20260102T013000'])).toBe(204);
    expect(await found('20251231T100000Z', '20251231T110000Z')).toEqual([]);
    expect(await found('20260101T100000Z', '20260101T110000Z')).toEqual(['east@x.ics']);
  });

  it('calendar-query prop-filter: text-match on UID, SUMMARY, LOCATION, DESCRIPTION and is-not-defined (RFC 4791 §9.7)', async () => {
    const other = await api.createRoom(anna.token, 'Prop filters');
    const put = async (uid: string, extra: string[]) => {
      const body = ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//t//EN', 'BEGIN:VEVENT', `UID:${uid}`, 'DTSTAMP:20260101T000000Z',
        'DTSTART:20260310T100000Z', 'DTEND:20260310T110000Z', ...extra, 'END:VEVENT', 'END:VCALENDAR', ''].join('\r\n');
      expect((await dav(server.url, 'PUT', objectPath(anna, other, uid), { user: anna, body, headers: ICS })).status).toBe(201);
    };
    await put('dentist@x', ['SUMMARY:Dentist (Dr Ames)', 'LOCATION:Main Street 4', 'DESCRIPTION:Bring the card\\, please']);
    await put('chess@x', ['SUMMARY:Chess club']);
    await put('Swim@X', ['SUMMARY:swimming', 'LOCATION:Pool']);
    const query = (props: string, range = '') =>
      `<C:calendar-query ${NSDECL}><D:prop><D:getetag/></D:prop><C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">${range}${props}</C:comp-filter></C:comp-filter></C:filter></C:calendar-query>`;
    const found = async (props: string, range = '') =>
      multistatus(await report(query(props, range), other))
        .responses.map((r) => decodeURIComponent(r.href.split('/').at(-1)!))
        .sort();
    const tm = (name: string, text: string, attrs = '') => `<C:prop-filter name="${name}"><C:text-match${attrs}>${text}</C:text-match></C:prop-filter>`;

    // python3-caldav's event_by_uid: an exact UID, i;octet.
    expect(await found(tm('UID', 'dentist@x', ' collation="i;octet"'))).toEqual(['dentist@x.ics']);
    expect(await found(tm('UID', 'dentist@x', ' collation="i;octet" match-type="equals"'))).toEqual(['dentist@x.ics']);
    // i;octet is case-sensitive; i;ascii-casemap (the default) is not.
    expect(await found(tm('UID', 'swim@x', ' collation="i;octet"'))).toEqual([]);
    expect(await found(tm('UID', 'swim@x', ' match-type="equals"'))).toEqual(['Swim@X.ics']);
    // contains (the default), starts-with, ends-with, negate-condition.
    expect(await found(tm('SUMMARY', 'CLUB'))).toEqual(['chess@x.ics']);
    expect(await found(tm('SUMMARY', 'Dentist', ' match-type="starts-with"'))).toEqual(['dentist@x.ics']);
    expect(await found(tm('SUMMARY', 'Ames', ' match-type="starts-with"'))).toEqual([]);
    expect(await found(tm('SUMMARY', 'ing', ' match-type="ends-with"'))).toEqual(['Swim@X.ics']);
    expect(await found(tm('SUMMARY', 'club', ' negate-condition="yes"'))).toEqual(['Swim@X.ics', 'dentist@x.ics']);
    expect(await found(tm('LOCATION', 'pool'))).toEqual(['Swim@X.ics']);
    // Text values are compared unescaped (RFC 5545 §3.3.11).
    expect(await found(tm('DESCRIPTION', 'card, please'))).toEqual(['dentist@x.ics']);
    // A negated text-match does not match an undefined property (§9.7.2).
    expect(await found(tm('LOCATION', 'pool', ' negate-condition="yes"'))).toEqual(['dentist@x.ics']);
    expect(await found('<C:prop-filter name="LOCATION"><C:is-not-defined/></C:prop-filter>')).toEqual(['chess@x.ics']);
    expect(await found('<C:prop-filter name="LOCATION"/>')).toEqual(['Swim@X.ics', 'dentist@x.ics']);
    // Every prop-filter must hold, together with a time-range.
    expect(await found(tm('SUMMARY', 'i') + tm('LOCATION', 'street'))).toEqual(['dentist@x.ics']);
    const march = '<C:time-range start="20260310T000000Z" end="20260311T000000Z"/>';
    const april = '<C:time-range start="20260401T000000Z" end="20260402T000000Z"/>';
    expect(await found(tm('SUMMARY', 'chess'), march)).toEqual(['chess@x.ics']);
    expect(await found(tm('SUMMARY', 'chess'), april)).toEqual([]);

    expectDavError(await report(query(tm('UID', 'x', ' collation="i;unicode-casemap"')), other), 403, { ns: CALDAV, name: 'supported-collation' });
    expectDavError(await report(query(tm('UID', 'x', ' match-type="regex"')), other), 400, { ns: CALDAV, name: 'valid-filter' });
    expectDavError(await report(query(tm('UID', 'x', ' negate-condition="maybe"')), other), 400, { ns: CALDAV, name: 'valid-filter' });
    expectDavError(await report(query(tm('UID', 'x'.repeat(1001))), other), 400, { ns: CALDAV, name: 'valid-filter' });
    expectDavError(await report(query(tm('SUMMARY', 'x').repeat(21)), other), 400, { ns: CALDAV, name: 'valid-filter' });
  });

  it('refuses REPORTs it does not know with DAV:supported-report', async () => {
    expectDavError(await report(`<D:expand-property xmlns:D="DAV:"/>`), 403, { ns: DAV, name: 'supported-report' });
  });
});
