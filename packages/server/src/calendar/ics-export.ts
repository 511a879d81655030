/**
 * A room as an RFC 5545 calendar (the secret ICS feed), written with ical-generator.
 *
 * - Every series is written with TZID + VTIMEZONE, never as UTC + RRULE (which drifts an hour
 *   across DST); UTC events as "…Z"; floating events as local times without TZID; all-day events
 *   as VALUE=DATE with an exclusive DTEND.
 * - "This and following" segments come from the model's exportSeries(): each is its own series
 *   (UID `<eventId>_<splitKey>@kith`) ending with UNTIL or a divided COUNT; the first keeps the
 *   event's own UID: the one it was imported with, else `<eventId>@kith`. UIDs never change.
 * - Cancelled occurrences are EXDATEs; edited ones are extra VEVENTs with the series' UID and a
 *   RECURRENCE-ID naming the original start. Overrides of occurrences that no longer exist
 *   (orphaned by a rule change) are left out.
 * - RFC 7986 NAME, COLOR and REFRESH-INTERVAL; SEQUENCE grows with the event's edits and DTSTAMP
 *   is its last change, so an unchanged room gives the same bytes.
 */
import ical, { escape, ICalAlarmType, type ICalAlarmData, type ICalEventData } from 'ical-generator';
import { Temporal } from 'temporal-polyfill';
import { AFTER_LAST_MS, exportSeries, FIRST_MS, listEvents, orphanedKeys, type CalendarEvent, type ExportedSeries, type OccurrenceOverride, type Reminder } from '@kith/model';
import { REMINDER_ID_PROP } from './ics-alarms.js';
import type * as Y from 'yjs';
import { checkedId, checkedUid, checkRuleLine, cleanSeries, cleanText, feedDefaultZone, FeedValueRefused, writableStamp, writableTime } from './feed-values.js';
import { isUtcZone, vtimezone } from './zones.js';

export interface FeedInfo {
  roomId: string;
  name: string;
  /** The room's default zone (room map `defaultTz`), if it has one: X-WR-TIMEZONE. */
  defaultTz?: unknown;
  /** Told about each event (or part of one) left out because a stored value cannot be written safely. */
  onSkip?: (eventId: string, reason: string) => void;
}

const COLOR_MARK = 'X-KITH-EVENT-COLOR';

/** How often subscribers are asked to refresh (RFC 7986 REFRESH-INTERVAL). */
const REFRESH_SECONDS = 3600;

/** CSS3 colour names (RFC 7986 COLOR) with their hex values (Apple's X-APPLE-CALENDAR-COLOR). */
const PALETTE: ReadonlyArray<readonly [string, string]> = [
  ['steelblue', '#4682B4'],
  ['seagreen', '#2E8B57'],
  ['tomato', '#FF6347'],
  ['darkorange', '#FF8C00'],
  ['mediumpurple', '#9370DB'],
  ['teal', '#008080'],
  ['goldenrod', '#DAA520'],
  ['hotpink', '#FF69B4'],
];

/** A room's colour: stable per room. */
export function roomColor(roomId: string): readonly [string, string] {
  let h = 0;
  for (const ch of roomId) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return PALETTE[h % PALETTE.length]!;
}

export function seriesUid(eventId: string, splitKey: string | null): string {
  return splitKey === null ? `${eventId}@kith` : `${eventId}_${splitKey}@kith`;
}

/** How a series' times are written. */
export type Zoning =
  | { kind: 'date' }
  | { kind: 'floating' }
  | { kind: 'utc'; tz: string }
  | { kind: 'zoned'; tz: string; tzid: string };

function zoningOf(s: { allDay: boolean; tz: string | null }): Zoning {
  if (s.allDay) return { kind: 'date' };
  if (s.tz === null) return { kind: 'floating' };
  if (isUtcZone(s.tz)) return { kind: 'utc', tz: s.tz };
  const vtz = vtimezone(s.tz);
  // A zone the VTIMEZONE library does not know is written in UTC rather than with a dangling TZID.
  return vtz ? { kind: 'zoned', tz: s.tz, tzid: vtz.tzid } : { kind: 'utc', tz: s.tz };
}

const resolve = (wall: string, tz: string): Temporal.ZonedDateTime =>
  Temporal.PlainDateTime.from(wall).toZonedDateTime(tz, { disambiguation: 'compatible' });

/** A start or end for ical-generator: PlainDate, floating PlainDateTime or ZonedDateTime. */
function timeValue(z: Zoning, wall: string, tz: string | null): Temporal.PlainDate | Temporal.PlainDateTime | Temporal.ZonedDateTime {
  switch (z.kind) {
    case 'date':
      return Temporal.PlainDate.from(wall.slice(0, 10));
    case 'floating':
      return Temporal.PlainDateTime.from(wall);
    case 'utc':
      return resolve(wall, tz ?? z.tz).withTimeZone('UTC');
    case 'zoned':
      return resolve(wall, tz ?? z.tz);
  }
}

const basic = (wall: Temporal.PlainDateTime): string => wall.toString({ smallestUnit: 'second' }).replace(/[-:]/g, '');
const basicDate = (date: string): string => date.replace(/-/g, '');

/** The wall clock of the occurrence keyed `key` (its local date) at the series' time of day. */
const originalWall = (s: ExportedSeries, key: string): string => (s.allDay ? key : `${key}T${s.start.slice(11)}`);

/** EXDATE/RDATE values in the form DTSTART has (RFC 5545 erratum 6316: same type, same local time). */
function dateList(name: 'EXDATE' | 'RDATE', keys: string[], s: ExportedSeries, z: Zoning): string | null {
  if (keys.length === 0) return null;
  const walls = keys.map((k) => Temporal.PlainDateTime.from(originalWall(s, k)));
  switch (z.kind) {
    case 'date':
      return `${name};VALUE=DATE:${keys.map(basicDate).join(',')}`;
    case 'floating':
      return `${name}:${walls.map(basic).join(',')}`;
    case 'utc': {
      // Only values that stay in years 0001–9999 in UTC (the model has no occurrence outside).
      const utc = walls.map((w) => w.toZonedDateTime(z.tz, { disambiguation: 'compatible' })).filter(writableTime);
      return utc.length === 0 ? null : `${name}:${utc.map((u) => `${basic(u.withTimeZone('UTC').toPlainDateTime())}Z`).join(',')}`;
    }
    case 'zoned':
      return `${name};TZID=${z.tzid}:${walls.map(basic).join(',')}`;
  }
}

/** An UNTIL instant as UTC basic text, kept in years 0001–9999 (no occurrence exists outside them). */
function untilUtc(at: Temporal.ZonedDateTime): string {
  const ms = Math.min(Math.max(at.epochMilliseconds, FIRST_MS), LAST_UNTIL_MS);
  return `${basic(Temporal.Instant.fromEpochMilliseconds(ms).toZonedDateTimeISO('UTC').toPlainDateTime())}Z`;
}
const LAST_UNTIL_MS = AFTER_LAST_MS - 1000;

/**
 * The rule with UNTIL in the form RFC 5545 wants for the series' DTSTART: a DATE for all-day, a
 * local time for floating, UTC for zoned. The model reads a DATE UNTIL as the end of that local day.
 */
export function exportRule(rule: string, z: Zoning): string {
  return rule
    .split(';')
    .map((part) => {
      const m = /^UNTIL=(\d{8})(?:T(\d{6})(Z?))?$/i.exec(part);
      if (!m) return part;
      const [, ymd = '', hms, utc] = m;
      // Year 0000 is no year: the rule ends before the range starts (its DTSTART is in it).
      if (ymd.startsWith('0000')) return z.kind === 'date' ? 'UNTIL=00010101' : z.kind === 'floating' ? 'UNTIL=00010101T000000' : 'UNTIL=00010101T000000Z';
      const date = `${ymd.slice(0, 4)}-${ymd.slice(4, 6)}-${ymd.slice(6, 8)}`;
      const wall = hms === undefined ? `${date}T23:59:59` : `${date}T${hms.slice(0, 2)}:${hms.slice(2, 4)}:${hms.slice(4, 6)}`;
      switch (z.kind) {
        case 'date':
          return `UNTIL=${ymd}`;
        case 'floating':
          return `UNTIL=${basic(Temporal.PlainDateTime.from(wall))}`;
        case 'utc':
        case 'zoned': {
          if (utc) return `UNTIL=${ymd}T${hms}Z`;
          return `UNTIL=${untilUtc(resolve(wall, z.tz))}`;
        }
      }
    })
    .join(';');
}

/** SEQUENCE: seconds of editing since creation, so it only grows as the event is changed. */
function sequenceOf(ev: CalendarEvent): number {
  const created = Date.parse(ev.createdAt);
  const updated = Date.parse(ev.updatedAt);
  if (!Number.isFinite(created) || !Number.isFinite(updated)) return 0;
  return Math.max(0, Math.floor((updated - created) / 1000));
}

/** An event's DTSTAMP: when it last changed, if that is a time iCalendar can write. */
export function stampOf(ev: CalendarEvent): Date {
  return writableStamp(ev.updatedAt || ev.createdAt) ?? new Date(0);
}

function durationOf(s: ExportedSeries): Temporal.Duration {
  if (s.allDay) return Temporal.PlainDate.from(s.start).until(Temporal.PlainDate.from(s.end.slice(0, 10)), { largestUnit: 'days' });
  if (s.tz === null) return Temporal.PlainDateTime.from(s.start).until(Temporal.PlainDateTime.from(s.end), { largestUnit: 'hours' });
  return resolve(s.start, s.tz).until(resolve(s.end, s.endTz ?? s.tz), { largestUnit: 'hours' });
}

function commonFields(
  ev: CalendarEvent,
  s: ExportedSeries,
  z: Zoning,
  title: string,
  description: string,
  location: string,
  category: string | null,
  color: string | null,
): Partial<ICalEventData> {
  const data: Partial<ICalEventData> = {
    summary: title,
    sequence: sequenceOf(ev),
    stamp: stampOf(ev),
    lastModified: stampOf(ev),
  };
  const created = writableStamp(ev.createdAt);
  if (created) data.created = created;
  if (description) data.description = description;
  if (location) data.location = { title: location };
  if (category) data.categories = [{ name: category }];
  // RFC 7986 COLOR: a CSS colour name or hex value, written only when it is one.
  // ical-generator only takes X- names: renamed to COLOR in buildIcs().
  if (color !== null && /^#?[A-Za-z0-9]{1,32}$/.test(color)) data.x = [{ key: COLOR_MARK, value: color }];
  if (z.kind === 'date') data.allDay = true;
  if (z.kind === 'floating') data.floating = true;
  if (z.kind === 'zoned') data.timezone = z.tzid;
  return data;
}

/** One occurrence override as the VEVENT that replaces the occurrence (null when nothing shows). */
function overrideEvent(ev: CalendarEvent, s: ExportedSeries, z: Zoning, uid: string, key: string, ov: OccurrenceOverride): ICalEventData | null {
  const { cancelled: _c, ...fields } = ov;
  if (Object.keys(fields).length === 0) return null;
  const original = originalWall(s, key);
  const startWall = ov.start ?? original;
  let start: ReturnType<typeof timeValue>;
  let end: ReturnType<typeof timeValue>;
  const duration = ov.duration !== undefined ? Temporal.Duration.from(ov.duration) : durationOf(s);
  if (z.kind === 'date') {
    const d = Temporal.PlainDate.from(startWall.slice(0, 10));
    start = d;
    end = d.add(duration);
  } else if (z.kind === 'floating') {
    const w = Temporal.PlainDateTime.from(startWall);
    start = w;
    end = w.add(duration);
  } else {
    const zs = timeValue(z, startWall, s.tz) as Temporal.ZonedDateTime;
    start = zs;
    end = zs.add(duration);
  }
  const recurrenceId = timeValue(z, original, s.tz);
  // Moved or stretched out of years 0001–9999 (a raw Yjs write): left out, the occurrence stays where the series puts it.
  if (![start, end, recurrenceId].every(writableTime)) return null;
  // An overriding VEVENT replaces the occurrence whole (RFC 5545 §3.8.4.4): without VALARMs of its
  // own, phones ring for every occurrence but the moved ones. The series' reminders are its too.
  const alarms = valarms(s, ov.title ?? s.title);
  return {
    ...(alarms.length > 0 ? { alarms } : {}),
    ...commonFields(
      ev,
      s,
      z,
      ov.title ?? s.title,
      ov.description ?? s.description,
      ov.location ?? s.location,
      ov.category !== undefined ? ov.category : s.category,
      ov.color !== undefined ? ov.color : s.color,
    ),
    id: uid,
    start,
    end,
    recurrenceId,
  };
}

/** The UID a series is written with: the event's own (imported, CalDAV) else `<eventId>@kith`; a later segment's is its own. */
function uidOfSeries(ev: CalendarEvent, s: ExportedSeries): string {
  return s.splitKey === null ? (checkedUid(ev) ?? seriesUid(checkedId(ev), null)) : seriesUid(checkedId(ev), s.splitKey);
}

/**
 * Reminders for everyone as VALARMs (TRIGGER before the start; for an all-day event, before its
 * local midnight: "9:00 the day before" is -PT15H), each naming its reminder (X-KITH-REMINDER-ID)
 * so a CalDAV client's changes find it again. Reminders for named members stay out of the room's
 * shared feed; CalDAV adds the requesting member's own (personalAlarms).
 */
function valarms(s: ExportedSeries, title = s.title): ICalAlarmData[] {
  return s.reminders.filter((r) => r.for === null).map((r) => alarmOf(r, title));
}

function alarmOf(r: Reminder, title: string): ICalAlarmData {
  const data: ICalAlarmData = { type: ICalAlarmType.display, triggerBefore: r.minutesBefore * 60, description: title || 'Reminder' };
  if (REMINDER_ID.test(r.id)) data.x = [[REMINDER_ID_PROP, r.id]];
  return data;
}

/** Ids written as they are (anything else is left out rather than escaped: an id is matched exactly). */
const REMINDER_ID = /^[A-Za-z0-9._~@+-]{1,128}$/;

/**
 * The VALARM blocks of one member's own reminders on a series, to be placed in each of its VEVENTs
 * (CalDAV's per-user view, see caldav/user-view.ts); '' when they have none.
 */
export function personalAlarms(reminders: readonly Reminder[], title: string, userId: string): string {
  const own = reminders.filter((r) => r.for !== null && r.for.includes(userId));
  if (own.length === 0) return '';
  const cal = ical({ prodId: PROD_ID });
  cal.createEvent({ id: 'x', start: new Date(0), stamp: new Date(0), summary: cleanText(title), alarms: own.map((r) => alarmOf(r, cleanText(title))) });
  return /BEGIN:VALARM\r\n[\s\S]*END:VALARM\r\n/.exec(cal.toString())?.[0] ?? '';
}

function seriesEvents(ev: CalendarEvent, stored: ExportedSeries, orphans: Set<string>): ICalEventData[] {
  // Every value below comes from a document any member can write: checked or cleaned first.
  const s = cleanSeries(stored);
  const z = zoningOf(s);
  // UID is TEXT (RFC 5545 §3.8.4.7): `;`, `,` and `\` are escaped like any text.
  const uid = escape(uidOfSeries(ev, s), false);
  const recurring = s.rrule !== null || s.rdates.length > 0;
  const start = timeValue(z, s.start, s.tz);
  const end = timeValue(z, s.end, s.endTz ?? s.tz);
  if (!writableTime(start)) throw new FeedValueRefused('its start falls outside the years 0001 to 9999');
  if (!writableTime(end)) throw new FeedValueRefused('its end falls outside the years 0001 to 9999');
  const main: ICalEventData = {
    ...commonFields(ev, s, z, s.title, s.description, s.location, s.category, s.color),
    id: uid,
    start,
    end,
  };
  const alarms = valarms(s);
  if (alarms.length > 0) main.alarms = alarms;
  const out: ICalEventData[] = [main];
  if (!recurring) return out;
  const cancelled = Object.entries(s.overrides)
    .filter(([k, ov]) => ov.cancelled === true && !orphans.has(k))
    .map(([k]) => k);
  const exdates = [...new Set([...s.exdates, ...cancelled])].sort();
  const lines = [
    s.rrule !== null ? `RRULE:${checkRuleLine(exportRule(s.rrule, z))}` : null,
    dateList('EXDATE', exdates, s, z),
    dateList('RDATE', s.rdates, s, z),
  ].filter((l): l is string => l !== null);
  // A string is written as given (each line), which keeps every RRULE part and our EXDATE forms.
  // ical-generator prefixes a lone line with "RRULE:", which would turn an RDATE-only series' only
  // line into a broken rule; written twice it stays an RDATE (RFC 5545: the sets are united).
  main.repeating = (lines.length === 1 && s.rrule === null ? [lines[0], lines[0]] : lines).join('\r\n');
  for (const [key, ov] of Object.entries(s.overrides)) {
    if (orphans.has(key) || exdates.includes(key)) continue;
    const extra = overrideEvent(ev, s, z, uid, key, ov);
    if (extra) out.push(extra);
  }
  return out;
}

/**
 * ical-generator 11 writes RECURRENCE-ID of an all-day event as a UTC date-time; RFC 5545 wants
 * the DTSTART's type, VALUE=DATE. Fixed in the VEVENTs whose DTSTART is a DATE.
 */
function fixAllDayRecurrenceIds(ics: string): string {
  return ics.replace(/BEGIN:VEVENT\r\n[\s\S]*?END:VEVENT\r\n/g, (block) =>
    block.includes('\r\nDTSTART;VALUE=DATE:')
      ? block.replace(/\r\nRECURRENCE-ID:(\d{8})T000000Z?\r\n/, '\r\nRECURRENCE-ID;VALUE=DATE:$1\r\n')
      : block,
  );
}

const PROD_ID = { company: 'Kith', product: 'kith-server', language: 'EN' };
// No calendar-wide zone name: ical-generator would then write DTSTAMP in local time.
const TIMEZONES = { name: null, generator: (tzid: string) => vtimezone(tzid)?.block ?? null };

/** ical-generator's text with the fixes every calendar we write needs (all-day RECURRENCE-IDs, RFC 7986 COLOR). */
function finished(ics: string): string {
  // Escaped text never starts a line with a property name, so only the marked lines change.
  return fixAllDayRecurrenceIds(ics).replaceAll(`\r\n${COLOR_MARK}:`, '\r\nCOLOR:');
}

/** One CalDAV calendar object resource: a series' VEVENTs (master and overrides) under its UID. */
export interface CalendarObject {
  uid: string;
  ics: string;
  /** The series' reminders for named members (not in `ics`: each member sees their own). */
  personal: Reminder[];
  title: string;
}

/**
 * An event as CalDAV calendar objects (RFC 4791 §4.1: one UID per resource): one per series, so a
 * "this and following" part is its own object, named by the UID the feed gives it. Throws what
 * the model or the checks throw for an event that cannot be written (the caller leaves it out).
 */
export function eventObjects(ev: CalendarEvent): CalendarObject[] {
  const orphans = new Set(orphanedKeys(ev));
  return exportSeries(ev).map((s) => {
    const cal = ical({ prodId: PROD_ID, timezone: TIMEZONES });
    for (const data of seriesEvents(ev, s, orphans)) cal.createEvent(data);
    return { uid: uidOfSeries(ev, s), ics: finished(cal.toString()), personal: s.reminders.filter((r) => r.for !== null), title: s.title };
  });
}

/** The room's calendar as an iCalendar string. */
export function buildIcs(doc: Y.Doc, info: FeedInfo): string {
  const [colorName, colorHex] = roomColor(info.roomId);
  const cal = ical({
    name: escape(cleanText(info.name), false),
    prodId: PROD_ID,
    ttl: REFRESH_SECONDS,
    color: colorHex,
    timezone: TIMEZONES,
  });
  const defaultTz = feedDefaultZone(info.defaultTz);
  if (defaultTz) cal.x('X-WR-TIMEZONE', defaultTz);
  const skip = (ev: CalendarEvent, err: unknown) =>
    info.onSkip?.(String(ev.id), err instanceof FeedValueRefused ? err.message : 'it could not be written');
  for (const ev of listEvents(doc)) {
    let series: ExportedSeries[];
    let orphans: Set<string>;
    try {
      series = exportSeries(ev);
      orphans = new Set(orphanedKeys(ev));
    } catch (err) {
      skip(ev, err); // an event the model cannot read (e.g. written by a newer client) is left out
      continue;
    }
    for (const s of series) {
      try {
        // Built completely before it is added: a series that fails adds nothing.
        const events = seriesEvents(ev, s, orphans);
        for (const data of events) cal.createEvent(data);
      } catch (err) {
        skip(ev, err); // one unreadable series must not break the whole feed
      }
    }
  }
  const ics = finished(cal.toString());
  // RFC 7986 COLOR (ical-generator writes only Apple's X-APPLE-CALENDAR-COLOR).
  return ics.replace('\r\nVERSION:2.0\r\n', `\r\nVERSION:2.0\r\nCOLOR:${colorName}\r\n`);
}
