/**
 * Google's rules for an event resource: required and mutually exclusive times, time zones, recurrence rules,
 * and the writable fields with their limits. What passes comes out normalised for storage.
 */
import { clone, type EventStatus, isPlainObject, type JsonObject, type TimeValue } from './calendar-data.js';
import { errors } from './errors.js';
import { parseRecurrence, RecurrenceError } from './recurrence.js';
import { dateString, instantOf, isValidTimeZone, parseDate, parseDateTime } from './time.js';

/** Client-writable fields kept as they were sent (after the checks below). */
const WRITABLE_FIELDS = [
  'summary',
  'description',
  'location',
  'colorId',
  'transparency',
  'visibility',
  'attendees',
  'anyoneCanAddSelf',
  'guestsCanInviteOthers',
  'guestsCanModify',
  'guestsCanSeeOtherGuests',
  'privateCopy',
  'locked',
  'reminders',
  'extendedProperties',
  'source',
  'attachments',
  'eventType',
  'endTimeUnspecified',
] as const;

export interface ValidEvent {
  status: EventStatus;
  start: TimeValue;
  end: TimeValue;
  recurrence?: string[];
  fields: JsonObject;
}

function parseTime(v: unknown, which: 'start' | 'end'): TimeValue {
  if (!isPlainObject(v) || (v.date === undefined && v.dateTime === undefined)) {
    throw errors.required(`Missing ${which} time.`);
  }
  if (v.date !== undefined && v.dateTime !== undefined) throw errors.badRequest(`Invalid ${which} time.`);
  const tz = v.timeZone;
  if (tz !== undefined && !isValidTimeZone(tz)) {
    throw errors.badRequest(`Invalid time zone definition for ${which} time.`);
  }
  if (v.date !== undefined) {
    const d = parseDate(v.date);
    if (!d) throw errors.badRequest(`Invalid ${which} time.`);
    return { kind: 'date', date: dateString(d), ...(tz ? { timeZone: tz } : {}) };
  }
  const p = parseDateTime(v.dateTime);
  if (!p) throw errors.badRequest(`Invalid ${which} time.`);
  const ms = instantOf(p, tz as string | undefined);
  if (ms === null) throw errors.badRequest(`Missing time zone definition for ${which} time.`);
  return { kind: 'dateTime', ms: Math.floor(ms / 1000) * 1000, ...(tz ? { timeZone: tz } : {}) };
}

function validateFields(input: JsonObject): JsonObject {
  const fields: JsonObject = {};
  for (const key of WRITABLE_FIELDS) {
    const v = input[key];
    if (v === undefined || v === null) continue;
    fields[key] = clone(v);
  }
  for (const k of ['summary', 'description', 'location'] as const) {
    if (fields[k] !== undefined && typeof fields[k] !== 'string') throw errors.badRequest(`Invalid value for: ${k}`);
  }
  if (fields.colorId !== undefined && !/^(?:[1-9]|1[01])$/.test(String(fields.colorId))) {
    throw errors.badRequest('Invalid color id.');
  }
  if (fields.transparency !== undefined && fields.transparency !== 'opaque' && fields.transparency !== 'transparent') {
    throw errors.badRequest('Invalid value for: transparency');
  }
  if (
    fields.visibility !== undefined &&
    !['default', 'public', 'private', 'confidential'].includes(fields.visibility as string)
  ) {
    throw errors.badRequest('Invalid value for: visibility');
  }
  if (fields.eventType !== undefined && fields.eventType !== 'default') {
    throw errors.badRequest('The fake only supports eventType "default".', 'invalid', 'calendar');
  }
  const reminders = fields.reminders;
  if (reminders !== undefined) {
    if (!isPlainObject(reminders)) throw errors.badRequest('Invalid value for: reminders');
    const overrides = reminders.overrides;
    if (reminders.useDefault === true && Array.isArray(overrides) && overrides.length > 0) {
      throw errors.badRequest(
        'Cannot specify both default reminders and overrides at the same time.',
        'cannotUseDefaultRemindersAndSpecifyOverride',
        'calendar',
      );
    }
    if (overrides !== undefined) {
      if (!Array.isArray(overrides) || overrides.length > 5) throw errors.badRequest('Invalid reminder overrides.');
      for (const o of overrides) {
        if (
          !isPlainObject(o) ||
          (o.method !== 'email' && o.method !== 'popup') ||
          typeof o.minutes !== 'number' ||
          o.minutes < 0 ||
          o.minutes > 40320
        ) {
          throw errors.badRequest('Invalid reminder override.');
        }
      }
    }
  }
  const ext = fields.extendedProperties;
  if (ext !== undefined) {
    if (!isPlainObject(ext)) throw errors.badRequest('Invalid value for: extendedProperties');
    for (const scope of Object.keys(ext)) {
      if (scope !== 'private' && scope !== 'shared') throw errors.badRequest('Invalid value for: extendedProperties');
      const props = ext[scope];
      if (!isPlainObject(props)) throw errors.badRequest('Invalid value for: extendedProperties');
      for (const [k, val] of Object.entries(props)) {
        if (k.length === 0 || k.length > 44) {
          throw errors.badRequest('Invalid extended property key (at most 44 characters).');
        }
        if (typeof val !== 'string' || val.length > 1024) {
          throw errors.badRequest('Invalid extended property value (a string of at most 1024 characters).');
        }
      }
      if (Object.keys(props).length === 0) delete ext[scope];
    }
  }
  const attendees = fields.attendees;
  if (attendees !== undefined) {
    if (!Array.isArray(attendees)) throw errors.badRequest('Invalid value for: attendees');
    for (const a of attendees) {
      if (!isPlainObject(a) || typeof a.email !== 'string' || !a.email.includes('@')) {
        throw errors.badRequest('Invalid attendee email.');
      }
    }
  }
  return fields;
}

/**
 * Validate a complete event representation (insert body, update body, or current ⊕ patch) and
 * normalise it.
 */
export function validateEvent(input: JsonObject, isException: boolean): ValidEvent {
  const status = (input.status ?? 'confirmed') as EventStatus;
  if (status !== 'confirmed' && status !== 'tentative' && status !== 'cancelled') {
    throw errors.badRequest('Invalid value for: status');
  }
  if (input.start === undefined || input.start === null) throw errors.required('Missing start time.');
  if (input.end === undefined || input.end === null) throw errors.required('Missing end time.');
  const start = parseTime(input.start, 'start');
  const end = parseTime(input.end, 'end');
  if (start.kind !== end.kind) {
    throw errors.badRequest('Start and end times must either both be date or both be dateTime.');
  }
  if (start.kind === 'date' && end.kind === 'date') {
    if (end.date <= start.date) throw errors.timeRangeEmpty();
  } else if (start.kind === 'dateTime' && end.kind === 'dateTime' && end.ms <= start.ms) {
    throw errors.timeRangeEmpty();
  }
  let recurrence: string[] | undefined;
  if (input.recurrence !== undefined && input.recurrence !== null) {
    if (!Array.isArray(input.recurrence)) throw errors.badRequest('Invalid recurrence rule.');
    if (input.recurrence.length > 0) {
      if (isException) throw errors.badRequest('Invalid recurrence rule.');
      try {
        parseRecurrence(input.recurrence);
      } catch (e) {
        if (e instanceof RecurrenceError) throw errors.badRequest('Invalid recurrence rule.');
        throw e;
      }
      if (start.kind === 'dateTime' && !start.timeZone) {
        throw errors.badRequest('Missing time zone definition for start time.');
      }
      if (end.kind === 'dateTime' && !end.timeZone) {
        throw errors.badRequest('Missing time zone definition for end time.');
      }
      recurrence = (input.recurrence as string[]).map((l) => l.trim());
    }
  }
  const fields = validateFields(input);
  return { status, start, end, ...(recurrence ? { recurrence } : {}), fields };
}
