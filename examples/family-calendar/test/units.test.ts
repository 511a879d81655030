/**
 * The app's own logic without a browser: what a form save or a drag writes to the model (only what
 * changed, so concurrent edits merge), the "Repeat" fields and RRULE strings, and time arithmetic.
 */
import type { Calendar } from '@kith/client';
import * as model from '@kith/model';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { applyChange, applyDelete, seriesOnly, type Change } from '../src/edits.js';
import { describeRule, fromRule, noRepeat, toRule } from '../src/recurrence.js';
import { weekdayOf } from '../src/recurrence.js';
import { bothTimes, convertWall, fcDate, fcWall, instantToWall, shiftBy, splitWhen, wallIn } from '../src/times.js';
import { canonicalZone, offsetLabel, searchZones, zoneCity, zoneOptions } from '../src/zones.js';

const TZ = 'Europe/Berlin';
const window = { from: '2026-03-01T00:00:00Z', to: '2026-05-01T00:00:00Z', timeZone: TZ };

/** The part of `Calendar` that edits.ts uses, over a plain Y.Doc, recording every patch written. */
function calendarOn(doc: Y.Doc, writes: Array<[string, unknown]> = []) {
  const ctx = { actor: 'ann' };
  const cal = {
    timeZone: TZ,
    updateEvent: (id: string, p: model.EventPatch) => (writes.push(['update', p]), model.updateEvent(doc, id, p, ctx)),
    editOccurrence: (id: string, k: string, p: model.OccurrencePatch) => (writes.push(['occurrence', p]), model.editOccurrence(doc, id, k, p, ctx)),
    editFollowing: (id: string, k: string, p: model.SeriesPatch) => (writes.push(['following', p]), model.editFollowing(doc, id, k, p, ctx)),
    deleteEvent: (id: string) => model.deleteEvent(doc, id, ctx),
    cancelOccurrence: (id: string, k: string) => model.cancelOccurrence(doc, id, k, ctx),
    deleteFollowing: (id: string, k: string) => model.deleteFollowing(doc, id, k, ctx),
  };
  return cal as unknown as Calendar;
}

function occ(doc: Y.Doc, id: string, nth = 0) {
  return model.occurrencesOf(model.getEvent(doc, id)!, window)[nth]!;
}

function change(doc: Y.Doc, id: string, c: Change, scope: 'this' | 'following' | 'all' = 'all', nth = 0, writes?: Array<[string, unknown]>) {
  applyChange(calendarOn(doc, writes), model.getEvent(doc, id)!, occ(doc, id, nth), c, scope);
}

describe('what an edit writes', () => {
  it('a title edit on one device and a time edit on another both survive the merge', () => {
    const a = new Y.Doc();
    const id = model.createEvent(a, { title: 'Parents evening', start: '2026-03-20T18:00', end: '2026-03-20T19:00', tz: TZ }, { actor: 'ann' });
    const b = new Y.Doc();
    Y.applyUpdate(b, Y.encodeStateAsUpdate(a));
    const writes: Array<[string, unknown]> = [];
    change(a, id, { title: 'Parents evening at school' }, 'all', 0, writes);
    change(b, id, { start: '2026-03-20T18:30', end: '2026-03-20T19:30' }, 'all', 0, writes);
    expect(writes).toEqual([
      ['update', { title: 'Parents evening at school' }],
      ['update', { start: '2026-03-20T18:30' }], // a move: the duration is kept, so only the start is written
    ]);
    Y.applyUpdate(a, Y.encodeStateAsUpdate(b));
    Y.applyUpdate(b, Y.encodeStateAsUpdate(a));
    for (const doc of [a, b]) {
      expect(model.getEvent(doc, id)).toMatchObject({ title: 'Parents evening at school', start: '2026-03-20T18:30', end: '2026-03-20T19:30' });
    }
  });

  it('a resize writes only the end; a change of both start and length writes both', () => {
    const doc = new Y.Doc();
    const id = model.createEvent(doc, { title: 'Dentist', start: '2026-03-20T09:00', end: '2026-03-20T10:00', tz: TZ }, { actor: 'ann' });
    const writes: Array<[string, unknown]> = [];
    change(doc, id, { end: '2026-03-20T10:30' }, 'all', 0, writes);
    change(doc, id, { start: '2026-03-20T08:00', end: '2026-03-20T08:15' }, 'all', 0, writes);
    expect(writes).toEqual([
      ['update', { end: '2026-03-20T10:30' }],
      ['update', { start: '2026-03-20T08:00', end: '2026-03-20T08:15' }],
    ]);
    expect(model.getEvent(doc, id)).toMatchObject({ start: '2026-03-20T08:00', end: '2026-03-20T08:15' });
  });

  it('an all-day event dragged into the hours becomes timed in this device\'s zone', () => {
    const doc = new Y.Doc();
    const id = model.createEvent(doc, { title: 'Picnic', start: '2026-03-21', end: '2026-03-22' }, { actor: 'ann' });
    change(doc, id, { start: '2026-03-21T12:00', end: '2026-03-21T13:00' });
    expect(model.getEvent(doc, id)).toMatchObject({ allDay: false, start: '2026-03-21T12:00', end: '2026-03-21T13:00', tz: TZ });
  });

  it('a repeating event: one occurrence, this and following, or all (moved by as much as the occurrence moved)', () => {
    const doc = new Y.Doc();
    const id = model.createEvent(doc, { title: 'Swim', start: '2026-03-03T17:00', end: '2026-03-03T18:00', tz: TZ, rrule: 'FREQ=WEEKLY' }, { actor: 'ann' });
    change(doc, id, { start: '2026-03-11T17:30', end: '2026-03-11T18:30' }, 'all', 1); // 2nd occurrence, a day and 30 min later
    expect(model.getEvent(doc, id)).toMatchObject({ start: '2026-03-04T17:30', end: '2026-03-04T18:30' });
    change(doc, id, { title: 'Swim gala' }, 'this', 1);
    change(doc, id, { title: 'Swim club' }, 'following', 2);
    const titles = model.occurrencesOf(model.getEvent(doc, id)!, window).slice(0, 4).map((o) => `${o.start} ${o.title}`);
    expect(titles).toEqual(['2026-03-04T17:30 Swim', '2026-03-11T17:30 Swim gala', '2026-03-18T17:30 Swim club', '2026-03-25T17:30 Swim club']);
    applyDelete(calendarOn(doc), model.getEvent(doc, id)!, occ(doc, id, 3), 'this');
    expect(model.occurrencesOf(model.getEvent(doc, id)!, window).map((o) => o.occKey)).not.toContain('2026-03-25');
    applyDelete(calendarOn(doc), model.getEvent(doc, id)!, occ(doc, id, 0), 'all');
    expect(model.listTrash(doc).map((e) => e.id)).toEqual([id]);
  });

  it('repeat, reminder, zone and all-day changes cannot be made to one occurrence only', () => {
    const o = { start: '2026-03-03T17:00' };
    expect(seriesOnly({ title: 'x', start: '2026-03-03T18:00' }, o)).toBe(false);
    expect(seriesOnly({ rrule: 'FREQ=DAILY' }, o)).toBe(true);
    expect(seriesOnly({ reminders: [] }, o)).toBe(true);
    expect(seriesOnly({ tz: 'UTC' }, o)).toBe(true);
    expect(seriesOnly({ start: '2026-03-03' }, o)).toBe(true);
  });
});

describe('the Repeat fields', () => {
  it('round-trip the rules the form can show', () => {
    for (const rule of ['FREQ=DAILY', 'FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,TH', 'FREQ=MONTHLY;COUNT=6', 'FREQ=YEARLY;UNTIL=20300101']) {
      const f = fromRule(rule);
      expect(f.custom).toBeNull();
      expect(toRule(f)).toBe(rule);
    }
    expect(toRule(noRepeat())).toBeNull();
  });

  it('keep a rule the form cannot show as it is, and describe rules in words', () => {
    expect(fromRule('FREQ=MONTHLY;BYDAY=-1FR').custom).toBe('FREQ=MONTHLY;BYDAY=-1FR');
    expect(describeRule('FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,TH;COUNT=5')).toBe('Every 2 weeks on Tue, Thu, 5 times');
    expect(describeRule(null)).toBe('Does not repeat');
  });
});

describe('times', () => {
  it('reads an instant as a wall clock in the event\'s zone, and shifts wall clocks and dates', () => {
    const d = new Date('2026-03-29T01:30:00Z'); // just after the spring-forward in Berlin
    expect(wallIn(d, 'Europe/Berlin')).toBe('2026-03-29T03:30');
    expect(wallIn(d, 'America/New_York')).toBe('2026-03-28T21:30');
    expect(shiftBy('2026-03-03T17:00', '2026-03-10T17:00', '2026-03-11T17:30')).toBe('2026-03-04T17:30');
    expect(shiftBy('2026-03-31', '2026-03-01', '2026-03-03')).toBe('2026-04-02');
    expect(splitWhen('2026-03-20T09:00')).toEqual({ date: '2026-03-20', time: '09:00' });
    expect(splitWhen('2026-03-20')).toEqual({ date: '2026-03-20', time: '' });
  });
});

describe('the display zone', () => {
  it('feeds the calendar display-zone wall clocks and reads its Dates back; a drop converts to the event\'s own zone', () => {
    expect(instantToWall('2026-12-06T08:00:00Z', 'America/New_York')).toBe('2026-12-06T03:00');
    // The calendar component runs in UTC: a Date's UTC fields are the display zone's wall clock.
    expect(fcWall(new Date('2026-12-06T03:00:00Z'))).toBe('2026-12-06T03:00');
    expect(fcDate(new Date('2026-12-06T00:00:00Z'))).toBe('2026-12-06');
    expect(convertWall('2026-12-06T04:00', 'America/New_York', 'Europe/Berlin')).toBe('2026-12-06T10:00');
    expect(convertWall('2026-07-06T04:00', 'America/New_York', 'Europe/Berlin')).toBe('2026-07-06T10:00'); // both on summer time
    expect(convertWall('2026-03-20T04:00', 'America/New_York', 'Europe/Berlin')).toBe('2026-03-20T09:00'); // New York already on summer time
  });

  it('says both times only where the zones differ, with the day when it changes', () => {
    expect(bothTimes('2026-12-06T09:00', 'Europe/Berlin', 'America/New_York', 'en-GB')).toBe('09:00 Berlin · 03:00 your time');
    expect(bothTimes('2026-12-06T02:00', 'Europe/Berlin', 'America/New_York', 'en-GB')).toBe('02:00 Berlin · 20:00 (Sat) your time');
    expect(bothTimes('2026-12-06T09:00', 'Europe/Berlin', 'Europe/Berlin', 'en-GB')).toBeNull();
    expect(bothTimes('2026-12-06T09:00', null, 'America/New_York', 'en-GB')).toBeNull(); // floating: the same clock everywhere
  });
});

describe('time zones for people', () => {
  it('use current names for legacy ones, list UTC, sort by offset, and search by words or offset', () => {
    expect(canonicalZone('Asia/Calcutta')).toBe('Asia/Kolkata');
    expect(canonicalZone('Europe/Kiev')).toBe('Europe/Kyiv');
    expect(canonicalZone('Europe/Berlin')).toBe('Europe/Berlin');
    expect(zoneCity('America/New_York')).toBe('New York');
    expect(offsetLabel(330)).toBe('UTC+05:30');
    expect(offsetLabel(-180)).toBe('UTC−03:00');
    const options = zoneOptions(['Asia/Calcutta']);
    const zones = options.map((o) => o.zone);
    expect(zones).toContain('UTC');
    expect(zones).toContain('Asia/Kolkata');
    expect(zones).not.toContain('Asia/Calcutta');
    expect(zones).not.toContain('Europe/Kiev');
    expect(new Set(zones).size).toBe(zones.length);
    const offsets = options.map((o) => o.offset);
    expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
    expect(searchZones(options, 'new york').map((o) => o.zone)).toEqual(['America/New_York']);
    expect(searchZones(options, '+05:30').map((o) => o.zone)).toContain('Asia/Kolkata');
    expect(searchZones(options, 'no such place')).toEqual([]);
  });

  it('a weekly repeat\'s default day is its start\'s weekday', () => {
    expect(weekdayOf('2026-12-03')).toBe('TH');
    expect(weekdayOf('2026-12-06')).toBe('SU');
    expect(weekdayOf('not a date')).toBeUndefined();
  });
});
