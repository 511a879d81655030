/**
 * The subset of RFC 5545 recurrence that the fake expands: RRULE/EXRULE with FREQ=DAILY|WEEKLY|MONTHLY|YEARLY,
 * INTERVAL, COUNT, UNTIL, BYDAY (with ordinals), BYMONTHDAY (negative too), BYMONTH, WKST; RDATE/EXDATE as
 * DATE, UTC DATE-TIME, floating DATE-TIME or TZID-qualified DATE-TIME lists. Expansion happens in the series'
 * own zone (`start.timeZone`), so DST shifts behave like Google's.
 */
import {
  type CivilDate,
  dayNumber,
  daysInMonth,
  fromDayNumber,
  isValidTimeZone,
  wallToUtc,
  weekday,
} from './time.js';

export type Freq = 'DAILY' | 'WEEKLY' | 'MONTHLY' | 'YEARLY';

export interface RRule {
  freq: Freq;
  interval: number;
  count?: number;
  until?: DateValue;
  byDay?: Array<{ n: number; wd: number }>;
  byMonthDay?: number[];
  byMonth?: number[];
  wkst: number;
}

/** A recurrence date value as written: a DATE, a UTC instant, or a wall time (floating or with TZID). */
export type DateValue =
  | { kind: 'date'; date: CivilDate }
  | { kind: 'utc'; ms: number }
  | { kind: 'wall'; date: CivilDate; h: number; mi: number; s: number; tzid?: string };

export interface ParsedRecurrence {
  rrules: RRule[];
  exrules: RRule[];
  rdates: DateValue[];
  exdates: DateValue[];
}

export class RecurrenceError extends Error {}

const WEEKDAYS: Record<string, number> = { SU: 0, MO: 1, TU: 2, WE: 3, TH: 4, FR: 5, SA: 6 };
const SUPPORTED_KEYS = new Set(['FREQ', 'INTERVAL', 'COUNT', 'UNTIL', 'BYDAY', 'BYMONTHDAY', 'BYMONTH', 'WKST']);

export function parseRecurrence(lines: unknown): ParsedRecurrence {
  if (!Array.isArray(lines)) throw new RecurrenceError('recurrence must be a list');
  const out: ParsedRecurrence = { rrules: [], exrules: [], rdates: [], exdates: [] };
  for (const raw of lines) {
    if (typeof raw !== 'string') throw new RecurrenceError('recurrence lines must be strings');
    const line = raw.trim();
    const colon = line.indexOf(':');
    if (colon < 0) throw new RecurrenceError(`bad line ${line}`);
    const [rawName, ...paramParts] = line.slice(0, colon).split(';');
    const name = rawName!.toUpperCase();
    const value = line.slice(colon + 1);
    const params = new Map<string, string>();
    for (const p of paramParts) {
      const eq = p.indexOf('=');
      if (eq < 0) throw new RecurrenceError(`bad parameter ${p}`);
      params.set(p.slice(0, eq).toUpperCase(), p.slice(eq + 1));
    }
    switch (name) {
      case 'RRULE':
        out.rrules.push(parseRule(value));
        break;
      case 'EXRULE':
        out.exrules.push(parseRule(value));
        break;
      case 'RDATE':
        out.rdates.push(...parseDateList(value, params));
        break;
      case 'EXDATE':
        out.exdates.push(...parseDateList(value, params));
        break;
      default:
        throw new RecurrenceError(`unknown recurrence line ${name}`);
    }
  }
  return out;
}

function parseRule(value: string): RRule {
  const parts = new Map<string, string>();
  for (const kv of value.split(';')) {
    if (!kv) continue;
    const eq = kv.indexOf('=');
    if (eq < 0) throw new RecurrenceError(`bad rule part ${kv}`);
    const key = kv.slice(0, eq).toUpperCase();
    if (!SUPPORTED_KEYS.has(key)) throw new RecurrenceError(`unsupported rule part ${key}`);
    if (parts.has(key)) throw new RecurrenceError(`repeated rule part ${key}`);
    parts.set(key, kv.slice(eq + 1).toUpperCase());
  }
  const freq = parts.get('FREQ');
  if (freq !== 'DAILY' && freq !== 'WEEKLY' && freq !== 'MONTHLY' && freq !== 'YEARLY') {
    throw new RecurrenceError(`unsupported FREQ ${freq}`);
  }
  const rule: RRule = { freq, interval: 1, wkst: 1 };
  const interval = parts.get('INTERVAL');
  if (interval !== undefined) rule.interval = positiveInt(interval, 'INTERVAL');
  const count = parts.get('COUNT');
  if (count !== undefined) rule.count = positiveInt(count, 'COUNT');
  const until = parts.get('UNTIL');
  if (until !== undefined) {
    if (count !== undefined) throw new RecurrenceError('COUNT and UNTIL together');
    rule.until = parseDateValue(until, undefined);
  }
  const byDay = parts.get('BYDAY');
  if (byDay !== undefined) {
    rule.byDay = byDay.split(',').map((tok) => {
      const m = /^([+-]?\d{1,2})?(SU|MO|TU|WE|TH|FR|SA)$/.exec(tok);
      if (!m) throw new RecurrenceError(`bad BYDAY ${tok}`);
      const n = m[1] ? Number(m[1]) : 0;
      if (Math.abs(n) > 53) throw new RecurrenceError(`bad BYDAY ${tok}`);
      return { n, wd: WEEKDAYS[m[2]!]! };
    });
    if ((freq === 'DAILY' || freq === 'WEEKLY') && rule.byDay.some((b) => b.n !== 0)) {
      throw new RecurrenceError('ordinal BYDAY needs MONTHLY or YEARLY');
    }
  }
  const byMonthDay = parts.get('BYMONTHDAY');
  if (byMonthDay !== undefined) {
    rule.byMonthDay = byMonthDay.split(',').map((t) => {
      const n = Number(t);
      if (!Number.isInteger(n) || n === 0 || Math.abs(n) > 31) throw new RecurrenceError(`bad BYMONTHDAY ${t}`);
      return n;
    });
  }
  const byMonth = parts.get('BYMONTH');
  if (byMonth !== undefined) {
    rule.byMonth = byMonth.split(',').map((t) => {
      const n = Number(t);
      if (!Number.isInteger(n) || n < 1 || n > 12) throw new RecurrenceError(`bad BYMONTH ${t}`);
      return n;
    });
  }
  const wkst = parts.get('WKST');
  if (wkst !== undefined) {
    const wd = WEEKDAYS[wkst];
    if (wd === undefined) throw new RecurrenceError(`bad WKST ${wkst}`);
    rule.wkst = wd;
  }
  return rule;
}

function positiveInt(s: string, name: string): number {
  if (!/^\d{1,6}$/.test(s) || Number(s) < 1) throw new RecurrenceError(`bad ${name}`);
  return Number(s);
}

function parseDateList(value: string, params: Map<string, string>): DateValue[] {
  const valueType = params.get('VALUE')?.toUpperCase();
  if (valueType !== undefined && valueType !== 'DATE' && valueType !== 'DATE-TIME') {
    throw new RecurrenceError(`unsupported VALUE=${valueType}`);
  }
  const tzid = params.get('TZID');
  if (tzid !== undefined && !isValidTimeZone(tzid)) throw new RecurrenceError(`unknown TZID ${tzid}`);
  return value.split(',').map((v) => {
    const dv = parseDateValue(v.trim().toUpperCase(), tzid);
    if (valueType === 'DATE' && dv.kind !== 'date') throw new RecurrenceError('VALUE=DATE with a time');
    return dv;
  });
}

function parseDateValue(v: string, tzid: string | undefined): DateValue {
  const m = /^(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2})(Z)?)?$/.exec(v);
  if (!m) throw new RecurrenceError(`bad date ${v}`);
  const date = { y: Number(m[1]), mo: Number(m[2]), d: Number(m[3]) };
  if (date.mo < 1 || date.mo > 12 || date.d < 1 || date.d > daysInMonth(date.y, date.mo)) {
    throw new RecurrenceError(`bad date ${v}`);
  }
  if (m[4] === undefined) return { kind: 'date', date };
  const h = Number(m[4]);
  const mi = Number(m[5]);
  const s = Number(m[6]);
  if (h > 23 || mi > 59 || s > 60) throw new RecurrenceError(`bad time ${v}`);
  if (m[7]) return { kind: 'utc', ms: Date.UTC(date.y, date.mo - 1, date.d, h, mi, s) };
  return { kind: 'wall', date, h, mi, s, ...(tzid ? { tzid } : {}) };
}

/** The series' anchor: an all-day start date, or a timed start (wall time in the series zone). */
export type SeriesStart =
  | { kind: 'date'; date: CivilDate }
  | { kind: 'dateTime'; date: CivilDate; h: number; mi: number; s: number; tz: string };

/** One occurrence: `day` (days since epoch) for all-day series, `ms` for timed ones. */
export type Occurrence = { kind: 'date'; day: number } | { kind: 'dateTime'; ms: number };

export function occurrenceKey(o: Occurrence): string {
  return o.kind === 'date' ? `d${o.day}` : `t${o.ms}`;
}

function valueToOccurrence(v: DateValue, start: SeriesStart): Occurrence {
  if (start.kind === 'date') {
    if (v.kind === 'date' || v.kind === 'wall') return { kind: 'date', day: dayNumber(v.date) };
    return { kind: 'date', day: Math.floor(v.ms / 86_400_000) };
  }
  if (v.kind === 'utc') return { kind: 'dateTime', ms: v.ms };
  if (v.kind === 'date') {
    return { kind: 'dateTime', ms: wallToUtc({ ...v.date, h: start.h, mi: start.mi, s: start.s }, start.tz) };
  }
  return { kind: 'dateTime', ms: wallToUtc({ ...v.date, h: v.h, mi: v.mi, s: v.s }, v.tzid ?? start.tz) };
}

function occurrenceOnDay(start: SeriesStart, day: number): Occurrence {
  if (start.kind === 'date') return { kind: 'date', day };
  const date = fromDayNumber(day);
  return { kind: 'dateTime', ms: wallToUtc({ ...date, h: start.h, mi: start.mi, s: start.s }, start.tz) };
}

function untilReached(rule: RRule, occ: Occurrence, start: SeriesStart): boolean {
  const u = rule.until;
  if (!u) return false;
  if (occ.kind === 'date') {
    const limit = u.kind === 'utc' ? Math.floor(u.ms / 86_400_000) : dayNumber(u.date);
    return occ.day > limit;
  }
  let limitMs: number;
  if (u.kind === 'utc') limitMs = u.ms;
  else if (u.kind === 'date') {
    // A DATE UNTIL on a timed series covers that whole day in the series zone.
    const next = fromDayNumber(dayNumber(u.date) + 1);
    limitMs = wallToUtc({ ...next, h: 0, mi: 0, s: 0 }, start.kind === 'dateTime' ? start.tz : 'UTC') - 1;
  } else limitMs = wallToUtc({ ...u.date, h: u.h, mi: u.mi, s: u.s }, u.tzid ?? (start.kind === 'dateTime' ? start.tz : 'UTC'));
  return occ.ms > limitMs;
}

function matches(rule: RRule, c: CivilDate, s: CivilDate): boolean {
  if (rule.byMonth && !rule.byMonth.includes(c.mo)) return false;
  const wd = weekday(c);
  const monthDayOk = (): boolean =>
    !rule.byMonthDay || rule.byMonthDay.some((n) => (n > 0 ? c.d === n : c.d === daysInMonth(c.y, c.mo) + 1 + n));
  switch (rule.freq) {
    case 'DAILY': {
      if ((dayNumber(c) - dayNumber(s)) % rule.interval !== 0) return false;
      if (rule.byDay && !rule.byDay.some((b) => b.wd === wd)) return false;
      return monthDayOk();
    }
    case 'WEEKLY': {
      const weekStart = (d: CivilDate): number => dayNumber(d) - ((weekday(d) - rule.wkst + 7) % 7);
      const weeks = Math.round((weekStart(c) - weekStart(s)) / 7);
      if (weeks % rule.interval !== 0) return false;
      return rule.byDay ? rule.byDay.some((b) => b.wd === wd) : wd === weekday(s);
    }
    case 'MONTHLY': {
      const months = (c.y - s.y) * 12 + (c.mo - s.mo);
      if (months % rule.interval !== 0) return false;
      if (!rule.byDay && !rule.byMonthDay) return c.d === s.d;
      return monthDayOk() && (!rule.byDay || rule.byDay.some((b) => byDayInMonth(b, c, wd)));
    }
    case 'YEARLY': {
      if ((c.y - s.y) % rule.interval !== 0) return false;
      if (!rule.byDay && !rule.byMonthDay) {
        return rule.byMonth ? c.d === s.d : c.mo === s.mo && c.d === s.d;
      }
      if (!monthDayOk()) return false;
      if (!rule.byDay) return true;
      return rule.byDay.some((b) => (rule.byMonth ? byDayInMonth(b, c, wd) : byDayInYear(b, c, wd)));
    }
  }
}

function byDayInMonth(b: { n: number; wd: number }, c: CivilDate, wd: number): boolean {
  if (b.wd !== wd) return false;
  if (b.n === 0) return true;
  if (b.n > 0) return Math.ceil(c.d / 7) === b.n;
  return Math.floor((daysInMonth(c.y, c.mo) - c.d) / 7) + 1 === -b.n;
}

function byDayInYear(b: { n: number; wd: number }, c: CivilDate, wd: number): boolean {
  if (b.wd !== wd) return false;
  if (b.n === 0) return true;
  const first = dayNumber({ y: c.y, mo: 1, d: 1 });
  const last = dayNumber({ y: c.y, mo: 12, d: 31 });
  const n = dayNumber(c);
  if (b.n > 0) return Math.floor((n - first) / 7) + 1 === b.n;
  return Math.floor((last - n) / 7) + 1 === -b.n;
}

export interface ExpandOptions {
  /** Last day (days since epoch, inclusive) to consider; required so open-ended rules stop. */
  untilDay: number;
  /** Stop after this many occurrences (after exclusions). */
  maxOccurrences: number;
}

/**
 * All occurrences of a series, sorted: DTSTART, every RRULE and RDATE occurrence, minus EXRULE and EXDATE.
 * COUNT counts DTSTART as the first occurrence and is applied before EXDATE (RFC 5545).
 */
export function expand(start: SeriesStart, rec: ParsedRecurrence, opts: ExpandOptions): Occurrence[] {
  const startDay = dayNumber(start.date);
  const occurrences = new Map<string, Occurrence>();
  const add = (o: Occurrence): void => {
    occurrences.set(occurrenceKey(o), o);
  };
  const first = occurrenceOnDay(start, startDay);
  add(first);
  const ruleOccurrences = (rule: RRule): Occurrence[] => {
    const out: Occurrence[] = [first];
    for (let day = startDay + 1; day <= opts.untilDay; day++) {
      if (rule.count !== undefined && out.length >= rule.count) break;
      if (out.length > opts.maxOccurrences * 4) break;
      const c = fromDayNumber(day);
      if (!matches(rule, c, start.date)) continue;
      const occ = occurrenceOnDay(start, day);
      if (untilReached(rule, occ, start)) break;
      out.push(occ);
    }
    return out;
  };
  for (const rule of rec.rrules) for (const o of ruleOccurrences(rule)) add(o);
  for (const v of rec.rdates) add(valueToOccurrence(v, start));
  for (const rule of rec.exrules) for (const o of ruleOccurrences(rule)) occurrences.delete(occurrenceKey(o));
  for (const v of rec.exdates) occurrences.delete(occurrenceKey(valueToOccurrence(v, start)));
  const sorted = [...occurrences.values()].sort((a, b) =>
    a.kind === 'date' && b.kind === 'date' ? a.day - b.day : (a as { ms: number }).ms - (b as { ms: number }).ms,
  );
  return sorted.slice(0, opts.maxOccurrences);
}
