/**
 * The calendar both servers start from, loaded the same way a user would: Radicale through a PUT
 * of the whole VCALENDAR onto its collection, Kith through its ICS import. UTC times only, so the
 * comparison is about CalDAV, not about time-zone databases.
 */
const CRLF = '\r\n';

export const SEED_UIDS = {
  single: 'seed-single@interop.test',
  weekly: 'seed-weekly@interop.test',
  allDay: 'seed-allday@interop.test',
} as const;

/**
 * A one-off, an all-day event, and a weekly series of six Mondays from 2 March 2026 with the
 * 16 March one cancelled (EXDATE) and the 23 March one moved to 11:00 (RECURRENCE-ID).
 * In March 2026 that is six occurrences: Mondays 2, 9, 23 (moved), 30, the one-off on the 10th
 * and the all-day event on the 20th.
 */
export const SEED_ICS = [
  'BEGIN:VCALENDAR',
  'VERSION:2.0',
  'PRODID:-//Kith interop tests//EN',
  'BEGIN:VEVENT',
  `UID:${SEED_UIDS.single}`,
  'DTSTAMP:20260201T000000Z',
  'DTSTART:20260310T100000Z',
  'DTEND:20260310T110000Z',
  'SUMMARY:Dentist',
  'END:VEVENT',
  'BEGIN:VEVENT',
  `UID:${SEED_UIDS.allDay}`,
  'DTSTAMP:20260201T000000Z',
  'DTSTART;VALUE=DATE:20260320',
  'DTEND;VALUE=DATE:20260321',
  'SUMMARY:School holiday',
  'END:VEVENT',
  'BEGIN:VEVENT',
  `UID:${SEED_UIDS.weekly}`,
  'DTSTAMP:20260201T000000Z',
  'DTSTART:20260302T080000Z',
  'DTEND:20260302T090000Z',
  'RRULE:FREQ=WEEKLY;COUNT=6',
  'EXDATE:20260316T080000Z',
  'SUMMARY:Swimming',
  'END:VEVENT',
  'BEGIN:VEVENT',
  `UID:${SEED_UIDS.weekly}`,
  'DTSTAMP:20260201T000000Z',
  'RECURRENCE-ID:20260323T080000Z',
  'DTSTART:20260323T100000Z',
  'DTEND:20260323T110000Z',
  'SUMMARY:Swimming (late)',
  'END:VEVENT',
  'END:VCALENDAR',
].join(CRLF) + CRLF;

/** The March occurrences the seed expands to, as `uid start summary` (start in UTC, ISO, to the minute or a date). */
export const SEED_MARCH_OCCURRENCES = [
  `${SEED_UIDS.weekly} 2026-03-02T08:00 Swimming`,
  `${SEED_UIDS.weekly} 2026-03-09T08:00 Swimming`,
  `${SEED_UIDS.single} 2026-03-10T10:00 Dentist`,
  `${SEED_UIDS.allDay} 2026-03-20 School holiday`,
  `${SEED_UIDS.weekly} 2026-03-23T10:00 Swimming (late)`,
  `${SEED_UIDS.weekly} 2026-03-30T08:00 Swimming`,
];
