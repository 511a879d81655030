import type { FastifyInstance, FastifyRequest } from 'fastify';
import { KithError } from '../errors/catalogue.js';

/**
 * Attempts per minute at a password check, from the config's `loginPerMinute` and
 * `loginPerAccountPerMinute`: one policy for login and for every other sign-in (CalDAV's Basic).
 * Why these three keys: see the login limits in routes.ts.
 */
export interface LoginLimits {
  /** From one client address for one username. */
  perIpAndUsername: number;
  /** From one client address across usernames: 3×, room for a household behind one NAT. */
  perIp: number;
  /** For one username from every address together. */
  perAccount: number;
}

export function loginLimits(config: { loginPerMinute: number; loginPerAccountPerMinute: number }): LoginLimits {
  return {
    perIpAndUsername: config.loginPerMinute,
    perIp: config.loginPerMinute * 3,
    perAccount: config.loginPerAccountPerMinute,
  };
}

/**
 * Counts one attempt at `username`'s account password, from any address; throws RATE_LIMITED
 * (with Retry-After) once the account is over `perAccount` this minute, right password or not.
 */
export type AccountPasswordAttempts = (request: FastifyRequest, username: string) => Promise<void>;

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * The one per-account counter of account-password attempts (made in app.ts): login and
     * account deletion add to it alike, so a guesser gains nothing by spreading over both.
     */
    accountPasswordAttempts: AccountPasswordAttempts;
  }
}

/**
 * The per-account limiter, with @fastify/rate-limit's `createRateLimit` (its own store; see the
 * login limits in routes.ts for why not `app.rateLimit`). Counted before the password is checked,
 * so concurrent guesses cannot all pass a check that has not counted them yet.
 */
export function accountPasswordAttempts(app: FastifyInstance, perAccount: number): AccountPasswordAttempts {
  // The key is the caller's (login reads the body, deletion the token), not the request's own.
  const usernames = new WeakMap<FastifyRequest, string>();
  const limit = app.createRateLimit({
    max: perAccount,
    timeWindow: '1 minute',
    keyGenerator: (request) => `login:${usernames.get(request) ?? ''}`,
  });
  return async (request, username) => {
    usernames.set(request, username.toLowerCase());
    throwIfExceeded(await limit(request));
  };
}

/** Login's answer to an exhausted limit: 429 RATE_LIMITED with Retry-After. */
export function throwIfExceeded(limit: { isAllowed: boolean; isExceeded?: boolean; ttlInSeconds?: number }): void {
  if (limit.isAllowed || !limit.isExceeded) return;
  const retry = Math.max(1, limit.ttlInSeconds ?? 60);
  throw new KithError('RATE_LIMITED', `Too many password attempts for this username; retry in ${retry} s.`, {
    'retry-after': String(retry),
  });
}
