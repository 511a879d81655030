/**
 * "This and following" edits and series export.
 *
 * A split at occurrence K adds a segment `segs["K|field"]` instead of ending the event and
 * creating another: two devices that split the same series offline at different dates then merge
 * into three consecutive segments, where UNTIL-on-the-old-series plus a new event would overlap.
 * The segment's rule keeps the old rule's remaining COUNT, so the series as a whole still has
 * COUNT occurrences. exportSeries() writes each segment out as its own series with UNTIL or a
 * divided COUNT, which is how Google Calendar and ICS express the same thing.
 */
import type * as Y from 'yjs';
import { ModelError } from './errors.js';
import { liveEvent, updateEvent } from './events.js';
import { findSlot } from './occurrences.js';
import { endOf } from './read.js';
import { retargetRule, ruleCount, ruleCountBefore, ruleLastBefore, withCount, withUntil } from './recurrence.js';
import { F, fieldKey, LIMITS } from './schema.js';
import { owns, seriesParts, storedValues } from './segments.js';
import type { SeriesPart } from './segments.js';
import { deleteEvent } from './trash.js';
import { daysBetween, formatDuration, formatWhen, nowInstant, parseWhen, shiftDateKey, Temporal } from './time.js';
import type { CalendarEvent, ExportedSeries, OpContext, SeriesPatch, StoredFields } from './types.js';
import { id as checkId, timingOf, validateEventPatch } from './validate.js';
import { nestedMap, put, rekeyDates, sameValue, touch } from './write.js';

interface SplitPoint {
  ev: CalendarEvent;
  map: Y.Map<unknown>;
  part: SeriesPart;
  original: Temporal.PlainDateTime;
  /** Key of the part's previous occurrence; null when K is the part's first. */
  prevKey: string | null;
}

function splitPoint(doc: Y.Doc, id: string, occKey: string, ctx: OpContext): SplitPoint {
  checkId(ctx.actor, 'actor');
  const { map, ev } = liveEvent(doc, id);
  if (ev.rrule === null) throw new ModelError('NOT_RECURRING', `Event "${id}" does not repeat`, 'id');
  const parts = seriesParts(ev);
  const slot = typeof occKey === 'string' ? findSlot(ev, occKey, parts) : null;
  if (!slot) throw new ModelError('OCCURRENCE_NOT_FOUND', `Event "${id}" has no occurrence "${String(occKey)}"`, 'occKey');
  const p = slot.part;
  const ruleKey = p.anchored ? ruleLastBefore(p.anchored, slot.original)?.toPlainDate().toString() : undefined;
  const rdateKeys = ev.rdates.filter((k) => k < occKey && parts.findLast((q) => owns(q, k)) === p);
  const prevKey = [ruleKey, ...rdateKeys].filter((k): k is string => k !== undefined && owns(p, k)).sort().at(-1) ?? null;
  return { ev, map, part: p, original: slot.original, prevKey };
}

/** Refuses a new "this and following" part when the series has LIMITS.segments (reads keep no more). */
function checkSegmentRoom(ev: CalendarEvent): void {
  if (ev.segments.length >= LIMITS.segments) {
    throw new ModelError('TOO_MANY_ITEMS', `segments: the series is already split ${ev.segments.length} times; the limit is ${LIMITS.segments} (edit the whole series instead)`, 'occKey');
  }
}

const dateOf = (wall: Temporal.PlainDateTime): Temporal.PlainDate => wall.toPlainDate();

/**
 * Changes occurrence `occKey` and every later one. At the first occurrence of the series this is
 * "edit all"; at the first occurrence of an earlier split it edits that segment.
 */
export function editFollowing(doc: Y.Doc, id: string, occKey: string, patch: SeriesPatch, ctx: OpContext): void {
  const at = splitPoint(doc, id, occKey, ctx);
  const { part: p, map } = at;
  if (patch.rrule === null) {
    throw new ModelError('INVALID_SPLIT', 'rrule: to end a series at an occurrence use deleteFollowing', 'rrule');
  }
  const { exdates: _x, rdates: _r, uid: _u, ...seriesPatch } = patch as SeriesPatch & { exdates?: unknown; rdates?: unknown; uid?: unknown };
  if (at.prevKey === null && p.splitKey === null) return updateEvent(doc, id, seriesPatch, ctx);

  // The new (or edited) segment is relative to this occurrence's place in the series.
  const firstOfPart = at.prevKey === null;
  const anchor = firstOfPart ? p.start.wall : at.original;
  const key = firstOfPart ? (p.splitKey ?? occKey) : occKey;
  if (!firstOfPart) checkSegmentRoom(at.ev);
  const fields: StoredFields = validateEventPatch(
    timingOf(formatWhen({ allDay: p.start.allDay, wall: anchor }), formatDuration(p.duration), p.tz, p.endTz, p.rrule, at.ev.rdates),
    seriesPatch,
  );
  const start = fields.start ?? formatWhen({ allDay: p.start.allDay, wall: anchor });
  const newDate = parseWhen(start, 'start').wall.toPlainDate();
  const shift = daysBetween(dateOf(anchor), newDate);
  if (at.prevKey !== null && newDate.toString() <= at.prevKey) {
    throw new ModelError('INVALID_SPLIT', `start must be after the previous occurrence (${at.prevKey})`, 'start');
  }
  if (p.nextKey !== null && newDate.toString() >= p.nextKey) {
    throw new ModelError('INVALID_SPLIT', `start must be before the next split of the series (${p.nextKey})`, 'start');
  }
  if (fields.rrule === undefined && p.rrule !== null) {
    let rule: string | null = p.rrule;
    const count = ruleCount(rule);
    // COUNT counts from the series start and before EXDATEs; the new segment gets what is left.
    // Split at an RDATE after the rule's last occurrence, nothing is left: the segment has no rule
    // and keeps only its RDATEs (COUNT=0 would be an invalid rule).
    if (!firstOfPart && count !== null && p.anchored) {
      const left = count - ruleCountBefore(p.anchored, at.original);
      rule = left > 0 ? withCount(rule, left) : null;
    }
    if (rule !== null && shift !== 0) rule = retargetRule(rule, dateOf(anchor), newDate);
    if (!firstOfPart || rule !== p.rrule) fields.rrule = rule;
  }
  if (!firstOfPart) fields.start = start;
  const now = nowInstant(ctx.now);
  doc.transact(() => {
    const segs = nestedMap(map, F.segs);
    const inherited = storedValues(p);
    for (const [field, value] of Object.entries(fields)) {
      const k = fieldKey(key, field);
      // start and rrule anchor a new segment and are always written; other values only when changed.
      if (!segs.has(k) && field in inherited && sameValue(inherited[field], value)) continue;
      put(segs, k, value);
    }
    rekeyDates(map, firstOfPart ? (p.firstKey ?? key) : occKey, p.nextKey, shift, shiftDateKey);
    touch(map, ctx, now);
  }, ctx.origin);
}

/** Deletes occurrence `occKey` and every later one; at the first occurrence it trashes the event. */
export function deleteFollowing(doc: Y.Doc, id: string, occKey: string, ctx: OpContext): void {
  const at = splitPoint(doc, id, occKey, ctx);
  if (at.prevKey === null && at.part.splitKey === null) return deleteEvent(doc, id, ctx);
  const key = at.prevKey === null ? (at.part.splitKey ?? occKey) : occKey;
  if (at.prevKey !== null) checkSegmentRoom(at.ev);
  const now = nowInstant(ctx.now);
  doc.transact(() => {
    put(nestedMap(at.map, F.segs), fieldKey(key, 'cancelled'), true);
    touch(at.map, ctx, now);
  }, ctx.origin);
}

function ownedBy(ev: CalendarEvent, parts: SeriesPart[], p: SeriesPart, key: string): boolean {
  return parts.findLast((q) => owns(q, key)) === p;
}

/**
 * The event as one series per segment, for ICS and Google: every segment but the last ends with
 * an UNTIL (or, when its rule counts, a COUNT of the occurrences it kept). Overrides, EXDATEs and
 * RDATEs go with the segment that owns their key.
 */
export function exportSeries(ev: CalendarEvent): ExportedSeries[] {
  const parts = seriesParts(ev);
  const out: ExportedSeries[] = [];
  for (const p of parts) {
    if (p.cancelled) continue;
    const rdates = ev.rdates.filter((k) => ownedBy(ev, parts, p, k));
    let rrule = p.rrule;
    if (p.anchored && p.nextKey !== null) {
      const before = Temporal.PlainDate.from(p.nextKey).toPlainDateTime();
      const kept = ruleCountBefore(p.anchored, before);
      const last = ruleLastBefore(p.anchored, before);
      if (kept === 0 || !last) rrule = null;
      else rrule = ruleCount(p.anchored.rule) !== null ? withCount(p.anchored.rule, kept) : withUntil(p.anchored.rule, last, p.start.allDay, p.tz);
    }
    if (p.splitKey !== null && rrule === null && rdates.length === 0) continue;
    const start = formatWhen(p.start);
    out.push({
      splitKey: p.splitKey,
      title: p.title,
      description: p.description,
      location: p.location,
      allDay: p.start.allDay,
      start,
      end: endOf(start, formatDuration(p.duration), p.tz, p.endTz).end,
      tz: p.tz,
      endTz: p.endTz,
      participants: p.participants,
      color: p.color,
      category: p.category,
      reminders: p.reminders,
      rrule,
      exdates: ev.exdates.filter((k) => ownedBy(ev, parts, p, k)),
      rdates,
      overrides: Object.fromEntries(Object.entries(ev.overrides).filter(([k]) => ownedBy(ev, parts, p, k))),
    });
  }
  return out;
}

/**
 * Keys of overrides and EXDATEs that match no occurrence any more, after the series' rule or dates
 * changed: a UI can list them as "needs attention" instead of dropping them silently. Keys in the
 * range of a "delete this and following" are not orphaned: they went with the deleted occurrences.
 */
export function orphanedKeys(ev: CalendarEvent): string[] {
  const parts = seriesParts(ev);
  const keys = new Set([...Object.keys(ev.overrides), ...ev.exdates]);
  const deleted = (k: string): boolean => parts.some((p) => p.cancelled && owns(p, k));
  return [...keys].filter((k) => findSlot(ev, k, parts) === null && !deleted(k)).sort();
}
