/**
 * Public types. Times cross this API as ISO strings, never as Temporal objects, so callers need
 * not share our Temporal implementation:
 * - a wall clock is "2026-03-20T09:00" (seconds only when non-zero), read in `tz`;
 * - an all-day date is "2026-03-20"; all-day ends are exclusive;
 * - an instant is RFC 3339 with an offset or Z, e.g. "2026-03-20T08:00:00Z";
 * - an occurrence key (occKey) is the local date of the occurrence's original start.
 */

export type MemberId = string;

export interface Reminder {
  id: string;
  minutesBefore: number;
  /** Who is reminded; null means every participant. */
  for: MemberId[] | null;
}

export interface ReminderInput {
  id?: string;
  minutesBefore: number;
  for?: MemberId[] | null;
}

/** An event as a caller creates it. */
export interface EventInput {
  /** Leave out: a random UUID is made. Only importers that own the id (the REST API, mirrors) pass one. */
  id?: string;
  title: string;
  description?: string;
  location?: string;
  /** "2026-03-20T09:00" (timed) or "2026-03-20" (all-day). */
  start: string;
  /** Same kind as start; exclusive for all-day events. */
  end: string;
  /** IANA zone of the wall clock. Required for timed events; null makes a floating event. */
  tz?: string | null;
  /** Zone the end is shown in, when it differs (a flight). */
  endTz?: string | null;
  participants?: MemberId[];
  color?: string | null;
  category?: string | null;
  reminders?: ReminderInput[];
  /** RRULE value without DTSTART, e.g. "FREQ=WEEKLY;BYDAY=TU". Frequencies DAILY to YEARLY. */
  rrule?: string | null;
  /** Occurrence keys (dates) removed from the series. */
  exdates?: string[];
  /** Extra occurrence dates, at the series' time of day. */
  rdates?: string[];
  /** iCalendar UID the event came with (import, CalDAV); null or absent for events made in Kith. */
  uid?: string | null;
}

/** A partial change. `start` alone moves the event and keeps its duration; `end` alone changes it. */
export type EventPatch = Partial<Omit<EventInput, 'id'>>;

/** What one occurrence may change. */
export interface OccurrencePatch {
  title?: string;
  description?: string;
  location?: string;
  start?: string;
  end?: string;
  participants?: MemberId[];
  color?: string | null;
  category?: string | null;
}

export type OccurrenceField =
  | 'title'
  | 'description'
  | 'location'
  | 'start'
  | 'duration'
  | 'participants'
  | 'color'
  | 'category'
  | 'cancelled';

/** The stored overrides of one occurrence. `start` is a wall clock (or date) in the event's zone. */
export interface OccurrenceOverride {
  title?: string;
  description?: string;
  location?: string;
  start?: string;
  duration?: string;
  participants?: MemberId[];
  color?: string | null;
  category?: string | null;
  cancelled?: boolean;
}

/** What a "this and following" edit may change: the series fields minus ids and date lists. */
export type SeriesPatch = Omit<EventPatch, 'exdates' | 'rdates' | 'uid'>;

/** Field values as they are stored (sets as arrays here; write.ts turns them into Y.Maps). */
export interface StoredFields {
  title?: string;
  description?: string;
  location?: string;
  start?: string;
  duration?: string;
  tz?: string | null;
  endTz?: string | null;
  participants?: MemberId[];
  color?: string | null;
  category?: string | null;
  reminders?: Reminder[];
  rrule?: string | null;
  exdates?: string[];
  rdates?: string[];
  uid?: string | null;
}

/** The fields a segment sets, stored as they are written; unset fields come from earlier segments. */
export type SegmentFields = Omit<StoredFields, 'exdates' | 'rdates' | 'uid'> & {
  /** "Delete this and following". */
  cancelled?: boolean;
};

export interface Segment {
  /** The occKey of the occurrence where the series was split. */
  splitKey: string;
  fields: SegmentFields;
}

export interface Deletion {
  at: string;
  by: MemberId;
}

/** An event as stored, read into plain values. */
export interface CalendarEvent {
  id: string;
  title: string;
  description: string;
  location: string;
  allDay: boolean;
  start: string;
  /** start + duration, shown in endTz (or tz). */
  end: string;
  duration: string;
  tz: string | null;
  endTz: string | null;
  participants: MemberId[];
  color: string | null;
  category: string | null;
  reminders: Reminder[];
  rrule: string | null;
  exdates: string[];
  rdates: string[];
  overrides: Record<string, OccurrenceOverride>;
  segments: Segment[];
  /** The iCalendar UID it was imported with; null for events made in Kith. */
  uid: string | null;
  createdBy: MemberId;
  createdAt: string;
  updatedBy: MemberId;
  updatedAt: string;
  deleted: Deletion | null;
}

/** One occurrence, expanded for a viewer. */
export interface Occurrence {
  eventId: string;
  occKey: string;
  recurring: boolean;
  allDay: boolean;
  /** Start before any override or DST shift (the RECURRENCE-ID). */
  originalStart: string;
  /** Actual local start and end: in tz (endTz), in the viewer's zone when floating, dates if all-day. */
  start: string;
  end: string;
  tz: string | null;
  endTz: string | null;
  startInstant: string;
  endInstant: string;
  title: string;
  description: string;
  location: string;
  participants: MemberId[];
  color: string | null;
  category: string | null;
  reminders: Reminder[];
  /** Some field comes from a per-occurrence override. */
  overridden: boolean;
}

/** A window of time seen from a zone; the zone places floating and all-day events. */
export interface ViewWindow {
  from: string;
  to: string;
  timeZone: string;
}

/** Paging of a window query: at most `limit` occurrences, after the page `cursor` ended. */
export interface PageOptions {
  limit?: number;
  /** The `next` of the previous page, unchanged; null or absent for the first page. */
  cursor?: string | null;
}

/** An event a query left out because it cannot be read or expanded, and why. */
export interface SkippedEvent {
  eventId: string;
  /** A ModelError code: UNKNOWN_TIME_ZONE, INVALID_DATE, INVALID_RRULE, UNREADABLE_EVENT, … */
  code: string;
  message: string;
  /** The field at fault, when there is one (`tz`, `start`, `rrule`, …). */
  field?: string;
}

export interface OccurrencePage {
  occurrences: Occurrence[];
  /** Cursor of the next page; null when this page is the last. */
  next: string | null;
  /** Events left out of this page (at most 100 listed). */
  skipped: SkippedEvent[];
  /** How many events were left out in all. */
  skippedCount: number;
}

/** Who did an operation and when; `now` (an instant) is injectable for tests. */
export interface OpContext {
  actor: MemberId;
  now?: string;
  /** Passed to doc.transact, so observers can tell local UI edits from sync or mirror writes. */
  origin?: unknown;
}

export interface DoubleBooking {
  first: Occurrence;
  second: Occurrence;
}

/** One exportable series: a segment with its end written into its rule (UNTIL or divided COUNT). */
export interface ExportedSeries {
  splitKey: string | null;
  title: string;
  description: string;
  location: string;
  allDay: boolean;
  start: string;
  end: string;
  tz: string | null;
  endTz: string | null;
  participants: MemberId[];
  color: string | null;
  category: string | null;
  reminders: Reminder[];
  rrule: string | null;
  exdates: string[];
  rdates: string[];
  overrides: Record<string, OccurrenceOverride>;
}
