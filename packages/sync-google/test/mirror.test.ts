/**
 * The two-way mirror against a real kith-server and the fake Google: room → Google and Google → room for
 * timed, zoned, floating, all-day, multi-day and recurring events with exceptions, and merges of edits made
 * on both sides.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cancelOccurrence,
  createEvent,
  deleteEvent,
  editFollowing,
  editOccurrence,
  getEvent,
  initRoom,
  listTrash,
  moveEvent,
  updateEvent,
} from '@kith/model';
import { googleIdFor } from '../src/runner.js';
import { diff, edit, events, linkRoom, linkedRoom, me, startRig, type Rig } from './helpers.js';

let rig: Rig;
beforeAll(async () => {
  rig = await startRig();
});
afterAll(async () => {
  await rig?.close();
});

const googleEvent = (calendarId: string, id: string): any => rig.fake.event(calendarId, id);
const instant = (s: string): number => Date.parse(s);

async function settle(roomId: string, calendarId: string): Promise<void> {
  await rig.worker.syncNow(roomId);
  await rig.worker.syncNow(roomId);
  expect(await diff(rig, roomId, calendarId)).toEqual({ onlyRoom: [], onlyGoogle: [], differ: [], duplicates: 0 });
}

async function instancesOf(roomId: string, token: string, timeMin: string, timeMax: string): Promise<any[]> {
  const res = await rig.appApi.request('GET', `/google/events?roomId=${roomId}&timeMin=${timeMin}&timeMax=${timeMax}`, { token });
  expect(res.status).toBe(200);
  return res.body.events;
}

describe('room → Google', () => {
  it('creates timed, zoned, floating, all-day and multi-day events under ids derived from the Kith ids, with participants kept out of attendees', async () => {
    const { roomId, calendarId } = await linkedRoom(rig);
    const ids = await edit(rig, roomId, (doc) => ({
      zoned: createEvent(doc, { title: 'Dentist', start: '2026-03-03T17:00', end: '2026-03-03T18:00', tz: 'Europe/Berlin', participants: ['kim', 'lee'] }, me),
      floating: createEvent(doc, { title: 'Call', start: '2026-03-04T09:00', end: '2026-03-04T09:30', tz: null }, me),
      allDay: createEvent(doc, { title: 'Holiday', start: '2026-03-05', end: '2026-03-06', location: 'Home' }, me),
      multiDay: createEvent(doc, { title: 'Trip', start: '2026-03-06', end: '2026-03-09', description: 'Lake\nand hills' }, me),
      flight: createEvent(doc, { title: 'Flight', start: '2026-03-10T10:00', end: '2026-03-10T13:00', tz: 'Europe/Berlin', endTz: 'America/New_York' }, me), // lands 13:00 New York time
    }));
    await settle(roomId, calendarId);

    const zoned = googleEvent(calendarId, googleIdFor(roomId, ids.zoned, '', 0));
    expect(zoned.id).toMatch(/^[a-v0-9]{26}$/);
    expect(zoned.summary).toBe('Dentist');
    expect(instant(zoned.start.dateTime)).toBe(instant('2026-03-03T16:00:00Z'));
    expect(zoned.start.timeZone).toBe('Europe/Berlin');
    expect(zoned.attendees).toBeUndefined();
    expect(zoned.extendedProperties.private).toMatchObject({ famcalId: ids.zoned, famcalRoom: roomId, famcalWho0: '["kim","lee"]' });

    const floating = googleEvent(calendarId, googleIdFor(roomId, ids.floating, '', 0));
    expect(floating.start).toEqual({ dateTime: '2026-03-04T09:00:00Z', timeZone: 'UTC' });

    const allDay = googleEvent(calendarId, googleIdFor(roomId, ids.allDay, '', 0));
    expect(allDay.start).toEqual({ date: '2026-03-05' });
    expect(allDay.end).toEqual({ date: '2026-03-06' });
    const trip = googleEvent(calendarId, googleIdFor(roomId, ids.multiDay, '', 0));
    expect([trip.start.date, trip.end.date, trip.description]).toEqual(['2026-03-06', '2026-03-09', 'Lake\nand hills']);

    const flight = googleEvent(calendarId, googleIdFor(roomId, ids.flight, '', 0));
    expect(instant(flight.end.dateTime)).toBe(instant('2026-03-10T17:00:00Z'));
    expect(flight.end.timeZone).toBe('America/New_York');
    expect(rig.fake.stats().invitationsSent).toBe(0);
  });

  it('sends edits, moves, resizes and deletions to the same Google event', async () => {
    const { roomId, calendarId } = await linkedRoom(rig);
    const id = await edit(rig, roomId, (doc) => createEvent(doc, { title: 'Piano', start: '2026-04-01T16:00', end: '2026-04-01T17:00', tz: 'Europe/Berlin' }, me));
    await settle(roomId, calendarId);
    const gid = googleIdFor(roomId, id, '', 0);

    await edit(rig, roomId, (doc) => updateEvent(doc, id, { title: 'Piano lesson', location: 'Music school' }, me));
    await settle(roomId, calendarId);
    expect(googleEvent(calendarId, gid)).toMatchObject({ summary: 'Piano lesson', location: 'Music school' });

    await edit(rig, roomId, (doc) => moveEvent(doc, id, { start: '2026-04-02T15:30' }, me));
    await settle(roomId, calendarId);
    expect(instant(googleEvent(calendarId, gid).start.dateTime)).toBe(instant('2026-04-02T13:30:00Z'));
    expect(instant(googleEvent(calendarId, gid).end.dateTime)).toBe(instant('2026-04-02T14:30:00Z'));

    await edit(rig, roomId, (doc) => updateEvent(doc, id, { start: '2026-04-03', end: '2026-04-05' }, me));
    await settle(roomId, calendarId);
    expect(googleEvent(calendarId, gid)).toMatchObject({ start: { date: '2026-04-03' }, end: { date: '2026-04-05' } });

    await edit(rig, roomId, (doc) => deleteEvent(doc, id, me));
    await settle(roomId, calendarId);
    expect(googleEvent(calendarId, gid).status).toBe('cancelled');
  });

  it('writes a weekly series across DST with RRULE and EXDATE, edited occurrences as exceptions, and "this and following" as a second series', async () => {
    const { roomId, calendarId, token } = await linkedRoom(rig);
    const id = await edit(rig, roomId, (doc) => {
      const sid = createEvent(doc, { title: 'Swim', start: '2026-03-03T17:00', end: '2026-03-03T18:00', tz: 'Europe/Berlin', rrule: 'FREQ=WEEKLY;BYDAY=TU;COUNT=10' }, me);
      editOccurrence(doc, sid, '2026-03-10', { title: 'Swim gala' }, me);
      cancelOccurrence(doc, sid, '2026-03-17', me);
      editOccurrence(doc, sid, '2026-03-24', { start: '2026-03-25T10:00', end: '2026-03-25T11:30' }, me);
      return sid;
    });
    await settle(roomId, calendarId);
    const master = googleEvent(calendarId, googleIdFor(roomId, id, '', 0));
    expect(master.recurrence).toEqual(['RRULE:FREQ=WEEKLY;BYDAY=TU;COUNT=10', 'EXDATE;TZID=Europe/Berlin:20260317T170000']);
    expect(master.start.timeZone).toBe('Europe/Berlin');

    const occurrences = await instancesOf(roomId, token, '2026-03-01T00:00:00Z', '2026-04-08T00:00:00Z');
    const byStart = occurrences.map((o) => [o.title, new Date(o.start).toISOString()]);
    expect(byStart).toEqual([
      ['Swim', '2026-03-03T16:00:00.000Z'],
      ['Swim gala', '2026-03-10T16:00:00.000Z'],
      ['Swim', '2026-03-25T09:00:00.000Z'],
      // After the switch to summer time: still 17:00 in Berlin.
      ['Swim', '2026-03-31T15:00:00.000Z'],
      ['Swim', '2026-04-07T15:00:00.000Z'],
    ]);
    expect(occurrences[1].recurringEventId).toBe(master.id);

    await edit(rig, roomId, (doc) => editFollowing(doc, id, '2026-04-07', { title: 'Swim (spring)' }, me));
    await settle(roomId, calendarId);
    const first = googleEvent(calendarId, googleIdFor(roomId, id, '', 0));
    const second = googleEvent(calendarId, googleIdFor(roomId, id, '2026-04-07', 0));
    expect(first.recurrence[0]).toBe('RRULE:FREQ=WEEKLY;BYDAY=TU;COUNT=5');
    expect(second).toMatchObject({ summary: 'Swim (spring)', recurrence: ['RRULE:FREQ=WEEKLY;BYDAY=TU;COUNT=5'] });
    expect(second.extendedProperties.private).toMatchObject({ famcalId: id, famcalPart: '2026-04-07' });
  });

  it('puts a floating event of a room with a default zone in that zone', async () => {
    const u = await rig.signUp();
    const roomId = await rig.createRoom(u.token, 'Berlin family');
    await edit(rig, roomId, (doc) => initRoom(doc, { defaultTz: 'Europe/Berlin' }));
    const { calendarId } = await linkRoom(rig, u.token, roomId);
    expect((rig.fake.calendars(undefined).find((c: any) => c.id === calendarId) as any).timeZone).toBe('Europe/Berlin');
    const id = await edit(rig, roomId, (doc) => createEvent(doc, { title: 'Breakfast', start: '2026-06-01T08:00', end: '2026-06-01T09:00', tz: null }, me));
    await rig.worker.syncNow(roomId);
    const g = googleEvent(calendarId, googleIdFor(roomId, id, '', 0));
    expect(instant(g.start.dateTime)).toBe(instant('2026-06-01T06:00:00Z'));
    expect(await diff(rig, roomId, calendarId, 'Europe/Berlin')).toEqual({ onlyRoom: [], onlyGoogle: [], differ: [], duplicates: 0 });
  });
});

describe('Google → room', () => {
  it('adopts events created in Google: timed, all-day, multi-day and a recurring series with a moved and a cancelled instance', async () => {
    const { roomId, calendarId, token } = await linkedRoom(rig);
    const timed = rig.fake.ui.insertEvent(calendarId, {
      summary: 'Parents evening',
      location: 'School',
      start: { dateTime: '2026-05-04T19:00:00+02:00', timeZone: 'Europe/Berlin' },
      end: { dateTime: '2026-05-04T20:30:00+02:00', timeZone: 'Europe/Berlin' },
    });
    const allDay = rig.fake.ui.insertEvent(calendarId, { summary: 'Camp', start: { date: '2026-05-08' }, end: { date: '2026-05-11' } });
    const series = rig.fake.ui.insertEvent(calendarId, {
      summary: 'Football',
      start: { dateTime: '2026-05-02T10:00:00+02:00', timeZone: 'Europe/Berlin' },
      end: { dateTime: '2026-05-02T11:00:00+02:00', timeZone: 'Europe/Berlin' },
      recurrence: ['RRULE:FREQ=WEEKLY;BYDAY=SA;COUNT=6', 'EXDATE;TZID=Europe/Berlin:20260509T100000'],
    });
    await rig.worker.syncNow(roomId);
    const inst = await instancesOf(roomId, token, '2026-05-15T00:00:00Z', '2026-05-31T00:00:00Z');
    const on16 = inst.find((o) => o.title === 'Football' && o.start.startsWith('2026-05-16'));
    const on23 = inst.find((o) => o.title === 'Football' && o.start.startsWith('2026-05-23'));
    rig.fake.ui.patchEvent(calendarId, on16.id, {
      summary: 'Football final',
      start: { dateTime: '2026-05-17T12:00:00+02:00', timeZone: 'Europe/Berlin' },
      end: { dateTime: '2026-05-17T14:00:00+02:00', timeZone: 'Europe/Berlin' },
    });
    rig.fake.ui.deleteEvent(calendarId, on23.id);
    const writesBefore = rig.fake.stats().writes;
    await settle(roomId, calendarId);

    const room = await events(rig, roomId);
    const byTitle = new Map(room.map((e) => [e.title, e]));
    expect(byTitle.get('Parents evening')).toMatchObject({ start: '2026-05-04T19:00', end: '2026-05-04T20:30', tz: 'Europe/Berlin', location: 'School' });
    expect(byTitle.get('Camp')).toMatchObject({ allDay: true, start: '2026-05-08', end: '2026-05-11' });
    const football = byTitle.get('Football')!;
    expect(football).toMatchObject({ rrule: 'FREQ=WEEKLY;BYDAY=SA;COUNT=6', start: '2026-05-02T10:00', tz: 'Europe/Berlin' });
    expect(new Set([...football.exdates, ...Object.entries(football.overrides).filter(([, o]) => o.cancelled).map(([k]) => k)])).toEqual(
      new Set(['2026-05-09', '2026-05-23']),
    );
    expect(football.overrides['2026-05-16']).toMatchObject({ title: 'Football final', start: '2026-05-17T12:00', duration: 'PT2H' });
    // Adopting writes nothing back to Google.
    expect(rig.fake.stats().writes).toEqual(writesBefore);
    expect([timed.id, allDay.id, series.id].every((gid) => rig.worker.store.mirrorByGoogleId(roomId, gid as string))).toBe(true);
  });

  it('applies edits, moves and deletions made in Google to room events, including one cancelled occurrence', async () => {
    const { roomId, calendarId, token } = await linkedRoom(rig);
    const ids = await edit(rig, roomId, (doc) => ({
      single: createEvent(doc, { title: 'Haircut', start: '2026-06-02T09:00', end: '2026-06-02T09:30', tz: 'Europe/London' }, me),
      series: createEvent(doc, { title: 'Choir', start: '2026-06-01T19:00', end: '2026-06-01T20:00', tz: 'Europe/London', rrule: 'FREQ=WEEKLY;BYDAY=MO' }, me),
      doomed: createEvent(doc, { title: 'Maybe', start: '2026-06-03', end: '2026-06-04' }, me),
    }));
    await settle(roomId, calendarId);
    rig.fake.ui.patchEvent(calendarId, googleIdFor(roomId, ids.single, '', 0), {
      summary: 'Haircut (Tom)',
      start: { dateTime: '2026-06-02T10:00:00+01:00', timeZone: 'Europe/London' },
      end: { dateTime: '2026-06-02T10:45:00+01:00', timeZone: 'Europe/London' },
    });
    rig.fake.ui.deleteEvent(calendarId, googleIdFor(roomId, ids.doomed, '', 0));
    const occ = await instancesOf(roomId, token, '2026-06-08T00:00:00Z', '2026-06-09T00:00:00Z');
    rig.fake.ui.deleteEvent(calendarId, occ.find((o) => o.title === 'Choir').id);
    await settle(roomId, calendarId);

    const single = await rig.kith.sync.readRoom(roomId, (doc) => getEvent(doc, ids.single)!);
    expect(single).toMatchObject({ title: 'Haircut (Tom)', start: '2026-06-02T10:00', end: '2026-06-02T10:45' });
    const trash = await rig.kith.sync.readRoom(roomId, (doc) => listTrash(doc).map((e) => e.id));
    expect(trash).toEqual([ids.doomed]);
    const series = await rig.kith.sync.readRoom(roomId, (doc) => getEvent(doc, ids.series)!);
    expect(series.exdates.includes('2026-06-08') || series.overrides['2026-06-08']?.cancelled === true).toBe(true);
  });
});

describe('a series split in Google', () => {
  it('keeps both halves of a "this and following events" edit made in Google, as two room series that claim themselves', async () => {
    const { roomId, calendarId } = await linkedRoom(rig);
    const id = await edit(rig, roomId, (doc) => createEvent(doc, { title: 'Choir', start: '2026-09-07T19:00', end: '2026-09-07T20:00', tz: 'Europe/London', rrule: 'FREQ=WEEKLY;BYDAY=MO' }, me));
    await settle(roomId, calendarId);
    const gid = googleIdFor(roomId, id, '', 0);
    // Google's own split: the old series ends before 5 Oct, a copy `<id>_R…` (extended properties too) goes on.
    const copy = rig.fake.ui.splitSeries(
      calendarId,
      gid,
      { start: { dateTime: '2026-10-05T19:00:00+01:00', timeZone: 'Europe/London' }, end: { dateTime: '2026-10-05T20:30:00+01:00', timeZone: 'Europe/London' } },
      { summary: 'Choir (autumn)' },
    ) as any;
    expect(copy.extendedProperties.private.famcalId).toBe(id);
    await settle(roomId, calendarId);

    // Nothing was deleted in Google, and each Google series now claims its own room event.
    expect(googleEvent(calendarId, copy.id)).toMatchObject({ status: 'confirmed', summary: 'Choir (autumn)' });
    expect(googleEvent(calendarId, gid).recurrence).toEqual(['RRULE:FREQ=WEEKLY;BYDAY=MO;UNTIL=20261005T175959Z']);
    const claimed = googleEvent(calendarId, copy.id).extendedProperties.private.famcalId;
    expect(claimed).not.toBe(id);
    const room = await events(rig, roomId);
    expect(room.filter((e) => e.title.startsWith('Choir')).map((e) => [e.id, e.title, e.start, e.end, e.rrule])).toEqual(
      expect.arrayContaining([
        [id, 'Choir', '2026-09-07T19:00', '2026-09-07T20:00', expect.stringContaining('UNTIL=20261005T175959Z')],
        [claimed, 'Choir (autumn)', '2026-10-05T19:00', '2026-10-05T20:30', expect.stringMatching(/^FREQ=WEEKLY;BYDAY=MO$/)],
      ]),
    );

    // Edits to the new half in either place reach the other: it is mapped, not ignored as a stray claim.
    rig.fake.ui.patchEvent(calendarId, copy.id, { location: 'St Mary\'s' });
    await settle(roomId, calendarId);
    expect(await rig.kith.sync.readRoom(roomId, (doc) => getEvent(doc, claimed)!.location)).toBe("St Mary's");
    await edit(rig, roomId, (doc) => updateEvent(doc, claimed, { title: 'Autumn choir' }, me));
    await settle(roomId, calendarId);
    expect(googleEvent(calendarId, copy.id).summary).toBe('Autumn choir');
  });
});

describe('a copy made in Google', () => {
  it('keeps a copy Google made of a mapped event (its "Duplicate", extended properties included) as a new room event', async () => {
    const { roomId, calendarId } = await linkedRoom(rig);
    const id = await edit(rig, roomId, (doc) => createEvent(doc, { title: 'Old photos', start: '2027-06-05', end: '2027-06-06' }, me));
    await settle(roomId, calendarId);
    const gid = googleIdFor(roomId, id, '', 0);
    const copy = rig.fake.ui.insertEvent(calendarId, { ...googleEvent(calendarId, gid), id: undefined, summary: 'Old photos (copy)' }) as any;
    expect(copy.extendedProperties.private.famcalId).toBe(id);
    await settle(roomId, calendarId);

    expect(googleEvent(calendarId, copy.id)).toMatchObject({ status: 'confirmed', summary: 'Old photos (copy)' });
    const copyId = googleEvent(calendarId, copy.id).extendedProperties.private.famcalId;
    expect(copyId).not.toBe(id);
    expect(await rig.kith.sync.readRoom(roomId, (doc) => getEvent(doc, copyId))).toMatchObject({ title: 'Old photos (copy)', start: '2027-06-05', deleted: null });
    expect(await rig.kith.sync.readRoom(roomId, (doc) => getEvent(doc, id))).toMatchObject({ title: 'Old photos', deleted: null });
    expect(googleEvent(calendarId, gid)).toMatchObject({ status: 'confirmed', summary: 'Old photos' });
  });
});

describe('edits on both sides', () => {
  it('keeps both changes when the room and Google changed different fields of one event', async () => {
    const { roomId, calendarId } = await linkedRoom(rig);
    const id = await edit(rig, roomId, (doc) => createEvent(doc, { title: 'Picnic', start: '2026-07-04T12:00', end: '2026-07-04T15:00', tz: 'Europe/Paris' }, me));
    await settle(roomId, calendarId);
    const gid = googleIdFor(roomId, id, '', 0);
    rig.fake.ui.patchEvent(calendarId, gid, { location: 'Parc Monceau' });
    await edit(rig, roomId, (doc) => updateEvent(doc, id, { title: 'Big picnic', participants: ['ana'] }, me));
    await settle(roomId, calendarId);
    const ev = await rig.kith.sync.readRoom(roomId, (doc) => getEvent(doc, id)!);
    expect([ev.title, ev.location, ev.participants]).toEqual(['Big picnic', 'Parc Monceau', ['ana']]);
    expect(googleEvent(calendarId, gid)).toMatchObject({ summary: 'Big picnic', location: 'Parc Monceau' });
  });

  it('lets the later edit win when both sides changed the same field', async () => {
    const { roomId, calendarId } = await linkedRoom(rig);
    const id = await edit(rig, roomId, (doc) => createEvent(doc, { title: 'Lunch', start: '2026-07-05T12:00', end: '2026-07-05T13:00', tz: 'UTC' }, me));
    await settle(roomId, calendarId);
    await edit(rig, roomId, (doc) => updateEvent(doc, id, { title: 'Lunch (room)' }, me));
    await new Promise((r) => setTimeout(r, 5));
    rig.fake.ui.patchEvent(calendarId, googleIdFor(roomId, id, '', 0), { summary: 'Lunch (Google, later)' });
    await settle(roomId, calendarId);
    expect((await rig.kith.sync.readRoom(roomId, (doc) => getEvent(doc, id)!)).title).toBe('Lunch (Google, later)');
  });

  it('re-creates an event deleted in Google that was edited in the room since, under the same Google id', async () => {
    const { roomId, calendarId } = await linkedRoom(rig);
    const id = await edit(rig, roomId, (doc) => createEvent(doc, { title: 'Recital', start: '2026-07-06T18:00', end: '2026-07-06T19:00', tz: 'UTC' }, me));
    await settle(roomId, calendarId);
    const gid = googleIdFor(roomId, id, '', 0);
    rig.fake.ui.deleteEvent(calendarId, gid);
    await edit(rig, roomId, (doc) => updateEvent(doc, id, { description: 'Bring flowers' }, me));
    await settle(roomId, calendarId);
    expect(googleEvent(calendarId, gid)).toMatchObject({ status: 'confirmed', description: 'Bring flowers' });
    expect((await events(rig, roomId)).map((e) => e.id)).toContain(id);
  });
});
