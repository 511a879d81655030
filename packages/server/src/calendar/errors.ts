/**
 * Model errors as API errors. The model throws `ModelError` with a stable code and the name of the
 * model field at fault; the API answers with a catalogue code and a message that names the field as
 * the API spells it (`eventTitle`, `startTime`, `timeZone`, `recurrence`, …).
 */
import { ModelError, type ModelErrorCode } from '@kith/model';
import { KithError, type ErrorCode } from '../errors/catalogue.js';

const CODES: Record<ModelErrorCode, ErrorCode> = {
  INVALID_INPUT: 'VALIDATION_FAILED',
  FIELD_TOO_LONG: 'FIELD_TOO_LONG',
  TOO_MANY_ITEMS: 'TOO_MANY_ITEMS',
  INVALID_DATE: 'INVALID_DATE',
  END_BEFORE_START: 'END_BEFORE_START',
  UNKNOWN_TIME_ZONE: 'UNKNOWN_TIME_ZONE',
  INVALID_RRULE: 'INVALID_RECURRENCE',
  INVALID_SPLIT: 'VALIDATION_FAILED',
  EVENT_NOT_FOUND: 'EVENT_NOT_FOUND',
  EVENT_EXISTS: 'VALIDATION_FAILED',
  // The REST API and the live socket do not show the trash: a trashed event is gone for them.
  EVENT_DELETED: 'EVENT_NOT_FOUND',
  NOT_RECURRING: 'VALIDATION_FAILED',
  OCCURRENCE_NOT_FOUND: 'VALIDATION_FAILED',
  UNREADABLE_EVENT: 'VALIDATION_FAILED',
  COMMENT_NOT_FOUND: 'COMMENT_NOT_FOUND',
  NOT_AUTHOR: 'NOT_COMMENT_AUTHOR',
};

/** Model field → API field. Fields not listed are spelled the same in both. */
const FIELDS: Record<string, string> = {
  title: 'eventTitle',
  start: 'startTime',
  end: 'endTime',
  tz: 'timeZone',
  endTz: 'endTimeZone',
  rrule: 'recurrence',
  exdates: 'recurrence',
  rdates: 'recurrence',
  id: 'eventId',
  event: 'body',
  patch: 'body',
};

export function apiFieldName(modelField: string): string {
  return FIELDS[modelField] ?? modelField;
}

/** The API error for a model error: its catalogue code, and a message naming the API field. */
export function fromModelError(err: ModelError): KithError {
  const code = CODES[err.code] ?? 'VALIDATION_FAILED';
  let message = err.message;
  if (err.field !== undefined) {
    const api = apiFieldName(err.field);
    if (message.startsWith(err.field) && !/^[\w.]/.test(message.charAt(err.field.length))) {
      message = api + message.slice(err.field.length);
    } else if (!message.startsWith(api)) {
      message = `${api}: ${message}`;
    }
  }
  return new KithError(code, message);
}

/** Runs `fn`, turning a ModelError into the matching KithError. */
export function modelCall<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof ModelError) throw fromModelError(err);
    throw err;
  }
}

/** Any error as a KithError (anything unexpected becomes INTERNAL). */
export function asKithError(err: unknown): KithError {
  if (err instanceof KithError) return err;
  if (err instanceof ModelError) return fromModelError(err);
  return new KithError('INTERNAL');
}
