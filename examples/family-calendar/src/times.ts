/**
 * Conversions between the model's strings (wall clocks "2026-03-20T09:00" read in an IANA zone,
 * all-day dates "2026-03-20" with exclusive ends) and what the page shows and edits: JS Dates from
 * the calendar component and date/time form inputs.
 *
 * The calendar component runs in UTC and is fed wall clocks of the display zone (the zone the
 * viewer chose): a Date's UTC fields are then the display zone's wall clock, whatever zone this
 * device is in. `fcWall` / `fcDate` read them back.
 */
import { Temporal } from 'temporal-polyfill';
import { deviceZone, zoneCity } from './zones.js';

export { deviceZone };

const pad = (n: number) => String(n).padStart(2, '0');

/** "YYYY-MM-DD" of a Date in this device's zone (the calendar component's all-day dates are local midnights). */
export function localDate(d: Date): string {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** The wall clock "YYYY-MM-DDTHH:mm" of an instant in `tz` (null: this device's zone, for floating events). */
export function wallIn(d: Date, tz: string | null): string {
  const zdt = Temporal.Instant.fromEpochMilliseconds(d.getTime()).toZonedDateTimeISO(tz ?? deviceZone());
  return formatWall(zdt.toPlainDateTime());
}

function formatWall(p: Temporal.PlainDateTime): string {
  return p.toString({ smallestUnit: 'minute' });
}

export const isDate = (s: string): boolean => /^\d{4}-\d{2}-\d{2}$/.test(s);

/** Splits a wall clock or date into form fields. */
export function splitWhen(s: string): { date: string; time: string } {
  return { date: s.slice(0, 10), time: isDate(s) ? '' : s.slice(11, 16) };
}

/** `value` moved by the difference `to - from` (all three of one kind: dates, or wall clocks). */
export function shiftBy(value: string, from: string, to: string): string {
  if (isDate(value)) {
    const days = Temporal.PlainDate.from(from).until(Temporal.PlainDate.from(to), { largestUnit: 'days' });
    return Temporal.PlainDate.from(value).add(days).toString();
  }
  const d = Temporal.PlainDateTime.from(from).until(Temporal.PlainDateTime.from(to), { largestUnit: 'hours' });
  return formatWall(Temporal.PlainDateTime.from(value).add(d));
}

/** `date` plus `days` days. */
export function addDays(date: string, days: number): string {
  return Temporal.PlainDate.from(date).add({ days }).toString();
}

/** `date` plus `months` months (the day clamped to the month's end). */
export function addMonths(date: string, months: number): string {
  return Temporal.PlainDate.from(date).add({ months }).toString();
}

/** A wall clock plus `minutes`. */
export function addMinutes(wall: string, minutes: number): string {
  return formatWall(Temporal.PlainDateTime.from(wall).add({ minutes }));
}

/** Today in this device's zone. */
export function today(): string {
  return localDate(new Date());
}

/** "Fri 20 Mar, 09:00 – 10:00" style text for dialogs and notifications. */
export function describeSpan(start: string, end: string, locale?: string): string {
  if (isDate(start)) {
    const last = addDays(end, -1);
    const f = (s: string) => Temporal.PlainDate.from(s).toLocaleString(locale, { weekday: 'short', day: 'numeric', month: 'short' });
    return last === start ? `${f(start)} (all day)` : `${f(start)} – ${f(last)} (all day)`;
  }
  const s = Temporal.PlainDateTime.from(start);
  const e = Temporal.PlainDateTime.from(end);
  const day = (p: Temporal.PlainDateTime) => p.toLocaleString(locale, { weekday: 'short', day: 'numeric', month: 'short' });
  const time = (p: Temporal.PlainDateTime) => formatTime(p.toString(), locale);
  return s.toPlainDate().equals(e.toPlainDate()) ? `${day(s)}, ${time(s)} – ${time(e)}` : `${day(s)} ${time(s)} – ${day(e)} ${time(e)}`;
}

/** The display zone's wall clock "YYYY-MM-DDTHH:mm" of a Date from the calendar component. */
export const fcWall = (d: Date): string => d.toISOString().slice(0, 16);
/** The display zone's date "YYYY-MM-DD" of a Date from the calendar component. */
export const fcDate = (d: Date): string => d.toISOString().slice(0, 10);

/** An instant as the display zone's wall clock (what the calendar component is fed). */
export function instantToWall(instant: string, zone: string): string {
  return formatWall(Temporal.Instant.from(instant).toZonedDateTimeISO(zone).toPlainDateTime());
}

/** The wall clock `wall` in zone `from`, read in zone `to` (the same instant). */
export function convertWall(wall: string, from: string, to: string): string {
  if (from === to) return wall;
  return formatWall(Temporal.PlainDateTime.from(wall).toZonedDateTime(from).withTimeZone(to).toPlainDateTime());
}

/** Now, as the display zone's wall clock with seconds (the calendar component's "now"). */
export const nowWall = (zone: string): string => Temporal.Now.plainDateTimeISO(zone).toString({ smallestUnit: 'second' });

/** "15:00" or "3:00 PM": the locale's own short time, the one format used everywhere. */
export function formatTime(wall: string, locale?: string): string {
  return Temporal.PlainDateTime.from(wall).toLocaleString(locale, { timeStyle: 'short' });
}

/**
 * "15:00 Berlin · 09:00 your time" when the event's zone is not the one the viewer sees the
 * calendar in; null when they are the same (or the event floats: the same clock everywhere).
 */
export function bothTimes(wall: string, eventZone: string | null, displayZone: string, locale?: string): string | null {
  if (!eventZone || zoneCity(eventZone) === zoneCity(displayZone)) return null;
  try {
    const there = formatTime(wall, locale);
    const here = convertWall(wall, eventZone, displayZone);
    const dayShift = here.slice(0, 10) === wall.slice(0, 10) ? '' : ` (${Temporal.PlainDate.from(here.slice(0, 10)).toLocaleString(locale, { weekday: 'short' })})`;
    return `${there} ${zoneCity(eventZone)} · ${formatTime(here, locale)}${dayShift} your time`;
  } catch {
    return null;
  }
}
