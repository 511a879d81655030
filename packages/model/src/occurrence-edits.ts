/**
 * Edits of one occurrence of a series, stored as flat `ov["occKey|field"]` entries: two devices
 * that change different fields of the same occurrence offline both keep their change.
 */
import type * as Y from 'yjs';
import { ModelError } from './errors.js';
import { liveEvent } from './events.js';
import { findSlot } from './occurrences.js';
import type { Slot } from './occurrences.js';
import { F, fieldKey, LIMITS, OCCURRENCE_FIELDS } from './schema.js';
import { isRecurring, storedValues } from './segments.js';
import { formatDuration, formatWhen, nowInstant } from './time.js';
import type { CalendarEvent, OccurrenceField, OccurrencePatch, OpContext } from './types.js';
import { id as checkId, timingOf, validateOccurrencePatch } from './validate.js';
import { nestedMap, put, sameValue, touch } from './write.js';

/** Refuses edits of one more occurrence when the series has LIMITS.overrides edited or cancelled ones (reads keep no more). */
function checkRoom(ev: CalendarEvent, occKey: string): void {
  if (ev.overrides[occKey] !== undefined) return;
  const n = Object.keys(ev.overrides).length;
  if (n >= LIMITS.overrides) {
    throw new ModelError('TOO_MANY_ITEMS', `overrides: the series already has ${n} occurrences edited or cancelled; the limit is ${LIMITS.overrides} (edit the whole series, or "this and following", instead)`, 'occKey');
  }
}

function slotOf(ev: CalendarEvent, occKey: string): Slot {
  if (!isRecurring(ev)) throw new ModelError('NOT_RECURRING', `Event "${ev.id}" does not repeat`, 'id');
  const slot = typeof occKey === 'string' ? findSlot(ev, occKey) : null;
  if (!slot) throw new ModelError('OCCURRENCE_NOT_FOUND', `Event "${ev.id}" has no occurrence "${String(occKey)}"`, 'occKey');
  return slot;
}

/** Overrides fields of one occurrence. `start` alone moves it keeping its length; `end` resizes it. */
export function editOccurrence(doc: Y.Doc, id: string, occKey: string, patch: OccurrencePatch, ctx: OpContext): void {
  checkId(ctx.actor, 'actor');
  const { map, ev } = liveEvent(doc, id);
  const slot = slotOf(ev, occKey);
  checkRoom(ev, occKey);
  const p = slot.part;
  const ov = ev.overrides[occKey] ?? {};
  const originalStart = formatWhen({ allDay: p.start.allDay, wall: slot.original });
  const fields = validateOccurrencePatch(timingOf(ov.start ?? originalStart, ov.duration ?? formatDuration(p.duration), p.tz, p.endTz, p.rrule), patch);
  const inherited: Record<string, unknown> = { ...storedValues(p), start: originalStart };
  const now = nowInstant(ctx.now);
  doc.transact(() => {
    const ovMap = nestedMap(map, F.ov);
    for (const [field, value] of Object.entries(fields)) {
      const key = fieldKey(occKey, field);
      // A value equal to the series' own is not pinned, so a later "edit all" still reaches it.
      if (!ovMap.has(key) && sameValue(inherited[field], value)) continue;
      put(ovMap, key, value);
    }
    touch(map, ctx, now);
  }, ctx.origin);
}

/** Cancels one occurrence (an EXDATE when exported). Edits to it are kept for a restore. */
export function cancelOccurrence(doc: Y.Doc, id: string, occKey: string, ctx: OpContext): void {
  checkId(ctx.actor, 'actor');
  const { map, ev } = liveEvent(doc, id);
  slotOf(ev, occKey);
  checkRoom(ev, occKey);
  const now = nowInstant(ctx.now);
  doc.transact(() => {
    put(nestedMap(map, F.ov), fieldKey(occKey, 'cancelled'), true);
    touch(map, ctx, now);
  }, ctx.origin);
}

/** Drops overrides of one occurrence: the listed fields, or all of them (which also un-cancels it). */
export function resetOccurrence(doc: Y.Doc, id: string, occKey: string, ctx: OpContext, fields: readonly OccurrenceField[] = OCCURRENCE_FIELDS): void {
  checkId(ctx.actor, 'actor');
  const { map, ev } = liveEvent(doc, id);
  slotOf(ev, occKey);
  const now = nowInstant(ctx.now);
  doc.transact(() => {
    const ovMap = nestedMap(map, F.ov);
    for (const field of fields) ovMap.delete(fieldKey(occKey, field));
    touch(map, ctx, now);
  }, ctx.origin);
}

/** Brings back a cancelled occurrence, with any edits it had. */
export function restoreOccurrence(doc: Y.Doc, id: string, occKey: string, ctx: OpContext): void {
  resetOccurrence(doc, id, occKey, ctx, ['cancelled']);
}
