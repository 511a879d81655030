import * as Y from 'yjs';
import { describe, expect, it } from 'vitest';
import {
  cancelOccurrence,
  createEvent,
  editAll,
  editOccurrence,
  getEvent,
  occurrencesBetween,
  resetOccurrence,
  restoreOccurrence,
} from '../src/index.js';
import { ctx, expectCode, window } from './helpers.js';

const march = window('2026-03-01T00:00:00Z', '2026-04-01T00:00:00Z', 'Europe/Berlin');

function weekly(): { doc: Y.Doc; id: string } {
  const doc = new Y.Doc();
  const id = createEvent(doc, { title: 'Choir', start: '2026-03-04T19:00', end: '2026-03-04T21:00', tz: 'Europe/Berlin', rrule: 'FREQ=WEEKLY;COUNT=4' }, ctx());
  return { doc, id };
}

describe('editing one occurrence', () => {
  it('overrides fields of that occurrence only', () => {
    const { doc, id } = weekly();
    editOccurrence(doc, id, '2026-03-11', { title: 'Choir concert', location: 'Church', participants: ['kim'] }, ctx());
    const occ = occurrencesBetween(doc, march);
    expect(occ.map((o) => [o.occKey, o.title, o.overridden])).toEqual([
      ['2026-03-04', 'Choir', false],
      ['2026-03-11', 'Choir concert', true],
      ['2026-03-18', 'Choir', false],
      ['2026-03-25', 'Choir', false],
    ]);
    expect(occ[1]).toMatchObject({ location: 'Church', participants: ['kim'] });
  });

  it('moves one occurrence to another day, keeping its length and its key', () => {
    const { doc, id } = weekly();
    editOccurrence(doc, id, '2026-03-11', { start: '2026-03-12T18:00' }, ctx());
    const occ = occurrencesBetween(doc, march);
    expect(occ.map((o) => [o.occKey, o.start, o.end])).toContainEqual(['2026-03-11', '2026-03-12T18:00', '2026-03-12T20:00']);
    expect(occ).toHaveLength(4);
  });

  it('finds an occurrence moved into the window from outside it', () => {
    const { doc, id } = weekly();
    editOccurrence(doc, id, '2026-03-25', { start: '2026-04-02T19:00' }, ctx());
    const april = occurrencesBetween(doc, window('2026-04-01T00:00:00Z', '2026-05-01T00:00:00Z', 'Europe/Berlin'));
    expect(april.map((o) => [o.occKey, o.start])).toEqual([['2026-03-25', '2026-04-02T19:00']]);
  });

  it('cancels one occurrence and restores it with its edits', () => {
    const { doc, id } = weekly();
    editOccurrence(doc, id, '2026-03-18', { title: 'Rehearsal' }, ctx());
    cancelOccurrence(doc, id, '2026-03-18', ctx());
    expect(occurrencesBetween(doc, march).map((o) => o.occKey)).toEqual(['2026-03-04', '2026-03-11', '2026-03-25']);
    restoreOccurrence(doc, id, '2026-03-18', ctx());
    expect(occurrencesBetween(doc, march).find((o) => o.occKey === '2026-03-18')?.title).toBe('Rehearsal');
    resetOccurrence(doc, id, '2026-03-18', ctx());
    expect(getEvent(doc, id)?.overrides).toEqual({});
  });

  it('keeps one-off edits when the whole series is edited, and pins nothing it was not asked to', () => {
    const { doc, id } = weekly();
    editOccurrence(doc, id, '2026-03-11', { title: 'Choir', location: 'Church' }, ctx());
    expect(getEvent(doc, id)?.overrides['2026-03-11']).toEqual({ location: 'Church' });
    editAll(doc, id, { title: 'Choir practice', location: 'Hall' }, ctx());
    const occ = occurrencesBetween(doc, march);
    expect(occ.map((o) => [o.title, o.location])).toEqual([
      ['Choir practice', 'Hall'],
      ['Choir practice', 'Church'],
      ['Choir practice', 'Hall'],
      ['Choir practice', 'Hall'],
    ]);
  });

  it('moves overrides with the series when "edit all" moves it to another weekday', () => {
    const { doc, id } = weekly();
    editOccurrence(doc, id, '2026-03-11', { title: 'Guest conductor' }, ctx());
    editAll(doc, id, { start: '2026-03-05T19:00' }, ctx());
    const occ = occurrencesBetween(doc, march);
    expect(getEvent(doc, id)?.rrule).toBe('FREQ=WEEKLY;COUNT=4');
    expect(occ.map((o) => [o.occKey, o.title])).toEqual([
      ['2026-03-05', 'Choir'],
      ['2026-03-12', 'Guest conductor'],
      ['2026-03-19', 'Choir'],
      ['2026-03-26', 'Choir'],
    ]);
  });

  it('refuses keys that are not occurrences and events that do not repeat', () => {
    const { doc, id } = weekly();
    expectCode(() => editOccurrence(doc, id, '2026-03-12', { title: 'x' }, ctx()), 'OCCURRENCE_NOT_FOUND');
    expectCode(() => editOccurrence(doc, id, '2026-04-01', { title: 'x' }, ctx()), 'OCCURRENCE_NOT_FOUND');
    expectCode(() => editOccurrence(doc, id, '2026-03-11', { start: '2026-03-11' }, ctx()), 'INVALID_DATE');
    expectCode(() => editOccurrence(doc, id, '2026-03-11', { end: '2026-03-11T18:00' }, ctx()), 'END_BEFORE_START');
    const single = createEvent(doc, { title: 'Once', start: '2026-03-04T19:00', end: '2026-03-04T20:00', tz: 'UTC' }, ctx());
    expectCode(() => cancelOccurrence(doc, single, '2026-03-04', ctx()), 'NOT_RECURRING');
  });
});
