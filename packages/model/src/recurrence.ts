/**
 * RRULE handling on top of rrule-temporal.
 *
 * Rules are expanded in "wall space": DTSTART is the local wall clock placed in UTC, so the library
 * never sees a DST transition, and each generated wall clock is then placed in the event's zone
 * with time.resolve(). rrule-temporal (like RFC 5545 §3.3.10) skips wall times that fall in a DST
 * gap; Google shifts them forward, and so do we. The same expansion serves floating and all-day
 * events, which have no zone of their own.
 *
 * Only DAILY..YEARLY without BYHOUR/BYMINUTE/BYSECOND is accepted, so a series has at most one
 * occurrence per local day and the local date can key occurrences (occKey).
 */
import { RRuleTemporal } from 'rrule-temporal';
import { ModelError, tooLong } from './errors.js';
import { LIMITS } from './schema.js';
import { Temporal, toBasic, toBasicDate, resolve, wallOf } from './time.js';

const FREQS = new Set(['DAILY', 'WEEKLY', 'MONTHLY', 'YEARLY']);
const PARTS = new Set(['FREQ', 'INTERVAL', 'COUNT', 'UNTIL', 'BYDAY', 'BYMONTHDAY', 'BYMONTH', 'BYYEARDAY', 'BYWEEKNO', 'BYSETPOS', 'WKST']);
const SUB_DAILY = new Set(['BYHOUR', 'BYMINUTE', 'BYSECOND']);
// [max |value|, negatives allowed]; rrule-temporal silently drops out-of-range values, we refuse them.
const INT_LISTS: Record<string, [number, boolean]> = {
  BYMONTHDAY: [31, true],
  BYMONTH: [12, false],
  BYYEARDAY: [366, true],
  BYWEEKNO: [53, true],
  BYSETPOS: [366, true],
};
const UNTIL_RE = /^(\d{8})(T(\d{6})(Z?))?$/;
const MAX_COUNT = 10_000;
const DAY_MS = 86_400_000;
const WEEKDAYS = ['MO', 'TU', 'WE', 'TH', 'FR', 'SA', 'SU'] as const;

type Parts = Map<string, string>;

function invalid(message: string): ModelError {
  return new ModelError('INVALID_RRULE', `rrule: ${message}`, 'rrule');
}

function parseParts(rule: string): Parts {
  const parts: Parts = new Map();
  const body = rule.trim().replace(/^RRULE:/i, '').toUpperCase();
  for (const piece of body.split(';')) {
    if (piece === '') continue;
    const m = /^([A-Z-]+)=([^=]+)$/.exec(piece);
    if (!m) throw invalid(`cannot read "${piece}"`);
    const [, name = '', value = ''] = m;
    if (SUB_DAILY.has(name)) throw invalid(`${name} is not supported: events repeat at most once a day`);
    if (!PARTS.has(name)) throw invalid(`${name} is not a supported rule part`);
    if (parts.has(name)) throw invalid(`${name} appears twice`);
    parts.set(name, value);
  }
  return parts;
}

function formatParts(parts: Parts): string {
  const freq = parts.get('FREQ');
  const rest = [...parts].filter(([k]) => k !== 'FREQ').map(([k, v]) => `${k}=${v}`);
  return [`FREQ=${freq ?? ''}`, ...rest].join(';');
}

function positiveInt(parts: Parts, name: string, max: number): void {
  const v = parts.get(name);
  if (v === undefined) return;
  if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > max) throw invalid(`${name} must be a whole number from 1 to ${max}`);
}

/** Every check of ours on a rule (not the library's), returning its parts. */
function checkedParts(rule: unknown): Parts {
  if (typeof rule !== 'string') throw invalid('must be a string');
  if (rule.length > LIMITS.rrule) throw tooLong('rrule', rule.length, LIMITS.rrule);
  const parts = parseParts(rule);
  const freq = parts.get('FREQ');
  if (freq === undefined) throw invalid('FREQ is required');
  if (!FREQS.has(freq)) throw invalid(`FREQ=${freq} is not supported (use DAILY, WEEKLY, MONTHLY or YEARLY)`);
  positiveInt(parts, 'INTERVAL', 1_000);
  positiveInt(parts, 'COUNT', MAX_COUNT);
  if (parts.has('COUNT') && parts.has('UNTIL')) throw invalid('COUNT and UNTIL cannot both be set');
  for (const [name, [max, negative]] of Object.entries(INT_LISTS)) {
    const v = parts.get(name);
    if (v === undefined) continue;
    for (const item of v.split(',')) {
      const n = Number(item);
      if (!/^[+-]?\d+$/.test(item) || n === 0 || Math.abs(n) > max || (n < 0 && !negative)) {
        throw invalid(`${name} value "${item}" is out of range`);
      }
    }
  }
  const until = parts.get('UNTIL');
  if (until !== undefined) untilWall(until, null); // throws when unreadable
  return parts;
}

/** The library's rule over checked parts; it checks the rest (BYDAY tokens, ordinals only with MONTHLY/YEARLY, ...). */
function libraryRule(parts: Parts, dtstart: Temporal.ZonedDateTime): RRuleTemporal<Temporal.ZonedDateTime> {
  try {
    return new RRuleTemporal({ rruleString: formatParts(parts), dtstart, strict: true, temporal: Temporal });
  } catch (err) {
    throw invalid(err instanceof Error ? err.message : String(err));
  }
}

const CHECK_START = Temporal.ZonedDateTime.from('2000-01-03T00:00[UTC]');

/** Validates a rule and returns it in canonical form (upper case, FREQ first, no "RRULE:"). */
export function normalizeRule(rule: unknown): string {
  const parts = checkedParts(rule);
  const canonical = formatParts(parts);
  parts.delete('UNTIL');
  libraryRule(parts, CHECK_START);
  return canonical;
}

/**
 * The latest wall clock (in ms, read as if UTC) at which a rule can start an occurrence of a series
 * first starting at `startMs`, told from the rule alone: from UNTIL, or from COUNT where every
 * period yields an occurrence (DAILY, or WEEKLY with at most BYDAY); null when only expanding can
 * tell, or the rule does not read. Cheap: for skipping ended series without expanding them.
 */
export function lastStartBoundMs(rule: string, startMs: number): number | null {
  let parts: Parts;
  try {
    parts = parseParts(rule);
  } catch {
    return null;
  }
  const until = parts.get('UNTIL');
  if (until !== undefined) {
    const ymd = UNTIL_RE.exec(until)?.[1];
    const day = ymd === undefined ? NaN : Date.parse(`${ymd.slice(0, 4)}-${ymd.slice(4, 6)}-${ymd.slice(6, 8)}T00:00:00Z`);
    // The end of UNTIL's date: a UTC UNTIL read in the series' zone moves by less than the caller's margin.
    return Number.isFinite(day) ? day + DAY_MS : null;
  }
  const count = Number(parts.get('COUNT'));
  const interval = Number(parts.get('INTERVAL') ?? '1');
  if (!Number.isInteger(count) || count < 1 || !Number.isInteger(interval) || interval < 1) return null;
  const freq = parts.get('FREQ');
  const allowed = freq === 'WEEKLY' ? ['FREQ', 'COUNT', 'INTERVAL', 'WKST', 'BYDAY'] : ['FREQ', 'COUNT', 'INTERVAL', 'WKST'];
  if ([...parts.keys()].some((k) => !allowed.includes(k))) return null;
  if (freq === 'DAILY') return startMs + (count - 1) * interval * DAY_MS;
  // Every week after the first holds at least one of the BYDAY days (COUNT counts exdated ones too).
  if (freq === 'WEEKLY') return startMs + (count + 1) * interval * 7 * DAY_MS;
  return null;
}

/**
 * UNTIL as an inclusive wall clock: a DATE means the end of that local day, a UTC time is read in
 * the series' zone (erratum 4414: UNTIL is UTC when DTSTART has a TZID), a local time is floating.
 */
function untilWall(value: string, tz: string | null): Temporal.PlainDateTime {
  const m = UNTIL_RE.exec(value);
  try {
    if (m) {
      const [, ymd = '', , hms, z] = m;
      const date = Temporal.PlainDate.from(`${ymd.slice(0, 4)}-${ymd.slice(4, 6)}-${ymd.slice(6, 8)}`, { overflow: 'reject' });
      if (hms === undefined) return date.toPlainDateTime({ hour: 23, minute: 59, second: 59 });
      const wall = date.toPlainDateTime(
        Temporal.PlainTime.from(`${hms.slice(0, 2)}:${hms.slice(2, 4)}:${hms.slice(4, 6)}`, { overflow: 'reject' }),
      );
      return z === 'Z' ? wall.toZonedDateTime('UTC').withTimeZone(tz ?? 'UTC').toPlainDateTime() : wall;
    }
  } catch {
    // fall through
  }
  throw invalid(`UNTIL "${value}" must be YYYYMMDD, YYYYMMDDTHHMMSS or YYYYMMDDTHHMMSSZ`);
}

/** A rule anchored at its first start; `tz` (null when floating or unknown) reads a UTC UNTIL. */
export interface Anchored {
  rule: string;
  start: Temporal.PlainDateTime;
  tz: string | null;
}

// Compiled rules are pure values of their inputs; keep a bounded memo so repeated window queries
// over the same document do not re-parse every rule.
const compiled = new Map<string, RRuleTemporal<Temporal.ZonedDateTime>>();

function compile(a: Anchored): RRuleTemporal<Temporal.ZonedDateTime> {
  const memoKey = `${a.rule}\n${a.start.toString()}\n${a.tz ?? ''}`;
  const hit = compiled.get(memoKey);
  if (hit) return hit;
  // Stored rules come from other devices too: check them like input, so a bad one is a ModelError.
  // One library construction serves as both its check and the compiled rule.
  const parts = checkedParts(a.rule);
  const until = parts.get('UNTIL');
  if (until !== undefined) parts.set('UNTIL', `${toBasic(untilWall(until, a.tz))}Z`);
  const rule = libraryRule(parts, a.start.toZonedDateTime('UTC'));
  if (compiled.size >= 500) compiled.clear();
  compiled.set(memoKey, rule);
  return rule;
}

/** Generated wall clocks in [from, to], both inclusive (rules run in UTC wall space: wallOf needs no zone look-up). */
export function ruleBetween(a: Anchored, from: Temporal.PlainDateTime, to: Temporal.PlainDateTime): Temporal.PlainDateTime[] {
  if (Temporal.PlainDateTime.compare(from, to) > 0) return [];
  return compile(a).between(from.toZonedDateTime('UTC'), to.toZonedDateTime('UTC'), true).map((z) => wallOf(z));
}

/** The generated wall clock on a local date, if any. */
export function ruleOn(a: Anchored, date: Temporal.PlainDate): Temporal.PlainDateTime | null {
  const from = date.toPlainDateTime();
  return ruleBetween(a, from, from.add({ days: 1 }).subtract({ nanoseconds: 1 }))[0] ?? null;
}

/** How many generated occurrences start before `before` — exdated ones too: COUNT precedes EXDATE. */
export function ruleCountBefore(a: Anchored, before: Temporal.PlainDateTime): number {
  const limit = before.toZonedDateTime('UTC');
  return compile(a).all((d) => Temporal.ZonedDateTime.compare(d, limit) < 0).length;
}

export function ruleLastBefore(a: Anchored, before: Temporal.PlainDateTime): Temporal.PlainDateTime | null {
  const prev = compile(a).previous(before.toZonedDateTime('UTC'), false);
  return prev ? wallOf(prev) : null;
}

export function ruleCount(rule: string): number | null {
  const v = parseParts(rule).get('COUNT');
  return v === undefined ? null : Number(v);
}

export function withCount(rule: string, count: number): string {
  const parts = parseParts(rule);
  parts.delete('UNTIL');
  parts.set('COUNT', String(count));
  return formatParts(parts);
}

/**
 * Ends a rule at its last kept occurrence: UNTIL in UTC for a zoned series, a DATE for all-day, a
 * local time for floating (RFC 5545 §3.3.10 requires UNTIL to match DTSTART's type).
 */
export function withUntil(rule: string, last: Temporal.PlainDateTime, allDay: boolean, tz: string | null): string {
  const parts = parseParts(rule);
  parts.delete('COUNT');
  let until: string;
  if (allDay) until = toBasicDate(last.toPlainDate());
  else if (tz === null) until = toBasic(last);
  else until = `${toBasic(resolve(last, tz).withTimeZone('UTC').toPlainDateTime())}Z`;
  parts.set('UNTIL', until);
  return formatParts(parts);
}

/**
 * Keeps a rule in step with a start that moved to another day, as calendar UIs do: a weekly
 * BYDAY shifts by the same number of weekdays, a BYMONTHDAY/BYMONTH naming the old date follows it.
 */
export function retargetRule(rule: string, from: Temporal.PlainDate, to: Temporal.PlainDate): string {
  const parts = parseParts(rule);
  const freq = parts.get('FREQ');
  const byDay = parts.get('BYDAY');
  if (freq === 'WEEKLY' && byDay !== undefined) {
    const shift = (((to.dayOfWeek - from.dayOfWeek) % 7) + 7) % 7;
    const days = byDay.split(',');
    if (shift !== 0 && days.every((d) => (WEEKDAYS as readonly string[]).includes(d))) {
      const moved = days.map((d) => WEEKDAYS[(WEEKDAYS.indexOf(d as (typeof WEEKDAYS)[number]) + shift) % 7] ?? d);
      parts.set('BYDAY', moved.join(','));
    }
  }
  if ((freq === 'MONTHLY' || freq === 'YEARLY') && parts.get('BYMONTHDAY') === String(from.day)) {
    parts.set('BYMONTHDAY', String(to.day));
  }
  if (freq === 'YEARLY' && parts.get('BYMONTH') === String(from.month)) parts.set('BYMONTH', String(to.month));
  return formatParts(parts);
}

const BYDAY_TOKEN = /^([+-]?\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)$/;

/**
 * The shortest gap between the weekdays `days` (indexes 0–6 from WKST) repeating every `weekSpan`
 * days: the gaps within one week and the wrap to the first day of the next repeated week.
 */
function weekdayGap(days: number[], weekSpan: number): number {
  const sorted = [...new Set(days)].sort((a, b) => a - b);
  let gap = weekSpan - ((sorted.at(-1) ?? 0) - (sorted[0] ?? 0));
  for (let i = 1; i < sorted.length; i++) gap = Math.min(gap, (sorted[i] ?? 0) - (sorted[i - 1] ?? 0));
  return Math.max(1, gap);
}

/**
 * The shortest gap between the days of the month `days` (from the first to the last listed, then
 * to the first of the month `interval` months on, a month being at least 28 days); 1 when some
 * count from the end of the month.
 */
function monthDayGap(days: number[], interval: number): number {
  if (days.some((d) => !(d > 0))) return days.length === 1 ? 28 * interval : 1;
  const sorted = [...new Set(days)].sort((a, b) => a - b);
  let gap = 28 * interval - ((sorted.at(-1) ?? 0) - (sorted[0] ?? 0));
  for (let k = 1; k < sorted.length; k++) gap = Math.min(gap, (sorted[k] ?? 0) - (sorted[k - 1] ?? 0));
  return Math.max(1, gap);
}

/**
 * A lower bound, in days, on the time between two consecutive starts of a rule: FREQ×INTERVAL
 * (a month 28 days, a year 364: an nth weekday moves by whole weeks) when every period yields at
 * most one occurrence, less when BY parts list several days a period (every Monday and Friday:
 * 3 days; a monthly list of days of the month: 1 day, the end of one month to the start of the
 * next). Rules repeat at most once a day, so never below 1. Throws INVALID_RRULE when the rule
 * does not read. An occurrence longer than this overlaps the next one: validation refuses it,
 * and expansion skips a stored event whose occurrences overlap many deep (see expand.ts).
 */
export function minGapDays(rule: string): number {
  const parts = parseParts(rule);
  const freq = parts.get('FREQ');
  const interval = Number(parts.get('INTERVAL') ?? '1');
  const i = Number.isInteger(interval) && interval >= 1 ? interval : 1;
  const list = (name: string): string[] => (parts.get(name) ?? '').split(',').filter((x) => x !== '');
  const byDay = list('BYDAY').map((t) => BYDAY_TOKEN.exec(t));
  if (byDay.some((m) => m === null)) return 1;
  const plainDays = byDay.filter((m) => m?.[1] === undefined).map((m) => WEEKDAYS.indexOf(m?.[2] as (typeof WEEKDAYS)[number]));
  const ordinals = byDay.length - plainDays.length;
  const wkst = Math.max(0, WEEKDAYS.indexOf((parts.get('WKST') ?? 'MO') as (typeof WEEKDAYS)[number]));
  const monthDays = list('BYMONTHDAY');
  const many = (name: string): boolean => list(name).length > 1;
  switch (freq) {
    case 'DAILY':
      // Every BY part of a daily rule only filters its days.
      return i;
    case 'WEEKLY':
      return plainDays.length > 0 ? weekdayGap(plainDays.map((d) => (d - wkst + 7) % 7), 7 * i) : 7 * i;
    case 'MONTHLY':
      if (monthDays.length === 0) {
        if (byDay.length === 0) return 28 * i;
        if (ordinals === 0) return weekdayGap(plainDays, 7);
        return byDay.length === 1 ? 28 * i : 1;
      }
      // BYDAY only filters the listed days of the month.
      return monthDayGap(monthDays.map(Number), i);
    case 'YEARLY': {
      if (many('BYMONTH') || many('BYMONTHDAY') || many('BYYEARDAY') || many('BYWEEKNO')) return 1;
      const limitsDays = monthDays.length > 0 || parts.has('BYYEARDAY');
      if (!limitsDays && byDay.length > 0) {
        if (ordinals === 0) return weekdayGap(plainDays, 7);
        if (byDay.length > 1) return 1;
      }
      // A day of the month without a month: that day of every month.
      if (monthDays.length > 0 && !parts.has('BYMONTH')) return 28;
      return 364 * i;
    }
    default:
      return 1;
  }
}

const dayNumber = (key: string): number => Date.parse(`${key}T00:00:00Z`) / DAY_MS;

/**
 * A lower bound, in days, on the time between consecutive starts of a series part: its rule's
 * (minGapDays) and its extra dates' (RDATEs, and the start of a series without a rule) taken
 * apart. An extra date near a rule's occurrence is not counted, so occurrences of a series whose
 * length is at most this overlap at most two deep. Null when nothing repeats. Throws
 * INVALID_RRULE when the rule does not read.
 */
export function repeatGapDays(rule: string | null, startKey: string, rdates: readonly string[]): number | null {
  let gap = rule === null ? Infinity : minGapDays(rule);
  if (rdates.length > 0) {
    const days = [...new Set([...(rule === null ? [startKey] : []), ...rdates])].map(dayNumber).filter(Number.isFinite).sort((a, b) => a - b);
    for (let k = 1; k < days.length; k++) gap = Math.min(gap, (days[k] ?? 0) - (days[k - 1] ?? 0));
  }
  return Number.isFinite(gap) ? Math.max(1, gap) : null;
}
