/**
 * The time-range index (caldav/time-range.ts) against the model's own expansion, for events whose
 * stored shape is unusual: a one-off that still holds an override moving its start.
 */
import * as Y from 'yjs';
import { describe, expect, it } from 'vitest';
import { createEvent, editOccurrence, getEvent, occurrencesOf, updateEvent } from '@kith/model';
import { eventsInRange, occurrenceIndex } from '../src/caldav/time-range.js';
import type { DavObject } from '../src/caldav/object-catalog.js';

const ctx = { actor: 'anna', now: '2025-12-01T00:00:00Z' };
const wallMs = (wall: string) => Date.parse(`${wall}Z`);

describe('CalDAV time-range index', () => {
  it('answers a one-off whose override moved its only occurrence days later from the expansion, not a window around its start', () => {
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
    const found = (range: { from: string; to: string }) => [...eventsInRange(doc, new Map([[id, obj]]), range)];
    expect(found(january)).toEqual([id]);
    expect(found({ from: '2026-01-05T00:00:00Z', to: '2026-01-06T00:00:00Z' })).toEqual([id]);
    expect(found({ from: '2026-01-01T00:00:00Z', to: '2026-01-02T00:00:00Z' })).toEqual([]);
  });

  it('indexes a plain one-off at its instants, in its own zone', () => {
    const doc = new Y.Doc();
    const id = createEvent(doc, { title: 'Call', start: '2026-03-08T02:15', end: '2026-03-08T02:45', tz: 'America/New_York' }, ctx);
    const ev = getEvent(doc, id)!;
    const index = occurrenceIndex(ev, { from: wallMs(ev.start), to: wallMs(ev.end) });
    // 02:15 falls in the spring-forward gap: 03:15 EDT.
    expect([...index!].map((ms) => new Date(ms).toISOString())).toEqual(['2026-03-08T07:15:00.000Z', '2026-03-08T07:45:00.000Z']);
  });
});
