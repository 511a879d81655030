import * as Y from 'yjs';
import { describe, expect, it } from 'vitest';
import {
  cancelOccurrence,
  createEvent,
  deleteEvent,
  editOccurrence,
  getEvent,
  listEvents,
  moveEvent,
  occurrencesBetween,
  restoreEvent,
  updateEvent,
} from '../src/index.js';
import { ctx, replicas, sync, window } from './helpers.js';

const base = { title: 'Piano', start: '2026-03-03T16:00', end: '2026-03-03T17:00', tz: 'Europe/Berlin', participants: ['kim'] };

function shared(input = base): { a: Y.Doc; b: Y.Doc; id: string } {
  let id = '';
  const [a, b] = replicas((doc) => {
    id = createEvent(doc, input, ctx());
  });
  return { a, b, id };
}

describe('offline edits merging', () => {
  it('keeps both edits when two devices change different fields of one event offline', () => {
    const { a, b, id } = shared();
    updateEvent(a, id, { title: 'Piano lesson' }, ctx('alice'));
    updateEvent(b, id, { location: 'Music school' }, ctx('bob'));
    sync(a, b);
    for (const doc of [a, b]) expect(getEvent(doc, id)).toMatchObject({ title: 'Piano lesson', location: 'Music school' });
  });

  it('merges a move on one device with a resize on the other', () => {
    const { a, b, id } = shared();
    moveEvent(a, id, { start: '2026-03-03T17:00' }, ctx('alice'));
    updateEvent(b, id, { end: '2026-03-03T17:30' }, ctx('bob'));
    sync(a, b);
    expect(getEvent(a, id)).toMatchObject({ start: '2026-03-03T17:00', duration: 'PT1H30M', end: '2026-03-03T18:30' });
  });

  it('merges participants added on two devices as a set', () => {
    const { a, b, id } = shared();
    updateEvent(a, id, { participants: ['kim', 'lea'] }, ctx('alice'));
    updateEvent(b, id, { participants: ['kim', 'max'] }, ctx('bob'));
    sync(a, b);
    expect(getEvent(b, id)?.participants).toEqual(['kim', 'lea', 'max']);
  });

  it('merges description edits made in different places of the text', () => {
    const { a, b, id } = shared({ ...base, description: 'Bring notes.' });
    updateEvent(a, id, { description: 'Bring notes. Pay fee.' }, ctx('alice'));
    updateEvent(b, id, { description: 'Kim: Bring notes.' }, ctx('bob'));
    sync(a, b);
    expect(getEvent(a, id)?.description).toBe('Kim: Bring notes. Pay fee.');
  });

  it('keeps both edits to different fields of the same occurrence', () => {
    const { a, b, id } = shared({ ...base, rrule: 'FREQ=WEEKLY' });
    editOccurrence(a, id, '2026-03-10', { title: 'Recital' }, ctx('alice'));
    editOccurrence(b, id, '2026-03-10', { start: '2026-03-10T18:00' }, ctx('bob'));
    sync(a, b);
    const occ = occurrencesBetween(a, window('2026-03-10T00:00:00Z', '2026-03-11T00:00:00Z', 'Europe/Berlin'));
    expect(occ.map((o) => [o.title, o.start, o.end])).toEqual([['Recital', '2026-03-10T18:00', '2026-03-10T19:00']]);
  });

  it('does not let a delete swallow a concurrent edit: restoring shows it', () => {
    const { a, b, id } = shared();
    deleteEvent(a, id, ctx('alice'));
    updateEvent(b, id, { title: 'Piano (moved room)' }, ctx('bob'));
    sync(a, b);
    expect(listEvents(a)).toEqual([]);
    expect(getEvent(a, id)?.deleted).toMatchObject({ by: 'alice' });
    restoreEvent(a, id, ctx('alice'));
    sync(a, b);
    expect(getEvent(b, id)).toMatchObject({ title: 'Piano (moved room)', deleted: null });
  });

  it('keeps an edit to an occurrence that another device cancelled, for a later restore', () => {
    const { a, b, id } = shared({ ...base, rrule: 'FREQ=WEEKLY' });
    cancelOccurrence(a, id, '2026-03-10', ctx('alice'));
    editOccurrence(b, id, '2026-03-10', { location: 'Online' }, ctx('bob'));
    sync(a, b);
    expect(getEvent(a, id)?.overrides['2026-03-10']).toEqual({ location: 'Online', cancelled: true });
  });

  it('never loses an event created on two devices at once, because ids are random', () => {
    const [a, b] = replicas();
    const idA = createEvent(a, { ...base, title: 'From A' }, ctx('alice'));
    const idB = createEvent(b, { ...base, title: 'From B' }, ctx('bob'));
    sync(a, b);
    expect(idA).not.toBe(idB);
    expect(listEvents(a).map((e) => e.title).sort()).toEqual(['From A', 'From B']);
  });
});
