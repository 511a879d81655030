import { timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import type { LoginLimits } from '../auth/login-limits.js';
import type { AuthenticatedUser } from '../modules/module.js';
import type { Storage } from '../storage/storage.js';
import { appPasswordHash, type AppPasswords } from './app-passwords.js';
import { FailureLimits } from './failure-limits.js';

/** Longest Authorization header read: a 32-character username and a 29-character password fit many times. */
const MAX_HEADER_LENGTH = 1024;
/** lastUsedAt is written at most this often per app password: not one write per CalDAV request. */
export const LAST_USED_RESOLUTION_MS = 60_000;

/** `Basic base64(username:password)` → its parts, or undefined when it is not that. */
export function parseBasic(header: string | undefined): { username: string; password: string } | undefined {
  if (!header || header.length > MAX_HEADER_LENGTH) return undefined;
  const m = /^Basic\s+([A-Za-z0-9+/]+={0,2})\s*$/i.exec(header);
  if (!m) return undefined;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return undefined;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/**
 * Who a CalDAV request comes from: its username and one of that user's app passwords (never the
 * account password). The CalDAV routes call `verify` on every request.
 */
export class BasicVerifier {
  private readonly limits: FailureLimits;

  constructor(
    private readonly deps: {
      appPasswords: AppPasswords;
      storage: Storage;
      limits: LoginLimits;
      logger: Logger;
    },
  ) {
    this.limits = new FailureLimits(deps.limits);
  }

  /**
   * The user, or null for a missing, malformed or wrong header (revoked passwords and deleted
   * accounts included). Throws KithError RATE_LIMITED when the client address or the account has
   * failed too often this minute: the caller answers 429. `clientIp` is the request's address
   * (through trusted proxies: Fastify's `request.ip`).
   */
  async verify(authorization: string | undefined, clientIp: string, now = Date.now()): Promise<AuthenticatedUser | null> {
    const basic = parseBasic(authorization);
    if (!basic) return null;
    this.limits.check(clientIp, basic.username, now);
    // Not looked up when no account can have it: PostgreSQL's text cannot hold NUL (the query failed: a 500).
    const lookup = basic.username.length <= 64 && !basic.username.includes('\u0000');
    const user = lookup ? await this.deps.storage.users.findByUsername(basic.username) : undefined;
    const presented = appPasswordHash(basic.password);
    // An unknown username is not hidden here (registration's USERNAME_TAKEN tells it anyway); the
    // password is: every stored hash of the user is compared in constant time, with no early exit.
    const rows = user && presented ? await this.deps.appPasswords.hashesOf(user.userId) : [];
    const candidate = Buffer.from(presented ?? '');
    let match: (typeof rows)[number] | undefined;
    for (const row of rows) {
      const stored = Buffer.from(row.hash);
      if (stored.length === candidate.length && timingSafeEqual(stored, candidate)) match ??= row;
    }
    if (!user || !match) {
      this.limits.fail(clientIp, basic.username, now);
      return null;
    }
    if (match.last_used_at === null || now - match.last_used_at >= LAST_USED_RESOLUTION_MS) {
      // Best effort: a storage that refuses writes must not sign the phone out.
      await this.deps.appPasswords.touch(match.id, now).catch((err: unknown) => {
        this.deps.logger.warn({ err, appPasswordId: match.id }, 'could not record when an app password was last used');
      });
    }
    return { userId: user.userId, username: user.username };
  }
}
