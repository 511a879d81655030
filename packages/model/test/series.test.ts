import * as Y from 'yjs';
import { describe, expect, it } from 'vitest';
import {
  cancelOccurrence,
  createEvent,
  deleteFollowing,
  editFollowing,
  editOccurrence,
  exportSeries,
  getEvent,
  occurrencesBetween,
  orphanedKeys,
  updateEvent,
} from '../src/index.js';
import { ctx, expectCode, replicas, sync, window } from './helpers.js';

const spring = window('2026-03-01T00:00:00Z', '2026-07-01T00:00:00Z', 'America/New_York');

/** Weekly on Tuesdays from 2026-03-03, ten times: 03-03 … 05-05. */
function tenTuesdays(doc: Y.Doc, rrule = 'FREQ=WEEKLY;BYDAY=TU;COUNT=10'): string {
  return createEvent(doc, { title: 'Soccer', start: '2026-03-03T17:00', end: '2026-03-03T18:30', tz: 'America/New_York', rrule }, ctx());
}

const view = (doc: Y.Doc) => occurrencesBetween(doc, spring).map((o) => `${o.start} ${o.title}`);

describe('"this and following"', () => {
  it('splits a COUNT series so both parts together keep COUNT occurrences', () => {
    const doc = new Y.Doc();
    const id = tenTuesdays(doc);
    // Cancelling an earlier one must not change the split: COUNT applies before EXDATE.
    cancelOccurrence(doc, id, '2026-03-10', ctx());
    editFollowing(doc, id, '2026-03-31', { title: 'Soccer (spring)', start: '2026-03-31T18:00' }, ctx());
    expect(view(doc)).toEqual([
      '2026-03-03T17:00 Soccer',
      '2026-03-17T17:00 Soccer',
      '2026-03-24T17:00 Soccer',
      '2026-03-31T18:00 Soccer (spring)',
      '2026-04-07T18:00 Soccer (spring)',
      '2026-04-14T18:00 Soccer (spring)',
      '2026-04-21T18:00 Soccer (spring)',
      '2026-04-28T18:00 Soccer (spring)',
      '2026-05-05T18:00 Soccer (spring)',
    ]);
    expect(getEvent(doc, id)?.segments).toEqual([
      { splitKey: '2026-03-31', fields: { title: 'Soccer (spring)', start: '2026-03-31T18:00', rrule: 'FREQ=WEEKLY;BYDAY=TU;COUNT=6' } },
    ]);
  });

  it('exports the split as UNTIL-or-COUNT on the old series plus a new series, as Google needs', () => {
    const doc = new Y.Doc();
    const counted = tenTuesdays(doc);
    editFollowing(doc, counted, '2026-03-31', { title: 'Later' }, ctx());
    expect(exportSeries(getEvent(doc, counted)!).map((s) => [s.start, s.rrule, s.title])).toEqual([
      ['2026-03-03T17:00', 'FREQ=WEEKLY;BYDAY=TU;COUNT=4', 'Soccer'],
      ['2026-03-31T17:00', 'FREQ=WEEKLY;BYDAY=TU;COUNT=6', 'Later'],
    ]);
    const open = tenTuesdays(doc, 'FREQ=WEEKLY;BYDAY=TU');
    editFollowing(doc, open, '2026-03-31', { title: 'Later' }, ctx());
    // UNTIL is the last kept occurrence, in UTC (17:00 EDT on 03-24).
    expect(exportSeries(getEvent(doc, open)!).map((s) => s.rrule)).toEqual(['FREQ=WEEKLY;BYDAY=TU;UNTIL=20260324T210000Z', 'FREQ=WEEKLY;BYDAY=TU']);
  });

  it('keeps overrides after a same-day split on their occurrences, and moves them when the split moves the day', () => {
    const doc = new Y.Doc();
    const id = tenTuesdays(doc);
    editOccurrence(doc, id, '2026-03-10', { title: 'Before split' }, ctx());
    editOccurrence(doc, id, '2026-04-14', { title: 'Tournament' }, ctx());
    cancelOccurrence(doc, id, '2026-04-21', ctx());
    editFollowing(doc, id, '2026-03-31', { start: '2026-04-02T17:00' }, ctx());
    const ev = getEvent(doc, id)!;
    expect(ev.segments[0]?.fields.rrule).toBe('FREQ=WEEKLY;BYDAY=TH;COUNT=6');
    expect(Object.keys(ev.overrides)).toEqual(['2026-03-10', '2026-04-16', '2026-04-23']);
    expect(view(doc)).toEqual([
      '2026-03-03T17:00 Soccer',
      '2026-03-10T17:00 Before split',
      '2026-03-17T17:00 Soccer',
      '2026-03-24T17:00 Soccer',
      '2026-04-02T17:00 Soccer',
      '2026-04-09T17:00 Soccer',
      '2026-04-16T17:00 Tournament',
      '2026-04-30T17:00 Soccer',
      '2026-05-07T17:00 Soccer',
    ]);
    expect(orphanedKeys(ev)).toEqual([]);
  });

  it('edits the whole series when applied at the first occurrence', () => {
    const doc = new Y.Doc();
    const id = tenTuesdays(doc);
    editFollowing(doc, id, '2026-03-03', { title: 'Football' }, ctx());
    expect(getEvent(doc, id)).toMatchObject({ title: 'Football', segments: [] });
  });

  it('edits an existing segment again at its first occurrence instead of splitting twice', () => {
    const doc = new Y.Doc();
    const id = tenTuesdays(doc);
    editFollowing(doc, id, '2026-03-31', { title: 'Later' }, ctx());
    editFollowing(doc, id, '2026-03-31', { location: 'Field 2' }, ctx());
    const ev = getEvent(doc, id)!;
    expect(ev.segments).toHaveLength(1);
    expect(ev.segments[0]?.fields).toMatchObject({ title: 'Later', location: 'Field 2', rrule: 'FREQ=WEEKLY;BYDAY=TU;COUNT=6' });
  });

  it('merges two offline splits of one series into three parts with no gap, overlap or extra occurrence', () => {
    let id = '';
    const [a, b] = replicas((doc) => {
      id = tenTuesdays(doc);
    });
    editFollowing(a, id, '2026-03-24', { title: 'Part B' }, ctx('alice'));
    editFollowing(b, id, '2026-04-14', { location: 'Gym' }, ctx('bob'));
    sync(a, b);
    const occ = occurrencesBetween(a, spring);
    expect(occ).toHaveLength(10);
    expect(occ.map((o) => [o.occKey, o.title, o.location])).toEqual([
      ['2026-03-03', 'Soccer', ''],
      ['2026-03-10', 'Soccer', ''],
      ['2026-03-17', 'Soccer', ''],
      ['2026-03-24', 'Part B', ''],
      ['2026-03-31', 'Part B', ''],
      ['2026-04-07', 'Part B', ''],
      ['2026-04-14', 'Part B', 'Gym'],
      ['2026-04-21', 'Part B', 'Gym'],
      ['2026-04-28', 'Part B', 'Gym'],
      ['2026-05-05', 'Part B', 'Gym'],
    ]);
    expect(exportSeries(getEvent(b, id)!).map((s) => s.rrule)).toEqual([
      'FREQ=WEEKLY;BYDAY=TU;COUNT=3',
      'FREQ=WEEKLY;BYDAY=TU;COUNT=3',
      'FREQ=WEEKLY;BYDAY=TU;COUNT=4',
    ]);
  });

  it('"edit all" reaches fields that a segment had set', () => {
    const doc = new Y.Doc();
    const id = tenTuesdays(doc);
    editFollowing(doc, id, '2026-03-31', { title: 'Later' }, ctx());
    updateEvent(doc, id, { title: 'Soccer club' }, ctx());
    expect(new Set(occurrencesBetween(doc, spring).map((o) => o.title))).toEqual(new Set(['Soccer club']));
  });

  it('deletes this and following occurrences', () => {
    const doc = new Y.Doc();
    const id = tenTuesdays(doc);
    deleteFollowing(doc, id, '2026-03-24', ctx());
    expect(occurrencesBetween(doc, spring).map((o) => o.occKey)).toEqual(['2026-03-03', '2026-03-10', '2026-03-17']);
    expect(exportSeries(getEvent(doc, id)!).map((s) => s.rrule)).toEqual(['FREQ=WEEKLY;BYDAY=TU;COUNT=3']);
    deleteFollowing(doc, id, '2026-03-03', ctx());
    expect(getEvent(doc, id)?.deleted).not.toBeNull();
  });

  it('refuses a split that would run into the previous occurrence', () => {
    const doc = new Y.Doc();
    const id = tenTuesdays(doc);
    expectCode(() => editFollowing(doc, id, '2026-03-31', { start: '2026-03-24T19:00' }, ctx()), 'INVALID_SPLIT');
    expectCode(() => editFollowing(doc, id, '2026-03-30', { title: 'x' }, ctx()), 'OCCURRENCE_NOT_FOUND');
  });
});
