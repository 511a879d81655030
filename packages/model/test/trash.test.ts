import * as Y from 'yjs';
import { describe, expect, it } from 'vitest';
import { createEvent, deleteEvent, getEvent, listEvents, listTrash, occurrencesBetween, purgeTrash, restoreEvent, updateEvent } from '../src/index.js';
import { ctx, expectCode, window } from './helpers.js';

const ev = { title: 'Yoga', start: '2026-03-02T07:00', end: '2026-03-02T08:00', tz: 'UTC', rrule: 'FREQ=DAILY' };

describe('trash', () => {
  it('soft-deletes a series: gone from views, listed in the trash, restorable as it was', () => {
    const doc = new Y.Doc();
    const id = createEvent(doc, ev, ctx());
    deleteEvent(doc, id, ctx('bob', '2026-03-05T10:00:00Z'));
    expect(occurrencesBetween(doc, window('2026-03-01T00:00:00Z', '2026-04-01T00:00:00Z'))).toEqual([]);
    expect(listEvents(doc)).toEqual([]);
    expect(listTrash(doc).map((e) => [e.id, e.deleted])).toEqual([[id, { at: '2026-03-05T10:00:00Z', by: 'bob' }]]);
    expectCode(() => updateEvent(doc, id, { title: 'x' }, ctx()), 'EVENT_DELETED');
    restoreEvent(doc, id, ctx());
    expect(getEvent(doc, id)).toMatchObject({ title: 'Yoga', deleted: null });
    expect(listTrash(doc)).toEqual([]);
  });

  it('purges only trash older than the given number of days', () => {
    const doc = new Y.Doc();
    const old = createEvent(doc, ev, ctx());
    const recent = createEvent(doc, ev, ctx());
    const live = createEvent(doc, ev, ctx());
    deleteEvent(doc, old, ctx('alice', '2026-03-01T00:00:00Z'));
    deleteEvent(doc, recent, ctx('alice', '2026-03-20T00:00:00Z'));
    expect(purgeTrash(doc, { olderThanDays: 30, now: '2026-03-31T00:00:00Z' })).toEqual([old]);
    expect(getEvent(doc, old)).toBeNull();
    expect(listTrash(doc).map((e) => e.id)).toEqual([recent]);
    expect(getEvent(doc, live)?.deleted).toBeNull();
    expect(purgeTrash(doc, { olderThanDays: 30, now: '2026-03-31T00:00:00Z' })).toEqual([]);
  });
});
