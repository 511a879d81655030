/**
 * The server's side of the error catalogue: the catalogue itself (codes, HTTP statuses, close codes,
 * messages) is @kith/protocol's, shared with clients; here is the error the server throws for it.
 */
import { ERRORS, errorBody, type ErrorBody, type ErrorCode } from '@kith/protocol';

export { ERRORS, errorBody, type ErrorCode };

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

  toJSON(): ErrorBody {
    return { error: { code: this.code, message: this.message } };
  }
}
