/**
 * VALARMs ↔ reminders. The model keeps "N minutes before the start" (0 … LIMITS.reminderMinutes,
 * at most LIMITS.reminders per event), for everyone (`for: null`) or for named members.
 *
 * Reading (import and CalDAV PUT): ACTION DISPLAY, AUDIO or EMAIL with a TRIGGER relative to the
 * start, to the end (RELATED=END: the event's length is added) or absolute (DATE-TIME: against the
 * first start). Alarms a client keeps for itself are not reminders: Apple's X-APPLE-DEFAULT-ALARM
 * (the device's defaults, re-added by the device), ACTION:NONE (RFC 9074), snoozes (RFC 9074
 * RELATED-TO;RELTYPE=SNOOZE). ACKNOWLEDGED and X-MOZ-LASTACK are not read, so acknowledging an
 * alarm changes nothing. Several alarms at the same offset (Google: DISPLAY and EMAIL) are one
 * reminder: who is reminded how is each member's own choice of channels.
 *
 * Merging (mergeReminders): each alarm claims the reminder its X-KITH-REMINDER-ID (or RFC 9074
 * UID) names, else one at the same offset, else it is new. What is not claimed is removed: from a
 * file, everyone's reminders (only when the file's event has alarms at all: many exporters write
 * none); from a CalDAV PUT, everyone's reminders and the user's own (the user is taken off a
 * reminder shared with others). Other members' personal reminders are never touched.
 */
import ICAL from 'ical.js';
import { Temporal } from 'temporal-polyfill';
import { LIMITS, type Reminder, type ReminderInput } from '@kith/model';
import { sha256 } from '../ids.js';

/** The property a reminder's id travels in (also read: RFC 9074 UID). */
export const REMINDER_ID_PROP = 'X-KITH-REMINDER-ID';

/** VALARMs of one event looked at; more are counted as dropped. */
const MAX_ALARMS_READ = 50;

const ACTIONS = new Set(['DISPLAY', 'AUDIO', 'EMAIL']);

export interface AlarmRead {
  minutesBefore: number;
  /** The reminder id the alarm carries, if any. */
  id: string | null;
}

export interface AlarmsRead {
  alarms: AlarmRead[];
  /** Alarms that are reminders but could not be kept: after the start, too far ahead, unreadable, too many. */
  dropped: number;
}

/** When the event starts (ms since the epoch) and how long it lasts (minutes), for converting triggers. */
export interface AlarmBasis {
  startMs: number;
  minutes: number;
}

/** The start and length of an event from its wall clocks (floating and all-day times read in UTC). */
export function alarmBasis(timing: { start: string; end: string; tz: string | null; endTz: string | null }): AlarmBasis {
  const at = (wall: string, tz: string | null): number => {
    const w = wall.length === 10 ? `${wall}T00:00` : wall;
    return Temporal.PlainDateTime.from(w).toZonedDateTime(tz ?? 'UTC', { disambiguation: 'compatible' }).epochMilliseconds;
  };
  const startMs = at(timing.start, timing.tz);
  const endMs = at(timing.end, timing.endTz ?? timing.tz);
  return { startMs, minutes: Math.max(0, Math.round((endMs - startMs) / 60_000)) };
}

const upper = (v: unknown): string => (typeof v === 'string' ? v.trim().toUpperCase() : '');

/** Whether an alarm is the client's own business (see the module's comment). */
function isClientOnly(alarm: ICAL.Component): boolean {
  if (upper(alarm.getFirstPropertyValue('x-apple-default-alarm')) === 'TRUE') return true;
  if (upper(alarm.getFirstPropertyValue('action')) === 'NONE') return true;
  return alarm.getAllProperties('related-to').some((p) => upper(p.getParameter('reltype')) === 'SNOOZE');
}

function idOf(alarm: ICAL.Component): string | null {
  for (const name of [REMINDER_ID_PROP.toLowerCase(), 'uid']) {
    const v = alarm.getFirstPropertyValue(name);
    if (typeof v === 'string' && v.length > 0 && v.length <= LIMITS.id) return v;
  }
  return null;
}

/** Minutes before the start an alarm fires, or null when its trigger cannot be read. */
function minutesOf(alarm: ICAL.Component, basis: AlarmBasis): number | null {
  const prop = alarm.getFirstProperty('trigger');
  const value: unknown = prop?.getFirstValue();
  if (value instanceof ICAL.Duration) {
    const seconds = value.toSeconds(); // negative: before
    const fromStart = upper(prop!.getParameter('related')) === 'END' ? seconds + basis.minutes * 60 : seconds;
    return Math.round(-fromStart / 60);
  }
  if (value instanceof ICAL.Time) {
    // An absolute trigger is UTC (RFC 5545 requires it); a floating one is read as UTC too.
    const ms = Date.UTC(value.year, value.month - 1, value.day, value.hour, value.minute, value.second);
    return Math.round((basis.startMs - ms) / 60_000);
  }
  return null;
}

/** The reminders a VEVENT's VALARMs describe (deduplicated by offset, in the model's range). */
export function readAlarms(vevent: ICAL.Component, basis: AlarmBasis): AlarmsRead {
  const all = vevent.getAllSubcomponents('valarm');
  let dropped = Math.max(0, all.length - MAX_ALARMS_READ);
  const alarms: AlarmRead[] = [];
  for (const alarm of all.slice(0, MAX_ALARMS_READ)) {
    if (isClientOnly(alarm)) continue;
    if (!ACTIONS.has(upper(alarm.getFirstPropertyValue('action')))) continue; // PROCEDURE, X-…: not a reminder
    const m = minutesOf(alarm, basis);
    if (m === null || !Number.isFinite(m) || m < 0 || m > LIMITS.reminderMinutes) {
      dropped++;
      continue;
    }
    const id = idOf(alarm);
    const same = alarms.find((a) => a.minutesBefore === m);
    if (same) {
      if (same.id === null) same.id = id;
      continue;
    }
    alarms.push({ minutesBefore: m, id });
  }
  return { alarms, dropped };
}

export type AlarmSource = { kind: 'file' } | { kind: 'caldav'; user: string };

const forEveryone = (r: Reminder): boolean => r.for === null;

/** A stable id for a reminder made from an alarm, so importing the same file twice makes the same one. */
const madeId = (eventId: string, minutes: number, owner: string | null): string => `va-${sha256(`${eventId}|${minutes}|${owner ?? '*'}`).slice(0, 24)}`;

/**
 * The event's reminders once `alarms` are applied (see the module's comment), or null when they
 * stay as they are. `dropped` counts alarms left out because the event would hold too many.
 */
export function mergeReminders(
  eventId: string,
  existing: readonly Reminder[],
  read: AlarmsRead,
  source: AlarmSource,
): { reminders: ReminderInput[] | null; dropped: number } {
  if (source.kind === 'file' && read.alarms.length === 0) return { reminders: null, dropped: 0 };
  const user = source.kind === 'caldav' ? source.user : null;
  const mine = (r: Reminder): boolean => user !== null && r.for !== null && r.for.includes(user);
  const visible = existing.filter((r) => forEveryone(r) || mine(r));
  const claimed = new Map<string, number>(); // reminder id → its new offset
  const fresh: number[] = [];
  for (const a of read.alarms) {
    const byId = a.id === null ? undefined : visible.find((r) => r.id === a.id && !claimed.has(r.id));
    const match = byId ?? visible.find((r) => r.minutesBefore === a.minutesBefore && !claimed.has(r.id));
    if (match) claimed.set(match.id, a.minutesBefore);
    else fresh.push(a.minutesBefore);
  }
  const out: ReminderInput[] = [];
  for (const r of existing) {
    const to = claimed.get(r.id);
    if (!visible.includes(r)) {
      out.push({ id: r.id, minutesBefore: r.minutesBefore, for: r.for }); // another member's own
    } else if (forEveryone(r)) {
      if (to !== undefined) out.push({ id: r.id, minutesBefore: to, for: null });
    } else {
      // The user's own (possibly shared with others): the others keep it as it was.
      const others = r.for!.filter((m) => m !== user);
      if (to === r.minutesBefore) out.push({ id: r.id, minutesBefore: r.minutesBefore, for: r.for });
      else {
        if (others.length > 0) out.push({ id: r.id, minutesBefore: r.minutesBefore, for: others });
        if (to !== undefined) fresh.push(to);
      }
    }
  }
  let dropped = 0;
  // New alarms are everyone's from a file, the user's own from CalDAV (one per offset).
  for (const m of fresh) {
    if (out.some((r) => r.minutesBefore === m && (user === null ? r.for === null : r.for?.includes(user)))) continue;
    if (out.length >= LIMITS.reminders) {
      dropped++;
      continue;
    }
    out.push({ id: madeId(eventId, m, user), minutesBefore: m, for: user === null ? null : [user] });
  }
  return { reminders: out, dropped };
}

/** Reminders in a comparable order (the model reads them sorted by offset, then id). */
export function sameReminders(a: readonly ReminderInput[], b: readonly ReminderInput[]): boolean {
  const norm = (list: readonly ReminderInput[]) =>
    JSON.stringify(
      list
        .map((r) => ({ id: r.id, m: r.minutesBefore, for: r.for === null || r.for === undefined ? null : [...new Set(r.for)].sort() }))
        .sort((x, y) => x.m - y.m || ((x.id ?? '') < (y.id ?? '') ? -1 : 1)),
    );
  return norm(a) === norm(b);
}
