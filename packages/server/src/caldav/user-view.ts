/**
 * Each member's view of a calendar object: the room's rendering (everyone's reminders as VALARMs)
 * plus the member's own reminders as VALARMs in each VEVENT (the master and its moved occurrences,
 * which replace theirs whole; a PUT reads the master's). The ETag is the
 * hash of the bytes the member gets, so it differs between members exactly when their views
 * differ (two members with no reminders of their own share the room's ETag). A change to anyone's
 * reminder also changes the event's DTSTAMP/SEQUENCE, so it reaches the sync index (which records
 * the room's rendering) and every member's sync sees the object once.
 */
import { sha256 } from '../ids.js';
import { personalAlarms } from '../calendar/ics-export.js';
import type { DavObject } from './object-catalog.js';

export interface ObjectView {
  etag: string;
  ics: string;
}

/** Views made per object, by user (an object is replaced, not changed, when its event changes). */
const views = new WeakMap<DavObject, Map<string, ObjectView>>();

/** Users' views kept per object; a room has few members, this only bounds a pathological one. */
const MAX_VIEWS = 64;

const END_OF_VEVENT = '\r\nEND:VEVENT\r\n';

export function viewOf(obj: DavObject, userId: string): ObjectView {
  if (!obj.personal.some((r) => r.for !== null && r.for.includes(userId))) return obj;
  let byUser = views.get(obj);
  const hit = byUser?.get(userId);
  if (hit) return hit;
  const alarms = personalAlarms(obj.personal, obj.title, userId);
  if (alarms === '' || !obj.ics.includes(END_OF_VEVENT)) return obj;
  // In every VEVENT: a moved occurrence's replaces it whole, the series' alarms included.
  const ics = obj.ics.replaceAll(END_OF_VEVENT, `\r\n${alarms}END:VEVENT\r\n`);
  const view = { ics, etag: `"${sha256(ics).slice(0, 32)}"` };
  if (!byUser) views.set(obj, (byUser = new Map()));
  if (byUser.size >= MAX_VIEWS) byUser.clear();
  byUser.set(userId, view);
  return view;
}
