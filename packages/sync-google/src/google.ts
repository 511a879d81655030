/**
 * Talking to Google through its client libraries only: `google-auth-library`'s OAuth2Client (refresh on
 * expiry and on 401, endpoints overridable) and `@googleapis/calendar` (rootUrl overridable). gaxios' own
 * retries are switched off (it never retries POST, PATCH or 403s, and ignores Retry-After); every call goes
 * through `Caller.call`, which applies the per-user rate limit and our backoff with full jitter.
 */
import { calendar, type calendar_v3 } from '@googleapis/calendar';
import { OAuth2Client, type Credentials } from 'google-auth-library';
import { oauthEndpoints, type ResolvedOptions } from './options.js';

export type FailureKind =
  /** The grant is gone (revoked, expired, 6 months unused, …): the link needs re-authorisation. */
  | 'invalid_grant'
  /** 403 rateLimitExceeded / userRateLimitExceeded, 429. */
  | 'rate'
  /** 403 quotaExceeded: pause for hours. */
  | 'quota'
  /** 5xx, network errors, timeouts, and a 401 that survived a refresh. */
  | 'transient'
  /** Anything else with an HTTP status (400, 403, 404, 409, 410, 412, …). */
  | 'status';

export class GoogleFailure extends Error {
  constructor(
    readonly kind: FailureKind,
    readonly status: number | undefined,
    readonly reason: string | undefined,
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message);
    this.name = 'GoogleFailure';
  }
}

interface GaxiosLike {
  message?: string;
  code?: unknown;
  status?: number;
  response?: { status?: number; data?: unknown };
}

export function classify(err: unknown): GoogleFailure {
  if (err instanceof GoogleFailure) return err;
  const e = (err ?? {}) as GaxiosLike;
  const status = e.response?.status ?? (typeof e.status === 'number' ? e.status : undefined);
  const data = (e.response?.data ?? {}) as { error?: unknown; error_description?: string };
  const message = e.message ?? String(err);
  const oauthError = typeof data.error === 'string' ? data.error : undefined;
  if (oauthError === 'invalid_grant' || /\binvalid_grant\b/.test(message)) {
    return new GoogleFailure('invalid_grant', status, 'invalid_grant', 'Google refused the stored grant (invalid_grant)', err);
  }
  if (oauthError === 'invalid_client' || oauthError === 'unauthorized_client') {
    return new GoogleFailure('invalid_grant', status, oauthError, `Google refused the OAuth client (${oauthError})`, err);
  }
  const apiError = typeof data.error === 'object' && data.error !== null ? (data.error as { errors?: Array<{ reason?: string }>; message?: string }) : undefined;
  const reason = apiError?.errors?.[0]?.reason;
  const text = apiError?.message ?? message;
  if (status === undefined) return new GoogleFailure('transient', undefined, String(e.code ?? 'network'), text, err);
  if (status === 429) return new GoogleFailure('rate', status, reason ?? 'rateLimitExceeded', text, err);
  if (status === 403 && (reason === 'rateLimitExceeded' || reason === 'userRateLimitExceeded')) {
    return new GoogleFailure('rate', status, reason, text, err);
  }
  if (status === 403 && (reason === 'quotaExceeded' || reason === 'dailyLimitExceeded')) {
    return new GoogleFailure('quota', status, reason, text, err);
  }
  if (status >= 500 || status === 408 || status === 401) return new GoogleFailure('transient', status, reason, text, err);
  return new GoogleFailure('status', status, reason, text, err);
}

/** Thrown inside a worker that was stopped: whatever it was doing is abandoned. */
export class Stopped extends Error {
  constructor() {
    super('sync-google worker stopped');
    this.name = 'Stopped';
  }
}

/** The lifetime of a worker instance; `kill()` makes every later step of it throw `Stopped`. */
export class Life {
  private readonly controller = new AbortController();
  get dead(): boolean {
    return this.controller.signal.aborted;
  }
  get signal(): AbortSignal {
    return this.controller.signal;
  }
  check(): void {
    if (this.dead) throw new Stopped();
  }
  kill(): void {
    this.controller.abort();
  }
  /** Sleeps, or throws Stopped as soon as the worker stops. */
  sleep(ms: number): Promise<void> {
    this.check();
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        clearTimeout(t);
        reject(new Stopped());
      };
      const t = setTimeout(() => {
        this.signal.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      this.signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}

/** A token bucket: `rate` requests per second, bursts of `burst`. */
export class TokenBucket {
  private tokens: number;
  private last: number;
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly rate: number,
    private readonly burst: number,
    private readonly now: () => number,
  ) {
    this.tokens = burst;
    this.last = now();
  }

  /** Waits for a token (callers are served in order). */
  take(life: Life): Promise<void> {
    const next = this.queue.then(async () => {
      for (;;) {
        const t = this.now();
        this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.rate);
        this.last = t;
        if (this.tokens >= 1) {
          this.tokens -= 1;
          return;
        }
        await life.sleep(Math.ceil(((1 - this.tokens) / this.rate) * 1000));
      }
    });
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** After a rate-limit answer: drain the bucket so the next requests slow down. */
  drain(): void {
    this.tokens = Math.min(this.tokens, 0);
  }
}

export interface CallStats {
  requests: number;
  retries: number;
  failures: Record<string, number>;
}

export interface CallOptions {
  /**
   * Attempts on 5xx and network errors before giving up (default `maxAttempts`). The export uses 1: a write
   * Google keeps refusing is retried on its own per-event schedule instead of holding up every other change.
   * Rate limits apply to the whole user and are always waited out here.
   */
  transientAttempts?: number;
}

/** Runs one Google call with rate limiting and backoff; throws a classified GoogleFailure when it gives up. */
export class Caller {
  readonly stats: CallStats = { requests: 0, retries: 0, failures: {} };

  constructor(
    private readonly o: ResolvedOptions,
    private readonly life: Life,
  ) {}

  backoff(attempt: number): number {
    const cap = Math.min(this.o.backoffMaxMs, this.o.backoffBaseMs * 2 ** attempt);
    return Math.floor(this.o.random() * cap);
  }

  /**
   * `auth`: on a 401 its access token is marked expired, so the library refreshes it before the retry (a
   * revoked grant then surfaces as invalid_grant). `forceRefreshOnFailure` is not used: it would also refresh
   * on every 403 rate-limit answer and resend at once, ignoring our backoff.
   */
  async call<T>(bucket: TokenBucket, what: string, fn: () => Promise<T>, auth?: OAuth2Client, opts: CallOptions = {}): Promise<T> {
    let consecutive401 = 0;
    const transientAttempts = opts.transientAttempts ?? this.o.maxAttempts;
    for (let attempt = 0; ; attempt++) {
      this.life.check();
      await bucket.take(this.life);
      this.life.check();
      this.stats.requests += 1;
      try {
        const result = await fn();
        this.life.check();
        return result;
      } catch (err) {
        this.life.check();
        const f = classify(err);
        this.stats.failures[`${what}:${f.status ?? f.reason}`] = (this.stats.failures[`${what}:${f.status ?? f.reason}`] ?? 0) + 1;
        if (f.status === 401) {
          consecutive401 += 1;
          if (auth) auth.setCredentials({ ...auth.credentials, expiry_date: 1 });
        }
        // A 401 is retried after a refresh even when other transient failures are left to the caller.
        const retryable =
          f.kind === 'rate' || (f.kind === 'transient' && (f.status === 401 ? consecutive401 < 3 : attempt + 1 < transientAttempts));
        if (!retryable || attempt + 1 >= this.o.maxAttempts) throw f;
        if (f.kind === 'rate') bucket.drain();
        this.stats.retries += 1;
        this.o.logger.debug({ what, status: f.status, reason: f.reason, attempt }, 'google call failed; backing off');
        await this.life.sleep(this.backoff(attempt));
      }
    }
  }
}

export interface GoogleClients {
  auth: OAuth2Client;
  api: calendar_v3.Calendar;
}

export function newOAuthClient(o: ResolvedOptions): OAuth2Client {
  const endpoints = oauthEndpoints(o);
  return new OAuth2Client({
    clientId: o.clientId,
    clientSecret: o.clientSecret,
    redirectUri: o.redirectUrl,
    ...(endpoints ? { endpoints } : {}),
  });
}

/** An authorised client pair for one link; `onTokens` receives refreshed tokens to merge into storage. */
export function googleClients(o: ResolvedOptions, credentials: Credentials, onTokens: (t: Credentials) => void): GoogleClients {
  const auth = newOAuthClient(o);
  auth.setCredentials(credentials);
  auth.on('tokens', onTokens);
  const api = calendar({
    version: 'v3',
    // googleapis-common pins its own google-auth-library patch version; the runtime object is the same.
    auth: auth as never,
    rootUrl: o.apiRootUrl,
    retry: false,
    timeout: 30_000,
  });
  return { auth, api };
}
