/**
 * Which events have an occurrence in a calendar-query time-range (RFC 4791 §9.9). Expanding a
 * series costs milliseconds (Temporal arithmetic per occurrence), so results are kept per rendered
 * object (a changed event is rendered into new objects, which drops them): a finished series
 * (COUNT) is ruled out by the end of its last occurrence, computed once, and a range asked again
 * (phones poll the same month) is answered from memory.
 */
import type * as Y from 'yjs';
import { getEvent, occurrencesOf, type CalendarEvent } from '@kith/model';
import type { DavObject } from './object-catalog.js';

/** Series with at most this many occurrences (COUNT) get their end computed. */
const MAX_COUNTED = 1_000;
/** Ranges remembered per object. */
const MAX_RANGES = 16;
const DAY_MS = 86_400_000;

/** A finite series' last end (ms), or null when it has no known end. */
const lastEnds = new WeakMap<DavObject, number | null>();
const answers = new WeakMap<DavObject, Map<string, boolean>>();

function lastEnd(obj: DavObject, ev: CalendarEvent): number | null {
  const known = lastEnds.get(obj);
  if (known !== undefined) return known;
  let end: number | null = null;
  const count = /(?:^|;)COUNT=(\d+)/i.exec(ev.rrule ?? '');
  if (count && Number(count[1]) <= MAX_COUNTED && Number.isFinite(obj.span.from) && !/(?:^|;)UNTIL=/i.test(ev.rrule ?? '')) {
    const from = new Date(obj.span.from - 2 * DAY_MS).toISOString();
    const occ = occurrencesOf(ev, { from, to: '9000-01-01T00:00:00Z', timeZone: 'UTC' });
    end = occ.reduce((max, o) => Math.max(max, Date.parse(o.endInstant)), -Infinity);
  }
  lastEnds.set(obj, end);
  return end;
}

/**
 * The ids among `candidates` (event id → one of its objects) with an occurrence in the range.
 * Runs inside the room's read: `doc` is the state the objects were rendered from.
 */
export function eventsInRange(doc: Y.Doc, candidates: ReadonlyMap<string, DavObject>, range: { from: string; to: string }): Set<string> {
  const key = `${range.from}/${range.to}`;
  const fromMs = Date.parse(range.from);
  const window = { from: range.from, to: range.to, timeZone: 'UTC' };
  const ids = new Set<string>();
  for (const [id, obj] of candidates) {
    let memo = answers.get(obj);
    let hit = memo?.get(key);
    if (hit === undefined) {
      const ev = getEvent(doc, id);
      try {
        if (!ev || ev.deleted !== null) hit = false;
        else if (obj.span.to === null && (lastEnd(obj, ev) ?? Infinity) <= fromMs) hit = false;
        else hit = occurrencesOf(ev, window).length > 0;
      } catch {
        hit = false; // an event the model cannot expand is in no range (the feed leaves it out too)
      }
      if (!memo) answers.set(obj, (memo = new Map()));
      if (memo.size >= MAX_RANGES) memo.delete(memo.keys().next().value!);
      memo.set(key, hit);
    }
    if (hit) ids.add(id);
  }
  return ids;
}
