/** Read-only queries over a room: text search and double-bookings. Trash lives in trash.ts. */
import type * as Y from 'yjs';
import { listEvents } from './read.js';
import { orderPlaced, resolveWindow } from './occurrences.js';
import { placedBetween } from './expand.js';
import type { CalendarEvent, DoubleBooking, MemberId, ViewWindow } from './types.js';

/** Lower case without accents or compatibility forms: "Café" and "CAFE" and "cafe" match. */
function foldText(s: string): string {
  return s.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase();
}

function texts(ev: CalendarEvent): string[] {
  const out = [ev.title, ev.description, ev.location];
  for (const seg of ev.segments) out.push(seg.fields.title ?? '', seg.fields.description ?? '', seg.fields.location ?? '');
  for (const ov of Object.values(ev.overrides)) out.push(ov.title ?? '', ov.description ?? '', ov.location ?? '');
  return out;
}

/**
 * Events whose title, description or location (of the series, a segment or one occurrence)
 * contain every word of the query, ignoring case and accents. Trashed events only when asked.
 */
export function searchEvents(doc: Y.Doc, query: string, opts: { includeDeleted?: boolean } = {}): CalendarEvent[] {
  const words = foldText(query).split(/\s+/).filter(Boolean);
  if (words.length === 0) return [];
  return listEvents(doc, opts)
    .filter((ev) => {
      const hay = foldText(texts(ev).join('\n'));
      return words.every((w) => hay.includes(w));
    })
    .sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : a.id < b.id ? -1 : 1));
}

/**
 * Pairs of timed occurrences in the window that overlap and both include the member. All-day
 * events (birthdays, holidays) are left out: they would collide with everything on their days.
 */
export function doubleBookings(doc: Y.Doc, member: MemberId, window: ViewWindow): DoubleBooking[] {
  const w = resolveWindow(window);
  const mine = orderPlaced(
    placedBetween(doc, w).filter((p) => !p.occ.allDay && p.occ.participants.includes(member)),
  );
  const out: DoubleBooking[] = [];
  mine.forEach((first, i) => {
    for (const second of mine.slice(i + 1)) {
      // Sorted by start: once one starts at or after first's end, none later can overlap it.
      if (second.startMs >= first.endMs) break;
      out.push({ first: first.occ, second: second.occ });
    }
  });
  return out;
}
