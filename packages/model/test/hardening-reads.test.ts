/**
 * Reads that must survive anything a Yjs client can write (issue 11, findings 3, 6 and 11):
 * a bad event is skipped and reported, never fatal to the room; window queries page; window
 * bounds stay in years 0001–9999; every value read is bounded.
 */
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import {
  createEvent,
  doubleBookings,
  getEvent,
  LIMITS,
  listEvents,
  occurrencesBetween,
  occurrencesOf,
  queryOccurrences,
  searchEvents,
} from '../src/index.js';
import { ctx, expectCode, window } from './helpers.js';

const YEAR = window('2026-01-01T00:00:00Z', '2027-01-01T00:00:00Z', 'Europe/Berlin');

function roomWithMarsEvent(): { doc: Y.Doc; good: string; bad: string } {
  const doc = new Y.Doc();
  const good = createEvent(doc, { title: 'Swim', start: '2026-03-03T17:00', end: '2026-03-03T18:00', tz: 'Europe/Berlin', rrule: 'FREQ=WEEKLY;COUNT=4' }, ctx());
  const bad = createEvent(doc, { title: 'Rover', start: '2026-03-04T09:00', end: '2026-03-04T10:00', tz: 'Europe/Berlin' }, ctx());
  // What a device with other zone data (or any Yjs client) may write.
  (doc.getMap('events').get(bad) as Y.Map<unknown>).set('tz', 'Mars/Olympus');
  return { doc, good, bad };
}

describe('an event the model cannot expand', () => {
  it('is left out of occurrencesBetween instead of throwing, and the other events still show', () => {
    const { doc, good } = roomWithMarsEvent();
    const occs = occurrencesBetween(doc, YEAR);
    expect(occs.map((o) => o.eventId)).toEqual([good, good, good, good]);
  });

  it('is reported by queryOccurrences with its id, a code and a reason naming the field', () => {
    const { doc, bad } = roomWithMarsEvent();
    const page = queryOccurrences(doc, YEAR);
    expect(page.occurrences).toHaveLength(4);
    expect(page.skipped).toEqual([{ eventId: bad, code: 'UNKNOWN_TIME_ZONE', field: 'tz', message: expect.stringMatching(/^tz .*Mars\/Olympus/) }]);
    expect(page.skippedCount).toBe(1);
  });

  it('does not make occurrencesOf, doubleBookings, listEvents, getEvent or searchEvents throw', () => {
    const { doc, bad } = roomWithMarsEvent();
    expect(occurrencesOf(getEvent(doc, bad)!, YEAR)).toEqual([]);
    expect(doubleBookings(doc, 'alice', YEAR)).toEqual([]);
    expect(listEvents(doc)).toHaveLength(2);
    expect(searchEvents(doc, 'rover').map((e) => e.id)).toEqual([bad]);
  });

  it('reports unreadable starts, rules, dates out of range and over-long events', () => {
    const doc = new Y.Doc();
    const ids = ['start', 'rrule', 'range', 'long'].map((title) =>
      createEvent(doc, { title, start: '2026-03-04T09:00', end: '2026-03-04T10:00', tz: 'UTC', rrule: 'FREQ=DAILY' }, ctx()),
    );
    const map = (i: number) => doc.getMap('events').get(ids[i]!) as Y.Map<unknown>;
    map(0).set('start', 'yesterday');
    map(1).set('rrule', 'FREQ=SECONDLY');
    map(2).set('start', '9999-12-31T23:00');
    map(2).set('duration', 'PT9000H');
    map(3).set('duration', 'P5000D');
    const page = queryOccurrences(doc, window('2026-03-01T00:00:00Z', '2026-04-01T00:00:00Z'));
    const codes = Object.fromEntries(page.skipped.map((s) => [s.eventId, s.code]));
    expect(codes[ids[0]!]).toBe('INVALID_DATE');
    expect(codes[ids[1]!]).toBe('INVALID_RRULE');
    expect(codes[ids[3]!]).toBe('INVALID_DATE');
    // Year 9999 plus 9000 h: no occurrence in March 2026, and no throw either way.
    expect(page.occurrences).toEqual([]);
    expect(() => queryOccurrences(doc, window('9999-12-01T00:00:00Z', '9999-12-31T23:59:59Z'))).not.toThrow();
  });
});

describe('times outside the years 0001 to 9999 written by a raw Yjs client', () => {
  it('give no occurrence outside the range: in its zone, in UTC or at its end', () => {
    const doc = new Y.Doc();
    const raw: Array<[string, Record<string, unknown>]> = [
      ['year 0000', { start: '0000-12-31T23:30', tz: 'UTC' }],
      ['year 0000 in UTC', { start: '0001-01-01T01:00', tz: 'Asia/Tokyo' }],
      ['year 10000 in UTC', { start: '9999-12-31T22:00', tz: 'America/New_York' }],
      ['ends in 10000', { start: '9999-12-31T20:00', duration: 'PT10H', tz: 'UTC' }],
      ['all-day ending in 10000', { start: '9999-12-31', duration: 'P1D', tz: null }],
      ['series crossing 9999', { start: '9999-12-29T09:00', tz: 'America/New_York', rrule: 'FREQ=DAILY;COUNT=5' }],
    ];
    for (const [title, fields] of raw) {
      const id = createEvent(doc, { title, start: '2026-03-04T09:00', end: '2026-03-04T10:00', tz: 'UTC' }, ctx());
      const ev = doc.getMap('events').get(id) as Y.Map<unknown>;
      for (const [k, v] of Object.entries(fields)) ev.set(k, v);
    }
    const inRange = (t: string) => /^(?!0000)\d{4}-/.test(t);
    const listed = [
      ...queryOccurrences(doc, window('0001-01-01T00:00:00Z', '0001-02-01T00:00:00Z')).occurrences,
      ...queryOccurrences(doc, window('9999-12-01T00:00:00Z', '9999-12-31T23:59:59Z')).occurrences,
    ];
    for (const o of listed) {
      for (const t of [o.start, o.end, o.originalStart, o.startInstant, o.endInstant]) expect(t, `${o.title}: ${t}`).toSatisfy(inRange);
    }
    // Only the series' occurrences in range: its COUNT=5 runs into 10000, where none exists.
    expect(listed.map((o) => `${o.title} ${o.occKey}`)).toEqual(['series crossing 9999 9999-12-29', 'series crossing 9999 9999-12-30', 'series crossing 9999 9999-12-31']);
  });
});

describe('window bounds', () => {
  it('refuses windows outside the years 0001 to 9999 with INVALID_DATE naming the field', () => {
    const doc = new Y.Doc();
    expect(expectCode(() => occurrencesBetween(doc, window('-271821-04-20T00:00:00Z', '2026-01-01T00:00:00Z')), 'INVALID_DATE').field).toBe('from');
    expect(expectCode(() => queryOccurrences(doc, window('2026-01-01T00:00:00Z', '+275760-09-13T00:00:00Z')), 'INVALID_DATE').field).toBe('to');
    expect(expectCode(() => occurrencesBetween(doc, window('0000-12-31T00:00:00Z', '0001-02-01T00:00:00Z')), 'INVALID_DATE').field).toBe('from');
    expect(occurrencesBetween(doc, window('0001-01-01T00:00:00Z', '0001-02-01T00:00:00Z'))).toEqual([]);
    expect(occurrencesBetween(doc, window('9999-12-01T00:00:00Z', '9999-12-31T23:59:59Z'))).toEqual([]);
  });
});

describe('paging', () => {
  function dense(): Y.Doc {
    const doc = new Y.Doc();
    for (let i = 0; i < 12; i++) {
      createEvent(doc, { title: `Daily ${i}`, start: `2026-01-01T0${i % 10}:00`, end: `2026-01-01T0${i % 10}:30`, tz: 'Europe/Berlin', rrule: 'FREQ=DAILY' }, ctx());
    }
    // One long event under way at the window's start, and one moved far by an override.
    createEvent(doc, { title: 'Trip', start: '2025-12-20', end: '2026-01-10' }, ctx());
    return doc;
  }

  it('returns pages in start order whose concatenation is the whole listing', () => {
    const doc = dense();
    const w = window('2026-01-01T00:00:00Z', '2026-03-01T00:00:00Z', 'Europe/Berlin');
    const all = occurrencesBetween(doc, w);
    expect(all.length).toBe(12 * 59 + 1);
    const seen = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page = queryOccurrences(doc, w, { limit: 50, cursor });
      expect(page.occurrences.length).toBeLessThanOrEqual(50);
      seen.push(...page.occurrences);
      cursor = page.next;
      pages++;
    } while (cursor !== null && pages < 100);
    expect(seen).toEqual(all);
    expect(pages).toBe(Math.ceil(all.length / 50));
  });

  it('refuses a cursor it did not hand out and a limit out of range', () => {
    const doc = dense();
    expectCode(() => queryOccurrences(doc, YEAR, { cursor: 'not-a-cursor!' }), 'INVALID_INPUT');
    expectCode(() => queryOccurrences(doc, YEAR, { cursor: 'eyJ4IjoxfQ' }), 'INVALID_INPUT');
    // Well-formed but not handed out: a start that is not a whole millisecond.
    const forged = (startMs: number) => Buffer.from(encodeURIComponent(JSON.stringify([1, startMs, 'e', '2026-01-01']))).toString('base64url');
    expect(queryOccurrences(doc, YEAR, { cursor: forged(Date.parse('2026-06-01T00:00:00Z')) }).occurrences.length).toBeGreaterThan(0);
    expectCode(() => queryOccurrences(doc, YEAR, { cursor: forged(1.5) }), 'INVALID_INPUT');
    expectCode(() => queryOccurrences(doc, YEAR, { limit: 0 }), 'INVALID_INPUT');
    expectCode(() => queryOccurrences(doc, YEAR, { limit: 100_000 }), 'INVALID_INPUT');
  });
});

describe('values written outside the model', () => {
  it('are read bounded by the limits writes obey', () => {
    const doc = new Y.Doc();
    const id = createEvent(doc, { title: 'Big', start: '2026-03-04T09:00', end: '2026-03-04T10:00', tz: 'UTC' }, ctx());
    const ev = doc.getMap('events').get(id) as Y.Map<unknown>;
    doc.transact(() => {
      ev.set('title', 'x'.repeat(100_000));
      ev.set('location', 'y'.repeat(100_000));
      const who = ev.get('who') as Y.Map<unknown>;
      for (let i = 0; i < 1_000; i++) who.set(`member-${String(i).padStart(4, '0')}`, true);
      who.set('z'.repeat(10_000), true);
      const ex = ev.get('exdates') as Y.Map<unknown>;
      for (let i = 0; i < 2_000; i++) ex.set(`k${i}`, true);
    });
    const read = getEvent(doc, id)!;
    expect(read.title).toHaveLength(LIMITS.title);
    expect(read.location).toHaveLength(LIMITS.location);
    expect(read.participants).toHaveLength(LIMITS.participants);
    expect(read.participants.every((p) => p.length <= LIMITS.id)).toBe(true);
    expect(read.exdates.length).toBeLessThanOrEqual(LIMITS.dates);
    const [occ] = occurrencesBetween(doc, window('2026-03-04T00:00:00Z', '2026-03-05T00:00:00Z'));
    expect(occ!.participants).toHaveLength(LIMITS.participants);
    expect(JSON.stringify(occ).length).toBeLessThan(20_000);
  });
});
