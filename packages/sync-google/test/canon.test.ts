/**
 * The canonical form both sides are compared in: what Google may answer must compare equal to what the
 * room holds when they mean the same event, and the three-way merge keeps both sides' changes.
 */
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { createEvent, editOccurrence, cancelOccurrence, getEvent, updateEvent } from '@kith/model';
import { FieldClock } from '../src/field-clock.js';
import {
  base32hex,
  clip,
  googleMaster,
  kithParts,
  masterBody,
  merge3,
  normText,
  parseRecurrence,
  recurrenceLines,
  remoteCanon,
  same,
  type PartCanon,
} from '../src/canon.js';
import { adoptedKithId, googleIdFor } from '../src/runner.js';

const me = { actor: 'tester' };

describe('recurrence lines', () => {
  it('reads EXDATE and RDATE values in every form Google may answer as local dates of the series', () => {
    const tz = 'Europe/Berlin';
    const r = parseRecurrence(
      [
        'RRULE:freq=weekly;byday=tu;count=5',
        'EXDATE;TZID=Europe/Berlin:20260310T170000',
        'EXDATE:20260316T230000Z,20260324T160000Z',
        'EXDATE;VALUE=DATE:20260407',
        'RDATE;TZID=America/New_York:20260401T120000',
      ],
      tz,
    );
    expect(r.rrule).toBe('FREQ=WEEKLY;BYDAY=TU;COUNT=5');
    // 23:00Z on the 16th is already the 17th in Berlin.
    expect(r.exdates).toEqual(['2026-03-10', '2026-03-17', '2026-03-24', '2026-04-07']);
    expect(r.rdates).toEqual(['2026-04-01']);
  });

  it('writes dates at the series time of day in its zone, and all-day dates as DATE values', () => {
    const timed = { rrule: 'FREQ=DAILY', exdates: ['2026-03-29'], rdates: [], time: { allDay: false as const, start: Date.parse('2026-03-28T16:30:00Z'), end: Date.parse('2026-03-28T17:30:00Z'), tz: 'Europe/Berlin', endTz: 'Europe/Berlin' } };
    expect(recurrenceLines(timed)).toEqual(['RRULE:FREQ=DAILY', 'EXDATE;TZID=Europe/Berlin:20260329T173000']);
    const allDay = { rrule: 'FREQ=YEARLY', exdates: ['2027-05-01'], rdates: ['2027-06-01'], time: { allDay: true as const, start: '2026-05-01', end: '2026-05-02' } };
    expect(recurrenceLines(allDay)).toEqual(['RRULE:FREQ=YEARLY', 'EXDATE;VALUE=DATE:20270501', 'RDATE;VALUE=DATE:20270601']);
  });
});

describe('round trip', () => {
  it('reads back what it writes: a zoned series with an edited and a cancelled occurrence compares equal through Google form', () => {
    const doc = new Y.Doc();
    const id = createEvent(doc, { title: 'Swim', description: 'Pool 2', start: '2026-03-03T17:00', end: '2026-03-03T18:00', tz: 'Europe/Berlin', rrule: 'FREQ=WEEKLY;BYDAY=TU;COUNT=6', participants: ['b', 'a'] }, me);
    editOccurrence(doc, id, '2026-03-10', { title: 'Gala', start: '2026-03-10T18:00', end: '2026-03-10T20:00' }, me);
    cancelOccurrence(doc, id, '2026-03-17', me);
    const L = kithParts(getEvent(doc, id)!, 'UTC').get('')!;
    expect(L.exdates).toEqual(['2026-03-17']);
    expect(Object.keys(L.ov)).toEqual(['2026-03-10']);

    // What Google answers: times in the calendar's zone with an offset, the same lines.
    const body = masterBody(L, { kithId: id, roomId: 'r', part: '' });
    const answered = {
      ...body,
      start: { dateTime: '2026-03-03T16:00:00Z', timeZone: 'Europe/Berlin' },
      end: { dateTime: '2026-03-03T17:00:00Z', timeZone: 'Europe/Berlin' },
    };
    const master = googleMaster(answered, 'UTC')!;
    const ov = L.ov['2026-03-10']!;
    const R = remoteCanon({ id: 'g', etag: '', updated: 0, cancelled: false, master, ex: { '2026-03-10': { id: 'x', etag: '', updated: 0, cancelled: false, values: ov } } });
    expect(same(L, R)).toBe(true);
  });

  it('compares a description Google answers as HTML equal to the text that was sent, and clips without splitting an emoji', () => {
    expect(normText('Line one<br>Line &amp; two', 100)).toBe('Line one\nLine & two');
    expect(normText('a\r\nb', 100)).toBe('a\nb');
    expect(clip('ab😀', 3)).toBe('ab\uFFFD');
  });
});

describe('three-way merge', () => {
  const base: PartCanon = {
    title: 'T',
    description: '',
    location: '',
    participants: ['a', 'b'],
    time: { allDay: true, start: '2026-01-01', end: '2026-01-02' },
    rrule: 'FREQ=DAILY;COUNT=5',
    exdates: ['2026-01-02'],
    rdates: [],
    ov: {},
  };
  it('keeps both sides changes of different fields and merges sets member by member', () => {
    const local = { ...base, title: 'Local', participants: ['a', 'b', 'c'], exdates: ['2026-01-02', '2026-01-03'] };
    const remote = { ...base, location: 'Remote', participants: ['b'], exdates: [] };
    const m = merge3(base, local, remote, false);
    expect([m.title, m.location, m.participants, m.exdates]).toEqual(['Local', 'Remote', ['b', 'c'], ['2026-01-03']]);
  });
  it('gives a field changed on both sides to the side changed last', () => {
    expect(merge3(base, { ...base, title: 'L' }, { ...base, title: 'R' }, true).title).toBe('L');
    expect(merge3(base, { ...base, title: 'L' }, { ...base, title: 'R' }, false).title).toBe('R');
  });
  it('settles each field changed on both sides by which side changed that field last', () => {
    // Room renamed at 20; Google renamed at 10 and moved the location at 30 (its event looks newer).
    const localTimes: Record<string, number> = { title: 20, location: 5 };
    const remoteTimes: Record<string, number> = { title: 10, location: 30 };
    const m = merge3(base, { ...base, title: 'Room', location: 'Room place' }, { ...base, title: 'Google', location: 'Google place' }, (field) => localTimes[field]! > remoteTimes[field]!);
    expect([m.title, m.location]).toEqual(['Room', 'Google place']);
  });
});

describe('field clock', () => {
  it('times only the fields a person changed, not those the mirror wrote or that merely existed', () => {
    const doc = new Y.Doc();
    const id = createEvent(doc, { title: 'Swim', start: '2026-03-03T17:00', end: '2026-03-03T18:00', tz: 'UTC', rrule: 'FREQ=DAILY;COUNT=3' }, me);
    const clock = new FieldClock();
    clock.see(doc, [id], 'UTC');
    expect(clock.time(id, '', 'title')).toBeUndefined();
    updateEvent(doc, id, { location: 'Pool' }, { actor: 'google' });
    clock.see(doc, [id], 'UTC');
    updateEvent(doc, id, { title: 'Swim club' }, me);
    clock.see(doc, [id], 'UTC', 1_000);
    expect([clock.time(id, '', 'title'), clock.time(id, '', 'location'), clock.time(id, '', 'time')]).toEqual([1_000, undefined, undefined]);
    editOccurrence(doc, id, '2026-03-04', { title: 'Gala' }, me);
    clock.see(doc, [id], 'UTC', 2_000);
    expect([clock.time(id, '', 'title'), clock.time(id, '', 'ov:2026-03-04')]).toEqual([1_000, 2_000]);
  });
});

describe('ids', () => {
  it('derives Google ids Google accepts (base32hex, 26 characters), stable per room, event, part and generation', () => {
    const a = googleIdFor('room', 'event', '', 0);
    expect(a).toMatch(/^[a-v0-9]{26}$/);
    expect(googleIdFor('room', 'event', '', 0)).toBe(a);
    expect(new Set([a, googleIdFor('room', 'event', '', 1), googleIdFor('room', 'event', '2026-01-01', 0), googleIdFor('other', 'event', '', 0)]).size).toBe(4);
    expect(adoptedKithId('cal', 'gid')).toMatch(/^google-[a-v0-9]{26}$/);
    expect(base32hex(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff]), 8)).toBe('vvvvvvvv');
  });
});
