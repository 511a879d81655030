/**
 * Which events have an occurrence in a calendar-query time-range (RFC 4791 §9.9). Expanding an
 * event over a range costs Temporal arithmetic (a series a millisecond or two, a one-off event
 * about 0.2 ms), too much to do for every candidate on every query: a month of a 5,000-event room
 * has hundreds. So a one-off event and a finite series (COUNT) have their occurrences' instants
 * listed once, when their object is rendered (object-catalog.ts; the model's occurrenceInstants,
 * about a tenth of that cost), and any range is then answered from that list without Temporal.
 * Other series (no end, or an UNTIL) are tested against the asked range: only whether one
 * occurrence overlaps it, looked for from the range's start in growing windows (a daily series
 * answers from its first day, about 0.1 ms, where expanding a year of it took 11 ms). That work is
 * done in slices between which the event loop turns, within a budget per request (slices.ts), and
 * the answers are kept per rendered object (a changed event is rendered into new objects, which
 * drops them): phones poll the same month.
 */
import type * as Y from 'yjs';
import { Temporal } from 'temporal-polyfill';
import { AFTER_LAST_MS, FIRST_MS, getEvent, occurrenceInstants, occurrencesOf, type CalendarEvent } from '@kith/model';
import type { DavObject } from './object-catalog.js';
import { badRequest, caldavPre } from './dav-errors.js';
import { inSlices, WorkBudget } from './slices.js';

/**
 * An iCalendar UTC date-time of a time-range or expand (`20260301T000000Z`) as an instant string;
 * a 400 (valid-filter) naming `what` when it is not one, impossible dates (30 February) included.
 */
export function utcDateTime(value: string | undefined, what: string): string {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value?.trim() ?? '');
  const iso = m ? `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z` : undefined;
  if (iso !== undefined) {
    try {
      // Temporal refuses what Date.parse would roll over (month 13, 30 February, hour 24).
      Temporal.Instant.from(iso);
      return iso;
    } catch {
      // answered below
    }
  }
  throw badRequest(`The ${what} must be a UTC date-time like 20260301T000000Z.`, caldavPre('valid-filter'));
}

/** Series with at most this many occurrences (COUNT) get their occurrences indexed. */
const MAX_COUNTED = 1_000;
/** Ranges remembered per object. */
const MAX_RANGES = 16;
const DAY_MS = 86_400_000;
/** A counted series is indexed up to here (its COUNT ends it long before). */
const SERIES_INDEXED_UNTIL = Date.parse('9000-01-01T00:00:00Z');

const answers = new WeakMap<DavObject, Map<string, boolean>>();

/**
 * A one-off event's or a finite series' occurrences as instants in ms, [start0, end0, start1, end1,
 * …] (moved ones included, cancelled ones not), or null when the event is not indexed (a series
 * without COUNT, with an UNTIL or too many occurrences, or one that cannot be expanded). `span` is
 * the event's wall-clock span read as UTC (object-catalog.ts); wall clocks are within 14 hours of
 * UTC, so two days either side of it holds every occurrence's start.
 */
export function occurrenceIndex(ev: CalendarEvent, span: { from: number; to: number | null }): Float64Array | null {
  if (!Number.isFinite(span.from)) return null;
  const oneOff = ev.rrule === null && ev.rdates.length === 0 && ev.segments.length === 0;
  // A one-off can keep an override that moves its start (left from when it repeated, or set by a
  // replica that had not seen the rule removed): anywhere, so beyond the window below.
  const moved = oneOff && Object.values(ev.overrides).some((ov) => ov.start !== undefined);
  if (oneOff ? span.to === null || moved : !isCounted(ev.rrule)) return null;
  try {
    const fromMs = span.from - 2 * DAY_MS;
    const toMs = oneOff ? Math.max(span.from, span.to!) + 2 * DAY_MS : SERIES_INDEXED_UNTIL;
    return occurrenceInstants(ev, fromMs, toMs, 'UTC');
  } catch {
    return null; // left to the per-range expansion, which leaves out what the model cannot expand
  }
}

/** A series rule with a COUNT of at most MAX_COUNTED and no UNTIL. */
function isCounted(rrule: string | null): boolean {
  const count = /(?:^|;)COUNT=(\d+)/i.exec(rrule ?? '');
  return count !== null && Number(count[1]) <= MAX_COUNTED && !/(?:^|;)UNTIL=/i.test(rrule ?? '');
}

/**
 * Whether an indexed occurrence overlaps [fromMs, toMs) the way the model's expansion counts it:
 * it starts in the range, or started before and is still going on at its start.
 */
function indexHits(index: Float64Array, fromMs: number, toMs: number): boolean {
  for (let i = 0; i < index.length; i += 2) {
    const start = index[i]!;
    if (start >= fromMs ? start < toMs : index[i + 1]! > fromMs) return true;
  }
  return false;
}

/** Working time one query may spend testing series; the rest are then kept by their spans. */
export const MATCH_BUDGET_MS = 1_000;
/** The last second the model can place (its windows end before AFTER_LAST_MS). */
const LAST_MS = AFTER_LAST_MS - 1000;

/**
 * Windows from a range's start in which occurrence starts are looked for, the first found
 * answering: a day (a daily series), a month (a weekly or monthly one), then the rest. Each look
 * reads the event's overrides again (expensive with hundreds that move occurrences), so few.
 */
const PROBES_MS = [DAY_MS, 31 * DAY_MS, Infinity];

/**
 * Whether one of the event's occurrences overlaps [fromMs, toMs), as the model's expansion counts
 * it (occurrencesOf): one starts in the range, or one started before and is still going on at its
 * start. A miss costs one pass over the range, without formatting anything. False for an event
 * the model cannot expand (the feed leaves it out too).
 */
export function overlapsRange(ev: CalendarEvent, fromMs: number, toMs: number): boolean {
  const lo = Math.max(fromMs, FIRST_MS);
  const hi = Math.min(toMs, LAST_MS);
  if (!(lo < hi)) return false;
  try {
    let at = lo;
    for (const span of PROBES_MS) {
      const end = Math.min(hi, at + span);
      if (occurrenceInstants(ev, at, end, 'UTC').length > 0) return true;
      // After the first window (most series start one in it): one under way at the range's start.
      if (at === lo && underWay(ev, lo, hi)) return true;
      at = end;
      if (at >= hi) break;
    }
    return false;
  } catch {
    return false;
  }
}

/** Whether an occurrence is under way at `fromMs` (or starts in its first second). */
function underWay(ev: CalendarEvent, fromMs: number, toMs: number): boolean {
  const to = Math.min(toMs, fromMs + 1_000);
  return occurrencesOf(ev, { from: new Date(fromMs).toISOString(), to: new Date(to).toISOString(), timeZone: 'UTC' }).length > 0;
}

/** Runs a slice of work on the room's document as its objects were rendered from (a read of the room). */
export type DocSlice = (slice: (doc: Y.Doc) => void) => Promise<void>;

/**
 * The ids among `candidates` (event id → one of its objects) with an occurrence in the range.
 * Series not indexed are tested in slices, each inside a read of the room (`read`); once `budget`
 * is spent, those not tested yet are kept (their spans already allow the range: more than asked,
 * never less, as for ranges too long to test at all).
 */
export async function eventsInRange(
  read: DocSlice,
  candidates: ReadonlyMap<string, DavObject>,
  range: { from: string; to: string },
  budget = new WorkBudget(MATCH_BUDGET_MS),
): Promise<Set<string>> {
  const key = `${range.from}/${range.to}`;
  const fromMs = Date.parse(range.from);
  const toMs = Date.parse(range.to);
  const ids = new Set<string>();
  const untested: Array<[string, DavObject]> = [];
  for (const [id, obj] of candidates) {
    if (obj.occurrences) {
      if (indexHits(obj.occurrences, fromMs, toMs)) ids.add(id);
      continue;
    }
    const known = answers.get(obj)?.get(key);
    if (known === undefined) untested.push([id, obj]);
    else if (known) ids.add(id);
  }
  const tested = await inSlices(
    untested,
    read,
    ([id, obj], doc) => {
      const ev = getEvent(doc, id);
      const hit = ev !== null && ev.deleted === null && overlapsRange(ev, fromMs, toMs);
      let memo = answers.get(obj);
      if (!memo) answers.set(obj, (memo = new Map()));
      if (memo.size >= MAX_RANGES) memo.delete(memo.keys().next().value!);
      memo.set(key, hit);
      if (hit) ids.add(id);
    },
    budget,
  );
  for (const [id] of untested.slice(tested)) ids.add(id);
  return ids;
}
