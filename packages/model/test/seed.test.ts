import * as Y from 'yjs';
import { describe, expect, it } from 'vitest';
import { createEvent, fromSeedEvent, getEvent, toSeedEvent } from '../src/index.js';
import type { SeedEvent } from '../src/index.js';
import { ctx, expectCode } from './helpers.js';

const seed: SeedEvent = {
  eventId: 'evt-42',
  eventTitle: 'Dinner',
  startTime: '2026-03-20T18:00:00Z',
  endTime: '2026-03-20T20:30:00Z',
  participants: ['user1', 'user2'],
};

describe('seed event mapping', () => {
  it('maps a seed event onto a single zoned event and back unchanged', () => {
    const doc = new Y.Doc();
    const id = createEvent(doc, fromSeedEvent(seed), ctx());
    expect(id).toBe('evt-42');
    const ev = getEvent(doc, id);
    expect(ev).toMatchObject({ title: 'Dinner', start: '2026-03-20T18:00', end: '2026-03-20T20:30', tz: 'UTC', rrule: null, participants: ['user1', 'user2'] });
    expect(toSeedEvent(ev!)).toEqual(seed);
  });

  it('reads the instants in a chosen zone and still gives the same instants back', () => {
    const doc = new Y.Doc();
    const id = createEvent(doc, fromSeedEvent(seed, { timeZone: 'America/New_York' }), ctx());
    const ev = getEvent(doc, id)!;
    expect(ev).toMatchObject({ start: '2026-03-20T14:00', end: '2026-03-20T16:30', tz: 'America/New_York' });
    expect(toSeedEvent(ev)).toEqual(seed);
  });

  it('accepts offsets and seconds, returning the same instants in UTC', () => {
    const withOffset = { ...seed, startTime: '2026-03-20T19:00:05+01:00', endTime: '2026-03-20T21:30:00+01:00' };
    const doc = new Y.Doc();
    const ev = getEvent(doc, createEvent(doc, fromSeedEvent(withOffset), ctx()))!;
    expect(ev.start).toBe('2026-03-20T18:00:05');
    expect(toSeedEvent(ev)).toMatchObject({ startTime: '2026-03-20T18:00:05Z', endTime: '2026-03-20T20:30:00Z' });
  });

  it('maps an event to the seed shape and back to the same event', () => {
    const doc = new Y.Doc();
    const id = createEvent(doc, { title: 'Swim', start: '2026-07-01T07:00', end: '2026-07-01T08:00', tz: 'Europe/Berlin', participants: ['kim'] }, ctx());
    const ev = getEvent(doc, id)!;
    const back = fromSeedEvent(toSeedEvent(ev), { timeZone: 'Europe/Berlin' });
    expect(back).toEqual({ id, title: 'Swim', start: '2026-07-01T07:00', end: '2026-07-01T08:00', tz: 'Europe/Berlin', participants: ['kim'] });
  });

  it('rejects a seed whose end precedes its start, and unreadable times', () => {
    const doc = new Y.Doc();
    expectCode(() => createEvent(doc, fromSeedEvent({ ...seed, endTime: '2026-03-20T17:00:00Z' }), ctx()), 'END_BEFORE_START');
    expect(expectCode(() => fromSeedEvent({ ...seed, startTime: 'soon' }), 'INVALID_DATE').field).toBe('startTime');
  });

  it('has no seed form for a recurring event', () => {
    const doc = new Y.Doc();
    const id = createEvent(doc, { ...fromSeedEvent(seed), id: undefined, rrule: 'FREQ=WEEKLY' }, ctx());
    expectCode(() => toSeedEvent(getEvent(doc, id)!), 'NOT_REPRESENTABLE');
  });
});
