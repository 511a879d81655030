/**
 * Window queries over a whole room: occurrences in start order, a page at a time, with every
 * event that cannot be expanded skipped and reported instead of failing the query.
 *
 * A page is found by expanding the window in slices of start time, growing the slice while it
 * yields little, so a page of a dense five-year window costs about what its own occurrences cost,
 * not what the whole window would.
 */
import * as Y from 'yjs';
import { ModelError } from './errors.js';
import type { ModelErrorCode } from './errors.js';
import { compareKeys, decodeCursor, encodeCursor } from './cursor.js';
import type { PageKey } from './cursor.js';
import { findSlot, FIRST_MS, AFTER_LAST_MS, orderPlaced, placeSlot, resolveWindow, slotInstants, slotsIn } from './occurrences.js';
import type { Placed, ResolvedWindow, Slot } from './occurrences.js';
import { eventsMap, F, LIMITS } from './schema.js';
import type { EventMap } from './schema.js';
import { readEvent, readTiming, type EventTiming } from './read.js';
import { lastStartBoundMs, repeatGapDays } from './recurrence.js';
import { seriesParts } from './segments.js';
import type { SeriesPart } from './segments.js';
import { checkZone, durationDays, readDuration, Temporal, utcWall, wallAt, zoneOffsetMs } from './time.js';
import type { CalendarEvent, Occurrence, OccurrencePage, PageOptions, SkippedEvent, ViewWindow } from './types.js';

/** Default and largest page size of queryOccurrences. */
export const PAGE_LIMITS = { default: 1_000, max: 10_000 } as const;
/** At most this many skipped events are listed in one answer (skippedCount has them all). */
const MAX_SKIPPED_LISTED = 100;
/** An event longer than this is refused: every daily occurrence would overlap thousands of others. */
const MAX_EVENT_DAYS = 3_660;
/**
 * A stored series whose occurrences would overlap deeper than this (each lasting longer than this
 * many times the time between its starts: repeatGapDays) is skipped. Writes refuse any overlap
 * (validate.ts checkRepeats); older or raw writes may hold a little, and are still read. Each
 * query places the occurrences under way at its start: a daily series of ten-year occurrences
 * placed 3,650 per event per query (50 such events held a page of ten for 3 s).
 */
const MAX_OVERLAP = 8;
const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

/** One event made ready for slicing: its parts, and the occurrences overrides moved, placed once. */
interface Prepared {
  ev: CalendarEvent;
  parts: SeriesPart[];
  exdates: Set<string>;
  /** Keys whose override moves or resizes the occurrence: placed up front, left out of slices. */
  movedKeys: Set<string>;
  moved: Placed[];
}

function unreadable(message: string, field?: string, code: ModelErrorCode = 'UNREADABLE_EVENT'): ModelError {
  return new ModelError(code, message, field);
}

const quote = (v: string): string => JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);

/**
 * Checks up front what expansion would trip over, so the reason names the field. Occurrences that
 * overrides move or resize are placed only when they may overlap [loMs, hiMs] (told from wall
 * clocks, with two days' margin for zones): placing one costs a rule look-up and a placement, a
 * tenth of a millisecond or more, and a month's query over a series with 1,000 moved occurrences
 * placed them all.
 */
function prepare(ev: CalendarEvent, viewerTz: string, loMs: number, hiMs: number): Prepared {
  if (ev.id.length === 0 || ev.id.length > LIMITS.id) throw unreadable(`the event id is empty or longer than ${LIMITS.id} characters`, 'id');
  const parts = seriesParts(ev);
  if (parts.length === 0) throw unreadable(`start ${quote(ev.start)} is neither a date nor a wall-clock time`, 'start', 'INVALID_DATE');
  for (const p of parts) {
    if (p.tz !== null) checkZone(p.tz, 'tz');
    if (p.endTz !== null) checkZone(p.endTz, 'endTz');
    const days = durationDays(p.duration);
    if (days > MAX_EVENT_DAYS) throw unreadable(`duration is longer than ${MAX_EVENT_DAYS} days`, 'duration', 'INVALID_DATE');
    if (p.cancelled) continue;
    let gap: number | null = null;
    try {
      gap = repeatGapDays(p.rrule, p.start.wall.toPlainDate().toString(), ev.rdates);
    } catch {
      // An unreadable rule is reported by expansion, with its own reason.
    }
    if (gap !== null && days > gap * MAX_OVERLAP) {
      throw unreadable(`duration: each occurrence lasts ${Math.round(days)} days, more than ${MAX_OVERLAP} times the ${gap} day(s) between occurrences: they would overlap too deep to list`, 'duration');
    }
  }
  const longest = Math.max(...parts.map((p) => durationDays(p.duration)));
  const exdates = new Set(ev.exdates);
  const movedKeys = new Set<string>();
  const moved: Placed[] = [];
  for (const [key, ov] of Object.entries(ev.overrides)) {
    if (ov.start === undefined && ov.duration === undefined) continue;
    // A key that is no occurrence's is never listed: suppressing it changes nothing.
    movedKeys.add(key);
    if (exdates.has(key) || !mayReach(key, ov, longest, loMs, hiMs)) continue;
    const slot = findSlot(ev, key, parts);
    if (!slot) continue;
    const placed = placeSlot(ev, slot, viewerTz);
    if (placed) moved.push(placed);
  }
  return { ev, parts, exdates, movedKeys, moved };
}

/**
 * Whether the occurrence `key` that an override moves or resizes may overlap [loMs, hiMs]: it
 * starts on its key's date or at the override's start (as wall clocks, read as UTC), and lasts the
 * override's length or, at most, the series' longest. Zones are within a day of UTC: two days'
 * margin. True when a value does not read here (placing it tells).
 */
function mayReach(key: string, ov: { start?: string; duration?: string }, longestDays: number, loMs: number, hiMs: number): boolean {
  const keyMs = wallAsUtcMs(key);
  const movedMs = ov.start === undefined ? keyMs : wallAsUtcMs(ov.start);
  if (!Number.isFinite(keyMs) || !Number.isFinite(movedMs)) return true;
  const days = ov.duration === undefined ? longestDays : Math.max(durationDays(readDuration(ov.duration, true)), durationDays(readDuration(ov.duration, false)));
  const first = Math.min(keyMs, movedMs);
  const last = Math.max(keyMs + DAY_MS, movedMs);
  return first - 2 * DAY_MS < hiMs && last + days * DAY_MS + 2 * DAY_MS > loMs;
}

type Walls = (part: SeriesPart, zone: string) => [Temporal.PlainDateTime, Temporal.PlainDateTime];

/** Placed occurrences of one event whose wall clocks fall in [fromWall, toWall] of each part's zone. */
function candidates(p: Prepared, viewerTz: string, walls: Walls): Placed[] {
  return slotsOf(p, viewerTz, walls, placeSlot);
}

/** The event's slots in those wall ranges (not exdated, not moved), each placed by `place`. */
function slotsOf<T>(p: Prepared, viewerTz: string, walls: Walls, place: (ev: CalendarEvent, slot: Slot, viewerTz: string) => T | null): T[] {
  const seen = new Set<string>();
  const out: T[] = [];
  // Later parts win a key, should two parts ever produce the same date.
  for (const part of [...p.parts].reverse()) {
    const [fromWall, toWall] = walls(part, part.tz ?? viewerTz);
    // A part lists only the keys it owns: one whose keys all fall outside the range lists none.
    if (part.nextKey !== null && part.nextKey <= fromWall.toPlainDate().toString()) continue;
    if (part.firstKey !== null && part.firstKey > toWall.toPlainDate().toString()) continue;
    for (const slot of slotsIn(p.ev, part, fromWall, toWall, p.parts)) {
      if (seen.has(slot.key)) continue;
      seen.add(slot.key);
      if (p.exdates.has(slot.key) || p.movedKeys.has(slot.key)) continue;
      const placed = place(p.ev, slot, viewerTz);
      if (placed) out.push(placed);
    }
  }
  return out;
}

/** `compute` per zone, worked out once per zone asked (a query's events share a few zones). */
function perZone<T>(compute: (zone: string) => T): (zone: string) => T {
  const known = new Map<string, T>();
  return (zone) => {
    let value = known.get(zone);
    if (value === undefined) known.set(zone, (value = compute(zone)));
    return value;
  };
}

/** Occurrences that started before `atMs` and are still going on then; `wallNow` gives (and caches) each zone's wall clock at `atMs`. */
function runningAt(p: Prepared, atMs: number, viewerTz: string, wallNow: (zone: string) => Temporal.PlainDateTime): Placed[] {
  // Most events of a room are long over or yet to come: skip them without expanding (no overrides, so nothing moved).
  if (certainlyOutside(p.ev, atMs, atMs)) return [];
  // Padded by the duration (an occurrence that started earlier may overlap) and a day of zone offsets.
  const all = candidates(p, viewerTz, (part, zone) => [
    wallNow(zone).subtract(part.duration).subtract({ days: 1 }),
    wallNow(zone).add({ days: 1 }),
  ]);
  return [...all, ...p.moved].filter((x) => x.startMs < atMs && x.endMs > atMs);
}

/**
 * The wall clocks in `zone` that can start in [loMs, hiMs]: the edges moved by the UTC offsets in
 * force a day around each edge (a DST gap pushes a wall clock forward by the offset before it).
 * Tighter than a day of padding on each side, which would place three times the occurrences a
 * one-day slice needs.
 */
function wallRange(loMs: number, hiMs: number, zone: string): [Temporal.PlainDateTime, Temporal.PlainDateTime] {
  const offsets = [loMs - DAY_MS, loMs, hiMs - DAY_MS, hiMs].map((ms) => zoneOffsetMs(ms, zone));
  return [utcWall(loMs + Math.min(...offsets)), utcWall(hiMs + Math.max(...offsets))];
}

/** Occurrences starting in [loMs, hiMs); `walls` gives (and caches) each zone's wall range for the slice. */
function startingIn(p: Prepared, loMs: number, hiMs: number, viewerTz: string, walls: (zone: string) => [Temporal.PlainDateTime, Temporal.PlainDateTime]): Placed[] {
  const all = candidates(p, viewerTz, (_part, zone) => walls(zone));
  return [...all, ...p.moved].filter((x) => x.startMs >= loMs && x.startMs < hiMs);
}

/** Why an event was skipped, in words that are safe to show anyone in the room. */
function skippedOf(eventId: string, err: unknown): SkippedEvent {
  if (err instanceof ModelError) return { eventId, code: err.code, message: err.message, ...(err.field !== undefined ? { field: err.field } : {}) };
  // Anything else comes from a library (a date out of range, say): no internals in the answer.
  return { eventId, code: 'UNREADABLE_EVENT', message: 'the event holds a value that cannot be expanded (a date out of range or an unreadable value)' };
}

/**
 * A room's live events that can have occurrences in the window, read one by one: an event that
 * cannot even be read is skipped too. Those collect would rule out anyway (certainlyOutside) are
 * ruled out from their stored timing before they are read: a reminder look over a 5,000-event
 * room read every event whole and held the event loop for half a second.
 */
function liveEvents(doc: Y.Doc, w: ResolvedWindow, skip: (s: SkippedEvent) => void): CalendarEvent[] {
  const fromMs = w.from.epochMilliseconds;
  const toMs = w.to.epochMilliseconds;
  const out: CalendarEvent[] = [];
  for (const [id, ev] of eventsMap(doc).entries()) {
    if (!(ev instanceof Y.Map)) continue;
    const deleted = (ev as EventMap).get(F.deleted);
    if (typeof deleted === 'object' && deleted !== null && typeof (deleted as { at?: unknown }).at === 'string') continue;
    const timing = readTiming(ev as EventMap);
    if (timing !== null && timingOutside(timing, fromMs, toMs)) continue;
    try {
      out.push(readEvent(id, ev, false));
    } catch (err) {
      skip(skippedOf(id.slice(0, LIMITS.id), err));
    }
  }
  return out.sort((a, b) => (a.id < b.id ? -1 : 1));
}

interface Collected {
  placed: Placed[];
  /** More occurrences follow the first `limit`. */
  more: boolean;
}

/** A wall clock ("2026-03-01" or "2026-03-01T10:00") read as if it were UTC, in ms; NaN if unreadable. */
const wallAsUtcMs = (wall: string): number => Date.parse(wall.length === 10 ? `${wall}T00:00:00Z` : `${wall}Z`);

/** An ISO duration of weeks, days and clock time in ms (days as 24 h); null for anything else (months, years). */
function durationMs(iso: string): number | null {
  const m = /^P(?:(\d{1,7})W)?(?:(\d{1,7})D)?(?:T(?:(\d{1,9})H)?(?:(\d{1,9})M)?(?:(\d{1,12})S)?)?$/.exec(iso);
  if (!m) return null;
  const [w, d, h, min, sec] = m.slice(1).map((x) => Number(x ?? 0)) as [number, number, number, number, number];
  return (w * 7 + d) * DAY_MS + h * 3_600_000 + min * 60_000 + sec * 1000;
}

/**
 * Whether an event certainly has no occurrence in [fromMs, toMs), told from its wall clocks and
 * rule alone: every zone is within a day of UTC, so two days' margin is safe. Rooms hold mostly past
 * events — one-offs and ended series — and expanding each (Temporal, a tenth of a millisecond per
 * one-off and more per series) made every whole-room window query (reminders, change notices) cost
 * seconds at 5,000 events. Nothing starts before the first start; a series ends by its UNTIL or,
 * for simple rules, its COUNT (see lastStartBoundMs); an occurrence an override moves is checked at
 * its new start. Anything unusual (extra dates, "this and following" parts, an unreadable time) is
 * left to the full expansion.
 */
function certainlyOutside(ev: CalendarEvent, fromMs: number, toMs: number): boolean {
  if (ev.rdates.length > 0 || ev.segments.length > 0) return false;
  return timingOutside({ start: ev.start, duration: ev.duration, rrule: ev.rrule, moves: Object.values(ev.overrides) }, fromMs, toMs);
}

/** certainlyOutside from an event's timing: the series and every occurrence an override moves or resizes. */
function timingOutside(t: EventTiming, fromMs: number, toMs: number): boolean {
  if (!spanOutside(t.start, t.duration, t.rrule, fromMs, toMs)) return false;
  for (const m of t.moves) {
    if (m.start === undefined && m.duration === undefined) continue;
    const length = m.duration ?? t.duration;
    // Moved: a one-off at its new start. Only resized: somewhere among the series' starts, longer.
    const outside = m.start === undefined ? spanOutside(t.start, length, t.rrule, fromMs, toMs) : spanOutside(m.start, length, null, fromMs, toMs);
    if (!outside) return false;
  }
  return true;
}

/** Whether occurrences starting at `start` (or later by `rrule`), each `duration` long, certainly miss [fromMs, toMs). */
function spanOutside(start: string, duration: string, rrule: string | null, fromMs: number, toMs: number): boolean {
  const first = wallAsUtcMs(start);
  const length = durationMs(duration);
  if (!Number.isFinite(first) || length === null) return false;
  if (first - 2 * DAY_MS > toMs) return true;
  const lastStart = rrule === null ? first : lastStartBoundMs(rrule, first);
  // (ev.end is not filled in for window queries: readEvent(…, false))
  return lastStart !== null && lastStart + length + 2 * DAY_MS < fromMs;
}

/** collect's `startsOnly`: leave out occurrences already under way at the window's start. */
const STARTS_ONLY = true;

/**
 * The first `limit` occurrences (in start order) after `after`, among the prepared events. An event
 * that fails while expanding is dropped from the rest of the query and reported through `skip`.
 */

function collect(events: CalendarEvent[], w: ResolvedWindow, limit: number, after: PageKey | null, skip: (s: SkippedEvent) => void, startsOnly = false): Collected {
  const tz = w.timeZone;
  const preps: Prepared[] = [];
  for (const ev of events) {
    if (certainlyOutside(ev, w.from.epochMilliseconds, w.to.epochMilliseconds)) continue;
    try {
      preps.push(prepare(ev, tz, w.from.epochMilliseconds, w.to.epochMilliseconds));
    } catch (err) {
      skip(skippedOf(ev.id, err));
    }
  }
  const dead = new Set<Prepared>();
  const out: Placed[] = [];
  const keep = (x: Placed): boolean =>
    after === null || compareKeys({ startMs: x.startMs, eventId: x.occ.eventId, occKey: x.occ.occKey }, after) > 0;
  const each = (fn: (p: Prepared) => Placed[]): number => {
    let got = 0;
    for (const p of preps) {
      if (dead.has(p)) continue;
      try {
        for (const x of fn(p)) {
          if (!keep(x)) continue;
          out.push(x);
          got++;
        }
      } catch (err) {
        dead.add(p);
        skip(skippedOf(p.ev.id, err));
      }
    }
    return got;
  };
  const fromMs = w.from.epochMilliseconds;
  const toMs = w.to.epochMilliseconds;
  // Occurrences already under way at `from` come first, unless the cursor is past them.
  if (!startsOnly && (after === null || after.startMs < fromMs)) {
    const wallNow = perZone((zone) => wallAt(fromMs, zone));
    each((p) => runningAt(p, fromMs, tz, wallNow));
  }
  let lo = after === null ? fromMs : Math.max(fromMs, after.startMs);
  let span = Number.isFinite(limit) ? DAY_MS : toMs - lo;
  while (lo < toMs && out.length <= limit) {
    const hi = Math.min(toMs, lo + span);
    const sliceLo = lo;
    const walls = perZone((zone) => wallRange(sliceLo, hi, zone));
    const got = each((p) => startingIn(p, sliceLo, hi, tz, walls));
    lo = hi;
    // Size the next slice to about what the page still lacks, at the density just seen (slices cost
    // their padding too, so never below an hour); every slice's occurrences start after the last one's.
    const left = limit - out.length;
    span = Math.max(HOUR_MS, Math.round(span * (got === 0 ? 8 : Math.min(8, Math.max(1 / 8, left / got)))));
  }
  orderPlaced(out);
  return { placed: out.slice(0, limit), more: out.length > limit };
}

function skippedList(): { add: (s: SkippedEvent) => void; list: SkippedEvent[]; count: () => number } {
  const seen = new Set<string>();
  const list: SkippedEvent[] = [];
  return {
    list,
    add(s) {
      if (seen.has(s.eventId)) return;
      seen.add(s.eventId);
      if (list.length < MAX_SKIPPED_LISTED) list.push(s);
    },
    count: () => seen.size,
  };
}

/**
 * One page of the room's occurrences in the window, in start order (ties by event id and key).
 * `next` is an opaque cursor for the following page, null after the last. Events that cannot be
 * expanded (an unknown zone, an unreadable rule or date, …) are left out and listed in `skipped`.
 */
export function queryOccurrences(doc: Y.Doc, window: ViewWindow, opts: PageOptions = {}): OccurrencePage {
  const w = resolveWindow(window);
  const limit = opts.limit ?? PAGE_LIMITS.default;
  if (!Number.isInteger(limit) || limit < 1 || limit > PAGE_LIMITS.max) {
    throw new ModelError('INVALID_INPUT', `limit must be a whole number from 1 to ${PAGE_LIMITS.max}`, 'limit');
  }
  const after = opts.cursor === undefined || opts.cursor === null ? null : decodeCursor(opts.cursor);
  const skipped = skippedList();
  const { placed, more } = collect(liveEvents(doc, w, skipped.add), w, limit, after, skipped.add);
  const last = placed.at(-1);
  return {
    occurrences: placed.map((x) => x.occ),
    next: more && last ? encodeCursor({ startMs: last.startMs, eventId: last.occ.eventId, occKey: last.occ.occKey }) : null,
    skipped: skipped.list,
    skippedCount: skipped.count(),
  };
}

/** Throws the ModelError a query with this window would throw (bounds, order, zone); answers nothing. */
export function checkWindow(window: ViewWindow): void {
  resolveWindow(window);
}

/** The cursor that continues a listing right after `occ` (for callers that cut a page shorter). */
export function cursorAfter(occ: Occurrence): string {
  return encodeCursor({ startMs: Temporal.Instant.from(occ.startInstant).epochMilliseconds, eventId: occ.eventId, occKey: occ.occKey });
}

/** Every occurrence of the room's live (not trashed) events overlapping the window; bad events are left out. */
export function occurrencesBetween(doc: Y.Doc, window: ViewWindow): Occurrence[] {
  const w = resolveWindow(window);
  const ignore = () => undefined;
  return collect(liveEvents(doc, w, ignore), w, Infinity, null, ignore).placed.map((x) => x.occ);
}

/**
 * The occurrences of the room's live events that start in the window (not those already under way
 * at its start), in start order; bad events are left out. `reach` ends the window earlier for each
 * event (epoch ms; the window's own end at most). For the reminder scheduler: it needs an event
 * only as far ahead as the event's longest reminder lead, and expanding four weeks of every series
 * (and what was under way) for the few events reminded that early made a look at a dense room cost
 * several times what its due reminders do.
 */
export function occurrencesStartingIn(doc: Y.Doc, window: ViewWindow, reach: (ev: CalendarEvent) => number = () => Infinity): Occurrence[] {
  const w = resolveWindow(window);
  const ignore = () => undefined;
  const fromMs = w.from.epochMilliseconds;
  const toMs = w.to.epochMilliseconds;
  // Events that reach equally far are expanded together (a room's events share a few leads).
  const byEnd = new Map<number, CalendarEvent[]>();
  for (const ev of liveEvents(doc, w, ignore)) {
    const end = Math.min(toMs, Math.ceil(reach(ev)));
    if (!(end > fromMs)) continue;
    const group = byEnd.get(end);
    if (group) group.push(ev);
    else byEnd.set(end, [ev]);
  }
  const placed: Placed[] = [];
  for (const [end, group] of byEnd) {
    const groupWindow = { ...w, to: Temporal.Instant.fromEpochMilliseconds(end) };
    for (const x of collect(group, groupWindow, Infinity, null, ignore, STARTS_ONLY).placed) placed.push(x);
  }
  return orderPlaced(placed).map((x) => x.occ);
}

/** The occurrences of one event (trashed or not) overlapping the window; none if it cannot be expanded. */
export function occurrencesOf(ev: CalendarEvent, window: ViewWindow): Occurrence[] {
  const w = resolveWindow(window);
  const ignore = () => undefined;
  return collect([ev], w, Infinity, null, ignore).placed.map((x) => x.occ);
}

/**
 * The instants of an event's occurrences that start in [fromMs, toMs), as [start0, end0, start1,
 * end1, …] in ms in start order: placed exactly as occurrencesOf places them in the zone
 * `viewerTz`, but not formatted, which is most of the cost (a one-off costs about a tenth). For
 * indexing events whose occurrences are few — one-offs, counted series — over their whole span
 * (CalDAV's time-range filter indexes every event of a room). Unlike occurrencesOf it leaves out
 * occurrences already under way at fromMs, and throws what expansion would trip over.
 */
export function occurrenceInstants(ev: CalendarEvent, fromMs: number, toMs: number, viewerTz: string): Float64Array {
  if (!(fromMs >= FIRST_MS && toMs < AFTER_LAST_MS && fromMs < toMs)) throw new ModelError('INVALID_DATE', 'the range must fall in the years 0001 to 9999 and end after it starts');
  const p = prepare(ev, checkZone(viewerTz, 'timeZone'), fromMs, toMs);
  // Every zone is within a day of UTC: these wall clocks hold every start in the range, in any zone
  // (looser than wallRange's, which costs six zone look-ups; the filter below is exact).
  const range: [Temporal.PlainDateTime, Temporal.PlainDateTime] = [utcWall(fromMs - DAY_MS), utcWall(toMs + DAY_MS)];
  const spans = [...slotsOf(p, viewerTz, () => range, slotInstants), ...p.moved.map((x): [number, number] => [x.startMs, x.endMs])]
    .filter(([start]) => start >= fromMs && start < toMs)
    .sort((a, b) => a[0] - b[0]);
  const out = new Float64Array(spans.length * 2);
  spans.forEach(([start, end], i) => {
    out[2 * i] = start;
    out[2 * i + 1] = end;
  });
  return out;
}

/** Every occurrence overlapping a resolved window, placed, unsorted order not guaranteed; bad events left out. */
export function placedBetween(doc: Y.Doc, w: ResolvedWindow): Placed[] {
  const ignore = () => undefined;
  return collect(liveEvents(doc, w, ignore), w, Infinity, null, ignore).placed;
}
