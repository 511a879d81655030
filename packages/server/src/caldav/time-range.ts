/**
 * Which events have an occurrence in a calendar-query time-range (RFC 4791 §9.9). Expanding a
 * series costs about a millisecond or two (Temporal arithmetic per occurrence), too much to do for
 * every series on every query. So a finite series (COUNT) is expanded once, when its object is
 * rendered (object-catalog.ts), into a compact list of its occurrences' instants, and any range is
 * then answered from that list without Temporal. Other series (no end, or an UNTIL) are expanded
 * over the asked range, and the answers are kept per rendered object (a changed event is rendered
 * into new objects, which drops them): phones poll the same month.
 */
import type * as Y from 'yjs';
import { getEvent, occurrencesOf, type CalendarEvent } from '@kith/model';
import type { DavObject } from './object-catalog.js';

/** Series with at most this many occurrences (COUNT) get their occurrences indexed. */
const MAX_COUNTED = 1_000;
/** Ranges remembered per object. */
const MAX_RANGES = 16;
const DAY_MS = 86_400_000;

const answers = new WeakMap<DavObject, Map<string, boolean>>();

/**
 * A finite series' occurrences as instants in ms, [start0, end0, start1, end1, …] (moved ones
 * included, cancelled ones not), or null when the series is not indexed (no COUNT, an UNTIL, too
 * many occurrences, or it cannot be expanded). `spanFrom` is the earliest wall-clock start read as
 * UTC (object-catalog.ts); wall clocks are within 14 hours of UTC, so two days before it is before
 * every occurrence.
 */
export function occurrenceIndex(ev: CalendarEvent, spanFrom: number): Float64Array | null {
  const count = /(?:^|;)COUNT=(\d+)/i.exec(ev.rrule ?? '');
  if (!count || Number(count[1]) > MAX_COUNTED || !Number.isFinite(spanFrom) || /(?:^|;)UNTIL=/i.test(ev.rrule ?? '')) return null;
  try {
    const from = new Date(spanFrom - 2 * DAY_MS).toISOString();
    const occ = occurrencesOf(ev, { from, to: '9000-01-01T00:00:00Z', timeZone: 'UTC' });
    const out = new Float64Array(occ.length * 2);
    occ.forEach((o, i) => {
      out[2 * i] = Date.parse(o.startInstant);
      out[2 * i + 1] = Date.parse(o.endInstant);
    });
    return out;
  } catch {
    return null; // left to the per-range expansion, which leaves out what the model cannot expand
  }
}

/**
 * Whether an indexed occurrence overlaps [fromMs, toMs) the way the model's expansion counts it:
 * it starts in the range, or started before and is still going on at its start.
 */
function indexHits(index: Float64Array, fromMs: number, toMs: number): boolean {
  for (let i = 0; i < index.length; i += 2) {
    const start = index[i]!;
    if (start >= fromMs ? start < toMs : index[i + 1]! > fromMs) return true;
  }
  return false;
}

/**
 * The ids among `candidates` (event id → one of its objects) with an occurrence in the range.
 * Runs inside the room's read: `doc` is the state the objects were rendered from.
 */
export function eventsInRange(doc: Y.Doc, candidates: ReadonlyMap<string, DavObject>, range: { from: string; to: string }): Set<string> {
  const key = `${range.from}/${range.to}`;
  const fromMs = Date.parse(range.from);
  const toMs = Date.parse(range.to);
  const window = { from: range.from, to: range.to, timeZone: 'UTC' };
  const ids = new Set<string>();
  for (const [id, obj] of candidates) {
    if (obj.occurrences) {
      if (indexHits(obj.occurrences, fromMs, toMs)) ids.add(id);
      continue;
    }
    let memo = answers.get(obj);
    let hit = memo?.get(key);
    if (hit === undefined) {
      const ev = getEvent(doc, id);
      try {
        hit = ev !== null && ev.deleted === null && occurrencesOf(ev, window).length > 0;
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
