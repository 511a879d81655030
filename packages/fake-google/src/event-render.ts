/** Events as Google answers them: full resources, list tombstones, series instances, and times in a zone. */
import { type Calendar, clone, type JsonObject, type StoredEvent, type TimeValue } from './calendar-data.js';
import { instanceId, instanceTimes } from './series.js';
import { formatRfc3339 } from './time.js';

export class EventRenderer {
  constructor(private readonly baseUrl: () => string) {}

  renderTime(t: TimeValue, outTz: string): JsonObject {
    if (t.kind === 'date') return { date: t.date, ...(t.timeZone ? { timeZone: t.timeZone } : {}) };
    return { dateTime: formatRfc3339(t.ms, outTz), ...(t.timeZone ? { timeZone: t.timeZone } : {}) };
  }

  /** The form a client would send back (used as the base of a PATCH). */
  inputForm(ev: StoredEvent, cal: Calendar): JsonObject {
    return {
      ...clone(ev.fields),
      status: ev.status,
      start: this.renderTime(ev.start, ev.start.timeZone ?? cal.timeZone),
      end: this.renderTime(ev.end, ev.end.timeZone ?? cal.timeZone),
      ...(ev.recurrence ? { recurrence: [...ev.recurrence] } : {}),
      sequence: ev.sequence,
    };
  }

  renderEvent(cal: Calendar, ev: StoredEvent, outTz?: string): JsonObject {
    const tz = outTz ?? cal.timeZone;
    const owner = { email: cal.ownerEmail, self: true };
    return {
      kind: 'calendar#event',
      etag: ev.etag,
      id: ev.id,
      status: ev.status,
      htmlLink: `${this.baseUrl()}/calendar/event?eid=${Buffer.from(`${ev.id} ${cal.id}`).toString('base64url')}`,
      created: new Date(ev.created).toISOString(),
      updated: new Date(ev.updated).toISOString(),
      ...clone(ev.fields),
      creator: owner,
      organizer: cal.primary ? owner : { email: cal.id, displayName: cal.summary, self: true },
      start: this.renderTime(ev.start, tz),
      end: this.renderTime(ev.end, tz),
      ...(ev.recurrence ? { recurrence: [...ev.recurrence] } : {}),
      ...(ev.recurringEventId ? { recurringEventId: ev.recurringEventId } : {}),
      ...(ev.originalStart ? { originalStartTime: this.renderTime(ev.originalStart, tz) } : {}),
      iCalUID: ev.iCalUID,
      sequence: ev.sequence,
      reminders: ev.fields.reminders ? clone(ev.fields.reminders) : { useDefault: true },
      eventType: 'default',
    };
  }

  /** Deleted items in lists carry no more than Google guarantees. */
  renderTombstone(cal: Calendar, ev: StoredEvent, outTz?: string): JsonObject {
    return {
      kind: 'calendar#event',
      etag: ev.etag,
      id: ev.id,
      status: 'cancelled',
      ...(ev.recurringEventId ? { recurringEventId: ev.recurringEventId } : {}),
      ...(ev.originalStart ? { originalStartTime: this.renderTime(ev.originalStart, outTz ?? cal.timeZone) } : {}),
    };
  }

  renderInstance(cal: Calendar, master: StoredEvent, original: TimeValue, outTz?: string): JsonObject {
    const id = instanceId(cal, master.id, original);
    const { start, end } = instanceTimes(master, original);
    const base = this.renderEvent(cal, { ...master, id, start, end }, outTz);
    delete base.recurrence;
    return {
      ...base,
      recurringEventId: master.id,
      originalStartTime: this.renderTime(original, outTz ?? cal.timeZone),
    };
  }
}
