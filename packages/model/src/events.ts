/**
 * Create, update ("edit all" for a series) and move. Each operation validates first and then
 * writes in one doc.transact, tagged with ctx.origin.
 */
import type * as Y from 'yjs';
import { ModelError } from './errors.js';
import { eventMapOf, readEvent } from './read.js';
import { retargetRule } from './recurrence.js';
import { eventsMap, F, fieldKey } from './schema.js';
import type { EventMap } from './schema.js';
import { daysBetween, nowInstant, parseWhen, shiftDateKey } from './time.js';
import type { CalendarEvent, EventInput, EventPatch, OpContext, StoredFields } from './types.js';
import { id as checkId, newId, timingOf, validateEventInput, validateEventPatch } from './validate.js';
import { nestedMap, newEventMap, rekeyDates, touch, writeFields } from './write.js';

/** Creates an event and returns its id. */
export function createEvent(doc: Y.Doc, input: EventInput, ctx: OpContext): string {
  const fields = validateEventInput(input);
  checkId(ctx.actor, 'actor');
  const now = nowInstant(ctx.now);
  const id = input.id ?? newId();
  const events = eventsMap(doc);
  if (events.has(id)) throw new ModelError('EVENT_EXISTS', `An event with id "${id}" already exists`, 'id');
  doc.transact(() => {
    const ev = newEventMap();
    events.set(id, ev); // integrate first: a prelim Y.Map cannot be read back
    writeFields(ev, fields);
    ev.set(F.deleted, null);
    ev.set(F.createdBy, ctx.actor);
    ev.set(F.createdAt, now.toString());
    touch(ev, ctx, now);
  }, ctx.origin);
  return id;
}

/** The event map and its current value, refusing trashed events. */
export function liveEvent(doc: Y.Doc, id: string): { map: EventMap; ev: CalendarEvent } {
  const map = eventMapOf(doc, id);
  const ev = readEvent(id, map);
  if (ev.deleted !== null) throw new ModelError('EVENT_DELETED', `Event "${id}" is in the trash; restore it first`, 'id');
  return { map, ev };
}

const CONTENT_FIELDS = ['title', 'description', 'location', 'participants', 'color', 'category', 'reminders'] as const;

/**
 * Changes an event. On a series this is "edit all events": content fields also replace what
 * "this and following" segments set, and moving the start to another day moves the per-occurrence
 * overrides and date lists of the first segment with it (and a weekly BYDAY with it).
 */
export function updateEvent(doc: Y.Doc, id: string, patch: EventPatch, ctx: OpContext): void {
  checkId(ctx.actor, 'actor');
  const { map, ev } = liveEvent(doc, id);
  const fields = validateEventPatch(timingOf(ev.start, ev.duration, ev.tz, ev.endTz, ev.rrule, ev.rdates), patch);
  const now = nowInstant(ctx.now);
  const series = ev.rrule !== null;
  let shift = 0;
  if (series && fields.start !== undefined) {
    const from = parseWhen(ev.start, 'start').wall.toPlainDate();
    const to = parseWhen(fields.start, 'start').wall.toPlainDate();
    shift = daysBetween(from, to);
    if (shift !== 0 && fields.rrule === undefined && ev.rrule !== null) fields.rrule = retargetRule(ev.rrule, from, to);
  }
  doc.transact(() => {
    // Series bookkeeping first: date lists in the patch are already in the new dates.
    if (series) applyToSeries(map, ev, fields, shift);
    writeFields(map, fields);
    touch(map, ctx, now);
  }, ctx.origin);
}

function applyToSeries(map: EventMap, ev: CalendarEvent, fields: StoredFields, shift: number): void {
  if (fields.rrule === null) {
    // No longer repeating: the per-occurrence state and segments have nothing left to apply to.
    for (const name of [F.ov, F.segs, F.exdates, F.rdates]) nestedMap(map, name).clear();
    return;
  }
  const segs = nestedMap(map, F.segs);
  for (const field of CONTENT_FIELDS) {
    if (fields[field] === undefined) continue;
    for (const seg of ev.segments) segs.delete(fieldKey(seg.splitKey, field));
  }
  rekeyDates(map, null, ev.segments[0]?.splitKey ?? null, shift, shiftDateKey);
}

/** "Edit all events" of a series; the same operation as updateEvent. */
export const editAll = updateEvent;

/**
 * Moves an event (a whole series) to a new start, keeping its duration. `tz` optionally re-reads
 * the wall clock in another zone. Moving one occurrence is editOccurrence(…, { start }).
 */
export function moveEvent(doc: Y.Doc, id: string, to: { start: string; tz?: string | null }, ctx: OpContext): void {
  const patch: EventPatch = { start: to.start };
  if (to.tz !== undefined) patch.tz = to.tz;
  updateEvent(doc, id, patch, ctx);
}

