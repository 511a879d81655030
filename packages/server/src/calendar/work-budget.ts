/**
 * What a user's event writes may cost in conversion work, in units of about one EXDATE/RDATE value
 * or recurrence line, over REST and the /live socket alike. Measured on a 2-core VM: the largest
 * valid body (1,000 EXDATE + 1,000 RDATE zoned date-times, ~2,000 units) takes 47–68 ms to convert
 * and ~115 ms end to end in the server (model, views, storage, broadcast), so ~40–60 µs a unit;
 * member ids cost ~1.5 µs each (20 a unit). 1,500 units a second keeps one user's heaviest valid
 * stream under ~100 ms of the event loop a second; the burst lets two of the largest through at
 * once. The bucket is the user's, shared by their /live sockets and REST requests: a /live message
 * over it closes its socket (4429 RATE_LIMITED), a REST request is answered 429 with Retry-After.
 * Bodies without such lists cost nothing here.
 */
import { LIMITS } from '@kith/model';
import { TokenBucket } from '../sync/token-bucket.js';
import type { EventBody } from './api-events.js';

export const WORK = { perSecond: 1_500, burst: 4_500, idsPerUnit: 20 } as const;

/** How long an unused bucket takes to fill up again: it is kept that long, so that coming back does not refill it early. */
const REFILL_MS = (1000 * WORK.burst) / WORK.perSecond;

/**
 * Conversion-work buckets by user: held while the user has /live sockets, and otherwise until the
 * bucket would be full again (so the map holds only users active in the last few seconds).
 */
export class WorkBudgets {
  private readonly users = new Map<string, { bucket: TokenBucket; sockets: number; lastUsed: number; sweep: NodeJS.Timeout | undefined }>();

  private entry(userId: string) {
    let entry = this.users.get(userId);
    if (!entry) this.users.set(userId, (entry = { bucket: new TokenBucket(WORK.perSecond, WORK.burst), sockets: 0, lastUsed: 0, sweep: undefined }));
    return entry;
  }

  /** A /live socket of the user opened. */
  acquire(userId: string): void {
    this.entry(userId).sockets++;
  }

  /** A /live socket of the user closed. */
  release(userId: string): void {
    const entry = this.users.get(userId);
    if (!entry || --entry.sockets > 0) return;
    this.dropWhenFull(userId);
  }

  /** Takes `units` from the user's bucket; false, taking none, when it holds fewer. */
  take(userId: string, units: number): boolean {
    const entry = this.entry(userId);
    entry.lastUsed = performance.now();
    const ok = entry.bucket.take(units);
    if (entry.sockets === 0) this.dropWhenFull(userId);
    return ok;
  }

  private dropWhenFull(userId: string): void {
    const entry = this.users.get(userId);
    if (!entry || entry.sweep) return;
    entry.sweep = setTimeout(() => {
      entry.sweep = undefined;
      if (this.users.get(userId) !== entry || entry.sockets > 0) return;
      // Used again meanwhile: kept until full from then on.
      if (performance.now() - entry.lastUsed < REFILL_MS) this.dropWhenFull(userId);
      else this.users.delete(userId);
    }, REFILL_MS);
    entry.sweep.unref();
  }

  /** Users holding a bucket now (for tests). */
  get size(): number {
    return this.users.size;
  }
}

/** Work units of a body's member ids (participants, reminders' `for`), counted only up to what the model reads. */
export function idUnits(body: EventBody): number {
  let ids = Math.min(body.participants?.length ?? 0, LIMITS.participants);
  for (const r of (body.reminders ?? []).slice(0, LIMITS.reminders)) ids += Math.min(r.for?.length ?? 0, LIMITS.participants);
  return Math.floor(ids / WORK.idsPerUnit);
}
