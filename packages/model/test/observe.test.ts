import * as Y from 'yjs';
import { describe, expect, it } from 'vitest';
import { createEvent, deleteEvent, editOccurrence, observeEvents, purgeTrash, updateEvent } from '../src/index.js';
import type { EventsChange } from '../src/index.js';
import { ctx, replicas, sync } from './helpers.js';

const ev = { title: 'Yoga', start: '2026-03-02T07:00', end: '2026-03-02T08:00', tz: 'UTC', rrule: 'FREQ=DAILY' };

describe('observeEvents', () => {
  it('reports which events each transaction changed, however deep the change', () => {
    const doc = new Y.Doc();
    const seen: EventsChange[] = [];
    const stop = observeEvents(doc, (c) => seen.push(c));
    const a = createEvent(doc, ev, { ...ctx(), origin: 'ui' });
    const b = createEvent(doc, ev, ctx());
    updateEvent(doc, a, { participants: ['kim'], description: 'mat' }, ctx());
    editOccurrence(doc, b, '2026-03-03', { title: 'Hot yoga' }, ctx());
    deleteEvent(doc, a, ctx());
    purgeTrash(doc, { olderThanDays: 0, now: '2030-01-01T00:00:00Z' });
    expect(seen.map((c) => c.ids)).toEqual([[a], [b], [a], [b], [a], [a]]);
    expect(seen[0]).toMatchObject({ local: true, origin: 'ui' });
    stop();
    updateEvent(doc, b, { title: 'after stop' }, ctx());
    expect(seen).toHaveLength(6);
  });

  it('reports remote changes applied from another device as not local', () => {
    let id = '';
    const [a, b] = replicas((doc) => {
      id = createEvent(doc, ev, ctx());
    });
    const seen: EventsChange[] = [];
    observeEvents(b, (c) => seen.push(c));
    updateEvent(a, id, { location: 'Park' }, ctx());
    sync(a, b);
    expect(seen).toEqual([{ ids: [id], local: false, origin: null }]);
  });
});
