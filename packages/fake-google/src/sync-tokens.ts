/**
 * Sync tokens: opaque to clients, they name a calendar, a change number and the calendar's sync epoch, so that
 * expiring them all (`expireSyncTokens`) is one increment and a stale or foreign one answers 410.
 */
import type { Calendar } from './calendar-data.js';
import { errors } from './errors.js';

export function syncToken(cal: Calendar, seq: number): string {
  const payload = Buffer.from(JSON.stringify({ c: cal.id, s: seq, e: cal.syncEpoch })).toString('base64url');
  return `CK${payload}`;
}

export function readSyncToken(cal: Calendar, token: string): number {
  try {
    if (!token.startsWith('CK')) throw new Error('foreign');
    const { c, s, e } = JSON.parse(Buffer.from(token.slice(2), 'base64url').toString('utf8')) as {
      c: unknown;
      s: unknown;
      e: unknown;
    };
    if (c !== cal.id || e !== cal.syncEpoch || typeof s !== 'number' || s > cal.seq || s < 0) throw new Error();
    return s;
  } catch {
    throw errors.fullSyncRequired();
  }
}
