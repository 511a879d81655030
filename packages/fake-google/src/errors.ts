/**
 * Google's error shapes.
 *
 * Calendar API (Apiary) errors use
 * `{ error: { code, message, errors: [{ domain, reason, message, locationType?, location? }], status? } }`
 * (bodies copied from developers.google.com/workspace/calendar/api/guides/errors).
 * OAuth endpoints use `{ error, error_description }`.
 */

export interface GoogleErrorItem {
  domain: string;
  reason: string;
  message: string;
  locationType?: string;
  location?: string;
}

export interface GoogleErrorBody {
  error: {
    code: number;
    message: string;
    errors: GoogleErrorItem[];
    status?: string;
  };
}

/** gRPC-style status names Google's front end adds next to the HTTP code. 410 has none. */
const STATUS_BY_CODE: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  409: 'ALREADY_EXISTS',
  412: 'FAILED_PRECONDITION',
  429: 'RESOURCE_EXHAUSTED',
  500: 'INTERNAL',
  503: 'UNAVAILABLE',
};

export class GoogleApiError extends Error {
  readonly code: number;
  readonly item: GoogleErrorItem;
  readonly topMessage: string;
  readonly status: string | undefined;
  readonly headers: Record<string, string>;

  constructor(
    code: number,
    item: GoogleErrorItem,
    opts: { topMessage?: string; status?: string | null; headers?: Record<string, string> } = {},
  ) {
    super(opts.topMessage ?? item.message);
    this.code = code;
    this.item = item;
    this.topMessage = opts.topMessage ?? item.message;
    this.status = opts.status === null ? undefined : (opts.status ?? STATUS_BY_CODE[code]);
    this.headers = opts.headers ?? {};
  }

  toBody(): GoogleErrorBody {
    const body: GoogleErrorBody = {
      error: { code: this.code, message: this.topMessage, errors: [{ ...this.item }] },
    };
    if (this.status) body.error.status = this.status;
    return body;
  }
}

const item = (
  domain: string,
  reason: string,
  message: string,
  location?: { type: string; name: string },
): GoogleErrorItem => ({
  domain,
  reason,
  message,
  ...(location ? { locationType: location.type, location: location.name } : {}),
});

export const errors = {
  /** 400 with reason `invalid` (or another reason), domain `global` unless given. */
  badRequest(message: string, reason = 'invalid', domain = 'global', location?: { type: string; name: string }) {
    return new GoogleApiError(400, item(domain, reason, message, location));
  },
  required(message: string, location?: { type: string; name: string }) {
    return new GoogleApiError(400, item('global', 'required', message, location));
  },
  parseError() {
    return new GoogleApiError(400, item('global', 'parseError', 'Parse Error'));
  },
  invalidParameter(name: string, message?: string) {
    return new GoogleApiError(
      400,
      item('global', 'invalidParameter', message ?? `Invalid value for parameter '${name}'.`, {
        type: 'parameter',
        name,
      }),
    );
  },
  timeRangeEmpty(location?: string) {
    return new GoogleApiError(
      400,
      item(
        'calendar',
        'timeRangeEmpty',
        'The specified time range is empty.',
        location ? { type: 'parameter', name: location } : undefined,
      ),
    );
  },
  loginRequired() {
    return new GoogleApiError(
      401,
      item('global', 'required', 'Login Required.', { type: 'header', name: 'Authorization' }),
      {
        topMessage:
          'Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential.',
        headers: { 'www-authenticate': 'Bearer realm="https://accounts.google.com/"' },
      },
    );
  },
  authError() {
    return new GoogleApiError(
      401,
      item('global', 'authError', 'Invalid Credentials', { type: 'header', name: 'Authorization' }),
      { headers: { 'www-authenticate': 'Bearer realm="https://accounts.google.com/", error="invalid_token"' } },
    );
  },
  insufficientPermissions() {
    return new GoogleApiError(403, item('global', 'insufficientPermissions', 'Insufficient Permission'), {
      topMessage: 'Request had insufficient authentication scopes.',
    });
  },
  forbidden(message = 'Forbidden') {
    return new GoogleApiError(403, item('global', 'forbidden', message));
  },
  rateLimitExceeded(code: 403 | 429 = 403) {
    return new GoogleApiError(code, item('usageLimits', 'rateLimitExceeded', 'Rate Limit Exceeded'));
  },
  userRateLimitExceeded() {
    return new GoogleApiError(403, item('usageLimits', 'userRateLimitExceeded', 'User Rate Limit Exceeded'));
  },
  quotaExceeded() {
    return new GoogleApiError(403, item('usageLimits', 'quotaExceeded', 'Calendar usage limits exceeded.'));
  },
  notFound() {
    return new GoogleApiError(404, item('global', 'notFound', 'Not Found'));
  },
  duplicate() {
    return new GoogleApiError(409, item('global', 'duplicate', 'The requested identifier already exists.'));
  },
  deleted() {
    return new GoogleApiError(410, item('global', 'deleted', 'Resource has been deleted'));
  },
  fullSyncRequired() {
    return new GoogleApiError(
      410,
      item('calendar', 'fullSyncRequired', 'Sync token is no longer valid, a full sync is required.', {
        type: 'parameter',
        name: 'syncToken',
      }),
    );
  },
  updatedMinTooLongAgo() {
    return new GoogleApiError(
      410,
      item('calendar', 'updatedMinTooLongAgo', 'The requested minimum modification time lies too far in the past.', {
        type: 'parameter',
        name: 'updatedMin',
      }),
    );
  },
  conditionNotMet() {
    return new GoogleApiError(
      412,
      item('global', 'conditionNotMet', 'Precondition Failed', { type: 'header', name: 'If-Match' }),
    );
  },
  backendError(code: 500 | 503 = 500) {
    return new GoogleApiError(code, item('global', 'backendError', 'Backend Error'));
  },
};

/** OAuth endpoint errors (`/token`, `/revoke`, `/tokeninfo`). */
export class OAuthError extends Error {
  constructor(
    readonly httpStatus: number,
    readonly error: string,
    readonly description: string,
  ) {
    super(`${error}: ${description}`);
  }

  toBody(): { error: string; error_description: string } {
    return { error: this.error, error_description: this.description };
  }
}
