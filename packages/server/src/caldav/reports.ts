/**
 * REPORTs on a calendar: calendar-multiget and calendar-query (RFC 4791 §7.8, §7.9) and
 * sync-collection (RFC 6578).
 */
import { Temporal } from 'temporal-polyfill';
import type { AuthenticatedUser } from '../modules/module.js';
import type { Calendars } from './calendars.js';
import { badRequest, caldavPre, DavError, davPre } from './dav-errors.js';
import type { DavObject } from './object-catalog.js';
import type { RoomNames } from './object-names.js';
import { objectHref, parseDavPath } from './paths.js';
import { eventsInRange, utcDateTime, type DocSlice } from './time-range.js';
import { inSlices } from './slices.js';
import { matchesPropFilters, parsePropFilters, type PropFilter } from './prop-filter.js';
import { viewOf } from './user-view.js';
import { getEvent } from '@kith/model';
import { ExpandLimit, expandObject, expandRequest, type ExpandRange } from './expand.js';
import { objectProps, propRequest, propResponse, type CalendarInfo, type PropRequest } from './properties.js';
import { parseSyncPoint, syncToken, type SyncPoint } from './sync-index.js';
import { calendarHref } from './paths.js';
import { child, childrenNamed, d, document, escapeXml, key, NS, statusResponse, type XmlElement } from './xml.js';

/** hrefs one multiget may name. */
const MAX_HREFS = 10_000;
/**
 * Time ranges at most this long are matched exactly against every occurrence (RFC 4791 §9.9),
 * within a budget of working time per query (time-range.ts). A longer one (a client asking for
 * "everything from 90 days ago on") is matched by the events' spans only: single events to within
 * a day, every series that starts before the range ends — more than asked, never less; looking
 * through decades of a series that has no occurrence in them would cost seconds.
 */
const DAY_MS = 86_400_000;
const EXACT_RANGE_DAYS = 400;

const wantsData = (request: PropRequest): boolean =>
  request !== 'all' && request.some((p) => key(p.ns, p.name) === key(NS.CALDAV, 'calendar-data'));

function objectResponse(user: AuthenticatedUser, room: CalendarInfo, names: RoomNames, obj: DavObject, request: PropRequest, expanded?: ReadonlyMap<DavObject, string>): string {
  const view = viewOf(obj, user.userId);
  const ics = expanded?.get(obj);
  return propResponse(objectHref(user.userId, room.roomId, names.nameOf(obj.uid)), objectProps(ics === undefined ? view : { etag: view.etag, ics }, wantsData(request)), request);
}

/**
 * The objects rendered as `<C:expand>` asks (expand.ts), read from the room as it is now: in
 * slices between which the event loop turns, and refused (403) once the answer would hold more
 * instances or bytes than ExpandLimit allows.
 */
async function expandAll(calendars: Calendars, user: AuthenticatedUser, room: CalendarInfo, all: ReadonlyMap<string, DavObject>, chosen: DavObject[], range: ExpandRange): Promise<Map<DavObject, string>> {
  const splits = new Map<string, string[]>();
  for (const o of all.values()) {
    const m = /_(\d{4}-\d{2}-\d{2})@kith$/.exec(o.uid);
    if (m && o.uid.startsWith(`${o.eventId}_`)) splits.set(o.eventId, [...(splits.get(o.eventId) ?? []), m[1]!]);
  }
  const out = new Map<DavObject, string>();
  const limit = new ExpandLimit();
  await inSlices(chosen, roomSlice(calendars, room), (obj, doc) => {
    const ev = getEvent(doc, obj.eventId);
    if (ev !== null && ev.deleted === null) out.set(obj, expandObject(ev, obj, splits.get(obj.eventId) ?? [], range, user.userId, limit));
  });
  return out;
}

/** Runs a slice of work inside a read of the room (its document as its objects were rendered from). */
const roomSlice =
  (calendars: Calendars, room: CalendarInfo): DocSlice =>
  (slice) =>
    calendars.catalog.read(room.roomId, ({ doc }) => slice(doc));

export async function report(calendars: Calendars, user: AuthenticatedUser, room: CalendarInfo, body: XmlElement): Promise<string> {
  if (body.ns === NS.CALDAV && body.name === 'calendar-multiget') return multiget(calendars, user, room, body);
  if (body.ns === NS.CALDAV && body.name === 'calendar-query') return query(calendars, user, room, body);
  if (body.ns === NS.DAV && body.name === 'sync-collection') return syncCollection(calendars, user, room, body);
  throw new DavError('UNSUPPORTED_REPORT', `The ${body.name} REPORT is not supported here.`, davPre('supported-report'));
}

async function multiget(calendars: Calendars, user: AuthenticatedUser, room: CalendarInfo, body: XmlElement): Promise<string> {
  const request = propRequest(body);
  // Each href once: a copy would be rendered (and expanded) again, for nothing.
  const hrefs = [...new Set(childrenNamed(body, NS.DAV, 'href').map((h) => h.text.trim()))];
  if (hrefs.length > MAX_HREFS) throw badRequest(`A multiget may name at most ${MAX_HREFS} objects.`);
  const expand = expandRequest(body);
  const { objects, names } = await calendars.snapshot(room.roomId);
  const found = hrefs.map((href) => {
    const path = parseDavPath(href);
    const uid = path?.kind === 'object' && path.userId === user.userId && path.roomId === room.roomId ? names.uidOf(path.name) : undefined;
    return { href, obj: uid === undefined ? undefined : objects.get(uid) };
  });
  const expanded = expand ? await expandAll(calendars, user, room, objects, found.flatMap((f) => (f.obj ? [f.obj] : [])), expand) : undefined;
  const out = found.map(({ href, obj }) => (obj ? objectResponse(user, room, names, obj, request, expanded) : statusResponse(href, '404 Not Found')));
  return document(NS.DAV, 'multistatus', out.join(''));
}

/** What a query's filter keeps: a time range (null: any time) and prop-filters. */
interface EventFilter {
  range: { from: string; to: string } | null;
  props: PropFilter[];
}

/** What a filter keeps ('none': no object), or throws for a filter not supported. */
function filterEvents(filter: XmlElement | undefined): EventFilter | 'none' {
  const all: EventFilter = { range: null, props: [] };
  if (!filter) return all;
  const cal = child(filter, NS.CALDAV, 'comp-filter');
  if (!cal) return all;
  // The top-level comp-filter is matched against the object itself, a VCALENDAR (RFC 4791 §9.7.1):
  // any other name (a VTODO query, empty or not) matches no object.
  if (!/^VCALENDAR$/i.test(attr(cal))) return 'none';
  if (child(cal, NS.CALDAV, 'is-not-defined')) return 'none'; // every object is a VCALENDAR
  const comps = childrenNamed(cal, NS.CALDAV, 'comp-filter');
  if (comps.length === 0) return all;
  const ev = comps[0]!;
  if (!/^VEVENT$/i.test(attr(ev))) return 'none'; // only VEVENTs are stored: a VTODO query finds nothing
  if (child(ev, NS.CALDAV, 'is-not-defined')) return 'none'; // every object holds a VEVENT
  for (const c of ev.children) {
    if (!(c.ns === NS.CALDAV && (c.name === 'time-range' || c.name === 'prop-filter'))) {
      throw new DavError('UNSUPPORTED_REPORT', `The ${c.name} filter is not supported; comp-filter, time-range and prop-filter are.`, caldavPre('supported-filter'));
    }
  }
  const props = parsePropFilters(childrenNamed(ev, NS.CALDAV, 'prop-filter'));
  const range = child(ev, NS.CALDAV, 'time-range');
  if (!range) return { range: null, props };
  return {
    range: {
      from: range.attrs.start === undefined ? '0001-01-01T00:00:00Z' : utcDateTime(range.attrs.start, 'time-range start'),
      to: range.attrs.end === undefined ? '9999-12-31T00:00:00Z' : utcDateTime(range.attrs.end, 'time-range end'),
    },
    props,
  };
}

const attr = (el: XmlElement): string => el.attrs.name ?? '';

async function query(calendars: Calendars, user: AuthenticatedUser, room: CalendarInfo, body: XmlElement): Promise<string> {
  const request = propRequest(body);
  const expand = expandRequest(body);
  const filter = filterEvents(child(body, NS.CALDAV, 'filter'));
  if (filter === 'none') return document(NS.DAV, 'multistatus', '');
  const { range, props } = filter;
  let keep: ((obj: DavObject) => boolean) | undefined;
  let objects: ReadonlyMap<string, DavObject>;
  let names: RoomNames;
  if (range === null) {
    ({ objects, names } = await calendars.snapshot(room.roomId));
  } else {
    if (Temporal.Instant.compare(range.to, range.from) <= 0) throw badRequest('The time-range must end after it starts.', caldavPre('valid-filter'));
    ({ objects, names } = await calendars.snapshot(room.roomId));
    // Ruled out by their spans first (cheap); the rest are expanded (RFC 4791 §9.9).
    const lo = Date.parse(range.from) - DAY_MS;
    const hi = Date.parse(range.to) + DAY_MS;
    const candidates = new Map<string, DavObject>();
    for (const obj of objects.values()) {
      if (obj.span.from < hi && (obj.span.to === null || obj.span.to > lo) && matchesPropFilters(obj, props)) candidates.set(obj.eventId, obj);
    }
    if (Temporal.Instant.from(range.from).until(range.to).total('days') <= EXACT_RANGE_DAYS) {
      const matching = await eventsInRange(roomSlice(calendars, room), candidates, range);
      keep = (obj) => matching.has(obj.eventId) && matchesPropFilters(obj, props);
    } else {
      keep = (obj) => candidates.has(obj.eventId) && matchesPropFilters(obj, props);
    }
  }
  if (!keep && props.length > 0) keep = (obj) => matchesPropFilters(obj, props);
  const chosen = [...objects.values()].filter((obj) => !keep || keep(obj));
  const expanded = expand ? await expandAll(calendars, user, room, objects, chosen, expand) : undefined;
  const out = chosen.map((obj) => objectResponse(user, room, names, obj, request, expanded));
  return document(NS.DAV, 'multistatus', out.join(''));
}

/** Largest DAV:nresults taken (more is as good as none). */
const MAX_NRESULTS = 100_000;

/** A sync-collection's `<D:limit><D:nresults>` (RFC 6578 §3.7, RFC 5323), or null. */
function nresults(body: XmlElement): number | null {
  const limit = child(body, NS.DAV, 'limit');
  if (!limit) return null;
  const text = child(limit, NS.DAV, 'nresults')?.text.trim() ?? '';
  if (!/^\d{1,9}$/.test(text) || Number(text) < 1) throw badRequest('DAV:limit must hold DAV:nresults, a whole number from 1.');
  return Math.min(Number(text), MAX_NRESULTS);
}

async function syncCollection(calendars: Calendars, user: AuthenticatedUser, room: CalendarInfo, body: XmlElement): Promise<string> {
  const request = propRequest(body);
  const level = child(body, NS.DAV, 'sync-level')?.text.trim() ?? '1';
  if (level !== '1' && level !== 'infinite') throw badRequest('sync-level must be 1 or infinite.');
  const given = child(body, NS.DAV, 'sync-token')?.text.trim() ?? '';
  const limit = nresults(body);
  const { objects, version, head, names } = await calendars.snapshot(room.roomId);
  let since: SyncPoint = { version: 0, after: null };
  if (given !== '') {
    const p = parseSyncPoint(given, room.roomId);
    if (p === undefined || p.version > head || (p.after !== null && p.version >= head)) {
      throw new DavError('INVALID_SYNC_TOKEN', 'The sync token is unknown for this calendar; sync again from the start.', davPre('valid-sync-token'));
    }
    // Deletions older than the room's kept tombstones could be missed from a token this old.
    if (p.version < (await calendars.index.floor(room.roomId))) {
      throw new DavError('INVALID_SYNC_TOKEN', 'The sync token is too old for this calendar; sync again from the start.', davPre('valid-sync-token'));
    }
    since = p;
  }
  const initial = since.version === 0 && since.after === null;
  // This instance's copy of the room is behind the token (given out elsewhere, or above the version
  // the copy answers while it catches up): nothing new from here, the same token back.
  const ahead = since.version > version || (since.after !== null && since.version >= version);
  let changes = ahead ? [] : await calendars.index.changesSince(room.roomId, since, version);
  let token = ahead ? syncToken(room.roomId, since.version, since.after) : syncToken(room.roomId, version);
  const out: string[] = [];
  if (limit !== null && changes.length > limit) {
    // RFC 6578 §3.6: truncated; the token names where this page ends, and a 507 member says so.
    changes = changes.slice(0, limit);
    const last = changes[changes.length - 1];
    token = last === undefined ? syncToken(room.roomId, since.version, since.after) : syncToken(room.roomId, last.version - 1, last.uid);
    out.push(statusResponse(calendarHref(user.userId, room.roomId), '507 Insufficient Storage'));
  }
  for (const change of changes) {
    const obj = objects.get(change.uid);
    // A live object under its name now; a deleted one under the name it had when it was recorded.
    const href = objectHref(user.userId, room.roomId, obj ? names.nameOf(change.uid) : change.name);
    // Gone now (or changed again and gone before this snapshot): a 404 member, as RFC 6578 §3.5.
    if (change.deleted || !obj) {
      if (!initial) out.push(statusResponse(href, '404 Not Found'));
      continue;
    }
    out.push(objectResponse(user, room, names, obj, request));
  }
  out.push(d('sync-token', escapeXml(token)));
  return document(NS.DAV, 'multistatus', out.join(''));
}
