/**
 * GET, PUT and DELETE of one calendar object (`<uid>.ics`, or the name a client created it under:
 * object-names.ts), with ETags and If-Match /
 * If-None-Match. A PUT goes through the one iCalendar mapping (applyImport, as a one-object
 * import), so it edits the room's event field by field. No ETag is answered after a PUT: the
 * stored object is the room's own rendering (DTSTAMP, SEQUENCE, VTIMEZONE, …), which differs from
 * the bytes sent (RFC 4791 §5.3.4), so clients read it back (GET or multiget) to learn its ETag.
 */
import { deleteEvent, deleteFollowing, getEvent, LIMITS } from '@kith/model';
import { KithError } from '../errors/catalogue.js';
import { applyPlanned, countComponents, parseIcs, planImport, type ParsedImport } from '../calendar/ics-import.js';
import type { AuthenticatedUser } from '../modules/module.js';
import type { Calendars } from './calendars.js';
import { caldavPre, DavError, needPrivileges, notFound } from './dav-errors.js';
import type { DavObject } from './object-catalog.js';
import { viewOf, type ObjectView } from './user-view.js';
import type { RoomNames } from './object-names.js';
import { objectHref, type DavPath } from './paths.js';
import { OBJECT_CONTENT_TYPE } from './properties.js';
import { el, escapeXml, NS } from './xml.js';

/**
 * Components one object may hold (a master and its overrides, with VTIMEZONEs and VALARMs). A PUT
 * is applied on the main thread (unlike a file import, which has a worker), so this bounds its CPU.
 */
export const MAX_OBJECT_COMPONENTS = 1_000;

/**
 * Content lines one object may hold (unfolded). ical.js reads the whole text in one go on the main
 * thread: 20,000 lines take ~15 ms (~100 ms when a bad line makes it read them one by one); a
 * 2 MB body of short lines took 200 ms. A series with 998 overrides as Kith writes it has ~11,000.
 */
export const MAX_OBJECT_LINES = 20_000;

/** An object's unfolded content lines and its EXDATE and RDATE values, counted on the text. */
function countObjectParts(body: string): { lines: number; exdate: number; rdate: number } {
  const text = body.replace(/\r?\n[ \t]/g, ''); // RFC 5545 §3.1 folding undone
  let lines = 0;
  for (let at = text.indexOf('\n'); at >= 0; at = text.indexOf('\n', at + 1)) lines++;
  const counts = { lines: lines + 1, exdate: 0, rdate: 0 };
  for (const m of text.matchAll(/^(EXDATE|RDATE)([;:][^\r\n]*)/gim)) {
    const rest = m[2]!;
    // The value starts at the first colon outside a quoted parameter value (TZID="a:b").
    let quoted = false;
    let at = 0;
    for (; at < rest.length; at++) {
      if (rest[at] === '"') quoted = !quoted;
      else if (rest[at] === ':' && !quoted) break;
    }
    let values = 1;
    for (let i = rest.indexOf(',', at); i >= 0; i = rest.indexOf(',', i + 1)) values++;
    if (m[1]!.toUpperCase() === 'EXDATE') counts.exdate += values;
    else counts.rdate += values;
  }
  return counts;
}

type ObjectPath = Extract<DavPath, { kind: 'object' }>;

export interface Conditions {
  ifMatch?: string;
  ifNoneMatch?: string;
}

const etagList = (header: string): string[] => header.split(',').map((t) => t.trim().replace(/^W\//, ''));

/** RFC 9110 §13.1.1–2 for one resource: 412 when a condition does not hold. */
function checkConditions(obj: ObjectView | undefined, conditions: Conditions): void {
  const { ifMatch, ifNoneMatch } = conditions;
  const failed = () => new DavError('PRECONDITION_FAILED', 'The object is not in the state the request expected (If-Match / If-None-Match).');
  if (ifMatch !== undefined) {
    const tags = etagList(ifMatch);
    if (!obj || !(tags.includes('*') || tags.includes(obj.etag))) throw failed();
  }
  if (ifNoneMatch !== undefined && obj) {
    const tags = etagList(ifNoneMatch);
    if (tags.includes('*') || tags.includes(obj.etag)) throw failed();
  }
}

export interface FoundObject {
  etag: string;
  ics: string;
}

export async function getObject(calendars: Calendars, user: AuthenticatedUser, path: ObjectPath): Promise<FoundObject> {
  const room = await calendars.open(user, path.userId, path.roomId);
  const uid = (await calendars.names.forRoom(room.roomId)).uidOf(path.name);
  const obj = uid === undefined ? undefined : await calendars.catalog.read(room.roomId, (o) => o.byUid.get(uid));
  if (!obj) throw notFound();
  return viewOf(obj, user.userId);
}

const isCalendarType = (contentType: string | undefined): boolean => /^text\/calendar\s*(;|$)/i.test(contentType?.trim() ?? '');

/** A PUT refused by a precondition of RFC 4791 §5.3.2.1: 403, as the same request would always fail (§1.3). */
const refused = (precondition: string, message: string): DavError => new DavError('INVALID_CALENDAR_OBJECT', message, caldavPre(precondition));

const tooLarge = (message: string): DavError => new DavError('PAYLOAD_TOO_LARGE', message, caldavPre('max-resource-size'));

/**
 * The request's calendar object, parsed and checked to be one object (one UID). Its size is bounded
 * on the text first: parsing and converting what no event can hold would only hold up the server
 * (1.7 MB of 100,800 EXDATE values took 12 s), and then be refused by the model's limits.
 */
function readObject(body: string): ParsedImport {
  const components = countComponents(body);
  if (components > MAX_OBJECT_COMPONENTS) {
    throw tooLarge(`The object holds ${components} components; one calendar object may hold at most ${MAX_OBJECT_COMPONENTS}.`);
  }
  const parts = countObjectParts(body);
  if (parts.lines > MAX_OBJECT_LINES) {
    throw tooLarge(`The object has ${parts.lines} lines; one calendar object may have at most ${MAX_OBJECT_LINES}.`);
  }
  // The model's limit for an event's dates (as REST's recurrence lines are counted): every value of
  // the object counts, since each is converted before the model sees the list.
  for (const [name, count] of [['EXDATE', parts.exdate], ['RDATE', parts.rdate]] as const) {
    if (count > LIMITS.dates) {
      throw tooLarge(`The object holds ${count} ${name} values; an event holds at most ${LIMITS.dates}.`);
    }
  }
  let parsed: ParsedImport;
  try {
    parsed = parseIcs(body);
  } catch (err) {
    if (err instanceof KithError) throw refused('valid-calendar-data', err.message);
    throw err;
  }
  if (parsed.events.length === 0) {
    const why = parsed.issues[0]?.message;
    throw why ? refused('valid-calendar-data', `The VEVENT could not be read: ${why}`) : refused('supported-calendar-component', 'The object holds no VEVENT (only events are stored here).');
  }
  if (parsed.events.length > 1) {
    throw refused('valid-calendar-object-resource', `The object holds ${parsed.events.length} UIDs; a calendar object holds one.`);
  }
  // Occurrences without their series (an invitation to one date) would be stored as a one-off
  // under another UID than the body's, every occurrence but the first dropped, and the object
  // then missing from the URL the client just wrote: refused instead.
  if (parsed.events[0]!.master === null) {
    throw refused('valid-calendar-object-resource', 'The object holds only occurrences (RECURRENCE-ID) without their series; send the series (a VEVENT without RECURRENCE-ID) with them.');
  }
  return parsed;
}

const uidConflict = (message: string, href: string): DavError =>
  new DavError('UID_MISMATCH', message, { ns: NS.CALDAV, name: 'no-uid-conflict', inner: el(NS.DAV, 'href', escapeXml(href)) });

/**
 * The UID the name stands for once `bodyUid` is stored under it, or throws 403 no-uid-conflict: a
 * name holding an object keeps its UID; a free name takes any UID no other resource holds.
 */
function targetUid(names: RoomNames, name: string, bodyUid: string, live: ReadonlyMap<string, DavObject>, href: (name: string) => string): string {
  const current = names.uidOf(name);
  if (current !== undefined && live.has(current)) {
    if (current !== bodyUid) throw uidConflict('The object’s UID differs from the one this resource holds.', href(name));
    return current;
  }
  if (live.has(bodyUid) && names.nameOf(bodyUid) !== name) {
    throw uidConflict('Another resource of this calendar holds this UID.', href(names.nameOf(bodyUid)));
  }
  return bodyUid;
}

/**
 * Stores the object; true when it made the resource (201: a new event, or one back from the
 * trash), false when it changed or kept one (204).
 */
export async function putObject(
  calendars: Calendars,
  user: AuthenticatedUser,
  path: ObjectPath,
  request: { contentType: string | undefined; body: string; conditions: Conditions },
): Promise<boolean> {
  const room = await calendars.open(user, path.userId, path.roomId);
  const href = (uid: string) => objectHref(user.userId, room.roomId, uid);
  if (room.role === 'viewer') throw needPrivileges(href(path.name), 'write-content');
  if (!isCalendarType(request.contentType)) {
    throw new DavError('UNSUPPORTED_MEDIA_TYPE', `Send the object as ${OBJECT_CONTENT_TYPE}.`, caldavPre('supported-calendar-data'));
  }
  const parsed = readObject(request.body);
  const bodyUid = parsed.events[0]!.uid;
  // Converted and validated before the room is touched, giving other requests turns meanwhile.
  const planned = await planImport(parsed, user.userId);
  const names = await calendars.names.forRoom(room.roomId);
  const created = await calendars.catalog.edit(room.roomId, ({ byUid, doc }) => {
    const uid = targetUid(names, path.name, bodyUid, byUid, href);
    const current = byUid.get(uid);
    checkConditions(current && viewOf(current, user.userId), request.conditions);
    // A series split in Kith ("this and following") is several objects, and a PUT of the first
    // would make it one series again: every later part (and its edits) would be gone for everyone.
    if (current && (getEvent(doc, current.eventId)?.segments.length ?? 0) > 0) {
      throw new DavError('OBJECT_NOT_WRITABLE', 'This series was split into parts in Kith (“this and following”); edit it in Kith.');
    }
    // The object's VALARMs are the user's view of its reminders: changes map to theirs (ics-alarms.ts).
    const result = applyPlanned(doc, planned, user.userId, { kind: 'caldav', user: user.userId });
    if (result.imported + result.updated + result.unchanged === 0) {
      const issue = result.errors[0];
      if (issue) throw refused('valid-calendar-object-resource', `The event was not stored: ${issue.message}`);
      throw new DavError('OBJECT_NOT_WRITABLE', 'The event was not stored; edit it in Kith.');
    }
    return result.imported > 0;
  });
  // The object is named as the client wrote it (durable before the answer, like the event): a
  // row left by an object gone without a CalDAV DELETE (deleted in Kith) may still name this UID
  // otherwise, and GET of the URL just written would be 404.
  if (names.uidOf(path.name) !== bodyUid || names.nameOf(bodyUid) !== path.name) await calendars.names.set(room.roomId, path.name, bodyUid);
  return created;
}

const SEGMENT_UID = /^(.+)_(\d{4}-\d{2}-\d{2})@kith$/;

export async function deleteObject(calendars: Calendars, user: AuthenticatedUser, path: ObjectPath, conditions: Conditions): Promise<void> {
  const room = await calendars.open(user, path.userId, path.roomId);
  if (room.role === 'viewer') throw needPrivileges(objectHref(user.userId, room.roomId, path.name), 'unbind');
  const names = await calendars.names.forRoom(room.roomId);
  const uid = names.uidOf(path.name);
  await calendars.catalog.edit(room.roomId, ({ byUid, doc }) => {
    const obj = uid === undefined ? undefined : byUid.get(uid);
    if (!obj) throw notFound();
    checkConditions(viewOf(obj, user.userId), conditions);
    const ctx = { actor: user.userId };
    // A "this and following" part is its own object: deleting it ends the series there.
    const segment = SEGMENT_UID.exec(obj.uid);
    if (segment && segment[1] === obj.eventId) deleteFollowing(doc, obj.eventId, segment[2]!, ctx);
    else deleteEvent(doc, obj.eventId, ctx); // to the room's trash, like any delete
  });
  if (uid !== undefined && names.mapped(path.name) !== undefined) {
    // Recorded first, so sync-collection reports the deletion under the name the client knows. A
    // copy behind the index records nothing: the row stays (stale, its name free again) for
    // whichever request records the deletion.
    if ((await calendars.snapshot(room.roomId)).recorded) await calendars.names.remove(room.roomId, uid);
  }
}
