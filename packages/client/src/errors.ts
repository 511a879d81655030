/**
 * Errors the client throws. REST failures carry the server's catalogue code (`ROOM_NOT_FOUND`,
 * `TOKEN_EXPIRED`, …); a few codes are the client's own and never come from the server:
 *
 * - `NETWORK_ERROR` (status 0): the server could not be reached.
 * - `UNEXPECTED_RESPONSE`: the server answered something that is not Kith's JSON error shape.
 * - `NOT_LOGGED_IN` (status 401): the call needs a session and there is none.
 * - `CLIENT_CLOSED` (status 0): `close()` was called (a refresh, or an `openCalendar` still loading).
 */
export class KithApiError extends Error {
  override name = 'KithApiError';
  /** HTTP status; 0 when no answer arrived. */
  readonly status: number;
  /** The server's stable error code (or one of the client's own, see above). */
  readonly code: string;
  /** Seconds to wait before retrying, from `Retry-After` (429 answers). */
  readonly retryAfter: number | undefined;

  constructor(status: number, code: string, message: string, retryAfter?: number) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

/** A sync socket closed for a reason reconnecting cannot fix (the close reason is the catalogue code). */
export class KithSyncError extends Error {
  override name = 'KithSyncError';
  constructor(
    /** The server's error code, e.g. `ROOM_TOO_LARGE`; `MESSAGE_TOO_LARGE` for close code 1009. */
    readonly code: string,
    /** The WebSocket close code, e.g. 4413. */
    readonly closeCode: number,
    message?: string,
  ) {
    super(message ?? `The sync connection was closed: ${code} (${closeCode}).`);
  }
}
