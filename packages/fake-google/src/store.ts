/**
 * In-memory state and semantics of the fake Calendar API: calendars, events, recurring series, exceptions,
 * tombstones, etags, sequences and change numbers. Validation, rendering, series expansion, lists and sync tokens
 * each have their own module; this class owns the state and the writes.
 *
 * Everything here is transport-free; the route modules map HTTP onto these methods.
 */
import { randomBytes } from 'node:crypto';
import {
  base32hexId,
  type Calendar,
  clone,
  isPlainObject,
  type JsonObject,
  mergePatch,
  type StoredEvent,
  timeKey,
  type TimeValue,
} from './calendar-data.js';
import { errors } from './errors.js';
import { EventLists, type ListResult } from './event-lists.js';
import { EventRenderer } from './event-render.js';
import { validateEvent } from './event-validation.js';
import { exceptionsOf, instanceTimes } from './series.js';
import { isValidTimeZone } from './time.js';

export interface StoreOptions {
  now: () => number;
  random: () => number;
  baseUrl: () => string;
  defaultTimeZone: string;
  /** How far `updatedMin` may reach back before 410 `updatedMinTooLongAgo`. */
  updatedMinMaxAgeMs: number;
  /** How long a deleted event can be restored (`status: "confirmed"`) before it is purged from the trash. */
  trashRetentionMs: number;
  /** Days after max(now, series start) that open-ended series are expanded to. */
  expansionHorizonDays: number;
  /** When true, list pages are randomly short or empty (Google may do this), still with a nextPageToken. */
  shortPages: boolean;
  onChange: (calendarId: string) => void;
}

const ID_PATTERN = /^[a-v0-9]{5,1024}$/;

export class FakeCalendarStore {
  readonly calendars = new Map<string, Calendar>();
  private etagCounter = 0;
  private readonly render: EventRenderer;
  private readonly lists: EventLists;

  constructor(private readonly opts: StoreOptions) {
    this.render = new EventRenderer(opts.baseUrl);
    this.lists = new EventLists(opts, this.render);
  }

  reset(): void {
    this.calendars.clear();
    this.lists.reset();
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

  // ---------------------------------------------------------------- rendering and lists (see their modules)

  renderTime(t: TimeValue, outTz: string): JsonObject {
    return this.render.renderTime(t, outTz);
  }

  renderEvent(cal: Calendar, ev: StoredEvent, outTz?: string): JsonObject {
    return this.render.renderEvent(cal, ev, outTz);
  }

  listEvents(cal: Calendar, query: JsonObject): ListResult {
    return this.lists.listEvents(cal, query);
  }

  listInstances(cal: Calendar, eventId: string, query: JsonObject): ListResult {
    return this.lists.listInstances(cal, eventId, query);
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

  insertEvent(cal: Calendar, body: JsonObject, actorEmail: string, serverId?: string): StoredEvent {
    if (!isPlainObject(body)) throw errors.required('Missing event.');
    let id: string;
    if (serverId !== undefined) {
      // An id Google itself chooses (a split series' `<id>_R<start>`), outside the client id alphabet.
      if (cal.events.has(serverId)) throw errors.duplicate();
      id = serverId;
    } else if (body.id !== undefined && body.id !== null) {
      if (typeof body.id !== 'string' || !ID_PATTERN.test(body.id)) {
        throw errors.badRequest('Invalid resource id value.');
      }
      id = body.id;
      if (cal.events.has(id) || cal.instances.has(id)) throw errors.duplicate();
    } else {
      do id = base32hexId(randomBytes(20));
      while (cal.events.has(id));
    }
    const v = validateEvent(body, false);
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

  /**
   * Google UI's "this and following events" on a series: the old series ends before `start` (its RRULE gets an
   * UNTIL one second, or for all-day one day, earlier; a COUNT is dropped) and a new series, id
   * `<id>_R<start in UTC>`, starts there as a copy of the old one (extended properties included) with `changes`
   * applied. `start`/`end` are the split occurrence's times as the API writes them. Exceptions are not moved.
   */
  splitSeries(cal: Calendar, eventId: string, times: { start: JsonObject; end: JsonObject }, changes: JsonObject, actorEmail: string): StoredEvent {
    const master = cal.events.get(eventId);
    if (!master?.recurrence || master.status === 'cancelled') throw errors.notFound();
    const rendered = this.renderEvent(cal, master);
    const allDay = typeof times.start.date === 'string';
    const startText = String(allDay ? times.start.date : times.start.dateTime);
    const startMs = Date.parse(allDay ? `${startText}T00:00:00Z` : startText);
    if (!Number.isFinite(startMs)) throw errors.badRequest('Invalid split start.');
    const compact = (ms: number) => new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
    const until = allDay ? compact(startMs - 86_400_000).slice(0, 8) : compact(startMs - 1000);
    const trimmed = master.recurrence.map((line) =>
      line.startsWith('RRULE:')
        ? `RRULE:${line.slice(6).split(';').filter((part) => !/^(UNTIL|COUNT)=/.test(part)).concat(`UNTIL=${until}`).join(';')}`
        : line,
    );
    const copy: JsonObject = { ...rendered };
    for (const serverSet of ['id', 'etag', 'iCalUID', 'created', 'updated', 'htmlLink', 'sequence', 'status', 'kind', 'creator', 'organizer']) delete copy[serverSet];
    const newId = `${eventId}_R${allDay ? startText.replace(/-/g, '') : compact(startMs)}`;
    const next = this.insertEvent(cal, { ...copy, ...times, ...changes }, actorEmail, newId);
    this.modifyEvent(cal, eventId, { recurrence: trimmed }, { replace: false });
    return next;
  }

  /** The stored event, or an unmaterialised instance of a series (as an exception-to-be). */
  private locate(cal: Calendar, eventId: string): { ev: StoredEvent; materialised: boolean } {
    const ev = cal.events.get(eventId);
    if (ev) return { ev, materialised: true };
    const inst = cal.instances.get(eventId);
    if (inst) {
      const master = cal.events.get(inst.masterId);
      if (master && master.recurrence) {
        const { start, end } = instanceTimes(master, inst.original);
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
    if (ev.status === 'cancelled' && !ev.recurringEventId && this.opts.now() - ev.updated > this.opts.trashRetentionMs) {
      // Out of the trash: no longer restorable (or editable); the id stays taken.
      throw errors.notFound();
    }
    const isException = Boolean(ev.recurringEventId);
    const merged = opts.replace ? { ...body } : mergePatch(this.render.inputForm(ev, cal), body);
    if (opts.replace && merged.status === undefined && ev.status === 'cancelled') merged.status = 'cancelled';
    const v = validateEvent(merged, isException);
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
    for (const ex of exceptionsOf(cal, masterId).values()) {
      if (ex.status === 'cancelled') continue;
      const next: StoredEvent = { ...ex, status: 'cancelled' };
      this.stamp(cal, next);
      cal.events.set(next.id, next);
    }
  }


  /** Invalidate every sync token issued so far for this calendar. */
  expireSyncTokens(cal: Calendar): void {
    cal.syncEpoch += 1;
  }

  /** Full rendering of one event or instance id (events.get). */
  renderById(cal: Calendar, eventId: string, outTz?: string): JsonObject {
    const { ev, materialised } = this.locate(cal, eventId);
    if (materialised) return this.renderEvent(cal, ev, outTz);
    const master = cal.events.get(ev.recurringEventId!)!;
    return this.render.renderInstance(cal, master, ev.originalStart!, outTz);
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
