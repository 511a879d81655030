/**
 * Occurrences of one event: recurrence (in wall space, see recurrence.ts), segments, RDATE/EXDATE,
 * per-occurrence overrides and cancellations, placed in time. Window queries over a room are in
 * expand.ts.
 */
import { ModelError } from './errors.js';
import { ruleBetween, ruleOn } from './recurrence.js';
import { isRecurring, owns, seriesParts } from './segments.js';
import type { SeriesPart } from './segments.js';
import { AFTER_LAST_MS, checkZone, FIRST_MS, formatInstant, formatWall, inYears, parseInstant, parseWhen, readDuration, resolve, startOfDay, Temporal, formatDateOf, formatWallOf } from './time.js';
import type { CalendarEvent, Occurrence, ViewWindow } from './types.js';

/** Where an occurrence comes from: its part of the series, its key and its original start. */
export interface Slot {
  part: SeriesPart;
  key: string;
  original: Temporal.PlainDateTime;
}

const dateKey = formatDateOf;

/** The part's own candidates (rule, or the single start) plus the RDATEs it owns, within [from, to]. */
export function slotsIn(ev: CalendarEvent, p: SeriesPart, from: Temporal.PlainDateTime, to: Temporal.PlainDateTime, parts: SeriesPart[]): Slot[] {
  if (p.cancelled) return [];
  const walls = p.anchored ? ruleBetween(p.anchored, from, to) : p.splitKey === null ? [p.start.wall] : [];
  const time = p.start.wall.toPlainTime();
  for (const key of ev.rdates) {
    // An RDATE belongs to the last part whose range holds it, and takes that part's time of day.
    const owner = parts.findLast((q) => owns(q, key));
    if (owner !== p) continue;
    const wall = Temporal.PlainDate.from(key).toPlainDateTime(time);
    if (Temporal.PlainDateTime.compare(wall, from) >= 0 && Temporal.PlainDateTime.compare(wall, to) <= 0) walls.push(wall);
  }
  return walls.filter((w) => owns(p, dateKey(w))).map((w) => ({ part: p, key: dateKey(w), original: w }));
}

/** The occurrence slot with this key, cancelled and exdated ones included; null if the series has none. */
export function findSlot(ev: CalendarEvent, key: string, parts = seriesParts(ev)): Slot | null {
  let date: Temporal.PlainDate;
  try {
    date = Temporal.PlainDate.from(key);
  } catch {
    return null;
  }
  for (const p of [...parts].reverse()) {
    if (p.cancelled || !owns(p, key)) continue;
    let wall = p.anchored ? ruleOn(p.anchored, date) : null;
    if (!wall && p.splitKey === null && !p.anchored && dateKey(p.start.wall) === key) wall = p.start.wall;
    if (!wall && ev.rdates.includes(key) && parts.findLast((q) => owns(q, key)) === p) wall = date.toPlainDateTime(p.start.wall.toPlainTime());
    if (wall) return { part: p, key, original: wall };
  }
  return null;
}

/** An occurrence with its instants as numbers, for sorting and overlap tests without re-parsing. */
export interface Placed {
  occ: Occurrence;
  startMs: number;
  endMs: number;
}

/** Where an occurrence lands in time (before it is formatted): its instants and dates. */
interface Landing {
  allDay: boolean;
  s: Temporal.ZonedDateTime;
  e: Temporal.ZonedDateTime;
  /** All-day: its first and end dates (end exclusive). */
  dates: [Temporal.PlainDate, Temporal.PlainDate] | null;
}

/** Where a slot's occurrence lands for a viewer in `viewerTz`, its override applied; null if cancelled. */
function land(ev: CalendarEvent, slot: Slot, viewerTz: string): Landing | null {
  const { part: p, key, original } = slot;
  const ov = ev.overrides[key] ?? {};
  if (ov.cancelled) return null;
  const allDay = p.start.allDay;
  let wall = original;
  if (ov.start !== undefined) {
    try {
      const moved = parseWhen(ov.start, 'start');
      if (moved.allDay === allDay) wall = moved.wall;
    } catch {
      // An unreadable override start is ignored, the occurrence stays where the series puts it.
    }
  }
  const duration = ov.duration !== undefined ? readDuration(ov.duration, allDay) : p.duration;
  if (allDay) {
    // All-day dates never move with the viewer's zone; only their instants do.
    const d = wall.toPlainDate();
    const endDate = d.add(duration);
    return { allDay, s: startOfDay(d, viewerTz), e: startOfDay(endDate, viewerTz), dates: [d, endDate] };
  }
  if (p.tz !== null) {
    const s = resolve(wall, p.tz);
    return { allDay, s, e: s.add(duration), dates: null };
  }
  // Floating: the same wall clock wherever the viewer is.
  const s = resolve(wall, viewerTz);
  let e = resolve(wall.add(duration), viewerTz);
  if (Temporal.ZonedDateTime.compare(e, s) <= 0) e = s.add(duration);
  return { allDay, s, e, dates: null };
}

/**
 * Whether a zoned occurrence starts and ends within the years 0001–9999 in UTC (outside, it does
 * not exist). All-day and floating ones have no instants of their own: their walls are checked.
 */
const landsInRange = (p: SeriesPart, at: Landing): boolean =>
  p.tz === null || at.allDay || (at.s.epochMilliseconds >= FIRST_MS && at.e.epochMilliseconds < AFTER_LAST_MS);

/** A slot's occurrence as its instants in ms, [start, end], without formatting it; null if cancelled or out of range. */
export function slotInstants(ev: CalendarEvent, slot: Slot, viewerTz: string): [number, number] | null {
  const at = land(ev, slot, viewerTz);
  return at && landsInRange(slot.part, at) ? [at.s.epochMilliseconds, at.e.epochMilliseconds] : null;
}

/**
 * A slot's occurrence placed and formatted; null if cancelled, or if any of its times falls outside
 * the years 0001–9999 (written by a raw Yjs client, or the end of a rule or of a far zone's day):
 * no reader could write it.
 */
export function placeSlot(ev: CalendarEvent, slot: Slot, viewerTz: string): Placed | null {
  const at = land(ev, slot, viewerTz);
  if (!at || !landsInRange(slot.part, at)) return null;
  const { part: p, key, original } = slot;
  const ov = ev.overrides[key] ?? {};
  const { allDay, s, e } = at;
  let start: string;
  let end: string;
  if (at.dates) {
    start = at.dates[0].toString();
    end = at.dates[1].toString();
  } else {
    start = formatWallOf(s);
    // A zoned event's end is shown in its end zone; a floating one's in the viewer's.
    end = formatWallOf(p.tz !== null ? e.withTimeZone(p.endTz ?? p.tz) : e);
  }
  const originalStart = allDay ? formatDateOf(original) : formatWall(original);
  if (!inYears(start) || !inYears(end) || !inYears(originalStart)) return null;
  const occ: Occurrence = {
    eventId: ev.id,
    occKey: key,
    recurring: isRecurring(ev),
    allDay,
    originalStart,
    start,
    end,
    tz: p.tz,
    endTz: p.endTz,
    startInstant: formatInstant(s),
    endInstant: formatInstant(e),
    title: ov.title ?? p.title,
    description: ov.description ?? p.description,
    location: ov.location ?? p.location,
    participants: ov.participants ?? p.participants,
    color: ov.color !== undefined ? ov.color : p.color,
    category: ov.category !== undefined ? ov.category : p.category,
    reminders: p.reminders,
    overridden: Object.keys(ov).length > 0,
  };
  return { occ, startMs: s.epochMilliseconds, endMs: e.epochMilliseconds };
}

/** Start order; ties by event id and key so every replica lists the same order. */
export function orderPlaced(list: Placed[]): Placed[] {
  return list.sort((a, b) => a.startMs - b.startMs || cmp(a.occ.eventId, b.occ.eventId) || cmp(a.occ.occKey, b.occ.occKey));
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export interface ResolvedWindow {
  from: Temporal.Instant;
  to: Temporal.Instant;
  timeZone: string;
}

/** Window bounds outside years 0001–9999 (UTC) are refused: no calendar needs them, Temporal's edges would overflow. */
export { FIRST_MS, AFTER_LAST_MS };

function windowBound(value: unknown, field: 'from' | 'to'): Temporal.Instant {
  const at = parseInstant(value, field);
  const ms = at.epochMilliseconds;
  if (ms < FIRST_MS || ms >= AFTER_LAST_MS) {
    throw new ModelError('INVALID_DATE', `${field} must fall in the years 0001 to 9999, got "${String(value).slice(0, 40)}"`, field);
  }
  return at;
}

export function resolveWindow(w: ViewWindow): ResolvedWindow {
  if (typeof w !== 'object' || w === null) throw new ModelError('INVALID_INPUT', 'window must be an object {from, to, timeZone}', 'window');
  const from = windowBound(w.from, 'from');
  const to = windowBound(w.to, 'to');
  if (Temporal.Instant.compare(to, from) <= 0) throw new ModelError('END_BEFORE_START', 'to must be after from', 'to');
  return { from, to, timeZone: checkZone(w.timeZone, 'timeZone') };
}
