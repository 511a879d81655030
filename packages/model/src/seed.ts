/**
 * The seed contract's event `{eventId, eventTitle, startTime, endTime, participants}` is one
 * non-recurring, zoned event. Instants come in with an offset or Z and go out in UTC ("…Z"); the
 * zone they are read in (default UTC) is the event's tz.
 */
import { ModelError } from './errors.js';
import { isRecurring } from './segments.js';
import { buildOccurrence, findSlot } from './occurrences.js';
import { checkZone, formatWall, parseInstant } from './time.js';
import type { CalendarEvent, EventInput, SeedEvent } from './types.js';

export function fromSeedEvent(seed: SeedEvent, opts: { timeZone?: string } = {}): EventInput & { id: string } {
  if (typeof seed !== 'object' || seed === null) throw new ModelError('INVALID_INPUT', 'seed event must be an object', 'event');
  const tz = checkZone(opts.timeZone ?? 'UTC', 'timeZone');
  const wall = (value: unknown, field: string): string =>
    formatWall(parseInstant(value, field).toZonedDateTimeISO(tz).toPlainDateTime());
  if (!Array.isArray(seed.participants)) throw new ModelError('INVALID_INPUT', 'participants must be an array', 'participants');
  return {
    id: seed.eventId,
    title: seed.eventTitle,
    start: wall(seed.startTime, 'startTime'),
    end: wall(seed.endTime, 'endTime'),
    tz,
    participants: [...seed.participants],
  };
}

/**
 * The seed shape of a single event. Floating and all-day events need a zone to become instants
 * (`opts.timeZone`, else the event's tz, else UTC); a series has no seed form.
 */
export function toSeedEvent(ev: CalendarEvent, opts: { timeZone?: string } = {}): SeedEvent {
  if (isRecurring(ev)) {
    throw new ModelError('NOT_REPRESENTABLE', `Event "${ev.id}" repeats; the seed shape holds single events only`, 'rrule');
  }
  const zone = checkZone(opts.timeZone ?? ev.tz ?? 'UTC', 'timeZone');
  const slot = findSlot(ev, ev.start.slice(0, 10));
  const occ = slot ? buildOccurrence(ev, slot, zone) : null;
  if (!occ) throw new ModelError('INVALID_DATE', `Event "${ev.id}" has an unreadable start`, 'start');
  return {
    eventId: ev.id,
    eventTitle: ev.title,
    startTime: occ.startInstant,
    endTime: occ.endInstant,
    participants: [...ev.participants],
  };
}
