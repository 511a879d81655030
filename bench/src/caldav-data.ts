/**
 * The calendar W8 loads into both CalDAV servers, as one iCalendar text (pure, deterministic):
 * `events` events over 2026, a tenth of them weekly series of 20 Mondays-or-so, each series with
 * one occurrence moved (RECURRENCE-ID) and one cancelled (EXDATE). UTC times, so neither server
 * spends the run resolving time zones.
 */
const CRLF = '\r\n';
const HOUR = 3_600_000;
const YEAR_START = Date.UTC(2026, 0, 1);

const stamp = (ms: number): string => new Date(ms).toISOString().replace(/[-:]/g, '').slice(0, 15) + 'Z';

export interface CaldavData {
  ics: string;
  events: number;
  recurring: number;
  /** VEVENT components in the file (series masters, their overrides and one-off events). */
  components: number;
}

export function caldavBenchCalendar(events: number): CaldavData {
  const recurring = Math.floor(events / 10);
  const lines = ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//Kith bench//CalDAV W8//EN'];
  let components = 0;
  const vevent = (props: string[]) => {
    lines.push('BEGIN:VEVENT', ...props, 'DTSTAMP:20260101T000000Z', 'END:VEVENT');
    components++;
  };
  // Spread over the year so a month holds about a twelfth of the one-off events.
  const step = (365 * 24 * HOUR) / Math.max(1, events - recurring);
  for (let i = 0; i < events - recurring; i++) {
    const start = YEAR_START + Math.floor((i * step) / HOUR) * HOUR;
    vevent([`UID:w6-single-${i}@bench.kith`, `DTSTART:${stamp(start)}`, `DTEND:${stamp(start + HOUR)}`, `SUMMARY:Event ${i}`, `LOCATION:Room ${i % 17}`]);
  }
  for (let i = 0; i < recurring; i++) {
    // Series start on each day of the first half-year in turn, at 07:00–18:00 UTC.
    const start = YEAR_START + (i % 180) * 24 * HOUR + (7 + (i % 12)) * HOUR;
    const uid = `w6-series-${i}@bench.kith`;
    const moved = start + 3 * 7 * 24 * HOUR; // the fourth occurrence
    const cancelled = start + 5 * 7 * 24 * HOUR; // the sixth
    vevent([`UID:${uid}`, `DTSTART:${stamp(start)}`, `DTEND:${stamp(start + HOUR)}`, 'RRULE:FREQ=WEEKLY;COUNT=20', `EXDATE:${stamp(cancelled)}`, `SUMMARY:Series ${i}`]);
    vevent([`UID:${uid}`, `RECURRENCE-ID:${stamp(moved)}`, `DTSTART:${stamp(moved + 2 * HOUR)}`, `DTEND:${stamp(moved + 3 * HOUR)}`, `SUMMARY:Series ${i} (moved)`]);
  }
  lines.push('END:VCALENDAR');
  return { ics: lines.join(CRLF) + CRLF, events, recurring, components };
}
