/**
 * WebSocket close codes kith-server uses. Kith's own are 4000 + the HTTP status they mirror (so a
 * reader who knows HTTP knows them); the standard ones are those of RFC 6455 whose meaning fits.
 */
export const CLOSE_CODES = {
  /** 1001: the server is going away (shutting down); reconnect. */
  GOING_AWAY: 1001,
  /** 1009: a message over the size limit. */
  MESSAGE_TOO_BIG: 1009,
  /** 1011: the server hit an unexpected condition; reconnect. */
  INTERNAL_ERROR: 1011,
  /** 1013: try again later (room not loadable, storage refusing writes, too busy). */
  TRY_AGAIN_LATER: 1013,
  BAD_REQUEST: 4400,
  UNAUTHORIZED: 4401,
  FORBIDDEN: 4403,
  NOT_FOUND: 4404,
  CONFLICT: 4409,
  GONE: 4410,
  TOO_LARGE: 4413,
  UNSUPPORTED_MEDIA_TYPE: 4415,
  TOO_MANY_REQUESTS: 4429,
} as const;

export type CloseCode = (typeof CLOSE_CODES)[keyof typeof CLOSE_CODES];

/**
 * Closes after which reconnecting cannot help (other than 4401, which asks for a token refresh, and
 * 4403, which means access is gone), each with the error code to report when a close carries no
 * reason (kith-server always gives the catalogue code as the reason; a proxy may not).
 */
export const TERMINAL_CLOSES: Readonly<Record<number, string>> = {
  [CLOSE_CODES.MESSAGE_TOO_BIG]: 'PAYLOAD_TOO_LARGE',
  [CLOSE_CODES.BAD_REQUEST]: 'MALFORMED_MESSAGE',
  [CLOSE_CODES.NOT_FOUND]: 'NOT_FOUND',
  [CLOSE_CODES.CONFLICT]: 'CONFLICT',
  [CLOSE_CODES.GONE]: 'GONE',
  [CLOSE_CODES.TOO_LARGE]: 'ROOM_TOO_LARGE',
  [CLOSE_CODES.UNSUPPORTED_MEDIA_TYPE]: 'UNSUPPORTED_MEDIA_TYPE',
};
