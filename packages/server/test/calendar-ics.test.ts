/**
 * ICS: the secret, revocable feed of a room (parsed back with ical.js, which expands it on its
 * own) and ICS import (round trip of the feed, de-duplication by UID, zones and overrides).
 */
import { Writable } from 'node:stream';
import ICAL from 'ical.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cancelOccurrence, editFollowing, editOccurrence } from '@kith/model';
import { calendarModule, defaultConfig, startKithServer, type KithServer } from '../src/index.js';
import { createLogger } from '../src/ops/logger.js';
import { apiClient } from './helpers/api.js';
import { expectError } from './helpers/http-assert.js';
import { makeDataDir, startTestServer, TEST_JWT_SECRET, type TestServer } from './helpers/server.js';

type User = Awaited<ReturnType<ReturnType<typeof apiClient>['signUp']>>;

let t: TestServer;
let api: ReturnType<typeof apiClient>;
let owner: User, editor: User, viewer: User, stranger: User;

beforeAll(async () => {
  t = await startTestServer();
  api = apiClient(t.url);
  [owner, editor, viewer, stranger] = (await Promise.all(['owner', 'editor', 'viewer', 'stranger'].map((p) => api.signUp(p)))) as [
    User,
    User,
    User,
    User,
  ];
});
afterAll(async () => {
  await t?.close();
});

const WINDOW = 'from=2026-01-01T00:00:00Z&to=2027-01-01T00:00:00Z&timeZone=Europe/Berlin';

async function post(roomId: string, body: Record<string, unknown>): Promise<string> {
  const res = await api.request('POST', `/rooms/${roomId}/events`, { token: owner.token, body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.eventId;
}

async function occurrences(roomId: string, query = WINDOW): Promise<any[]> {
  const res = await api.request('GET', `/rooms/${roomId}/events?${query}`, { token: owner.token });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.occurrences;
}

/** Occurrences without room-specific ids: what a person sees. */
const seen = (list: any[]) =>
  list
    .map((o) => {
      // Dates stay dates, floating times stay wall clocks; zoned times become instants.
      const at = (v: string) => (o.allDay ? v : o.timeZone === null ? v.slice(0, 19) : Date.parse(v));
      return [o.eventTitle, at(o.startTime), at(o.endTime), o.allDay];
    })
    .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));

async function importIcs(roomId: string, ics: string, token = owner.token) {
  return api.request('POST', `/rooms/${roomId}/import`, { token, rawBody: ics, headers: { 'content-type': 'text/calendar' } });
}

async function newFeed(roomId: string, token = owner.token): Promise<string> {
  const res = await api.request('POST', `/rooms/${roomId}/feed`, { token });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.url;
}

async function fetchFeed(url: string): Promise<{ status: number; text: string; type: string | null }> {
  const res = await fetch(url);
  return { status: res.status, text: await res.text(), type: res.headers.get('content-type') };
}

/** A room with every kind of event the feed must express. */
async function richRoom(): Promise<{ roomId: string; ids: Record<string, string> }> {
  const roomId = await api.createRoom(owner.token, 'Family, Inc; "Home"');
  const ids: Record<string, string> = {};
  ids.swim = await post(roomId, {
    eventTitle: 'Swim',
    startTime: '2026-03-03T17:00',
    endTime: '2026-03-03T18:00',
    timeZone: 'Europe/Berlin',
    location: 'Pool, lane 3',
    category: 'sport',
    recurrence: ['RRULE:FREQ=WEEKLY;BYDAY=TU;COUNT=8', 'EXDATE;TZID=Europe/Berlin:20260317T170000'],
  });
  ids.call = await post(roomId, {
    eventTitle: 'Call grandma',
    startTime: '2026-03-01T10:00',
    endTime: '2026-03-01T10:30',
    timeZone: 'America/New_York',
    recurrence: ['RRULE:FREQ=MONTHLY;BYMONTHDAY=1;UNTIL=20260801'],
  });
  ids.birthday = await post(roomId, { eventTitle: 'Birthday', startTime: '2026-04-10', endTime: '2026-04-11', recurrence: ['RRULE:FREQ=YEARLY'] });
  ids.trip = await post(roomId, { eventTitle: 'Trip', startTime: '2026-06-01', endTime: '2026-06-04', description: 'Line one\nLine two' });
  ids.pill = await post(roomId, { eventTitle: 'Pill', startTime: '2026-02-02T08:00', endTime: '2026-02-02T08:05', timeZone: null, recurrence: ['RRULE:FREQ=DAILY;COUNT=3'] });
  ids.dinner = await post(roomId, { eventTitle: 'Dinner', startTime: '2026-05-01T18:00:00Z', endTime: '2026-05-01T19:00:00Z' });
  ids.choir = await post(roomId, { eventTitle: 'Choir', startTime: '2026-09-07T19:00', endTime: '2026-09-07T21:00', timeZone: 'Europe/Berlin', recurrence: ['RRULE:FREQ=WEEKLY;COUNT=10'] });
  await t.server.sync.editRoom(roomId, (doc) => {
    const ctx = { actor: owner.userId };
    editOccurrence(doc, ids.swim!, '2026-03-24', { title: 'Swim gala', start: '2026-03-24T18:00', end: '2026-03-24T20:00' }, ctx);
    cancelOccurrence(doc, ids.swim!, '2026-04-07', ctx);
    editOccurrence(doc, ids.birthday!, '2027-04-10', { title: 'Big birthday' }, ctx);
    editOccurrence(doc, ids.birthday!, '2026-04-10', { title: 'Birthday party', start: '2026-04-11', end: '2026-04-12' }, ctx);
    // "This and following": from 5 Oct choir moves to 18:30 (two series in the feed).
    editFollowing(doc, ids.choir!, '2026-10-05', { start: '2026-10-05T18:30', end: '2026-10-05T20:30' }, ctx);
  });
  return { roomId, ids };
}

/** Whether an RRULE value parsed by ical.js is the rule written as `expected` (part order aside). */
const sameRule = (value: unknown, expected: string): boolean =>
  value instanceof ICAL.Recur && JSON.stringify(value.toJSON()) === JSON.stringify(ICAL.Recur.fromString(expected).toJSON());

/** Every VEVENT of an ICS text expanded by ical.js itself (VTIMEZONEs registered), within 2026. */
function expandWithIcalJs(ics: string): any[] {
  const cal = new ICAL.Component(ICAL.parse(ics));
  for (const vtz of cal.getAllSubcomponents('vtimezone')) ICAL.TimezoneService.register(vtz);
  const vevents = cal.getAllSubcomponents('vevent');
  const masters = vevents.filter((v) => !v.getFirstProperty('recurrence-id')).map((v) => new ICAL.Event(v));
  for (const ex of vevents.filter((v) => v.getFirstProperty('recurrence-id'))) {
    masters.find((m) => m.uid === ex.getFirstPropertyValue('uid'))!.relateException(ex);
  }
  const out: any[] = [];
  const end = ICAL.Time.fromDateTimeString('2027-01-01T00:00:00Z');
  for (const ev of masters) {
    const it = ev.iterator();
    for (let next = it.next(); next && next.compare(end) < 0; next = it.next()) {
      const d = ev.getOccurrenceDetails(next);
      const allDay = d.startDate.isDate;
      const at = (x: ICAL.Time) => (allDay ? x.toString().slice(0, 10) : x.zone?.tzid === 'floating' ? x.toString() : x.toUnixTime() * 1000);
      const sdate = at(d.startDate);
      const edate = at(d.endDate);
      if (typeof sdate === 'number' && sdate >= Date.parse('2027-01-01T00:00:00Z')) continue;
      out.push([d.item.summary, sdate, edate, allDay]);
      if (!ev.isRecurring()) break;
    }
  }
  return out.sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
}

describe('the ICS feed', () => {
  it('is RFC 5545 text/calendar that ical.js reads: NAME, COLOR, REFRESH-INTERVAL, VTIMEZONEs, RRULE/EXDATE/RECURRENCE-ID, all-day and floating', async () => {
    const { roomId, ids } = await richRoom();
    const url = await newFeed(roomId);
    expect(url).toMatch(new RegExp(`^${t.url}/feeds/[A-Za-z0-9_-]{43}\\.ics$`));
    const feed = await fetchFeed(url);
    expect(feed.status).toBe(200);
    expect(feed.type).toMatch(/^text\/calendar/);
    const text = feed.text;
    const cal = new ICAL.Component(ICAL.parse(text));
    expect(cal.getFirstPropertyValue('version')).toBe('2.0');
    // RFC 7986 NAME is TEXT: commas and semicolons escaped (ical.js keeps unknown properties raw).
    expect(cal.getFirstProperty('name')!.toICALString()).toBe('NAME:Family\\, Inc\\; "Home"');
    expect(typeof cal.getFirstPropertyValue('color')).toBe('string');
    expect(String(cal.getFirstPropertyValue('refresh-interval'))).toBe('PT1H');
    // A VTIMEZONE for every zone used, and none for UTC.
    expect(cal.getAllSubcomponents('vtimezone').map((z) => z.getFirstPropertyValue('tzid')).sort()).toEqual(['America/New_York', 'Europe/Berlin']);
    const vevents = cal.getAllSubcomponents('vevent');
    const byUid = (uid: string) => vevents.filter((v) => v.getFirstPropertyValue('uid') === uid);

    const [swim, gala] = byUid(`${ids.swim}@kith`);
    expect(swim!.getFirstProperty('dtstart')!.getParameter('tzid')).toBe('Europe/Berlin');
    expect(swim!.getFirstProperty('dtstart')!.toICALString()).toBe('DTSTART;TZID=Europe/Berlin:20260303T170000');
    expect(sameRule(swim!.getFirstPropertyValue('rrule'), 'FREQ=WEEKLY;BYDAY=TU;COUNT=8')).toBe(true);
    expect(swim!.getFirstProperty('exdate')!.toICALString()).toBe('EXDATE;TZID=Europe/Berlin:20260317T170000,20260407T170000');
    expect(swim!.getFirstPropertyValue('location')).toBe('Pool, lane 3');
    expect(gala!.getFirstProperty('recurrence-id')!.toICALString()).toBe('RECURRENCE-ID;TZID=Europe/Berlin:20260324T170000');
    expect(gala!.getFirstProperty('dtstart')!.toICALString()).toBe('DTSTART;TZID=Europe/Berlin:20260324T180000');
    expect(gala!.getFirstPropertyValue('summary')).toBe('Swim gala');

    // UNTIL is written in UTC for a zoned series.
    expect(sameRule(byUid(`${ids.call}@kith`)[0]!.getFirstPropertyValue('rrule'), 'FREQ=MONTHLY;BYMONTHDAY=1;UNTIL=20260802T035959Z')).toBe(true);

    const birthday = byUid(`${ids.birthday}@kith`);
    expect(birthday[0]!.getFirstProperty('dtstart')!.toICALString()).toBe('DTSTART;VALUE=DATE:20260410');
    expect(birthday[0]!.getFirstProperty('dtend')!.toICALString()).toBe('DTEND;VALUE=DATE:20260411');
    expect(birthday.slice(1).map((v) => v.getFirstProperty('recurrence-id')!.toICALString()).sort()).toEqual([
      'RECURRENCE-ID;VALUE=DATE:20260410',
      'RECURRENCE-ID;VALUE=DATE:20270410',
    ]);
    const trip = byUid(`${ids.trip}@kith`)[0]!;
    expect(trip.getFirstProperty('dtend')!.toICALString()).toBe('DTEND;VALUE=DATE:20260604');
    expect(trip.getFirstPropertyValue('description')).toBe('Line one\nLine two');
    const pill = byUid(`${ids.pill}@kith`)[0]!;
    expect(pill.getFirstProperty('dtstart')!.toICALString()).toBe('DTSTART:20260202T080000');
    expect(byUid(`${ids.dinner}@kith`)[0]!.getFirstProperty('dtstart')!.toICALString()).toBe('DTSTART:20260501T180000Z');

    // "This and following": two series with stable UIDs; the first ends with a divided COUNT.
    const choir = byUid(`${ids.choir}@kith`)[0]!;
    expect(sameRule(choir.getFirstPropertyValue('rrule'), 'FREQ=WEEKLY;COUNT=4')).toBe(true);
    const later = byUid(`${ids.choir}_2026-10-05@kith`)[0]!;
    expect(later.getFirstProperty('dtstart')!.toICALString()).toBe('DTSTART;TZID=Europe/Berlin:20261005T183000');
    expect(sameRule(later.getFirstPropertyValue('rrule'), 'FREQ=WEEKLY;COUNT=6')).toBe(true);

    for (const v of vevents) {
      expect(typeof v.getFirstPropertyValue('sequence')).toBe('number');
      expect(v.getFirstProperty('dtstamp')!.toICALString()).toMatch(/^DTSTAMP:\d{8}T\d{6}Z$/);
    }
    // ical.js, expanding the feed on its own, finds exactly the occurrences the server serves.
    expect(expandWithIcalJs(text)).toEqual(seen(await occurrences(roomId)));
  });

  it('keeps UIDs stable across fetches, raises SEQUENCE when an event changes, and answers 304 to an unchanged ETag', async () => {
    const roomId = await api.createRoom(owner.token, 'Seq');
    const id = await post(roomId, { eventTitle: 'Walk', startTime: '2026-05-01T10:00:00Z', endTime: '2026-05-01T11:00:00Z' });
    const url = await newFeed(roomId);
    const vevent = async () => new ICAL.Component(ICAL.parse((await fetchFeed(url)).text)).getFirstSubcomponent('vevent')!;
    const first = await vevent();
    expect(first.getFirstPropertyValue('uid')).toBe(`${id}@kith`);
    const etag = (await fetch(url)).headers.get('etag')!;
    expect((await fetch(url, { headers: { 'if-none-match': etag } })).status).toBe(304);
    await new Promise((r) => setTimeout(r, 1100));
    await api.request('PATCH', `/rooms/${roomId}/events/${id}`, { token: owner.token, body: { eventTitle: 'Long walk' } });
    const second = await vevent();
    expect(second.getFirstPropertyValue('uid')).toBe(`${id}@kith`);
    expect(second.getFirstPropertyValue('summary')).toBe('Long walk');
    expect(Number(second.getFirstPropertyValue('sequence'))).toBeGreaterThan(Number(first.getFirstPropertyValue('sequence')));
    expect((await fetch(url, { headers: { 'if-none-match': etag } })).status).toBe(200);
  });

  it('is built once per change of the room: polls in between are served as built, and every change shows at the next poll', async () => {
    const counter = async (name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec((await api.request('GET', '/metrics')).body)?.[1] ?? 0);
    const counts = async () => ({ builds: await counter('kith_feed_builds_total'), hits: await counter('kith_feed_cache_hits_total') });
    const roomId = await api.createRoom(owner.token, 'Polled');
    const id = await post(roomId, { eventTitle: 'Swim', startTime: '2026-05-01T10:00:00Z', endTime: '2026-05-01T11:00:00Z' });
    const url = await newFeed(roomId);
    const start = await counts();
    const first = await fetchFeed(url);
    expect(first.text).toContain('SUMMARY:Swim');
    // Five polls at once and five after: one build; the same text and ETag each time.
    const polls = await Promise.all(Array.from({ length: 5 }, () => fetch(url).then(async (r) => [await r.text(), r.headers.get('etag')])));
    for (let i = 0; i < 5; i++) polls.push([(await fetchFeed(url)).text, (await fetch(url)).headers.get('etag')]);
    expect(new Set(polls.map(([text]) => text))).toEqual(new Set([first.text]));
    expect(new Set(polls.map(([, etag]) => etag)).size).toBe(1);
    expect(await counts()).toEqual({ builds: start.builds + 1, hits: start.hits + 15 });

    await post(roomId, { eventTitle: 'Dentist', startTime: '2026-05-02T10:00:00Z', endTime: '2026-05-02T11:00:00Z' });
    const added = await fetchFeed(url);
    expect(added.text).toContain('SUMMARY:Dentist');
    await fetchFeed(url);
    expect(await counts()).toEqual({ builds: start.builds + 2, hits: start.hits + 16 });
    // A deletion too (a Yjs delete adds no struct, but it is a stored update: the log head moves).
    expect((await api.request('DELETE', `/rooms/${roomId}/events/${id}`, { token: owner.token })).status).toBe(204);
    const deleted = await fetchFeed(url);
    expect(deleted.text).not.toContain('SUMMARY:Swim');
    expect(deleted.text).toContain('SUMMARY:Dentist');
    expect((await counts()).builds).toBe(start.builds + 3);
  });

  it('rotating the feed makes the old URL answer 404; revoking makes the current one 404', async () => {
    const roomId = await api.createRoom(owner.token, 'Rotate');
    const first = await newFeed(roomId);
    expect((await fetchFeed(first)).status).toBe(200);
    expect((await api.request('GET', `/rooms/${roomId}/feed`, { token: owner.token })).body).toMatchObject({ active: true });
    const second = await newFeed(roomId);
    expect(second).not.toBe(first);
    const old = await api.request('GET', new URL(first).pathname);
    expectError(old, 404, 'FEED_NOT_FOUND');
    expect((await fetchFeed(second)).status).toBe(200);
    expect((await api.request('DELETE', `/rooms/${roomId}/feed`, { token: owner.token })).status).toBe(204);
    expectError(await api.request('GET', new URL(second).pathname), 404, 'FEED_NOT_FOUND');
    expect((await api.request('GET', `/rooms/${roomId}/feed`, { token: owner.token })).body).toEqual({ active: false, createdAt: null });
    expectError(await api.request('GET', '/feeds/not-a-token.ics'), 404, 'FEED_NOT_FOUND');
    expectError(await api.request('GET', '/feeds/whatever'), 404, 'FEED_NOT_FOUND');
  });

  it('only owners manage the feed: editors and viewers get 403, non-members 404', async () => {
    const roomId = await api.createRoom(owner.token, 'Owners only');
    await api.addMember(owner.token, roomId, editor.token, 'editor');
    await api.addMember(owner.token, roomId, viewer.token, 'viewer');
    for (const who of [editor, viewer]) {
      expectError(await api.request('POST', `/rooms/${roomId}/feed`, { token: who.token }), 403, 'FORBIDDEN');
      expectError(await api.request('DELETE', `/rooms/${roomId}/feed`, { token: who.token }), 403, 'FORBIDDEN');
    }
    expectError(await api.request('POST', `/rooms/${roomId}/feed`, { token: stranger.token }), 404, 'ROOM_NOT_FOUND');
    expectError(await api.request('POST', `/rooms/${roomId}/feed`), 401, 'UNAUTHENTICATED');
  });
});

describe('ICS import', () => {
  it('round-trips the feed: importing it into a new room gives the same occurrences', async () => {
    const { roomId } = await richRoom();
    const ics = (await fetchFeed(await newFeed(roomId))).text;
    const copy = await api.createRoom(owner.token, 'Copy');
    const res = await importIcs(copy, ics);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    // 7 events, the choir as two series.
    expect(res.body).toEqual({ imported: 8, updated: 0, unchanged: 0, skipped: 0, errors: [] });
    expect(seen(await occurrences(copy))).toEqual(seen(await occurrences(roomId)));
    expect(seen(await occurrences(copy, WINDOW.replace('Europe/Berlin', 'Pacific/Auckland')))).toEqual(
      seen(await occurrences(roomId, WINDOW.replace('Europe/Berlin', 'Pacific/Auckland'))),
    );
  });

  it('de-duplicates by UID: a re-import changes nothing, an edited file updates in place', async () => {
    const { roomId } = await richRoom();
    const ics = (await fetchFeed(await newFeed(roomId))).text;
    const copy = await api.createRoom(owner.token, 'Copy');
    expect((await importIcs(copy, ics)).body.imported).toBe(8);
    const before = await occurrences(copy);
    expect((await importIcs(copy, ics)).body).toEqual({ imported: 0, updated: 0, unchanged: 8, skipped: 0, errors: [] });
    expect(await occurrences(copy)).toEqual(before);
    const edited = ics.replace('SUMMARY:Dinner\r\n', 'SUMMARY:Dinner with friends\r\n');
    expect((await importIcs(copy, edited)).body).toMatchObject({ imported: 0, updated: 1, unchanged: 7 });
    const after = await occurrences(copy);
    expect(after).toHaveLength(before.length);
    expect(after.filter((o) => o.eventTitle === 'Dinner with friends')).toHaveLength(1);
    expect(after.filter((o) => o.eventTitle === 'Dinner')).toHaveLength(0);
  });

  it('reads Windows zone names, EXDATEs, RECURRENCE-ID overrides and cancellations, and reports what it cannot use', async () => {
    const room = await api.createRoom(owner.token, 'Outlook');
    const ics = [
      'BEGIN:VCALENDAR',
      'VERSION:2.0',
      'PRODID:-//Microsoft Corporation//Outlook 16.0 MIMEDIR//EN',
      'BEGIN:VTIMEZONE',
      'TZID:W. Europe Standard Time',
      'BEGIN:STANDARD',
      'DTSTART:16011028T030000',
      'RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10',
      'TZOFFSETFROM:+0200',
      'TZOFFSETTO:+0100',
      'END:STANDARD',
      'BEGIN:DAYLIGHT',
      'DTSTART:16010325T020000',
      'RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3',
      'TZOFFSETFROM:+0100',
      'TZOFFSETTO:+0200',
      'END:DAYLIGHT',
      'END:VTIMEZONE',
      'BEGIN:VEVENT',
      'UID:standup-1@example.com',
      'SUMMARY:Standup',
      'DTSTART;TZID=W. Europe Standard Time:20260302T090000',
      'DTEND;TZID=W. Europe Standard Time:20260302T091500',
      'RRULE:FREQ=DAILY;COUNT=5',
      'EXDATE;TZID=W. Europe Standard Time:20260303T090000',
      'END:VEVENT',
      'BEGIN:VEVENT',
      'UID:standup-1@example.com',
      'RECURRENCE-ID;TZID=W. Europe Standard Time:20260304T090000',
      'SUMMARY:Standup (late)',
      'DTSTART;TZID=W. Europe Standard Time:20260304T100000',
      'DTEND;TZID=W. Europe Standard Time:20260304T101500',
      'END:VEVENT',
      'BEGIN:VEVENT',
      'UID:standup-1@example.com',
      'RECURRENCE-ID:20260305T080000Z',
      'STATUS:CANCELLED',
      'DTSTART:20260305T080000Z',
      'END:VEVENT',
      'BEGIN:VEVENT',
      'UID:deadline@example.com',
      'SUMMARY:Tax deadline',
      'DTSTART:20260331T220000Z',
      'END:VEVENT',
      'BEGIN:VEVENT',
      'UID:bad-zone@example.com',
      'SUMMARY:Nowhere',
      'DTSTART;TZID=Mars Standard Time:20260301T090000',
      'DURATION:PT1H',
      'END:VEVENT',
      'BEGIN:VEVENT',
      'UID:hourly@example.com',
      'SUMMARY:Too often',
      'DTSTART:20260301T090000Z',
      'DTEND:20260301T091000Z',
      'RRULE:FREQ=HOURLY',
      'END:VEVENT',
      'END:VCALENDAR',
    ].join('\r\n');
    const res = await importIcs(room, ics);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ imported: 2, updated: 0, unchanged: 0, skipped: 0 });
    expect(res.body.errors.map((e: any) => [e.uid, e.code]).sort()).toEqual([
      ['bad-zone@example.com', 'UNKNOWN_TIME_ZONE'],
      ['hourly@example.com', 'INVALID_RECURRENCE'],
    ]);
    expect(res.body.errors.find((e: any) => e.uid === 'hourly@example.com').message).toMatch(/HOURLY/);
    const list = await occurrences(room, 'from=2026-03-01T00:00:00Z&to=2026-04-02T00:00:00Z&timeZone=Europe/Berlin');
    expect(list.map((o) => [o.eventTitle, o.startTime, o.endTime])).toEqual([
      ['Standup', '2026-03-02T09:00:00+01:00', '2026-03-02T09:15:00+01:00'],
      ['Standup (late)', '2026-03-04T10:00:00+01:00', '2026-03-04T10:15:00+01:00'],
      ['Standup', '2026-03-06T09:00:00+01:00', '2026-03-06T09:15:00+01:00'],
      // No DTEND or DURATION: it ends when it starts (RFC 5545 §3.6.1); this once asserted a padded minute.
      ['Tax deadline', '2026-03-31T22:00:00+00:00', '2026-03-31T22:00:00+00:00'],
    ]);
    expect(list[0].timeZone).toBe('Europe/Berlin');
  });

  it('a cancelled event in a re-import deletes the imported event', async () => {
    const room = await api.createRoom(owner.token, 'Cancel');
    const base = (status: string) =>
      ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//x//y//EN', 'BEGIN:VEVENT', 'UID:party@example.com', 'SUMMARY:Party',
        'DTSTART;VALUE=DATE:20260704', 'DTEND;VALUE=DATE:20260705', status, 'END:VEVENT', 'END:VCALENDAR'].join('\r\n');
    expect((await importIcs(room, base('STATUS:CONFIRMED'))).body).toMatchObject({ imported: 1 });
    expect((await importIcs(room, base('STATUS:CANCELLED'))).body).toMatchObject({ imported: 0, updated: 1 });
    expect(await occurrences(room)).toEqual([]);
    expect((await importIcs(room, base('STATUS:CANCELLED'))).body).toMatchObject({ skipped: 1 });
  });

  it('refuses viewers (403), non-members (404), other content types (415) and files that are not iCalendar (400)', async () => {
    const room = await api.createRoom(owner.token, 'Guarded');
    await api.addMember(owner.token, room, viewer.token, 'viewer');
    await api.addMember(owner.token, room, editor.token, 'editor');
    const ok = 'BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR';
    expectError(await importIcs(room, ok, viewer.token), 403, 'READ_ONLY');
    expectError(await importIcs(room, ok, stranger.token), 404, 'ROOM_NOT_FOUND');
    expectError(
      await api.request('POST', `/rooms/${room}/import`, { token: editor.token, rawBody: ok, headers: { 'content-type': 'text/plain' } }),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    );
    expectError(await api.request('POST', `/rooms/${room}/import`, { token: editor.token, body: { ics: ok } }), 415, 'UNSUPPORTED_MEDIA_TYPE');
    expectError(await importIcs(room, 'hello world', editor.token), 400, 'INVALID_ICALENDAR');
    expectError(await importIcs(room, 'BEGIN:VCARD\r\nEND:VCARD', editor.token), 400, 'INVALID_ICALENDAR');
    expect((await importIcs(room, ok, editor.token)).body).toEqual({ imported: 0, updated: 0, unchanged: 0, skipped: 0, errors: [] });
  });
});

describe('feed secrets and logs', () => {
  it('never writes a feed token to the log, even at debug level', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    let server: KithServer | undefined;
    try {
      server = await startKithServer(
        defaultConfig({ port: 0, host: '127.0.0.1', dataDir: await makeDataDir(), jwtSecret: TEST_JWT_SECRET, logLevel: 'debug', sqliteSynchronous: 'normal' }),
        { logger: createLogger('debug', sink), modules: [calendarModule()] },
      );
      const local = apiClient(server.url);
      const user = await local.signUp('logger');
      const roomId = await local.createRoom(user.token);
      const created = await local.request('POST', `/rooms/${roomId}/feed`, { token: user.token });
      const token = /\/feeds\/([^/]+)\.ics$/.exec(created.body.url)![1]!;
      expect((await fetch(created.body.url)).status).toBe(200);
      expect((await fetch(`${server.url}/feeds/${token}x.ics`)).status).toBe(404);
      await local.request('POST', `/rooms/${roomId}/feed`, { token: user.token });
      expect((await fetch(created.body.url)).status).toBe(404);
      const log = lines.join('');
      expect(log).toContain('/feeds/[redacted]');
      expect(log).not.toContain(token);
    } finally {
      await server?.close();
    }
  });
});
