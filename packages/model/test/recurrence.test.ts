import * as Y from 'yjs';
import { describe, expect, it } from 'vitest';
import { createEvent, occurrencesBetween, updateEvent } from '../src/index.js';
import type { EventInput } from '../src/index.js';
import { ctx, window } from './helpers.js';

const daily: EventInput = { title: 'Walk', start: '2026-03-02T09:00', end: '2026-03-02T09:30', tz: 'Europe/Berlin' };
const keys = (doc: Y.Doc, from = '2026-01-01T00:00:00Z', to = '2027-01-01T00:00:00Z') =>
  occurrencesBetween(doc, window(from, to, 'Europe/Berlin')).map((o) => o.occKey);

describe('recurrence', () => {
  it('applies COUNT before EXDATE, so an excluded occurrence still uses up the count', () => {
    const doc = new Y.Doc();
    createEvent(doc, { ...daily, rrule: 'FREQ=DAILY;COUNT=3', exdates: ['2026-03-03'] }, ctx());
    expect(keys(doc)).toEqual(['2026-03-02', '2026-03-04']);
  });

  it('treats a UTC UNTIL as inclusive and reads it in the series zone', () => {
    const doc = new Y.Doc();
    // 08:00Z on the 5th is 09:00 in Berlin: the occurrence at that instant is the last one.
    const id = createEvent(doc, { ...daily, rrule: 'FREQ=DAILY;UNTIL=20260305T080000Z' }, ctx());
    expect(keys(doc)).toEqual(['2026-03-02', '2026-03-03', '2026-03-04', '2026-03-05']);
    // One second earlier excludes it.
    updateEvent(doc, id, { rrule: 'FREQ=DAILY;UNTIL=20260305T075959Z' }, ctx());
    expect(keys(doc)).toEqual(['2026-03-02', '2026-03-03', '2026-03-04']);
  });

  it('treats a DATE UNTIL as the whole local day', () => {
    const doc = new Y.Doc();
    createEvent(doc, { title: 'Holiday', start: '2026-03-02', end: '2026-03-03', rrule: 'FREQ=DAILY;UNTIL=20260304' }, ctx());
    expect(keys(doc)).toEqual(['2026-03-02', '2026-03-03', '2026-03-04']);
  });

  it('offers the last day of every month with BYMONTHDAY=-1', () => {
    const doc = new Y.Doc();
    createEvent(doc, { ...daily, start: '2026-01-31T18:00', end: '2026-01-31T19:00', rrule: 'FREQ=MONTHLY;BYMONTHDAY=-1;COUNT=5' }, ctx());
    expect(keys(doc)).toEqual(['2026-01-31', '2026-02-28', '2026-03-31', '2026-04-30', '2026-05-31']);
  });

  it('skips months without a 31st for a plain monthly rule on the 31st (RFC 5545)', () => {
    const doc = new Y.Doc();
    createEvent(doc, { ...daily, start: '2026-01-31T18:00', end: '2026-01-31T19:00', rrule: 'FREQ=MONTHLY;COUNT=3' }, ctx());
    expect(keys(doc)).toEqual(['2026-01-31', '2026-03-31', '2026-05-31']);
  });

  it('adds RDATEs at the series time and drops EXDATEs', () => {
    const doc = new Y.Doc();
    createEvent(doc, { ...daily, rrule: 'FREQ=WEEKLY;COUNT=3', rdates: ['2026-03-05'], exdates: ['2026-03-09'] }, ctx());
    const occ = occurrencesBetween(doc, window('2026-03-01T00:00:00Z', '2026-04-01T00:00:00Z', 'Europe/Berlin'));
    expect(occ.map((o) => o.start)).toEqual(['2026-03-02T09:00', '2026-03-05T09:00', '2026-03-16T09:00']);
  });

  it('includes an occurrence that started before the window and overlaps it', () => {
    const doc = new Y.Doc();
    createEvent(doc, { title: 'Retreat', start: '2026-03-02T18:00', end: '2026-03-05T12:00', tz: 'Europe/Berlin', rrule: 'FREQ=WEEKLY' }, ctx());
    createEvent(doc, { title: 'Long weekend', start: '2026-02-27', end: '2026-03-03' }, ctx());
    const occ = occurrencesBetween(doc, window('2026-03-10T00:00:00Z', '2026-03-11T00:00:00Z', 'Europe/Berlin'));
    expect(occ.map((o) => [o.title, o.start, o.end])).toEqual([['Retreat', '2026-03-09T18:00', '2026-03-12T12:00']]);
    const early = occurrencesBetween(doc, window('2026-03-02T00:00:00Z', '2026-03-02T12:00:00Z', 'Europe/Berlin'));
    expect(early.map((o) => o.title)).toEqual(['Long weekend']);
  });

  it('expands an unbounded series far in the future quickly', () => {
    const doc = new Y.Doc();
    createEvent(doc, { ...daily, rrule: 'FREQ=WEEKLY;BYDAY=MO,WE,FR' }, ctx());
    const started = performance.now();
    const occ = occurrencesBetween(doc, window('2036-03-02T00:00:00Z', '2036-03-09T00:00:00Z', 'Europe/Berlin'));
    expect(occ.map((o) => o.occKey)).toEqual(['2036-03-03', '2036-03-05', '2036-03-07']);
    expect(performance.now() - started).toBeLessThan(1_000);
  });
});
