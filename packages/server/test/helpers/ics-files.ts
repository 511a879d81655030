/** Generated iCalendar files for import tests: many events, many overrides, zone bombs. */

const CRLF = '\r\n';
const stamp = (ms: number): string => new Date(ms).toISOString().replace(/[-:]/g, '').slice(0, 15) + 'Z';

function calendar(lines: string[]): string {
  return ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//Kith tests//EN', ...lines, 'END:VCALENDAR'].join(CRLF) + CRLF;
}

/** `n` one-hour UTC events with distinct UIDs. */
export function manyEvents(n: number, prefix = 'e'): string {
  const lines: string[] = [];
  const base = Date.UTC(2026, 0, 1);
  for (let i = 0; i < n; i++) {
    const start = base + (i % 3000) * 5 * 3600_000;
    // Kept short (no DTSTAMP) so that 32,000 of them fit the 4 MiB upload limit.
    lines.push('BEGIN:VEVENT', `UID:${prefix}${i}`, `DTSTART:${stamp(start)}`, `DTEND:${stamp(start + 3600_000)}`, `SUMMARY:E${i}`, 'END:VEVENT');
  }
  return calendar(lines);
}

/** A daily series with `n` RECURRENCE-ID overrides (each occurrence moved two hours later). */
export function manyOverrides(n: number): string {
  const lines = [
    'BEGIN:VEVENT',
    'UID:series@test',
    'DTSTAMP:20260101T000000Z',
    'DTSTART;TZID=Europe/Berlin:20260101T090000',
    'DTEND;TZID=Europe/Berlin:20260101T100000',
    'RRULE:FREQ=DAILY',
    'SUMMARY:Daily',
    'END:VEVENT',
  ];
  for (let i = 0; i < n; i++) {
    const ymd = new Date(Date.UTC(2026, 0, 1) + i * 86_400_000).toISOString().slice(0, 10).replace(/-/g, '');
    lines.push(
      'BEGIN:VEVENT',
      'UID:series@test',
      'DTSTAMP:20260101T000000Z',
      `RECURRENCE-ID;TZID=Europe/Berlin:${ymd}T090000`,
      `DTSTART;TZID=Europe/Berlin:${ymd}T110000`,
      `DTEND;TZID=Europe/Berlin:${ymd}T120000`,
      `SUMMARY:Moved ${i}`,
      'END:VEVENT',
    );
  }
  return calendar(lines);
}

/**
 * The reported attack: a VTIMEZONE with a TZID that names no IANA or Windows zone (so the import
 * converts through the file's own VTIMEZONE) and a sub-yearly rule, used by one event.
 */
export function zoneBomb(freq: string): string {
  return calendar([
    'BEGIN:VTIMEZONE',
    'TZID:Custom Bomb Time',
    'BEGIN:STANDARD',
    'DTSTART:19700101T000000',
    `RRULE:FREQ=${freq}`,
    'TZOFFSETFROM:+0100',
    'TZOFFSETTO:+0100',
    'END:STANDARD',
    'END:VTIMEZONE',
    'BEGIN:VEVENT',
    'UID:bomb@test',
    'DTSTAMP:20260101T000000Z',
    'DTSTART;TZID=Custom Bomb Time:20260301T090000',
    'DTEND;TZID=Custom Bomb Time:20260301T100000',
    'SUMMARY:Boom',
    'END:VEVENT',
  ]);
}

/** A custom zone shaped like a real one (yearly DST rules), used by one event. */
export function customRealZone(): string {
  return calendar([
    'BEGIN:VTIMEZONE',
    'TZID:Custom Central European',
    'BEGIN:DAYLIGHT',
    'DTSTART:19810329T020000',
    'RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU',
    'TZOFFSETFROM:+0100',
    'TZOFFSETTO:+0200',
    'END:DAYLIGHT',
    'BEGIN:STANDARD',
    'DTSTART:19961027T030000',
    'RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU',
    'TZOFFSETFROM:+0200',
    'TZOFFSETTO:+0100',
    'END:STANDARD',
    'END:VTIMEZONE',
    'BEGIN:VEVENT',
    'UID:custom-zone@test',
    'DTSTAMP:20260101T000000Z',
    'DTSTART;TZID=Custom Central European:20260701T090000',
    'DTEND;TZID=Custom Central European:20260701T100000',
    'SUMMARY:Summer meeting',
    'END:VEVENT',
  ]);
}
