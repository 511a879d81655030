import { Temporal } from 'temporal-polyfill';
import * as Y from 'yjs';
import { describe, expect, it } from 'vitest';
import { createEvent, getEvent, occurrencesBetween } from '../src/index.js';
import { ctx, window } from './helpers.js';

describe('all-day events', () => {
  it('store dates with an exclusive end', () => {
    const doc = new Y.Doc();
    const id = createEvent(doc, { title: 'Birthday', start: '2026-07-10', end: '2026-07-11', rrule: 'FREQ=YEARLY' }, ctx());
    expect(getEvent(doc, id)).toMatchObject({ allDay: true, start: '2026-07-10', end: '2026-07-11', duration: 'P1D', tz: null });
    // The exclusive end means 2026-07-11 is free.
    const nextDay = occurrencesBetween(doc, window('2026-07-11T00:00:00Z', '2026-07-12T00:00:00Z'));
    expect(nextDay).toEqual([]);
  });

  it('show a multi-day event on the same dates from every zone, never a day early or late', () => {
    const doc = new Y.Doc();
    createEvent(doc, { title: 'Camping', start: '2026-07-10', end: '2026-07-13' }, ctx());
    for (const tz of ['Pacific/Auckland', 'Europe/Berlin', 'UTC', 'America/Los_Angeles', 'Pacific/Honolulu']) {
      // The viewer's own day, midnight to midnight in their zone.
      const dayWindow = (date: string) => {
        const day = Temporal.PlainDate.from(date);
        const edge = (d: Temporal.PlainDate) => d.toZonedDateTime({ timeZone: tz }).toInstant().toString();
        return { from: edge(day), to: edge(day.add({ days: 1 })), timeZone: tz };
      };
      const seen = (date: string) => occurrencesBetween(doc, dayWindow(date)).map((o) => [o.start, o.end]);
      expect(seen('2026-07-09'), tz).toEqual([]);
      expect(seen('2026-07-10'), tz).toEqual([['2026-07-10', '2026-07-13']]);
      expect(seen('2026-07-12'), tz).toEqual([['2026-07-10', '2026-07-13']]);
      expect(seen('2026-07-13'), tz).toEqual([]);
    }
  });

  it('begin at local midnight of the viewer', () => {
    const doc = new Y.Doc();
    createEvent(doc, { title: 'Camping', start: '2026-07-10', end: '2026-07-13' }, ctx());
    const w = (tz: string) => occurrencesBetween(doc, window('2026-07-01T00:00:00Z', '2026-08-01T00:00:00Z', tz))[0];
    expect(w('Pacific/Auckland')).toMatchObject({ startInstant: '2026-07-09T12:00:00Z', endInstant: '2026-07-12T12:00:00Z' });
    expect(w('America/Los_Angeles')).toMatchObject({ startInstant: '2026-07-10T07:00:00Z', endInstant: '2026-07-13T07:00:00Z' });
  });
});
