/**
 * Times of an iCalendar file as the model stores them: DATE, floating, zoned (TZID mapped to an
 * IANA zone, else converted through the file's own VTIMEZONE) and UTC values; DTSTART with DTEND,
 * DURATION or neither (RFC 5545 §3.6.1: a date lasts one day, a date-time ends when it starts).
 */
import ICAL from 'ical.js';
import { Temporal } from 'temporal-polyfill';
import { checkZoneExpansion, checkZoneShape, ZoneRefused } from './vtimezone-limits.js';
import { ianaFromTzid } from './zones.js';

/** A time read from a property: a date, a wall clock in an IANA zone or floating, or an instant. */
export type ReadTime =
  | { kind: 'date'; date: Temporal.PlainDate }
  | { kind: 'wall'; wall: Temporal.PlainDateTime; tz: string | null }
  | { kind: 'instant'; instant: Temporal.Instant };

export class ImportError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface FileZones {
  /** TZID → the file's VTIMEZONE component for it. */
  vtimezones: Map<string, ICAL.Component>;
  /** TZID → its VTIMEZONE as an ical.js zone (expanded once, not per time), or why it was refused. */
  converters: Map<string, ICAL.Timezone | ImportError>;
}

/** The file's own zone for `tzid`, once its shape and the expansion a time of `year` needs are checked. */
function fileZone(zones: FileZones, tzid: string, vtz: ICAL.Component, year: number): ICAL.Timezone {
  let zone = zones.converters.get(tzid);
  if (zone === undefined) {
    try {
      checkZoneShape(vtz);
      zone = new ICAL.Timezone(vtz);
    } catch (err) {
      zone = new ImportError('UNSUPPORTED_TIME_ZONE', err instanceof ZoneRefused ? err.message : `VTIMEZONE "${tzid.slice(0, 80)}" could not be read`);
    }
    zones.converters.set(tzid, zone);
  }
  if (zone instanceof ImportError) throw zone;
  try {
    checkZoneExpansion(vtz, year);
  } catch (err) {
    if (err instanceof ZoneRefused) throw new ImportError('UNSUPPORTED_TIME_ZONE', err.message);
    throw err;
  }
  return zone;
}

export function readValue(value: ICAL.Time, tzid: string | undefined, zones: FileZones): ReadTime {
  let date: Temporal.PlainDate;
  let wall: Temporal.PlainDateTime;
  try {
    // ical.js reads "2026-13-45" as numbers; a month 13 is refused, not moved into another year.
    date = Temporal.PlainDate.from({ year: value.year, month: value.month, day: value.day }, { overflow: 'reject' });
    wall = date.toPlainDateTime({ hour: value.hour, minute: value.minute, second: Math.min(59, value.second) });
    if (value.hour > 23 || value.minute > 59) throw new RangeError('time');
  } catch {
    throw new ImportError('INVALID_DATE', `${value.isDate ? 'a date' : 'a date-time'} of the event is not a valid ${value.isDate ? 'date' : 'time'}`);
  }
  if (value.isDate) return { kind: 'date', date };
  if (value.zone?.tzid === 'UTC' && tzid === undefined) {
    return { kind: 'instant', instant: wall.toZonedDateTime('UTC').toInstant() };
  }
  if (tzid === undefined) return { kind: 'wall', wall, tz: null };
  const vtz = zones.vtimezones.get(tzid);
  const lic = vtz?.getFirstPropertyValue('x-lic-location');
  const iana = ianaFromTzid(tzid, typeof lic === 'string' ? lic : null);
  if (iana) return { kind: 'wall', wall, tz: iana };
  if (vtz) {
    // Not a zone we can name: the file's own VTIMEZONE still gives the instant.
    const t = value.clone();
    t.zone = fileZone(zones, tzid, vtz, value.year);
    return { kind: 'instant', instant: Temporal.Instant.fromEpochMilliseconds(t.toUnixTime() * 1000) };
  }
  throw new ImportError('UNKNOWN_TIME_ZONE', `TZID "${tzid}" is not an IANA or Windows zone and the file has no VTIMEZONE for it`);
}

const JCAL_TIME = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}(\.\d+)?Z?)?$/;

export function readProp(comp: ICAL.Component, name: string, zones: FileZones): ReadTime | undefined {
  const prop = comp.getFirstProperty(name);
  if (!prop) return undefined;
  const value = prop.getFirstValue();
  // ical.js turns malformed text ("2026-13-45x") into some other date: the text it read is checked first.
  const raw: unknown = (prop.toJSON() as unknown[])[3];
  if (!(value instanceof ICAL.Time) || (typeof raw === 'string' && !JCAL_TIME.test(raw))) {
    throw new ImportError('INVALID_DATE', `${name.toUpperCase()} is not a date or date-time`);
  }
  const tzid = prop.getParameter('tzid');
  return readValue(value, typeof tzid === 'string' ? tzid : undefined, zones);
}

export const wallText = (wall: Temporal.PlainDateTime): string => wall.toString({ smallestUnit: wall.second === 0 ? 'minute' : 'second' });

/** A read time as the wall clock (or date) the model stores, in zone `tz` (null: floating). */
export function wallIn(t: ReadTime, tz: string | null): Temporal.PlainDateTime {
  switch (t.kind) {
    case 'date':
      return t.date.toPlainDateTime();
    case 'instant':
      return t.instant.toZonedDateTimeISO(tz ?? 'UTC').toPlainDateTime();
    case 'wall':
      if (t.tz === null || tz === null || t.tz === tz) return t.wall;
      return t.wall.toZonedDateTime(t.tz, { disambiguation: 'compatible' }).withTimeZone(tz).toPlainDateTime();
  }
}

/** The occurrence key (local date in the series' zone) a RECURRENCE-ID/EXDATE/RDATE names. */
export function keyIn(t: ReadTime, tz: string | null): string {
  return t.kind === 'date' ? t.date.toString() : wallIn(t, tz).toPlainDate().toString();
}

/**
 * The occurrence keys of a property's values, sorted and without repeats. It pauses (yields) after
 * each value, a caller's chance to let others run: converting one costs tens of microseconds.
 */
export function* dateValues(comp: ICAL.Component, name: 'exdate' | 'rdate', zones: FileZones, tz: string | null): Generator<void, string[]> {
  const keys: string[] = [];
  for (const prop of comp.getAllProperties(name)) {
    const tzid = prop.getParameter('tzid');
    for (const raw of prop.getValues() as unknown[]) {
      const value = raw instanceof ICAL.Period ? raw.start : raw;
      if (!(value instanceof ICAL.Time)) continue;
      keys.push(keyIn(readValue(value, typeof tzid === 'string' ? tzid : undefined, zones), tz));
      yield;
    }
  }
  return [...new Set(keys)].sort();
}

export const text = (comp: ICAL.Component, name: string, limit: number): string => {
  const v = comp.getFirstPropertyValue(name);
  return typeof v === 'string' ? v.slice(0, limit) : '';
};

// ---------------------------------------------------------------------------------------------
// VEVENTs → what to store

export interface Timing {
  start: string;
  end: string;
  tz: string | null;
  endTz: string | null;
  allDay: boolean;
}

/** DTSTART/DTEND/DURATION as model times. `utcZone` places UTC instants of single events. */
export function timingOf(comp: ICAL.Component, zones: FileZones, utcZone: string): Timing {
  const start = readProp(comp, 'dtstart', zones);
  if (!start) throw new ImportError('INVALID_DATE', 'DTSTART is missing');
  const allDay = start.kind === 'date';
  const tz = start.kind === 'wall' ? start.tz : start.kind === 'instant' ? utcZone : null;
  const startWall = wallIn(start, tz);
  const endProp = readProp(comp, 'dtend', zones);
  let endTz: string | null = null;
  let endWall: Temporal.PlainDateTime;
  if (endProp) {
    if (!allDay && endProp.kind === 'wall' && endProp.tz !== null && tz !== null && endProp.tz !== tz) {
      endTz = endProp.tz; // a flight: the end is shown in its own zone
      endWall = endProp.wall;
    } else {
      endWall = wallIn(endProp, tz);
    }
  } else {
    const duration = comp.getFirstPropertyValue('duration');
    if (duration instanceof ICAL.Duration) {
      const sign = duration.isNegative ? -1 : 1;
      const d = Temporal.Duration.from({
        days: sign * (duration.weeks * 7 + duration.days),
        hours: sign * duration.hours,
        minutes: sign * duration.minutes,
        seconds: sign * duration.seconds,
      });
      endWall =
        tz === null || allDay
          ? startWall.add(d)
          : startWall.toZonedDateTime(tz, { disambiguation: 'compatible' }).add(d).withTimeZone(tz).toPlainDateTime();
    } else {
      // RFC 5545 §3.6.1: a DATE start lasts one day; a DATE-TIME start with no end is an instant.
      endWall = allDay ? startWall.add({ days: 1 }) : startWall;
    }
  }
  if (allDay) {
    const s = startWall.toPlainDate();
    let e = endWall.toPlainDate();
    if (Temporal.PlainDate.compare(e, s) <= 0) e = s.add({ days: 1 });
    return { start: s.toString(), end: e.toString(), tz: null, endTz: null, allDay };
  }
  return { start: wallText(startWall), end: wallText(endWall), tz, endTz, allDay };
}
