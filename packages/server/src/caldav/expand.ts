/**
 * `<C:calendar-data><C:expand start end/></C:calendar-data>` (RFC 4791 §9.6.5): an object's
 * occurrences overlapping the range, each its own VEVENT with times in UTC and a RECURRENCE-ID
 * (UTC) naming the original start, no RRULE/RDATE/EXDATE and no VTIMEZONE. All-day occurrences
 * keep their DATE values. Each member sees everyone's reminders and their own, as in their view.
 * The ETag stays the object's (the resource is unchanged; only its rendering in this answer is).
 *
 * One answer holds at most MAX_EXPANDED_INSTANCES instances and MAX_EXPANDED_BYTES of them: past
 * either the REPORT is refused with DAV:number-of-matches-within-limits (RFC 4791 §7.8; 403 as
 * §1.3 has postconditions answered, and as sabre/dav does) rather than answering part of it, which
 * a client would take for all. A year of 2,000 daily series was 800,000 instances, 281 MB.
 */
import ical, { escape, ICalAlarmType } from 'ical-generator';
import { Temporal } from 'temporal-polyfill';
import { inYears, occurrencesOf, type CalendarEvent, type Occurrence } from '@kith/model';
import { cleanText } from '../calendar/feed-values.js';
import { stampOf } from '../calendar/ics-export.js';
import { badRequest, caldavPre, davPre, DavError } from './dav-errors.js';
import type { DavObject } from './object-catalog.js';
import { utcDateTime } from './time-range.js';
import { child, NS, type XmlElement } from './xml.js';

/** Longest range expanded (the same bound as exact time-range matching). */
const MAX_EXPAND_DAYS = 400;
/** Instances one answer holds: a month of 300 daily series, a year of 25 (about 0.1 ms each to write). */
export const MAX_EXPANDED_INSTANCES = 10_000;
/** Bytes of expanded calendar data one answer holds. */
export const MAX_EXPANDED_BYTES = 16 * 1024 * 1024;

/** What one answer's expansions have used so far; refuses the REPORT past either limit. */
export class ExpandLimit {
  private instances = 0;
  private bytes = 0;

  constructor(
    private readonly maxInstances = MAX_EXPANDED_INSTANCES,
    private readonly maxBytes = MAX_EXPANDED_BYTES,
  ) {}

  take(instances: number, bytes: number): void {
    this.instances += instances;
    this.bytes += bytes;
    if (this.instances > this.maxInstances || this.bytes > this.maxBytes) {
      throw new DavError(
        'TOO_MANY_MATCHES',
        `Expanded, the answer would hold more than ${this.maxInstances} instances or ${Math.round(this.maxBytes / 1024 / 1024)} MB; ask for a shorter range or fewer objects.`,
        davPre('number-of-matches-within-limits'),
      );
    }
  }
}

export interface ExpandRange {
  from: string;
  to: string;
}

/** The expand range a REPORT's `<D:prop>` asks for, if any. */
export function expandRequest(body: XmlElement): ExpandRange | null {
  const data = child(child(body, NS.DAV, 'prop'), NS.CALDAV, 'calendar-data');
  const expand = data ? child(data, NS.CALDAV, 'expand') : undefined;
  if (!expand) return null;
  const range = { from: utcDateTime(expand.attrs.start, 'expand start'), to: utcDateTime(expand.attrs.end, 'expand end') };
  const days = (Date.parse(range.to) - Date.parse(range.from)) / 86_400_000;
  if (!(days > 0)) throw badRequest('The expand range must end after it starts.', caldavPre('valid-filter'));
  if (days > MAX_EXPAND_DAYS) throw badRequest(`An expanded range may span at most ${MAX_EXPAND_DAYS} days.`, caldavPre('valid-filter'));
  return range;
}

/** The split key an object's UID names (`<eventId>_<date>@kith`), or null for the event's first part. */
const splitOf = (obj: DavObject): string | null => {
  const m = /^(.+)_(\d{4}-\d{2}-\d{2})@kith$/.exec(obj.uid);
  return m && m[1] === obj.eventId ? m[2]! : null;
};


const instant = (wall: string, tz: string | null): Date =>
  new Date(Temporal.PlainDateTime.from(wall.length === 10 ? `${wall}T00:00` : wall).toZonedDateTime(tz ?? 'UTC', { disambiguation: 'compatible' }).epochMilliseconds);

/**
 * The object as expanded over `range` for `userId`. `splits` are the split keys of the event's
 * other objects: an occurrence belongs to the part with the latest split key not after it.
 */
export function expandObject(ev: CalendarEvent, obj: DavObject, splits: readonly string[], range: ExpandRange, userId: string, limit = new ExpandLimit()): string {
  const mine = splitOf(obj);
  const later = splits.filter((k) => mine === null || k > mine).sort();
  const owns = (occ: Occurrence) => (mine === null || occ.occKey >= mine) && !later.some((k) => k > (mine ?? '') && occ.occKey >= k);
  let occurrences: Occurrence[];
  try {
    occurrences = occurrencesOf(ev, { from: range.from, to: range.to, timeZone: 'UTC' })
      .filter(owns)
      // An occurrence ending past 9999 (an all-day one on 31 December 9999) is left out, not a 500.
      .filter((occ) => [occ.start, occ.end, occ.originalStart, occ.startInstant, occ.endInstant].every((t) => inYears(t)));
  } catch {
    occurrences = [];
  }
  // Counted before they are written, which is most of the cost.
  limit.take(occurrences.length, 0);
  const cal = ical({ prodId: { company: 'Kith', product: 'kith-server', language: 'EN' } });
  const stamp = stampOf(ev);
  const uid = escape(obj.uid, false);
  for (const occ of occurrences) {
    const alarms = occ.reminders
      .filter((r) => r.for === null || r.for.includes(userId))
      .map((r) => ({ type: ICalAlarmType.display, triggerBefore: r.minutesBefore * 60, description: cleanText(occ.title) || 'Reminder' }));
    const allDay = occ.allDay;
    cal.createEvent({
      id: uid,
      stamp,
      summary: cleanText(occ.title),
      ...(occ.description ? { description: cleanText(occ.description) } : {}),
      ...(occ.location ? { location: { title: cleanText(occ.location) } } : {}),
      start: allDay ? Temporal.PlainDate.from(occ.start.slice(0, 10)) : new Date(occ.startInstant),
      end: allDay ? Temporal.PlainDate.from(occ.end.slice(0, 10)) : new Date(occ.endInstant),
      ...(allDay ? { allDay: true } : {}),
      ...(occ.recurring ? { recurrenceId: allDay ? Temporal.PlainDate.from(occ.originalStart.slice(0, 10)) : instant(occ.originalStart, occ.tz ?? 'UTC') } : {}),
      ...(alarms.length > 0 ? { alarms } : {}),
    });
  }
  // ical-generator writes an all-day RECURRENCE-ID as a date-time; RFC 5545 wants DTSTART's type.
  const ics = cal
    .toString()
    .replace(/BEGIN:VEVENT\r\n[\s\S]*?END:VEVENT\r\n/g, (block) =>
      block.includes('\r\nDTSTART;VALUE=DATE:') ? block.replace(/\r\nRECURRENCE-ID:(\d{8})T000000Z?\r\n/, '\r\nRECURRENCE-ID;VALUE=DATE:$1\r\n') : block,
    );
  limit.take(0, ics.length);
  return ics;
}
