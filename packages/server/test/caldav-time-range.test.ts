/**
 * The time-range index (caldav/time-range.ts) against the model's own expansion, for events whose
 * stored shape is unusual: a one-off that still holds an override moving its start. The test of a
 * series against a range (the first overlapping occurrence, looked for in growing windows) agrees
 * with the model's full expansion; a query out of working time keeps the series it did not test.
 */
import * as Y from 'yjs';
import { describe, expect, it } from 'vitest';
import { cancelOccurrence, createEvent, editOccurrence, getEvent, occurrencesOf, updateEvent, type CalendarEvent } from '@kith/model';
import { eventsInRange, occurrenceIndex, overlapsRange } from '../src/caldav/time-range.js';
import { WorkBudget } from '../src/caldav/slices.js';
import type { DavObject } from '../src/caldav/object-catalog.js';

const ctx = { actor: 'anna', now: '2025-12-01T00:00:00Z' };
const wallMs = (wall: string) => Date.parse(`${wall}Z`);
/** Slices run on the document directly (on a server, each inside a read of the room). */
const readDoc = (doc: Y.Doc) => async (slice: (doc: Y.Doc) => void) => slice(doc);

describe('CalDAV time-range index', () => {
  it('answers a one-off whose override moved its only occurrence days later from the expansion, not a window around its start', async () => {
    const doc = new Y.Doc();
    // Repeating by an extra date, its first occurrence moved to Jan 5; then the extra date is removed:
    // a one-off (no rule, no dates) that keeps the override.
    const id = createEvent(doc, { title: 'Moved', start: '2026-01-01T10:00', end: '2026-01-01T11:00', tz: 'UTC', rdates: ['2026-01-08'] }, ctx);
    editOccurrence(doc, id, '2026-01-01', { start: '2026-01-05T10:00' }, ctx);
    updateEvent(doc, id, { rdates: [] }, ctx);
    const ev = getEvent(doc, id)!;
    expect(ev.rrule).toBeNull();
    expect(ev.rdates).toEqual([]);
    const january = { from: '2026-01-01T00:00:00Z', to: '2026-02-01T00:00:00Z' };
    const expanded = occurrencesOf(ev, { ...january, timeZone: 'UTC' }).map((o) => o.startInstant);
    expect(expanded).toEqual(['2026-01-05T10:00:00Z']);

    // The span object-catalog.ts gives it: from the earliest start (its own or a moved one) to its end.
    const span = { from: Math.min(wallMs(ev.start), wallMs('2026-01-05T10:00')), to: wallMs(ev.end) };
    const occurrences = occurrenceIndex(ev, span);
    const obj = { eventId: id, span, occurrences } as unknown as DavObject;
    const found = async (range: { from: string; to: string }) => [...(await eventsInRange(readDoc(doc), new Map([[id, obj]]), range))];
    expect(await found(january)).toEqual([id]);
    expect(await found({ from: '2026-01-05T00:00:00Z', to: '2026-01-06T00:00:00Z' })).toEqual([id]);
    expect(await found({ from: '2026-01-01T00:00:00Z', to: '2026-01-02T00:00:00Z' })).toEqual([]);
  });

  it('indexes a plain one-off at its instants, in its own zone', () => {
    const doc = new Y.Doc();
    const id = createEvent(doc, { title: 'Call', start: '2026-03-08T02:15', end: '2026-03-08T02:45', tz: 'America/New_York' }, ctx);
    const ev = getEvent(doc, id)!;
    const index = occurrenceIndex(ev, { from: wallMs(ev.start), to: wallMs(ev.end) });
    // 02:15 falls in the spring-forward gap: 03:15 EDT.
    expect([...index!].map((ms) => new Date(ms).toISOString())).toEqual(['2026-03-08T07:15:00.000Z', '2026-03-08T07:45:00.000Z']);
  });

  it('tests a series against a range as the model expands it: starts, one under way, moved, cancelled, ended, all-day, floating', () => {
    const doc = new Y.Doc();
    const make = (input: Parameters<typeof createEvent>[1]) => createEvent(doc, input, ctx);
    const ids = [
      make({ title: 'Daily', start: '2026-01-01T09:00', end: '2026-01-01T09:30', tz: 'Europe/Berlin', rrule: 'FREQ=DAILY' }),
      make({ title: 'Tuesdays', start: '2026-01-06T18:00', end: '2026-01-06T19:00', tz: 'America/New_York', rrule: 'FREQ=WEEKLY;BYDAY=TU' }),
      make({ title: 'Leap day', start: '2024-02-29', end: '2024-03-01', rrule: 'FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29' }),
      make({ title: 'Ended', start: '2025-01-01T09:00', end: '2025-01-01T10:00', tz: 'UTC', rrule: 'FREQ=DAILY;UNTIL=20250301T000000Z' }),
      make({ title: 'Three days', start: '2026-05-30T12:00', end: '2026-06-02T12:00', tz: 'UTC', rrule: 'FREQ=MONTHLY' }),
      make({ title: 'Floating', start: '2026-06-15T23:30', end: '2026-06-16T00:30', tz: null, rrule: 'FREQ=WEEKLY;INTERVAL=4' }),
      make({ title: 'Extra dates', start: '2026-03-02T08:00', end: '2026-03-02T09:00', tz: 'Asia/Tokyo', rdates: ['2026-07-20'] }),
    ];
    const [daily, tuesdays, , , , , extra] = ids as [string, string, string, string, string, string, string];
    // A June 2026 week of the daily series all cancelled, one Tuesday moved into August, another cancelled.
    for (let d = 1; d <= 7; d++) cancelOccurrence(doc, daily, `2026-06-0${d}`, ctx);
    editOccurrence(doc, tuesdays, '2026-06-02', { start: '2026-08-15T18:00', end: '2026-08-15T19:00' }, ctx);
    cancelOccurrence(doc, tuesdays, '2026-06-09', ctx);
    const ranges: Array<[string, string]> = [
      ['2026-06-01T00:00:00Z', '2026-06-08T00:00:00Z'],
      ['2026-06-02T10:00:00Z', '2026-06-02T11:00:00Z'],
      ['2026-06-01T23:00:00Z', '2026-06-02T01:00:00Z'],
      ['2026-06-09T00:00:00Z', '2026-06-10T12:00:00Z'],
      ['2026-08-15T00:00:00Z', '2026-08-16T00:00:00Z'],
      ['2026-07-19T12:00:00Z', '2026-07-20T12:00:00Z'],
      ['2026-06-15T21:00:00Z', '2026-06-16T00:00:00Z'],
      ['2028-02-28T00:00:00Z', '2028-03-02T00:00:00Z'],
      ['2025-02-20T00:00:00Z', '2025-03-05T00:00:00Z'],
      ['2025-06-01T00:00:00Z', '2026-01-01T00:00:00Z'],
      ['2026-01-01T00:00:00Z', '2027-02-04T00:00:00Z'],
    ];
    for (const id of ids) {
      const ev = getEvent(doc, id) as CalendarEvent;
      for (const [from, to] of ranges) {
        const expected = occurrencesOf(ev, { from, to, timeZone: 'UTC' }).length > 0;
        expect(overlapsRange(ev, Date.parse(from), Date.parse(to)), `${ev.title} in ${from}/${to}`).toBe(expected);
      }
    }
    // Sanity: the ranges hold both answers for the unusual events.
    const hit = (id: string, [from, to]: [string, string]) => overlapsRange(getEvent(doc, id)!, Date.parse(from), Date.parse(to));
    expect(hit(daily, ranges[0]!)).toBe(false);
    expect(hit(tuesdays, ranges[4]!)).toBe(true);
    expect(hit(tuesdays, ranges[3]!)).toBe(false);
    expect(hit(ids[4]!, ranges[1]!)).toBe(true);
    expect(hit(extra, ranges[5]!)).toBe(true);
  });

  it('keeps the series it had no working time left to test (more than asked, never less)', async () => {
    const doc = new Y.Doc();
    const inRange = createEvent(doc, { title: 'In', start: '2026-01-01T09:00', end: '2026-01-01T10:00', tz: 'UTC', rrule: 'FREQ=WEEKLY' }, ctx);
    const outOfRange = createEvent(doc, { title: 'Out', start: '2026-01-01T09:00', end: '2026-01-01T10:00', tz: 'UTC', rrule: 'FREQ=YEARLY' }, ctx);
    const candidates = new Map([inRange, outOfRange].map((id) => [id, { eventId: id, span: { from: 0, to: null }, occurrences: null } as unknown as DavObject]));
    const march = { from: '2026-03-01T00:00:00Z', to: '2026-04-01T00:00:00Z' };
    expect([...(await eventsInRange(readDoc(doc), candidates, march))]).toEqual([inRange]);
    // Nothing tested, nothing ruled out; and no answer remembered for a series not tested.
    const fresh = new Map([...candidates].map(([id, obj]) => [id, { ...obj }]));
    expect([...(await eventsInRange(readDoc(doc), fresh, march, new WorkBudget(0)))].sort()).toEqual([inRange, outOfRange].sort());
    expect([...(await eventsInRange(readDoc(doc), fresh, march))]).toEqual([inRange]);
  });
});
