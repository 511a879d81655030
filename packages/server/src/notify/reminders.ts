/**
 * Which reminders fall due when: the room's occurrences (the model's expansion, so zones, DST,
 * overrides and cancelled occurrences are the model's) times each reminder's offset. Pure.
 *
 * An all-day occurrence starts at local midnight in the room's zone; "at 9:00 the day before" is
 * `minutesBefore: 900`, as iCalendar's `TRIGGER:-PT15H` on a DATE start.
 */
import { getReminderDefaults, LIMITS, occurrencesStartingIn, type CalendarEvent, type Occurrence, type ReminderDefaults } from '@kith/model';
import type * as Y from 'yjs';

/** A reminder can be due up to four weeks before its occurrence (the model's limit). */
export const MAX_LEAD_MS = LIMITS.reminderMinutes * 60_000;

export interface DueReminder {
  eventId: string;
  occKey: string;
  /** The occurrence's start instant, ISO (part of the ledger key: a moved occurrence is a new reminder). */
  occurrenceStart: string;
  startMs: number;
  dueMs: number;
  reminderId: string;
  userId: string;
  title: string;
  /** The zone the event is written in (its tz, else the room's). */
  tz: string;
  allDay: boolean;
}

export function roomZone(doc: Y.Doc): string {
  const tz = doc.getMap('room').get('defaultTz');
  return typeof tz === 'string' ? tz : 'UTC';
}

/**
 * Every (occurrence, reminder, member) whose occurrence starts after `startsAfter` and which falls
 * due by `dueBy`. `members` are the room's current members: a reminder `for` everyone goes to the
 * event's participants, or to every member when the event names none.
 *
 * Each event is expanded only as far as its own longest lead reaches past `dueBy` (its reminders',
 * its parts', and the members' defaults for its kind), not four weeks for every event: in a dense
 * room most events are reminded minutes or hours before.
 */
export function remindersOf(doc: Y.Doc, members: readonly string[], startsAfter: number, dueBy: number): DueReminder[] {
  const zone = roomZone(doc);
  const memberSet = new Set(members);
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
    const leads = [...ev.reminders, ...ev.segments.flatMap((s) => s.fields.reminders ?? [])].map((r) => r.minutesBefore);
    if (leads.length === 0 && defaults.size === 0) return -Infinity; // nobody is reminded of it
    const own = longest(leads);
    // A part may change the event's kind (timed ↔ all-day): then either kind's defaults may apply.
    const byDefault = ev.segments.length > 0 ? Math.max(longestDefault.timed, longestDefault.allDay) : ev.allDay ? longestDefault.allDay : longestDefault.timed;
    return dueBy + Math.max(own, byDefault) * 60_000 + 1;
  };
  const occs = occurrencesStartingIn(
    doc,
    { from: new Date(startsAfter).toISOString(), to: new Date(dueBy + MAX_LEAD_MS + 1).toISOString(), timeZone: zone },
    reach,
  );
  const out: DueReminder[] = [];
  for (const occ of occs) {
    if (occ.reminders.length === 0 && defaults.size === 0) continue;
    const startMs = Date.parse(occ.startInstant);
    if (!(startMs > startsAfter)) continue;
    const reminded = new Set<string>();
    const own = occ.reminders.flatMap((r) => recipients(occ, r.for, memberSet).map((userId) => ({ r, userId })));
    // A member whom no reminder of the event reaches gets their defaults for the room (ids `default:<minutes>`).
    for (const { userId } of own) reminded.add(userId);
    const fallback = [...defaults]
      .filter(([userId]) => !reminded.has(userId) && recipients(occ, null, memberSet).includes(userId))
      .flatMap(([userId, d]) =>
        (occ.allDay ? d.allDay : d.timed).map((minutes) => ({ r: { id: `default:${minutes}`, minutesBefore: minutes, for: [userId] }, userId })),
      );
    for (const { r, userId } of [...own, ...fallback]) {
      const dueMs = startMs - r.minutesBefore * 60_000;
      if (!(dueMs <= dueBy)) continue;
      out.push({
        eventId: occ.eventId,
        occKey: occ.occKey,
        occurrenceStart: new Date(startMs).toISOString(),
        startMs,
        dueMs,
        reminderId: r.id,
        userId,
        title: occ.title,
        tz: occ.tz ?? zone,
        allDay: occ.allDay,
      });
    }
  }
  return out;
}

/** The longest of these leads in minutes, within what a reminder may ask (stored values are not trusted). */
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
