/** Per-route fault injection. */
import { errors, type GoogleApiError, OAuthError } from './errors.js';

export const FAULT_KINDS = [
  /** 403 usageLimits/rateLimitExceeded. */
  'rateLimitExceeded',
  /** 403 usageLimits/userRateLimitExceeded. */
  'userRateLimitExceeded',
  /** 403 usageLimits/quotaExceeded ("Calendar usage limits exceeded."). */
  'quotaExceeded',
  /** 429 usageLimits/rateLimitExceeded. */
  'tooManyRequests',
  /** 500 global/backendError. */
  'backendError',
  /** 503 global/backendError. */
  'serviceUnavailable',
  /** 401 global/authError (as if the access token had just expired). */
  'unauthorized',
  /** Apply the request, then destroy the socket without answering. */
  'commitThenDrop',
  /** Destroy the socket without applying the request. */
  'dropConnection',
  /** Wait `delayMs` before handling the request normally. */
  'delay',
] as const;

export type FaultKind = (typeof FAULT_KINDS)[number];

export interface FaultSpec {
  /**
   * Route name as in the client library: `events.insert`, `events.list`, `events.patch`, `events.update`,
   * `events.delete`, `events.get`, `events.instances`, `events.watch`, `channels.stop`, `calendars.insert`,
   * `calendars.get`, `calendars.patch`, `calendars.update`, `calendars.delete`, `calendarList.list`,
   * `calendarList.get`, `oauth.token`, `oauth.revoke`, `oauth.authorize`, `oauth.tokeninfo`; `push` for outgoing
   * notifications (any kind drops the notification); `events.*`-style prefixes; `*` for every API route.
   * A leading `calendar.` is ignored.
   */
  route: string;
  kind: FaultKind;
  /** Fire on this many matching requests (default 1 unless `probability` is set, then unlimited). */
  count?: number;
  /** Fire on each matching request with this probability (seeded PRNG). */
  probability?: number;
  /** Only requests for this calendar id. */
  calendarId?: string;
  /** For `delay`. */
  delayMs?: number;
}

export interface ActiveFault {
  id: string;
  route: string;
  kind: FaultKind;
  remaining: number | null;
  probability: number | null;
  calendarId?: string;
  delayMs?: number;
  fired: number;
}

export interface FiredFault {
  faultId: string;
  route: string;
  kind: FaultKind;
  at: number;
}

const normaliseRoute = (r: string): string => r.replace(/^calendar\./, '');

export class FaultInjector {
  private faults: ActiveFault[] = [];
  readonly fired: FiredFault[] = [];
  private nextId = 1;

  constructor(
    private readonly random: () => number,
    private readonly now: () => number,
  ) {}

  add(spec: FaultSpec): ActiveFault {
    if (!spec || typeof spec.route !== 'string' || spec.route.length === 0) throw new TypeError('fault route is required');
    if (!FAULT_KINDS.includes(spec.kind)) {
      throw new TypeError(`unknown fault kind ${String(spec.kind)}; expected one of ${FAULT_KINDS.join(', ')}`);
    }
    if (spec.count !== undefined && (!Number.isInteger(spec.count) || spec.count < 1)) {
      throw new TypeError('fault count must be a positive integer');
    }
    if (spec.probability !== undefined && !(spec.probability >= 0 && spec.probability <= 1)) {
      throw new TypeError('fault probability must be within [0, 1]');
    }
    const fault: ActiveFault = {
      id: `f${this.nextId++}`,
      route: normaliseRoute(spec.route),
      kind: spec.kind,
      remaining: spec.count ?? (spec.probability !== undefined ? null : 1),
      probability: spec.probability ?? null,
      ...(spec.calendarId !== undefined ? { calendarId: spec.calendarId } : {}),
      ...(spec.delayMs !== undefined ? { delayMs: spec.delayMs } : {}),
      fired: 0,
    };
    this.faults.push(fault);
    return fault;
  }

  remove(id: string): boolean {
    const before = this.faults.length;
    this.faults = this.faults.filter((f) => f.id !== id);
    return this.faults.length !== before;
  }

  clear(): void {
    this.faults = [];
  }

  active(): ActiveFault[] {
    return this.faults.map((f) => ({ ...f }));
  }

  /** The fault to apply to this request, if any (consumes one use). */
  pick(route: string, calendarId: string | undefined): ActiveFault | null {
    for (const f of this.faults) {
      if (!routeMatches(f.route, route)) continue;
      if (f.calendarId !== undefined && f.calendarId !== calendarId) continue;
      if (f.probability !== null && !(this.random() < f.probability)) continue;
      f.fired++;
      if (f.remaining !== null) {
        f.remaining--;
        if (f.remaining <= 0) this.faults = this.faults.filter((x) => x !== f);
      }
      this.fired.push({ faultId: f.id, route, kind: f.kind, at: this.now() });
      return { ...f };
    }
    return null;
  }
}

function routeMatches(pattern: string, route: string): boolean {
  if (pattern === route) return true;
  if (pattern === '*') return route !== 'push' && !route.startsWith('oauth.');
  if (pattern.endsWith('.*')) return route.startsWith(pattern.slice(0, -1));
  return false;
}

/** The error a fault kind answers with on Calendar API routes. */
export function apiFaultError(kind: FaultKind): GoogleApiError | null {
  switch (kind) {
    case 'rateLimitExceeded':
      return errors.rateLimitExceeded(403);
    case 'userRateLimitExceeded':
      return errors.userRateLimitExceeded();
    case 'quotaExceeded':
      return errors.quotaExceeded();
    case 'tooManyRequests':
      return errors.rateLimitExceeded(429);
    case 'backendError':
      return errors.backendError(500);
    case 'serviceUnavailable':
      return errors.backendError(503);
    case 'unauthorized':
      return errors.authError();
    default:
      return null;
  }
}

/** The error a fault kind answers with on OAuth routes (`/token`, `/revoke`). */
export function oauthFaultError(kind: FaultKind): OAuthError | null {
  switch (kind) {
    case 'rateLimitExceeded':
    case 'userRateLimitExceeded':
    case 'quotaExceeded':
    case 'tooManyRequests':
      return new OAuthError(429, 'rate_limit_exceeded', 'Rate Limit Exceeded');
    case 'backendError':
      return new OAuthError(500, 'internal_failure', 'Backend Error');
    case 'serviceUnavailable':
      return new OAuthError(503, 'temporarily_unavailable', 'Service Unavailable');
    case 'unauthorized':
      return new OAuthError(401, 'invalid_client', 'Unauthorized');
    default:
      return null;
  }
}
