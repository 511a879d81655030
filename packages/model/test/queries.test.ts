import * as Y from 'yjs';
import { describe, expect, it } from 'vitest';
import { createEvent, deleteEvent, doubleBookings, editOccurrence, searchEvents } from '../src/index.js';
import { ctx, window } from './helpers.js';

const at = (start: string, end: string) => ({ start, end, tz: 'Europe/Paris' });

describe('searchEvents', () => {
  it('matches title, description and location ignoring case and accents', () => {
    const doc = new Y.Doc();
    createEvent(doc, { title: 'Café with Zoë', ...at('2026-03-02T10:00', '2026-03-02T11:00') }, ctx());
    createEvent(doc, { title: 'Dentist', location: 'Rue de l’Église', ...at('2026-03-03T10:00', '2026-03-03T11:00') }, ctx());
    createEvent(doc, { title: 'Call', description: 'Agenda: CRÈME brûlée recipe', ...at('2026-03-04T10:00', '2026-03-04T11:00') }, ctx());
    const titles = (q: string) => searchEvents(doc, q).map((e) => e.title);
    expect(titles('cafe')).toEqual(['Café with Zoë']);
    expect(titles('ZOE')).toEqual(['Café with Zoë']);
    expect(titles('eglise')).toEqual(['Dentist']);
    expect(titles('creme BRULEE')).toEqual(['Call']);
    expect(titles('creme dentist')).toEqual([]);
    expect(titles('  ')).toEqual([]);
  });

  it('finds text in a one-off occurrence edit and leaves out the trash unless asked', () => {
    const doc = new Y.Doc();
    const id = createEvent(doc, { title: 'Choir', rrule: 'FREQ=WEEKLY', ...at('2026-03-02T19:00', '2026-03-02T20:00') }, ctx());
    editOccurrence(doc, id, '2026-03-09', { title: 'Choir — Généralprobe' }, ctx());
    expect(searchEvents(doc, 'generalprobe').map((e) => e.id)).toEqual([id]);
    deleteEvent(doc, id, ctx());
    expect(searchEvents(doc, 'choir')).toEqual([]);
    expect(searchEvents(doc, 'choir', { includeDeleted: true })).toHaveLength(1);
  });
});

describe('doubleBookings', () => {
  it('reports overlapping occurrences of events the member takes part in', () => {
    const doc = new Y.Doc();
    createEvent(doc, { title: 'Swim', participants: ['kim'], rrule: 'FREQ=WEEKLY', ...at('2026-03-02T17:00', '2026-03-02T18:00') }, ctx());
    createEvent(doc, { title: 'Piano', participants: ['kim', 'lea'], ...at('2026-03-09T17:30', '2026-03-09T18:30') }, ctx());
    // Touching end-to-start is not a clash.
    createEvent(doc, { title: 'Dinner', participants: ['kim'], ...at('2026-03-09T18:30', '2026-03-09T19:30') }, ctx());
    // Someone else's clash is not Kim's.
    createEvent(doc, { title: 'Meeting', participants: ['lea'], ...at('2026-03-02T17:00', '2026-03-02T18:00') }, ctx());
    // All-day events do not count.
    createEvent(doc, { title: 'Holiday', participants: ['kim'], start: '2026-03-09', end: '2026-03-10' }, ctx());
    const clashes = doubleBookings(doc, 'kim', window('2026-03-01T00:00:00Z', '2026-03-31T00:00:00Z', 'Europe/Paris'));
    expect(clashes.map((c) => [c.first.title, c.first.start, c.second.title, c.second.start])).toEqual([
      ['Swim', '2026-03-09T17:00', 'Piano', '2026-03-09T17:30'],
    ]);
    expect(doubleBookings(doc, 'lea', window('2026-03-01T00:00:00Z', '2026-03-31T00:00:00Z', 'Europe/Paris'))).toEqual([]);
  });

  it('follows a one-off change of participants', () => {
    const doc = new Y.Doc();
    const swim = createEvent(doc, { title: 'Swim', participants: ['kim'], rrule: 'FREQ=WEEKLY', ...at('2026-03-02T17:00', '2026-03-02T18:00') }, ctx());
    createEvent(doc, { title: 'Piano', participants: ['kim'], ...at('2026-03-09T17:30', '2026-03-09T18:30') }, ctx());
    editOccurrence(doc, swim, '2026-03-09', { participants: ['lea'] }, ctx());
    expect(doubleBookings(doc, 'kim', window('2026-03-01T00:00:00Z', '2026-03-31T00:00:00Z', 'Europe/Paris'))).toEqual([]);
  });
});
