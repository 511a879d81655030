/**
 * A series is read as consecutive parts: the event's own fields (the base), then one part per
 * "this and following" segment in key order. A segment's unset fields come from the parts before
 * it, so a later "this and following" edit inherits an earlier one. Part i owns the occurrences
 * keyed from its start up to the next part's splitKey, so concurrent splits merge as a union with
 * no gaps or overlaps.
 */
import type { Anchored } from './recurrence.js';
import { formatDuration, parseWhen, readDuration } from './time.js';
import type { Temporal, When } from './time.js';
import type { CalendarEvent, MemberId, Reminder, SegmentFields } from './types.js';

export interface SeriesPart {
  /** Null for the base. */
  splitKey: string | null;
  nextKey: string | null;
  /** Keys below this belong to earlier parts. */
  firstKey: string | null;
  cancelled: boolean;
  title: string;
  description: string;
  location: string;
  participants: MemberId[];
  color: string | null;
  category: string | null;
  reminders: Reminder[];
  start: When;
  duration: Temporal.Duration;
  tz: string | null;
  endTz: string | null;
  rrule: string | null;
  /** The rule anchored at this part's start; null when the part does not repeat. */
  anchored: Anchored | null;
}

type Fields = Omit<SegmentFields, 'cancelled'> & { cancelled: boolean };

function part(f: Required<Fields>, splitKey: string | null, nextKey: string | null, ownStart: boolean): SeriesPart | null {
  let start: When;
  try {
    start = parseWhen(f.start, 'start');
  } catch {
    return null;
  }
  const startKey = start.wall.toPlainDate().toString();
  return {
    splitKey,
    nextKey,
    // A segment may start before its split key (moved a day earlier); one without its own start
    // (only after odd concurrent edits) inherits an earlier start and must not reach back with it.
    firstKey: splitKey === null ? null : ownStart && startKey < splitKey ? startKey : splitKey,
    cancelled: f.cancelled,
    title: f.title,
    description: f.description,
    location: f.location,
    participants: f.participants,
    color: f.color,
    category: f.category,
    reminders: f.reminders,
    start,
    duration: readDuration(f.duration, start.allDay),
    tz: start.allDay ? null : f.tz,
    endTz: start.allDay ? null : f.endTz,
    rrule: f.rrule,
    anchored: f.rrule === null ? null : { rule: f.rrule, start: start.wall, tz: f.tz },
  };
}

export function seriesParts(ev: CalendarEvent): SeriesPart[] {
  let acc: Required<Fields> = {
    title: ev.title,
    description: ev.description,
    location: ev.location,
    start: ev.start,
    duration: ev.duration,
    tz: ev.tz,
    endTz: ev.endTz,
    participants: ev.participants,
    color: ev.color,
    category: ev.category,
    reminders: ev.reminders,
    rrule: ev.rrule,
    cancelled: false,
  };
  // A series that stopped repeating has no following segments.
  const segs = ev.rrule === null ? [] : ev.segments;
  const parts: SeriesPart[] = [];
  const base = part(acc, null, segs[0]?.splitKey ?? null, true);
  if (base) parts.push(base);
  segs.forEach((seg, i) => {
    const { cancelled, ...fields } = seg.fields;
    acc = { ...acc, ...fields, cancelled: acc.cancelled || cancelled === true };
    const p = part(acc, seg.splitKey, segs[i + 1]?.splitKey ?? null, fields.start !== undefined);
    if (p) parts.push(p);
  });
  return parts;
}

/**
 * The part's fields in their stored form, so an edit can tell a real change from a resubmitted
 * form and avoid pinning values a later "edit all" should still reach.
 */
export function storedValues(p: SeriesPart): Record<string, unknown> {
  return {
    title: p.title,
    description: p.description,
    location: p.location,
    participants: p.participants,
    color: p.color,
    category: p.category,
    reminders: p.reminders,
    tz: p.tz,
    endTz: p.endTz,
    duration: formatDuration(p.duration),
  };
}

/** Whether a key falls in the part's share of the series. */
export function owns(p: SeriesPart, key: string): boolean {
  return (p.firstKey === null || key >= p.firstKey) && (p.nextKey === null || key < p.nextKey);
}

export function isRecurring(ev: CalendarEvent): boolean {
  return ev.rrule !== null || ev.rdates.length > 0;
}
