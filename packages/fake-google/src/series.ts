/**
 * Recurring series as stored: when an occurrence starts and ends, which occurrences overlap a window, which
 * exceptions override them, and the opaque ids their instances are handed out under.
 */
import { createHash } from 'node:crypto';
import { base32hexId, type Calendar, type StoredEvent, timeKey, type TimeValue } from './calendar-data.js';
import { expand, type Occurrence, parseRecurrence, type ParsedRecurrence, type SeriesStart } from './recurrence.js';
import { dateString, dayNumber, fromDayNumber, parseDate, startOfDate, wallInZone } from './time.js';

/** How far open-ended series are expanded: `expansionHorizonDays` past max(now, series start). */
export interface SeriesExpansion {
  now: () => number;
  expansionHorizonDays: number;
}

/** Start and end as instants; an all-day date starts at midnight in the calendar's zone. */
export function spanOf(cal: Calendar, start: TimeValue, end: TimeValue): [number, number] {
  return [instant(cal, start), instant(cal, end)];
}

export function instant(cal: Calendar, t: TimeValue): number {
  if (t.kind === 'dateTime') return t.ms;
  return startOfDate(parseDate(t.date)!, cal.timeZone);
}

/** An occurrence keeps the series' duration (in days for all-day series). */
export function instanceTimes(master: StoredEvent, original: TimeValue): { start: TimeValue; end: TimeValue } {
  if (master.start.kind === 'date' && master.end.kind === 'date' && original.kind === 'date') {
    const days = dayNumber(parseDate(master.end.date)!) - dayNumber(parseDate(master.start.date)!);
    const endDate = dateString(fromDayNumber(dayNumber(parseDate(original.date)!) + days));
    return {
      start: { ...original },
      end: { kind: 'date', date: endDate, ...(master.end.timeZone ? { timeZone: master.end.timeZone } : {}) },
    };
  }
  const s = master.start as { ms: number };
  const e = master.end as { ms: number; timeZone?: string };
  const o = original as { ms: number; timeZone?: string };
  return {
    start: { ...original },
    end: { kind: 'dateTime', ms: o.ms + (e.ms - s.ms), ...(e.timeZone ? { timeZone: e.timeZone } : {}) },
  };
}

/**
 * Instance ids are opaque on purpose: Google says they are, and changes their format; a client that
 * parses them breaks here first.
 */
export function instanceId(cal: Calendar, masterId: string, original: TimeValue): string {
  const key = original.kind === 'date' ? original.date : String(original.ms);
  const id = `_${base32hexId(createHash('sha256').update(`${cal.id}\n${masterId}\n${key}`).digest(), 24)}`;
  if (!cal.instances.has(id)) cal.instances.set(id, { masterId, original: { ...original } });
  return id;
}

function seriesStart(master: StoredEvent): SeriesStart {
  if (master.start.kind === 'date') return { kind: 'date', date: parseDate(master.start.date)! };
  const tz = master.start.timeZone ?? 'UTC';
  const w = wallInZone(master.start.ms, tz);
  return { kind: 'dateTime', date: { y: w.y, mo: w.mo, d: w.d }, h: w.h, mi: w.mi, s: w.s, tz };
}

/** Occurrences of a series whose span overlaps (windowStart, windowEnd). */
export function occurrences(
  cal: Calendar,
  master: StoredEvent,
  expansion: SeriesExpansion,
  windowStart?: number,
  windowEnd?: number,
): TimeValue[] {
  const rec: ParsedRecurrence = parseRecurrence(master.recurrence ?? []);
  const start = seriesStart(master);
  const startDay = dayNumber(start.date);
  const nowDay = Math.floor(expansion.now() / 86_400_000);
  const horizon =
    windowEnd !== undefined
      ? Math.floor(windowEnd / 86_400_000) + 2
      : Math.max(nowDay, startDay) + expansion.expansionHorizonDays;
  const occ: Occurrence[] = expand(start, rec, { untilDay: horizon, maxOccurrences: 5000 });
  const out: TimeValue[] = [];
  for (const o of occ) {
    const original: TimeValue =
      o.kind === 'date'
        ? { kind: 'date', date: dateString(fromDayNumber(o.day)), ...(master.start.timeZone ? { timeZone: master.start.timeZone } : {}) }
        : { kind: 'dateTime', ms: o.ms, ...(master.start.timeZone ? { timeZone: master.start.timeZone } : {}) };
    const { start: s, end: e } = instanceTimes(master, original);
    const [sMs, eMs] = spanOf(cal, s, e);
    if (windowStart !== undefined && eMs <= windowStart) continue;
    if (windowEnd !== undefined && sMs >= windowEnd) continue;
    out.push(original);
  }
  return out;
}

export function exceptionsOf(cal: Calendar, masterId: string): Map<string, StoredEvent> {
  const out = new Map<string, StoredEvent>();
  for (const ev of cal.events.values()) {
    if (ev.recurringEventId === masterId && ev.originalStart) out.set(timeKey(ev.originalStart), ev);
  }
  return out;
}
