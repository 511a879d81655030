/**
 * The layout of one room's Y.Doc. Everything here is a name or a bound; reading and writing live
 * in read.ts and write.ts.
 *
 *   room:    Y.Map { name, defaultTz, schema }
 *   members: Y.Map<memberId, {...}>            written by the server, not by this package
 *   events:  Y.Map<eventId, Y.Map>             one map per event or series, keyed by a random UUID
 *     title, location: string; description: Y.Text
 *     start: "2026-03-20T09:00" (wall clock) | "2026-03-20" (all-day)
 *     duration: "PT1H30M" | "P3D"; tz: IANA | null (floating); endTz: IANA | null
 *     who: Y.Map<memberId, true>; color, category: string | null
 *     uid: string | null (iCalendar UID of an imported event; null: the feed writes `<eventId>@kith`)
 *     alerts: Y.Map<alertId, {before, for}>
 *     rrule: "FREQ=WEEKLY;BYDAY=TU" | null (no DTSTART; UNTIL in UTC for zoned series)
 *     exdates, rdates: Y.Map<occKey, true>
 *     ov:   Y.Map<"occKey|field", value>       per-occurrence overrides, incl. "occKey|cancelled"
 *     segs: Y.Map<"splitKey|field", value>     "this and following" segments
 *     deleted: {at, by} | null; createdBy, createdAt, updatedBy, updatedAt
 *
 * Sets are maps and overrides are flat keys so that concurrent edits to different members or
 * fields merge instead of overwriting each other. Nested types are only ever created together
 * with their (freshly, randomly keyed) event map, so two devices never race to create one.
 */
import * as Y from 'yjs';
import { checkZone } from './time.js';

export const SCHEMA_VERSION = 1;

export const ROOT = { room: 'room', members: 'members', events: 'events' } as const;

export const F = {
  title: 'title',
  description: 'description',
  location: 'location',
  start: 'start',
  duration: 'duration',
  tz: 'tz',
  endTz: 'endTz',
  who: 'who',
  color: 'color',
  category: 'category',
  alerts: 'alerts',
  rrule: 'rrule',
  exdates: 'exdates',
  rdates: 'rdates',
  ov: 'ov',
  segs: 'segs',
  deleted: 'deleted',
  createdBy: 'createdBy',
  createdAt: 'createdAt',
  updatedBy: 'updatedBy',
  updatedAt: 'updatedAt',
  uid: 'uid',
} as const;

/** Fields one occurrence may override, stored as `ov["occKey|field"]`. */
export const OCCURRENCE_FIELDS = [
  'title',
  'description',
  'location',
  'start',
  'duration',
  'participants',
  'color',
  'category',
  'cancelled',
] as const;

/** Fields a "this and following" segment may set, stored as `segs["splitKey|field"]`. */
export const SEGMENT_FIELDS = [
  'title',
  'description',
  'location',
  'start',
  'duration',
  'tz',
  'endTz',
  'participants',
  'color',
  'category',
  'reminders',
  'rrule',
  'cancelled',
] as const;

export const LIMITS = {
  id: 128,
  title: 200,
  description: 8_192,
  location: 500,
  color: 32,
  category: 64,
  rrule: 500,
  uid: 512, // RFC 5545 sets none; real UIDs (Exchange's hex blobs) stay well under this
  participants: 100,
  reminders: 10,
  reminderMinutes: 40_320, // four weeks, Google's maximum
  dates: 1_000, // exdates, rdates
  overrides: 999, // occurrences of a series with their own edits (or cancelled): with the series, the 1,000 components one CalDAV object holds
  segments: 200, // "this and following" parts of a series
} as const;

/** Trash older than this is purged by default. */
export const TRASH_DAYS = 30;

export type EventMap = Y.Map<unknown>;

export function eventsMap(doc: Y.Doc): Y.Map<EventMap> {
  return doc.getMap<EventMap>(ROOT.events);
}

/** Joins an occurrence or split key and a field into a flat override key. */
export function fieldKey(key: string, field: string): string {
  return `${key}|${field}`;
}

/** Splits a flat override key; keys are dates, so the first `|` separates. */
export function splitFieldKey(flat: string): { key: string; field: string } | null {
  const at = flat.indexOf('|');
  return at <= 0 ? null : { key: flat.slice(0, at), field: flat.slice(at + 1) };
}

/** Writes the room's header once; safe to call on every open. */
export function initRoom(doc: Y.Doc, info: { name?: string; defaultTz?: string } = {}): void {
  const room = doc.getMap<unknown>(ROOT.room);
  const defaultTz = info.defaultTz === undefined ? undefined : checkZone(info.defaultTz, 'defaultTz');
  doc.transact(() => {
    if (!room.has('schema')) room.set('schema', SCHEMA_VERSION);
    if (info.name !== undefined) room.set('name', info.name);
    if (defaultTz !== undefined) room.set('defaultTz', defaultTz);
  });
}
