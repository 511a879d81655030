/**
 * Named conflict scenarios: two members edit the same room offline, then their devices sync. Each
 * scenario runs twice, once with each member's Yjs client id the higher one, because a same-field
 * conflict is won by the higher client id (not by the later edit). docs/conflicts.md describes the
 * same table in prose.
 */
import * as Y from 'yjs';
import { Temporal } from 'temporal-polyfill';
import { describe, expect, it } from 'vitest';
import {
  cancelOccurrence,
  createEvent,
  deleteEvent,
  deleteFollowing,
  editFollowing,
  editOccurrence,
  exportSeries,
  getEvent,
  listEvents,
  listTrash,
  moveEvent,
  occurrencesBetween,
  orphanedKeys,
  purgeTrash,
  restoreEvent,
  restoreOccurrence,
  updateEvent,
} from '../src/index.js';
import type { CalendarEvent, EventInput, OpContext } from '../src/index.js';
import { exchange, expectConverged, pair } from './replicas.js';

/** The shared event or series of every scenario. */
const EV = 'shared-event';

/** Member A (kim) and member B (lea) edit at slightly different times; the time decides nothing. */
const A: OpContext = { actor: 'kim', now: '2026-03-01T10:00:00Z' };
const B: OpContext = { actor: 'lea', now: '2026-03-01T10:05:00Z' };
const SETUP: OpContext = { actor: 'ola', now: '2026-02-20T09:00:00Z' };

const BERLIN = 'Europe/Berlin';
const NEW_YORK = 'America/New_York';
const spring = (timeZone = BERLIN) => ({ from: '2026-03-01T00:00:00Z', to: '2026-06-01T00:00:00Z', timeZone });

/** "2026-03-10 2026-03-10T18:00→2026-03-10T19:00 Swim gala": key, local start and end, title. */
function agenda(doc: Y.Doc, timeZone = BERLIN): string[] {
  return occurrencesBetween(doc, spring(timeZone)).map((o) => `${o.occKey} ${o.start}→${o.end} ${o.title}`);
}

function event(doc: Y.Doc): CalendarEvent {
  const ev = getEvent(doc, EV);
  if (!ev) throw new Error(`${EV} is gone`);
  return ev;
}

const piano: EventInput = { id: EV, title: 'Piano', start: '2026-03-03T16:00', end: '2026-03-03T17:00', tz: BERLIN, participants: ['kim', 'lea'] };
/** Tuesdays 17:00–18:00 in Berlin, six times: 03-03 … 04-07 (Berlin's clocks change on 03-29). */
const swim: EventInput = { id: EV, title: 'Swim', start: '2026-03-03T17:00', end: '2026-03-03T18:00', tz: BERLIN, rrule: 'FREQ=WEEKLY;BYDAY=TU;COUNT=6' };
/** Tuesdays 17:00–18:30 in Berlin, ten times: 03-03 … 05-05. */
const soccer: EventInput = { id: EV, title: 'Soccer', start: '2026-03-03T17:00', end: '2026-03-03T18:30', tz: BERLIN, rrule: 'FREQ=WEEKLY;BYDAY=TU;COUNT=10' };

const create = (input: EventInput) => (doc: Y.Doc) => {
  createEvent(doc, input, SETUP);
};

type Winner = 'a' | 'b';

interface Scenario {
  name: string;
  /** The expected outcome, in words; it names the test. */
  outcome: string;
  /** The state both devices had when they went offline. */
  setup: (doc: Y.Doc) => void;
  /** What member A does offline on device A. */
  a: (doc: Y.Doc) => void;
  /** What member B does offline on device B. */
  b: (doc: Y.Doc) => void;
  /** Checked on each device after the sync; `winner` is whose device has the higher client id. */
  expect: (doc: Y.Doc, winner: Winner) => void;
}

const SCENARIOS: Scenario[] = [
  {
    name: 'one renames an event while the other moves it',
    outcome: 'both survive: the new title at the new time',
    setup: create(piano),
    a: (doc) => updateEvent(doc, EV, { title: 'Piano lesson' }, A),
    b: (doc) => moveEvent(doc, EV, { start: '2026-03-05T17:30' }, B),
    expect: (doc) => {
      expect(event(doc)).toMatchObject({ title: 'Piano lesson', start: '2026-03-05T17:30', end: '2026-03-05T18:30' });
    },
  },
  {
    name: 'one moves an event while the other makes it longer',
    outcome: 'both survive: start and duration are separate fields',
    setup: create(piano),
    a: (doc) => moveEvent(doc, EV, { start: '2026-03-03T18:00' }, A),
    b: (doc) => updateEvent(doc, EV, { end: '2026-03-03T17:30' }, B),
    expect: (doc) => {
      expect(event(doc)).toMatchObject({ start: '2026-03-03T18:00', duration: 'PT1H30M', end: '2026-03-03T19:30' });
    },
  },
  {
    name: 'both rename the same event',
    outcome: 'one title wins everywhere: the one written on the device with the higher client id',
    setup: create(piano),
    a: (doc) => updateEvent(doc, EV, { title: 'Piano lesson' }, A),
    b: (doc) => updateEvent(doc, EV, { title: 'Piano recital' }, B),
    expect: (doc, winner) => {
      expect(event(doc).title).toBe(winner === 'a' ? 'Piano lesson' : 'Piano recital');
    },
  },
  {
    name: 'one deletes an event while the other edits it',
    outcome: 'the event is in the trash with the edit, and a restore shows it',
    setup: create(piano),
    a: (doc) => deleteEvent(doc, EV, A),
    b: (doc) => updateEvent(doc, EV, { location: 'Music school' }, B),
    expect: (doc) => {
      expect(listEvents(doc)).toEqual([]);
      expect(listTrash(doc).map((e) => [e.id, e.location, e.deleted?.by])).toEqual([[EV, 'Music school', 'kim']]);
      restoreEvent(doc, EV, B);
      expect(agenda(doc)).toEqual(['2026-03-03 2026-03-03T16:00→2026-03-03T17:00 Piano']);
      expect(event(doc).location).toBe('Music school');
    },
  },
  {
    name: 'one deletes a series while the other edits one occurrence',
    outcome: 'the series is in the trash with the occurrence edit, which shows again after a restore',
    setup: create(swim),
    a: (doc) => deleteEvent(doc, EV, A),
    b: (doc) => editOccurrence(doc, EV, '2026-03-10', { title: 'Swim gala', start: '2026-03-10T18:00' }, B),
    expect: (doc) => {
      expect(agenda(doc)).toEqual([]);
      expect(listTrash(doc)[0]?.overrides).toEqual({ '2026-03-10': { title: 'Swim gala', start: '2026-03-10T18:00' } });
      restoreEvent(doc, EV, A);
      expect(agenda(doc)[1]).toBe('2026-03-10 2026-03-10T18:00→2026-03-10T19:00 Swim gala');
    },
  },
  {
    name: 'one renames the whole series ("all events") while the other moves one occurrence',
    outcome: 'every occurrence gets the new title; the moved one keeps its new time',
    setup: create(swim),
    a: (doc) => updateEvent(doc, EV, { title: 'Swimming' }, A),
    b: (doc) => editOccurrence(doc, EV, '2026-03-17', { start: '2026-03-17T18:30' }, B),
    expect: (doc) => {
      expect(agenda(doc)).toEqual([
        '2026-03-03 2026-03-03T17:00→2026-03-03T18:00 Swimming',
        '2026-03-10 2026-03-10T17:00→2026-03-10T18:00 Swimming',
        '2026-03-17 2026-03-17T18:30→2026-03-17T19:30 Swimming',
        '2026-03-24 2026-03-24T17:00→2026-03-24T18:00 Swimming',
        '2026-03-31 2026-03-31T17:00→2026-03-31T18:00 Swimming',
        '2026-04-07 2026-04-07T17:00→2026-04-07T18:00 Swimming',
      ]);
    },
  },
  {
    name: 'both edit different fields of the same occurrence',
    outcome: 'both survive: each field of an occurrence is its own entry',
    setup: create(swim),
    a: (doc) => editOccurrence(doc, EV, '2026-03-10', { title: 'Swim gala' }, A),
    b: (doc) => editOccurrence(doc, EV, '2026-03-10', { location: 'City pool' }, B),
    expect: (doc) => {
      const occ = occurrencesBetween(doc, spring()).find((o) => o.occKey === '2026-03-10');
      expect(occ).toMatchObject({ title: 'Swim gala', location: 'City pool', start: '2026-03-10T17:00' });
    },
  },
  {
    name: 'both retitle the same occurrence',
    outcome: 'one title wins, by client id, as for an event',
    setup: create(swim),
    a: (doc) => editOccurrence(doc, EV, '2026-03-10', { title: 'Swim gala' }, A),
    b: (doc) => editOccurrence(doc, EV, '2026-03-10', { title: 'No swim: pool closed' }, B),
    expect: (doc, winner) => {
      expect(event(doc).overrides['2026-03-10']?.title).toBe(winner === 'a' ? 'Swim gala' : 'No swim: pool closed');
    },
  },
  {
    name: 'one cancels an occurrence while the other moves it',
    outcome: 'the occurrence stays cancelled (nowhere on the calendar); the move is kept and shows if it is restored',
    setup: create(swim),
    a: (doc) => cancelOccurrence(doc, EV, '2026-03-10', A),
    b: (doc) => editOccurrence(doc, EV, '2026-03-10', { start: '2026-03-11T17:00' }, B),
    expect: (doc) => {
      expect(agenda(doc).map((line) => line.slice(0, 10))).toEqual(['2026-03-03', '2026-03-17', '2026-03-24', '2026-03-31', '2026-04-07']);
      expect(event(doc).overrides['2026-03-10']).toEqual({ start: '2026-03-11T17:00', cancelled: true });
      restoreOccurrence(doc, EV, '2026-03-10', B);
      expect(agenda(doc)[1]).toBe('2026-03-10 2026-03-11T17:00→2026-03-11T18:00 Swim');
    },
  },
  {
    name: 'both split a series with "this and following" at different dates',
    outcome: 'three consecutive segments, no gap or overlap, and the total COUNT is kept',
    setup: create(soccer),
    a: (doc) => editFollowing(doc, EV, '2026-03-24', { title: 'Soccer (spring)' }, A),
    b: (doc) => editFollowing(doc, EV, '2026-04-14', { location: 'Gym' }, B),
    expect: (doc) => {
      const occ = occurrencesBetween(doc, spring());
      expect(occ.map((o) => `${o.occKey} ${o.title} ${o.location}`)).toEqual([
        '2026-03-03 Soccer ',
        '2026-03-10 Soccer ',
        '2026-03-17 Soccer ',
        '2026-03-24 Soccer (spring) ',
        '2026-03-31 Soccer (spring) ',
        '2026-04-07 Soccer (spring) ',
        '2026-04-14 Soccer (spring) Gym',
        '2026-04-21 Soccer (spring) Gym',
        '2026-04-28 Soccer (spring) Gym',
        '2026-05-05 Soccer (spring) Gym',
      ]);
      expect(exportSeries(event(doc)).map((s) => s.rrule)).toEqual(['FREQ=WEEKLY;BYDAY=TU;COUNT=3', 'FREQ=WEEKLY;BYDAY=TU;COUNT=3', 'FREQ=WEEKLY;BYDAY=TU;COUNT=4']);
    },
  },
  {
    name: 'both delete "this and following" at different dates',
    outcome: 'the series ends before the earlier of the two cuts',
    setup: create(soccer),
    a: (doc) => deleteFollowing(doc, EV, '2026-04-14', A),
    b: (doc) => deleteFollowing(doc, EV, '2026-03-24', B),
    expect: (doc) => {
      expect(agenda(doc).map((line) => line.slice(0, 10))).toEqual(['2026-03-03', '2026-03-10', '2026-03-17']);
      expect(exportSeries(event(doc)).map((s) => s.rrule)).toEqual(['FREQ=WEEKLY;BYDAY=TU;COUNT=3']);
    },
  },
  {
    name: 'one deletes "this and following" while the other edits an occurrence after the cut',
    outcome: 'the occurrence is deleted with the rest; the edit is kept in the data but not reported as orphaned',
    setup: create(soccer),
    a: (doc) => deleteFollowing(doc, EV, '2026-03-24', A),
    b: (doc) => editOccurrence(doc, EV, '2026-04-07', { title: 'Final' }, B),
    expect: (doc) => {
      expect(agenda(doc).map((line) => line.slice(0, 10))).toEqual(['2026-03-03', '2026-03-10', '2026-03-17']);
      expect(event(doc).overrides).toEqual({ '2026-04-07': { title: 'Final' } });
      expect(orphanedKeys(event(doc))).toEqual([]);
    },
  },
  {
    name: 'one renames the whole series while the other renames "this and following"',
    outcome: 'occurrences before the split get the series title, the split-off ones keep theirs',
    setup: create(soccer),
    a: (doc) => updateEvent(doc, EV, { title: 'Football' }, A),
    b: (doc) => editFollowing(doc, EV, '2026-04-14', { title: 'Soccer (summer)' }, B),
    expect: (doc) => {
      expect(occurrencesBetween(doc, spring()).map((o) => `${o.occKey} ${o.title}`)).toEqual([
        '2026-03-03 Football',
        '2026-03-10 Football',
        '2026-03-17 Football',
        '2026-03-24 Football',
        '2026-03-31 Football',
        '2026-04-07 Football',
        '2026-04-14 Soccer (summer)',
        '2026-04-21 Soccer (summer)',
        '2026-04-28 Soccer (summer)',
        '2026-05-05 Soccer (summer)',
      ]);
    },
  },
  {
    name: 'one splits a series (new time from a date on) while the other edits an occurrence after that date',
    outcome: 'the occurrence gets the new segment’s time and title plus its own edit',
    setup: create(soccer),
    a: (doc) => editFollowing(doc, EV, '2026-03-24', { title: 'Soccer (spring)', start: '2026-03-24T18:00' }, A),
    b: (doc) => editOccurrence(doc, EV, '2026-04-07', { location: 'Stadium' }, B),
    expect: (doc) => {
      const occ = occurrencesBetween(doc, spring()).find((o) => o.occKey === '2026-04-07');
      expect(occ).toMatchObject({ title: 'Soccer (spring)', location: 'Stadium', start: '2026-04-07T18:00', end: '2026-04-07T19:30' });
      expect(orphanedKeys(event(doc))).toEqual([]);
    },
  },
  {
    name: 'one splits a series onto another weekday while the other edits an occurrence after the split',
    outcome: 'known limitation: the edit stays on the old date, matches no occurrence and is listed by orphanedKeys',
    setup: create(soccer),
    a: (doc) => editFollowing(doc, EV, '2026-03-24', { start: '2026-03-26T17:00' }, A),
    b: (doc) => editOccurrence(doc, EV, '2026-04-07', { title: 'Final' }, B),
    expect: (doc) => {
      const keys = agenda(doc).map((line) => line.slice(0, 10));
      expect(keys).toEqual(['2026-03-03', '2026-03-10', '2026-03-17', '2026-03-26', '2026-04-02', '2026-04-09', '2026-04-16', '2026-04-23', '2026-04-30', '2026-05-07']);
      expect(agenda(doc).some((line) => line.endsWith('Final'))).toBe(false);
      expect(orphanedKeys(event(doc))).toEqual(['2026-04-07']);
    },
  },
  {
    name: 'one moves the whole series to another weekday while the other edits one occurrence',
    outcome: 'known limitation: the edit stays on the old date and is listed by orphanedKeys',
    setup: create(swim),
    a: (doc) => updateEvent(doc, EV, { start: '2026-03-05T17:00' }, A),
    b: (doc) => editOccurrence(doc, EV, '2026-03-17', { title: 'Swim gala' }, B),
    expect: (doc) => {
      expect(event(doc).rrule).toBe('FREQ=WEEKLY;BYDAY=TH;COUNT=6');
      expect(agenda(doc).map((line) => line.slice(0, 10))).toEqual(['2026-03-05', '2026-03-12', '2026-03-19', '2026-03-26', '2026-04-02', '2026-04-09']);
      expect(orphanedKeys(event(doc))).toEqual(['2026-03-17']);
    },
  },
  {
    name: 'one changes the rule from weekly to every other week while the other edits an occurrence the new rule drops',
    outcome: 'the new rule applies; the edit is orphaned and listed by orphanedKeys',
    setup: create(swim),
    a: (doc) => updateEvent(doc, EV, { rrule: 'FREQ=WEEKLY;INTERVAL=2;BYDAY=TU;COUNT=3' }, A),
    b: (doc) => editOccurrence(doc, EV, '2026-03-10', { title: 'Extra practice' }, B),
    expect: (doc) => {
      expect(agenda(doc).map((line) => line.slice(0, 10))).toEqual(['2026-03-03', '2026-03-17', '2026-03-31']);
      expect(orphanedKeys(event(doc))).toEqual(['2026-03-10']);
      expect(event(doc).overrides['2026-03-10']).toEqual({ title: 'Extra practice' });
    },
  },
  {
    name: 'one adds a participant while the other removes a different one',
    outcome: 'both changes apply: participants are a set, merged member by member',
    setup: create(piano),
    a: (doc) => updateEvent(doc, EV, { participants: ['kim', 'lea', 'max'] }, A),
    b: (doc) => updateEvent(doc, EV, { participants: ['kim'] }, B),
    expect: (doc) => {
      expect(event(doc).participants).toEqual(['kim', 'max']);
    },
  },
  {
    name: 'both edit the description in different places',
    outcome: 'both edits merge into one text',
    setup: create({ ...piano, description: 'Bring notes.' }),
    a: (doc) => updateEvent(doc, EV, { description: 'Bring notes. Pay the fee.' }, A),
    b: (doc) => updateEvent(doc, EV, { description: 'Kim: Bring notes.' }, B),
    expect: (doc) => {
      expect(event(doc).description).toBe('Kim: Bring notes. Pay the fee.');
    },
  },
  {
    name: 'both edit the description of one occurrence',
    outcome: 'one description wins by client id: an occurrence’s text is a single value, not merged text',
    setup: create(swim),
    a: (doc) => editOccurrence(doc, EV, '2026-03-10', { description: 'Bring goggles.' }, A),
    b: (doc) => editOccurrence(doc, EV, '2026-03-10', { description: 'Bring a towel.' }, B),
    expect: (doc, winner) => {
      expect(event(doc).overrides['2026-03-10']?.description).toBe(winner === 'a' ? 'Bring goggles.' : 'Bring a towel.');
    },
  },
  {
    name: 'one turns a timed event into an all-day one while the other moves it to another time',
    outcome: 'the start of the device with the higher client id wins; a timed start that wins keeps the all-day length as 24 hours',
    setup: create(piano),
    a: (doc) => updateEvent(doc, EV, { start: '2026-03-03', end: '2026-03-04' }, A),
    b: (doc) => moveEvent(doc, EV, { start: '2026-03-05T15:00' }, B),
    expect: (doc, winner) => {
      if (winner === 'a') {
        expect(event(doc)).toMatchObject({ allDay: true, start: '2026-03-03', end: '2026-03-04' });
        expect(agenda(doc)).toEqual(['2026-03-03 2026-03-03→2026-03-04 Piano']);
      } else {
        expect(event(doc)).toMatchObject({ allDay: false, start: '2026-03-05T15:00', end: '2026-03-06T15:00', duration: 'PT24H' });
      }
    },
  },
  {
    name: 'one member, on a phone set to New York, renames a Berlin series while the other, in Berlin, moves one occurrence',
    outcome: 'the series keeps its Berlin wall clock through both DST changes; New York sees it shift, the moved one included',
    setup: create({ id: EV, title: 'Call Oma', start: '2026-03-02T09:00', end: '2026-03-02T09:30', tz: BERLIN, rrule: 'FREQ=WEEKLY;BYDAY=MO;COUNT=6' }),
    a: (doc) => updateEvent(doc, EV, { title: 'Call Grandma' }, A),
    b: (doc) => editOccurrence(doc, EV, '2026-03-30', { start: '2026-03-30T10:00' }, B),
    expect: (doc) => {
      expect(agenda(doc, BERLIN).map((line) => line.slice(11))).toEqual([
        '2026-03-02T09:00→2026-03-02T09:30 Call Grandma',
        '2026-03-09T09:00→2026-03-09T09:30 Call Grandma',
        '2026-03-16T09:00→2026-03-16T09:30 Call Grandma',
        '2026-03-23T09:00→2026-03-23T09:30 Call Grandma',
        '2026-03-30T10:00→2026-03-30T10:30 Call Grandma',
        '2026-04-06T09:00→2026-04-06T09:30 Call Grandma',
      ]);
      // New York is 6 h behind Berlin, but 5 h between the US change (03-08) and the EU change (03-29).
      // Occurrences carry start/end in the event's zone; a New York screen places them by instant.
      const inNewYork = occurrencesBetween(doc, spring(NEW_YORK)).map((o) =>
        Temporal.Instant.from(o.startInstant).toZonedDateTimeISO(NEW_YORK).toPlainDateTime().toString({ smallestUnit: 'minute' }),
      );
      expect(inNewYork).toEqual(['2026-03-02T03:00', '2026-03-09T04:00', '2026-03-16T04:00', '2026-03-23T04:00', '2026-03-30T04:00', '2026-04-06T03:00']);
    },
  },
  {
    name: 'a floating event (no zone) is edited on devices in two zones',
    outcome: 'it keeps the same wall clock in every viewer’s zone',
    setup: create({ id: EV, title: 'Pill', start: '2026-03-10T08:00', end: '2026-03-10T08:15', tz: null }),
    a: (doc) => moveEvent(doc, EV, { start: '2026-03-10T07:30' }, A),
    b: (doc) => updateEvent(doc, EV, { title: 'Vitamin pill' }, B),
    expect: (doc) => {
      expect(agenda(doc, BERLIN)).toEqual(['2026-03-10 2026-03-10T07:30→2026-03-10T07:45 Vitamin pill']);
      expect(agenda(doc, NEW_YORK)).toEqual(['2026-03-10 2026-03-10T07:30→2026-03-10T07:45 Vitamin pill']);
    },
  },
  {
    name: 'one moves an event into another zone while the other moves it within its old zone',
    outcome: 'known limitation: start and zone merge separately, so the other’s wall clock can end up read in the new zone',
    setup: create(piano),
    a: (doc) => moveEvent(doc, EV, { start: '2026-03-03T10:00', tz: NEW_YORK }, A),
    b: (doc) => moveEvent(doc, EV, { start: '2026-03-03T18:00' }, B),
    expect: (doc, winner) => {
      expect(event(doc)).toMatchObject({ tz: NEW_YORK, start: winner === 'a' ? '2026-03-03T10:00' : '2026-03-03T18:00' });
    },
  },
  {
    name: 'one purges the trash while the other restores the trashed event',
    outcome: 'known limitation: the purge wins and the event is gone on both devices',
    setup: (doc) => {
      createEvent(doc, piano, SETUP);
      deleteEvent(doc, EV, SETUP);
    },
    a: (doc) => {
      expect(purgeTrash(doc, { now: '2026-04-01T00:00:00Z' })).toEqual([EV]);
    },
    b: (doc) => restoreEvent(doc, EV, B),
    expect: (doc) => {
      expect(getEvent(doc, EV)).toBeNull();
      expect(listEvents(doc, { includeDeleted: true })).toEqual([]);
    },
  },
  {
    name: 'both create an event at the same time',
    outcome: 'both events exist: ids are random, so creations never collide',
    setup: () => {},
    a: (doc) => {
      createEvent(doc, { ...piano, id: undefined, title: 'From Kim' }, A);
    },
    b: (doc) => {
      createEvent(doc, { ...piano, id: undefined, title: 'From Lea' }, B);
    },
    expect: (doc) => {
      expect(listEvents(doc).map((e) => e.title).sort()).toEqual(['From Kim', 'From Lea']);
    },
  },
];

const RUNS: Array<{ label: string; ids: [number, number]; winner: Winner }> = [
  { label: 'A has the higher client id', ids: [2, 1], winner: 'a' },
  { label: 'B has the higher client id', ids: [1, 2], winner: 'b' },
];

describe('conflict scenarios: two members edit offline, then sync', () => {
  it('has unique scenario names', () => {
    const names = SCENARIOS.map((s) => s.name);
    expect(new Set(names).size).toBe(names.length);
  });

  for (const s of SCENARIOS) {
    describe(s.name, () => {
      for (const run of RUNS) {
        it(`${s.outcome} (${run.label})`, () => {
          const [a, b] = pair(run.ids, s.setup);
          s.a(a);
          s.b(b);
          exchange(a, b);
          expectConverged([a, b], spring());
          s.expect(a, run.winner);
          s.expect(b, run.winner);
        });
      }
    });
  }
});
