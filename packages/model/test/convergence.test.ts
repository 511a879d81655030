/**
 * Randomised convergence. Each schedule starts 3–4 replicas (Y.Docs) of one room from a shared
 * state, lets them edit offline through the model's public API (events, series, single occurrences,
 * "this and following", trash), syncs them partially between rounds and completely at the end —
 * pairwise diffs, single updates reordered and duplicated, merged updates, whole states — and then
 * requires every replica to hold the same Yjs state and show the same model-level view, with no
 * event lost. Everything random comes from one seed per schedule, so a failure replays with
 *
 *   KITH_CONVERGENCE_SEED=<seed> KITH_CONVERGENCE_SCHEDULES=1 npx vitest run packages/model/test/convergence.test.ts
 *
 * KITH_CONVERGENCE_SCHEDULES raises the count for soak runs; KITH_CONVERGENCE_SEED=random picks a
 * fresh base seed (printed in the summary); KITH_CONVERGENCE_OPS (default 3) is the most offline
 * ops a replica makes per round; KITH_CONVERGENCE_TRACE=1 prints every op and delivery.
 * Schedule i of a run uses seed SEED + i, so the seed a failure prints is a complete replay.
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
  ModelError,
  moveEvent,
  occurrencesOf,
  orphanedKeys,
  purgeTrash,
  resetOccurrence,
  ROOT,
  restoreEvent,
  restoreOccurrence,
  updateEvent,
} from '../src/index.js';
import type { CalendarEvent, EventInput, EventPatch, Occurrence, OccurrenceField, OccurrencePatch, OpContext, SeriesPatch } from '../src/index.js';
import { Rng } from '@kith/test-support';
import { exchange, expectConverged, hasPending, push, replica } from './replicas.js';

/** The window every replica's occurrences are compared in: both 2026 DST changes of the US and the EU, and Sydney's. */
const VIEW = { from: '2026-02-15T00:00:00Z', to: '2026-05-15T00:00:00Z', timeZone: 'America/New_York' };
/** Where ops look for occurrences to edit. */
const PICK = { from: '2026-02-01T00:00:00Z', to: '2026-06-01T00:00:00Z', timeZone: 'UTC' };
const ZONES = ['Europe/Berlin', 'America/New_York', 'Australia/Sydney', 'Asia/Kolkata', 'UTC'] as const;
const MEMBERS = ['kim', 'lea', 'max', 'ola', 'pia'] as const;
const WORDS = ['Swim', 'Piano', 'Dentist', 'Soccer', 'Choir', 'Dinner', 'Café', 'Yoga', 'Trip', '🎂'] as const;
const COLORS = ['red', 'green', 'blue', '#ff8800'] as const;
const WEEKDAYS = ['MO', 'TU', 'WE', 'TH', 'FR', 'SA', 'SU'] as const;
const DAY0 = Temporal.PlainDate.from('2026-02-20');
const T0 = Temporal.Instant.from('2026-03-01T00:00:00Z');

const DEFAULT_SEED = 20_260_301;
/** KITH_CONVERGENCE_TRACE=1 prints every op and delivery, for replaying one seed. */
const TRACE = process.env.KITH_CONVERGENCE_TRACE === '1';
const DEFAULT_SCHEDULES = 2_000;

interface Stats {
  schedules: number;
  ops: number;
  applied: number;
  rejected: Record<string, number>;
  syncs: number;
  updates: number;
  events: number;
  purged: number;
}

function emptyStats(): Stats {
  return { schedules: 0, ops: 0, applied: 0, rejected: {}, syncs: 0, updates: 0, events: 0, purged: 0 };
}

const wall = (d: Temporal.PlainDateTime): string => d.toString({ smallestUnit: 'minute' });
const basicDate = (d: Temporal.PlainDate): string => d.toString().replace(/-/g, '');

/** One schedule: its replicas, what they logged, and what the test knows must survive. */
class Schedule {
  readonly rng: Rng;
  readonly docs: Y.Doc[] = [];
  /** Each replica's own (local) updates, in the order it made them, for reordered delivery. */
  readonly logs: Uint8Array[][] = [];
  /** Every event id ever created on any replica. */
  readonly created: string[] = [];
  readonly purged = new Set<string>();
  /** In a focused schedule most ops hit one shared series, so edits to it collide as often as possible. */
  focus = false;
  private step = 0;

  constructor(
    readonly seed: number,
    readonly stats: Stats,
  ) {
    this.rng = new Rng(seed);
    const n = this.rng.chance(0.3) ? 4 : 3;
    const ids = new Set<number>();
    while (ids.size < n) ids.add(this.rng.int(1, 0x7fffffff));
    for (const id of ids) {
      const doc = replica(id);
      const log: Uint8Array[] = [];
      doc.on('update', (u: Uint8Array, _origin: unknown, _doc: Y.Doc, tr: Y.Transaction) => {
        if (tr.local) log.push(u);
      });
      this.docs.push(doc);
      this.logs.push(log);
    }
  }

  ctx(r: number): OpContext {
    this.step++;
    return { actor: MEMBERS[r] ?? 'someone', now: T0.add({ minutes: 37 * this.step }).toString() };
  }

  /** Ids are normally random UUIDs; here they come from the seed so that a replay is exact. */
  newId(): string {
    const h = (n: number): string => Array.from({ length: n }, () => this.rng.int(0, 15).toString(16)).join('');
    return `${h(8)}-${h(4)}-4${h(3)}-a${h(3)}-${h(12)}`;
  }

  /** Runs one op on replica r. A ModelError is a rejected op (e.g. its event was purged meanwhile). */
  attempt(r: number, what: () => string, op: (doc: Y.Doc) => void): void {
    const doc = this.docs[r] as Y.Doc;
    const log = this.logs[r] as Uint8Array[];
    const before = log.length;
    this.stats.ops++;
    try {
      op(doc);
      this.stats.applied++;
      if (TRACE) console.log(`[${this.seed}] replica ${r}: ${what()}`);
    } catch (err) {
      if (!(err instanceof ModelError)) throw err;
      if (TRACE) console.log(`[${this.seed}] replica ${r}: ${what()} -> ${err.code}: ${err.message}`);
      this.stats.rejected[err.code] = (this.stats.rejected[err.code] ?? 0) + 1;
      // Operations validate before they write: a rejected one must leave no trace.
      if (log.length !== before) throw new Error(`a rejected op (${err.code}: ${err.message}) wrote to the document`);
    }
  }

  apply(to: number, update: Uint8Array): void {
    this.stats.updates++;
    if (TRACE) console.log(`[${this.seed}] replica ${to} <- update of ${update.length} bytes`);
    Y.applyUpdate(this.docs[to] as Y.Doc, update);
  }
}

// ---------------------------------------------------------------------------------------------
// Random inputs

function randomRule(rng: Rng, date: Temporal.PlainDate, kind: 'allDay' | 'zoned' | 'floating'): string {
  const dow = WEEKDAYS[date.dayOfWeek - 1] ?? 'MO';
  const until = (days: number): string => {
    const d = basicDate(date.add({ days }));
    if (kind === 'allDay') return d;
    return kind === 'zoned' ? `${d}T${rng.pick(['000000', '120000', '235959'])}Z` : `${d}T235959`;
  };
  switch (rng.int(0, 9)) {
    case 0:
      return `FREQ=DAILY;COUNT=${rng.int(2, 12)}`;
    case 1:
      return `FREQ=DAILY;INTERVAL=${rng.int(2, 3)};UNTIL=${until(rng.int(3, 30))}`;
    case 2:
      return `FREQ=WEEKLY;BYDAY=${dow};COUNT=${rng.int(2, 10)}`;
    case 3: {
      const other = rng.pick(WEEKDAYS.filter((d) => d !== dow));
      return `FREQ=WEEKLY;BYDAY=${dow},${other};COUNT=${rng.int(3, 12)}`;
    }
    case 4:
      return `FREQ=WEEKLY;INTERVAL=2;BYDAY=${dow};UNTIL=${until(rng.int(14, 70))}`;
    case 5:
      return `FREQ=WEEKLY;BYDAY=${dow}`;
    case 6:
      return `FREQ=WEEKLY;UNTIL=${until(rng.int(0, 50))}`;
    case 7:
      return `FREQ=MONTHLY;BYMONTHDAY=${date.day};COUNT=${rng.int(2, 5)}`;
    case 8:
      return `FREQ=MONTHLY;BYDAY=${rng.chance(0.3) ? -1 : Math.min(4, Math.ceil(date.day / 7))}${dow};COUNT=${rng.int(2, 4)}`;
    default:
      return `FREQ=YEARLY;COUNT=${rng.int(2, 3)}`;
  }
}

function randomTime(rng: Rng): Temporal.PlainTime {
  // 02:30 falls in the spring-forward gap of New York (03-08) and Berlin (03-29), and in Sydney's overlap (04-05).
  return rng.chance(0.2) ? Temporal.PlainTime.from('02:30') : new Temporal.PlainTime(rng.int(0, 23), rng.pick([0, 30]));
}

function randomInput(s: Schedule): EventInput {
  const { rng } = s;
  const kind = rng.weighted({ zoned: 6, floating: 1, allDay: 3 });
  const date = DAY0.add({ days: rng.int(0, 60) });
  const input: EventInput = {
    id: s.newId(),
    title: `${rng.pick(WORDS)} ${rng.int(1, 99)}`,
    start: '',
    end: '',
    participants: rng.subset(MEMBERS, 0.3),
  };
  if (kind === 'allDay') {
    input.start = date.toString();
    input.end = date.add({ days: rng.int(1, 3) }).toString();
  } else {
    const start = date.toPlainDateTime(randomTime(rng));
    input.start = wall(start);
    input.end = wall(start.add({ minutes: rng.pick([30, 60, 90, 120, 180, 26 * 60]) }));
    input.tz = kind === 'floating' ? null : rng.pick(ZONES);
  }
  if (rng.chance(0.3)) input.description = `${rng.pick(WORDS)} notes`;
  if (rng.chance(0.2)) input.location = 'Town hall';
  if (rng.chance(0.3)) input.color = rng.pick(COLORS);
  if (rng.chance(0.65)) {
    input.rrule = randomRule(rng, date, kind);
    if (rng.chance(0.2)) input.exdates = [date.add({ days: 7 * rng.int(1, 3) }).toString()];
    if (rng.chance(0.1)) input.rdates = [date.add({ days: rng.int(1, 20) }).toString()];
  }
  return input;
}

/**
 * An event id to act on: usually one this replica has (trashed ones too), sometimes any id ever
 * created, which may not have reached this replica or may have been purged. Only the ids are read,
 * straight from the room's events map: cheaper than listEvents, and the same set.
 */
function targetId(s: Schedule, doc: Y.Doc): string | null {
  if (s.focus && s.rng.chance(0.8)) return s.created[0] ?? null;
  const local = [...doc.getMap(ROOT.events).keys()].sort();
  if (local.length > 0 && s.rng.chance(0.85)) return s.rng.pick(local);
  return s.created.length > 0 ? s.rng.pick(s.created) : null;
}

const SERIES_OPS: ReadonlySet<OpName> = new Set(['editOccurrence', 'cancelOccurrence', 'restoreOccurrence', 'resetOccurrence', 'editFollowing', 'deleteFollowing']);

/** An occurrence to act on: mostly a real one, sometimes an edited, cancelled or made-up key. */
function pickOccurrence(s: Schedule, ev: CalendarEvent | null): { key: string; occ: Occurrence | null } {
  const { rng } = s;
  if (ev) {
    const roll = rng.float();
    if (roll < 0.75) {
      const occ = occurrencesOf(ev, PICK);
      if (occ.length > 0) {
        const o = rng.pick(occ);
        return { key: o.occKey, occ: o };
      }
    } else if (roll < 0.9) {
      const keys = [...Object.keys(ev.overrides), ...ev.exdates];
      if (keys.length > 0) return { key: rng.pick(keys), occ: null };
    }
    const date = /^\d{4}-\d{2}-\d{2}/.exec(ev.start)?.[0]; // unreadable while an update is held back
    if (date) return { key: Temporal.PlainDate.from(date).add({ days: rng.int(-2, 40) }).toString(), occ: null };
  }
  return { key: DAY0.add({ days: rng.int(0, 80) }).toString(), occ: null };
}

/** `start` moved by a random amount, keeping its kind (date or wall clock). */
function shifted(rng: Rng, start: string, maxDays: number): string {
  if (/^\d{4}-\d{2}-\d{2}$/.test(start)) return Temporal.PlainDate.from(start).add({ days: rng.int(-maxDays, maxDays) }).toString();
  const w = Temporal.PlainDateTime.from(start);
  return wall(w.add({ minutes: (rng.chance(0.5) ? 1440 * rng.int(-maxDays, maxDays) : 0) + 30 * rng.int(-6, 6) }));
}

function endAfter(rng: Rng, start: string): string {
  if (/^\d{4}-\d{2}-\d{2}$/.test(start)) return Temporal.PlainDate.from(start).add({ days: rng.int(1, 3) }).toString();
  return wall(Temporal.PlainDateTime.from(start).add({ minutes: rng.pick([15, 45, 60, 150, 25 * 60]) }));
}

function editDescription(rng: Rng, cur: string): string {
  const at = rng.int(0, cur.length);
  switch (rng.int(0, 2)) {
    case 0:
      return `${cur.slice(0, at)}${rng.pick(WORDS)} ${cur.slice(at)}`;
    case 1:
      return cur.slice(0, at) + cur.slice(Math.min(cur.length, at + rng.int(1, 6)));
    default:
      return `${rng.pick(WORDS)} ${rng.int(1, 9)}`;
  }
}

function contentPatch(s: Schedule, ev: CalendarEvent | null): OccurrencePatch & SeriesPatch {
  const { rng } = s;
  const patch: OccurrencePatch & SeriesPatch = {};
  const n = rng.int(1, 2);
  for (let i = 0; i < n; i++) {
    switch (rng.int(0, 4)) {
      case 0:
        patch.title = `${rng.pick(WORDS)} ${rng.int(1, 99)}`;
        break;
      case 1:
        patch.location = rng.pick(['', 'Gym', 'Online', 'Grandma’s']);
        break;
      case 2:
        patch.participants = rng.subset(MEMBERS, 0.4);
        break;
      case 3:
        patch.color = rng.chance(0.3) ? null : rng.pick(COLORS);
        break;
      default:
        patch.description = editDescription(rng, ev?.description ?? '');
    }
  }
  return patch;
}

// ---------------------------------------------------------------------------------------------
// Ops: each one picks its target and arguments on replica r, then calls exactly one model operation.

type OpName =
  | 'create'
  | 'title'
  | 'description'
  | 'fields'
  | 'participants'
  | 'reminders'
  | 'resize'
  | 'move'
  | 'rule'
  | 'kind'
  | 'dates'
  | 'endTz'
  | 'delete'
  | 'restore'
  | 'purge'
  | 'editOccurrence'
  | 'cancelOccurrence'
  | 'restoreOccurrence'
  | 'resetOccurrence'
  | 'editFollowing'
  | 'deleteFollowing';

const OP_WEIGHTS: Record<OpName, number> = {
  create: 7,
  title: 5,
  description: 3,
  fields: 2,
  participants: 4,
  reminders: 1,
  resize: 2,
  move: 5,
  rule: 4,
  kind: 2,
  dates: 2,
  endTz: 1,
  delete: 4,
  restore: 3,
  purge: 1,
  editOccurrence: 8,
  cancelOccurrence: 4,
  restoreOccurrence: 2,
  resetOccurrence: 2,
  editFollowing: 6,
  deleteFollowing: 2,
};

function randomOp(s: Schedule, r: number): void {
  const { rng } = s;
  const name = rng.weighted(OP_WEIGHTS);
  const doc = s.docs[r] as Y.Doc;
  if (name === 'create') {
    const input = randomInput(s);
    s.attempt(r, () => `createEvent(${JSON.stringify(input)})`, (d) => {
      s.created.push(createEvent(d, input, s.ctx(r)));
    });
    return;
  }
  if (name === 'purge') {
    const olderThanDays = rng.pick([0, 0.05]);
    s.attempt(r, () => `purgeTrash(${olderThanDays})`, (d) => {
      const c = s.ctx(r);
      for (const id of purgeTrash(d, { olderThanDays, now: c.now })) s.purged.add(id);
    });
    return;
  }
  const first = targetId(s, doc);
  if (first === null) return;
  // Mostly aim series edits at series; the rest check that single events refuse them.
  const retarget = SERIES_OPS.has(name) && getEvent(doc, first)?.rrule === null && rng.chance(0.7);
  const id: string = retarget ? (targetId(s, doc) ?? first) : first;
  const ev = getEvent(doc, id);
  // An update that arrives before one it depends on has its deletions applied at once and its
  // insertions held back (Yjs), so a replica fed a reordered subset can briefly see an event whose
  // overwritten start is gone. Ops on it are then refused (INVALID_DATE); pick arguments anyway.
  const start = ev && /^\d{4}-\d{2}-\d{2}/.test(ev.start) ? ev.start : wall(DAY0.toPlainDateTime({ hour: 9 }));
  const update = (patch: EventPatch): void => s.attempt(r, () => `updateEvent(${id}, ${JSON.stringify(patch)})`, (d) => updateEvent(d, id, patch, s.ctx(r)));
  switch (name) {
    case 'title':
      return update({ title: `${rng.pick(WORDS)} ${rng.int(1, 99)}` });
    case 'description':
      return update({ description: editDescription(rng, ev?.description ?? '') });
    case 'fields':
      return update(rng.chance(0.5) ? { location: rng.pick(['', 'Pool', 'School']) } : { color: rng.pick(COLORS), category: rng.pick([null, 'family', 'work']) });
    case 'participants': {
      const cur = new Set(ev?.participants ?? []);
      const m = rng.pick(MEMBERS);
      if (cur.has(m)) cur.delete(m);
      else cur.add(m);
      return update({ participants: [...cur] });
    }
    case 'reminders':
      return update({
        reminders: rng.chance(0.3) ? [] : [{ id: `r${rng.int(1, 3)}`, minutesBefore: rng.pick([0, 10, 60, 1440]), for: rng.chance(0.5) ? null : [rng.pick(MEMBERS)] }],
      });
    case 'resize':
      return update({ end: endAfter(rng, start) });
    case 'move': {
      const to = rng.chance(0.2) ? { start: shifted(rng, start, 3), tz: rng.pick([...ZONES, null]) } : { start: shifted(rng, start, 3) };
      return s.attempt(r, () => `moveEvent(${id}, ${JSON.stringify(to)})`, (d) => moveEvent(d, id, to, s.ctx(r)));
    }
    case 'rule': {
      const date = Temporal.PlainDate.from(start.slice(0, 10));
      const kind = ev?.allDay ? 'allDay' : ev?.tz === null ? 'floating' : 'zoned';
      const roll = rng.int(0, 3);
      if (roll === 0 && ev?.rrule) return update({ rrule: null });
      if (roll === 1 && ev?.rrule?.startsWith('FREQ=WEEKLY') && !ev.rrule.includes('INTERVAL')) return update({ rrule: ev.rrule.replace('FREQ=WEEKLY', 'FREQ=WEEKLY;INTERVAL=2') });
      if (roll === 2 && ev?.rrule?.includes('COUNT=')) return update({ rrule: ev.rrule.replace(/COUNT=\d+/, `COUNT=${rng.int(1, 8)}`) });
      return update({ rrule: randomRule(rng, date, kind) });
    }
    case 'kind': {
      // All-day <-> timed: the same call a UI makes when the "all day" box is ticked or cleared.
      const date = Temporal.PlainDate.from(start.slice(0, 10));
      if (ev?.allDay) {
        const w = date.toPlainDateTime(randomTime(rng));
        const patch: EventPatch = { start: wall(w), end: wall(w.add({ hours: 1 })) };
        if (rng.chance(0.7)) patch.tz = rng.pick(ZONES);
        return update(patch);
      }
      return update({ start: date.toString(), end: date.add({ days: 1 }).toString() });
    }
    case 'dates': {
      if (rng.chance(0.5)) {
        const { key } = pickOccurrence(s, ev);
        const cur = new Set(ev?.exdates ?? []);
        if (cur.has(key)) cur.delete(key);
        else cur.add(key);
        return update({ exdates: [...cur] });
      }
      return update({ rdates: rng.chance(0.2) ? [] : [Temporal.PlainDate.from(start.slice(0, 10)).add({ days: rng.int(1, 30) }).toString()] });
    }
    case 'endTz':
      return update({ endTz: rng.chance(0.3) ? null : rng.pick(ZONES) });
    case 'delete':
      return s.attempt(r, () => `deleteEvent(${id})`, (d) => deleteEvent(d, id, s.ctx(r)));
    case 'restore':
      return s.attempt(r, () => `restoreEvent(${id})`, (d) => restoreEvent(d, id, s.ctx(r)));
    case 'editOccurrence': {
      const { key, occ } = pickOccurrence(s, ev);
      const patch: OccurrencePatch = rng.chance(0.6) ? contentPatch(s, ev) : {};
      if (Object.keys(patch).length === 0 || rng.chance(0.4)) {
        const base = occ?.start ?? start;
        if (rng.chance(0.7)) patch.start = shifted(rng, base, 2);
        else patch.end = endAfter(rng, base);
      }
      return s.attempt(r, () => `editOccurrence(${id}, ${key}, ${JSON.stringify(patch)})`, (d) => editOccurrence(d, id, key, patch, s.ctx(r)));
    }
    case 'cancelOccurrence': {
      const { key } = pickOccurrence(s, ev);
      return s.attempt(r, () => `cancelOccurrence(${id}, ${key})`, (d) => cancelOccurrence(d, id, key, s.ctx(r)));
    }
    case 'restoreOccurrence': {
      const { key } = pickOccurrence(s, ev);
      return s.attempt(r, () => `restoreOccurrence(${id}, ${key})`, (d) => restoreOccurrence(d, id, key, s.ctx(r)));
    }
    case 'resetOccurrence': {
      const { key } = pickOccurrence(s, ev);
      const fields: OccurrenceField[] | undefined = rng.chance(0.5) ? undefined : rng.subset(['title', 'start', 'duration', 'participants', 'cancelled'], 0.5);
      return s.attempt(r, () => `resetOccurrence(${id}, ${key}, ${JSON.stringify(fields)})`, (d) => resetOccurrence(d, id, key, s.ctx(r), fields));
    }
    case 'editFollowing': {
      const { key, occ } = pickOccurrence(s, ev);
      const patch: SeriesPatch = rng.chance(0.6) ? contentPatch(s, ev) : {};
      const roll = rng.int(0, 5);
      const base = occ?.start ?? key;
      if (roll <= 1) patch.start = shifted(rng, base, 1);
      else if (roll === 2) patch.rrule = randomRule(rng, Temporal.PlainDate.from(key), ev?.allDay ? 'allDay' : 'zoned');
      else if (roll === 3 && !ev?.allDay) patch.tz = rng.pick(ZONES);
      else if (roll === 4 && rng.chance(0.3)) patch.start = key; // the rest of the series becomes all-day
      if (Object.keys(patch).length === 0) patch.title = `${rng.pick(WORDS)} (later)`;
      return s.attempt(r, () => `editFollowing(${id}, ${key}, ${JSON.stringify(patch)})`, (d) => editFollowing(d, id, key, patch, s.ctx(r)));
    }
    case 'deleteFollowing': {
      const { key } = pickOccurrence(s, ev);
      return s.attempt(r, () => `deleteFollowing(${id}, ${key})`, (d) => deleteFollowing(d, id, key, s.ctx(r)));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Sync

function other(s: Schedule, i: number): number {
  const j = s.rng.int(0, s.docs.length - 2);
  return j >= i ? j + 1 : j;
}

/** Some of one replica's updates to another: a random subset, shuffled, some of them twice. */
function deliver(s: Schedule, from: number, to: number, share: number): void {
  const { rng } = s;
  const picked = rng.subset(s.logs[from] as Uint8Array[], share);
  const withDuplicates = picked.flatMap((u) => (rng.chance(0.2) ? [u, u] : [u]));
  for (const u of rng.shuffle(withDuplicates)) s.apply(to, u);
}

/** A few random, incomplete exchanges, as devices that are only sometimes online. */
function partialSync(s: Schedule): void {
  const { rng } = s;
  const n = rng.int(0, 4);
  for (let k = 0; k < n; k++) {
    const i = rng.int(0, s.docs.length - 1);
    const j = other(s, i);
    const a = s.docs[i] as Y.Doc;
    const b = s.docs[j] as Y.Doc;
    s.stats.syncs++;
    switch (rng.weighted({ exchange: 4, push: 3, updates: 3, whole: 1, merged: 1 })) {
      case 'exchange':
        exchange(a, b);
        s.stats.updates += 2;
        break;
      case 'push':
        push(a, b);
        s.stats.updates++;
        break;
      case 'updates':
        deliver(s, i, j, 0.6);
        break;
      case 'whole':
        s.apply(j, Y.encodeStateAsUpdate(a));
        break;
      case 'merged': {
        const parts = rng.subset(s.logs[i] as Uint8Array[], 0.7);
        if (parts.length > 0) s.apply(j, Y.mergeUpdates(rng.shuffle(parts)));
        break;
      }
    }
  }
}

function converged(s: Schedule): boolean {
  const [first, ...rest] = s.docs as [Y.Doc, ...Y.Doc[]];
  const snap = Y.snapshot(first);
  return s.docs.every((d) => !hasPending(d)) && rest.every((d) => Y.equalSnapshots(Y.snapshot(d), snap));
}

/** Brings every replica up to date, in one of several random ways. */
function finalSync(s: Schedule): void {
  const { rng } = s;
  const n = s.docs.length;
  const mode = rng.weighted({ gossip: 3, flood: 2, star: 2, ring: 1 });
  switch (mode) {
    case 'gossip': {
      // Random pairs, one way or both, until nothing differs. The state vector alone cannot tell:
      // a transaction that only deletes moves no clock, so snapshots (with delete sets) are compared.
      let rounds = 0;
      while (!converged(s)) {
        if (++rounds > 10_000) throw new Error('gossip did not converge');
        const i = rng.int(0, n - 1);
        const j = other(s, i);
        s.stats.syncs++;
        if (rng.chance(0.5)) {
          exchange(s.docs[i] as Y.Doc, s.docs[j] as Y.Doc);
          s.stats.updates += 2;
        } else {
          push(s.docs[i] as Y.Doc, s.docs[j] as Y.Doc);
          s.stats.updates++;
        }
      }
      break;
    }
    case 'flood': {
      // Every replica's own updates to every other replica, all interleaved, shuffled and some duplicated.
      const queue: Array<[number, Uint8Array]> = [];
      for (let to = 0; to < n; to++) {
        for (let from = 0; from < n; from++) {
          if (from === to) continue;
          s.stats.syncs++;
          for (const u of s.logs[from] as Uint8Array[]) {
            queue.push([to, u]);
            if (rng.chance(0.15)) queue.push([to, u]);
          }
        }
      }
      for (const [to, u] of rng.shuffle(queue)) s.apply(to, u);
      break;
    }
    case 'star': {
      // A server: everyone syncs with one hub, in random order, twice.
      const hub = rng.int(0, n - 1);
      for (let pass = 0; pass < 2; pass++) {
        for (const i of rng.shuffle([...Array(n).keys()].filter((k) => k !== hub))) {
          s.stats.syncs++;
          s.stats.updates += 2;
          exchange(s.docs[i] as Y.Doc, s.docs[hub] as Y.Doc);
        }
      }
      break;
    }
    case 'ring': {
      // One-way pushes around a random ring, twice round.
      const order = rng.shuffle([...Array(n).keys()]);
      for (let k = 0; k < 2 * n; k++) {
        s.stats.syncs++;
        s.stats.updates++;
        push(s.docs[order[k % n] as number] as Y.Doc, s.docs[order[(k + 1) % n] as number] as Y.Doc);
      }
      break;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// One schedule

interface Outcome {
  seed: number;
  state: Uint8Array;
  events: string;
  occurrences: string;
}

function runSchedule(seed: number, stats: Stats = emptyStats()): Outcome {
  const s = new Schedule(seed, stats);
  const { rng } = s;
  stats.schedules++;
  // A shared starting point, as after everyone last synced: a few events made on replica 0.
  s.focus = rng.chance(0.3);
  const shared = s.focus ? 1 : rng.int(1, 3);
  for (let k = 0; k < shared; k++) {
    const input = randomInput(s);
    if (s.focus && !input.rrule) input.rrule = `FREQ=WEEKLY;COUNT=${rng.int(4, 12)}`;
    s.attempt(0, () => `createEvent(${JSON.stringify(input)})`, (d) => {
      s.created.push(createEvent(d, input, s.ctx(0)));
    });
  }
  for (let i = 1; i < s.docs.length; i++) push(s.docs[0] as Y.Doc, s.docs[i] as Y.Doc);

  // Rounds of offline edits, with patchy syncs in between.
  const rounds = rng.int(1, 3);
  for (let round = 0; round < rounds; round++) {
    for (const r of rng.shuffle([...s.docs.keys()])) {
      const ops = rng.int(0, MAX_OPS);
      for (let k = 0; k < ops; k++) randomOp(s, r);
    }
    if (round < rounds - 1) partialSync(s);
  }
  finalSync(s);

  const view = expectConverged(s.docs, VIEW);
  // No event is lost: every id ever created is on every replica (live or in the trash), except purged ones.
  const expected = s.created.filter((id) => !s.purged.has(id)).sort();
  // Every replica lists exactly the same events (checked above), so replica 0's list stands for all.
  const events = JSON.parse(view.events) as CalendarEvent[];
  const ids = events.map((e) => e.id);
  const missing = expected.filter((id) => !ids.includes(id));
  if (missing.length > 0) throw new Error(`the replicas lost events ${missing.join(', ')}`);
  const extra = ids.filter((id) => !expected.includes(id));
  if (extra.length > 0) throw new Error(`the replicas have events that were purged or never created: ${extra.join(', ')}`);
  // Every stored event stays usable: its own expansion, export and "needs attention" list work.
  // (occurrencesBetween skips an event it cannot expand; occurrencesOf would throw and show it.)
  for (const ev of events) {
    try {
      occurrencesOf(ev, VIEW);
      exportSeries(ev);
      orphanedKeys(ev);
    } catch (err) {
      throw new Error(`event ${ev.id} cannot be expanded or exported after the merge: ${String(err)}\n${JSON.stringify(ev)}`);
    }
  }
  stats.events += expected.length;
  stats.purged += s.purged.size;
  return { seed, state: Y.encodeStateAsUpdate(s.docs[0] as Y.Doc), ...view };
}

function baseSeed(): number {
  const env = process.env.KITH_CONVERGENCE_SEED;
  if (env === undefined || env === '') return DEFAULT_SEED;
  if (env === 'random') return Math.floor(Math.random() * 2 ** 31);
  const n = Number(env);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`KITH_CONVERGENCE_SEED must be a whole number or "random", got "${env}"`);
  return n;
}

function scheduleCount(): number {
  const env = process.env.KITH_CONVERGENCE_SCHEDULES;
  if (env === undefined || env === '') return DEFAULT_SCHEDULES;
  const n = Number(env);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`KITH_CONVERGENCE_SCHEDULES must be a positive whole number, got "${env}"`);
  return n;
}

const SEED = baseSeed();
const SCHEDULES = scheduleCount();
/** Each replica makes 0..MAX_OPS offline ops per round; KITH_CONVERGENCE_OPS raises it for harder soak runs. */
const MAX_OPS = (() => {
  const n = Number(process.env.KITH_CONVERGENCE_OPS ?? 3);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`KITH_CONVERGENCE_OPS must be a positive whole number`);
  return n;
})();

describe('randomised convergence', () => {
  it(
    `converges on every replica with no event lost, over ${SCHEDULES} seeded schedules of offline edits and random syncs`,
    () => {
      const stats = emptyStats();
      const started = performance.now();
      const cpu = process.cpuUsage();
      for (let i = 0; i < SCHEDULES; i++) {
        const seed = SEED + i;
        try {
          runSchedule(seed, stats);
        } catch (err) {
          const why = err instanceof Error ? (err.stack ?? err.message) : String(err);
          throw new Error(
            `convergence schedule ${seed} failed — replay with KITH_CONVERGENCE_SEED=${seed} KITH_CONVERGENCE_SCHEDULES=1${MAX_OPS === 3 ? '' : ` KITH_CONVERGENCE_OPS=${MAX_OPS}`} ` +
              `npx vitest run packages/model/test/convergence.test.ts\n${why}`,
          );
        }
      }
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      const used = process.cpuUsage(cpu);
      const cpuSeconds = ((used.user + used.system) / 1e6).toFixed(1);
      const rejected = Object.values(stats.rejected).reduce((a, b) => a + b, 0);
      const codes = Object.entries(stats.rejected)
        .sort(([, a], [, b]) => b - a)
        .map(([code, n]) => `${code} ${n}`)
        .join(', ');
      console.log(
        `convergence: seed ${SEED}, ${stats.schedules} schedules (up to ${MAX_OPS} ops per replica and round) in ${seconds}s (${cpuSeconds}s CPU); ops ${stats.ops} (applied ${stats.applied}, rejected ${rejected}: ${codes}); ` +
          `syncs ${stats.syncs} (${stats.updates} updates applied); events ${stats.events} surviving, ${stats.purged} purged`,
      );
      expect(stats.schedules).toBe(SCHEDULES);
      // The schedules must actually exercise the model: most ops apply, and some are refused after merges.
      expect(stats.applied).toBeGreaterThan(stats.ops / 2);
    },
    // Generous: about 15 ms of CPU per schedule, but a shared CI machine can be several times slower.
    Math.max(300_000, SCHEDULES * 150),
  );

  it('replays a schedule exactly from its seed', () => {
    for (const seed of [SEED, SEED + 1, SEED + 2]) {
      const first = runSchedule(seed);
      const again = runSchedule(seed);
      expect(again.events).toBe(first.events);
      expect(again.occurrences).toBe(first.occurrences);
      expect(Array.from(again.state)).toEqual(Array.from(first.state));
    }
  });

  it('the convergence check tells apart replicas that differ in a new edit or only in a delete', () => {
    const a = replica(1);
    const b = replica(2);
    const c = { actor: 'kim', now: '2026-03-01T00:00:00Z' };
    const id = createEvent(a, { title: 'Only on A', start: '2026-03-03T09:00', end: '2026-03-03T10:00', tz: 'UTC' }, c);
    expect(() => expectConverged([a, b], VIEW)).toThrow(/state vector/);
    push(a, b);
    deleteEvent(a, id, c);
    push(a, b);
    expect(expectConverged([a, b], VIEW).events).toContain('Only on A');
    // Purging only deletes map entries, which moves no clock: the state vectors still agree.
    expect(purgeTrash(a, { olderThanDays: 0, now: '2026-03-02T00:00:00Z' })).toEqual([id]);
    expect(() => expectConverged([a, b], VIEW)).toThrow(/delete set/);
    push(a, b);
    expect(JSON.parse(expectConverged([a, b], VIEW).events)).toEqual([]);
  });
});

/** Bugs the schedules above found in the model, each pinned by the smallest case that shows it. */
describe('model bugs found by the random schedules', () => {
  const c = { actor: 'kim', now: '2026-03-01T00:00:00Z' };

  it('purges with a fractional or huge olderThanDays instead of throwing a RangeError', () => {
    const doc = replica(1);
    const id = createEvent(doc, { title: 'Old', start: '2026-03-03', end: '2026-03-04' }, c);
    deleteEvent(doc, id, c);
    expect(purgeTrash(doc, { olderThanDays: 1e12, now: '2026-03-02T00:00:00Z' })).toEqual([]);
    expect(purgeTrash(doc, { olderThanDays: 0.5, now: '2026-03-01T11:59:00Z' })).toEqual([]);
    expect(purgeTrash(doc, { olderThanDays: 0.5, now: '2026-03-01T12:00:00Z' })).toEqual([id]);
  });

  it('reads overrides and segments into the same object on every replica, whatever order their fields arrived in', () => {
    const a = replica(1);
    const id = createEvent(a, { id: 'e', title: 'Swim', start: '2026-03-03T17:00', end: '2026-03-03T18:00', tz: 'UTC', rrule: 'FREQ=WEEKLY;COUNT=6' }, c);
    const b = replica(2);
    push(a, b);
    editOccurrence(a, id, '2026-03-10', { location: 'Pool' }, c);
    cancelOccurrence(a, id, '2026-03-10', c);
    editOccurrence(b, id, '2026-03-10', { title: 'Gala' }, c);
    editFollowing(a, id, '2026-03-24', { location: 'Lake' }, c);
    editFollowing(b, id, '2026-03-24', { title: 'Outdoor' }, c);
    exchange(a, b);
    const ev = getEvent(a, id);
    expect(JSON.stringify(getEvent(b, id))).toBe(JSON.stringify(ev));
    // Schema order: title, description, location, start, duration, …, cancelled.
    expect(Object.keys(ev?.overrides['2026-03-10'] ?? {})).toEqual(['title', 'location', 'cancelled']);
    expect(Object.keys(ev?.segments[0]?.fields ?? {})).toEqual(['title', 'location', 'start', 'rrule']);
  });

  it('splits at an extra date (RDATE) after the last counted occurrence without storing an invalid COUNT=0 rule', () => {
    const doc = replica(1);
    const id = createEvent(doc, { title: 'Camp', start: '2026-03-14T19:00', end: '2026-03-14T20:00', tz: 'UTC', rrule: 'FREQ=DAILY;COUNT=5', rdates: ['2026-03-22'] }, c);
    editFollowing(doc, id, '2026-03-22', { title: 'Camp reunion', start: '2026-03-22T16:00' }, c);
    const ev = getEvent(doc, id) as CalendarEvent;
    expect(ev.segments).toEqual([{ splitKey: '2026-03-22', fields: { title: 'Camp reunion', start: '2026-03-22T16:00', rrule: null } }]);
    expect(occurrencesOf(ev, PICK).map((o) => `${o.start} ${o.title}`)).toEqual([
      '2026-03-14T19:00 Camp',
      '2026-03-15T19:00 Camp',
      '2026-03-16T19:00 Camp',
      '2026-03-17T19:00 Camp',
      '2026-03-18T19:00 Camp',
      '2026-03-22T16:00 Camp reunion',
    ]);
  });

  it('stores text with half an emoji (lone surrogate) as every other replica will read it, and refuses such ids', () => {
    const a = replica(1);
    const b = replica(2);
    const broken = 'Birthday \ud83c'; // "🎂" cut in half by a naive truncation
    const id = createEvent(a, { title: broken, description: 'Cake \udf82!', start: '2026-03-03', end: '2026-03-04' }, c);
    push(a, b);
    expect(getEvent(a, id)).toMatchObject({ title: 'Birthday \ufffd', description: 'Cake \ufffd!' });
    expect(JSON.stringify(getEvent(b, id))).toBe(JSON.stringify(getEvent(a, id)));
    expect(() => createEvent(a, { id: 'x\ud800', title: 'x', start: '2026-03-03', end: '2026-03-04' }, c)).toThrow(ModelError);
    expect(() => updateEvent(a, id, { participants: ['kim\udc00'] }, c)).toThrow(/well-formed/);
  });

  it('does not report overrides removed by "delete this and following" as orphaned', () => {
    const doc = replica(1);
    const id = createEvent(doc, { title: 'Soccer', start: '2026-03-03T17:00', end: '2026-03-03T18:00', tz: 'UTC', rrule: 'FREQ=WEEKLY;COUNT=10' }, c);
    editOccurrence(doc, id, '2026-04-07', { title: 'Final' }, c);
    updateEvent(doc, id, { exdates: ['2026-04-14'] }, c);
    deleteFollowing(doc, id, '2026-03-24', c);
    expect(orphanedKeys(getEvent(doc, id) as CalendarEvent)).toEqual([]);
    // A rule change still orphans them: they then match no occurrence of a live part.
    editOccurrence(doc, id, '2026-03-10', { title: 'Moved' }, c);
    updateEvent(doc, id, { rrule: 'FREQ=WEEKLY;INTERVAL=2;COUNT=5' }, c);
    expect(orphanedKeys(getEvent(doc, id) as CalendarEvent)).toEqual(['2026-03-10']);
  });
});
