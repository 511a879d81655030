/**
 * The one catalogue of error codes. REST answers carry `{"error": {"code", "message"}}` with the
 * entry's HTTP status; WebSocket closes carry the entry's close code with the code string as reason.
 * Codes are stable: clients act on them, never on the message text.
 */
import { CLOSE_CODES as C } from './close-codes.js';

export interface ErrorEntry {
  /** The HTTP status of a REST answer with this code. */
  status: number;
  /** The WebSocket close code of a socket closed for this code. */
  closeCode: number;
  /** The default message; a particular answer may say more. */
  message: string;
}

export const ERRORS = {
  VALIDATION_FAILED: { status: 400, closeCode: C.BAD_REQUEST, message: 'The request is invalid.' },
  MALFORMED_MESSAGE: { status: 400, closeCode: C.BAD_REQUEST, message: 'The message could not be decoded.' },
  UNAUTHENTICATED: { status: 401, closeCode: C.UNAUTHORIZED, message: 'A valid access token is required.' },
  TOKEN_EXPIRED: { status: 401, closeCode: C.UNAUTHORIZED, message: 'The access token has expired.' },
  INVALID_CREDENTIALS: { status: 401, closeCode: C.UNAUTHORIZED, message: 'Wrong username or password.' },
  REFRESH_TOKEN_INVALID: { status: 401, closeCode: C.UNAUTHORIZED, message: 'The refresh token is invalid or expired.' },
  REFRESH_TOKEN_REUSED: {
    status: 401,
    closeCode: C.UNAUTHORIZED,
    message: 'The refresh token was already used; every session of this login was signed out.',
  },
  FORBIDDEN: { status: 403, closeCode: C.FORBIDDEN, message: 'Your role in this room does not allow that.' },
  ROOM_ACCESS_DENIED: { status: 403, closeCode: C.FORBIDDEN, message: 'No such room, or you are not a member of it.' },
  READ_ONLY: { status: 403, closeCode: C.FORBIDDEN, message: 'Viewers cannot change the calendar.' },
  MEMBERSHIP_REVOKED: { status: 403, closeCode: C.FORBIDDEN, message: 'You are no longer a member of this room.' },
  TOKEN_USER_MISMATCH: { status: 403, closeCode: C.FORBIDDEN, message: 'The new token belongs to another user.' },
  NOT_FOUND: { status: 404, closeCode: C.NOT_FOUND, message: 'Nothing is here.' },
  ROOM_NOT_FOUND: { status: 404, closeCode: C.NOT_FOUND, message: 'No such room, or you are not a member of it.' },
  MEMBER_NOT_FOUND: { status: 404, closeCode: C.NOT_FOUND, message: 'That user is not a member of this room.' },
  INVITE_NOT_FOUND: { status: 404, closeCode: C.NOT_FOUND, message: 'No such invite.' },
  USERNAME_TAKEN: { status: 409, closeCode: C.CONFLICT, message: 'That username is taken.' },
  LAST_OWNER: { status: 409, closeCode: C.CONFLICT, message: 'A room must keep at least one owner.' },
  INVITE_EXPIRED: { status: 410, closeCode: C.GONE, message: 'This invite has expired.' },
  INVITE_USED_UP: { status: 410, closeCode: C.GONE, message: 'This invite has been used up.' },
  PAYLOAD_TOO_LARGE: { status: 413, closeCode: C.MESSAGE_TOO_BIG, message: 'The message is too large.' },
  // HTTP only: requests Node's HTTP parser refuses before any route (no socket closes with these).
  HEADERS_TOO_LARGE: { status: 431, closeCode: C.TOO_LARGE, message: 'The request headers are larger than the server accepts.' },
  REQUEST_TIMEOUT: { status: 408, closeCode: C.TRY_AGAIN_LATER, message: 'The request did not arrive in time.' },
  ROOM_TOO_LARGE: { status: 413, closeCode: C.TOO_LARGE, message: 'The room has reached its size limit.' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, closeCode: C.UNSUPPORTED_MEDIA_TYPE, message: 'Send JSON.' },
  RATE_LIMITED: { status: 429, closeCode: C.TOO_MANY_REQUESTS, message: 'Too many requests; slow down.' },
  TOO_MANY_SOCKETS: {
    status: 429,
    closeCode: C.TOO_MANY_REQUESTS,
    message: 'Too many open connections for this user or address; close some, then retry.',
  },
  SERVER_MEMORY_FULL: {
    status: 503,
    closeCode: C.TRY_AGAIN_LATER,
    message: 'The server holds as many calendars in memory as it can; try again shortly.',
  },
  PRESENCE_TOO_LARGE: { status: 413, closeCode: C.TOO_LARGE, message: 'A presence (awareness) state is over the size limit.' },
  // Calendar (events, the live JSON socket, ICS feeds and import).
  EVENT_NOT_FOUND: { status: 404, closeCode: C.NOT_FOUND, message: 'No such event in this room.' },
  INVALID_DATE: { status: 400, closeCode: C.BAD_REQUEST, message: 'A date or time could not be read.' },
  END_BEFORE_START: { status: 400, closeCode: C.BAD_REQUEST, message: 'The end must come after the start.' },
  UNKNOWN_TIME_ZONE: { status: 400, closeCode: C.BAD_REQUEST, message: 'The time zone is not a known IANA zone.' },
  INVALID_RECURRENCE: { status: 400, closeCode: C.BAD_REQUEST, message: 'The recurrence is invalid or unsupported.' },
  FIELD_TOO_LONG: { status: 400, closeCode: C.BAD_REQUEST, message: 'A field is longer than allowed.' },
  TOO_MANY_ITEMS: { status: 400, closeCode: C.BAD_REQUEST, message: 'A list has more entries than allowed.' },
  WINDOW_TOO_LARGE: { status: 400, closeCode: C.BAD_REQUEST, message: 'The time window is too large.' },
  INVALID_ICALENDAR: { status: 400, closeCode: C.BAD_REQUEST, message: 'The iCalendar data could not be read.' },
  UNSUPPORTED_TIME_ZONE: {
    status: 400,
    closeCode: C.BAD_REQUEST,
    message: 'A VTIMEZONE of the file uses rules no real time zone uses.',
  },
  IMPORT_TOO_LARGE: { status: 413, closeCode: C.TOO_LARGE, message: 'The file holds more components than one import may.' },
  IMPORT_TIME_LIMIT: { status: 422, closeCode: C.BAD_REQUEST, message: 'The import took longer than allowed.' },
  IMPORT_MEMORY_LIMIT: { status: 422, closeCode: C.BAD_REQUEST, message: 'The import needed more memory than allowed.' },
  IMPORT_BUSY: { status: 503, closeCode: C.TRY_AGAIN_LATER, message: 'Too many imports are running; try again shortly.' },
  FEED_NOT_FOUND: { status: 404, closeCode: C.NOT_FOUND, message: 'No such calendar feed (it may have been revoked).' },
  UNKNOWN_MESSAGE_TYPE: { status: 400, closeCode: C.BAD_REQUEST, message: 'Unknown message type.' },
  NOT_JOINED: { status: 409, closeCode: C.CONFLICT, message: 'Join the room first.' },
  // CalDAV (app passwords: HTTP Basic for phones' calendar apps).
  BASIC_AUTH_REQUIRED: {
    status: 401,
    closeCode: C.UNAUTHORIZED,
    message: 'Sign in with your Kith username and an app password (HTTP Basic).',
  },
  APP_PASSWORD_NOT_FOUND: { status: 404, closeCode: C.NOT_FOUND, message: 'No such app password (it may have been revoked).' },
  TOO_MANY_APP_PASSWORDS: {
    status: 409,
    closeCode: C.CONFLICT,
    message: 'You have as many app passwords as allowed; revoke one you no longer use first.',
  },
  // Notifications: push subscriptions, email addresses, unsubscribe links, account recovery.
  INVALID_PUSH_SUBSCRIPTION: {
    status: 400,
    closeCode: C.BAD_REQUEST,
    message: 'The push subscription is invalid (an https endpoint and base64url keys p256dh of 65 bytes and auth of 16).',
  },
  PUSH_HOST_NOT_ALLOWED: { status: 400, closeCode: C.BAD_REQUEST, message: 'That push service is not one this server sends to.' },
  PUSH_SUBSCRIPTION_NOT_FOUND: { status: 404, closeCode: C.NOT_FOUND, message: 'No such push subscription.' },
  TOO_MANY_PUSH_SUBSCRIPTIONS: {
    status: 409,
    closeCode: C.CONFLICT,
    message: 'You have as many push subscriptions as allowed; remove one you no longer use first.',
  },
  PUSH_NOT_CONFIGURED: { status: 503, closeCode: C.INTERNAL_ERROR, message: 'This server does not send push notifications.' },
  INVALID_EMAIL: { status: 400, closeCode: C.BAD_REQUEST, message: 'That is not an email address this server can send to.' },
  EMAIL_NOT_CONFIGURED: { status: 503, closeCode: C.INTERNAL_ERROR, message: 'This server does not send email (no SMTP_URL).' },
  EMAIL_CODE_INVALID: { status: 400, closeCode: C.BAD_REQUEST, message: 'The code is wrong or has expired; ask for a new one.' },
  EMAIL_NOT_PENDING: { status: 409, closeCode: C.CONFLICT, message: 'No email address is waiting for a code; add one first.' },
  EMAIL_SEND_FAILED: { status: 503, closeCode: C.TRY_AGAIN_LATER, message: 'The email could not be sent just now; try again later.' },
  UNSUBSCRIBE_TOKEN_INVALID: { status: 400, closeCode: C.BAD_REQUEST, message: 'The unsubscribe link is invalid.' },
  RESET_TOKEN_INVALID: {
    status: 400,
    closeCode: C.BAD_REQUEST,
    message: 'The password reset link is invalid, used or expired; ask for a new one.',
  },
  // Rooms: how many one user may own, how many usable invites one room may hold.
  TOO_MANY_ROOMS: {
    status: 409,
    closeCode: C.CONFLICT,
    message: 'You own as many rooms as allowed; delete one or hand it to another member first.',
  },
  TOO_MANY_INVITES: {
    status: 409,
    closeCode: C.CONFLICT,
    message: 'This room has as many usable invites as allowed; revoke one first, or wait for one to expire or be used up.',
  },
  // Accounts (delete my account).
  ACCOUNT_OWNS_ROOMS: {
    status: 409,
    closeCode: C.CONFLICT,
    message: 'You are the only owner of some rooms: say for each whether to delete it or hand it to another member.',
  },
  PRECONDITION_FAILED: {
    status: 412,
    closeCode: C.CONFLICT,
    message: 'The object changed (or exists, or is gone) since you read it: If-Match / If-None-Match did not hold.',
  },
  // CalDAV PUT preconditions (RFC 4791 §5.3.2.1) are 403: the same request would always fail (§1.3).
  UID_MISMATCH: {
    status: 403,
    closeCode: C.FORBIDDEN,
    message: 'Another resource of this calendar holds the object’s UID, or the resource holds another UID (CALDAV:no-uid-conflict).',
  },
  INVALID_CALENDAR_OBJECT: {
    status: 403,
    closeCode: C.FORBIDDEN,
    message: 'The calendar object cannot be stored: it is not iCalendar, holds no VEVENT, or is not one event with its overrides.',
  },
  INVALID_SYNC_TOKEN: { status: 403, closeCode: C.FORBIDDEN, message: 'The sync token is unknown for this calendar; sync again from the start.' },
  DEPTH_NOT_SUPPORTED: { status: 403, closeCode: C.FORBIDDEN, message: 'PROPFIND with Depth: infinity is not supported; use 0 or 1.' },
  UNSUPPORTED_REPORT: { status: 403, closeCode: C.FORBIDDEN, message: 'This REPORT is not supported here.' },
  // RFC 4791 §7.8's postcondition DAV:number-of-matches-within-limits; 403 as in §1.3 (and sabre/dav).
  TOO_MANY_MATCHES: {
    status: 403,
    closeCode: C.FORBIDDEN,
    message: 'The answer would hold more than the server sends at once; ask for a shorter time range or fewer objects.',
  },
  METHOD_NOT_ALLOWED: { status: 405, closeCode: C.BAD_REQUEST, message: 'That method is not allowed on this resource.' },
  OBJECT_NOT_WRITABLE: {
    status: 409,
    closeCode: C.CONFLICT,
    message: 'This event is part of a series split in Kith (“this and following”); edit it in Kith.',
  },
  // Notifications and comments (the notify module).
  COMMENT_NOT_FOUND: { status: 404, closeCode: C.NOT_FOUND, message: 'No such comment on this event.' },
  NOT_COMMENT_AUTHOR: { status: 403, closeCode: C.FORBIDDEN, message: 'Only the author of a comment may change or delete it.' },
  // Access (registration policy, invites that removals cannot undo, link building).
  REGISTRATION_CLOSED: { status: 403, closeCode: C.FORBIDDEN, message: 'This server does not accept new accounts.' },
  INVITE_REQUIRED: {
    status: 403,
    closeCode: C.FORBIDDEN,
    message: 'This server only accepts new accounts with an invite code (inviteCode).',
  },
  INVITE_REVOKED: { status: 410, closeCode: C.GONE, message: 'This invite has been revoked.' },
  REMOVED_FROM_ROOM: {
    status: 403,
    closeCode: C.FORBIDDEN,
    message: 'You were removed from this room; only a new invite from an owner lets you back in.',
  },
  PUBLIC_URL_REQUIRED: {
    status: 503,
    closeCode: C.INTERNAL_ERROR,
    message: 'The server needs --public-url (KITH_PUBLIC_URL) to make links.',
  },
  METRICS_FORBIDDEN: {
    status: 403,
    closeCode: C.FORBIDDEN,
    message: 'Metrics are served to loopback clients, or to anyone with the metrics token (KITH_METRICS_TOKEN).',
  },
  INTERNAL: { status: 500, closeCode: C.INTERNAL_ERROR, message: 'Something went wrong on the server.' },
  ROOM_UNAVAILABLE: { status: 503, closeCode: C.TRY_AGAIN_LATER, message: 'The room could not be loaded; try again.' },
  SHUTTING_DOWN: { status: 503, closeCode: C.GOING_AWAY, message: 'The server is shutting down.' },
  STORAGE_UNAVAILABLE: {
    status: 503,
    closeCode: C.TRY_AGAIN_LATER,
    message: 'Storage is not accepting writes (e.g. the disk is full); nothing was saved, try again later.',
  },
} as const satisfies Record<string, ErrorEntry>;

export type ErrorCode = keyof typeof ERRORS;

/** The JSON body of every REST error answer. */
export interface ErrorBody<Code extends string = ErrorCode> {
  error: { code: Code; message: string };
}

export function errorBody(code: ErrorCode, message?: string): ErrorBody {
  return { error: { code, message: message ?? ERRORS[code].message } };
}
