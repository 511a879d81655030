/**
 * The one catalogue of error codes. REST answers carry `{"error": {"code", "message"}}` with the
 * entry's HTTP status; WebSocket closes carry the entry's close code with the code string as reason.
 * Codes are stable: clients act on them, never on the message text.
 */
export const ERRORS = {
  VALIDATION_FAILED: { status: 400, closeCode: 4400, message: 'The request is invalid.' },
  MALFORMED_MESSAGE: { status: 400, closeCode: 4400, message: 'The message could not be decoded.' },
  UNAUTHENTICATED: { status: 401, closeCode: 4401, message: 'A valid access token is required.' },
  TOKEN_EXPIRED: { status: 401, closeCode: 4401, message: 'The access token has expired.' },
  INVALID_CREDENTIALS: { status: 401, closeCode: 4401, message: 'Wrong username or password.' },
  REFRESH_TOKEN_INVALID: { status: 401, closeCode: 4401, message: 'The refresh token is invalid or expired.' },
  REFRESH_TOKEN_REUSED: {
    status: 401,
    closeCode: 4401,
    message: 'The refresh token was already used; every session of this login was signed out.',
  },
  FORBIDDEN: { status: 403, closeCode: 4403, message: 'Your role in this room does not allow that.' },
  ROOM_ACCESS_DENIED: { status: 403, closeCode: 4403, message: 'No such room, or you are not a member of it.' },
  READ_ONLY: { status: 403, closeCode: 4403, message: 'Viewers cannot change the calendar.' },
  MEMBERSHIP_REVOKED: { status: 403, closeCode: 4403, message: 'You are no longer a member of this room.' },
  TOKEN_USER_MISMATCH: { status: 403, closeCode: 4403, message: 'The new token belongs to another user.' },
  NOT_FOUND: { status: 404, closeCode: 4404, message: 'Nothing is here.' },
  ROOM_NOT_FOUND: { status: 404, closeCode: 4404, message: 'No such room, or you are not a member of it.' },
  MEMBER_NOT_FOUND: { status: 404, closeCode: 4404, message: 'That user is not a member of this room.' },
  INVITE_NOT_FOUND: { status: 404, closeCode: 4404, message: 'No such invite.' },
  USERNAME_TAKEN: { status: 409, closeCode: 4409, message: 'That username is taken.' },
  LAST_OWNER: { status: 409, closeCode: 4409, message: 'A room must keep at least one owner.' },
  INVITE_EXPIRED: { status: 410, closeCode: 4410, message: 'This invite has expired.' },
  INVITE_USED_UP: { status: 410, closeCode: 4410, message: 'This invite has been used up.' },
  PAYLOAD_TOO_LARGE: { status: 413, closeCode: 1009, message: 'The message is too large.' },
  ROOM_TOO_LARGE: { status: 413, closeCode: 4413, message: 'The room has reached its size limit.' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, closeCode: 4415, message: 'Send JSON.' },
  RATE_LIMITED: { status: 429, closeCode: 4429, message: 'Too many requests; slow down.' },
  TOO_MANY_SOCKETS: {
    status: 429,
    closeCode: 4429,
    message: 'Too many open connections for this user or address; close some, then retry.',
  },
  PRESENCE_TOO_LARGE: { status: 413, closeCode: 4413, message: 'A presence (awareness) state is over the size limit.' },
  // Calendar (events, the live JSON socket, ICS feeds and import).
  EVENT_NOT_FOUND: { status: 404, closeCode: 4404, message: 'No such event in this room.' },
  INVALID_DATE: { status: 400, closeCode: 4400, message: 'A date or time could not be read.' },
  END_BEFORE_START: { status: 400, closeCode: 4400, message: 'The end must come after the start.' },
  UNKNOWN_TIME_ZONE: { status: 400, closeCode: 4400, message: 'The time zone is not a known IANA zone.' },
  INVALID_RECURRENCE: { status: 400, closeCode: 4400, message: 'The recurrence is invalid or unsupported.' },
  FIELD_TOO_LONG: { status: 400, closeCode: 4400, message: 'A field is longer than allowed.' },
  TOO_MANY_ITEMS: { status: 400, closeCode: 4400, message: 'A list has more entries than allowed.' },
  WINDOW_TOO_LARGE: { status: 400, closeCode: 4400, message: 'The time window is too large.' },
  INVALID_ICALENDAR: { status: 400, closeCode: 4400, message: 'The iCalendar data could not be read.' },
  UNSUPPORTED_TIME_ZONE: {
    status: 400,
    closeCode: 4400,
    message: 'A VTIMEZONE of the file uses rules no real time zone uses.',
  },
  IMPORT_TOO_LARGE: { status: 413, closeCode: 4413, message: 'The file holds more components than one import may.' },
  IMPORT_TIME_LIMIT: { status: 422, closeCode: 4400, message: 'The import took longer than allowed.' },
  IMPORT_MEMORY_LIMIT: { status: 422, closeCode: 4400, message: 'The import needed more memory than allowed.' },
  IMPORT_BUSY: { status: 503, closeCode: 1013, message: 'Too many imports are running; try again shortly.' },
  FEED_NOT_FOUND: { status: 404, closeCode: 4404, message: 'No such calendar feed (it may have been revoked).' },
  UNKNOWN_MESSAGE_TYPE: { status: 400, closeCode: 4400, message: 'Unknown message type.' },
  NOT_JOINED: { status: 409, closeCode: 4409, message: 'Join the room first.' },
  // Access (registration policy, invites that removals cannot undo, link building).
  REGISTRATION_CLOSED: { status: 403, closeCode: 4403, message: 'This server does not accept new accounts.' },
  INVITE_REQUIRED: {
    status: 403,
    closeCode: 4403,
    message: 'This server only accepts new accounts with an invite code (inviteCode).',
  },
  INVITE_REVOKED: { status: 410, closeCode: 4410, message: 'This invite has been revoked.' },
  REMOVED_FROM_ROOM: {
    status: 403,
    closeCode: 4403,
    message: 'You were removed from this room; only a new invite from an owner lets you back in.',
  },
  PUBLIC_URL_REQUIRED: {
    status: 503,
    closeCode: 1011,
    message: 'The server needs --public-url (KITH_PUBLIC_URL) to make links.',
  },
  METRICS_FORBIDDEN: {
    status: 403,
    closeCode: 4403,
    message: 'Metrics are served to loopback clients, or to anyone with the metrics token (KITH_METRICS_TOKEN).',
  },
  INTERNAL: { status: 500, closeCode: 1011, message: 'Something went wrong on the server.' },
  ROOM_UNAVAILABLE: { status: 503, closeCode: 1013, message: 'The room could not be loaded; try again.' },
  SHUTTING_DOWN: { status: 503, closeCode: 1001, message: 'The server is shutting down.' },
  STORAGE_UNAVAILABLE: {
    status: 503,
    closeCode: 1013,
    message: 'Storage is not accepting writes (e.g. the disk is full); nothing was saved, try again later.',
  },
} as const satisfies Record<string, { status: number; closeCode: number; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

/** An error the server expects and answers; anything else is an INTERNAL error. */
export class KithError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly closeCode: number;
  readonly headers: Record<string, string>;

  constructor(code: ErrorCode, message?: string, headers: Record<string, string> = {}) {
    super(message ?? ERRORS[code].message);
    this.name = 'KithError';
    this.code = code;
    this.status = ERRORS[code].status;
    this.closeCode = ERRORS[code].closeCode;
    this.headers = headers;
  }

  toJSON(): { error: { code: ErrorCode; message: string } } {
    return { error: { code: this.code, message: this.message } };
  }
}

export function errorBody(code: ErrorCode, message?: string): { error: { code: ErrorCode; message: string } } {
  return { error: { code, message: message ?? ERRORS[code].message } };
}
