/**
 * The one iCalendar mapping import and feed share (issue 13): UIDs persist and round-trip, one bad
 * property or VEVENT does not refuse the file, an all-day override of a timed series is reported,
 * text after END:VCALENDAR is ignored, DTSTART alone follows RFC 5545 §3.6.1, and a room made over
 * REST has its document header. All through the real routes over loopback.
 */
import ICAL from 'ical.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SCHEMA_VERSION } from '@kith/model';
import { apiClient } from './helpers/api.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { readStoredDoc } from './helpers/stored-doc.js';

let t: TestServer;
let api: ReturnType<typeof apiClient>;
let token: string;

beforeAll(async () => {
  t = await startTestServer();
  api = apiClient(t.url);
  token = (await api.signUp('mapper')).token;
});
afterAll(async () => {
  await t?.close();
});

const cal = (...lines: string[]) => ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//test//EN', ...lines, 'END:VCALENDAR'].join('\r\n') + '\r\n';
const vevent = (...lines: string[]) => ['BEGIN:VEVENT', 'DTSTAMP:20260101T000000Z', ...lines, 'END:VEVENT'];

const importIcs = (roomId: string, ics: string) =>
  api.request('POST', `/rooms/${roomId}/import`, { token, rawBody: ics, headers: { 'content-type': 'text/calendar' } });

async function feedOf(roomId: string): Promise<string> {
  const res = await api.request('POST', `/rooms/${roomId}/feed`, { token });
  expect(res.status).toBe(201);
  return (await fetch(res.body.url)).text();
}

const vevents = (ics: string) => new ICAL.Component(ICAL.parse(ics)).getAllSubcomponents('vevent');

async function occurrences(roomId: string): Promise<any[]> {
  const res = await api.request('GET', `/rooms/${roomId}/events?from=2026-01-01T00:00:00Z&to=2027-01-01T00:00:00Z&timeZone=UTC`, { token });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.occurrences;
}

describe('UIDs', () => {
  it('keeps an imported UID in the feed, and a room re-importing its own feed changes nothing', async () => {
    const roomId = await api.createRoom(token, 'UIDs');
    const made = await api.request('POST', `/rooms/${roomId}/events`, {
      token,
      body: { eventTitle: 'Made here', startTime: '2026-05-01T18:00:00Z', endTime: '2026-05-01T19:00:00Z' },
    });
    expect(made.status).toBe(201);
    const first = await importIcs(
      roomId,
      cal(
        ...vevent('UID:040000008200E00074C5B7101A82E008-outlook', 'SUMMARY:From Outlook', 'DTSTART:20260502T090000Z', 'DTEND:20260502T100000Z'),
        ...vevent('UID:weekly;with,commas@example.com', 'SUMMARY:Weekly', 'DTSTART;TZID=Europe/Berlin:20260504T090000', 'DTEND;TZID=Europe/Berlin:20260504T100000', 'RRULE:FREQ=WEEKLY;COUNT=4'),
      ),
    );
    expect(first.body).toMatchObject({ imported: 2, errors: [] });

    const feed = await feedOf(roomId);
    const uids = vevents(feed).map((v) => v.getFirstPropertyValue('uid')).sort();
    expect(uids).toEqual(['040000008200E00074C5B7101A82E008-outlook', `${made.body.eventId}@kith`, 'weekly;with,commas@example.com']);

    const again = await importIcs(roomId, feed);
    expect(again.body).toEqual({ imported: 0, updated: 0, unchanged: 3, skipped: 0, errors: [] });
    expect(await occurrences(roomId)).toHaveLength(6);
  });
});

describe('one component at a time', () => {
  it('imports the good events of a file with bad ones and names each bad one with its UID', async () => {
    const roomId = await api.createRoom(token, 'Liberal');
    const res = await importIcs(
      roomId,
      cal(
        ...vevent('UID:good@x', 'SUMMARY:Good', 'DTSTART:20260601T090000Z', 'DTEND:20260601T100000Z'),
        // Exchange writes blanks in lists; other clients read them.
        ...vevent('UID:exchange@x', 'SUMMARY:Weekdays', 'DTSTART:20260601T080000Z', 'DTEND:20260601T083000Z', 'RRULE:FREQ=DAILY;COUNT=3;BYDAY=MO, TU'),
        // An ORGANIZER with no value is ignored, not a reason to refuse anything.
        ...vevent('UID:sixt@x', 'SUMMARY:Car', 'ORGANIZER;CN=Sixt SE', 'DTSTART:20260602T090000Z', 'DTEND:20260602T100000Z'),
        ...vevent('UID:bad-start@x', 'SUMMARY:Bad', 'DTSTART;VALUE=DATE:2026-13-45x'),
        ...vevent('UID:no-start@x', 'SUMMARY:No start'),
      ),
    );
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.imported).toBe(3);
    const byUid = Object.fromEntries(res.body.errors.map((e: any) => [e.uid, e]));
    expect(Object.keys(byUid).sort()).toEqual(['bad-start@x', 'no-start@x']);
    for (const e of res.body.errors) expect(e.message).not.toMatch(/TypeError|undefined|Cannot read/);
    const titles = (await occurrences(roomId)).map((o) => o.eventTitle).sort();
    // COUNT=3 on Mondays and Tuesdays from Monday 1 June: the 1st, 2nd and 8th.
    expect(titles).toEqual(['Car', 'Good', 'Weekdays', 'Weekdays', 'Weekdays']);
  });

  it('ignores text after END:VCALENDAR and never shows an internal error', async () => {
    const roomId = await api.createRoom(token, 'Trailer');
    const ics = cal(...vevent('UID:trail@x', 'SUMMARY:Kept', 'DTSTART:20260601T090000Z', 'DTEND:20260601T100000Z')) + 'X-COMMENT:Cached from 2022-02-20\r\n';
    const res = await importIcs(roomId, ics);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ imported: 1, errors: [] });

    const junk = await importIcs(roomId, 'BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\n\u0000garbage\r\n');
    expect(junk.status).toBeGreaterThanOrEqual(400);
    expect(junk.status).toBeLessThan(500);
    expect(JSON.stringify(junk.body)).not.toMatch(/TypeError|Cannot read|undefined/);
  });
});

describe('overrides and lengths', () => {
  it('reports an all-day override of one occurrence of a timed series instead of claiming success', async () => {
    const roomId = await api.createRoom(token, 'Override');
    const res = await importIcs(
      roomId,
      cal(
        ...vevent('UID:series@x', 'SUMMARY:Standup', 'DTSTART:20260601T090000Z', 'DTEND:20260601T091500Z', 'RRULE:FREQ=DAILY;COUNT=3'),
        ...vevent('UID:series@x', 'RECURRENCE-ID:20260602T090000Z', 'SUMMARY:Offsite', 'DTSTART;VALUE=DATE:20260602', 'DTEND;VALUE=DATE:20260603'),
      ),
    );
    expect(res.status).toBe(200);
    expect(res.body.imported).toBe(1);
    expect(res.body.errors).toEqual([expect.objectContaining({ uid: 'series@x', code: 'UNSUPPORTED_OVERRIDE' })]);
    expect(res.body.errors[0].message).toMatch(/all-day/);
    // What could be applied is: the title of that occurrence.
    expect((await occurrences(roomId)).map((o) => o.eventTitle)).toEqual(['Standup', 'Offsite', 'Standup']);
  });

  it('ends a DTSTART-only timed event when it starts and a date one a day later, in import and feed', async () => {
    const roomId = await api.createRoom(token, 'Lengths');
    const res = await importIcs(
      roomId,
      cal(
        ...vevent('UID:deadline@x', 'SUMMARY:Deadline', 'DTSTART:20260701T120000Z'),
        ...vevent('UID:day@x', 'SUMMARY:Holiday', 'DTSTART;VALUE=DATE:20260702'),
      ),
    );
    expect(res.body).toMatchObject({ imported: 2, errors: [] });
    const list = await occurrences(roomId);
    const deadline = list.find((o) => o.eventTitle === 'Deadline');
    expect(Date.parse(deadline.endTime)).toBe(Date.parse(deadline.startTime));
    const day = list.find((o) => o.eventTitle === 'Holiday');
    expect([day.startTime.slice(0, 10), day.endTime.slice(0, 10), day.allDay]).toEqual(['2026-07-02', '2026-07-03', true]);

    const byUid = Object.fromEntries(vevents(await feedOf(roomId)).map((v) => [v.getFirstPropertyValue('uid'), v]));
    const d = byUid['deadline@x']!;
    const end = d.getFirstPropertyValue('dtend') as ICAL.Time | null;
    expect(end === null || end.compare(d.getFirstPropertyValue('dtstart') as ICAL.Time) === 0).toBe(true);
    expect(String(byUid['day@x']!.getFirstPropertyValue('dtend'))).toBe('2026-07-03');
  });
});

describe('rooms created over REST', () => {
  it('have the document header a client writes: schema version and name', async () => {
    const roomId = await api.createRoom(token, 'Made over REST');
    const room = readStoredDoc(t.dataDir, roomId).getMap('room');
    expect(room.get('schema')).toBe(SCHEMA_VERSION);
    expect(room.get('name')).toBe('Made over REST');
  });
});
