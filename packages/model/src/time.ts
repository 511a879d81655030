/**
 * Temporal helpers. Everything calendar-related is done with wall clocks (PlainDateTime) and IANA
 * zones; instants exist only at the edges (windows, sorting, overlap checks).
 */
import { Temporal } from 'temporal-polyfill';
import { ModelError } from './errors.js';

export { Temporal };

/**
 * The supported range: years 0001–9999, for every instant (UTC) and every wall clock. RFC 5545
 * and RFC 3339 write four-digit years, and Temporal's own edges overflow.
 */
export const FIRST_MS = new Date('0001-01-01T00:00:00Z').getTime();
export const AFTER_LAST_MS = new Date('+010000-01-01T00:00:00Z').getTime();

/** Whether a year number is in 0001–9999. */
export const yearInRange = (year: number): boolean => year >= 1 && year <= 9999;

/** Whether an instant (ms) is in the years 0001–9999 in UTC. */
export const instantInRange = (ms: number): boolean => ms >= FIRST_MS && ms < AFTER_LAST_MS;

/** Whether a date or wall clock as text ("2026-03-20", "2026-03-20T09:00") has a year in 0001–9999. */
export function inYears(text: string): boolean {
  return /^\d{4}-/.test(text) && !text.startsWith('0000');
}

/** A start as stored: all-day events use midnight of their date. */
export interface When {
  allDay: boolean;
  wall: Temporal.PlainDateTime;
}

const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;
const WALL_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?$/;

/** Reads "2026-03-20" or "2026-03-20T09:00"; offsets and zone suffixes are refused, not dropped. */
export function parseWhen(value: unknown, field: string): When {
  if (typeof value !== 'string') throw new ModelError('INVALID_DATE', `${field} must be a string`, field);
  const hit = WHENS.get(value);
  if (hit) return hit;
  const when = readWhen(value);
  if (!when) {
    throw new ModelError(
      'INVALID_DATE',
      `${field} must be a date (YYYY-MM-DD) or a wall-clock time (YYYY-MM-DDTHH:mm) without offset, got "${value}"`,
      field,
    );
  }
  remember(WHENS, value, when);
  return when;
}

/**
 * Parsed starts and durations by their text. Temporal values are immutable, and reading one event
 * parses its start and duration several times over (its parts, its end, its orphaned keys), each
 * parse costing tens of µs in temporal-polyfill; a few thousand recent texts are kept.
 */
const WHENS = new Map<string, When>();
const DURATIONS = new Map<string, Temporal.Duration>();
const MAX_REMEMBERED = 4_096;

function remember<T>(cache: Map<string, T>, key: string, value: T): void {
  if (cache.size >= MAX_REMEMBERED) cache.clear();
  cache.set(key, value);
}

function readWhen(value: string): When | null {
  try {
    if (DATE_RE.test(value)) {
      const date = Temporal.PlainDate.from(value, { overflow: 'reject' });
      return Object.freeze({ allDay: true, wall: date.toPlainDateTime() });
    }
    if (WALL_RE.test(value)) {
      return Object.freeze({ allDay: false, wall: Temporal.PlainDateTime.from(value, { overflow: 'reject' }) });
    }
  } catch {
    // unreadable: the caller names the field
  }
  return null;
}

export function parseDate(value: unknown, field: string): Temporal.PlainDate {
  const when = parseWhen(value, field);
  if (!when.allDay) throw new ModelError('INVALID_DATE', `${field} must be a date (YYYY-MM-DD)`, field);
  return when.wall.toPlainDate();
}

const pad = (n: number): string => String(n).padStart(2, '0');

/** Minutes precision unless the value carries seconds, so imported times with seconds round-trip exactly. */
export function formatWall(wall: Temporal.PlainDateTime): string {
  const plainMinute =
    wall.second === 0 && wall.millisecond === 0 && wall.microsecond === 0 && wall.nanosecond === 0;
  // The common case by hand: Temporal's toString with options is slow and runs per occurrence.
  if (plainMinute && wall.year >= 1000 && wall.year <= 9999) {
    return `${wall.year}-${pad(wall.month)}-${pad(wall.day)}T${pad(wall.hour)}:${pad(wall.minute)}`;
  }
  return plainMinute ? wall.toString({ smallestUnit: 'minute' }) : wall.toString();
}

export function formatWhen(when: When): string {
  return when.allDay ? when.wall.toPlainDate().toString() : formatWall(when.wall);
}

/** Returns the zone's canonical spelling; offsets such as "+01:00" are not IANA zones. */
export function checkZone(tz: unknown, field: string): string {
  if (typeof tz === 'string' && tz.length > 0 && tz.length <= 64 && !/^[+\-\u2212]/.test(tz)) {
    try {
      return Temporal.Instant.fromEpochMilliseconds(0).toZonedDateTimeISO(tz).timeZoneId;
    } catch {
      // fall through
    }
  }
  throw new ModelError('UNKNOWN_TIME_ZONE', `${field} is not a known IANA time zone: "${String(tz)}"`, field);
}

/**
 * Places a wall clock in a zone like Google Calendar and RFC 5545 §3.3.5: a time in a DST gap moves
 * forward by the gap (02:30 → 03:30), a time in an overlap takes the earlier offset.
 */
export function resolve(wall: Temporal.PlainDateTime, tz: string): Temporal.ZonedDateTime {
  return wall.toZonedDateTime(tz, { disambiguation: 'compatible' });
}

/** An instant as RFC 3339 UTC ("2026-03-08T07:30:00Z"); Date's formatter is far faster than Temporal's. */
export function formatInstant(z: Temporal.ZonedDateTime): string {
  const ms = z.epochMilliseconds;
  const sub = Number(z.epochNanoseconds % 1_000_000n);
  if (sub !== 0 || ms < 0 || ms >= 253402300800000) return z.toInstant().toString();
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}

const HOUR_MS = 3_600_000;
// Instants Date can hold (Temporal's own range), less two days for any zone's offset.
const DATE_SAFE_MS = 8.64e15 - 2 * 86_400_000;
/** A zone's UTC offset by UTC hour ("zone hour" → ms), kept only for hours with no transition in them. */
const HOUR_OFFSETS = new Map<string, number>();

const lookUpOffsetMs = (ms: number, zone: string): number =>
  Temporal.Instant.fromEpochMilliseconds(ms).toZonedDateTimeISO(zone).offsetNanoseconds / 1e6;

/**
 * A zone's UTC offset at an instant, in ms. A zone look-up costs tens of µs and window queries make
 * one per occurrence, so an hour whose offset is the same at its first and last millisecond is
 * remembered: no zone changes offset twice within an hour (none of Node's 418 zones did from 1850 to 2100).
 */
export function zoneOffsetMs(ms: number, zone: string): number {
  if (zone === 'UTC') return 0;
  const hour = Math.floor(ms / HOUR_MS);
  const key = `${zone} ${hour}`;
  const hit = HOUR_OFFSETS.get(key);
  if (hit !== undefined) return hit;
  const first = lookUpOffsetMs(hour * HOUR_MS, zone);
  if (lookUpOffsetMs(hour * HOUR_MS + HOUR_MS - 1, zone) !== first) return lookUpOffsetMs(ms, zone);
  remember(HOUR_OFFSETS, key, first);
  return first;
}

/** The UTC wall clock at an instant in ms, from Date's fields. */
export function utcWall(ms: number): Temporal.PlainDateTime {
  const d = new Date(ms);
  return new Temporal.PlainDateTime(d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), d.getUTCMilliseconds());
}

/** The wall clock in `zone` at an instant in ms. */
export function wallAt(ms: number, zone: string): Temporal.PlainDateTime {
  if (Math.abs(ms) > DATE_SAFE_MS) return Temporal.Instant.fromEpochMilliseconds(ms).toZonedDateTimeISO(zone).toPlainDateTime();
  return utcWall(ms + zoneOffsetMs(ms, zone));
}

/** z.toPlainDateTime(), through the remembered offsets when z is a whole millisecond. */
export function wallOf(z: Temporal.ZonedDateTime): Temporal.PlainDateTime {
  if (z.epochNanoseconds % 1_000_000n !== 0n) return z.toPlainDateTime();
  return wallAt(z.epochMilliseconds, z.timeZoneId);
}

/** formatWall(wallOf(z)), without building the wall clock when it falls on a whole minute (it runs per occurrence). */
export function formatWallOf(z: Temporal.ZonedDateTime): string {
  const ms = z.epochMilliseconds;
  if (z.epochNanoseconds % 1_000_000n === 0n && Math.abs(ms) <= DATE_SAFE_MS) {
    const wallMs = ms + zoneOffsetMs(ms, z.timeZoneId);
    // "YYYY-MM-DDTHH:MM:00.000Z" for years 0000–9999, which formatWall writes as its first 16 characters.
    const iso = wallMs % 60_000 === 0 ? new Date(wallMs).toISOString() : '';
    if (iso.length === 24) return iso.slice(0, 16);
  }
  return formatWall(wallOf(z));
}

/** A wall clock's date as PlainDate#toString writes it; by hand for years 1000–9999 (it keys every occurrence). */
export function formatDateOf(wall: Temporal.PlainDateTime): string {
  const year = wall.year;
  if (year >= 1000 && year <= 9999) return `${year}-${pad(wall.month)}-${pad(wall.day)}`;
  return wall.toPlainDate().toString();
}

export function parseInstant(value: unknown, field: string): Temporal.Instant {
  if (typeof value === 'string') {
    try {
      return Temporal.Instant.from(value);
    } catch {
      // fall through
    }
  }
  throw new ModelError('INVALID_DATE', `${field} must be an instant with an offset or Z, got "${String(value)}"`, field);
}

export function nowInstant(now: string | undefined): Temporal.Instant {
  return now === undefined ? Temporal.Now.instant() : parseInstant(now, 'now');
}

/** Midnight at the start of a date in a zone (not always 00:00: some zones skip midnight). */
export function startOfDay(date: Temporal.PlainDate, tz: string): Temporal.ZonedDateTime {
  return date.toZonedDateTime({ timeZone: tz });
}

/**
 * The stored duration of an event: whole days for all-day events, exact hours otherwise. A
 * malformed or mismatched value (after concurrent edits switched the kind) is coerced, not trusted.
 */
export function readDuration(value: unknown, allDay: boolean): Temporal.Duration {
  if (typeof value !== 'string' || value.length > 64) return coerceDuration(value, allDay);
  const key = `${allDay ? 'd' : 't'}${value}`;
  let d = DURATIONS.get(key);
  if (!d) remember(DURATIONS, key, (d = coerceDuration(value, allDay)));
  return d;
}

function coerceDuration(value: unknown, allDay: boolean): Temporal.Duration {
  let d: Temporal.Duration | null = null;
  if (typeof value === 'string') {
    try {
      d = Temporal.Duration.from(value);
    } catch {
      d = null;
    }
  }
  if (d === null || d.sign < 0 || (d.sign === 0 && allDay) || d.years !== 0 || d.months !== 0 || d.weeks !== 0) {
    return allDay ? Temporal.Duration.from({ days: 1 }) : Temporal.Duration.from({ hours: 1 });
  }
  if (allDay) {
    const hours = d.total({ unit: 'hours', relativeTo: Temporal.PlainDate.from('2000-01-01') });
    return Temporal.Duration.from({ days: Math.max(1, Math.ceil(hours / 24)) });
  }
  return d.days === 0 ? d : d.round({ largestUnit: 'hours', relativeTo: Temporal.PlainDate.from('2000-01-01') });
}

/**
 * A duration as ISO 8601 text, exactly as Temporal.Duration#toString writes it. temporal-polyfill
 * formats every number through toLocaleString, which builds an Intl formatter each time: about
 * 150 µs a duration, a sixth of rendering an event as iCalendar. Whole units down to seconds (all a
 * calendar stores) are written here; anything finer is left to it.
 */
export function formatDuration(d: Temporal.Duration): string {
  if (d.milliseconds !== 0 || d.microseconds !== 0 || d.nanoseconds !== 0) return d.toString();
  const fields = [d.years, d.months, d.weeks, d.days, d.hours, d.minutes, d.seconds].map(Math.abs);
  if (!fields.every(Number.isSafeInteger)) return d.toString();
  const [years, months, weeks, days, hours, minutes, seconds] = fields as [number, number, number, number, number, number, number];
  const unit = (n: number, letter: string): string => (n === 0 ? '' : `${n}${letter}`);
  const zero = d.sign === 0;
  const date = unit(years, 'Y') + unit(months, 'M') + unit(weeks, 'W') + unit(days, 'D');
  const time = hours || minutes || seconds || zero ? `T${unit(hours, 'H')}${unit(minutes, 'M')}${seconds || zero ? `${seconds}S` : ''}` : '';
  return `${d.sign < 0 ? '-' : ''}P${date}${time}`;
}

/** Days between two dates (b - a). */
export function daysBetween(a: Temporal.PlainDate, b: Temporal.PlainDate): number {
  return a.until(b, { largestUnit: 'days' }).days;
}

export function shiftDateKey(key: string, days: number): string {
  return Temporal.PlainDate.from(key).add({ days }).toString();
}

/** "20260320T090000" — the RFC 5545 basic form. */
export function toBasic(wall: Temporal.PlainDateTime): string {
  const t = wall.toString({ smallestUnit: 'second' });
  return t.replace(/[-:]/g, '');
}

export function toBasicDate(date: Temporal.PlainDate): string {
  return date.toString().replace(/-/g, '');
}

const EPOCH_DATE = Temporal.PlainDate.from('2000-01-01');

/**
 * A duration's length in days (of 24 hours), as total({ unit: 'days', relativeTo: a date }) gives
 * it, by arithmetic when it has no years or months (stored durations never have: readDuration).
 */
export function durationDays(d: Temporal.Duration): number {
  if (d.years !== 0 || d.months !== 0) return d.total({ unit: 'days', relativeTo: EPOCH_DATE });
  return d.weeks * 7 + d.days + (d.hours * 3_600 + d.minutes * 60 + d.seconds + d.milliseconds / 1e3 + d.microseconds / 1e6 + d.nanoseconds / 1e9) / 86_400;
}
