/**
 * Event colours between Kith and Google: the pure mapping (nearest of Google's 11 colours, stable round
 * trips), then both directions through the mirror against the fake, which validates colorId as Google does.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEvent, editOccurrence, getEvent, resetOccurrence, updateEvent } from '@kith/model';
import { GOOGLE_EVENT_COLORS, googleColorId, kithColor, parseColor, validColorId } from '../src/colors.js';
import { googleIdFor } from '../src/runner.js';
import { CLIENT_ID, diff, edit, GOOGLE_USER, googleWrites, linkedRoom, me, startRig, type Rig } from './helpers.js';

describe('colour mapping', () => {
  it('maps each of Google\'s 11 colours to itself, so a colour from Google comes back unchanged', () => {
    expect(Object.keys(GOOGLE_EVENT_COLORS)).toEqual(['1', '2', '3', '4', '5', '6', '7', '8', '9', '10', '11']);
    for (const id of Object.keys(GOOGLE_EVENT_COLORS)) {
      expect(googleColorId(kithColor(id))).toBe(id);
      expect(validColorId(id)).toBe(id);
    }
  });

  it('sends a Kith colour (hex or CSS name) as the Google colour of the nearest hue and lightness', () => {
    const cases: Array<[string, string]> = [
      ['red', '11'],
      ['#f00', '11'],
      ['brown', '11'],
      ['hotpink', '4'],
      ['pink', '4'],
      ['darkorange', '6'],
      ['goldenrod', '5'],
      ['yellow', '5'],
      ['green', '10'],
      ['seagreen', '2'],
      ['teal', '7'],
      ['steelblue', '9'],
      ['#4682B4', '9'],
      ['navy', '9'],
      ['cornflowerblue', '9'],
      ['lightsteelblue', '1'],
      ['purple', '3'],
      ['mediumpurple', '3'],
      ['black', '8'],
      ['white', '8'],
      ['Gray', '8'],
      [' #808080 ', '8'],
    ];
    expect(cases.map(([c]) => [c, googleColorId(c)])).toEqual(cases);
  });

  it('leaves out what it cannot read, and takes only colorIds Google defines', () => {
    for (const c of [null, undefined, '', 'family red', '#12345', '#ggg', 'rgb(1,2,3)']) expect(googleColorId(c)).toBeUndefined();
    expect(parseColor('RebeccaPurple')).toEqual([0x66, 0x33, 0x99]);
    for (const v of ['0', '12', '1.0', ' 1', 1, null, undefined, 'toString']) expect(validColorId(v)).toBeUndefined();
    expect(kithColor(undefined)).toBeNull();
  });
});

describe('colours through the mirror', () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await startRig();
  });
  afterAll(async () => {
    await rig?.close();
  });

  const colorOf = (roomId: string, id: string) => rig.kith.sync.readRoom(roomId, (doc) => getEvent(doc, id)?.color);

  it('a Kith colour reaches Google as the nearest colorId and stays as it is in Kith (no flapping)', async () => {
    const { roomId, calendarId } = await linkedRoom(rig);
    const ids = await edit(rig, roomId, (doc) => ({
      blue: createEvent(doc, { title: 'Swimming', start: '2027-09-01T17:00', end: '2027-09-01T18:00', tz: 'Europe/Berlin', color: 'steelblue' }, me),
      none: createEvent(doc, { title: 'No colour', start: '2027-09-02', end: '2027-09-03' }, me),
      odd: createEvent(doc, { title: 'Unreadable colour', start: '2027-09-03', end: '2027-09-04', color: 'family red' }, me),
    }));
    await rig.worker.syncNow(roomId);
    expect(rig.fake.event(calendarId, googleIdFor(roomId, ids.blue, '', 0))).toMatchObject({ colorId: '9' });
    expect(rig.fake.event(calendarId, googleIdFor(roomId, ids.none, '', 0))!.colorId).toBeUndefined();
    expect(rig.fake.event(calendarId, googleIdFor(roomId, ids.odd, '', 0))!.colorId).toBeUndefined();

    const writes = googleWrites(rig.fake);
    await rig.worker.syncNow(roomId);
    await rig.worker.syncNow(roomId);
    expect(googleWrites(rig.fake)).toBe(writes);
    expect(await colorOf(roomId, ids.blue)).toBe('steelblue');
    expect(await colorOf(roomId, ids.odd)).toBe('family red');

    // A new Kith colour of another family goes out; one Google shows the same way does not.
    await edit(rig, roomId, (doc) => updateEvent(doc, ids.blue, { color: 'red' }, me));
    await rig.worker.syncNow(roomId);
    expect(rig.fake.event(calendarId, googleIdFor(roomId, ids.blue, '', 0))).toMatchObject({ colorId: '11' });
    const before = googleWrites(rig.fake);
    await edit(rig, roomId, (doc) => updateEvent(doc, ids.blue, { color: 'brown' }, me));
    await rig.worker.syncNow(roomId);
    expect(googleWrites(rig.fake)).toBe(before);
    // Removing the colour in Kith removes it in Google.
    await edit(rig, roomId, (doc) => updateEvent(doc, ids.blue, { color: null }, me));
    await rig.worker.syncNow(roomId);
    expect(rig.fake.event(calendarId, googleIdFor(roomId, ids.blue, '', 0))!.colorId).toBeUndefined();
    expect(await diff(rig, roomId, calendarId)).toEqual({ onlyRoom: [], onlyGoogle: [], differ: [], duplicates: 0 });
  });

  it('a colour chosen in Google reaches Kith as that colour, also on one occurrence, and a round trip settles', async () => {
    const { roomId, calendarId, token } = await linkedRoom(rig);
    const ids = await edit(rig, roomId, (doc) => ({
      single: createEvent(doc, { title: 'Dentist', start: '2027-10-04T09:00', end: '2027-10-04T10:00', tz: 'UTC', color: 'steelblue' }, me),
      weekly: createEvent(doc, { title: 'Choir', start: '2027-10-05T19:00', end: '2027-10-05T20:00', tz: 'UTC', rrule: 'FREQ=WEEKLY;COUNT=4' }, me),
    }));
    await rig.worker.syncNow(roomId);
    const single = googleIdFor(roomId, ids.single, '', 0);
    const weekly = googleIdFor(roomId, ids.weekly, '', 0);

    rig.fake.ui.patchEvent(calendarId, single, { colorId: '5' });
    rig.fake.ui.patchEvent(calendarId, weekly, { colorId: '2' });
    await rig.worker.syncNow(roomId);
    expect(await colorOf(roomId, ids.single)).toBe(GOOGLE_EVENT_COLORS['5']);
    expect(await colorOf(roomId, ids.weekly)).toBe(GOOGLE_EVENT_COLORS['2']);

    // One occurrence gets a colour of its own in Google.
    const res = await rig.appApi.request('GET', `/google/events?roomId=${roomId}&timeMin=2027-10-11T00:00:00Z&timeMax=2027-10-13T00:00:00Z`, { token });
    const second = res.body.events.find((e: any) => e.title === 'Choir');
    rig.fake.ui.patchEvent(calendarId, second.id, { colorId: '11' });
    await rig.worker.syncNow(roomId);
    const ev = await rig.kith.sync.readRoom(roomId, (doc) => getEvent(doc, ids.weekly)!);
    expect(ev.color).toBe(GOOGLE_EVENT_COLORS['2']);
    expect(ev.overrides['2027-10-12']).toMatchObject({ color: GOOGLE_EVENT_COLORS['11'] });

    // Settled: more cycles write nothing on either side.
    const writes = googleWrites(rig.fake);
    await rig.worker.syncNow(roomId);
    await rig.worker.syncNow(roomId);
    expect(googleWrites(rig.fake)).toBe(writes);
    expect(await diff(rig, roomId, calendarId)).toEqual({ onlyRoom: [], onlyGoogle: [], differ: [], duplicates: 0 });

    // Google drops the colour: Kith has none either.
    rig.fake.ui.patchEvent(calendarId, single, { colorId: null });
    await rig.worker.syncNow(roomId);
    expect(await colorOf(roomId, ids.single)).toBeNull();
  });

  it('a Kith colour on one occurrence reaches Google, also on an occurrence already edited there, and a round trip settles', async () => {
    const { roomId, calendarId } = await linkedRoom(rig);
    const id = await edit(rig, roomId, (doc) =>
      createEvent(doc, { title: 'Choir', start: '2027-11-02T19:00', end: '2027-11-02T20:00', tz: 'UTC', rrule: 'FREQ=WEEKLY;COUNT=4', color: 'steelblue' }, me),
    );
    // The second occurrence is already an exception in Google (renamed); the third is not.
    await edit(rig, roomId, (doc) => editOccurrence(doc, id, '2027-11-09', { title: 'Choir (hall B)' }, me));
    await rig.worker.syncNow(roomId);
    const master = googleIdFor(roomId, id, '', 0);
    const exceptionColours = () =>
      Object.fromEntries(
        (rig.fake.events(calendarId) as any[])
          .filter((e) => e.recurringEventId === master)
          .map((e) => [String(e.originalStartTime.dateTime).slice(0, 10), e.colorId]),
      );

    await edit(rig, roomId, (doc) => {
      editOccurrence(doc, id, '2027-11-09', { color: 'red' }, me);
      editOccurrence(doc, id, '2027-11-16', { color: 'red' }, me);
    });
    await rig.worker.syncNow(roomId);
    expect(exceptionColours()).toEqual({ '2027-11-09': '11', '2027-11-16': '11' });
    expect(await diff(rig, roomId, calendarId)).toEqual({ onlyRoom: [], onlyGoogle: [], differ: [], duplicates: 0 });
    // Settled: more full cycles write nothing (the old code sent the same colourless patch on every one).
    const writes = googleWrites(rig.fake);
    await rig.worker.syncNow(roomId);
    await rig.worker.syncNow(roomId);
    expect(googleWrites(rig.fake)).toBe(writes);

    // The occurrence shows the series' colour again: Google's exception follows.
    await edit(rig, roomId, (doc) => resetOccurrence(doc, id, '2027-11-16', me, ['color']));
    await rig.worker.syncNow(roomId);
    expect(exceptionColours()).toEqual({ '2027-11-09': '11', '2027-11-16': '9' });
    expect(await diff(rig, roomId, calendarId)).toEqual({ onlyRoom: [], onlyGoogle: [], differ: [], duplicates: 0 });
    expect(await colorOf(roomId, id)).toBe('steelblue');
  });

  it('the fake refuses a colorId Google does not define, as Google does', async () => {
    const { calendarId } = await linkedRoom(rig);
    const access = rig.fake.issueTokens({ email: GOOGLE_USER, clientId: CLIENT_ID, scopes: ['https://www.googleapis.com/auth/calendar'] }).access_token;
    const body = { summary: 'x', start: { date: '2027-11-01' }, end: { date: '2027-11-02' } };
    const post = (colorId: unknown) =>
      rig.fake.app.inject({
        method: 'POST',
        url: `/calendar/v3/calendars/${encodeURIComponent(calendarId)}/events`,
        headers: { authorization: `Bearer ${access}`, 'content-type': 'application/json' },
        payload: { ...body, colorId },
      });
    for (const bad of ['12', '0', 'red']) {
      const res = await post(bad);
      expect(res.statusCode).toBe(400);
      expect(res.json().error.message).toBe('Invalid color id.');
    }
    const made = await post('11');
    expect(made.statusCode).toBe(200);
    const patch = await rig.fake.app.inject({
      method: 'PATCH',
      url: `/calendar/v3/calendars/${encodeURIComponent(calendarId)}/events/${made.json().id}`,
      headers: { authorization: `Bearer ${access}`, 'content-type': 'application/json' },
      payload: { colorId: '12' },
    });
    expect(patch.statusCode).toBe(400);
  });
});
