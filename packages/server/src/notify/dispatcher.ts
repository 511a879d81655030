/**
 * Sends one message to one member on each channel they have set up, through the ledger: claim the
 * key, send, mark the outcome. A key someone else holds (another instance, or a crashed send whose
 * lease has not run out) is left alone here and looked at again later.
 */
import type { Logger } from 'pino';
import type { Clock } from './clock.js';
import type { Channel, Delivery } from './delivery.js';
import type { Ledger } from './ledger.js';
import type { NotifyMetrics } from './metrics.js';

/** A channel as the core sees it: the contract's, or a test channel with another name. */
export type AnyChannel = Omit<Channel, 'name'> & { readonly name: string };

export interface DispatchOutcome {
  /** Keys still open (held elsewhere, or to retry): when to look again, at the latest. */
  retryAt: number | null;
}

export class Dispatcher {
  constructor(
    private readonly deps: {
      ledger: Ledger;
      channels: readonly AnyChannel[];
      clock: Clock;
      metrics: NotifyMetrics;
      logger: Logger;
      holder: string;
      leaseMs: number;
      /** Wait before a failed send is tried again. */
      retryMs: number;
    },
  ) {}

  get channelNames(): string[] {
    return this.deps.channels.map((c) => c.name);
  }

  /**
   * Delivers `message` on every available channel under `keyOf(channel)`. `dueAt` (reminders)
   * counts a send more than a minute after it as late.
   */
  async deliver(message: Omit<Delivery, 'key'>, keyOf: (channel: string) => string, dueAt?: number): Promise<DispatchOutcome> {
    const { ledger, clock, metrics, holder, leaseMs } = this.deps;
    let retryAt: number | null = null;
    const later = (at: number) => (retryAt = retryAt === null ? at : Math.min(retryAt, at));
    for (const channel of this.deps.channels) {
      let available: boolean;
      try {
        available = await channel.available(message.userId);
      } catch (err) {
        this.deps.logger.warn({ err, channel: channel.name }, 'channel availability check failed');
        later(clock.now() + this.deps.retryMs);
        continue;
      }
      if (!available) continue;
      const key = keyOf(channel.name);
      const now = clock.now();
      if (!(await ledger.claim(key, holder, now, leaseMs))) {
        const state = (await ledger.states([key])).get(key);
        if (state?.state === 'claimed') later(state.leaseUntil);
        continue;
      }
      let outcome: 'sent' | 'retry' | 'gone';
      try {
        outcome = await channel.send({ ...message, key });
      } catch (err) {
        this.deps.logger.warn({ err, channel: channel.name, kind: message.kind }, 'send failed');
        outcome = 'retry';
      }
      const done = clock.now();
      if (outcome === 'retry') {
        metrics.failed.inc({ channel: channel.name, kind: message.kind });
        await ledger.retryLater(key, holder, done + this.deps.retryMs, done);
        later(done + this.deps.retryMs);
        continue;
      }
      await ledger.finish(key, holder, outcome, done);
      if (outcome === 'gone') metrics.failed.inc({ channel: channel.name, kind: message.kind });
      else {
        metrics.sent.inc({ channel: channel.name, kind: message.kind });
        if (dueAt !== undefined && done - dueAt > 60_000) metrics.late.inc({ channel: channel.name });
      }
    }
    return { retryAt };
  }
}
