/**
 * Input checks. Each function turns caller input into the values that get stored, or throws a
 * ModelError naming the field. Nothing here touches a Y.Doc, so operations validate everything
 * before they open a transaction (a throw inside doc.transact would keep half of the writes).
 */
import { ModelError, tooLong } from './errors.js';
import { normalizeRule, repeatGapDays } from './recurrence.js';
import { LIMITS } from './schema.js';
import { AFTER_LAST_MS, checkZone, durationDays, FIRST_MS, formatDuration, formatWhen, parseDate, parseWhen, readDuration, resolve, Temporal } from './time.js';
import type { When } from './time.js';
import type { EventInput, EventPatch, MemberId, OccurrencePatch, Reminder, ReminderInput, StoredFields } from './types.js';


/** The timing an edit is relative to. */
export interface Timing {
  start: When;
  duration: Temporal.Duration;
  tz: string | null;
  endTz: string | null;
  /** The series' (or part's) rule and extra dates, against which a new length is checked. */
  rrule: string | null;
  rdates: readonly string[];
}

const TEXT_LIMITS = { title: LIMITS.title, description: LIMITS.description, location: LIMITS.location } as const;

function bad(field: string, message: string): ModelError {
  return new ModelError('INVALID_INPUT', `${field} ${message}`, field);
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * Replaces lone UTF-16 surrogates (half an emoji, as left by a naive truncation) with U+FFFD. Yjs
 * sends strings as UTF-8, which turns them into U+FFFD on every other replica; kept as they are,
 * the writing replica would show a different text from everyone else for good.
 */
function wellFormed(value: string): string {
  return value.replace(LONE_SURROGATE, '\uFFFD');
}

export function text(value: unknown, field: keyof typeof TEXT_LIMITS): string {
  if (typeof value !== 'string') throw bad(field, 'must be a string');
  const limit = TEXT_LIMITS[field];
  if (value.length > limit) {
    throw tooLong(field, value.length, limit);
  }
  return wellFormed(value);
}

function label(value: unknown, field: 'color' | 'category'): string | null {
  if (value === null) return null;
  if (typeof value !== 'string' || value.length === 0) throw bad(field, 'must be a non-empty string or null');
  if (value.length > LIMITS[field]) {
    throw tooLong(field, value.length, LIMITS[field]);
  }
  return wellFormed(value);
}

export function id(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.length === 0) throw bad(field, 'must be a non-empty string');
  if (value.length > LIMITS.id) {
    throw tooLong(field, value.length, LIMITS.id);
  }
  // An id is a key: rewriting it would silently make it another id, so a broken one is refused.
  if (wellFormed(value) !== value) throw bad(field, 'must be well-formed Unicode (it holds half a surrogate pair)');
  return value;
}

function checkCount(list: unknown[], field: string, limit: number): void {
  if (list.length > limit) {
    throw new ModelError('TOO_MANY_ITEMS', `${field} has ${list.length} entries; the limit is ${limit}`, field);
  }
}

function memberIds(value: unknown, field: string): MemberId[] {
  if (!Array.isArray(value)) throw bad(field, 'must be an array of member ids');
  checkCount(value, field, LIMITS.participants);
  return [...new Set(value.map((m: unknown) => id(m, field)))].sort();
}

function reminders(value: unknown): Reminder[] {
  if (!Array.isArray(value)) throw bad('reminders', 'must be an array');
  checkCount(value, 'reminders', LIMITS.reminders);
  return value.map((r: ReminderInput) => {
    if (typeof r !== 'object' || r === null) throw bad('reminders', 'entries must be objects');
    const m = r.minutesBefore;
    if (!Number.isInteger(m) || m < 0 || m > LIMITS.reminderMinutes) {
      throw bad('reminders.minutesBefore', `must be a whole number of minutes from 0 to ${LIMITS.reminderMinutes}`);
    }
    return {
      id: r.id === undefined ? newId() : id(r.id, 'reminders.id'),
      minutesBefore: m,
      for: r.for === undefined || r.for === null ? null : memberIds(r.for, 'reminders.for'),
    };
  });
}

function dateKeys(value: unknown, field: 'exdates' | 'rdates'): string[] {
  if (!Array.isArray(value)) throw bad(field, 'must be an array of dates');
  checkCount(value, field, LIMITS.dates);
  return [
    ...new Set(
      value.map((d: unknown) => {
        const date = parseDate(d, field);
        if (date.year < 1) throw outOfRange(field, `, got "${date.toString()}"`);
        return date.toString();
      }),
    ),
  ].sort();
}

const outOfRange = (field: string, detail: string): ModelError =>
  new ModelError('INVALID_DATE', `${field} must fall in the years 0001 to 9999${detail}`, field);

/**
 * Refuses an event reaching outside the years 0001–9999 (see FIRST_MS): its start and end as wall
 * clocks and, for a zoned event, as instants (in UTC), so no reader has to write a year 0000 or 10000.
 * An all-day event ends by 9999-12-31 (its exclusive end date).
 */
function checkSpan(start: When, duration: Temporal.Duration, tz: string | null, endTz: string | null): void {
  const year = start.wall.year;
  if (year < 1) throw outOfRange('start', `, got "${formatWhen(start)}"`);
  // The common case without Temporal: a year away from both ends, lasting less than a year.
  const d = duration;
  const days = d.years * 366 + d.months * 31 + d.weeks * 7 + d.days + (d.hours * 3600 + d.minutes * 60 + d.seconds) / 86_400;
  if (year >= 2 && year <= 9997 && Math.abs(days) < 366) return;
  try {
    if (start.allDay) {
      if (start.wall.toPlainDate().add(duration).year > 9999) throw outOfRange('end', ' (an all-day event ends by 9999-12-31)');
      return;
    }
    if (tz === null) {
      if (start.wall.add(duration).year > 9999) throw outOfRange('end', '');
      return;
    }
    const s = resolve(start.wall, tz);
    const ms = s.epochMilliseconds;
    if (ms < FIRST_MS || ms >= AFTER_LAST_MS) throw outOfRange('start', ` in UTC too: in ${tz}, ${formatWhen(start)} is ${s.toInstant().toString()}`);
    const e = s.add(duration);
    if (e.epochMilliseconds >= AFTER_LAST_MS || e.withTimeZone(endTz ?? tz).year > 9999) throw outOfRange('end', ' in UTC and in its zone');
  } catch (err) {
    if (err instanceof ModelError) throw err;
    throw outOfRange('end', ''); // past Temporal's own range
  }
}

function zone(value: unknown, field: 'tz' | 'endTz'): string | null {
  return value === null ? null : checkZone(value, field);
}

/** end - start, or END_BEFORE_START. Zoned ends compare as instants, so endTz is honoured. */
function durationOf(start: When, end: When, tz: string | null, endTz: string | null): Temporal.Duration {
  if (start.allDay !== end.allDay) {
    throw new ModelError('INVALID_DATE', 'end must be of the same kind as start (both dates or both wall-clock times)', 'end');
  }
  let d: Temporal.Duration;
  if (start.allDay) d = start.wall.toPlainDate().until(end.wall.toPlainDate(), { largestUnit: 'days' });
  else if (tz === null) d = start.wall.until(end.wall, { largestUnit: 'hours' });
  else d = resolve(start.wall, tz).until(resolve(end.wall, endTz ?? tz), { largestUnit: 'hours' });
  // RFC 5545 §3.6.1: a timed event may end when it starts (a deadline); a day lasts at least a day.
  if (d.sign < 0 || (d.sign === 0 && start.allDay)) {
    const what = start.allDay ? 'end must be at least one day after start (all-day ends are exclusive)' : 'end must not be before start';
    throw new ModelError('END_BEFORE_START', what, 'end');
  }
  return d;
}

const roundDays = (days: number): string => (Number.isInteger(days) ? String(days) : days.toFixed(2).replace(/0+$/, ''));

/**
 * Refuses a series whose occurrences would overlap: one longer than the time between two starts
 * of its rule (FREQ×INTERVAL, or less when BY parts list several days a period: repeatGapDays) or
 * between its extra dates. Google refuses these too ("The event duration must be shorter than how
 * frequently it occurs"); an occurrence may last exactly that long (a daily all-day event, a
 * weekly week-long rota). Unchecked, a daily series of ten-year occurrences had 3,650 under way at
 * any moment, and every query placed them all. `field` names the input at fault.
 */
export function checkRepeats(duration: Temporal.Duration, start: When, rule: string | null, rdates: readonly string[], field: string): void {
  const gap = repeatGapDays(rule, start.wall.toPlainDate().toString(), rdates);
  if (gap === null) return;
  const days = durationDays(duration);
  if (days <= gap) return;
  const what = rule !== null ? `the rule ${rule.length > 60 ? `${rule.slice(0, 60)}…` : rule}` : 'its extra dates (rdates)';
  throw new ModelError(
    'INVALID_INPUT',
    `${field}: each occurrence would last ${roundDays(days)} days, longer than the ${roundDays(gap)} day${gap === 1 ? '' : 's'} between occurrences of ${what}; occurrences of a series must not overlap (shorten the event or repeat it less often)`,
    field,
  );
}

/** The length a patch leaves (its own, or the current one), checked against the rule and dates it leaves. */
function checkPatchRepeats(cur: Timing | null, t: Pick<StoredFields, 'start' | 'duration'>, out: StoredFields, p: { start?: unknown; end?: unknown; tz?: unknown; endTz?: unknown; rrule?: unknown; rdates?: unknown }): void {
  const changed = p.start !== undefined || p.end !== undefined || p.tz !== undefined || p.endTz !== undefined || p.rrule !== undefined || p.rdates !== undefined;
  if (!changed) return;
  const start = t.start !== undefined ? parseWhen(t.start, 'start') : cur?.start;
  if (!start) return;
  const duration = t.duration !== undefined ? readDuration(t.duration, start.allDay) : cur?.duration;
  if (!duration) return;
  const rule = out.rrule !== undefined ? out.rrule : (cur?.rrule ?? null);
  // A series that stops repeating drops its extra dates (events.ts applyToSeries).
  const rdates = out.rdates ?? (out.rrule === null && cur?.rrule != null ? [] : (cur?.rdates ?? []));
  // The length is at fault when the patch sets it (or an end); otherwise the rule or dates it sets.
  const field = p.end !== undefined ? 'end' : p.rrule !== undefined ? 'rrule' : p.rdates !== undefined ? 'rdates' : 'start';
  checkRepeats(duration, start, rule, rdates, field);
}

/**
 * Timing fields to write for a patch relative to `cur` (null when creating). Only fields that change
 * are returned, so a move (start only) and a resize (end only) made offline on two devices merge.
 */
function timing(
  cur: Timing | null,
  p: { start?: unknown; end?: unknown; tz?: unknown; endTz?: unknown },
): Pick<StoredFields, 'start' | 'duration' | 'tz' | 'endTz'> {
  const out: Pick<StoredFields, 'start' | 'duration' | 'tz' | 'endTz'> = {};
  const start = p.start !== undefined ? parseWhen(p.start, 'start') : cur?.start;
  if (!start) throw bad('start', 'is required');
  if (p.start !== undefined) out.start = formatWhen(start);
  if (p.tz !== undefined) out.tz = zone(p.tz, 'tz');
  else if (cur === null && !start.allDay) throw bad('tz', 'is required for timed events; pass null for a floating event');
  if (p.endTz !== undefined) out.endTz = zone(p.endTz, 'endTz');
  const tz = out.tz !== undefined ? out.tz : (cur?.tz ?? null);
  const endTz = out.endTz !== undefined ? out.endTz : (cur?.endTz ?? null);
  if (endTz !== null && (tz === null || start.allDay)) throw bad('endTz', 'needs a timed event with a tz');
  let duration = cur?.duration;
  if (p.end !== undefined) {
    duration = durationOf(start, parseWhen(p.end, 'end'), tz, endTz);
    out.duration = formatDuration(duration);
  } else if (cur === null) {
    throw bad('end', 'is required');
  } else if (cur.start.allDay !== start.allDay) {
    // Switching between all-day and timed: the old duration means nothing in the new kind.
    out.duration = start.allDay ? 'P1D' : 'PT1H';
    duration = Temporal.Duration.from(out.duration);
  }
  if (duration && (p.start !== undefined || p.end !== undefined || p.tz !== undefined || p.endTz !== undefined)) {
    checkSpan(start, duration, start.allDay ? null : tz, endTz);
  }
  return out;
}

/** Non-timing fields of an event or series patch. */
function content(p: EventPatch, out: StoredFields): void {
  if (p.title !== undefined) out.title = text(p.title, 'title');
  if (p.description !== undefined) out.description = text(p.description, 'description');
  if (p.location !== undefined) out.location = text(p.location, 'location');
  if (p.participants !== undefined) out.participants = memberIds(p.participants, 'participants');
  if (p.color !== undefined) out.color = label(p.color, 'color');
  if (p.category !== undefined) out.category = label(p.category, 'category');
  if (p.reminders !== undefined) out.reminders = reminders(p.reminders);
  if (p.rrule !== undefined) out.rrule = p.rrule === null ? null : normalizeRule(p.rrule);
  if (p.exdates !== undefined) out.exdates = dateKeys(p.exdates, 'exdates');
  if (p.rdates !== undefined) out.rdates = dateKeys(p.rdates, 'rdates');
  if (p.uid !== undefined) out.uid = uid(p.uid);
}

/** An iCalendar UID: a bounded, well-formed string without control characters, or null. */
function uid(value: unknown): string | null {
  if (value === null) return null;
  if (typeof value !== 'string' || value.length === 0) throw bad('uid', 'must be a non-empty string or null');
  if (value.length > LIMITS.uid) throw tooLong('uid', value.length, LIMITS.uid);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001F\u007F]/.test(value)) throw bad('uid', 'must not hold control characters');
  if (wellFormed(value) !== value) throw bad('uid', 'must be well-formed Unicode');
  return value;
}

function object(value: unknown, field: string): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad(field, 'must be an object');
}

/** Checks a new event and returns every field to store. */
export function validateEventInput(input: EventInput): StoredFields & Required<Pick<StoredFields, 'start' | 'duration'>> {
  object(input, 'event');
  if (input.id !== undefined) id(input.id, 'id');
  const out: StoredFields = {
    title: '',
    description: '',
    location: '',
    tz: null,
    endTz: null,
    participants: [],
    color: null,
    category: null,
    reminders: [],
    rrule: null,
    exdates: [],
    rdates: [],
  };
  if (input.title === undefined) throw bad('title', 'is required');
  content(input, out);
  const t = timing(null, input);
  checkPatchRepeats(null, t, out, input);
  return { ...out, ...t, start: t.start ?? '', duration: t.duration ?? '' };
}

/** Throws the ModelError createEvent would throw for this input, without touching a document. */
export function validateEvent(input: EventInput): void {
  validateEventInput(input);
}

/** Checks a patch against the current timing and returns only the fields it changes. */
export function validateEventPatch(cur: Timing, patch: EventPatch): StoredFields {
  object(patch, 'patch');
  const out: StoredFields = {};
  content(patch, out);
  const t = timing(cur, patch);
  checkPatchRepeats(cur, t, out, patch);
  return { ...out, ...t };
}

/** Checks a per-occurrence patch; `start` and `end` must keep the event's kind (all-day or timed). */
export function validateOccurrencePatch(cur: Timing, patch: OccurrencePatch): StoredFields {
  object(patch, 'patch');
  const out: StoredFields = {};
  content(
    {
      title: patch.title,
      description: patch.description,
      location: patch.location,
      participants: patch.participants,
      color: patch.color,
      category: patch.category,
    },
    out,
  );
  const t = timing(cur, { start: patch.start, end: patch.end });
  if (t.start !== undefined && parseWhen(t.start, 'start').allDay !== cur.start.allDay) {
    throw new ModelError('INVALID_DATE', 'start of one occurrence must keep the series kind (all-day or timed)', 'start');
  }
  // One occurrence may not reach over the next either (its extra dates are the series', not checked here).
  if (t.duration !== undefined && cur.rrule !== null) checkRepeats(readDuration(t.duration, cur.start.allDay), cur.start, cur.rrule, [], 'end');
  if (t.duration !== undefined) out.duration = t.duration;
  if (t.start !== undefined) out.start = t.start;
  return out;
}

export function timingOf(start: string, duration: unknown, tz: string | null, endTz: string | null, rrule: string | null = null, rdates: readonly string[] = []): Timing {
  const when = parseWhen(start, 'start');
  return { start: when, duration: readDuration(duration, when.allDay), tz, endTz, rrule, rdates };
}

/** A fresh random id; crypto.randomUUID exists in Node 20 and every current browser. */
export function newId(): string {
  const c = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto;
  if (!c?.randomUUID) throw new Error('crypto.randomUUID is not available in this runtime');
  return c.randomUUID();
}
