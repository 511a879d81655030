/**
 * `<C:expand>` in calendar-query and calendar-multiget (RFC 4791 §9.6.5), over loopback: a weekly
 * Berlin series across the March DST change, with a cancelled and a moved occurrence, comes back
 * as one VEVENT per occurrence in the range, times and RECURRENCE-IDs in UTC, no rule and no
 * VTIMEZONE, the member's own reminder on each; the ETag stays the object's. Read back with ical.js.
 */
import ICAL from 'ical.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient } from './helpers/api.js';
import { CALDAV, DAV, calendarPath, dav, davUser, expectDavError, ICS, multistatus, objectPath, startCaldavServer, type DavUser } from './helpers/caldav.js';

const SERIES = [
  'BEGIN:VCALENDAR',
  'VERSION:2.0',
  'PRODID:-//test//EN',
  'BEGIN:VEVENT',
  'UID:choir@x',
  'DTSTAMP:20260101T000000Z',
  'DTSTART;TZID=Europe/Berlin:20260303T090000',
  'DTEND;TZID=Europe/Berlin:20260303T100000',
  'RRULE:FREQ=WEEKLY;COUNT=8',
  'EXDATE;TZID=Europe/Berlin:20260310T090000',
  'SUMMARY:Choir',
  'BEGIN:VALARM',
  'ACTION:DISPLAY',
  'DESCRIPTION:Choir',
  'TRIGGER:-PT15M',
  'END:VALARM',
  'END:VEVENT',
  'BEGIN:VEVENT',
  'UID:choir@x',
  'DTSTAMP:20260101T000000Z',
  'RECURRENCE-ID;TZID=Europe/Berlin:20260317T090000',
  'DTSTART;TZID=Europe/Berlin:20260317T110000',
  'DTEND;TZID=Europe/Berlin:20260317T120000',
  'SUMMARY:Choir (late)',
  'END:VEVENT',
  'END:VCALENDAR',
  '',
].join('\r\n');

describe('CalDAV expand', () => {
  let server: Awaited<ReturnType<typeof startCaldavServer>>;
  let anna: DavUser;
  let room: string;

  beforeAll(async () => {
    server = await startCaldavServer();
    const api = apiClient(server.url);
    anna = await davUser(api, 'anna');
    room = await api.createRoom(anna.token, 'Family');
    expect((await dav(server.url, 'PUT', objectPath(anna, room, 'choir@x'), { user: anna, body: SERIES, headers: ICS })).status).toBe(201);
  });
  afterAll(() => server?.close());

  const report = (body: string) => dav(server.url, 'REPORT', calendarPath(anna, room), { user: anna, depth: '1', body });
  const expandProp = (start: string, end: string) => `<D:prop><D:getetag/><C:calendar-data><C:expand start="${start}" end="${end}"/></C:calendar-data></D:prop>`;

  function instances(data: string) {
    const cal = new ICAL.Component(ICAL.parse(data));
    expect(cal.getAllSubcomponents('vtimezone')).toEqual([]);
    return cal.getAllSubcomponents('vevent').map((v) => {
      expect(v.getFirstProperty('rrule')).toBeNull();
      expect(v.getFirstProperty('exdate')).toBeNull();
      return {
        summary: v.getFirstPropertyValue('summary'),
        start: v.getFirstProperty('dtstart')!.toICALString(),
        rid: v.getFirstProperty('recurrence-id')!.toICALString(),
        alarms: v.getAllSubcomponents('valarm').map((a) => String(a.getFirstPropertyValue('trigger'))),
      };
    });
  }

  it('calendar-query expands the series over March in UTC, across the DST change', async () => {
    const body = `<C:calendar-query xmlns:D="DAV:" xmlns:C="${CALDAV}">${expandProp('20260301T000000Z', '20260401T000000Z')}<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:time-range start="20260301T000000Z" end="20260401T000000Z"/></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>`;
    const [r] = multistatus(await report(body)).responses;
    const got = instances(r!.props.get(`${CALDAV}|calendar-data`)!.text);
    expect(got).toEqual([
      { summary: 'Choir', start: 'DTSTART:20260303T080000Z', rid: 'RECURRENCE-ID:20260303T080000Z', alarms: ['-PT15M'] },
      { summary: 'Choir (late)', start: 'DTSTART:20260317T100000Z', rid: 'RECURRENCE-ID:20260317T080000Z', alarms: ['-PT15M'] },
      { summary: 'Choir', start: 'DTSTART:20260324T080000Z', rid: 'RECURRENCE-ID:20260324T080000Z', alarms: ['-PT15M'] },
      { summary: 'Choir', start: 'DTSTART:20260331T070000Z', rid: 'RECURRENCE-ID:20260331T070000Z', alarms: ['-PT15M'] },
    ]);
    // The resource's ETag, not one of the expanded text.
    const get = await dav(server.url, 'GET', objectPath(anna, room, 'choir@x'), { user: anna });
    expect(r!.props.get(`${DAV}|getetag`)!.text).toBe(get.headers.get('etag'));
  });

  it('calendar-multiget expands too, and refuses a bad or too long range', async () => {
    const href = objectPath(anna, room, 'choir@x');
    const multiget = (prop: string) => report(`<C:calendar-multiget xmlns:D="DAV:" xmlns:C="${CALDAV}">${prop}<D:href>${href}</D:href></C:calendar-multiget>`);
    const [r] = multistatus(await multiget(expandProp('20260420T000000Z', '20260501T000000Z'))).responses;
    expect(instances(r!.props.get(`${CALDAV}|calendar-data`)!.text).map((i) => i.start)).toEqual(['DTSTART:20260421T070000Z']);
    expectDavError(await multiget(expandProp('20260401', '20260501T000000Z')), 400);
    expectDavError(await multiget(expandProp('20260501T000000Z', '20260401T000000Z')), 400);
    expectDavError(await multiget(expandProp('20260101T000000Z', '20280101T000000Z')), 400);
  });
});
