import * as Y from 'yjs';
import { describe, expect, it } from 'vitest';
import { createEvent, occurrencesBetween } from '../src/index.js';
import { ctx, window } from './helpers.js';

/** Golden values: what Google Calendar shows for the same series. */
describe('daylight saving time', () => {
  it('shifts a weekly 02:30 New York occurrence in the 2026-03-08 gap forward to 03:30 EDT, as Google does', () => {
    const doc = new Y.Doc();
    createEvent(doc, { title: 'Early run', start: '2026-03-01T02:30', end: '2026-03-01T03:30', tz: 'America/New_York', rrule: 'FREQ=WEEKLY;COUNT=3' }, ctx());
    const occ = occurrencesBetween(doc, window('2026-02-28T00:00:00Z', '2026-03-31T00:00:00Z', 'America/New_York'));
    expect(occ.map((o) => [o.occKey, o.start, o.startInstant, o.end])).toEqual([
      ['2026-03-01', '2026-03-01T02:30', '2026-03-01T07:30:00Z', '2026-03-01T03:30'],
      // rrule-temporal alone skips this one (RFC 5545 §3.3.10); it must not be lost.
      ['2026-03-08', '2026-03-08T03:30', '2026-03-08T07:30:00Z', '2026-03-08T04:30'],
      ['2026-03-15', '2026-03-15T02:30', '2026-03-15T06:30:00Z', '2026-03-15T03:30'],
    ]);
    expect(occ[1]?.originalStart).toBe('2026-03-08T02:30');
  });

  it('shifts a single event created inside the gap the same way', () => {
    const doc = new Y.Doc();
    createEvent(doc, { title: 'Odd hour', start: '2026-03-08T02:15', end: '2026-03-08T02:45', tz: 'America/New_York' }, ctx());
    const [occ] = occurrencesBetween(doc, window('2026-03-08T00:00:00Z', '2026-03-09T00:00:00Z'));
    expect(occ).toMatchObject({ start: '2026-03-08T03:15', startInstant: '2026-03-08T07:15:00Z', endInstant: '2026-03-08T07:45:00Z' });
  });

  it('takes the earlier offset (EDT) for 01:30 on 2026-11-01, when New York repeats that hour', () => {
    const doc = new Y.Doc();
    createEvent(doc, { title: 'Feed the cat', start: '2026-10-25T01:30', end: '2026-10-25T02:00', tz: 'America/New_York', rrule: 'FREQ=WEEKLY' }, ctx());
    const occ = occurrencesBetween(doc, window('2026-10-31T00:00:00Z', '2026-11-02T00:00:00Z', 'America/New_York'));
    expect(occ).toHaveLength(1);
    expect(occ[0]).toMatchObject({ occKey: '2026-11-01', start: '2026-11-01T01:30', startInstant: '2026-11-01T05:30:00Z' });
  });

  it('keeps a daily 09:00 Berlin series at 09:00 local across the 23-hour day of 2026-03-29', () => {
    const doc = new Y.Doc();
    createEvent(doc, { title: 'Standup', start: '2026-03-27T09:00', end: '2026-03-27T09:15', tz: 'Europe/Berlin', rrule: 'FREQ=DAILY' }, ctx());
    const occ = occurrencesBetween(doc, window('2026-03-28T00:00:00Z', '2026-03-31T00:00:00Z', 'Asia/Tokyo'));
    expect(occ.map((o) => [o.start, o.startInstant])).toEqual([
      ['2026-03-28T09:00', '2026-03-28T08:00:00Z'],
      ['2026-03-29T09:00', '2026-03-29T07:00:00Z'],
      ['2026-03-30T09:00', '2026-03-30T07:00:00Z'],
    ]);
  });

  it('makes the all-day 2026-03-29 in Berlin 23 hours long', () => {
    const doc = new Y.Doc();
    createEvent(doc, { title: 'Clocks change', start: '2026-03-29', end: '2026-03-30' }, ctx());
    const [occ] = occurrencesBetween(doc, window('2026-03-28T00:00:00Z', '2026-03-31T00:00:00Z', 'Europe/Berlin'));
    expect(occ).toMatchObject({ start: '2026-03-29', end: '2026-03-30', startInstant: '2026-03-28T23:00:00Z', endInstant: '2026-03-29T22:00:00Z' });
  });

  it('places a floating event at the same wall clock in every viewer zone', () => {
    const doc = new Y.Doc();
    createEvent(doc, { title: 'Pill', start: '2026-05-04T08:00', end: '2026-05-04T08:05', tz: null, rrule: 'FREQ=DAILY' }, ctx());
    const inTokyo = occurrencesBetween(doc, window('2026-05-04T00:00:00+09:00', '2026-05-05T00:00:00+09:00', 'Asia/Tokyo'));
    const inParis = occurrencesBetween(doc, window('2026-05-04T00:00:00+02:00', '2026-05-05T00:00:00+02:00', 'Europe/Paris'));
    expect(inTokyo.map((o) => [o.start, o.startInstant])).toEqual([['2026-05-04T08:00', '2026-05-03T23:00:00Z']]);
    expect(inParis.map((o) => [o.start, o.startInstant])).toEqual([['2026-05-04T08:00', '2026-05-04T06:00:00Z']]);
  });
});
