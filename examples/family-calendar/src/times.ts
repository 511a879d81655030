/**
 * Conversions between the model's strings (wall clocks "2026-03-20T09:00" read in an IANA zone,
 * all-day dates "2026-03-20" with exclusive ends) and what the page shows and edits: JS Dates from
 * the calendar component (in this device's zone) and date/time form inputs.
 */
import { Temporal } from 'temporal-polyfill';

export const deviceZone = (): string => Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';

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
  const time = (p: Temporal.PlainDateTime) => p.toLocaleString(locale, { hour: '2-digit', minute: '2-digit' });
  return s.toPlainDate().equals(e.toPlainDate()) ? `${day(s)}, ${time(s)} – ${time(e)}` : `${day(s)} ${time(s)} – ${day(e)} ${time(e)}`;
}

/** Every IANA zone this browser knows (for the zone picker). */
export function allZones(): string[] {
  const sv = (Intl as { supportedValuesOf?: (k: string) => string[] }).supportedValuesOf;
  const zones = sv ? sv('timeZone') : [];
  const here = deviceZone();
  return zones.includes(here) ? zones : [here, ...zones];
}
