import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Storage } from '../../storage/storage.js';

/**
 * The channels' one server secret (kept in storage, so every instance shares it), from which each
 * use derives its own key: verification-code hashes and unsubscribe-link signatures.
 */
export async function channelKeys(storage: Storage): Promise<{ codes: Buffer; unsubscribe: Buffer }> {
  const root = Buffer.from(await storage.secrets.getOrCreate('notify-channels-key', randomBytes(32).toString('base64url')), 'base64url');
  const derive = (purpose: string) => createHmac('sha256', root).update(purpose).digest();
  return { codes: derive('email-codes'), unsubscribe: derive('unsubscribe-links') };
}

/**
 * One-click unsubscribe tokens: `<userId>.<mac>`, the MAC over the user and the address it was
 * sent to, so a link stops working once the member verifies another address. No expiry: a
 * months-old email's link must still work (RFC 8058 asks that it keep working).
 */
export class UnsubscribeTokens {
  constructor(private readonly key: Buffer) {}

  private mac(userId: string, addressKey: string): string {
    return createHmac('sha256', this.key).update(`${userId}\n${addressKey}`).digest('base64url');
  }

  issue(userId: string, address: string): string {
    return `${userId}.${this.mac(userId, address.toLowerCase())}`;
  }

  /** The user the token names if it is genuine for `addressOf(userId)`, else undefined. */
  async check(token: string, addressOf: (userId: string) => Promise<string | undefined>): Promise<{ userId: string; address: string } | undefined> {
    const dot = token.lastIndexOf('.');
    if (dot <= 0 || token.length > 200) return undefined;
    const userId = token.slice(0, dot);
    const address = await addressOf(userId);
    if (!address) return undefined;
    const expected = Buffer.from(this.mac(userId, address.toLowerCase()));
    const given = Buffer.from(token.slice(dot + 1));
    return expected.length === given.length && timingSafeEqual(expected, given) ? { userId, address } : undefined;
  }
}
