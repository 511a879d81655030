import * as Y from 'yjs';
import { describe, expect, it } from 'vitest';
import { createEvent, getEvent, listEvents, moveEvent, occurrencesBetween, updateEvent } from '../src/index.js';
import { ctx, expectCode, window } from './helpers.js';

const dinner = {
  title: 'Dinner',
  start: '2026-03-20T19:00',
  end: '2026-03-20T21:30',
  tz: 'Europe/Berlin',
  participants: ['bob', 'alice'],
};

describe('createEvent', () => {
  it('stores the event under a fresh random UUID and reads it back field by field', () => {
    const doc = new Y.Doc();
    const id = createEvent(doc, { ...dinner, location: 'Luigi’s', color: '#ff8800', reminders: [{ minutesBefore: 30 }] }, ctx());
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const ev = getEvent(doc, id);
    expect(ev).toMatchObject({
      title: 'Dinner',
      location: 'Luigi’s',
      allDay: false,
      start: '2026-03-20T19:00',
      end: '2026-03-20T21:30',
      duration: 'PT2H30M',
      tz: 'Europe/Berlin',
      participants: ['alice', 'bob'],
      color: '#ff8800',
      rrule: null,
      createdBy: 'alice',
      createdAt: '2026-03-01T12:00:00Z',
      updatedAt: '2026-03-01T12:00:00Z',
      deleted: null,
    });
    expect(ev?.reminders).toEqual([{ id: expect.any(String), minutesBefore: 30, for: null }]);
  });

  it('stores description as a Y.Text so concurrent edits in different places merge', () => {
    const doc = new Y.Doc();
    const id = createEvent(doc, { ...dinner, description: 'Bring wine' }, ctx());
    const map = doc.getMap<Y.Map<unknown>>('events').get(id);
    expect(map?.get('description')).toBeInstanceOf(Y.Text);
    expect(getEvent(doc, id)?.description).toBe('Bring wine');
  });

  it('refuses an id that already exists', () => {
    const doc = new Y.Doc();
    createEvent(doc, { ...dinner, id: 'imported-1' }, ctx());
    expectCode(() => createEvent(doc, { ...dinner, id: 'imported-1' }, ctx()), 'EVENT_EXISTS');
    expect(listEvents(doc)).toHaveLength(1);
  });

  it('keeps separate start and end zones (a flight) and shows the end in the end zone', () => {
    const doc = new Y.Doc();
    const id = createEvent(
      doc,
      { title: 'Flight', start: '2026-06-01T18:00', tz: 'America/New_York', end: '2026-06-02T07:00', endTz: 'Europe/London' },
      ctx(),
    );
    const ev = getEvent(doc, id);
    expect(ev).toMatchObject({ duration: 'PT8H', end: '2026-06-02T07:00', endTz: 'Europe/London' });
    const [occ] = occurrencesBetween(doc, window('2026-06-01T00:00:00Z', '2026-06-03T00:00:00Z'));
    expect(occ).toMatchObject({ startInstant: '2026-06-01T22:00:00Z', endInstant: '2026-06-02T06:00:00Z' });
  });

  it('writes nothing when validation fails', () => {
    const doc = new Y.Doc();
    expectCode(() => createEvent(doc, { ...dinner, end: '2026-03-20T18:00' }, ctx()), 'END_BEFORE_START');
    expect(doc.getMap('events').size).toBe(0);
  });
});

describe('updateEvent', () => {
  it('applies a partial patch and records who changed it and when', () => {
    const doc = new Y.Doc();
    const id = createEvent(doc, dinner, ctx());
    updateEvent(doc, id, { title: 'Late dinner', participants: ['alice', 'carol'] }, ctx('bob', '2026-03-02T08:00:00Z'));
    expect(getEvent(doc, id)).toMatchObject({
      title: 'Late dinner',
      start: '2026-03-20T19:00',
      participants: ['alice', 'carol'],
      createdBy: 'alice',
      updatedBy: 'bob',
      updatedAt: '2026-03-02T08:00:00Z',
    });
  });

  it('changes only the duration when given only an end', () => {
    const doc = new Y.Doc();
    const id = createEvent(doc, dinner, ctx());
    updateEvent(doc, id, { end: '2026-03-20T23:00' }, ctx());
    expect(getEvent(doc, id)).toMatchObject({ start: '2026-03-20T19:00', end: '2026-03-20T23:00', duration: 'PT4H' });
  });

  it('turns a timed event into an all-day one with a one-day default length', () => {
    const doc = new Y.Doc();
    const id = createEvent(doc, dinner, ctx());
    updateEvent(doc, id, { start: '2026-03-20' }, ctx());
    expect(getEvent(doc, id)).toMatchObject({ allDay: true, start: '2026-03-20', end: '2026-03-21', duration: 'P1D' });
  });
});

describe('moveEvent', () => {
  it('shifts start and end together, keeping the duration', () => {
    const doc = new Y.Doc();
    const id = createEvent(doc, dinner, ctx());
    moveEvent(doc, id, { start: '2026-03-21T18:15' }, ctx());
    expect(getEvent(doc, id)).toMatchObject({ start: '2026-03-21T18:15', end: '2026-03-21T20:45', duration: 'PT2H30M' });
  });

  it('keeps the elapsed duration across a DST change', () => {
    const doc = new Y.Doc();
    const id = createEvent(doc, { title: 'Night shift', start: '2026-03-27T22:00', end: '2026-03-28T06:00', tz: 'Europe/Berlin' }, ctx());
    moveEvent(doc, id, { start: '2026-03-28T22:00' }, ctx());
    // 8 hours of work; the clocks jump forward at 02:00 on the 29th, so it ends at 07:00 local.
    expect(getEvent(doc, id)).toMatchObject({ duration: 'PT8H', end: '2026-03-29T07:00' });
  });

  it('re-reads the wall clock in another zone when a zone is given', () => {
    const doc = new Y.Doc();
    const id = createEvent(doc, dinner, ctx());
    moveEvent(doc, id, { start: '2026-03-20T19:00', tz: 'Asia/Tokyo' }, ctx());
    const [occ] = occurrencesBetween(doc, window('2026-03-20T00:00:00Z', '2026-03-21T00:00:00Z'));
    expect(occ?.startInstant).toBe('2026-03-20T10:00:00Z');
  });
});
