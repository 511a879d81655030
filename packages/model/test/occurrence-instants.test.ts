import * as Y from 'yjs';
import { describe, expect, it } from 'vitest';
import { cancelOccurrence, createEvent, editFollowing, editOccurrence, getEvent, occurrenceInstants, occurrencesOf } from '../src/index.js';
import type { CalendarEvent } from '../src/index.js';
import { ctx, modelError } from './helpers.js';

const DAY = 86_400_000;
const FROM = Date.parse('2025-12-01T00:00:00Z');
const TO = Date.parse('2027-02-01T00:00:00Z');

/** What occurrencesOf places in the range, as occurrenceInstants lists it: starts in [from, to), start order. */
function expanded(ev: CalendarEvent, fromMs: number, toMs: number, viewerTz: string): number[] {
  const occ = occurrencesOf(ev, { from: new Date(fromMs).toISOString(), to: new Date(toMs).toISOString(), timeZone: viewerTz });
  return occ
    .map((o) => [Date.parse(o.startInstant), Date.parse(o.endInstant)] as const)
    .filter(([s]) => s >= fromMs)
    .sort((a, b) => a[0] - b[0])
    .flat();
}

/** A room holding every kind of event CalDAV indexes (one-offs and counted series) and its awkward cases. */
function room(): { doc: Y.Doc; ids: Record<string, string> } {
  const doc = new Y.Doc();
  const make = (input: Parameters<typeof createEvent>[1]) => createEvent(doc, input, ctx());
  const ids = {
    utc: make({ title: 'UTC', start: '2026-06-10T09:00', end: '2026-06-10T10:00', tz: 'UTC' }),
    gap: make({ title: 'In the New York gap', start: '2026-03-08T02:15', end: '2026-03-08T02:45', tz: 'America/New_York' }),
    repeated: make({ title: 'In the repeated hour', start: '2026-11-01T01:30', end: '2026-11-01T02:00', tz: 'America/New_York' }),
    allDay: make({ title: 'Clocks change', start: '2026-03-29', end: '2026-03-30' }),
    floating: make({ title: 'Pill', start: '2026-05-04T08:00', end: '2026-05-04T08:05', tz: null }),
    endZone: make({ title: 'Flight', start: '2026-07-01T22:00', end: '2026-07-02T06:00', tz: 'America/Los_Angeles', endTz: 'Europe/London' }),
    instant: make({ title: 'Zero length', start: '2026-08-01T12:00', end: '2026-08-01T12:00', tz: 'Asia/Kolkata' }),
    kiritimati: make({ title: 'Furthest east', start: '2026-01-01T00:30', end: '2026-01-01T01:30', tz: 'Pacific/Kiritimati' }),
    series: make({ title: 'Weekly', start: '2026-03-01T02:30', end: '2026-03-01T03:30', tz: 'America/New_York', rrule: 'FREQ=WEEKLY;COUNT=20' }),
    allDaySeries: make({ title: 'Bins', start: '2026-01-05', end: '2026-01-06', rrule: 'FREQ=WEEKLY;COUNT=30' }),
    split: make({ title: 'Lessons', start: '2026-02-02T16:00', end: '2026-02-02T17:00', tz: 'Europe/Berlin', rrule: 'FREQ=WEEKLY;COUNT=12' }),
  };
  editOccurrence(doc, ids.series, '2026-03-22', { start: '2026-03-24T09:00' }, ctx());
  cancelOccurrence(doc, ids.series, '2026-04-05', ctx());
  editOccurrence(doc, ids.allDaySeries, '2026-02-02', { start: '2026-02-04' }, ctx());
  editFollowing(doc, ids.split, '2026-03-02', { start: '2026-03-02T18:00', end: '2026-03-02T19:30' }, ctx());
  return { doc, ids };
}

describe('occurrenceInstants', () => {
  const { doc, ids } = room();

  for (const viewerTz of ['UTC', 'Asia/Tokyo', 'America/Los_Angeles']) {
    it(`places every kind of event exactly as occurrencesOf does, for a viewer in ${viewerTz}`, () => {
      for (const [name, id] of Object.entries(ids)) {
        const ev = getEvent(doc, id)!;
        const listed = [...occurrenceInstants(ev, FROM, TO, viewerTz)];
        expect(listed.length, name).toBeGreaterThan(0);
        expect(listed, name).toEqual(expanded(ev, FROM, TO, viewerTz));
      }
    });
  }

  it('keeps only the starts in the range, moved and cancelled occurrences as the series has them', () => {
    const ev = getEvent(doc, ids.series)!;
    const from = Date.parse('2026-03-20T00:00:00Z');
    const to = Date.parse('2026-04-10T00:00:00Z');
    const listed = [...occurrenceInstants(ev, from, to, 'UTC')];
    expect(listed).toEqual(expanded(ev, from, to, 'UTC'));
    // 03-22 moved to 03-24 09:00 EDT, 03-29 as usual, 04-05 cancelled.
    expect(listed.filter((_, i) => i % 2 === 0).map((ms) => new Date(ms).toISOString())).toEqual(['2026-03-24T13:00:00.000Z', '2026-03-29T06:30:00.000Z']);
  });

  it('lists a one-off from a range two days either side of its wall clock, whatever its zone', () => {
    for (const id of [ids.gap, ids.kiritimati, ids.endZone]) {
      const ev = getEvent(doc, id)!;
      const wall = Date.parse(`${ev.start}Z`);
      expect(occurrenceInstants(ev, wall - 2 * DAY, wall + 2 * DAY, 'UTC')).toHaveLength(2);
    }
  });

  it('refuses a range outside the years 0001–9999 or ending before it starts, and an unknown viewer zone', () => {
    const ev = getEvent(doc, ids.utc)!;
    expect(modelError(() => occurrenceInstants(ev, Date.parse('0001-01-01T00:00:00Z') - DAY, TO, 'UTC')).code).toBe('INVALID_DATE');
    expect(modelError(() => occurrenceInstants(ev, TO, FROM, 'UTC')).code).toBe('INVALID_DATE');
    expect(() => occurrenceInstants(ev, FROM, TO, 'Mars/Olympus_Mons')).toThrow();
  });
});
