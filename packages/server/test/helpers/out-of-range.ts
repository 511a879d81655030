/**
 * Times outside the years 0001–9999, as a raw Yjs client can write them into a room's document
 * (the model refuses them on every write path), and checks that a reader wrote none of them.
 */
import * as Y from 'yjs';
import { createEvent } from '@kith/model';

type Raw = (ev: Y.Map<unknown>) => void;
const nested = (ev: Y.Map<unknown>, key: string) => ev.get(key) as Y.Map<unknown>;

/** [what, raw write], each applied to its own event made at 2026-01-05 10:00 Berlin. */
export const OUT_OF_RANGE: ReadonlyArray<readonly [string, Raw]> = [
  ['start in year 0000', (ev) => ev.set('start', '0000-06-01T09:00')],
  ['start in year 0000 in UTC (Tokyo, 0001-01-01 01:00)', (ev) => (ev.set('tz', 'Asia/Tokyo'), ev.set('start', '0001-01-01T01:00'))],
  ['start in year 10000 in UTC (New York, 9999-12-31 22:00)', (ev) => (ev.set('tz', 'America/New_York'), ev.set('start', '9999-12-31T22:00'))],
  ['end in year 10000', (ev) => (ev.set('tz', 'UTC'), ev.set('start', '9999-12-31T20:00'), ev.set('duration', 'PT10H'))],
  ['all-day ending in year 10000', (ev) => (ev.set('tz', null), ev.set('start', '9999-12-31'), ev.set('duration', 'P1D'))],
  ['series until the end of 9999 in New York', (ev) => (ev.set('tz', 'America/New_York'), ev.set('start', '9999-12-01T09:00'), ev.set('rrule', 'FREQ=DAILY;UNTIL=99991231'))],
  ['all-day series crossing 9999', (ev) => (ev.set('tz', null), ev.set('start', '9999-12-29'), ev.set('duration', 'P1D'), ev.set('rrule', 'FREQ=DAILY;COUNT=5'))],
  ['exdate and rdate in year 0000', (ev) => (ev.set('rrule', 'FREQ=DAILY;COUNT=3'), nested(ev, 'exdates').set('0000-01-01', true), nested(ev, 'rdates').set('0000-01-07', true))],
  ['occurrence moved to year 0000', (ev) => (ev.set('rrule', 'FREQ=DAILY;COUNT=3'), nested(ev, 'ov').set('2026-01-06|start', '0000-01-06T10:00'))],
  ['occurrence stretched past 9999', (ev) => (ev.set('rrule', 'FREQ=DAILY;COUNT=3'), nested(ev, 'ov').set('2026-01-07|duration', 'PT99999999H'))],
  ['change times in years 0000 and 10000', (ev) => (ev.set('createdAt', '0000-01-01T00:00:00Z'), ev.set('updatedAt', '+010000-01-01T00:00:00Z'))],
];

/** Creates one event per entry (ids `range-0`…) plus a good one (`in-range`), and applies the raw writes. */
export function writeOutOfRange(doc: Y.Doc, actor: string): void {
  createEvent(doc, { id: 'in-range', title: 'In range', start: '2026-01-05T10:00', end: '2026-01-05T11:00', tz: 'Europe/Berlin' }, { actor });
  for (const [i, [, raw]] of OUT_OF_RANGE.entries()) {
    const id = `range-${i}`;
    createEvent(doc, { id, title: `Range ${i}`, start: '2026-01-05T10:00', end: '2026-01-05T11:00', tz: 'Europe/Berlin' }, { actor });
    doc.transact(() => raw(doc.getMap('events').get(id) as Y.Map<unknown>));
  }
}

/** RFC 5545 DATE / DATE-TIME: four digits of year, not 0000. */
const ICS_TIME = /^(?!0000)\d{8}(T\d{6}Z?)?$/;

/** The date and date-time values of an iCalendar text that are not in years 0001–9999 (with their lines). */
export function icsTimesOutOfRange(ics: string): string[] {
  const bad: string[] = [];
  for (const line of ics.replace(/\r\n[ \t]/g, '').split(/\r\n|\n/)) {
    if (/^(DTSTART|DTEND|RECURRENCE-ID|EXDATE|RDATE|DTSTAMP|CREATED|LAST-MODIFIED)[;:]/.test(line)) {
      const values = line.slice(line.lastIndexOf(':') + 1).split(',');
      if (!values.every((v) => ICS_TIME.test(v))) bad.push(line);
    }
    const until = /^RRULE:.*UNTIL=([^;]*)/.exec(line)?.[1];
    if (until !== undefined && !ICS_TIME.test(until)) bad.push(line);
  }
  return bad;
}

/** RFC 3339 times of the REST API: a four-digit year, not 0000. */
export const API_TIME = /^(?!0000)\d{4}-\d{2}-\d{2}/;
