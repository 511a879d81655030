/**
 * The calendar REST API over real HTTP, a real SQLite file and stock y-websocket clients:
 * events CRUD with the API's field names (eventTitle, startTime, …), recurrence lines, occurrence expansion, roles and errors.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cancelOccurrence, editOccurrence, getEvent, updateEvent } from '@kith/model';
import { apiClient } from './helpers/api.js';
import { expectError } from './helpers/http-assert.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { connectProvider, waitFor, waitForSynced } from './helpers/yjs-clients.js';

type User = Awaited<ReturnType<ReturnType<typeof apiClient>['signUp']>>;

let t: TestServer;
let api: ReturnType<typeof apiClient>;
let owner: User, editor: User, viewer: User, stranger: User;
let roomId: string;

beforeAll(async () => {
  t = await startTestServer();
  api = apiClient(t.url);
  [owner, editor, viewer, stranger] = (await Promise.all(['owner', 'editor', 'viewer', 'stranger'].map((p) => api.signUp(p)))) as [
    User,
    User,
    User,
    User,
  ];
  roomId = await api.createRoom(owner.token);
  await api.addMember(owner.token, roomId, editor.token, 'editor');
  await api.addMember(owner.token, roomId, viewer.token, 'viewer');
});
afterAll(async () => {
  await t?.close();
});

const events = (id = roomId) => `/rooms/${id}/events`;
const post = (token: string, body: unknown, id = roomId) => api.request('POST', events(id), { token, body });
const get = (token: string, eventId: string, id = roomId) => api.request('GET', `${events(id)}/${eventId}`, { token });
const patch = (token: string, eventId: string, body: unknown, id = roomId) =>
  api.request('PATCH', `${events(id)}/${eventId}`, { token, body });
const del = (token: string, eventId: string, id = roomId) => api.request('DELETE', `${events(id)}/${eventId}`, { token });
const window = (token: string, query: string, id = roomId) => api.request('GET', `${events(id)}?${query}`, { token });

const dinner = { eventTitle: 'Dinner', startTime: '2026-05-01T18:00:00Z', endTime: '2026-05-01T19:30:00Z', participants: ['kim', 'lee'] };

describe('events: create, read, change, delete', () => {
  it('creates an event from title, times and participants alone and answers it with its eventId (instants read in UTC)', async () => {
    const res = await post(editor.token, dinner);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      eventTitle: 'Dinner',
      startTime: '2026-05-01T18:00:00+00:00',
      endTime: '2026-05-01T19:30:00+00:00',
      participants: ['kim', 'lee'],
      timeZone: 'UTC',
      allDay: false,
      recurrence: [],
      createdBy: editor.userId,
    });
    expect(res.body.eventId).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.headers.get('location')).toBe(`/rooms/${roomId}/events/${res.body.eventId}`);
    const again = await get(viewer.token, res.body.eventId);
    expect(again.status).toBe(200);
    expect(again.body).toEqual(res.body);
  });

  it('reads instants with an offset in the given zone and answers times with that zone\'s offset', async () => {
    const res = await post(editor.token, {
      eventTitle: 'Swim',
      startTime: '2026-07-01T15:00:00Z',
      endTime: '2026-07-01T16:00:00Z',
      timeZone: 'Europe/Berlin',
      description: 'Bring towels',
      location: 'Pool',
      color: 'teal',
      category: 'sport',
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      startTime: '2026-07-01T17:00:00+02:00',
      endTime: '2026-07-01T18:00:00+02:00',
      timeZone: 'Europe/Berlin',
      description: 'Bring towels',
      location: 'Pool',
      color: 'teal',
      category: 'sport',
    });
  });

  it('takes wall-clock times in a zone, floating times (timeZone null) and all-day dates', async () => {
    const zoned = await post(editor.token, { eventTitle: 'School', startTime: '2026-01-12T08:00', endTime: '2026-01-12T13:00', timeZone: 'America/New_York' });
    expect(zoned.body).toMatchObject({ startTime: '2026-01-12T08:00:00-05:00', endTime: '2026-01-12T13:00:00-05:00' });
    const floating = await post(editor.token, { eventTitle: 'Pill', startTime: '2026-01-12T08:00', endTime: '2026-01-12T08:15', timeZone: null });
    expect(floating.body).toMatchObject({ startTime: '2026-01-12T08:00:00', endTime: '2026-01-12T08:15:00', timeZone: null });
    const allDay = await post(editor.token, { eventTitle: 'Trip', startTime: '2026-03-28', endTime: '2026-03-31' });
    expect(allDay.body).toMatchObject({ startTime: '2026-03-28', endTime: '2026-03-31', allDay: true, timeZone: null });
  });

  it('PATCH changes only the fields given: startTime alone moves the event and keeps its length', async () => {
    const created = await post(editor.token, dinner);
    const moved = await patch(owner.token, created.body.eventId, { startTime: '2026-05-02T17:00:00Z', eventTitle: 'Late dinner' });
    expect(moved.status).toBe(200);
    expect(moved.body).toMatchObject({
      eventId: created.body.eventId,
      eventTitle: 'Late dinner',
      startTime: '2026-05-02T17:00:00+00:00',
      endTime: '2026-05-02T18:30:00+00:00',
      participants: ['kim', 'lee'],
      updatedBy: owner.userId,
    });
    const resized = await patch(editor.token, created.body.eventId, { endTime: '2026-05-02T20:00:00Z', participants: ['kim'] });
    expect(resized.body).toMatchObject({ startTime: '2026-05-02T17:00:00+00:00', endTime: '2026-05-02T20:00:00+00:00', participants: ['kim'] });
    expect((await get(viewer.token, created.body.eventId)).body).toEqual(resized.body);
  });

  it('PATCH can turn a timed event into an all-day one and give a series a recurrence', async () => {
    const created = await post(editor.token, dinner);
    const allDay = await patch(editor.token, created.body.eventId, { allDay: true });
    expect(allDay.body).toMatchObject({ allDay: true, startTime: '2026-05-01', endTime: '2026-05-02' });
    const series = await patch(editor.token, created.body.eventId, { recurrence: ['RRULE:FREQ=YEARLY'] });
    expect(series.body.recurrence).toEqual(['RRULE:FREQ=YEARLY']);
  });

  it('DELETE moves the event out of view: GET and PATCH answer 404 after it, and so does a second DELETE', async () => {
    const created = await post(editor.token, dinner);
    const res = await del(editor.token, created.body.eventId);
    expect(res.status).toBe(204);
    expectError(await get(editor.token, created.body.eventId), 404, 'EVENT_NOT_FOUND');
    expectError(await patch(editor.token, created.body.eventId, { eventTitle: 'x' }), 404, 'EVENT_NOT_FOUND');
    expectError(await del(editor.token, created.body.eventId), 404, 'EVENT_NOT_FOUND');
  });

  it('answers 404 EVENT_NOT_FOUND for an unknown event id on GET, PATCH and DELETE', async () => {
    expectError(await get(owner.token, 'no-such-event'), 404, 'EVENT_NOT_FOUND');
    expectError(await patch(owner.token, 'no-such-event', { eventTitle: 'x' }), 404, 'EVENT_NOT_FOUND');
    expectError(await del(owner.token, 'no-such-event'), 404, 'EVENT_NOT_FOUND');
  });

  it('a REST write is stored and reaches a stock y-websocket client of the room', async () => {
    const yjs = connectProvider(t.wsUrl, roomId, viewer.token);
    await waitForSynced(yjs.provider);
    const created = await post(editor.token, { ...dinner, eventTitle: 'Seen by Yjs' });
    await waitFor(() => getEvent(yjs.doc, created.body.eventId)?.title === 'Seen by Yjs', 5000, 'Yjs client sees REST create');
    yjs.provider.destroy();
  });
});

describe('roles and membership', () => {
  it('viewers can read events and occurrences but every write answers 403 READ_ONLY', async () => {
    const created = await post(editor.token, dinner);
    expect((await get(viewer.token, created.body.eventId)).status).toBe(200);
    expect((await window(viewer.token, 'from=2026-05-01T00:00:00Z&to=2026-05-02T00:00:00Z')).status).toBe(200);
    expectError(await post(viewer.token, dinner), 403, 'READ_ONLY');
    expectError(await patch(viewer.token, created.body.eventId, { eventTitle: 'x' }), 403, 'READ_ONLY');
    expectError(await del(viewer.token, created.body.eventId), 403, 'READ_ONLY');
    expect((await get(owner.token, created.body.eventId)).body.eventTitle).toBe('Dinner');
  });

  it('non-members get 404 ROOM_NOT_FOUND on every endpoint, as for a room that does not exist', async () => {
    const created = await post(editor.token, dinner);
    const id = created.body.eventId;
    for (const res of [
      await post(stranger.token, dinner),
      await get(stranger.token, id),
      await patch(stranger.token, id, { eventTitle: 'x' }),
      await del(stranger.token, id),
      await window(stranger.token, 'from=2026-05-01T00:00:00Z&to=2026-05-02T00:00:00Z'),
      await get(owner.token, id, 'no-such-room'),
    ]) {
      expectError(res, 404, 'ROOM_NOT_FOUND');
    }
  });

  it('answers 401 without a token, before looking at the body', async () => {
    expectError(await api.request('POST', events(), { body: { nonsense: true } }), 401, 'UNAUTHENTICATED');
    expectError(await api.request('GET', `${events()}?from=x&to=y`), 401, 'UNAUTHENTICATED');
  });
});

describe('validation: 400 with a catalogue code and a message naming the field', () => {
  const cases: Array<[string, Record<string, unknown>, number, string, RegExp]> = [
    ['a missing eventTitle', { startTime: dinner.startTime, endTime: dinner.endTime }, 400, 'VALIDATION_FAILED', /eventTitle/],
    ['a wrongly typed participants', { ...dinner, participants: 'kim' }, 400, 'VALIDATION_FAILED', /participants/],
    ['an unknown field', { ...dinner, colour: 'red' }, 400, 'VALIDATION_FAILED', /colour/],
    ['an eventTitle over the limit', { ...dinner, eventTitle: 'x'.repeat(201) }, 400, 'FIELD_TOO_LONG', /^eventTitle/],
    ['an unreadable startTime', { ...dinner, startTime: 'tomorrow' }, 400, 'INVALID_DATE', /^startTime/],
    ['an end before the start', { ...dinner, endTime: '2026-05-01T17:00:00Z' }, 400, 'END_BEFORE_START', /^endTime/],
    ['an unknown zone', { ...dinner, timeZone: 'Mars/Olympus' }, 400, 'UNKNOWN_TIME_ZONE', /^timeZone/],
    ['a wall clock without a zone', { ...dinner, startTime: '2026-05-01T18:00', endTime: '2026-05-01T19:00' }, 400, 'VALIDATION_FAILED', /^timeZone/],
    ['an invalid RRULE', { ...dinner, recurrence: ['RRULE:FREQ=HOURLY'] }, 400, 'INVALID_RECURRENCE', /^recurrence/],
    ['an unsupported recurrence line', { ...dinner, recurrence: ['EXRULE:FREQ=DAILY'] }, 400, 'INVALID_RECURRENCE', /recurrence\[0\]/],
    ['a date-time for an all-day event', { ...dinner, allDay: true }, 400, 'INVALID_DATE', /^startTime/],
    ['too many participants', { ...dinner, participants: Array.from({ length: 101 }, (_, i) => `p${i}`) }, 400, 'TOO_MANY_ITEMS', /^participants/],
  ];
  for (const [what, body, status, code, message] of cases) {
    it(`refuses ${what} (${code})`, async () => {
      expectError(await post(editor.token, body), status, code as never, message);
    });
  }

  it('refuses EXDATE/RDATE values that cannot be read or name no real day with 400 INVALID_RECURRENCE, on POST and PATCH', async () => {
    const series = { ...dinner, timeZone: 'Europe/Paris', recurrence: ['RRULE:FREQ=DAILY;COUNT=10'] };
    const created = await post(editor.token, series);
    expect(created.status).toBe(201);
    const bad = [
      'EXDATE:20260503', // a date without VALUE=DATE: ical.js reads it as a date-time and fails
      'EXDATE:',
      'RDATE:20260503T9',
      'RDATE;VALUE=PERIOD:20260503T090000Z/',
      'EXDATE;VALUE=DATE:20260230', // was stored as 2 March
      'EXDATE:00000000T000000Z',
    ];
    for (const line of bad) {
      const recurrence = ['RRULE:FREQ=DAILY;COUNT=10', line];
      expectError(await post(editor.token, { ...series, recurrence }), 400, 'INVALID_RECURRENCE', /^recurrence/);
      expectError(await patch(editor.token, created.body.eventId, { recurrence }), 400, 'INVALID_RECURRENCE', /^recurrence/);
    }
    expect((await get(editor.token, created.body.eventId)).body.recurrence).toEqual(['RRULE:FREQ=DAILY;COUNT=10']);
  });

  it('refuses times outside the years 0001 to 9999, after an offset, in the event\'s zone or at the end, with 400 INVALID_DATE naming the field', async () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      // 00:30 at +01:00 is 23:30 on 31 December of year 0000 in UTC (was stored and fed as 00001231T233000Z).
      [{ startTime: '0001-01-01T00:30:00+01:00', endTime: '0001-01-01T01:30:00+01:00' }, /^startTime/],
      [{ startTime: '9999-12-31T23:00:00-01:00', endTime: '9999-12-31T23:30:00-01:00' }, /^startTime/],
      // In the event's own zone: year 0000 in New York, year 10000 in Kiritimati.
      [{ startTime: '0001-01-01T00:30:00Z', endTime: '0001-01-01T01:30:00Z', timeZone: 'America/New_York' }, /^startTime/],
      [{ startTime: '9999-12-31T20:00:00Z', endTime: '9999-12-31T21:00:00Z', timeZone: 'UTC', endTimeZone: 'Pacific/Kiritimati' }, /^endTime/],
      // Wall clocks and dates in year 0000, and walls whose instant is outside (was stored).
      [{ startTime: '0000-06-01T09:00', endTime: '0000-06-01T10:00', timeZone: 'UTC' }, /^startTime/],
      [{ startTime: '0000-12-31', endTime: '0001-01-01' }, /^startTime/],
      [{ startTime: '0001-01-01T01:00', endTime: '0001-01-01T02:00', timeZone: 'Asia/Tokyo' }, /^startTime/],
      [{ startTime: '9999-12-31T22:00', endTime: '9999-12-31T23:00', timeZone: 'America/New_York' }, /^startTime/],
    ];
    for (const [times, field] of cases) expectError(await post(editor.token, { eventTitle: 'Edge', ...times }), 400, 'INVALID_DATE', field);
    // Recurrence values outside: the recurrence's own code, naming the line.
    for (const line of ['EXDATE;TZID=Asia/Tokyo:00010101T010000', 'RDATE;VALUE=DATE:00001231', 'RDATE;TZID=America/New_York:99991231T230000']) {
      const res = await post(editor.token, { eventTitle: 'Edge', startTime: '2026-01-01T09:00:00Z', endTime: '2026-01-01T10:00:00Z', recurrence: ['RRULE:FREQ=DAILY', line] });
      expectError(res, 400, 'INVALID_RECURRENCE', /^recurrence: recurrence\[1\] has a date out of range/);
    }
    // The edges themselves are fine.
    expect((await post(editor.token, { eventTitle: 'First', startTime: '0001-01-01T00:00:00Z', endTime: '0001-01-01T01:00:00Z' })).status).toBe(201);
    expect((await post(editor.token, { eventTitle: 'Last', startTime: '9999-12-30', endTime: '9999-12-31' })).status).toBe(201);

    // PATCH: a move whose end crosses 9999, a zone that puts the start in year 0000 in UTC.
    const early = await post(editor.token, { eventTitle: 'Early', startTime: '0001-01-01T05:00', endTime: '0001-01-01T06:00', timeZone: 'UTC' });
    expect(early.status).toBe(201);
    expectError(await patch(editor.token, early.body.eventId, { timeZone: 'Asia/Tokyo' }), 400, 'INVALID_DATE', /^startTime/);
    expectError(await patch(editor.token, early.body.eventId, { startTime: '9999-12-31T23:30' }), 400, 'INVALID_DATE', /^endTime/);
    expectError(await patch(editor.token, early.body.eventId, { startTime: '0001-01-01T00:30:00+01:00' }), 400, 'INVALID_DATE', /^startTime/);
    expect((await get(editor.token, early.body.eventId)).body).toMatchObject({ startTime: '0001-01-01T05:00:00+00:00', timeZone: 'UTC' });
  });

  it('refuses an empty PATCH and a PATCH whose new end is before the start', async () => {
    const created = await post(editor.token, dinner);
    expectError(await patch(editor.token, created.body.eventId, {}), 400, 'VALIDATION_FAILED');
    expectError(await patch(editor.token, created.body.eventId, { endTime: '2026-04-30T10:00:00Z' }), 400, 'END_BEFORE_START', /^endTime/);
    expect((await get(editor.token, created.body.eventId)).body.endTime).toBe('2026-05-01T19:30:00+00:00');
  });

  it('the occurrence query requires from and to, and checks them and the zone', async () => {
    expectError(await window(editor.token, 'to=2026-05-02T00:00:00Z'), 400, 'VALIDATION_FAILED', /from/);
    expectError(await window(editor.token, 'from=2026-05-02T00:00:00Z'), 400, 'VALIDATION_FAILED', /to/);
    expectError(await window(editor.token, 'from=soon&to=2026-05-02T00:00:00Z'), 400, 'INVALID_DATE', /^from/);
    expectError(await window(editor.token, 'from=2026-05-02T00:00:00Z&to=2026-05-01T00:00:00Z'), 400, 'END_BEFORE_START', /^to/);
    expectError(await window(editor.token, 'from=2026-05-01&to=2026-05-02&timeZone=Nowhere/City'), 400, 'UNKNOWN_TIME_ZONE', /timeZone/);
    expectError(await window(editor.token, 'from=2020-01-01&to=2030-01-01'), 400, 'WINDOW_TOO_LARGE', /^to/);
  });
});

describe('occurrences: recurrence expanded in a window', () => {
  it('a weekly series with an EXDATE, a cancelled and an edited occurrence expands to the right occurrences', async () => {
    const room = await api.createRoom(owner.token, 'Swimming');
    const created = await post(
      owner.token,
      {
        eventTitle: 'Swim',
        startTime: '2026-03-03T17:00',
        endTime: '2026-03-03T18:00',
        timeZone: 'Europe/Berlin',
        recurrence: ['RRULE:FREQ=WEEKLY;BYDAY=TU;COUNT=6', 'EXDATE;TZID=Europe/Berlin:20260317T170000'],
      },
      room,
    );
    expect(created.status).toBe(201);
    expect(created.body.recurrence).toEqual(['RRULE:FREQ=WEEKLY;BYDAY=TU;COUNT=6', 'EXDATE;TZID=Europe/Berlin:20260317T170000']);
    const id = created.body.eventId;
    // Per-occurrence edits come from clients through the model; a stock Yjs client makes them here.
    const yjs = connectProvider(t.wsUrl, room, owner.token);
    await waitForSynced(yjs.provider);
    editOccurrence(yjs.doc, id, '2026-03-24', { title: 'Swim gala', start: '2026-03-24T18:00', end: '2026-03-24T20:00' }, { actor: owner.userId });
    cancelOccurrence(yjs.doc, id, '2026-03-31', { actor: owner.userId });
    await waitFor(() => yjs.provider.synced, 5000);
    let res = await window(owner.token, 'from=2026-03-01T00:00:00Z&to=2026-04-30T00:00:00Z&timeZone=Europe/Berlin', room);
    for (let i = 0; i < 50 && res.body.occurrences.length !== 4; i++) {
      await new Promise((r) => setTimeout(r, 20));
      res = await window(owner.token, 'from=2026-03-01T00:00:00Z&to=2026-04-30T00:00:00Z&timeZone=Europe/Berlin', room);
    }
    expect(res.status).toBe(200);
    const seen = res.body.occurrences.map((o: any) => [o.occKey, o.eventTitle, o.startTime, o.endTime, o.overridden]);
    // COUNT=6 counts 3, 10, 17 (exdated), 24 (moved), 31 (cancelled), 7 Apr; the clocks change on 29 March.
    expect(seen).toEqual([
      ['2026-03-03', 'Swim', '2026-03-03T17:00:00+01:00', '2026-03-03T18:00:00+01:00', false],
      ['2026-03-10', 'Swim', '2026-03-10T17:00:00+01:00', '2026-03-10T18:00:00+01:00', false],
      ['2026-03-24', 'Swim gala', '2026-03-24T18:00:00+01:00', '2026-03-24T20:00:00+01:00', true],
      ['2026-04-07', 'Swim', '2026-04-07T17:00:00+02:00', '2026-04-07T18:00:00+02:00', false],
    ]);
    expect(res.body.occurrences.every((o: any) => o.eventId === id && o.recurring === true)).toBe(true);
    expect(res.body.occurrences[2].originalStart).toBe('2026-03-24T17:00');
    // A narrower window, given as dates in the viewer's zone.
    const one = await window(owner.token, 'from=2026-03-10&to=2026-03-11&timeZone=Europe/Berlin', room);
    expect(one.body.occurrences.map((o: any) => o.occKey)).toEqual(['2026-03-10']);
    yjs.provider.destroy();
  });

  it('all-day and floating events are placed in the viewer\'s zone; trashed events do not show', async () => {
    const room = await api.createRoom(owner.token, 'Zones');
    await post(owner.token, { eventTitle: 'Holiday', startTime: '2026-06-01', endTime: '2026-06-02' }, room);
    await post(owner.token, { eventTitle: 'Pill', startTime: '2026-06-01T08:00', endTime: '2026-06-01T08:15', timeZone: null }, room);
    const gone = await post(owner.token, { ...dinner, startTime: '2026-06-01T10:00:00Z', endTime: '2026-06-01T11:00:00Z' }, room);
    await del(owner.token, gone.body.eventId, room);
    const tokyo = await window(owner.token, 'from=2026-06-01&to=2026-06-02&timeZone=Asia/Tokyo', room);
    expect(tokyo.body.occurrences.map((o: any) => [o.eventTitle, o.startTime, o.endTime])).toEqual([
      ['Holiday', '2026-06-01', '2026-06-02'],
      ['Pill', '2026-06-01T08:00:00+09:00', '2026-06-01T08:15:00+09:00'],
    ]);
    const ny = await window(owner.token, 'from=2026-06-01&to=2026-06-02&timeZone=America/New_York', room);
    expect(ny.body.occurrences.find((o: any) => o.eventTitle === 'Pill').startTime).toBe('2026-06-01T08:00:00-04:00');
  });

  it('a change made by a Yjs client shows in the next REST read', async () => {
    const room = await api.createRoom(owner.token, 'Yjs to REST');
    const created = await post(owner.token, dinner, room);
    const yjs = connectProvider(t.wsUrl, room, owner.token);
    await waitForSynced(yjs.provider);
    updateEvent(yjs.doc, created.body.eventId, { title: 'Renamed offline' }, { actor: owner.userId });
    let seen = '';
    for (let i = 0; i < 100 && seen !== 'Renamed offline'; i++) {
      seen = (await get(owner.token, created.body.eventId, room)).body.eventTitle;
      if (seen !== 'Renamed offline') await new Promise((r) => setTimeout(r, 20));
    }
    expect(seen).toBe('Renamed offline');
    yjs.provider.destroy();
  });
});
