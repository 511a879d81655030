import { setImmediate as nextTurn } from 'node:timers/promises';
import { KithError } from '../errors/catalogue.js';
import { newFamilyId, newSecretToken, sha256 } from '../ids.js';
import type { RefreshTokenCursor, RefreshTokenRecord, RefreshTokenStore, Storage } from '../storage/storage.js';

/**
 * Refresh tokens rotate: each use returns a successor and retires the used token. Presenting a
 * retired token again means it was stolen (or replayed), so the whole family — every token
 * descended from that login — is revoked.
 */
export class RefreshTokens {
  constructor(
    private readonly storage: Storage,
    private readonly ttlMs: number,
  ) {}

  /** Starts a new family at login. */
  async issue(userId: string, now = Date.now()): Promise<string> {
    const token = newSecretToken();
    await this.storage.refreshTokens.insert(this.record(token, userId, newFamilyId(), now));
    return token;
  }

  /** Exchanges a token for its successor; returns the user it belongs to. */
  async rotate(token: string, now = Date.now()): Promise<{ userId: string; refreshToken: string }> {
    const current = await this.storage.refreshTokens.find(sha256(token));
    if (!current) throw new KithError('REFRESH_TOKEN_INVALID');
    if (current.status === 'rotated') {
      await this.storage.refreshTokens.revokeFamily(current.familyId);
      throw new KithError('REFRESH_TOKEN_REUSED');
    }
    if (current.status === 'revoked' || current.expiresAt <= now) throw new KithError('REFRESH_TOKEN_INVALID');
    const successor = newSecretToken();
    const rotated = await this.storage.refreshTokens.rotate(
      current.tokenHash,
      this.record(successor, current.userId, current.familyId, now),
    );
    if (!rotated) {
      // Lost a race with a concurrent use of the same token: that is reuse too.
      await this.storage.refreshTokens.revokeFamily(current.familyId);
      throw new KithError('REFRESH_TOKEN_REUSED');
    }
    return { userId: current.userId, refreshToken: successor };
  }

  /** Logout: revokes the token's whole family. Unknown tokens are ignored (logout is idempotent). */
  async revoke(token: string): Promise<void> {
    const current = await this.storage.refreshTokens.find(sha256(token));
    if (current) await this.storage.refreshTokens.revokeFamily(current.familyId);
  }

  private record(token: string, userId: string, familyId: string, now: number): RefreshTokenRecord {
    return { tokenHash: sha256(token), userId, familyId, status: 'active', expiresAt: now + this.ttlMs, createdAt: now };
  }
}

export interface RefreshTokenPrunerOptions {
  /** Time between sweeps; the first runs `firstAfterMs` after start. */
  everyMs?: number;
  firstAfterMs?: number;
  /** Rows looked at per statement; the loop is yielded to between statements. */
  batch?: number;
  /**
   * A family counts as dead only once its newest token expired this long ago, so that a token
   * expiring while it is being used (read, then rotated) is not swept in between.
   */
  graceMs?: number;
  onError?: (err: unknown) => void;
}

/**
 * Deletes the refresh-token rows that can no longer matter. Each login and each refresh adds a
 * row, and nothing else deletes one. A row goes once its family has no usable token left (its
 * newest token expired, or it was revoked) and its own expiry passed: a rotated token of a family
 * that may still be alive stays, so that presenting it again is still recognised as reuse (see
 * RefreshTokens.rotate). The sweep runs in statements of `batch` rows, yielding the loop between
 * them (SQLite runs on it), on a timer the server starts and stops.
 */
export class RefreshTokenPruner {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;
  private closed = false;
  private readonly everyMs: number;
  private readonly firstAfterMs: number;
  private readonly batch: number;
  private readonly graceMs: number;

  constructor(
    private readonly store: Pick<RefreshTokenStore, 'pruneDead'>,
    private readonly options: RefreshTokenPrunerOptions = {},
  ) {
    this.everyMs = options.everyMs ?? 60 * 60_000;
    this.firstAfterMs = options.firstAfterMs ?? 60_000;
    // About 10 ms of SQLite's loop per statement (1,000 rows took 35-70 ms on a 300k-row table).
    this.batch = options.batch ?? 250;
    this.graceMs = options.graceMs ?? 60_000;
  }

  start(): void {
    if (this.closed || this.timer) return;
    const tick = () => {
      this.timer = setTimeout(tick, this.everyMs).unref();
      this.running ??= this.sweep()
        .catch((err) => {
          this.options.onError?.(err);
          return 0;
        })
        .finally(() => (this.running = undefined));
    };
    this.timer = setTimeout(tick, this.firstAfterMs).unref();
  }

  /** One whole sweep; resolves with how many rows it deleted. Stops early once closed. */
  async sweep(now = Date.now()): Promise<number> {
    const before = now - this.graceMs;
    let after: RefreshTokenCursor | undefined;
    let deleted = 0;
    do {
      if (this.closed) break;
      const step = await this.store.pruneDead(before, after, this.batch);
      deleted += step.deleted;
      after = step.next;
      if (after) await nextTurn();
    } while (after);
    return deleted;
  }

  /** Stops the timer and waits for a sweep under way to finish its current statement. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
