/**
 * What the ICS feed may write, from values read out of a room's document. Any member's client can
 * write any value into the Y.Doc, so nothing read from it is trusted: an RRULE with a line break
 * copied verbatim once added a VEVENT of the writer's choosing to every subscriber's calendar.
 *
 * - Rules are parsed and re-serialised by the model (normalizeRule), then checked to hold only
 *   rule characters; zones must be IANA zones; ids, split keys and date keys must be what the
 *   model writes. A series that fails is left out of the feed (and reported), the rest is exported.
 * - Text (titles, descriptions, locations, categories) loses control characters; ical-generator
 *   escapes `\`, `;`, `,` and line breaks and folds long lines.
 */
import { Temporal } from 'temporal-polyfill';
import { instantInRange, normalizeRule, yearInRange, type CalendarEvent, type ExportedSeries, type OccurrenceOverride } from '@kith/model';
import { ianaZone, isUtcZone } from './zones.js';

export class FeedValueRefused extends Error {}

/** A date key the feed can write: years 0001–9999 (RFC 5545 DATE is four digits; 0000 is no year). */
const DATE_KEY = /^(?!0000)\d{4}-\d{2}-\d{2}$/;
/** C0 controls other than tab, line feed and carriage return (line breaks are escaped), and DEL. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/g;
// eslint-disable-next-line no-control-regex
const ANY_CONTROL = /[\u0000-\u001F\u007F]/;
/** Everything an RRULE value may hold once normalised (names, numbers, lists, UNTIL stamps). */
const RULE_TEXT = /^[A-Z0-9=;,+-]+$/;

const refuse = (why: string): never => {
  throw new FeedValueRefused(why);
};

/** Text as the feed writes it: a string without control characters (line breaks kept for escaping). */
export function cleanText(value: unknown): string {
  return typeof value === 'string' ? value.replace(CONTROL, '') : '';
}

/** The event id as the UID's local part: refused when it holds control characters or is not a string. */
export function checkedId(ev: CalendarEvent): string {
  if (typeof ev.id !== 'string' || ev.id.length === 0 || ev.id.length > 200 || ANY_CONTROL.test(ev.id)) refuse('its id is not a plain string');
  return ev.id;
}

/** The UID an event was imported with, or null (none, or not one the feed can write safely). */
export function checkedUid(ev: CalendarEvent): string | null {
  const uid: unknown = ev.uid;
  return typeof uid === 'string' && uid.length > 0 && uid.length <= 512 && !ANY_CONTROL.test(uid) ? uid : null;
}

/** A normalised RRULE value, or null; refused when the model cannot read it. */
export function checkedRule(rule: unknown): string | null {
  if (rule === null || rule === undefined) return null;
  let normal: string;
  try {
    normal = normalizeRule(rule);
  } catch {
    return refuse('its recurrence rule is invalid');
  }
  if (!RULE_TEXT.test(normal)) refuse('its recurrence rule holds characters no rule has');
  return normal;
}

/** A text line written as is after normalisation (the exported RRULE with its UNTIL rewritten). */
export function checkRuleLine(line: string): string {
  if (!RULE_TEXT.test(line)) refuse('its recurrence rule holds characters no rule has');
  return line;
}

function checkedZone(tz: unknown, field: string): string | null {
  if (tz === null || tz === undefined) return null;
  if (typeof tz !== 'string' || ANY_CONTROL.test(tz) || (!isUtcZone(tz) && ianaZone(tz) === null)) refuse(`its ${field} is not an IANA time zone`);
  return tz as string;
}

function cleanOverride(ov: OccurrenceOverride): OccurrenceOverride | null {
  const out: OccurrenceOverride = {};
  if (ov.cancelled === true) out.cancelled = true;
  if (ov.title !== undefined) out.title = cleanText(ov.title);
  if (ov.description !== undefined) out.description = cleanText(ov.description);
  if (ov.location !== undefined) out.location = cleanText(ov.location);
  if (ov.category !== undefined) out.category = ov.category === null ? null : cleanText(ov.category);
  // Times are parsed by Temporal where they are written; anything else is not a time at all.
  if (ov.start !== undefined) {
    if (typeof ov.start !== 'string' || ANY_CONTROL.test(ov.start)) return null;
    out.start = ov.start;
  }
  if (ov.duration !== undefined) {
    if (typeof ov.duration !== 'string' || ANY_CONTROL.test(ov.duration)) return null;
    out.duration = ov.duration;
  }
  return out;
}

/**
 * One exported series with every value the feed writes checked or cleaned. Throws
 * FeedValueRefused (naming the field, never the value) when the series cannot be written safely.
 * Date keys that are not dates and overrides that cannot be read are dropped.
 */
export function cleanSeries(s: ExportedSeries): ExportedSeries {
  if (s.splitKey !== null && (typeof s.splitKey !== 'string' || !DATE_KEY.test(s.splitKey))) refuse('a split of it has an invalid key');
  for (const [field, v] of [
    ['start', s.start],
    ['end', s.end],
  ] as const) {
    if (typeof v !== 'string' || ANY_CONTROL.test(v)) refuse(`its ${field} is not a time`);
  }
  const overrides: Record<string, OccurrenceOverride> = {};
  for (const [key, ov] of Object.entries(s.overrides ?? {})) {
    if (!DATE_KEY.test(key) || ov === null || typeof ov !== 'object') continue;
    const clean = cleanOverride(ov);
    if (clean) overrides[key] = clean;
  }
  const dates = (list: unknown): string[] => (Array.isArray(list) ? list.filter((k): k is string => typeof k === 'string' && DATE_KEY.test(k)) : []);
  return {
    ...s,
    title: cleanText(s.title),
    description: cleanText(s.description),
    location: cleanText(s.location),
    category: s.category === null ? null : cleanText(s.category),
    tz: checkedZone(s.tz, 'time zone'),
    endTz: checkedZone(s.endTz, 'end time zone'),
    rrule: checkedRule(s.rrule),
    exdates: dates(s.exdates),
    rdates: dates(s.rdates),
    overrides,
  };
}

/** Whether a time can be written with a four-digit year in 0001–9999: as its wall clock and, if zoned, in UTC too. */
export function writableTime(t: { year: number } | Temporal.ZonedDateTime): boolean {
  if (!yearInRange(t.year)) return false;
  return !(t instanceof Temporal.ZonedDateTime) || instantInRange(t.epochMilliseconds);
}

/** A stored change time for DTSTAMP, CREATED, LAST-MODIFIED; null when unreadable or out of range. */
export function writableStamp(value: unknown): Date | null {
  const ms = typeof value === 'string' ? Date.parse(value) : NaN;
  return instantInRange(ms) ? new Date(ms) : null;
}

/** The room's default zone for X-WR-TIMEZONE, when it is an IANA zone. */
export function feedDefaultZone(tz: unknown): string | null {
  return typeof tz === 'string' && !ANY_CONTROL.test(tz) && ianaZone(tz) !== null ? tz : null;
}
