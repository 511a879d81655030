import { Temporal } from 'temporal-polyfill';

/**
 * The zone's spelling as Temporal knows it, or null when it is not an IANA zone (offsets are not).
 * On its own, without zones.ts's iCalendar zone libraries, so that readers in worker threads (the
 * notify room reader) check zones without loading them.
 */
export function ianaZone(name: string): string | null {
  if (name.length === 0 || name.length > 64 || /^[+\-\u2212]/.test(name)) return null;
  try {
    return Temporal.Instant.fromEpochMilliseconds(0).toZonedDateTimeISO(name).timeZoneId;
  } catch {
    return null;
  }
}
