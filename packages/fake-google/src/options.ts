/** What `startFakeGoogle` can be told: where to listen, which clients and users exist, and how Google misbehaves. */
import type { OAuthClientConfig } from './oauth.js';

export interface FakeGoogleOptions {
  /** Port to listen on; 0 (default) picks a free one. */
  port?: number;
  /** Interface to bind (default 127.0.0.1). */
  host?: string;
  /**
   * Registered OAuth clients. When empty (default) any client id is accepted and its secret is pinned on first
   * use at the token endpoint.
   */
  clients?: OAuthClientConfig[];
  /** Who signs in at the consent screen when the request has no `login_hint` (default `demo@kith.example`). */
  defaultUser?: string;
  /** Time zone of primary calendars and of calendars created without one (default `UTC`). */
  defaultTimeZone?: string;
  /** Access-token lifetime (default 3599 s, like Google). */
  accessTokenTtlSeconds?: number;
  /** Seed of the PRNG behind probabilistic faults, short pages and message numbers (default 1). */
  seed?: number;
  /** Clock (default `Date.now`). */
  now?: () => number;
  /** Fastify logger (default off). */
  logger?: boolean;
  /** Refuse `http:` webhook addresses like Google does (default false, so tests can use a local receiver). */
  requireHttpsWebhooks?: boolean;
  /** Longest channel lifetime; longer requested expirations are capped (default 7 days). */
  channelMaxTtlMs?: number;
  /** How far back `updatedMin` may reach before 410 `updatedMinTooLongAgo` (default 28 days). */
  updatedMinMaxAgeMs?: number;
  /**
   * How long a deleted event stays in the trash, restorable by its organizer with `status: "confirmed"`
   * (default 30 days, like Google); after that a restore answers 404 (its id stays taken: insert gets 409).
   */
  trashRetentionMs?: number;
  /** How far open-ended series are expanded when no `timeMax` is given (default 730 days). */
  expansionHorizonDays?: number;
  /** Randomly short or empty list pages that still carry a `nextPageToken` (Google may do this; default false). */
  shortPages?: boolean;
  /** Per-user request quota per minute; beyond it 403 `userRateLimitExceeded` (default: unlimited). */
  requestsPerMinutePerUser?: number;
  /** Timeout for push deliveries (default 5 s). */
  pushTimeoutMs?: number;
}
