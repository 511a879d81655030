/**
 * What changed in a room between two looks, and who did it: a small fingerprint per event (and the
 * comments) is kept per room; the next look compares the touched ones (see change-tracker.ts) or,
 * for a room just loaded, all of them. Edits are attributed to the event's
 * `updatedBy` (`deleted.by` for deletions, the author for comments). Pure.
 *
 * A fingerprint is read from the stored fields only, never by expanding recurrences or resolving
 * the end in a zone: a look runs after every change of a room, on the event loop, and must stay
 * cheap for a room of thousands of events. Only the few moves a notice can show are expanded, for
 * their next start (see withNextStarts).
 */
import { COMMENTS_ROOT, getEvent, listEvents, occurrencesOf, ROOT, type CalendarEvent } from '@kith/model';
import * as Y from 'yjs';
import { ianaZone } from '../calendar/iana-zone.js';
import { roomZone } from './reminders.js';

export interface EventPrint {
  title: string;
  /** Start, duration, zone and rule: a change here is a move. */
  timing: string;
  /** Cancelled occurrence keys. */
  cancelled: string;
  deleted: boolean;
  participants: string[];
  updatedBy: string;
  tz: string;
}

export interface RoomPrint {
  events: Map<string, EventPrint>;
  comments: Map<string, { eventId: string; author: string; text: string }>;
}

export type ChangeKind = 'added' | 'moved' | 'changed' | 'cancelled' | 'deleted' | 'commented';

export interface RoomChange {
  kind: ChangeKind;
  actor: string;
  eventId: string;
  title: string;
  participants: string[];
  /** For a move a notice can show: the next start from now (ms, see `withNextStarts`), for "moved to Thu 16:00". */
  start: number | null;
  tz: string;
  /** For comments: the text, and the comment's id (an edit inside the window updates the notice). */
  text?: string;
  commentId?: string;
  /** A comment deleted while its notice waited: never told (its row stays, see notices.ts). */
  withdrawn?: boolean;
  /** How many changes of this kind and author it stands for, past a window's cap on rows (see notices.ts); 1 when absent. */
  count?: number;
}

function printOf(ev: CalendarEvent, zone: string): EventPrint {
  const cancelled = Object.entries(ev.overrides)
    .filter(([, o]) => o.cancelled)
    .map(([k]) => k)
    .sort()
    .join(',');
  const moved = Object.entries(ev.overrides)
    .filter(([, o]) => o.start !== undefined || o.duration !== undefined)
    .map(([k, o]) => `${k}=${o.start ?? ''}/${o.duration ?? ''}`)
    .sort()
    .join(',');
  return {
    title: ev.title,
    timing: `${ev.start}|${ev.duration}|${ev.tz}|${ev.rrule}|${ev.exdates.join(',')}|${moved}`,
    cancelled,
    deleted: ev.deleted !== null,
    participants: ev.participants,
    updatedBy: ev.deleted?.by ?? ev.updatedBy,
    tz: ev.tz ?? zone,
  };
}

/**
 * How far ahead nextStartOf looks, in growing steps (days): the first step that holds an
 * occurrence has the earliest, so a daily event costs a day's expansion, not 400 days' (which took
 * ~10 ms a series, and held the event loop 31 s for 3,000 moved series).
 */
const NEXT_START_STEPS_DAYS = [1, 8, 64, 400];

/** The next start from `now` (ms) of one event, within 400 days; null when none or unreadable. */
function nextStartOf(doc: Y.Doc, eventId: string, now: number, zone: string): number | null {
  try {
    const ev = getEvent(doc, eventId);
    if (!ev) return null;
    const from = new Date(now).toISOString();
    for (const days of NEXT_START_STEPS_DAYS) {
      const occ = occurrencesOf(ev, { from, to: new Date(now + days * 86_400_000).toISOString(), timeZone: zone })[0];
      if (occ) return Date.parse(occ.startInstant);
    }
    return null;
  } catch {
    return null;
  }
}

/** A notice lists an author's changes once per event and kind (the last one): this names it. Comments are each listed. */
export const detailKey = (c: RoomChange): string => `${c.eventId}|${c.kind}`;

/**
 * At most this many moves get their next start looked up in one look, from at most
 * DETAILED_ACTORS authors (a notice has lines for 7 changes one by one: summarize in notices.ts),
 * whatever the authors: `updatedBy` is written by the client, and a raw Yjs client giving each of
 * 3,000 moved events its own author had every one looked up.
 */
export const DETAILED_CHANGES = 12;
export const DETAILED_ACTORS = 7;

/**
 * Fills in the next start of the moves a notice can show, from the room as it is now. A notice names
 * a move's new time only while its author's changes in the batch are at most `shownPerActor`
 * (summarize in notices.ts); a batch only grows by further changes (a deleted comment leaves it,
 * hence counting the rest), so past that none is shown. An import's thousands of additions need
 * none: looking up each one's next start held the event loop for a second at 5,000 events. At most
 * DETAILED_CHANGES moves of the first DETAILED_ACTORS such authors are looked up; the rest go
 * without a time ("moved Dentist").
 */
export function withNextStarts(doc: Y.Doc, changes: RoomChange[], now: number, shownPerActor: number): RoomChange[] {
  const zone = validZone(roomZone(doc));
  const itemsBy = new Map<string, Set<string>>();
  for (const c of changes) {
    if (c.kind === 'commented') continue;
    const items = itemsBy.get(c.actor) ?? new Set<string>();
    items.add(detailKey(c));
    itemsBy.set(c.actor, items);
  }
  const detailed = new Set<string>();
  for (const [actor, items] of itemsBy) {
    if (detailed.size >= DETAILED_ACTORS) break;
    if (items.size <= shownPerActor) detailed.add(actor);
  }
  let budget = DETAILED_CHANGES;
  return changes.map((c) => {
    if (c.kind !== 'moved' || !detailed.has(c.actor) || budget <= 0) return c;
    budget--;
    return { ...c, start: nextStartOf(doc, c.eventId, now, zone) };
  });
}

const zones = new Map<string, string>();

/**
 * `zone` when it is a known IANA zone, else UTC: the zones notices read come from a room (whatever
 * a raw Yjs client wrote, also in rows stored by earlier versions) or a member's settings, and a
 * formatter given "Mars/Olympus_Mons" throws. Answers are kept for a few zones (rooms share a handful).
 */
export function validZone(zone: string): string {
  if (zone.length > 64) return 'UTC'; // no zone's name is that long (nor kept as a key)
  const known = zones.get(zone);
  if (known !== undefined) return known;
  const valid = ianaZone(zone) !== null ? zone : 'UTC';
  if (zones.size >= 256) zones.clear();
  zones.set(zone, valid);
  return valid;
}

type CommentPrint = { eventId: string; author: string; text: string };

function commentPrint(m: unknown): CommentPrint | null {
  if (!(m instanceof Y.Map)) return null;
  const eventId = m.get('eventId');
  const author = m.get('author');
  const text = m.get('text');
  return typeof eventId === 'string' && typeof author === 'string' && typeof text === 'string' ? { eventId, author, text } : null;
}

export function printRoom(doc: Y.Doc): RoomPrint {
  const zone = roomZone(doc);
  const events = new Map<string, EventPrint>();
  for (const ev of listEvents(doc, { includeDeleted: true, withEnd: false })) events.set(ev.id, printOf(ev, zone));
  const comments = new Map<string, CommentPrint>();
  for (const [id, m] of doc.getMap<Y.Map<unknown>>(COMMENTS_ROOT)) {
    const c = commentPrint(m);
    if (c) comments.set(id, c);
  }
  return { events, comments };
}

export const emptyPrint = (): RoomPrint => ({ events: new Map(), comments: new Map() });

/** What a print of the whole room reads: every event's and comment's id. */
export function roomIds(doc: Y.Doc): { events: string[]; comments: string[] } {
  return { events: [...doc.getMap(ROOT.events).keys()], comments: [...doc.getMap(COMMENTS_ROOT).keys()] };
}

/**
 * Adds one slice's `patchPrint` parts to those of the slices before it. An event's old print is the
 * first one seen: a later slice's comment brings the event along as it is by then.
 */
export function addParts(into: { before: RoomPrint; after: RoomPrint }, part: { before: RoomPrint; after: RoomPrint }): void {
  for (const [id, p] of part.before.events) if (!into.before.events.has(id)) into.before.events.set(id, p);
  for (const [id, p] of part.before.comments) if (!into.before.comments.has(id)) into.before.comments.set(id, p);
  for (const [id, p] of part.after.events) into.after.events.set(id, p);
  for (const [id, p] of part.after.comments) into.after.comments.set(id, p);
}

/**
 * Brings `print` up to date for the touched events and comments only (O(changed), not O(room)),
 * and returns the old and new prints of just those, to diff: `diffRooms(before, after)`. A touched
 * comment brings its event's (unchanged) print along, for its title and participants.
 */
export function patchPrint(doc: Y.Doc, print: RoomPrint, touched: { events: Iterable<string>; comments: Iterable<string> }): { before: RoomPrint; after: RoomPrint } {
  const zone = roomZone(doc);
  const before: RoomPrint = { events: new Map(), comments: new Map() };
  const after: RoomPrint = { events: new Map(), comments: new Map() };
  for (const id of touched.events) {
    const was = print.events.get(id);
    if (was) before.events.set(id, was);
    let ev: CalendarEvent | null = null;
    try {
      ev = getEvent(doc, id, { withEnd: false });
    } catch {
      ev = null; // unreadable: as if gone, like listEvents leaves it out
    }
    if (ev) {
      const now = printOf(ev, zone);
      print.events.set(id, now);
      after.events.set(id, now);
    } else print.events.delete(id);
  }
  const comments = doc.getMap<Y.Map<unknown>>(COMMENTS_ROOT);
  for (const id of touched.comments) {
    const was = print.comments.get(id);
    if (was) before.comments.set(id, was);
    const now = commentPrint(comments.get(id));
    if (now) {
      print.comments.set(id, now);
      after.comments.set(id, now);
    } else print.comments.delete(id);
    const eventId = now?.eventId ?? was?.eventId;
    const ev = eventId === undefined || after.events.has(eventId) ? undefined : print.events.get(eventId);
    if (eventId !== undefined && ev) {
      before.events.set(eventId, ev);
      after.events.set(eventId, ev);
    }
  }
  return { before, after };
}

export function diffRooms(before: RoomPrint, after: RoomPrint): RoomChange[] {
  const out: RoomChange[] = [];
  for (const [id, now] of after.events) {
    const was = before.events.get(id);
    const base = { actor: now.updatedBy, eventId: id, title: now.title, participants: [...new Set([...now.participants, ...(was?.participants ?? [])])], tz: now.tz };
    if (!was) {
      if (!now.deleted) out.push({ ...base, kind: 'added', start: null });
    } else if (now.deleted && !was.deleted) out.push({ ...base, kind: 'deleted', start: null });
    else if (now.deleted) continue;
    else if (was.deleted) out.push({ ...base, kind: 'added', start: null });
    else if (now.timing !== was.timing) out.push({ ...base, kind: 'moved', start: null });
    else if (now.cancelled !== was.cancelled) out.push({ ...base, kind: 'cancelled', start: null });
    else if (now.title !== was.title || now.participants.join() !== was.participants.join()) out.push({ ...base, kind: 'changed', start: null });
  }
  for (const [id, c] of after.comments) {
    if (before.comments.has(id)) continue;
    const ev = after.events.get(c.eventId);
    if (!ev) continue;
    out.push({ kind: 'commented', actor: c.author, eventId: c.eventId, title: ev.title, participants: ev.participants, start: null, tz: ev.tz, text: c.text, commentId: id });
  }
  return out;
}

/** Comments whose text changed, and comments gone, between two looks (a notice still pending follows them). */
export function commentEdits(before: RoomPrint, after: RoomPrint): { edited: Map<string, string>; removed: string[] } {
  const edited = new Map<string, string>();
  const removed: string[] = [];
  for (const [id, was] of before.comments) {
    const now = after.comments.get(id);
    if (!now) removed.push(id);
    else if (now.text !== was.text) edited.set(id, now.text);
  }
  return { edited, removed };
}
