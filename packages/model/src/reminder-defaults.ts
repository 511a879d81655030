/**
 * Each member's default reminders in a room, in the room's document so every device shows them:
 *
 *   reminderDefaults: Y.Map<memberId, { timed: number[], allDay: number[] }>   (minutes before)
 *
 * One key per member, so members setting theirs at once never overwrite each other. They apply to
 * the occurrences a member is reminded of by no reminder of the event itself.
 */
import type * as Y from 'yjs';
import { ModelError } from './errors.js';
import { LIMITS } from './schema.js';
import type { MemberId } from './types.js';

export const REMINDER_DEFAULTS_ROOT = 'reminderDefaults';
/** Defaults per kind (timed, all-day) per member. */
export const MAX_DEFAULT_REMINDERS = 5;

export interface ReminderDefaults {
  timed: number[];
  allDay: number[];
}

function minutesList(value: unknown, field: string): number[] {
  if (!Array.isArray(value)) throw new ModelError('INVALID_INPUT', `${field} must be an array of minutes`, field);
  if (value.length > MAX_DEFAULT_REMINDERS) {
    throw new ModelError('TOO_MANY_ITEMS', `${field} takes at most ${MAX_DEFAULT_REMINDERS} reminders`, field);
  }
  for (const m of value) {
    if (!Number.isInteger(m) || m < 0 || m > LIMITS.reminderMinutes) {
      throw new ModelError('INVALID_INPUT', `${field} must hold whole numbers of minutes from 0 to ${LIMITS.reminderMinutes}`, field);
    }
  }
  return [...new Set(value as number[])].sort((a, b) => a - b);
}

/** Sets `member`'s defaults (checked first; nothing is written when they are bad). */
export function setReminderDefaults(doc: Y.Doc, member: MemberId, input: { timed?: unknown; allDay?: unknown }, origin?: unknown): ReminderDefaults {
  const current = getReminderDefaults(doc, member);
  const next: ReminderDefaults = {
    timed: input.timed === undefined ? current.timed : minutesList(input.timed, 'timed'),
    allDay: input.allDay === undefined ? current.allDay : minutesList(input.allDay, 'allDay'),
  };
  doc.transact(() => doc.getMap(REMINDER_DEFAULTS_ROOT).set(member, next), origin);
  return next;
}

/** `member`'s defaults; whatever a replica stored that is not a list of minutes reads as none. */
export function getReminderDefaults(doc: Y.Doc, member: MemberId): ReminderDefaults {
  const raw = doc.getMap(REMINDER_DEFAULTS_ROOT).get(member) as { timed?: unknown; allDay?: unknown } | undefined;
  const read = (v: unknown) => {
    if (v === undefined) return []; // none set: the usual case, read on every reminder look
    try {
      return minutesList(v, 'defaults');
    } catch {
      return [];
    }
  };
  return { timed: read(raw?.timed), allDay: read(raw?.allDay) };
}
