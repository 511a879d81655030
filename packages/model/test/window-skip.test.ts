/**
 * Window queries skip events that certainly have no occurrence in the window without expanding
 * them (past one-offs, series ended by UNTIL or a simple COUNT, anything starting after the
 * window), most of them without even reading them whole (their stored timing rules them out). That
 * shortcut must never change an answer: for rooms of random events — one-offs and series in zones
 * from UTC−11 to UTC+14, floating and all-day, with exdates, and occurrences moved far before or
 * after their series, lengthened by up to 30 days, retitled or cancelled — every window's
 * occurrences equal those of one window over all time, cut to the window.
 */
import * as Y from 'yjs';
import { describe, expect, it } from 'vitest';
import { cancelOccurrence, createEvent, editOccurrence, ModelError, occurrencesBetween, occurrencesStartingIn } from '../src/index.js';
import type { EventInput, Occurrence } from '../src/index.js';
import { lastStartBoundMs } from '../src/recurrence.js';
import { mulberry32 } from '@kith/test-support';
import { ctx, window } from './helpers.js';

const ZONES = ['UTC', 'Pacific/Kiritimati', 'Pacific/Pago_Pago', 'Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe'];
const DAY = 86_400_000;
const pad = (n: number) => String(n).padStart(2, '0');
const wall = (ms: number) => new Date(ms).toISOString().slice(0, 16);
const basic = (ms: number) => new Date(ms).toISOString().slice(0, 19).replace(/[-:]/g, '');

function randomEvent(rnd: () => number, i: number): EventInput {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const start = Date.parse('2025-06-01T00:00:00Z') + Math.floor(rnd() * 600) * DAY + Math.floor(rnd() * 96) * 900_000;
  const allDay = rnd() < 0.15;
  const lengthWanted = allDay ? (1 + Math.floor(rnd() * 3)) * DAY : (1 + Math.floor(rnd() * 12)) * 900_000;
  const rules = [
    null,
    null,
    `FREQ=DAILY;COUNT=${1 + Math.floor(rnd() * 30)}${rnd() < 0.5 ? `;INTERVAL=${1 + Math.floor(rnd() * 3)}` : ''}`,
    `FREQ=WEEKLY;COUNT=${1 + Math.floor(rnd() * 25)}${rnd() < 0.5 ? ';BYDAY=MO,TH' : ''}${rnd() < 0.3 ? ';INTERVAL=2' : ''}`,
    `FREQ=WEEKLY;UNTIL=${allDay ? basic(start + Math.floor(rnd() * 120) * DAY).slice(0, 8) : `${basic(start + Math.floor(rnd() * 120) * DAY)}Z`}`,
    `FREQ=MONTHLY;COUNT=${1 + Math.floor(rnd() * 6)}`,
    `FREQ=DAILY;COUNT=${1 + Math.floor(rnd() * 10)};BYDAY=SA,SU`,
  ] as const;
  const rrule = pick(rules);
  // Occurrences of a series may not overlap (validate.ts checkRepeats): an all-day daily one lasts
  // at most its interval (overlapping ones, as a raw client writes, are lengthened overrides below).
  const gap = rrule?.startsWith('FREQ=DAILY') ? Number(/INTERVAL=(\d)/.exec(rrule)?.[1] ?? 1) : 3;
  const length = Math.min(lengthWanted, gap * DAY);
  const d = new Date(start);
  const date = (ms: number) => new Date(ms).toISOString().slice(0, 10);
  return {
    title: `E${i}`,
    start: allDay ? date(start) : wall(start),
    end: allDay ? date(start + length) : wall(start + length),
    tz: allDay ? null : rnd() < 0.15 ? null : pick(ZONES),
    rrule,
    // An exdate on the second day of a series (may or may not be an occurrence).
    exdates: rrule !== null && rnd() < 0.3 ? [`${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate() + (d.getUTCDate() < 28 ? 1 : 0))}`] : [],
  };
}

/**
 * Lengthens (and maybe moves) one occurrence; one reaching over the next occurrence, which
 * editOccurrence refuses, is written as a raw Yjs client (or an older version) would store it:
 * reads must still list it.
 */
function editOrWrite(doc: Y.Doc, eventId: string, o: Occurrence, start: string | undefined, end: string): void {
  try {
    editOccurrence(doc, eventId, o.occKey, start === undefined ? { end } : { start, end }, ctx());
  } catch (err) {
    if (!(err instanceof ModelError) || !err.message.includes('must not overlap')) throw err;
    const s = start ?? o.start;
    const ms = (w: string) => Date.parse(w.length === 10 ? `${w}T00:00:00Z` : `${w}Z`);
    const duration = o.allDay ? `P${Math.round((ms(end) - ms(s)) / DAY)}D` : `PT${Math.round((ms(end) - ms(s)) / 3_600_000)}H`;
    const ov = (doc.getMap('events').get(eventId) as Y.Map<unknown>).get('ov') as Y.Map<unknown>;
    doc.transact(() => {
      if (start !== undefined) ov.set(`${o.occKey}|start`, start);
      ov.set(`${o.occKey}|duration`, duration);
    });
  }
}

const id = (o: Occurrence) => `${o.eventId}/${o.occKey}/${o.startInstant}/${o.endInstant}`;

/** A wall clock or date `days` later (earlier if negative), in the same form. */
function shifted(when: string, days: number): string {
  const ms = Date.parse(when.length === 10 ? `${when}T00:00:00Z` : `${when}Z`) + days * DAY;
  return when.length === 10 ? new Date(ms).toISOString().slice(0, 10) : wall(ms);
}

/**
 * Edits one occurrence of about half the series: moved up to 400 days either way (before the
 * series starts or after it ends), lengthened (timed: up to 20 days, all-day: up to 30), moved and
 * lengthened, retitled or cancelled. Returns how many edits were made.
 */
function editSomeOccurrences(doc: Y.Doc, rnd: () => number): number {
  const all = occurrencesBetween(doc, window('2020-01-01T00:00:00Z', '2032-01-01T00:00:00Z', 'UTC')).filter((o) => o.recurring);
  const byEvent = new Map<string, Occurrence[]>();
  for (const o of all) byEvent.set(o.eventId, [...(byEvent.get(o.eventId) ?? []), o]);
  let edits = 0;
  for (const [eventId, occs] of byEvent) {
    if (rnd() < 0.5) continue;
    const o = occs[Math.floor(rnd() * occs.length)]!;
    const move = Math.round((rnd() * 2 - 1) * 400);
    const longer = (when: string) => (o.allDay ? shifted(when, 1 + Math.floor(rnd() * 30)) : wall(Date.parse(`${when}Z`) + (1 + Math.floor(rnd() * 480)) * 3_600_000));
    const kind = Math.floor(rnd() * 5);
    try {
      if (kind === 0) editOccurrence(doc, eventId, o.occKey, { start: shifted(o.start, move), end: shifted(o.end, move) }, ctx());
      else if (kind === 1) editOrWrite(doc, eventId, o, undefined, longer(o.start));
      else if (kind === 2) {
        const start = shifted(o.start, move);
        editOrWrite(doc, eventId, o, start, longer(start));
      }
      else if (kind === 3) editOccurrence(doc, eventId, o.occKey, { title: 'Moved nowhere' }, ctx());
      else cancelOccurrence(doc, eventId, o.occKey, ctx());
      edits++;
    } catch {
      // A wall clock in a DST gap, say: the random room just has one edit fewer.
    }
  }
  return edits;
}

describe('window queries skip events outside the window without changing the answer', () => {
  it('equals one all-time window cut to each window, over random rooms and windows', () => {
    let compared = 0;
    let edits = 0;
    for (let seed = 1; seed <= 8; seed++) {
      const rnd = mulberry32(seed);
      const doc = new Y.Doc();
      for (let i = 0; i < 40; i++) createEvent(doc, randomEvent(rnd, i), ctx());
      edits += editSomeOccurrences(doc, rnd);
      for (const viewer of ['UTC', 'Pacific/Kiritimati', 'Pacific/Pago_Pago']) {
        const all = occurrencesBetween(doc, window('2020-01-01T00:00:00Z', '2032-01-01T00:00:00Z', viewer));
        for (let k = 0; k < 20; k++) {
          const from = Date.parse('2025-05-01T00:00:00Z') + Math.floor(rnd() * 700 * 24) * 3_600_000;
          const to = from + (1 + Math.floor(rnd() * 240)) * 3_600_000;
          const inWindow = all.filter((o) => {
            const s = Date.parse(o.startInstant);
            return s < to && (s >= from || Date.parse(o.endInstant) > from);
          });
          const got = occurrencesBetween(doc, window(new Date(from).toISOString(), new Date(to).toISOString(), viewer));
          expect(got.map(id).sort(), `seed ${seed}, ${viewer}, ${new Date(from).toISOString()} + ${(to - from) / 3_600_000} h`).toEqual(inWindow.map(id).sort());
          compared += got.length;
        }
      }
    }
    expect(compared).toBeGreaterThan(100); // the windows did hold occurrences
    expect(edits).toBeGreaterThan(40); // and the rooms edited occurrences
  });

  it('occurrencesStartingIn: the all-time occurrences starting in the window, each event cut where its reach ends, in start order', () => {
    let compared = 0;
    let cut = 0;
    for (let seed = 11; seed <= 16; seed++) {
      const rnd = mulberry32(seed);
      const doc = new Y.Doc();
      for (let i = 0; i < 40; i++) createEvent(doc, randomEvent(rnd, i), ctx());
      editSomeOccurrences(doc, rnd);
      for (const viewer of ['UTC', 'Pacific/Kiritimati', 'Europe/Berlin']) {
        const all = occurrencesBetween(doc, window('2020-01-01T00:00:00Z', '2032-01-01T00:00:00Z', viewer));
        for (let k = 0; k < 12; k++) {
          const from = Date.parse('2025-05-01T00:00:00Z') + Math.floor(rnd() * 700 * 24) * 3_600_000;
          const to = from + (1 + Math.floor(rnd() * 24 * 40)) * 3_600_000;
          // Each event reaches its own distance (the scheduler's: a lead past the window's start), some past the window's end.
          const reachOf = new Map<string, number>();
          const reach = (ev: { id: string }) => {
            if (!reachOf.has(ev.id)) reachOf.set(ev.id, from + Math.floor(rnd() * 1.2 * (to - from)));
            return reachOf.get(ev.id)!;
          };
          const got = occurrencesStartingIn(doc, window(new Date(from).toISOString(), new Date(to).toISOString(), viewer), reach);
          const want = all.filter((o) => {
            const s = Date.parse(o.startInstant);
            return s >= from && s < Math.min(to, reachOf.get(o.eventId) ?? to);
          });
          const label = `seed ${seed}, ${viewer}, ${new Date(from).toISOString()} + ${(to - from) / 3_600_000} h`;
          expect(got.map(id).sort(), label).toEqual(want.map(id).sort());
          const starts = got.map((o) => Date.parse(o.startInstant));
          expect(starts, label).toEqual([...starts].sort((a, b) => a - b));
          // Without a reach: every occurrence starting in the window, none of those already under way.
          const whole = occurrencesStartingIn(doc, window(new Date(from).toISOString(), new Date(to).toISOString(), viewer));
          const starting = all.filter((o) => Date.parse(o.startInstant) >= from && Date.parse(o.startInstant) < to);
          expect(whole.map(id).sort(), label).toEqual(starting.map(id).sort());
          compared += got.length;
          cut += starting.length - got.length;
        }
      }
    }
    expect(compared).toBeGreaterThan(100);
    expect(cut).toBeGreaterThan(20); // the reaches did cut occurrences off
  });

  it('gives the same answer for overrides written outside the model (odd values, keys of no occurrence)', () => {
    const doc = new Y.Doc();
    const eventId = createEvent(doc, { title: 'Choir', start: '2026-03-04T19:00', end: '2026-03-04T21:00', tz: 'Europe/Berlin', rrule: 'FREQ=WEEKLY;COUNT=4' }, ctx());
    const ov = new Y.Map<unknown>();
    (doc.getMap('events').get(eventId) as Y.Map<unknown>).set('ov', ov);
    ov.set('2026-03-04|start', 'not a time'); // unreadable: left to the full expansion
    ov.set('2026-03-11|start', 42); // not a string: no move, as readEvent reads it
    ov.set('2026-03-18|duration', 'P2M'); // months: no bound from it
    ov.set('2026-03-25|start', '2026-09-01T10:00'); // a real move, months later
    ov.set('1999-01-01|start', '2026-12-24T10:00'); // no such occurrence: moves nothing
    ov.set('2026-03-25|cancelled', false);
    const all = occurrencesBetween(doc, window('2020-01-01T00:00:00Z', '2032-01-01T00:00:00Z', 'UTC'));
    expect(all.map((o) => o.occKey)).toContain('2026-03-25');
    for (const [from, to] of [
      ['2026-08-31T00:00:00Z', '2026-09-02T00:00:00Z'],
      ['2026-04-20T00:00:00Z', '2026-06-01T00:00:00Z'],
      ['2026-12-23T00:00:00Z', '2026-12-26T00:00:00Z'],
      ['2026-03-01T00:00:00Z', '2026-03-31T00:00:00Z'],
    ] as const) {
      const inWindow = all.filter((o) => Date.parse(o.startInstant) < Date.parse(to) && Date.parse(o.endInstant) > Date.parse(from));
      expect(occurrencesBetween(doc, window(from, to, 'UTC')).map(id).sort(), `${from} – ${to}`).toEqual(inWindow.map(id).sort());
    }
  });

  it('bounds a series only from what its rule guarantees', () => {
    const start = Date.parse('2026-03-02T09:00:00Z');
    expect(lastStartBoundMs('FREQ=DAILY;COUNT=3', start)).toBe(start + 2 * DAY);
    expect(lastStartBoundMs('FREQ=DAILY;INTERVAL=2;COUNT=3', start)).toBe(start + 4 * DAY);
    expect(lastStartBoundMs('FREQ=WEEKLY;COUNT=2;BYDAY=MO', start)).toBe(start + 21 * DAY);
    expect(lastStartBoundMs('FREQ=WEEKLY;UNTIL=20260310T080000Z', start)).toBe(Date.parse('2026-03-11T00:00:00Z'));
    expect(lastStartBoundMs('FREQ=DAILY;UNTIL=20260310', start)).toBe(Date.parse('2026-03-11T00:00:00Z'));
    // A filter can leave periods empty (months without a 31st, weekends only): only expansion can tell.
    expect(lastStartBoundMs('FREQ=MONTHLY;COUNT=3', start)).toBeNull();
    expect(lastStartBoundMs('FREQ=DAILY;COUNT=3;BYDAY=SA', start)).toBeNull();
    expect(lastStartBoundMs('FREQ=WEEKLY;COUNT=3;BYMONTH=1', start)).toBeNull();
    expect(lastStartBoundMs('FREQ=WEEKLY', start)).toBeNull();
    expect(lastStartBoundMs('not a rule', start)).toBeNull();
  });
});
