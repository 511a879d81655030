/**
 * Soft delete. Deleting sets a `deleted` field instead of removing the map, so an edit made
 * offline at the same time is merged into the trashed event and shows again after a restore
 * (a Yjs map delete would silently win over it). Purging removes maps for good.
 */
import type * as Y from 'yjs';
import { eventMapOf, listEvents, readEvent } from './read.js';
import { eventsMap, F, TRASH_DAYS } from './schema.js';
import { ModelError } from './errors.js';
import { nowInstant, Temporal } from './time.js';
import type { CalendarEvent, OpContext } from './types.js';
import { id as checkId } from './validate.js';
import { touch } from './write.js';

/** Moves an event (a whole series) to the trash. Deleting a trashed event changes nothing. */
export function deleteEvent(doc: Y.Doc, id: string, ctx: OpContext): void {
  checkId(ctx.actor, 'actor');
  const map = eventMapOf(doc, id);
  if (readEvent(id, map).deleted !== null) return;
  const now = nowInstant(ctx.now);
  doc.transact(() => {
    map.set(F.deleted, { at: now.toString(), by: ctx.actor });
    touch(map, ctx, now);
  }, ctx.origin);
}

export function restoreEvent(doc: Y.Doc, id: string, ctx: OpContext): void {
  checkId(ctx.actor, 'actor');
  const map = eventMapOf(doc, id);
  if (readEvent(id, map).deleted === null) return;
  const now = nowInstant(ctx.now);
  doc.transact(() => {
    map.set(F.deleted, null);
    touch(map, ctx, now);
  }, ctx.origin);
}

/** Trashed events, most recently deleted first. */
export function listTrash(doc: Y.Doc): CalendarEvent[] {
  const at = (e: CalendarEvent): string => e.deleted?.at ?? '';
  return listEvents(doc, { includeDeleted: true })
    .filter((e) => e.deleted !== null)
    .sort((a, b) => (at(a) < at(b) ? 1 : at(a) > at(b) ? -1 : 0));
}

/** Removes events trashed more than `olderThanDays` days ago (default 30); returns their ids. */
export function purgeTrash(doc: Y.Doc, opts: { olderThanDays?: number; now?: string; origin?: unknown } = {}): string[] {
  const days = opts.olderThanDays ?? TRASH_DAYS;
  if (!Number.isFinite(days) || days < 0) {
    throw new ModelError('INVALID_INPUT', 'olderThanDays must be a non-negative number', 'olderThanDays');
  }
  // In milliseconds, not a Temporal duration: fractional days (0.5) are fine, and a cutoff before the
  // representable range simply keeps everything instead of throwing a RangeError.
  const cutoff = nowInstant(opts.now).epochMilliseconds - days * 86_400_000;
  const doomed = listTrash(doc).filter((e) => {
    try {
      return Temporal.Instant.from(e.deleted?.at ?? '').epochMilliseconds <= cutoff;
    } catch {
      return false; // an unreadable deletion time is kept rather than guessed
    }
  });
  if (doomed.length === 0) return [];
  const events = eventsMap(doc);
  doc.transact(() => {
    for (const e of doomed) events.delete(e.id);
  }, opts.origin);
  return doomed.map((e) => e.id);
}
