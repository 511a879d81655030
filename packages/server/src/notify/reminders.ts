/**
 * Which reminders fall due when: the room's occurrences (the model's expansion, so zones, DST,
 * overrides and cancelled occurrences are the model's) times each reminder's offset. Pure.
 *
 * An all-day occurrence starts at local midnight, and a floating one at its wall clock, in each
 * recipient's own zone (their notification settings' zone, else the room's, else UTC): "at 9:00
 * the day before" is `minutesBefore: 900`, as iCalendar's `TRIGGER:-PT15H` on a DATE start, and
 * means 9:00 where the member is, as the daily agenda does.
 */
import { getReminderDefaults, LIMITS, occurrencesStartingIn, type CalendarEvent, type Occurrence, type Reminder, type ReminderDefaults } from '@kith/model';
import { Temporal } from 'temporal-polyfill';
import type * as Y from 'yjs';
import { ianaZone } from '../calendar/iana-zone.js';

/** A reminder can be due up to four weeks before its occurrence (the model's limit). */
export const MAX_LEAD_MS = LIMITS.reminderMinutes * 60_000;

/**
 * The zone occurrences are expanded in: the one whose day begins last (UTC−12; zones run from −12
 * to +14 hours), so an all-day or floating occurrence starts there no earlier than in any
 * recipient's zone and a look finds every one that starts after it for someone. Zoned events start
 * at the same instant in any zone.
 */
const EXPANSION_ZONE = 'Etc/GMT+12';

/**
 * How much later an all-day or floating occurrence starts in EXPANSION_ZONE than in the earliest
 * zone (26 hours, rounded up): such events are expanded that much further ahead.
 */
const WALL_CLOCK_SPREAD_MS = 2 * 86_400_000;

export interface DueReminder {
  eventId: string;
  occKey: string;
  /**
   * The occurrence's start instant, ISO, as the room's zone places it (part of the ledger key: a
   * moved occurrence is a new reminder). For all-day and floating occurrences it is the same for
   * every recipient whatever their zone, so a member changing zone is never reminded twice.
   */
  occurrenceStart: string;
  /** When the occurrence starts for this recipient (all-day and floating: in their zone). */
  startMs: number;
  dueMs: number;
  reminderId: string;
  userId: string;
  title: string;
  /** The zone the event is written in (its tz); for all-day and floating ones, the recipient's. */
  tz: string;
  allDay: boolean;
}

/** The zone's canonical name, or null when it is not an IANA zone (any value a client wrote). */
const knownZone = (tz: unknown): string | null => (typeof tz === 'string' ? ianaZone(tz) : null);

/**
 * The room's default zone; UTC when it has none or holds anything but a known zone (any client can
 * write the room map, and an unknown zone would make every expansion of the room throw).
 */
export function roomZone(doc: Y.Doc): string {
  return knownZone(doc.getMap('room').get('defaultTz')) ?? 'UTC';
}

/**
 * Whether a stored lead is one the model lets anyone write (whole minutes, 0 to four weeks). Any
 * other value, written by a raw Yjs client, is not a reminder: clamped, "a billion minutes before"
 * would still fire four weeks early, for every occurrence of a series at once.
 */
const validLead = (minutes: number): boolean => Number.isInteger(minutes) && minutes >= 0 && minutes <= LIMITS.reminderMinutes;
const validReminder = (r: Reminder): boolean => validLead(r.minutesBefore);

/**
 * Every (occurrence, reminder, member) whose occurrence starts after `startsAfter` and which falls
 * due by `dueBy`. `members` are the room's current members: a reminder `for` everyone goes to the
 * event's participants, or to every member when the event names none. `zones` holds the zones
 * members chose in their notification settings (others use the room's).
 *
 * Each event is expanded only as far as its own longest lead reaches past `dueBy` (its reminders',
 * its parts', and the members' defaults for its kind), not four weeks for every event: in a dense
 * room most events are reminded minutes or hours before.
 */
export function remindersOf(
  doc: Y.Doc,
  members: readonly string[],
  startsAfter: number,
  dueBy: number,
  zones: Readonly<Record<string, string>> = {},
): DueReminder[] {
  const zone = roomZone(doc);
  const memberSet = new Set(members);
  const zoneOf = new Map<string, string>();
  for (const m of members) zoneOf.set(m, (Object.hasOwn(zones, m) ? knownZone(zones[m]) : null) ?? zone);
  const defaults = new Map<string, ReminderDefaults>();
  for (const m of members) {
    const d = getReminderDefaults(doc, m);
    if (d.timed.length > 0 || d.allDay.length > 0) defaults.set(m, d);
  }
  const longestDefault = {
    timed: longest([...defaults.values()].flatMap((d) => d.timed)),
    allDay: longest([...defaults.values()].flatMap((d) => d.allDay)),
  };
  const reach = (ev: CalendarEvent): number => {
    const leads = [...ev.reminders, ...ev.segments.flatMap((s) => s.fields.reminders ?? [])].map((r) => r.minutesBefore).filter(validLead);
    if (leads.length === 0 && defaults.size === 0) return -Infinity; // nobody is reminded of it
    const own = longest(leads);
    // A part may change the event's kind (timed ↔ all-day): then either kind's defaults may apply.
    const byDefault = ev.segments.length > 0 ? Math.max(longestDefault.timed, longestDefault.allDay) : ev.allDay ? longestDefault.allDay : longestDefault.timed;
    const wallClock = ev.allDay || ev.tz === null || ev.segments.length > 0;
    return dueBy + Math.max(own, byDefault) * 60_000 + (wallClock ? WALL_CLOCK_SPREAD_MS : 0) + 1;
  };
  const occs = occurrencesStartingIn(
    doc,
    { from: new Date(startsAfter).toISOString(), to: new Date(dueBy + MAX_LEAD_MS + WALL_CLOCK_SPREAD_MS + 1).toISOString(), timeZone: EXPANSION_ZONE },
    reach,
  );
  const out: DueReminder[] = [];
  for (const occ of occs) {
    const reminders = occ.reminders.filter(validReminder);
    if (reminders.length === 0 && defaults.size === 0) continue;
    const wallClock = occ.allDay || occ.tz === null;
    // All-day and floating: the start in each recipient's zone (a few zones per room at most).
    const starts = new Map<string, number>();
    const startIn = (z: string): number => {
      let ms = starts.get(z);
      if (ms === undefined) {
        // As the model places them for a viewer in `z` (a floating time in a DST gap moves forward).
        ms = occ.allDay
          ? Temporal.PlainDate.from(occ.start).toZonedDateTime({ timeZone: z }).epochMilliseconds
          : Temporal.PlainDateTime.from(occ.start).toZonedDateTime(z, { disambiguation: 'compatible' }).epochMilliseconds;
        starts.set(z, ms);
      }
      return ms;
    };
    const roomStartMs = wallClock ? startIn(zone) : Date.parse(occ.startInstant);
    const reminded = new Set<string>();
    const own = reminders.flatMap((r) => recipients(occ, r.for, memberSet).map((userId) => ({ r, userId })));
    // A member whom no reminder of the event reaches gets their defaults for the room (ids `default:<minutes>`).
    for (const { userId } of own) reminded.add(userId);
    const fallback = [...defaults]
      .filter(([userId]) => !reminded.has(userId) && recipients(occ, null, memberSet).includes(userId))
      .flatMap(([userId, d]) =>
        (occ.allDay ? d.allDay : d.timed).map((minutes) => ({ r: { id: `default:${minutes}`, minutesBefore: minutes, for: [userId] }, userId })),
      );
    for (const { r, userId } of [...own, ...fallback]) {
      const theirZone = zoneOf.get(userId) ?? zone;
      const startMs = wallClock ? startIn(theirZone) : roomStartMs;
      if (!(startMs > startsAfter)) continue;
      const dueMs = startMs - r.minutesBefore * 60_000;
      if (!(dueMs <= dueBy)) continue;
      out.push({
        eventId: occ.eventId,
        occKey: occ.occKey,
        occurrenceStart: new Date(roomStartMs).toISOString(),
        startMs,
        dueMs,
        reminderId: r.id,
        userId,
        title: occ.title,
        tz: wallClock ? theirZone : (occ.tz ?? zone),
        allDay: occ.allDay,
      });
    }
  }
  // In start order (the expansion's is UTC−12's for all-day and floating ones); stable, so ties keep theirs.
  return out.sort((a, b) => a.startMs - b.startMs);
}

/** The longest of these leads in minutes (each within what a reminder may ask). */
function longest(minutes: readonly number[]): number {
  let most = 0;
  for (const m of minutes) if (m > most) most = m;
  return Math.min(most, LIMITS.reminderMinutes);
}

function recipients(occ: Occurrence, chosen: string[] | null, members: Set<string>): string[] {
  const who = chosen ?? (occ.participants.length > 0 ? occ.participants : [...members]);
  return [...new Set(who)].filter((u) => members.has(u));
}

/** The ledger key of one reminder on one channel. */
export function reminderKey(roomId: string, r: DueReminder, channel: string): string {
  return `rem:${roomId}:${r.eventId}:${r.occurrenceStart}:${r.reminderId}:${r.userId}:${channel}`;
}
