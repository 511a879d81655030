/**
 * In-memory state and semantics of the fake Calendar API: calendars, events, recurring series, exceptions,
 * tombstones, etags, sequences, change numbers, sync tokens and page tokens.
 *
 * Everything here is transport-free; `server.ts` maps HTTP onto these methods.
 */
import { createHash, randomBytes } from 'node:crypto';
import { errors, GoogleApiError } from './errors.js';
import {
  expand,
  type Occurrence,
  parseRecurrence,
  type ParsedRecurrence,
  RecurrenceError,
  type SeriesStart,
} from './recurrence.js';
import {
  dateString,
  dayNumber,
  formatRfc3339,
  fromDayNumber,
  instantOf,
  isValidTimeZone,
  parseDate,
  parseDateTime,
  parseInstant,
  startOfDate,
  wallInZone,
} from './time.js';

export type JsonObject = Record<string, unknown>;

export type TimeValue =
  | { kind: 'date'; date: string; timeZone?: string }
  | { kind: 'dateTime'; ms: number; timeZone?: string };

export type EventStatus = 'confirmed' | 'tentative' | 'cancelled';

export interface StoredEvent {
  id: string;
  status: EventStatus;
  start: TimeValue;
  end: TimeValue;
  recurrence?: string[];
  recurringEventId?: string;
  originalStart?: TimeValue;
  /** Client-writable fields other than the ones above (summary, description, extendedProperties, …). */
  fields: JsonObject;
  etag: string;
  created: number;
  updated: number;
  sequence: number;
  iCalUID: string;
  creatorEmail: string;
  /** The calendar's change number at this event's last write (drives sync tokens). */
  changeSeq: number;
}

export interface Calendar {
  id: string;
  ownerEmail: string;
  primary: boolean;
  summary: string;
  description?: string;
  location?: string;
  timeZone: string;
  etag: string;
  /** OAuth client that created it (for the `calendar.app.created` scope). */
  createdByClient?: string;
  deleted: boolean;
  /** Change number, bumped by every event write. */
  seq: number;
  /** Bumped to invalidate every sync token issued so far. */
  syncEpoch: number;
  lastUpdated: number;
  events: Map<string, StoredEvent>;
  /** Instance id → its series and original start, filled in as instances are handed out. */
  instances: Map<string, { masterId: string; original: TimeValue }>;
}

export interface StoreOptions {
  now: () => number;
  random: () => number;
  baseUrl: () => string;
  defaultTimeZone: string;
  /** How far `updatedMin` may reach back before 410 `updatedMinTooLongAgo`. */
  updatedMinMaxAgeMs: number;
  /** Days after max(now, series start) that open-ended series are expanded to. */
  expansionHorizonDays: number;
  /** When true, list pages are randomly short or empty (Google may do this), still with a nextPageToken. */
  shortPages: boolean;
  onChange: (calendarId: string) => void;
}

export interface ListResult {
  items: JsonObject[];
  nextPageToken?: string;
  nextSyncToken?: string;
}

type Row = { type: 'event'; id: string } | { type: 'instance'; masterId: string; original: TimeValue };

interface PageState {
  calendarId: string;
  rows: Row[];
  offset: number;
  syncSeq: number | null;
  showDeleted: boolean;
  incremental: boolean;
  updatedMin: boolean;
  timeZone: string | undefined;
  maxResults: number;
  forInstances: boolean;
}

const ID_PATTERN = /^[a-v0-9]{5,1024}$/;
const BASE32HEX = '0123456789abcdefghijklmnopqrstuv';
const WRITABLE_FIELDS = [
  'summary',
  'description',
  'location',
  'colorId',
  'transparency',
  'visibility',
  'attendees',
  'anyoneCanAddSelf',
  'guestsCanInviteOthers',
  'guestsCanModify',
  'guestsCanSeeOtherGuests',
  'privateCopy',
  'locked',
  'reminders',
  'extendedProperties',
  'source',
  'attachments',
  'eventType',
  'endTimeUnspecified',
] as const;
const SYNC_TOKEN_FORBIDDEN = [
  'iCalUID',
  'orderBy',
  'privateExtendedProperty',
  'sharedExtendedProperty',
  'q',
  'timeMin',
  'timeMax',
  'updatedMin',
] as const;
const MAX_PAGE_STATES = 2000;

export function isPlainObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function clone<T>(v: T): T {
  return v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T);
}

/** Patch semantics: objects merge recursively, arrays and scalars replace, `null` removes the key. */
export function mergePatch(target: JsonObject, patch: JsonObject): JsonObject {
  const out: JsonObject = { ...target };
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else if (isPlainObject(v)) out[k] = mergePatch(isPlainObject(out[k]) ? (out[k] as JsonObject) : {}, v);
    else out[k] = clone(v);
  }
  return out;
}

export function base32hexId(bytes: Buffer, length = 26): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5 && out.length < length) {
      out += BASE32HEX[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return out;
}

export class FakeCalendarStore {
  readonly calendars = new Map<string, Calendar>();
  private readonly pages = new Map<string, PageState>();
  private etagCounter = 0;

  constructor(private readonly opts: StoreOptions) {}

  reset(): void {
    this.calendars.clear();
    this.pages.clear();
  }

  // ---------------------------------------------------------------- calendars

  private nextEtag(ms: number): string {
    this.etagCounter = (this.etagCounter + 1) % 1000;
    return `"${ms * 1000 + this.etagCounter}"`;
  }

  private tick(cal: Calendar): number {
    const now = Math.max(this.opts.now(), cal.lastUpdated + 1);
    cal.lastUpdated = now;
    return now;
  }

  ensurePrimaryCalendar(email: string): Calendar {
    const existing = this.calendars.get(email);
    if (existing) return existing;
    const now = this.opts.now();
    const cal: Calendar = {
      id: email,
      ownerEmail: email,
      primary: true,
      summary: email,
      timeZone: this.opts.defaultTimeZone,
      etag: this.nextEtag(now),
      deleted: false,
      seq: 0,
      syncEpoch: 0,
      lastUpdated: now,
      events: new Map(),
      instances: new Map(),
    };
    this.calendars.set(email, cal);
    return cal;
  }

  createCalendar(ownerEmail: string, body: JsonObject, clientId?: string): Calendar {
    this.ensurePrimaryCalendar(ownerEmail);
    const summary = body.summary;
    if (typeof summary !== 'string' || summary.trim() === '') throw errors.required('Missing title.');
    const timeZone = body.timeZone ?? this.opts.defaultTimeZone;
    if (!isValidTimeZone(timeZone)) throw errors.badRequest('Invalid time zone definition.');
    const now = this.opts.now();
    const id = `c_${randomBytes(20).toString('hex')}@group.calendar.google.com`;
    const cal: Calendar = {
      id,
      ownerEmail,
      primary: false,
      summary,
      timeZone,
      etag: this.nextEtag(now),
      deleted: false,
      seq: 0,
      syncEpoch: 0,
      lastUpdated: now,
      events: new Map(),
      instances: new Map(),
      ...(clientId ? { createdByClient: clientId } : {}),
    };
    if (typeof body.description === 'string') cal.description = body.description;
    if (typeof body.location === 'string') cal.location = body.location;
    this.calendars.set(id, cal);
    return cal;
  }

  patchCalendar(cal: Calendar, body: JsonObject, replace: boolean): Calendar {
    const next = replace ? { summary: body.summary } : body;
    if ('summary' in next && (typeof next.summary !== 'string' || next.summary.trim() === '')) {
      throw errors.required('Missing title.');
    }
    if (body.timeZone !== undefined && !isValidTimeZone(body.timeZone)) {
      throw errors.badRequest('Invalid time zone definition.');
    }
    if (typeof body.summary === 'string') cal.summary = body.summary;
    if (typeof body.timeZone === 'string') cal.timeZone = body.timeZone;
    for (const k of ['description', 'location'] as const) {
      if (typeof body[k] === 'string') cal[k] = body[k] as string;
      else if (replace || body[k] === null) delete cal[k];
    }
    cal.etag = this.nextEtag(this.opts.now());
    return cal;
  }

  deleteCalendar(cal: Calendar): void {
    if (cal.primary) {
      throw errors.badRequest('Cannot delete primary calendar.', 'cannotDeletePrimaryCalendar', 'calendar');
    }
    cal.deleted = true;
    this.calendars.delete(cal.id);
  }

  renderCalendar(cal: Calendar): JsonObject {
    return {
      kind: 'calendar#calendar',
      etag: cal.etag,
      id: cal.id,
      summary: cal.summary,
      ...(cal.description !== undefined ? { description: cal.description } : {}),
      ...(cal.location !== undefined ? { location: cal.location } : {}),
      timeZone: cal.timeZone,
      conferenceProperties: { allowedConferenceSolutionTypes: ['hangoutsMeet'] },
    };
  }

  renderCalendarListEntry(cal: Calendar): JsonObject {
    return {
      kind: 'calendar#calendarListEntry',
      etag: cal.etag,
      id: cal.id,
      summary: cal.summary,
      ...(cal.description !== undefined ? { description: cal.description } : {}),
      timeZone: cal.timeZone,
      colorId: '14',
      backgroundColor: '#9fe1e7',
      foregroundColor: '#000000',
      selected: true,
      accessRole: 'owner',
      defaultReminders: [],
      ...(cal.primary ? { primary: true } : {}),
      conferenceProperties: { allowedConferenceSolutionTypes: ['hangoutsMeet'] },
    };
  }

  calendarsOf(email: string): Calendar[] {
    return [...this.calendars.values()].filter((c) => c.ownerEmail === email && !c.deleted);
  }

  // ---------------------------------------------------------------- validation

  private parseTime(v: unknown, which: 'start' | 'end'): TimeValue {
    if (!isPlainObject(v) || (v.date === undefined && v.dateTime === undefined)) {
      throw errors.required(`Missing ${which} time.`);
    }
    if (v.date !== undefined && v.dateTime !== undefined) throw errors.badRequest(`Invalid ${which} time.`);
    const tz = v.timeZone;
    if (tz !== undefined && !isValidTimeZone(tz)) {
      throw errors.badRequest(`Invalid time zone definition for ${which} time.`);
    }
    if (v.date !== undefined) {
      const d = parseDate(v.date);
      if (!d) throw errors.badRequest(`Invalid ${which} time.`);
      return { kind: 'date', date: dateString(d), ...(tz ? { timeZone: tz } : {}) };
    }
    const p = parseDateTime(v.dateTime);
    if (!p) throw errors.badRequest(`Invalid ${which} time.`);
    const ms = instantOf(p, tz as string | undefined);
    if (ms === null) throw errors.badRequest(`Missing time zone definition for ${which} time.`);
    return { kind: 'dateTime', ms: Math.floor(ms / 1000) * 1000, ...(tz ? { timeZone: tz } : {}) };
  }

  private validateFields(input: JsonObject): JsonObject {
    const fields: JsonObject = {};
    for (const key of WRITABLE_FIELDS) {
      const v = input[key];
      if (v === undefined || v === null) continue;
      fields[key] = clone(v);
    }
    for (const k of ['summary', 'description', 'location'] as const) {
      if (fields[k] !== undefined && typeof fields[k] !== 'string') throw errors.badRequest(`Invalid value for: ${k}`);
    }
    if (fields.colorId !== undefined && !/^(?:[1-9]|1[01])$/.test(String(fields.colorId))) {
      throw errors.badRequest('Invalid color id.');
    }
    if (fields.transparency !== undefined && fields.transparency !== 'opaque' && fields.transparency !== 'transparent') {
      throw errors.badRequest('Invalid value for: transparency');
    }
    if (
      fields.visibility !== undefined &&
      !['default', 'public', 'private', 'confidential'].includes(fields.visibility as string)
    ) {
      throw errors.badRequest('Invalid value for: visibility');
    }
    if (fields.eventType !== undefined && fields.eventType !== 'default') {
      throw errors.badRequest('The fake only supports eventType "default".', 'invalid', 'calendar');
    }
    const reminders = fields.reminders;
    if (reminders !== undefined) {
      if (!isPlainObject(reminders)) throw errors.badRequest('Invalid value for: reminders');
      const overrides = reminders.overrides;
      if (reminders.useDefault === true && Array.isArray(overrides) && overrides.length > 0) {
        throw errors.badRequest(
          'Cannot specify both default reminders and overrides at the same time.',
          'cannotUseDefaultRemindersAndSpecifyOverride',
          'calendar',
        );
      }
      if (overrides !== undefined) {
        if (!Array.isArray(overrides) || overrides.length > 5) throw errors.badRequest('Invalid reminder overrides.');
        for (const o of overrides) {
          if (
            !isPlainObject(o) ||
            (o.method !== 'email' && o.method !== 'popup') ||
            typeof o.minutes !== 'number' ||
            o.minutes < 0 ||
            o.minutes > 40320
          ) {
            throw errors.badRequest('Invalid reminder override.');
          }
        }
      }
    }
    const ext = fields.extendedProperties;
    if (ext !== undefined) {
      if (!isPlainObject(ext)) throw errors.badRequest('Invalid value for: extendedProperties');
      for (const scope of Object.keys(ext)) {
        if (scope !== 'private' && scope !== 'shared') throw errors.badRequest('Invalid value for: extendedProperties');
        const props = ext[scope];
        if (!isPlainObject(props)) throw errors.badRequest('Invalid value for: extendedProperties');
        for (const [k, val] of Object.entries(props)) {
          if (k.length === 0 || k.length > 44) {
            throw errors.badRequest('Invalid extended property key (at most 44 characters).');
          }
          if (typeof val !== 'string' || val.length > 1024) {
            throw errors.badRequest('Invalid extended property value (a string of at most 1024 characters).');
          }
        }
        if (Object.keys(props).length === 0) delete ext[scope];
      }
    }
    const attendees = fields.attendees;
    if (attendees !== undefined) {
      if (!Array.isArray(attendees)) throw errors.badRequest('Invalid value for: attendees');
      for (const a of attendees) {
        if (!isPlainObject(a) || typeof a.email !== 'string' || !a.email.includes('@')) {
          throw errors.badRequest('Invalid attendee email.');
        }
      }
    }
    return fields;
  }

  /**
   * Validate a complete event representation (insert body, update body, or current ⊕ patch) and
   * normalise it.
   */
  private validateEvent(
    input: JsonObject,
    cal: Calendar,
    isException: boolean,
  ): { status: EventStatus; start: TimeValue; end: TimeValue; recurrence?: string[]; fields: JsonObject } {
    const status = (input.status ?? 'confirmed') as EventStatus;
    if (status !== 'confirmed' && status !== 'tentative' && status !== 'cancelled') {
      throw errors.badRequest('Invalid value for: status');
    }
    if (input.start === undefined || input.start === null) throw errors.required('Missing start time.');
    if (input.end === undefined || input.end === null) throw errors.required('Missing end time.');
    const start = this.parseTime(input.start, 'start');
    const end = this.parseTime(input.end, 'end');
    if (start.kind !== end.kind) {
      throw errors.badRequest('Start and end times must either both be date or both be dateTime.');
    }
    if (start.kind === 'date' && end.kind === 'date') {
      if (end.date <= start.date) throw errors.timeRangeEmpty();
    } else if (start.kind === 'dateTime' && end.kind === 'dateTime' && end.ms <= start.ms) {
      throw errors.timeRangeEmpty();
    }
    let recurrence: string[] | undefined;
    if (input.recurrence !== undefined && input.recurrence !== null) {
      if (!Array.isArray(input.recurrence)) throw errors.badRequest('Invalid recurrence rule.');
      if (input.recurrence.length > 0) {
        if (isException) throw errors.badRequest('Invalid recurrence rule.');
        try {
          parseRecurrence(input.recurrence);
        } catch (e) {
          if (e instanceof RecurrenceError) throw errors.badRequest('Invalid recurrence rule.');
          throw e;
        }
        if (start.kind === 'dateTime' && !start.timeZone) {
          throw errors.badRequest('Missing time zone definition for start time.');
        }
        if (end.kind === 'dateTime' && !end.timeZone) {
          throw errors.badRequest('Missing time zone definition for end time.');
        }
        recurrence = (input.recurrence as string[]).map((l) => l.trim());
      }
    }
    const fields = this.validateFields(input);
    return { status, start, end, ...(recurrence ? { recurrence } : {}), fields };
  }

  // ---------------------------------------------------------------- time helpers

  private spanOf(cal: Calendar, start: TimeValue, end: TimeValue): [number, number] {
    return [this.instant(cal, start), this.instant(cal, end)];
  }

  private instant(cal: Calendar, t: TimeValue): number {
    if (t.kind === 'dateTime') return t.ms;
    return startOfDate(parseDate(t.date)!, cal.timeZone);
  }

  renderTime(t: TimeValue, outTz: string): JsonObject {
    if (t.kind === 'date') return { date: t.date, ...(t.timeZone ? { timeZone: t.timeZone } : {}) };
    return { dateTime: formatRfc3339(t.ms, outTz), ...(t.timeZone ? { timeZone: t.timeZone } : {}) };
  }

  /** The form a client would send back (used as the base of a PATCH). */
  private inputForm(ev: StoredEvent, cal: Calendar): JsonObject {
    return {
      ...clone(ev.fields),
      status: ev.status,
      start: this.renderTime(ev.start, ev.start.timeZone ?? cal.timeZone),
      end: this.renderTime(ev.end, ev.end.timeZone ?? cal.timeZone),
      ...(ev.recurrence ? { recurrence: [...ev.recurrence] } : {}),
      sequence: ev.sequence,
    };
  }

  // ---------------------------------------------------------------- rendering

  renderEvent(cal: Calendar, ev: StoredEvent, outTz?: string): JsonObject {
    const tz = outTz ?? cal.timeZone;
    const owner = { email: cal.ownerEmail, self: true };
    return {
      kind: 'calendar#event',
      etag: ev.etag,
      id: ev.id,
      status: ev.status,
      htmlLink: `${this.opts.baseUrl()}/calendar/event?eid=${Buffer.from(`${ev.id} ${cal.id}`).toString('base64url')}`,
      created: new Date(ev.created).toISOString(),
      updated: new Date(ev.updated).toISOString(),
      ...clone(ev.fields),
      creator: owner,
      organizer: cal.primary ? owner : { email: cal.id, displayName: cal.summary, self: true },
      start: this.renderTime(ev.start, tz),
      end: this.renderTime(ev.end, tz),
      ...(ev.recurrence ? { recurrence: [...ev.recurrence] } : {}),
      ...(ev.recurringEventId ? { recurringEventId: ev.recurringEventId } : {}),
      ...(ev.originalStart ? { originalStartTime: this.renderTime(ev.originalStart, tz) } : {}),
      iCalUID: ev.iCalUID,
      sequence: ev.sequence,
      reminders: ev.fields.reminders ? clone(ev.fields.reminders) : { useDefault: true },
      eventType: 'default',
    };
  }

  /** Deleted items in lists carry no more than Google guarantees. */
  private renderTombstone(cal: Calendar, ev: StoredEvent, outTz?: string): JsonObject {
    return {
      kind: 'calendar#event',
      etag: ev.etag,
      id: ev.id,
      status: 'cancelled',
      ...(ev.recurringEventId ? { recurringEventId: ev.recurringEventId } : {}),
      ...(ev.originalStart ? { originalStartTime: this.renderTime(ev.originalStart, outTz ?? cal.timeZone) } : {}),
    };
  }

  private renderInstance(cal: Calendar, master: StoredEvent, original: TimeValue, outTz?: string): JsonObject {
    const id = this.instanceId(cal, master.id, original);
    const { start, end } = this.instanceTimes(master, original);
    const base = this.renderEvent(cal, { ...master, id, start, end }, outTz);
    delete base.recurrence;
    return {
      ...base,
      recurringEventId: master.id,
      originalStartTime: this.renderTime(original, outTz ?? cal.timeZone),
    };
  }

  private instanceTimes(master: StoredEvent, original: TimeValue): { start: TimeValue; end: TimeValue } {
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

  // ---------------------------------------------------------------- recurrence

  /**
   * Instance ids are opaque on purpose: Google says they are, and changes their format; a client that
   * parses them breaks here first.
   */
  private instanceId(cal: Calendar, masterId: string, original: TimeValue): string {
    const key = original.kind === 'date' ? original.date : String(original.ms);
    const id = `_${base32hexId(createHash('sha256').update(`${cal.id}\n${masterId}\n${key}`).digest(), 24)}`;
    if (!cal.instances.has(id)) cal.instances.set(id, { masterId, original: { ...original } });
    return id;
  }

  private seriesStart(master: StoredEvent): SeriesStart {
    if (master.start.kind === 'date') return { kind: 'date', date: parseDate(master.start.date)! };
    const tz = master.start.timeZone ?? 'UTC';
    const w = wallInZone(master.start.ms, tz);
    return { kind: 'dateTime', date: { y: w.y, mo: w.mo, d: w.d }, h: w.h, mi: w.mi, s: w.s, tz };
  }

  /** Occurrences of a series whose span overlaps (windowStart, windowEnd). */
  private occurrences(cal: Calendar, master: StoredEvent, windowStart?: number, windowEnd?: number): TimeValue[] {
    const rec: ParsedRecurrence = parseRecurrence(master.recurrence ?? []);
    const start = this.seriesStart(master);
    const startDay = dayNumber(start.date);
    const nowDay = Math.floor(this.opts.now() / 86_400_000);
    const horizon =
      windowEnd !== undefined
        ? Math.floor(windowEnd / 86_400_000) + 2
        : Math.max(nowDay, startDay) + this.opts.expansionHorizonDays;
    const occ: Occurrence[] = expand(start, rec, { untilDay: horizon, maxOccurrences: 5000 });
    const out: TimeValue[] = [];
    for (const o of occ) {
      const original: TimeValue =
        o.kind === 'date'
          ? { kind: 'date', date: dateString(fromDayNumber(o.day)), ...(master.start.timeZone ? { timeZone: master.start.timeZone } : {}) }
          : { kind: 'dateTime', ms: o.ms, ...(master.start.timeZone ? { timeZone: master.start.timeZone } : {}) };
      const { start: s, end: e } = this.instanceTimes(master, original);
      const [sMs, eMs] = this.spanOf(cal, s, e);
      if (windowStart !== undefined && eMs <= windowStart) continue;
      if (windowEnd !== undefined && sMs >= windowEnd) continue;
      out.push(original);
    }
    return out;
  }

  private exceptionsOf(cal: Calendar, masterId: string): Map<string, StoredEvent> {
    const out = new Map<string, StoredEvent>();
    for (const ev of cal.events.values()) {
      if (ev.recurringEventId === masterId && ev.originalStart) out.set(timeKey(ev.originalStart), ev);
    }
    return out;
  }

  // ---------------------------------------------------------------- writes

  private stamp(cal: Calendar, ev: StoredEvent): void {
    const now = this.tick(cal);
    ev.updated = now;
    ev.etag = this.nextEtag(now);
    cal.seq += 1;
    ev.changeSeq = cal.seq;
  }

  private changed(cal: Calendar): void {
    this.opts.onChange(cal.id);
  }

  insertEvent(cal: Calendar, body: JsonObject, actorEmail: string): StoredEvent {
    if (!isPlainObject(body)) throw errors.required('Missing event.');
    let id: string;
    if (body.id !== undefined && body.id !== null) {
      if (typeof body.id !== 'string' || !ID_PATTERN.test(body.id)) {
        throw errors.badRequest('Invalid resource id value.');
      }
      id = body.id;
      if (cal.events.has(id) || cal.instances.has(id)) throw errors.duplicate();
    } else {
      do id = base32hexId(randomBytes(20));
      while (cal.events.has(id));
    }
    const v = this.validateEvent(body, cal, false);
    let sequence = 0;
    if (body.sequence !== undefined && body.sequence !== null) {
      if (!Number.isInteger(body.sequence) || (body.sequence as number) < 0) {
        throw errors.badRequest('Invalid sequence value.');
      }
      sequence = body.sequence as number;
    }
    const iCalUID = typeof body.iCalUID === 'string' && body.iCalUID ? body.iCalUID : `${id}@google.com`;
    const now = this.tick(cal);
    const ev: StoredEvent = {
      id,
      status: v.status,
      start: v.start,
      end: v.end,
      ...(v.recurrence ? { recurrence: v.recurrence } : {}),
      fields: v.fields,
      etag: this.nextEtag(now),
      created: now,
      updated: now,
      sequence,
      iCalUID,
      creatorEmail: actorEmail,
      changeSeq: 0,
    };
    cal.seq += 1;
    ev.changeSeq = cal.seq;
    cal.events.set(id, ev);
    this.changed(cal);
    return ev;
  }

  /** The stored event, or an unmaterialised instance of a series (as an exception-to-be). */
  private locate(cal: Calendar, eventId: string): { ev: StoredEvent; materialised: boolean } {
    const ev = cal.events.get(eventId);
    if (ev) return { ev, materialised: true };
    const inst = cal.instances.get(eventId);
    if (inst) {
      const master = cal.events.get(inst.masterId);
      if (master && master.recurrence) {
        const { start, end } = this.instanceTimes(master, inst.original);
        const { recurrence: _dropped, ...rest } = master;
        void _dropped;
        return {
          ev: {
            ...rest,
            fields: clone(master.fields),
            id: eventId,
            start,
            end,
            recurringEventId: master.id,
            originalStart: { ...inst.original },
            status: master.status === 'cancelled' ? 'cancelled' : master.status,
          },
          materialised: false,
        };
      }
    }
    throw errors.notFound();
  }

  getEvent(cal: Calendar, eventId: string): StoredEvent {
    return this.locate(cal, eventId).ev;
  }

  private checkIfMatch(ev: StoredEvent, ifMatch: string | undefined): void {
    if (ifMatch === undefined || ifMatch.trim() === '*') return;
    const tags = ifMatch.split(',').map((t) => t.trim().replace(/^W\//, ''));
    if (!tags.includes(ev.etag)) throw errors.conditionNotMet();
  }

  /** PATCH (merge) or PUT (replace). */
  modifyEvent(
    cal: Calendar,
    eventId: string,
    body: JsonObject,
    opts: { replace: boolean; ifMatch?: string },
  ): StoredEvent {
    if (!isPlainObject(body)) throw errors.required('Missing event.');
    const { ev, materialised } = this.locate(cal, eventId);
    this.checkIfMatch(ev, opts.ifMatch);
    if (opts.replace && ev.status === 'cancelled' && !ev.recurringEventId) {
      // Google answers PUT on a deleted event with 403 (google-api-python-client #210, #846).
      throw errors.forbidden();
    }
    const isException = Boolean(ev.recurringEventId);
    const merged = opts.replace ? { ...body } : mergePatch(this.inputForm(ev, cal), body);
    if (opts.replace && merged.status === undefined && ev.status === 'cancelled') merged.status = 'cancelled';
    const v = this.validateEvent(merged, cal, isException);
    const requested = body.sequence;
    if (requested !== undefined && requested !== null) {
      if (!Number.isInteger(requested) || (requested as number) < ev.sequence) {
        throw errors.badRequest(
          'Invalid sequence value. The specified sequence number is below the current sequence number of the resource.',
          'invalid',
          'calendar',
        );
      }
    }
    const significant =
      timeKey(v.start) !== timeKey(ev.start) ||
      timeKey(v.end) !== timeKey(ev.end) ||
      JSON.stringify(v.recurrence ?? null) !== JSON.stringify(ev.recurrence ?? null) ||
      (v.status === 'cancelled') !== (ev.status === 'cancelled');
    const next: StoredEvent = {
      ...ev,
      status: v.status,
      start: v.start,
      end: v.end,
      fields: v.fields,
      sequence: Math.max(
        typeof requested === 'number' ? requested : ev.sequence,
        ev.sequence + (significant ? 1 : 0),
      ),
    };
    if (v.recurrence) next.recurrence = v.recurrence;
    else delete next.recurrence;
    if (!materialised) next.created = this.opts.now();
    this.stamp(cal, next);
    cal.events.set(next.id, next);
    if (ev.recurrence && next.status === 'cancelled' && ev.status !== 'cancelled') this.cancelExceptions(cal, ev.id);
    this.changed(cal);
    return next;
  }

  deleteEvent(cal: Calendar, eventId: string, ifMatch?: string): void {
    const { ev, materialised } = this.locate(cal, eventId);
    if (ev.status === 'cancelled') throw errors.deleted();
    this.checkIfMatch(ev, ifMatch);
    const next: StoredEvent = { ...ev, status: 'cancelled', sequence: ev.sequence + 1 };
    if (!materialised) next.created = this.opts.now();
    this.stamp(cal, next);
    cal.events.set(next.id, next);
    if (ev.recurrence) this.cancelExceptions(cal, ev.id);
    this.changed(cal);
  }

  private cancelExceptions(cal: Calendar, masterId: string): void {
    for (const ex of this.exceptionsOf(cal, masterId).values()) {
      if (ex.status === 'cancelled') continue;
      const next: StoredEvent = { ...ex, status: 'cancelled' };
      this.stamp(cal, next);
      cal.events.set(next.id, next);
    }
  }

  // ---------------------------------------------------------------- sync tokens

  private syncToken(cal: Calendar, seq: number): string {
    const payload = Buffer.from(JSON.stringify({ c: cal.id, s: seq, e: cal.syncEpoch })).toString('base64url');
    return `CK${payload}`;
  }

  private readSyncToken(cal: Calendar, token: string): number {
    try {
      if (!token.startsWith('CK')) throw new Error('foreign');
      const { c, s, e } = JSON.parse(Buffer.from(token.slice(2), 'base64url').toString('utf8')) as {
        c: unknown;
        s: unknown;
        e: unknown;
      };
      if (c !== cal.id || e !== cal.syncEpoch || typeof s !== 'number' || s > cal.seq || s < 0) throw new Error();
      return s;
    } catch {
      throw errors.fullSyncRequired();
    }
  }

  /** Invalidate every sync token issued so far for this calendar. */
  expireSyncTokens(cal: Calendar): void {
    cal.syncEpoch += 1;
  }

  // ---------------------------------------------------------------- list

  listEvents(cal: Calendar, query: JsonObject): ListResult {
    const q = new QueryReader(query);
    const pageToken = q.string('pageToken');
    if (pageToken !== undefined) return this.nextPage(cal, pageToken, false);

    const syncToken = q.string('syncToken');
    const timeZone = q.timeZone();
    const maxResults = q.maxResults(250);
    const singleEvents = q.bool('singleEvents') ?? false;
    const orderBy = q.string('orderBy');
    if (orderBy !== undefined && orderBy !== 'startTime' && orderBy !== 'updated') {
      throw errors.invalidParameter('orderBy');
    }
    let rows: Row[];
    let showDeleted: boolean;
    let updatedMinGiven = false;
    if (syncToken !== undefined) {
      for (const p of SYNC_TOKEN_FORBIDDEN) {
        if (query[p] !== undefined) {
          throw errors.badRequest(`Invalid combination of parameters: syncToken and ${p}.`, 'invalid', 'global', {
            type: 'parameter',
            name: p,
          });
        }
      }
      if (q.bool('showDeleted') === false) {
        throw errors.badRequest('Invalid combination of parameters: syncToken and showDeleted=false.', 'invalid', 'global', {
          type: 'parameter',
          name: 'showDeleted',
        });
      }
      const since = this.readSyncToken(cal, syncToken);
      showDeleted = true;
      const changed = [...cal.events.values()].filter((e) => e.changeSeq > since).sort((a, b) => a.changeSeq - b.changeSeq);
      rows = [];
      for (const ev of changed) {
        if (singleEvents && ev.recurrence && ev.status !== 'cancelled') rows.push(...this.instanceRows(cal, ev));
        else rows.push({ type: 'event', id: ev.id });
      }
    } else {
      if (orderBy === 'startTime' && !singleEvents) {
        throw errors.badRequest('The requested ordering is not available for the particular query.', 'badRequest', 'global', {
          type: 'parameter',
          name: 'orderBy',
        });
      }
      const timeMin = q.instant('timeMin');
      const timeMax = q.instant('timeMax');
      if (timeMin !== undefined && timeMax !== undefined && timeMax <= timeMin) throw errors.timeRangeEmpty('timeMax');
      const updatedMin = q.instant('updatedMin');
      if (updatedMin !== undefined && this.opts.now() - updatedMin > this.opts.updatedMinMaxAgeMs) {
        throw errors.updatedMinTooLongAgo();
      }
      updatedMinGiven = updatedMin !== undefined;
      showDeleted = (q.bool('showDeleted') ?? false) || updatedMinGiven;
      const text = q.string('q')?.toLowerCase();
      const iCalUID = q.string('iCalUID');
      const priv = q.propertyFilters('privateExtendedProperty');
      const shared = q.propertyFilters('sharedExtendedProperty');
      const keep = (ev: StoredEvent, master?: StoredEvent): boolean => {
        const src = master ?? ev;
        if (updatedMin !== undefined && ev.updated < updatedMin) return false;
        if (iCalUID !== undefined && ev.iCalUID !== iCalUID) return false;
        if (text && !['summary', 'description', 'location'].some((k) => String(src.fields[k] ?? '').toLowerCase().includes(text))) {
          return false;
        }
        const ext = (src.fields.extendedProperties ?? {}) as { private?: JsonObject; shared?: JsonObject };
        if (!priv.every(([k, val]) => ext.private?.[k] === val)) return false;
        if (!shared.every(([k, val]) => ext.shared?.[k] === val)) return false;
        return true;
      };
      const overlaps = (s: TimeValue, e: TimeValue): boolean => {
        const [sMs, eMs] = this.spanOf(cal, s, e);
        return (timeMin === undefined || eMs > timeMin) && (timeMax === undefined || sMs < timeMax);
      };
      rows = [];
      const sortKeys = new Map<Row, [number, string]>();
      const push = (row: Row, startMs: number, updated: number, id: string): void => {
        rows.push(row);
        sortKeys.set(row, [orderBy === 'updated' ? updated : startMs, id]);
      };
      for (const ev of cal.events.values()) {
        if (ev.status === 'cancelled' && !showDeleted) continue;
        const master = ev.recurringEventId ? cal.events.get(ev.recurringEventId) : undefined;
        if (!keep(ev, master)) continue;
        if (ev.recurrence && ev.status !== 'cancelled') {
          if (singleEvents) {
            const exceptions = this.exceptionsOf(cal, ev.id);
            for (const original of this.occurrences(cal, ev, timeMin, timeMax)) {
              if (exceptions.has(timeKey(original))) continue;
              push({ type: 'instance', masterId: ev.id, original }, this.instant(cal, original), ev.updated, ev.id);
            }
          } else if (timeMin === undefined && timeMax === undefined) {
            push({ type: 'event', id: ev.id }, this.instant(cal, ev.start), ev.updated, ev.id);
          } else if (this.occurrences(cal, ev, timeMin, timeMax).length > 0) {
            push({ type: 'event', id: ev.id }, this.instant(cal, ev.start), ev.updated, ev.id);
          }
          continue;
        }
        if (ev.recurringEventId && master && master.status === 'cancelled' && ev.status !== 'cancelled') continue;
        const span = ev.status === 'cancelled' && ev.originalStart ? this.instanceTimes(master ?? ev, ev.originalStart) : ev;
        if (!overlaps(span.start, span.end)) continue;
        push({ type: 'event', id: ev.id }, this.instant(cal, ev.start), ev.updated, ev.id);
      }
      if (orderBy !== undefined) {
        rows.sort((a, b) => {
          const [ka, ia] = sortKeys.get(a)!;
          const [kb, ib] = sortKeys.get(b)!;
          return ka - kb || (ia < ib ? -1 : ia > ib ? 1 : 0);
        });
      }
    }
    const state: PageState = {
      calendarId: cal.id,
      rows,
      offset: 0,
      syncSeq: orderBy !== undefined ? null : cal.seq,
      showDeleted,
      incremental: syncToken !== undefined,
      updatedMin: updatedMinGiven,
      timeZone,
      maxResults,
      forInstances: false,
    };
    return this.page(cal, state);
  }

  private instanceRows(cal: Calendar, master: StoredEvent): Row[] {
    const exceptions = this.exceptionsOf(cal, master.id);
    return this.occurrences(cal, master)
      .filter((o) => !exceptions.has(timeKey(o)))
      .map((original) => ({ type: 'instance', masterId: master.id, original }));
  }

  listInstances(cal: Calendar, eventId: string, query: JsonObject): ListResult {
    const q = new QueryReader(query);
    const pageToken = q.string('pageToken');
    if (pageToken !== undefined) return this.nextPage(cal, pageToken, true);
    const master = cal.events.get(eventId);
    if (!master) throw errors.notFound();
    if (master.status === 'cancelled') throw errors.deleted();
    const timeZone = q.timeZone();
    const maxResults = q.maxResults(250);
    const showDeleted = q.bool('showDeleted') ?? false;
    const timeMin = q.instant('timeMin');
    const timeMax = q.instant('timeMax');
    if (timeMin !== undefined && timeMax !== undefined && timeMax <= timeMin) throw errors.timeRangeEmpty('timeMax');
    const originalStart = q.string('originalStart');
    let originalFilter: string | undefined;
    if (originalStart !== undefined) {
      const p = parseDateTime(originalStart);
      const d = parseDate(originalStart);
      if (p && p.offsetMin !== null) originalFilter = `t${instantOf(p, undefined)}`;
      else if (d) originalFilter = `d${dateString(d)}`;
      else throw errors.invalidParameter('originalStart');
    }
    let rows: Row[];
    if (!master.recurrence) {
      rows = [{ type: 'event', id: master.id }];
    } else {
      const exceptions = this.exceptionsOf(cal, master.id);
      rows = [];
      for (const original of this.occurrences(cal, master, timeMin, timeMax)) {
        const ex = exceptions.get(timeKey(original));
        rows.push(ex ? { type: 'event', id: ex.id } : { type: 'instance', masterId: master.id, original });
      }
      // Exceptions moved into the window from outside it.
      for (const ex of exceptions.values()) {
        if (ex.status === 'cancelled') continue;
        if (rows.some((r) => r.type === 'event' && r.id === ex.id)) continue;
        const [s, e] = this.spanOf(cal, ex.start, ex.end);
        if ((timeMin === undefined || e > timeMin) && (timeMax === undefined || s < timeMax)) {
          rows.push({ type: 'event', id: ex.id });
        }
      }
    }
    if (originalFilter !== undefined) {
      rows = rows.filter((r) => {
        const orig = r.type === 'instance' ? r.original : cal.events.get(r.id)?.originalStart ?? cal.events.get(r.id)?.start;
        return orig !== undefined && timeKey(orig) === originalFilter;
      });
    }
    return this.page(cal, {
      calendarId: cal.id,
      rows,
      offset: 0,
      syncSeq: null,
      showDeleted,
      incremental: false,
      updatedMin: false,
      timeZone,
      maxResults,
      forInstances: true,
    });
  }

  private nextPage(cal: Calendar, pageToken: string, forInstances: boolean): ListResult {
    const state = this.pages.get(pageToken);
    if (!state || state.calendarId !== cal.id || state.forInstances !== forInstances) {
      throw errors.invalidParameter('pageToken', 'Invalid page token value.');
    }
    return this.page(cal, state);
  }

  private page(cal: Calendar, state: PageState): ListResult {
    let size = state.maxResults;
    if (this.opts.shortPages && state.rows.length - state.offset > 1) {
      size = Math.floor(this.opts.random() * (state.maxResults + 1));
    }
    const slice = state.rows.slice(state.offset, state.offset + size);
    const items: JsonObject[] = [];
    for (const row of slice) {
      const rendered = this.renderRow(cal, row, state);
      if (rendered) items.push(rendered);
    }
    const offset = state.offset + slice.length;
    const result: ListResult = { items };
    if (offset < state.rows.length) {
      const token = `P${randomBytes(18).toString('base64url')}`;
      this.pages.set(token, { ...state, offset });
      if (this.pages.size > MAX_PAGE_STATES) {
        const oldest = this.pages.keys().next().value;
        if (oldest !== undefined) this.pages.delete(oldest);
      }
      result.nextPageToken = token;
    } else if (state.syncSeq !== null) {
      result.nextSyncToken = this.syncToken(cal, state.syncSeq);
    }
    return result;
  }

  private renderRow(cal: Calendar, row: Row, state: PageState): JsonObject | null {
    const includeDeleted = state.showDeleted || state.incremental || state.updatedMin;
    if (row.type === 'event') {
      const ev = cal.events.get(row.id);
      if (!ev) return null;
      if (ev.status === 'cancelled') {
        if (!includeDeleted) return null;
        return this.renderTombstone(cal, ev, state.timeZone);
      }
      return this.renderEvent(cal, ev, state.timeZone);
    }
    const master = cal.events.get(row.masterId);
    if (!master || master.status === 'cancelled') return null;
    const id = this.instanceId(cal, master.id, row.original);
    const ex = cal.events.get(id);
    if (ex) {
      if (ex.status === 'cancelled') return includeDeleted ? this.renderTombstone(cal, ex, state.timeZone) : null;
      return this.renderEvent(cal, ex, state.timeZone);
    }
    return this.renderInstance(cal, master, row.original, state.timeZone);
  }

  /** Full rendering of one event or instance id (events.get). */
  renderById(cal: Calendar, eventId: string, outTz?: string): JsonObject {
    const { ev, materialised } = this.locate(cal, eventId);
    if (materialised) return this.renderEvent(cal, ev, outTz);
    const master = cal.events.get(ev.recurringEventId!)!;
    return this.renderInstance(cal, master, ev.originalStart!, outTz);
  }

  listMeta(cal: Calendar, outTz: string | undefined): JsonObject {
    return {
      kind: 'calendar#events',
      etag: this.nextEtag(cal.lastUpdated),
      summary: cal.summary,
      ...(cal.description !== undefined ? { description: cal.description } : {}),
      updated: new Date(cal.lastUpdated).toISOString(),
      timeZone: outTz ?? cal.timeZone,
      accessRole: 'owner',
      defaultReminders: [],
    };
  }
}

function timeKey(t: TimeValue): string {
  return t.kind === 'date' ? `d${t.date}` : `t${t.ms}`;
}


/** Typed access to query parameters as Fastify parses them (strings, or arrays when repeated). */
class QueryReader {
  constructor(private readonly q: JsonObject) {}

  private raw(name: string): string | string[] | undefined {
    const v = this.q[name];
    if (v === undefined) return undefined;
    return Array.isArray(v) ? v.map(String) : String(v);
  }

  string(name: string): string | undefined {
    const v = this.raw(name);
    if (Array.isArray(v)) return v[v.length - 1];
    return v;
  }

  bool(name: string): boolean | undefined {
    const v = this.string(name);
    if (v === undefined) return undefined;
    if (v === 'true') return true;
    if (v === 'false') return false;
    throw errors.invalidParameter(name, `Invalid boolean value: '${v}'.`);
  }

  maxResults(def: number): number {
    const v = this.string('maxResults');
    if (v === undefined) return def;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) {
      throw errors.invalidParameter('maxResults', `Invalid value '${v}'. Values must be within the range: [1, 2500]`);
    }
    return Math.min(n, 2500);
  }

  instant(name: string): number | undefined {
    const v = this.string(name);
    if (v === undefined) return undefined;
    const ms = parseInstant(v);
    if (ms === null) throw errors.badRequest('Bad Request', 'badRequest', 'global', { type: 'parameter', name });
    return ms;
  }

  timeZone(): string | undefined {
    const v = this.string('timeZone');
    if (v === undefined) return undefined;
    if (!isValidTimeZone(v)) throw errors.invalidParameter('timeZone', 'Invalid time zone definition.');
    return v;
  }

  propertyFilters(name: string): Array<[string, string]> {
    const v = this.raw(name);
    if (v === undefined) return [];
    return (Array.isArray(v) ? v : [v]).map((s) => {
      const eq = s.indexOf('=');
      if (eq <= 0) throw errors.invalidParameter(name, `Invalid ${name} value: '${s}'.`);
      return [s.slice(0, eq), s.slice(eq + 1)];
    });
  }
}

export { GoogleApiError };
