/**
 * Turning what a person did (saved the event form, dragged or resized an event) into model
 * operations: only the fields that changed are written, so that edits made on two devices at the
 * same time (one the title, one the time) both survive the merge.
 */
import type { Calendar, CalendarEvent, Occurrence, ReminderInput } from '@kith/client';
import { isDate, shiftBy } from './times.js';

export type Scope = 'this' | 'following' | 'all';

/** New values for an event or one of its occurrences; `start`/`end` mean what `Occurrence.start/end` mean. */
export interface Change {
  title?: string;
  description?: string;
  location?: string;
  participants?: string[];
  color?: string | null;
  reminders?: ReminderInput[];
  rrule?: string | null;
  start?: string;
  end?: string;
  tz?: string | null;
}

/** Fields that only a whole series (or its following part) can change, never one occurrence. */
export function seriesOnly(change: Change, occ: Pick<Occurrence, 'start'>): boolean {
  return (
    change.reminders !== undefined ||
    change.rrule !== undefined ||
    change.tz !== undefined ||
    (change.start !== undefined && isDate(change.start) !== isDate(occ.start))
  );
}

interface Timing {
  start?: string;
  end?: string;
}

/**
 * Which timing fields to write: `start` alone for a move (the duration is kept), `end` alone for a
 * resize of the end, both otherwise.
 */
function timing(from: { start: string; end: string }, change: Change): Timing {
  const start = change.start ?? from.start;
  const end = change.end ?? from.end;
  const startChanged = start !== from.start;
  const endChanged = end !== from.end;
  if (!startChanged && !endChanged) return {};
  if (isDate(start) !== isDate(from.start)) return { start, end };
  if (!startChanged) return { end };
  if (shiftBy(from.end, from.start, start) === end) return { start };
  return { start, end };
}

function content(change: Change) {
  const out: Omit<Change, 'start' | 'end' | 'tz' | 'rrule' | 'reminders'> = {};
  if (change.title !== undefined) out.title = change.title;
  if (change.description !== undefined) out.description = change.description;
  if (change.location !== undefined) out.location = change.location;
  if (change.participants !== undefined) out.participants = change.participants;
  if (change.color !== undefined) out.color = change.color;
  return out;
}

function seriesFields(change: Change) {
  const out: Pick<Change, 'rrule' | 'reminders' | 'tz'> = {};
  if (change.rrule !== undefined) out.rrule = change.rrule;
  if (change.reminders !== undefined) out.reminders = change.reminders;
  if (change.tz !== undefined) out.tz = change.tz;
  return out;
}

/** A timed kind needs a zone: switching an all-day event to timed gives it the display zone. */
function zoneFor(ev: CalendarEvent, change: Change, t: Timing, deviceZone: string): { tz?: string | null } {
  if (change.tz !== undefined) return { tz: change.tz };
  if (t.start !== undefined && !isDate(t.start) && isDate(ev.start)) return { tz: ev.tz ?? deviceZone };
  return {};
}

/**
 * Applies a change to an event (not recurring: `scope` is ignored) or to an occurrence of a series.
 * `zone` is the zone the calendar is displayed in (for events that become timed).
 */
export function applyChange(cal: Calendar, ev: CalendarEvent, occ: Occurrence, change: Change, scope: Scope, zone = cal.timeZone): void {
  if (!ev.rrule) {
    const t = timing({ start: ev.start, end: ev.end }, change);
    cal.updateEvent(ev.id, { ...content(change), ...seriesFields(change), ...t, ...zoneFor(ev, change, t, zone) });
    return;
  }
  const t = timing(occ, change);
  if (scope === 'this') {
    cal.editOccurrence(ev.id, occ.occKey, { ...content(change), ...t });
  } else if (scope === 'following') {
    cal.editFollowing(ev.id, occ.occKey, { ...content(change), ...seriesFields(change), ...t, ...zoneFor(ev, change, t, zone) });
  } else {
    // "All events": the series moves by as much as this occurrence moved (days and time of day).
    const st: Timing = {};
    if (t.start !== undefined || t.end !== undefined) {
      const newStart = change.start ?? occ.start;
      const newEnd = change.end ?? occ.end;
      const days = isDate(newStart) === isDate(occ.start) ? shiftBy(ev.start.slice(0, 10), occ.start.slice(0, 10), newStart.slice(0, 10)) : newStart.slice(0, 10);
      const seriesStart = isDate(newStart) ? days : `${days}T${newStart.slice(11)}`;
      const seriesEnd = shiftBy(newEnd, newStart, seriesStart);
      if (t.start !== undefined) st.start = seriesStart;
      if (t.end !== undefined) st.end = seriesEnd;
    }
    cal.updateEvent(ev.id, { ...content(change), ...seriesFields(change), ...st, ...zoneFor(ev, change, st, zone) });
  }
}

/** Deletes an event (to the trash), or one occurrence, or this and the following ones. */
export function applyDelete(cal: Calendar, ev: CalendarEvent, occ: Occurrence, scope: Scope): void {
  if (!ev.rrule || scope === 'all') cal.deleteEvent(ev.id);
  else if (scope === 'this') cal.cancelOccurrence(ev.id, occ.occKey);
  else cal.deleteFollowing(ev.id, occ.occKey);
}
