/**
 * The API's event shape and the model's. The API speaks its own names (`eventTitle`,
 * `startTime`, `endTime`, `participants`, plus `eventId` in answers) and Google's recurrence lines;
 * the model stores wall clocks plus an IANA zone. This module only translates: every rule about
 * events (validation, recurrence, overrides) stays in @kith/model.
 *
 * Times in bodies may be
 * - an RFC 3339 date-time with an offset or Z (`2026-03-20T09:00:00+01:00`): the instant is read
 *   in the event's `timeZone` (UTC when a new event names none);
 * - a wall-clock time without offset (`2026-03-20T09:00`): read in `timeZone`; with
 *   `timeZone: null` the event is floating (the same wall clock in every zone);
 * - a date (`2026-03-20`): an all-day event, `endTime` exclusive.
 * Answers give zoned times with their offset in the event's zone, floating times without one, and
 * dates for all-day events.
 */
import ICAL from 'ical.js';
import { Temporal } from 'temporal-polyfill';
import { LIMITS, ModelError, yearInRange, type CalendarEvent, type EventInput, type EventPatch, type Occurrence } from '@kith/model';
import { parserMessage } from './ics-parse.js';
import { ianaFromTzid } from './zones.js';

export interface EventBody {
  eventTitle?: string;
  startTime?: string;
  endTime?: string;
  timeZone?: string | null;
  endTimeZone?: string | null;
  allDay?: boolean;
  description?: string;
  location?: string;
  participants?: string[];
  recurrence?: string[];
  color?: string | null;
  category?: string | null;
  reminders?: Array<{ id?: string; minutesBefore: number; for?: string[] | null }>;
}

export interface EventView {
  eventId: string;
  eventTitle: string;
  startTime: string;
  endTime: string;
  timeZone: string | null;
  endTimeZone: string | null;
  allDay: boolean;
  participants: string[];
  description: string;
  location: string;
  recurrence: string[];
  color: string | null;
  category: string | null;
  reminders: Array<{ id: string; minutesBefore: number; for: string[] | null }>;
  createdBy: string;
  createdAt: string;
  updatedBy: string;
  updatedAt: string;
}

export interface OccurrenceView {
  eventId: string;
  occKey: string;
  recurring: boolean;
  allDay: boolean;
  originalStart: string;
  eventTitle: string;
  startTime: string;
  endTime: string;
  timeZone: string | null;
  /**
   * The start and end as the viewer's clock reads them: in the `timeZone` the list was asked for,
   * with that zone's offset (`startTime`/`endTime` stay in the event's own zone). All-day
   * occurrences keep their dates, which mean the same day everywhere.
   */
  localStartTime: string;
  localEndTime: string;
  description: string;
  location: string;
  participants: string[];
  color: string | null;
  category: string | null;
  overridden: boolean;
}

const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;
const WALL_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?$/;

type TimeKind = 'date' | 'wall' | 'instant';

function kindOf(value: string, field: 'start' | 'end'): TimeKind {
  if (DATE_RE.test(value)) return 'date';
  if (WALL_RE.test(value)) return 'wall';
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/i.test(value)) return 'instant';
  throw new ModelError(
    'INVALID_DATE',
    `${field} must be a date-time with offset (2026-03-20T09:00:00+01:00), a wall-clock time (2026-03-20T09:00) or a date (2026-03-20), got "${value}"`,
    field,
  );
}

function wallString(wall: Temporal.PlainDateTime): string {
  return wall.toString({ smallestUnit: wall.second === 0 ? 'minute' : 'second' });
}

/** An instant read as a wall clock in `tz` (which must be a zone: floating events have no instants). */
function instantToWall(value: string, tz: string | null | undefined, field: 'start' | 'end'): string {
  if (tz === null || tz === undefined) {
    throw new ModelError(
      'INVALID_DATE',
      `${field}: a floating or all-day event takes a wall-clock time without offset (2026-03-20T09:00) or a date, not "${value}"`,
      field,
    );
  }
  let instant: Temporal.Instant;
  try {
    instant = Temporal.Instant.from(value);
  } catch {
    throw new ModelError('INVALID_DATE', `${field} is not a valid date-time: "${value}"`, field);
  }
  let zoned: Temporal.ZonedDateTime;
  try {
    zoned = instant.toZonedDateTimeISO(tz);
  } catch {
    throw new ModelError('UNKNOWN_TIME_ZONE', `tz is not a known IANA time zone: "${tz}"`, 'tz');
  }
  // An offset can carry a date across the range's ends: 0001-01-01T00:30+01:00 is year 0000 in UTC.
  const utcYear = instant.toZonedDateTimeISO('UTC').year;
  if (!yearInRange(utcYear) || !yearInRange(zoned.year)) {
    throw new ModelError(
      'INVALID_DATE',
      `${field} must fall in the years 0001 to 9999 in UTC and in the event's zone; "${value}" is ${wallString(zoned.toPlainDateTime())} in ${tz}`,
      field,
    );
  }
  return wallString(zoned.toPlainDateTime());
}

function timeValue(value: string, kind: TimeKind, tz: string | null | undefined, field: 'start' | 'end'): string {
  return kind === 'instant' ? instantToWall(value, tz, field) : value;
}

function checkAllDay(allDay: boolean | undefined, kind: TimeKind | undefined, field: 'start' | 'end'): void {
  if (allDay === undefined || kind === undefined) return;
  if (allDay && kind !== 'date') {
    throw new ModelError('INVALID_DATE', `${field} of an all-day event must be a date (YYYY-MM-DD)`, field);
  }
  if (!allDay && kind === 'date') {
    throw new ModelError('INVALID_DATE', `${field} of a timed event (allDay: false) must be a date-time`, field);
  }
}

/**
 * Told the work a body's recurrence lines will cost before any value is converted: one unit per
 * line and per EXDATE/RDATE value (see parseRecurrence). Throws to refuse the work.
 */
export type ChargeWork = (units: number) => void;

/** The model input for a new event (POST, `create_event`). */
export function toEventInput(body: EventBody, charge?: ChargeWork): EventInput {
  const start = body.startTime;
  const end = body.endTime;
  if (typeof start !== 'string') throw new ModelError('INVALID_INPUT', 'start is required', 'start');
  if (typeof end !== 'string') throw new ModelError('INVALID_INPUT', 'end is required', 'end');
  const startKind = kindOf(start, 'start');
  const endKind = kindOf(end, 'end');
  checkAllDay(body.allDay, startKind, 'start');
  checkAllDay(body.allDay, endKind, 'end');
  // The plainest body gives instants and no zone: read them in UTC.
  let tz = body.timeZone;
  if (tz === undefined && (startKind === 'instant' || endKind === 'instant')) tz = 'UTC';
  const endZone = body.endTimeZone ?? tz;
  const input: EventInput = {
    title: body.eventTitle as string,
    start: timeValue(start, startKind, tz, 'start'),
    end: timeValue(end, endKind, endZone, 'end'),
  };
  if (tz !== undefined && startKind !== 'date') input.tz = tz;
  if (body.endTimeZone !== undefined) input.endTz = body.endTimeZone;
  copyContent(body, input);
  if (body.recurrence !== undefined) {
    Object.assign(input, parseRecurrence(body.recurrence, { tz: startKind === 'date' ? null : (tz ?? null), allDay: startKind === 'date' }, charge));
  }
  return input;
}

/** The model patch for a change (PATCH, `update_event`), relative to the event as it is. */
export function toEventPatch(body: EventBody, current: CalendarEvent, charge?: ChargeWork): EventPatch {
  const patch: EventPatch = {};
  const tz = body.timeZone !== undefined ? body.timeZone : current.tz;
  const endZone = body.endTimeZone !== undefined ? body.endTimeZone : (current.endTz ?? tz);
  const startKind = body.startTime !== undefined ? kindOf(body.startTime, 'start') : undefined;
  const endKind = body.endTime !== undefined ? kindOf(body.endTime, 'end') : undefined;
  checkAllDay(body.allDay, startKind, 'start');
  checkAllDay(body.allDay, endKind, 'end');
  if (body.startTime !== undefined && startKind) patch.start = timeValue(body.startTime, startKind, tz, 'start');
  if (body.endTime !== undefined && endKind) patch.end = timeValue(body.endTime, endKind, endZone, 'end');
  if (body.allDay !== undefined && body.allDay !== current.allDay && patch.start === undefined) {
    // Switching kinds without new times: an all-day event on the day it started, or an error.
    if (!body.allDay) {
      throw new ModelError('INVALID_INPUT', 'start is required to turn an all-day event into a timed one', 'start');
    }
    patch.start = current.start.slice(0, 10);
    if (patch.end === undefined) patch.end = Temporal.PlainDate.from(patch.start).add({ days: 1 }).toString();
  }
  if (body.timeZone !== undefined) patch.tz = body.timeZone;
  if (body.endTimeZone !== undefined) patch.endTz = body.endTimeZone;
  copyContent(body, patch);
  if (body.recurrence !== undefined) {
    const allDay = startKind !== undefined ? startKind === 'date' : (body.allDay ?? current.allDay);
    Object.assign(patch, parseRecurrence(body.recurrence, { tz: allDay ? null : tz, allDay }, charge));
  }
  return patch;
}

function copyContent(body: EventBody, out: EventPatch): void {
  if (body.eventTitle !== undefined) out.title = body.eventTitle;
  if (body.description !== undefined) out.description = body.description;
  if (body.location !== undefined) out.location = body.location;
  if (body.participants !== undefined) out.participants = body.participants;
  if (body.color !== undefined) out.color = body.color;
  if (body.category !== undefined) out.category = body.category;
  if (body.reminders !== undefined) out.reminders = body.reminders;
}

// ---------------------------------------------------------------------------------------------
// Recurrence lines

interface RecurrenceFields {
  rrule: string | null;
  exdates: string[];
  rdates: string[];
}

function recurrenceError(message: string): ModelError {
  return new ModelError('INVALID_RRULE', `rrule: ${message}`, 'rrule');
}

/**
 * The local date (occurrence key) an EXDATE/RDATE value names, in the event's zone. `lineZone` is
 * the line's TZID as an IANA zone.
 */
function dateKeyOf(value: ICAL.Time, lineZone: string | null, event: { tz: string | null; allDay: boolean }): string {
  const date = Temporal.PlainDate.from({ year: value.year, month: value.month, day: value.day });
  if (date.year < 1) throw new RangeError('outside the years 0001 to 9999');
  if (value.isDate || event.allDay || event.tz === null) return date.toString();
  const wall = date.toPlainDateTime({ hour: value.hour, minute: value.minute, second: value.second });
  const zone = value.zone?.tzid === 'UTC' ? 'UTC' : lineZone;
  if (zone === null || zone === event.tz) return date.toString();
  const key = wall.toZonedDateTime(zone, { disambiguation: 'compatible' }).withTimeZone(event.tz).toPlainDate();
  if (!yearInRange(key.year)) throw new RangeError('outside the years 0001 to 9999');
  return key.toString();
}

/**
 * Whether the text ical.js read for a value (jCal: `2026-02-30`, `2026-03-01T09:00:00Z`, a
 * period's `[start, end]`) names a day and time that exist: ical.js itself moves 30 February to
 * 2 March and 25:00 to the next day, which would exclude or add some other occurrence.
 */
function existingTime(raw: unknown): boolean {
  const text = Array.isArray(raw) ? raw[0] : raw;
  if (typeof text !== 'string') return false;
  try {
    Temporal.PlainDateTime.from(text.replace(/Z$/i, ''));
    return true;
  } catch {
    return false;
  }
}

/**
 * Google-style recurrence lines (`RRULE:…`, `EXDATE…:…`, `RDATE…:…`) as the model's rule and
 * date lists. EXDATE/RDATE values may be dates, zoned or UTC date-times: each names the local date
 * of an occurrence in the event's zone. No lines at all means the event does not repeat.
 */
export function parseRecurrence(lines: unknown, event: { tz: string | null; allDay: boolean }, charge?: ChargeWork): RecurrenceFields {
  if (!Array.isArray(lines)) throw recurrenceError('recurrence must be an array of RFC 5545 lines');
  const out: RecurrenceFields = { rrule: null, exdates: [], rdates: [] };
  // Every line is read and its values counted before any value is converted: converting a value
  // between zones costs tens of microseconds, and a 256 KiB live message holds 16,000 of them
  // (0.4 s of the event loop for one message the model then refuses).
  const lists: Array<{ i: number; values: unknown[]; raws: unknown[]; tzid: string | undefined; target: string[] }> = [];
  lines.forEach((line: unknown, i) => {
    if (typeof line !== 'string') throw recurrenceError(`recurrence[${i}] must be a string`);
    const name = (/^[A-Za-z-]+/.exec(line)?.[0] ?? '').toUpperCase();
    if (name === 'RRULE') {
      if (out.rrule !== null) throw recurrenceError(`recurrence[${i}]: only one RRULE is supported`);
      out.rrule = line.slice(line.indexOf(':') + 1);
      return;
    }
    if (name !== 'EXDATE' && name !== 'RDATE') {
      throw recurrenceError(`recurrence[${i}]: "${name || line.slice(0, 20)}" is not supported (use RRULE, EXDATE or RDATE)`);
    }
    let values: unknown[];
    let raws: unknown[];
    let tzid: unknown;
    try {
      const prop = ICAL.Property.fromString(line);
      tzid = prop.getParameter('tzid');
      // ical.js reads the values only now: a malformed one ("EXDATE:20260322" read as a date-time) throws here.
      values = prop.getValues() as unknown[];
      raws = (prop.toJSON() as unknown[]).slice(3);
    } catch (err) {
      throw recurrenceError(`recurrence[${i}] cannot be read: ${parserMessage(err)}`);
    }
    const target = name === 'EXDATE' ? out.exdates : out.rdates;
    const count = lists.reduce((n, l) => n + (l.target === target ? l.values.length : 0), values.length);
    if (count > LIMITS.dates) {
      throw new ModelError('TOO_MANY_ITEMS', `recurrence has more than ${LIMITS.dates} ${name} values; the limit is ${LIMITS.dates}`, 'exdates');
    }
    lists.push({ i, values, raws, tzid: typeof tzid === 'string' ? tzid : undefined, target });
  });
  charge?.(lines.length + lists.reduce((n, l) => n + l.values.length, 0));
  for (const { i, values, raws, tzid, target } of lists) {
    const lineZone = tzid !== undefined ? ianaFromTzid(tzid) : null;
    values.forEach((raw, j) => {
      const value = raw instanceof ICAL.Period ? raw.start : raw;
      if (!(value instanceof ICAL.Time) || !Number.isFinite(value.year)) {
        throw recurrenceError(`recurrence[${i}] has a value that is not a date or date-time`);
      }
      if (!existingTime(raws[j])) {
        throw recurrenceError(`recurrence[${i}] has a date or time that does not exist: ${String(raws[j]).slice(0, 40)}`);
      }
      try {
        target.push(dateKeyOf(value, lineZone, event));
      } catch {
        throw recurrenceError(`recurrence[${i}] has a date out of range: ${String(raws[j]).slice(0, 40)}`);
      }
    });
  }
  return out;
}

const basicDate = (date: string): string => date.replace(/-/g, '');
const basicTime = (wall: string): string => {
  const t = wall.slice(11).replace(/:/g, '');
  return (t + '000000').slice(0, 6);
};

/** EXDATE/RDATE values for occurrence keys, at the series' time of day, in the form DTSTART has. */
export function dateListLine(name: 'EXDATE' | 'RDATE', keys: string[], ev: { allDay: boolean; start: string; tz: string | null }): string {
  if (ev.allDay) return `${name};VALUE=DATE:${keys.map(basicDate).join(',')}`;
  const time = basicTime(ev.start);
  if (ev.tz === null) return `${name}:${keys.map((k) => `${basicDate(k)}T${time}`).join(',')}`;
  if (ev.tz === 'UTC') return `${name}:${keys.map((k) => `${basicDate(k)}T${time}Z`).join(',')}`;
  return `${name};TZID=${ev.tz}:${keys.map((k) => `${basicDate(k)}T${time}`).join(',')}`;
}

export function recurrenceLines(ev: CalendarEvent): string[] {
  const lines: string[] = [];
  if (ev.rrule !== null) lines.push(`RRULE:${ev.rrule}`);
  const view = { allDay: ev.allDay, start: ev.start, tz: ev.allDay ? null : ev.tz };
  if (ev.rrule !== null && ev.exdates.length > 0) lines.push(dateListLine('EXDATE', ev.exdates, view));
  if (ev.rdates.length > 0) lines.push(dateListLine('RDATE', ev.rdates, view));
  return lines;
}

// ---------------------------------------------------------------------------------------------
// Answers

/** A zoned date-time with its offset, seconds included: `2026-03-20T09:00:00+01:00`. */
export function offsetTime(z: Temporal.ZonedDateTime): string {
  return z.toString({ timeZoneName: 'never', smallestUnit: 'second' });
}

function apiTime(value: string, tz: string | null, allDay: boolean): string {
  if (allDay) return value.slice(0, 10);
  let wall: Temporal.PlainDateTime;
  try {
    wall = Temporal.PlainDateTime.from(value);
  } catch {
    return value; // an unreadable stored value is shown as it is
  }
  if (tz === null) return wall.toString({ smallestUnit: 'second' });
  try {
    return offsetTime(wall.toZonedDateTime(tz, { disambiguation: 'compatible' }));
  } catch {
    return wall.toString({ smallestUnit: 'second' });
  }
}

export function eventView(ev: CalendarEvent): EventView {
  return {
    eventId: ev.id,
    eventTitle: ev.title,
    startTime: apiTime(ev.start, ev.tz, ev.allDay),
    endTime: apiTime(ev.end, ev.endTz ?? ev.tz, ev.allDay),
    timeZone: ev.allDay ? null : ev.tz,
    endTimeZone: ev.allDay ? null : ev.endTz,
    allDay: ev.allDay,
    participants: ev.participants,
    description: ev.description,
    location: ev.location,
    recurrence: recurrenceLines(ev),
    color: ev.color,
    category: ev.category,
    reminders: ev.reminders,
    createdBy: ev.createdBy,
    createdAt: ev.createdAt,
    updatedBy: ev.updatedBy,
    updatedAt: ev.updatedAt,
  };
}

export function occurrenceView(occ: Occurrence, viewerTz: string): OccurrenceView {
  const at = (instant: string, tz: string): string => offsetTime(Temporal.Instant.from(instant).toZonedDateTimeISO(tz));
  return {
    eventId: occ.eventId,
    occKey: occ.occKey,
    recurring: occ.recurring,
    allDay: occ.allDay,
    originalStart: occ.originalStart,
    eventTitle: occ.title,
    startTime: occ.allDay ? occ.start : at(occ.startInstant, occ.tz ?? viewerTz),
    endTime: occ.allDay ? occ.end : at(occ.endInstant, occ.endTz ?? occ.tz ?? viewerTz),
    timeZone: occ.allDay ? null : occ.tz,
    localStartTime: occ.allDay ? occ.start : at(occ.startInstant, viewerTz),
    localEndTime: occ.allDay ? occ.end : at(occ.endInstant, viewerTz),
    description: occ.description,
    location: occ.location,
    participants: occ.participants,
    color: occ.color,
    category: occ.category,
    overridden: occ.overridden,
  };
}
