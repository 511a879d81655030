/**
 * Reads event maps into plain CalendarEvent values. Reads are defensive: a document merged from
 * several devices (or written by an older client, or by any Yjs client at all) may hold odd
 * values, and a query must still work. Every value read is bounded by the limits writes obey
 * (LIMITS), so one stored value can never make an answer arbitrarily large.
 */
import * as Y from 'yjs';
import type { Temporal } from 'temporal-polyfill';
import { ModelError } from './errors.js';
import { eventsMap, F, LIMITS, OCCURRENCE_FIELDS, SEGMENT_FIELDS, splitFieldKey } from './schema.js';
import type { EventMap } from './schema.js';
import { formatDuration, formatWall, parseWhen, readDuration, resolve } from './time.js';
import type {
  CalendarEvent,
  Deletion,
  MemberId,
  OccurrenceOverride,
  Reminder,
  Segment,
  SegmentFields,
} from './types.js';

/**
 * Longest stored form of values that are only valid when short (times, zones, rules): one char
 * over the limit keeps an over-long value invalid instead of clipping it into a valid other one.
 */
const CODE_MAX = { when: 65, zone: 65, rrule: LIMITS.rrule + 1, stamp: 64 } as const;

/** Text clipped to `max` UTF-16 units (display text: title, description, …). */
function str(v: unknown, max: number): string {
  const s = typeof v === 'string' ? v : v instanceof Y.Text ? v.toString() : '';
  return s.length > max ? s.slice(0, max) : s;
}
const strOrNull = (v: unknown, max: number): string | null => (typeof v === 'string' ? str(v, max) : null);

/** Sorted keys of a set-like Y.Map; keys no write could store are left out, at most `max`. */
function keysOf(v: unknown, max: number, maxLength: number): string[] {
  if (!(v instanceof Y.Map)) return [];
  const keys: string[] = [];
  for (const k of v.keys()) if (k.length <= maxLength) keys.push(k);
  return keys.sort().slice(0, max);
}

const DATE_KEY = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/;

const MONTH_DAYS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function isDateKey(k: string): boolean {
  if (!DATE_KEY.test(k)) return false;
  const [y, m, d] = [Number(k.slice(0, 4)), Number(k.slice(5, 7)), Number(k.slice(8))];
  const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
  return d <= (m === 2 && !leap ? 28 : (MONTH_DAYS[m - 1] ?? 0));
}

/** EXDATE/RDATE keys: only real dates (what writes store); anything else matches no occurrence. */
function dateKeys(v: unknown): string[] {
  return keysOf(v, Infinity, 10).filter(isDateKey).slice(0, LIMITS.dates);
}

function members(v: unknown): MemberId[] {
  if (!Array.isArray(v)) return [];
  const ids = v.filter((m): m is string => typeof m === 'string' && m.length > 0 && m.length <= LIMITS.id);
  return [...new Set(ids)].sort().slice(0, LIMITS.participants);
}

function reminder(id: string, v: unknown): Reminder | null {
  if (typeof v !== 'object' || v === null || id.length > LIMITS.id) return null;
  const r = v as { before?: unknown; for?: unknown };
  if (typeof r.before !== 'number' || !Number.isFinite(r.before)) return null;
  return { id, minutesBefore: r.before, for: Array.isArray(r.for) ? members(r.for) : null };
}

function reminderList(v: unknown): Reminder[] {
  return Array.isArray(v)
    ? v
        .flatMap((r: unknown) => {
          const x = r as { id?: unknown; minutesBefore?: unknown; for?: unknown } | null;
          return x && typeof x.id === 'string' ? (reminder(x.id, { before: x.minutesBefore, for: x.for }) ?? []) : [];
        })
        .slice(0, LIMITS.reminders)
    : [];
}

/** Groups flat "key|field" entries, keeping only known fields. */
function grouped(v: unknown, fields: readonly string[]): Map<string, Map<string, unknown>> {
  const out = new Map<string, Map<string, unknown>>();
  if (!(v instanceof Y.Map)) return out;
  for (const [flat, value] of v.entries()) {
    const k = splitFieldKey(flat);
    if (!k || !fields.includes(k.field)) continue;
    const group = out.get(k.key) ?? new Map<string, unknown>();
    group.set(k.field, value);
    out.set(k.key, group);
  }
  return out;
}

/**
 * Copies the entries of one group whose values have the right type (shared by ov and segs). Fields
 * are visited in schema order, not in the Y.Map's order (which depends on the order a replica
 * received the updates), so every replica reads the same state into the same object.
 */
function typedFields(group: Map<string, unknown>): SegmentFields & OccurrenceOverride {
  const o: SegmentFields & OccurrenceOverride = {};
  for (const field of SEGMENT_FIELDS) {
    if (!group.has(field)) continue;
    const value = group.get(field);
    switch (field) {
      case 'title':
      case 'description':
      case 'location':
        if (typeof value === 'string') o[field] = str(value, LIMITS[field]);
        break;
      case 'start':
      case 'duration':
        if (typeof value === 'string') o[field] = str(value, CODE_MAX.when);
        break;
      case 'tz':
      case 'endTz':
        if (typeof value === 'string' || value === null) o[field] = strOrNull(value, CODE_MAX.zone);
        break;
      case 'color':
      case 'category':
        if (typeof value === 'string' || value === null) o[field] = strOrNull(value, LIMITS[field]);
        break;
      case 'rrule':
        if (typeof value === 'string' || value === null) o[field] = strOrNull(value, CODE_MAX.rrule);
        break;
      case 'participants':
        o.participants = members(value);
        break;
      case 'reminders':
        o.reminders = reminderList(value);
        break;
      case 'cancelled':
        if (value === true) o.cancelled = true;
        break;
    }
  }
  return o;
}

/**
 * Overrides by occurrence key: the first LIMITS.overrides keys (writes refuse more; only a raw Yjs
 * client stores more, and each costs every query of the series a placement), as dateKeys keeps
 * the first LIMITS.dates dates.
 */
function overrides(v: unknown): Record<string, OccurrenceOverride> {
  const out: Record<string, OccurrenceOverride> = {};
  const groups = [...grouped(v, OCCURRENCE_FIELDS)].sort(([a], [b]) => (a < b ? -1 : 1)).slice(0, LIMITS.overrides);
  for (const [key, group] of groups) {
    const { tz: _tz, endTz: _endTz, reminders: _r, rrule: _rr, ...o } = typedFields(group);
    out[key] = o;
  }
  return out;
}

/** "This and following" parts in key order: the first LIMITS.segments (writes refuse more). */
function segments(v: unknown): Segment[] {
  return [...grouped(v, SEGMENT_FIELDS)]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .slice(0, LIMITS.segments)
    .map(([splitKey, group]) => ({ splitKey, fields: typedFields(group) }));
}

function deletion(v: unknown): Deletion | null {
  if (typeof v !== 'object' || v === null) return null;
  const d = v as { at?: unknown; by?: unknown };
  return typeof d.at === 'string' ? { at: str(d.at, CODE_MAX.stamp), by: str(d.by, LIMITS.id) } : null;
}

/** Stored duration text → its duration and canonical text (readDuration keeps recent ones). */
function storedDuration(value: unknown, allDay: boolean): { d: Temporal.Duration; text: string } {
  const d = readDuration(value, allDay);
  return { d, text: formatDuration(d) };
}

/** The end of the first occurrence: a date for all-day events, a wall clock in endTz (or tz) otherwise. */
export function endOf(start: string, duration: unknown, tz: string | null, endTz: string | null): { end: string; duration: string } {
  const when = parseWhen(start, 'start');
  const { d, text } = storedDuration(duration, when.allDay);
  if (when.allDay) return { end: when.wall.toPlainDate().add(d).toString(), duration: text };
  if (tz === null) return { end: formatWall(when.wall.add(d)), duration: text };
  const end = resolve(when.wall, tz).add(d).withTimeZone(endTz ?? tz);
  return { end: formatWall(end.toPlainDateTime()), duration: text };
}

/**
 * Reads one event map. `withEnd: false` skips the (zone-resolving) computation of `end`, which
 * leaves it equal to `start`, for readers that need only the stored timing: expansion (it derives
 * ends per occurrence) and change tracking. The duration is canonical either way.
 */
export function readEvent(id: string, ev: EventMap, withEnd = true): CalendarEvent {
  const start = str(ev.get(F.start), CODE_MAX.when);
  const tz = strOrNull(ev.get(F.tz), CODE_MAX.zone);
  const endTz = strOrNull(ev.get(F.endTz), CODE_MAX.zone);
  let allDay = false;
  let end = start;
  let duration = str(ev.get(F.duration), CODE_MAX.when);
  try {
    allDay = parseWhen(start, 'start').allDay;
    duration = storedDuration(duration, allDay).text;
    if (withEnd) end = endOf(start, duration, tz, endTz).end;
  } catch {
    // An unreadable start is left as is; occurrence queries skip such events.
  }
  const alerts = ev.get(F.alerts);
  return {
    id,
    title: str(ev.get(F.title), LIMITS.title),
    description: str(ev.get(F.description), LIMITS.description),
    location: str(ev.get(F.location), LIMITS.location),
    allDay,
    start,
    end,
    duration,
    tz,
    endTz,
    participants: keysOf(ev.get(F.who), LIMITS.participants, LIMITS.id),
    color: strOrNull(ev.get(F.color), LIMITS.color),
    category: strOrNull(ev.get(F.category), LIMITS.category),
    reminders:
      alerts instanceof Y.Map
        ? [...alerts.entries()]
            .flatMap(([rid, v]) => reminder(rid, v) ?? [])
            .sort((a, b) => a.minutesBefore - b.minutesBefore || (a.id < b.id ? -1 : 1))
            .slice(0, LIMITS.reminders)
        : [],
    rrule: strOrNull(ev.get(F.rrule), CODE_MAX.rrule),
    exdates: dateKeys(ev.get(F.exdates)),
    rdates: dateKeys(ev.get(F.rdates)),
    overrides: overrides(ev.get(F.ov)),
    segments: segments(ev.get(F.segs)),
    uid: strOrNull(ev.get(F.uid), LIMITS.uid),
    createdBy: str(ev.get(F.createdBy), LIMITS.id),
    createdAt: str(ev.get(F.createdAt), CODE_MAX.stamp),
    updatedBy: str(ev.get(F.updatedBy), LIMITS.id),
    updatedAt: str(ev.get(F.updatedAt), CODE_MAX.stamp),
    deleted: deletion(ev.get(F.deleted)),
  };
}

/**
 * When an event without extra dates or "this and following" parts can happen, read as readEvent
 * reads it: its start, duration and rule, and the start and length each override gives an
 * occurrence it moves or resizes.
 */
export interface EventTiming {
  start: string;
  duration: string;
  rrule: string | null;
  moves: readonly { start?: string; duration?: string }[];
}

/** The override fields that move or resize an occurrence. */
const MOVE_FIELDS = ['start', 'duration'] as const;

/** Y.Map's size lists every entry to count them; the first one answers this. */
const isEmpty = (map: Y.Map<unknown>): boolean => map.keys().next().done === true;

/**
 * An event's timing alone, without reading the rest of it (a fraction of the cost of readEvent):
 * for ruling most of a room out of a window query before reading it. Null when it has extra dates
 * or "this and following" parts.
 */
export function readTiming(ev: EventMap): EventTiming | null {
  for (const field of [F.rdates, F.segs]) {
    const v = ev.get(field);
    // readEvent reads anything but a non-empty Y.Map here as none.
    if (v instanceof Y.Map && !isEmpty(v)) return null;
  }
  return {
    start: str(ev.get(F.start), CODE_MAX.when),
    duration: str(ev.get(F.duration), CODE_MAX.when),
    rrule: strOrNull(ev.get(F.rrule), CODE_MAX.rrule),
    moves: movesOf(ev.get(F.ov)),
  };
}

/** The overrides' starts and durations, read as overrides() reads them, one entry per occurrence. */
function movesOf(v: unknown): EventTiming['moves'] {
  return [...grouped(v, MOVE_FIELDS).values()].map(typedFields);
}

/** Options of a read: `withEnd: false` leaves `end` equal to `start` (see readEvent), saving a zone resolution per event. */
export interface ReadOptions {
  withEnd?: boolean;
}

export function getEvent(doc: Y.Doc, id: string, opts: ReadOptions = {}): CalendarEvent | null {
  const ev = eventsMap(doc).get(id);
  return ev instanceof Y.Map ? readEvent(id, ev, opts.withEnd !== false) : null;
}

/** Events in id order; trashed ones only when asked. */
export function listEvents(doc: Y.Doc, opts: { includeDeleted?: boolean } & ReadOptions = {}): CalendarEvent[] {
  return readEvents(doc, opts.includeDeleted === true, opts.withEnd !== false);
}

function readEvents(doc: Y.Doc, includeDeleted: boolean, withEnd: boolean): CalendarEvent[] {
  const out: CalendarEvent[] = [];
  for (const [id, ev] of eventsMap(doc).entries()) {
    if (!(ev instanceof Y.Map)) continue;
    // Checked before the full read: trashed events are skipped cheaply.
    if (!includeDeleted && deletion(ev.get(F.deleted)) !== null) continue;
    out.push(readEvent(id, ev, withEnd));
  }
  return out.sort((a, b) => (a.id < b.id ? -1 : 1));
}

export function eventMapOf(doc: Y.Doc, id: string): EventMap {
  const ev = eventsMap(doc).get(id);
  if (!(ev instanceof Y.Map)) throw new ModelError('EVENT_NOT_FOUND', `No event with id "${id}"`, 'id');
  return ev;
}
