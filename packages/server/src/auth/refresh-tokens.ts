import { KithError } from '../errors/catalogue.js';
import { newFamilyId, newSecretToken, sha256 } from '../ids.js';
import type { RefreshTokenRecord, Storage } from '../storage/storage.js';

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
