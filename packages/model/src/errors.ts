/**
 * The model's catalogue of error codes. Codes are stable: the server maps them to its own answers
 * and clients act on them, never on the message text, which names the offending field.
 */
export const MODEL_ERRORS = {
  INVALID_INPUT: 'The input has the wrong shape.',
  FIELD_TOO_LONG: 'A field is longer than allowed.',
  TOO_MANY_ITEMS: 'A list has more entries than allowed.',
  INVALID_DATE: 'A date or time could not be read.',
  END_BEFORE_START: 'The end must come after the start.',
  UNKNOWN_TIME_ZONE: 'The time zone is not a known IANA zone.',
  INVALID_RRULE: 'The recurrence rule is invalid or unsupported.',
  INVALID_SPLIT: 'The series cannot be split like that.',
  EVENT_NOT_FOUND: 'No such event.',
  EVENT_EXISTS: 'An event with this id already exists.',
  EVENT_DELETED: 'The event is in the trash; restore it first.',
  NOT_RECURRING: 'The event does not repeat.',
  OCCURRENCE_NOT_FOUND: 'The series has no occurrence with this key.',
  UNREADABLE_EVENT: 'The event holds values that cannot be read or expanded.',
  COMMENT_NOT_FOUND: 'No such comment.',
  NOT_AUTHOR: 'Only the author of a comment may change or delete it.',
} as const;

export type ModelErrorCode = keyof typeof MODEL_ERRORS;

/** An error the model raises on purpose; `field` names the input field at fault, when there is one. */
export class ModelError extends Error {
  readonly code: ModelErrorCode;
  readonly field: string | undefined;

  constructor(code: ModelErrorCode, message?: string, field?: string) {
    super(message ?? MODEL_ERRORS[code]);
    this.name = 'ModelError';
    this.code = code;
    this.field = field;
  }
}

export function tooLong(field: string, length: number, limit: number): ModelError {
  return new ModelError('FIELD_TOO_LONG', `${field} is ${length} characters long; the limit is ${limit}`, field);
}
