/**
 * Bounded expansion: a series whose occurrences overlap (a daily series of ten-year occurrences
 * had 3,650 under way at any moment, and every query placed them all) is refused on write and,
 * stored anyway by a raw Yjs client, skipped on read; overrides and "this and following" parts are
 * capped (LIMITS.overrides, LIMITS.segments) on write and read, and a query places only the
 * overrides that can reach its window.
 */
import * as Y from 'yjs';
import { describe, expect, it } from 'vitest';
import {
  cancelOccurrence,
  createEvent,
  editFollowing,
  editOccurrence,
  getEvent,
  LIMITS,
  occurrencesBetween,
  queryOccurrences,
  updateEvent,
} from '../src/index.js';
import type { EventInput } from '../src/index.js';
import { minGapDays } from '../src/recurrence.js';
import { ctx, expectCode, window } from './helpers.js';

const W = window('2026-03-01T00:00:00Z', '2026-04-12T00:00:00Z', 'Europe/Berlin');

/** An event created valid, then given these stored values as a raw Yjs client would write them. */
function raw(doc: Y.Doc, values: Record<string, unknown>): string {
  const id = createEvent(doc, { title: 'raw', start: '2020-03-04', end: '2020-03-05', rrule: 'FREQ=DAILY' }, ctx());
  const m = doc.getMap('events').get(id) as Y.Map<unknown>;
  doc.transact(() => {
    for (const [k, v] of Object.entries(values)) m.set(k, v);
  });
  return id;
}

const evMap = (doc: Y.Doc, id: string) => doc.getMap('events').get(id) as Y.Map<unknown>;

describe('series whose occurrences overlap', () => {
  it('minGapDays: FREQ×INTERVAL, or less when BY parts list several days a period', () => {
    const cases: [string, number][] = [
      ['FREQ=DAILY', 1],
      ['FREQ=DAILY;INTERVAL=3;BYDAY=MO', 3],
      ['FREQ=WEEKLY', 7],
      ['FREQ=WEEKLY;INTERVAL=2', 14],
      ['FREQ=WEEKLY;BYDAY=MO,TH', 3],
      ['FREQ=WEEKLY;BYDAY=MO,SU;WKST=MO', 1], // Sunday, then the next day, a Monday
      ['FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,FR', 4],
      ['FREQ=MONTHLY', 28],
      ['FREQ=MONTHLY;INTERVAL=3', 84],
      ['FREQ=MONTHLY;BYDAY=2TU', 28],
      ['FREQ=MONTHLY;BYDAY=MO', 7],
      ['FREQ=MONTHLY;BYMONTHDAY=1,15', 14],
      ['FREQ=MONTHLY;BYMONTHDAY=1,-1', 1],
      ['FREQ=YEARLY', 364],
      ['FREQ=YEARLY;BYMONTH=11;BYDAY=4TH', 364],
      ['FREQ=YEARLY;BYMONTHDAY=15', 28],
      ['FREQ=YEARLY;BYMONTH=3;BYDAY=MO', 7],
      ['FREQ=YEARLY;BYMONTH=1,7', 1],
    ];
    for (const [rule, gap] of cases) expect(minGapDays(rule), rule).toBe(gap);
  });

  it('refuses on write a series whose occurrences would overlap, naming the field', () => {
    const doc = new Y.Doc();
    const refused: EventInput[] = [
      { title: 'ten years a day', start: '2020-03-04', end: '2030-03-01', rrule: 'FREQ=DAILY' },
      { title: 'two days a day', start: '2026-03-02', end: '2026-03-04', rrule: 'FREQ=DAILY' },
      { title: '25 h a day', start: '2026-03-02T09:00', end: '2026-03-03T10:00', tz: 'Europe/Berlin', rrule: 'FREQ=DAILY' },
      { title: 'Mon and Thu, 4 days', start: '2026-03-02', end: '2026-03-06', rrule: 'FREQ=WEEKLY;BYDAY=MO,TH' },
      { title: 'monthly, 29 days', start: '2026-03-01', end: '2026-03-30', rrule: 'FREQ=MONTHLY' },
      { title: 'extra dates 2 days apart, 3 days long', start: '2026-03-01', end: '2026-03-04', rdates: ['2026-03-03'] },
    ];
    for (const input of refused) {
      const err = expectCode(() => createEvent(doc, input, ctx()), 'INVALID_INPUT');
      expect(err.field, input.title).toBe('end');
      expect(err.message).toMatch(/must not overlap/);
    }
    // Back to back is fine: a daily all-day event, a week-long weekly rota, a 24-hour daily shift.
    const allowed: EventInput[] = [
      { title: 'daily all-day', start: '2026-03-02', end: '2026-03-03', rrule: 'FREQ=DAILY' },
      { title: 'weekly rota', start: '2026-03-02', end: '2026-03-09', rrule: 'FREQ=WEEKLY' },
      { title: 'weekly 3-day', start: '2026-03-02', end: '2026-03-05', rrule: 'FREQ=WEEKLY' },
      { title: 'Mon and Thu, 3 days', start: '2026-03-02', end: '2026-03-05', rrule: 'FREQ=WEEKLY;BYDAY=MO,TH' },
      { title: '24 h shift', start: '2026-03-02T09:00', end: '2026-03-03T09:00', tz: 'UTC', rrule: 'FREQ=DAILY' },
      { title: 'monthly, 28 days', start: '2026-03-01', end: '2026-03-29', rrule: 'FREQ=MONTHLY' },
      { title: 'one-off, long', start: '2026-03-01', end: '2027-03-01' },
    ];
    for (const input of allowed) createEvent(doc, input, ctx());
  });

  it('refuses edits that make occurrences overlap: edit all, a new rule, one occurrence, this and following', () => {
    const doc = new Y.Doc();
    const id = createEvent(doc, { title: 'camp', start: '2026-03-02', end: '2026-03-05', rrule: 'FREQ=WEEKLY' }, ctx());
    expect(expectCode(() => updateEvent(doc, id, { end: '2026-03-12' }, ctx()), 'INVALID_INPUT').field).toBe('end');
    expect(expectCode(() => updateEvent(doc, id, { rrule: 'FREQ=DAILY' }, ctx()), 'INVALID_INPUT').field).toBe('rrule');
    expect(expectCode(() => editOccurrence(doc, id, '2026-03-09', { end: '2026-03-17' }, ctx()), 'INVALID_INPUT').field).toBe('end');
    expect(expectCode(() => editFollowing(doc, id, '2026-03-16', { end: '2026-03-26' }, ctx()), 'INVALID_INPUT').field).toBe('end');
    // Other edits of the same series go through, and so does an edit back within the period.
    updateEvent(doc, id, { title: 'Camp', end: '2026-03-09' }, ctx());
    editOccurrence(doc, id, '2026-03-09', { end: '2026-03-16' }, ctx());
    expect(getEvent(doc, id)?.end).toBe('2026-03-09');
  });

  it('skips on read a stored series whose occurrences overlap deep, and still reads a slight overlap', () => {
    const doc = new Y.Doc();
    const hostile = raw(doc, { start: '2020-03-04', duration: 'P3649D', rrule: 'FREQ=DAILY' });
    const legacy = raw(doc, { start: '2026-02-01', duration: 'P3D', rrule: 'FREQ=DAILY' });
    const page = queryOccurrences(doc, W, { limit: 10_000 });
    // Before: the hostile series alone placed 2,231 occurrences (all under way on March 1).
    expect(page.occurrences.filter((o) => o.eventId === hostile)).toHaveLength(0);
    expect(page.skipped).toEqual([expect.objectContaining({ eventId: hostile, code: 'UNREADABLE_EVENT', field: 'duration' })]);
    // Three days each, daily: three under way at the window's start (Feb 27, 28 and Mar 1, which starts at
    // midnight in Berlin, 23:00 UTC), then one a day to April 12 (22:00 UTC on the 11th).
    const mine = page.occurrences.filter((o) => o.eventId === legacy);
    expect(mine.slice(0, 3).map((o) => o.occKey)).toEqual(['2026-02-27', '2026-02-28', '2026-03-01']);
    expect(mine).toHaveLength(3 + 42);
  });

  it('still shows a legitimate multi-day occurrence under way at the window start', () => {
    const doc = new Y.Doc();
    const id = createEvent(doc, { title: 'trip', start: '2026-02-06', end: '2026-02-09', rrule: 'FREQ=WEEKLY' }, ctx());
    // Fri Feb 27 – Mon Mar 2 (exclusive) is under way on Sunday March 1.
    const got = occurrencesBetween(doc, window('2026-03-01T12:00:00Z', '2026-03-02T00:00:00Z', 'UTC'));
    expect(got.map((o) => [o.eventId, o.start, o.end])).toEqual([[id, '2026-02-27', '2026-03-02']]);
  });
});

describe('overrides and parts flooding a series', () => {
  function series(doc: Y.Doc): string {
    return createEvent(doc, { title: 'x', start: '2026-01-05T09:00', end: '2026-01-05T10:00', tz: 'Europe/Berlin', rrule: 'FREQ=DAILY' }, ctx());
  }
  /** `n` raw overrides moving the occurrences from `from` on by two hours. */
  function moves(doc: Y.Doc, id: string, from: string, n: number): void {
    const ov = evMap(doc, id).get('ov') as Y.Map<unknown>;
    const d0 = Date.parse(`${from}T00:00:00Z`);
    doc.transact(() => {
      for (let i = 0; i < n; i++) {
        const k = new Date(d0 + i * 86_400_000).toISOString().slice(0, 10);
        ov.set(`${k}|start`, `${k}T11:00`);
      }
    });
  }
  const time = (fn: () => unknown): number => {
    let best = Infinity;
    for (let r = 0; r < 3; r++) {
      const t = performance.now();
      fn();
      best = Math.min(best, performance.now() - t);
    }
    return best;
  };

  it('reads at most LIMITS.overrides overrides and LIMITS.segments parts', () => {
    const doc = new Y.Doc();
    const id = series(doc);
    moves(doc, id, '2026-01-06', LIMITS.overrides + 500);
    const segs = evMap(doc, id).get('segs') as Y.Map<unknown>;
    doc.transact(() => {
      for (let i = 0; i < LIMITS.segments + 50; i++) segs.set(`${new Date(Date.parse('2030-01-01') + i * 86_400_000).toISOString().slice(0, 10)}|title`, `part ${i}`);
    });
    const ev = getEvent(doc, id)!;
    expect(Object.keys(ev.overrides)).toHaveLength(LIMITS.overrides);
    expect(Object.keys(ev.overrides)[0]).toBe('2026-01-06'); // the first keys, as dates are kept
    expect(ev.segments).toHaveLength(LIMITS.segments);
  });

  it('places only the overrides that can reach the window: 1,000 moved occurrences far from it cost about what 10 do', () => {
    const small = new Y.Doc();
    moves(small, series(small), '2027-01-01', 10);
    const big = new Y.Doc();
    const id = series(big);
    moves(big, id, '2027-01-01', LIMITS.overrides);
    // And one moved from far away into the window, one moved out of it: both placed right.
    const ov = evMap(big, id).get('ov') as Y.Map<unknown>;
    ov.set('2027-01-01|start', '2026-03-10T07:00');
    ov.set('2026-03-11|start', '2028-06-01T07:00');
    const page = queryOccurrences(big, W, { limit: 100 });
    expect(page.occurrences.find((o) => o.occKey === '2027-01-01')?.start).toBe('2026-03-10T07:00');
    expect(page.occurrences.find((o) => o.occKey === '2026-03-11')).toBeUndefined();
    expect(page.occurrences.filter((o) => o.occKey === '2026-03-10')).toHaveLength(1);
    const anchor = time(() => queryOccurrences(small, W, { limit: 100 }));
    const flooded = time(() => queryOccurrences(big, W, { limit: 100 }));
    // Before: each override was placed on every query, about 0.3 ms each (300 ms against 10 ms).
    expect(flooded).toBeLessThan(anchor * 5 + 30);
  });

  it('refuses an edit of one more occurrence past LIMITS.overrides, and a split past LIMITS.segments', () => {
    const doc = new Y.Doc();
    const id = series(doc);
    const ov = evMap(doc, id).get('ov') as Y.Map<unknown>;
    const d0 = Date.parse('2026-01-06T00:00:00Z');
    doc.transact(() => {
      for (let i = 0; i < LIMITS.overrides; i++) ov.set(`${new Date(d0 + i * 86_400_000).toISOString().slice(0, 10)}|title`, `t${i}`);
    });
    const free = new Date(d0 + LIMITS.overrides * 86_400_000).toISOString().slice(0, 10);
    expect(expectCode(() => editOccurrence(doc, id, free, { title: 'one more' }, ctx()), 'TOO_MANY_ITEMS').field).toBe('occKey');
    expectCode(() => cancelOccurrence(doc, id, free, ctx()), 'TOO_MANY_ITEMS');
    editOccurrence(doc, id, '2026-01-06', { title: 'already edited' }, ctx());

    const doc2 = new Y.Doc();
    const id2 = series(doc2);
    const segs = evMap(doc2, id2).get('segs') as Y.Map<unknown>;
    doc2.transact(() => {
      for (let i = 0; i < LIMITS.segments; i++) segs.set(`${new Date(Date.parse('2026-02-01') + i * 86_400_000).toISOString().slice(0, 10)}|title`, `part ${i}`);
    });
    expectCode(() => editFollowing(doc2, id2, '2027-01-01', { title: 'later' }, ctx()), 'TOO_MANY_ITEMS');
  });
});
