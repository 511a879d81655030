import type { LoginLimits } from '../auth/login-limits.js';
import { KithError } from '../errors/catalogue.js';

/**
 * Failed Basic sign-ins per minute, under the login's own limits (auth/login-limits.ts): per
 * client address and username, per address across usernames, and per account from everywhere. Unlike login, a *successful* check does not
 * count: a CalDAV client authenticates every request, and a phone's sync makes dozens a minute.
 * Once a key is over its limit every attempt under it is refused until its minute ends, right
 * password or not, so the limit bounds guesses exactly as login's does.
 * Kept in memory per instance, like the login limiter's store.
 */
export class FailureLimits {
  private readonly windows = new Map<string, { failures: number; resetAt: number }>();

  constructor(
    private readonly limits: LoginLimits,
    private readonly windowMs = 60_000,
    /** Keys remembered at once; beyond it expired windows are dropped, then the oldest. */
    private readonly maxKeys = 100_000,
  ) {}

  private keys(ip: string, username: string): Array<[string, number]> {
    const user = username.toLowerCase();
    return [
      [`ip-user:${ip}:${user}`, this.limits.perIpAndUsername],
      [`ip:${ip}`, this.limits.perIp],
      [`user:${user}`, this.limits.perAccount],
    ];
  }

  /** Throws RATE_LIMITED (with Retry-After) when one of the attempt's keys is over its limit. */
  check(ip: string, username: string, now = Date.now()): void {
    for (const [key, max] of this.keys(ip, username)) {
      const w = this.windows.get(key);
      if (w && w.resetAt > now && w.failures >= max) {
        const retry = Math.max(1, Math.ceil((w.resetAt - now) / 1000));
        throw new KithError('RATE_LIMITED', `Too many failed sign-ins for this username; retry in ${retry} s.`, {
          'retry-after': String(retry),
        });
      }
    }
  }

  fail(ip: string, username: string, now = Date.now()): void {
    for (const [key] of this.keys(ip, username)) {
      const w = this.windows.get(key);
      if (w && w.resetAt > now) w.failures++;
      else {
        this.windows.delete(key); // re-inserted last: the Map's order stays oldest first
        this.windows.set(key, { failures: 1, resetAt: now + this.windowMs });
      }
    }
    if (this.windows.size > this.maxKeys) this.prune(now);
  }

  private prune(now: number): void {
    for (const [key, w] of this.windows) if (w.resetAt <= now) this.windows.delete(key);
    for (const key of this.windows.keys()) {
      if (this.windows.size <= this.maxKeys) break;
      this.windows.delete(key);
    }
  }
}
