/**
 * The canonical form both sides are compared in, and the mapping between it, Kith's event model and Google's
 * event resources.
 *
 * One Kith event maps to one Google event per exported series part (`exportSeries`: a plain event or a series
 * is one part; every "this and following" split adds one). A part's canonical form holds what the mirror keeps
 * in step: title, description, location, participants, colour (as Google's colorId, see colors.ts), timing (instants for timed events, dates for all-day
 * ones), the rule, cancelled occurrences (EXDATEs and cancelled exceptions alike), extra dates, and the
 * occurrences whose values differ from what the series gives them (absolute values, because Google stores an
 * exception as a full copy).
 *
 * Comparisons are always made between canonical forms, never between raw resources: Google answers times in
 * the calendar's zone with an offset, reorders nothing we rely on, and may return descriptions as HTML.
 */
import type { calendar_v3 } from '@googleapis/calendar';
import { exportSeries, LIMITS, orphanedKeys, type CalendarEvent, type ExportedSeries } from '@kith/model';
import { Temporal } from 'temporal-polyfill';
import { googleColorId, validColorId } from './colors.js';

/** Timing: dates for all-day events (end exclusive), epoch milliseconds plus IANA zones otherwise. */
export type Time =
  | { allDay: true; start: string; end: string }
  | { allDay: false; start: number; end: number; tz: string; endTz: string };

/** What an event or one occurrence shows. */
export interface Fields {
  title: string;
  description: string;
  location: string;
  participants: string[];
  /** Google's colorId ("1".."11"); absent for none, so states stored before colours were mirrored compare equal. */
  colorId?: string;
  time: Time;
}

/** A series master (or a plain event) without its exceptions. */
export interface MasterCanon extends Fields {
  rrule: string | null;
  /** Cancelled occurrence keys (local dates of the original start). */
  exdates: string[];
  rdates: string[];
}

/** One part as compared: the master plus the occurrences that differ from the series. */
export interface PartCanon extends MasterCanon {
  ov: Record<string, Fields>;
}

/** Google's side of one part, as last seen: the master and the exceptions we know of. */
export interface RemoteState {
  id: string;
  etag: string;
  /** Google's `updated`, epoch ms (0 when unknown, e.g. a tombstone). */
  updated: number;
  cancelled: boolean;
  /** `master.exdates` are the EXDATE lines only; cancelled exceptions are in `ex`. */
  master: MasterCanon | null;
  ex: Record<string, RemoteException>;
  /**
   * Per master field (`MASTER_FIELDS`): Google's `updated` when the field's current value was first seen, so a
   * conflict is settled by when that field changed, not by the event's latest change. Missing: `updated`.
   */
  times?: Record<string, number>;
}

/** The master fields a conflict is settled for one by one (sets merge member by member instead). */
export const MASTER_FIELDS = ['title', 'description', 'location', 'time', 'rrule', 'colorId'] as const;
export type MasterField = (typeof MASTER_FIELDS)[number];

export interface RemoteException {
  id: string;
  etag: string;
  updated: number;
  cancelled: boolean;
  values: Fields | null;
}

/** Private extended property keys on Google events written by the mirror. */
export const PROP = {
  kithId: 'famcalId',
  room: 'famcalRoom',
  part: 'famcalPart',
  who: 'famcalWho',
} as const;
const WHO_CHUNKS = 8;
const WHO_CHUNK_CHARS = 1000;

// ------------------------------------------------------------------------------------------------ time

const WALL_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/;

function wallToMs(wall: string, tz: string): number {
  return Temporal.PlainDateTime.from(wall).toZonedDateTime(tz, { disambiguation: 'compatible' }).epochMilliseconds;
}

function zoned(ms: number, tz: string): Temporal.ZonedDateTime {
  return Temporal.Instant.fromEpochMilliseconds(ms).toZonedDateTimeISO(tz);
}

/** "2026-03-20T09:00" (seconds only when non-zero), the form the model stores. */
export function msToWall(ms: number, tz: string): string {
  const w = zoned(ms, tz).toPlainDateTime();
  const s = w.toString({ smallestUnit: 'second' });
  return s.endsWith(':00') ? s.slice(0, -3) : s;
}

/** RFC 3339 with the zone's offset, e.g. "2026-03-20T09:00:00+01:00". */
function msToRfc3339(ms: number, tz: string): string {
  return zoned(ms, tz).toString({ smallestUnit: 'second', timeZoneName: 'never' });
}

export function localDate(ms: number, tz: string): string {
  return zoned(ms, tz).toPlainDate().toString();
}

export function addDays(date: string, days: number): string {
  return Temporal.PlainDate.from(date).add({ days }).toString();
}

export function daysBetween(a: string, b: string): number {
  return Temporal.PlainDate.from(a).until(Temporal.PlainDate.from(b), { largestUnit: 'days' }).days;
}

/** A Google `dateTime` (normally with an offset; read in `tz` when it has none). */
function parseGoogleDateTime(value: string, tz: string): number {
  if (/(Z|[+-]\d{2}:?\d{2})$/i.test(value)) {
    const ms = Date.parse(value);
    if (Number.isFinite(ms)) return ms;
  }
  return wallToMs(value.replace(/(\.\d+)$/, ''), tz);
}

function durationMs(iso: string): number {
  return Temporal.Duration.from(iso).total({ unit: 'milliseconds', relativeTo: Temporal.PlainDate.from('2000-01-01') });
}

function durationDays(iso: string): number {
  return Math.max(1, Math.round(Temporal.Duration.from(iso).total({ unit: 'days', relativeTo: Temporal.PlainDate.from('2000-01-01') })));
}

const compact = (d: string): string => d.replace(/-/g, '');

// ------------------------------------------------------------------------------------------------ rules

/** "RRULE:freq=weekly;byday=TU" → "FREQ=WEEKLY;BYDAY=TU" with FREQ first and the other parts sorted. */
function canonRule(rule: string | null | undefined): string | null {
  if (!rule) return null;
  const body = rule.trim().replace(/^RRULE:/i, '').toUpperCase();
  const parts = body.split(';').filter(Boolean);
  const freq = parts.filter((p) => p.startsWith('FREQ='));
  const rest = parts.filter((p) => !p.startsWith('FREQ=')).sort();
  return [...freq, ...rest].join(';') || null;
}

/** Keys (local dates in `tz`) of an EXDATE/RDATE value list such as `EXDATE;TZID=Europe/Berlin:20260310T170000,…`. */
function dateListKeys(line: string, tz: string): string[] {
  const colon = line.indexOf(':');
  if (colon < 0) return [];
  const params = new Map<string, string>();
  for (const p of line.slice(0, colon).split(';').slice(1)) {
    const eq = p.indexOf('=');
    if (eq > 0) params.set(p.slice(0, eq).toUpperCase(), p.slice(eq + 1));
  }
  const out: string[] = [];
  for (const raw of line.slice(colon + 1).split(',')) {
    const v = raw.trim();
    const m = /^(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2})(Z)?)?$/.exec(v);
    if (!m) continue;
    const date = `${m[1]}-${m[2]}-${m[3]}`;
    if (m[4] === undefined) {
      out.push(date);
      continue;
    }
    const wall = `${date}T${m[4]}:${m[5]}:${m[6]}`;
    try {
      if (m[7]) out.push(localDate(Date.parse(`${wall}Z`), tz));
      else if (params.has('TZID')) out.push(localDate(wallToMs(wall, params.get('TZID')!), tz));
      else out.push(date);
    } catch {
      out.push(date);
    }
  }
  return out;
}

export function parseRecurrence(lines: readonly string[] | null | undefined, tz: string): Pick<MasterCanon, 'rrule' | 'exdates' | 'rdates'> {
  let rrule: string | null = null;
  const exdates = new Set<string>();
  const rdates = new Set<string>();
  for (const raw of lines ?? []) {
    const line = raw.trim();
    const name = line.slice(0, Math.max(0, Math.min(...[line.indexOf(':'), line.indexOf(';')].filter((i) => i >= 0)))).toUpperCase();
    if (name === 'RRULE' && rrule === null) rrule = canonRule(line);
    else if (name === 'EXDATE') for (const k of dateListKeys(line, tz)) exdates.add(k);
    else if (name === 'RDATE') for (const k of dateListKeys(line, tz)) rdates.add(k);
  }
  return { rrule, exdates: [...exdates].sort(), rdates: [...rdates].sort() };
}

function timeOfDay(time: Time): string {
  if (time.allDay) return '00:00:00';
  return zoned(time.start, time.tz).toPlainTime().toString({ smallestUnit: 'second' });
}

/** RRULE, EXDATE and RDATE lines for Google (no DTSTART; dates at the series' time of day in its zone). */
export function recurrenceLines(m: Pick<MasterCanon, 'rrule' | 'exdates' | 'rdates' | 'time'>): string[] {
  if (m.rrule === null && m.rdates.length === 0) return [];
  const lines: string[] = [];
  if (m.rrule) lines.push(`RRULE:${m.rrule}`);
  const dateLine = (name: string, key: string): string => {
    if (m.time.allDay) return `${name};VALUE=DATE:${compact(key)}`;
    return `${name};TZID=${m.time.tz}:${compact(key)}T${timeOfDay(m.time).replace(/:/g, '')}`;
  };
  for (const k of m.exdates) lines.push(dateLine('EXDATE', k));
  for (const k of m.rdates) lines.push(dateLine('RDATE', k));
  return lines;
}

// ------------------------------------------------------------------------------------------------ text

const HTML_RE = /<\/?[a-z][^>]*>/i;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** At most `limit` UTF-16 units, never half an emoji (a lone surrogate becomes U+FFFD, as the model stores it). */
export function clip(s: string | null | undefined, limit: number): string {
  return (s ?? '').slice(0, limit).replace(LONE_SURROGATE, '\uFFFD');
}

/** Text as compared: newlines unified; HTML (Google may answer descriptions as HTML) reduced to text. */
export function normText(s: string | null | undefined, limit: number): string {
  let t = (s ?? '').replace(/\r\n?/g, '\n');
  if (HTML_RE.test(t)) {
    t = t
      .replace(/<br\s*\/?>/gi, '\n')
      .replace(/<\/(p|div|li)>/gi, '\n')
      .replace(/<[^>]+>/g, '')
      .replace(/&nbsp;/g, ' ')
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&quot;/g, '"')
      .replace(/&#39;/g, "'")
      .replace(/&amp;/g, '&');
  }
  return clip(t, limit);
}

// ------------------------------------------------------------------------------------------------ stable JSON

export function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

export const same = (a: unknown, b: unknown): boolean => stableJson(a) === stableJson(b);

// ------------------------------------------------------------------------------------------------ defaults

/** What occurrence `key` of a series shows when nothing overrides it. */
export function defaultsFor(m: MasterCanon, key: string): Fields {
  const base = { title: m.title, description: m.description, location: m.location, participants: m.participants, colorId: m.colorId };
  if (m.time.allDay) {
    const days = daysBetween(m.time.start, m.time.end);
    return { ...base, time: { allDay: true, start: key, end: addDays(key, days) } };
  }
  const start = wallToMs(`${key}T${timeOfDay(m.time)}`, m.time.tz);
  return { ...base, time: { ...m.time, start, end: start + (m.time.end - m.time.start) } };
}

function withoutDefaults(m: MasterCanon, ov: Record<string, Fields>): Record<string, Fields> {
  const out: Record<string, Fields> = {};
  for (const k of Object.keys(ov).sort()) {
    if (m.exdates.includes(k)) continue;
    if (!same(ov[k], defaultsFor(m, k))) out[k] = ov[k]!;
  }
  return out;
}

// ------------------------------------------------------------------------------------------------ Kith side

const partKey = (splitKey: string | null): string => splitKey ?? '';

function kithTime(p: Pick<ExportedSeries, 'allDay' | 'start' | 'end' | 'tz' | 'endTz'>, calTz: string): Time {
  if (p.allDay) return { allDay: true, start: p.start, end: p.end };
  const tz = p.tz ?? calTz;
  const endTz = p.endTz ?? tz;
  return { allDay: false, start: wallToMs(p.start, tz), end: wallToMs(p.end, endTz), tz, endTz };
}

/** Every exported part of a Kith event in canonical form, keyed by part ('' for the base). */
export function kithParts(ev: CalendarEvent, calTz: string): Map<string, PartCanon> {
  const out = new Map<string, PartCanon>();
  if (ev.deleted !== null) return out;
  const orphans = new Set(ev.rrule !== null || ev.rdates.length > 0 ? orphanedKeys(ev) : []);
  for (const p of exportSeries(ev)) {
    const time = kithTime(p, calTz);
    const exdates = new Set(p.exdates);
    for (const [k, o] of Object.entries(p.overrides)) if (o.cancelled && !orphans.has(k)) exdates.add(k);
    const master: MasterCanon = {
      title: p.title,
      description: normText(p.description, LIMITS.description),
      location: p.location,
      participants: [...p.participants].sort(),
      colorId: googleColorId(p.color),
      time,
      rrule: canonRule(p.rrule),
      exdates: [...exdates].sort(),
      rdates: [...p.rdates].sort(),
    };
    const ov: Record<string, Fields> = {};
    if (master.rrule !== null || master.rdates.length > 0) {
      for (const [k, o] of Object.entries(p.overrides)) {
        if (o.cancelled || orphans.has(k)) continue;
        const d = defaultsFor(master, k);
        let t: Time = d.time;
        if (o.start !== undefined || o.duration !== undefined) {
          if (time.allDay && d.time.allDay) {
            const start = o.start ?? d.time.start;
            const days = o.duration !== undefined ? durationDays(o.duration) : daysBetween(d.time.start, d.time.end);
            t = { allDay: true, start, end: addDays(start, days) };
          } else if (!time.allDay && !d.time.allDay) {
            const start = o.start !== undefined && WALL_RE.test(o.start) ? wallToMs(o.start, time.tz) : d.time.start;
            const len = o.duration !== undefined ? durationMs(o.duration) : d.time.end - d.time.start;
            t = { ...d.time, start, end: start + len };
          }
        }
        ov[k] = {
          title: o.title ?? d.title,
          description: o.description !== undefined ? normText(o.description, LIMITS.description) : d.description,
          location: o.location ?? d.location,
          participants: o.participants !== undefined ? [...o.participants].sort() : d.participants,
          colorId: o.color !== undefined ? googleColorId(o.color) : d.colorId,
          time: t,
        };
      }
    }
    out.set(partKey(p.splitKey), { ...master, ov: withoutDefaults(master, ov) });
  }
  return out;
}

// ------------------------------------------------------------------------------------------------ Google side

type GEvent = calendar_v3.Schema$Event;

export function privateProps(g: GEvent): Record<string, string> {
  return (g.extendedProperties?.private ?? {}) as Record<string, string>;
}

function participantsOf(g: GEvent): string[] {
  const props = privateProps(g);
  let json = '';
  for (let i = 0; i < WHO_CHUNKS; i++) {
    const chunk = props[`${PROP.who}${i}`];
    if (chunk === undefined) break;
    json += chunk;
  }
  if (json === '') return [];
  try {
    const v = JSON.parse(json) as unknown;
    return Array.isArray(v) ? [...new Set(v.filter((x): x is string => typeof x === 'string' && x.length > 0 && x.length <= 128))].sort() : [];
  } catch {
    return [];
  }
}

/** Private properties carrying participants (null entries clear chunks no longer needed). */
function participantProps(participants: string[], patch: boolean): Record<string, string | null> {
  const json = participants.length === 0 ? '' : JSON.stringify(participants);
  const out: Record<string, string | null> = {};
  for (let i = 0; i < WHO_CHUNKS; i++) {
    const chunk = json.slice(i * WHO_CHUNK_CHARS, (i + 1) * WHO_CHUNK_CHARS);
    if (chunk !== '') out[`${PROP.who}${i}`] = chunk;
    else if (patch) out[`${PROP.who}${i}`] = null;
  }
  return out;
}

function googleTime(g: GEvent, calTz: string): Time | null {
  const s = g.start;
  const e = g.end;
  if (!s || !e) return null;
  if (s.date && e.date) return { allDay: true, start: s.date, end: e.date };
  if (!s.dateTime || !e.dateTime) return null;
  const tz = s.timeZone ?? calTz;
  const endTz = e.timeZone ?? tz;
  return { allDay: false, start: parseGoogleDateTime(s.dateTime, tz), end: parseGoogleDateTime(e.dateTime, endTz), tz, endTz };
}

function googleFields(g: GEvent, time: Time): Fields {
  return {
    title: clip(g.summary, LIMITS.title),
    description: normText(g.description, LIMITS.description),
    location: clip(g.location, LIMITS.location),
    participants: participantsOf(g),
    colorId: validColorId(g.colorId),
    time,
  };
}

/** A master (or plain event) resource in canonical form; null when it has no usable times. */
export function googleMaster(g: GEvent, calTz: string): MasterCanon | null {
  const time = googleTime(g, calTz);
  if (!time) return null;
  const tz = time.allDay ? calTz : time.tz;
  return { ...googleFields(g, time), ...parseRecurrence(g.recurrence, tz) };
}

export function googleOccurrence(g: GEvent, calTz: string): Fields | null {
  const time = googleTime(g, calTz);
  return time ? googleFields(g, time) : null;
}

/** The occurrence key of an exception: the local date of its original start in the series' zone. */
export function exceptionKey(g: GEvent, master: MasterCanon | null, calTz: string): string | null {
  const o = g.originalStartTime;
  if (!o) return null;
  if (o.date) return o.date;
  if (!o.dateTime) return null;
  const tz = master && !master.time.allDay ? master.time.tz : (o.timeZone ?? calTz);
  return localDate(parseGoogleDateTime(o.dateTime, tz), tz);
}

export function googleUpdated(g: GEvent): number {
  const t = g.updated ? Date.parse(g.updated) : NaN;
  return Number.isFinite(t) ? t : 0;
}

/** The comparable form of Google's side of a part. */
export function remoteCanon(rs: RemoteState): PartCanon | null {
  if (rs.cancelled || !rs.master) return null;
  const exdates = new Set(rs.master.exdates);
  for (const [k, x] of Object.entries(rs.ex)) if (x.cancelled) exdates.add(k);
  const master: MasterCanon = { ...rs.master, exdates: [...exdates].sort() };
  const ov: Record<string, Fields> = {};
  for (const [k, x] of Object.entries(rs.ex)) if (!x.cancelled && x.values) ov[k] = x.values;
  return { ...master, ov: withoutDefaults(master, ov) };
}

// ------------------------------------------------------------------------------------------------ to Google

/** Google's start/end; `patch` adds explicit nulls so a PATCH (which merges objects) drops the other kind. */
function timeToGoogle(t: Time, patch: boolean): { start: calendar_v3.Schema$EventDateTime; end: calendar_v3.Schema$EventDateTime } {
  const clear = patch ? { dateTime: null, timeZone: null } : {};
  if (t.allDay) return { start: { ...clear, date: t.start }, end: { ...clear, date: t.end } };
  const none = patch ? { date: null } : {};
  return {
    start: { ...none, dateTime: msToRfc3339(t.start, t.tz), timeZone: t.tz },
    end: { ...none, dateTime: msToRfc3339(t.end, t.endTz), timeZone: t.endTz },
  };
}

/** Google's colorId; `patch` sends null for none, which removes it (the calendar's colour shows again). */
function colorToGoogle(colorId: string | undefined, patch: boolean): { colorId?: string | null } {
  if (colorId !== undefined) return { colorId };
  return patch ? { colorId: null } : {};
}

export interface Identity {
  kithId: string;
  roomId: string;
  part: string;
}

function identityProps(id: Identity): Record<string, string> {
  return { [PROP.kithId]: id.kithId, [PROP.room]: id.roomId, [PROP.part]: id.part };
}

/** A full master resource (insert; with `patch`, a revive of a cancelled one). */
export function masterBody(m: MasterCanon, id: Identity, patch = false): GEvent {
  return {
    summary: m.title,
    description: m.description,
    location: m.location,
    ...colorToGoogle(m.colorId, patch),
    ...timeToGoogle(m.time, patch),
    recurrence: recurrenceLines(m),
    extendedProperties: { private: { ...identityProps(id), ...participantProps(m.participants, patch) } as Record<string, string> },
  };
}

/** Only the master fields that differ; `exdateLines` are the EXDATE keys to write as lines. */
export function masterPatch(want: MasterCanon, have: MasterCanon, exdateLines: string[], id: Identity): GEvent | null {
  const patch: GEvent = {};
  if (want.title !== have.title) patch.summary = want.title;
  if (want.description !== have.description) patch.description = want.description;
  if (want.location !== have.location) patch.location = want.location;
  if (want.colorId !== have.colorId) Object.assign(patch, colorToGoogle(want.colorId, true));
  if (!same(want.time, have.time)) Object.assign(patch, timeToGoogle(want.time, true));
  const timeOfDayMoved = !same(want.time, have.time);
  if (want.rrule !== have.rrule || !same(exdateLines, have.exdates) || !same(want.rdates, have.rdates) || (timeOfDayMoved && (want.rrule !== null || want.rdates.length > 0))) {
    patch.recurrence = recurrenceLines({ ...want, exdates: exdateLines });
  }
  const whoChanged = !same(want.participants, have.participants);
  if (Object.keys(patch).length === 0 && !whoChanged) return null;
  patch.extendedProperties = {
    private: { ...identityProps(id), ...(whoChanged ? participantProps(want.participants, true) : {}) } as Record<string, string>,
  };
  return patch;
}

/**
 * What an occurrence's exception needs to become `want`: only the fields that differ from what Google holds
 * (`have`), so an "edit all" that changes one field of the series sends that field to each edited occurrence,
 * not a full copy over fields changed in Google meanwhile. A full body when Google's values are unknown or the
 * occurrence is revived.
 */
export function occurrencePatch(want: Fields, have: Fields | null, id: Identity, revive: boolean): GEvent {
  if (!have || revive) return occurrenceBody(want, id, revive);
  const patch: GEvent = {};
  if (want.title !== have.title) patch.summary = want.title;
  if (want.description !== have.description) patch.description = want.description;
  if (want.location !== have.location) patch.location = want.location;
  // An occurrence's own colour (or its return to the series' colour) is a field like the others.
  if (want.colorId !== have.colorId) Object.assign(patch, colorToGoogle(want.colorId, true));
  if (!same(want.time, have.time)) Object.assign(patch, timeToGoogle(want.time, true));
  const whoChanged = !same(want.participants, have.participants);
  patch.extendedProperties = {
    private: { ...identityProps(id), ...(whoChanged ? participantProps(want.participants, true) : {}) } as Record<string, string>,
  };
  return patch;
}

/** A full exception body for one occurrence. */
export function occurrenceBody(v: Fields, id: Identity, revive: boolean): GEvent {
  return {
    ...(revive ? { status: 'confirmed' } : {}),
    summary: v.title,
    description: v.description,
    location: v.location,
    ...colorToGoogle(v.colorId, true),
    ...timeToGoogle(v.time, true),
    extendedProperties: { private: { ...identityProps(id), ...participantProps(v.participants, true) } as Record<string, string> },
  };
}

// ------------------------------------------------------------------------------------------------ merge

function mergeSet(base: string[], local: string[], remote: string[]): string[] {
  const b = new Set(base);
  const l = new Set(local);
  const r = new Set(remote);
  const out = new Set<string>();
  for (const x of [...l, ...r]) {
    if ((l.has(x) && r.has(x)) || (l.has(x) && !b.has(x)) || (r.has(x) && !b.has(x))) out.add(x);
  }
  return [...out].sort();
}

function pick<T>(base: T, local: T, remote: T, localWins: () => boolean): T {
  if (same(local, base)) return remote;
  if (same(remote, base)) return local;
  if (same(local, remote)) return local;
  return localWins() ? local : remote;
}

/**
 * Which side changed a field last: `title`, `description`, `location`, `time`, `rrule`, or `ov:<occKey>` for
 * one occurrence. True when the room's change of it is the later one.
 */
export type LocalWins = (field: MasterField | `ov:${string}`) => boolean;

/**
 * Three-way merge of one part, field by field, against the last state both sides agreed on. Sets merge
 * member by member; a field changed on both sides goes to the side that changed that field last.
 */
export function merge3(base: PartCanon, local: PartCanon, remote: PartCanon, localWins: LocalWins | boolean): PartCanon {
  const wins: LocalWins = typeof localWins === 'boolean' ? () => localWins : localWins;
  const merged: PartCanon = {
    title: pick(base.title, local.title, remote.title, () => wins('title')),
    description: pick(base.description, local.description, remote.description, () => wins('description')),
    location: pick(base.location, local.location, remote.location, () => wins('location')),
    time: pick(base.time, local.time, remote.time, () => wins('time')),
    rrule: pick(base.rrule, local.rrule, remote.rrule, () => wins('rrule')),
    participants: mergeSet(base.participants, local.participants, remote.participants),
    colorId: pick(base.colorId, local.colorId, remote.colorId, () => wins('colorId')),
    exdates: mergeSet(base.exdates, local.exdates, remote.exdates),
    rdates: mergeSet(base.rdates, local.rdates, remote.rdates),
    ov: {},
  };
  const keys = new Set([...Object.keys(base.ov), ...Object.keys(local.ov), ...Object.keys(remote.ov)]);
  for (const k of [...keys].sort()) {
    if (merged.exdates.includes(k)) continue;
    const v = pick(base.ov[k] ?? null, local.ov[k] ?? null, remote.ov[k] ?? null, () => wins(`ov:${k}`));
    if (v) merged.ov[k] = v;
  }
  // A time-of-day change of the series moves every default occurrence: keep the overrides that still differ.
  return { ...merged, ov: withoutDefaults(merged, merged.ov) };
}

// ------------------------------------------------------------------------------------------------ ids

const BASE32HEX = '0123456789abcdefghijklmnopqrstuv';

export function base32hex(bytes: Uint8Array, length: number): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const b of bytes) {
    value = ((value << 8) | b) & 0xffff;
    bits += 8;
    while (bits >= 5 && out.length < length) {
      out += BASE32HEX[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return out;
}
