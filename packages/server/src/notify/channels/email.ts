import type { Logger } from 'pino';
import { sha256 } from '../../ids.js';
import type { Storage } from '../../storage/storage.js';
import type { Channel, Delivery, RetryCheck, RetryVerdict, SendOutcome } from '../delivery.js';
import type { EmailAddresses } from './email-addresses.js';
import { EmailOutbox, type OutboxStatus } from './email-outbox.js';
import type { Mailer } from './mailer.js';
import type { ChannelMetrics } from './metrics.js';
import type { UnsubscribeTokens } from './signing.js';
import { deliveryMail } from './templates.js';

export interface EmailChannelDeps {
  addresses: EmailAddresses;
  /** Room membership, asked again before a queued email is retried. */
  storage: Storage;
  outbox: EmailOutbox;
  mailer: Mailer;
  unsubscribe: UnsubscribeTokens;
  /** Base of links in mails, e.g. `https://kith.example.org`. */
  linkBase: string;
  /** Domain of Message-IDs (MAIL_FROM's). */
  domain: string;
  metrics: ChannelMetrics;
  logger: Logger;
  pollMs: number;
}

const BATCH = 20;

/**
 * Email notifications. `send` stores the delivery in the outbox (idempotent by its key) and tries
 * SMTP once at once; a transient failure answers `retry` and the outbox keeps trying on its own,
 * so a delivery is never lost, and a key already sent is never sent again, whoever asks.
 */
export class EmailChannel implements Channel {
  readonly name = 'email' as const;
  private timer: NodeJS.Timeout | undefined;
  private draining: Promise<void> = Promise.resolve();
  private closed = false;
  /** The notifications core's checks, asked before each retry (see RetryCheck); none without the core. */
  private retryCheck: RetryCheck | undefined;

  constructor(private readonly deps: EmailChannelDeps) {}

  checkRetriesWith(check: RetryCheck): void {
    this.retryCheck = check;
  }

  async available(userId: string): Promise<boolean> {
    return (await this.deps.addresses.deliverable(userId, 'notice')) !== undefined;
  }

  async send(delivery: Delivery): Promise<SendOutcome> {
    const kind = delivery.kind === 'account' ? 'account' : 'notice';
    const { status, added } = await this.deps.outbox.add(delivery);
    if (status === 'sent') return 'sent';
    if (status === 'failed') return 'gone';
    if (!(await this.deps.addresses.deliverable(delivery.userId, kind))) {
      // Unsubscribed or address removed meanwhile: nothing to send to.
      await this.deps.outbox.markFailed(delivery.key, 0, 'no deliverable address', true);
      return 'gone';
    }
    // A new row is tried at once; one already queued only when its backoff is up (the dispatcher
    // asks again every minute, which forced through would spend the outbox's 12 tries in 12 minutes).
    const result = await this.attempt(delivery.key, added, Date.now());
    return result === 'sent' ? 'sent' : result === 'failed' ? 'gone' : 'retry';
  }

  /** One attempt at one outbox row at `now`; `busy` when another sender holds it (it will be sent). */
  private async attempt(key: string, force: boolean, now: number): Promise<OutboxStatus | 'busy'> {
    const { outbox, addresses, storage, mailer, metrics, logger } = this.deps;
    const claimed = await outbox.claim(key, now, force);
    if (!claimed) return 'busy';
    const { attempts } = claimed;
    let delivery = claimed.delivery;
    const log = { deliveryKind: delivery.kind, attempt: attempts + 1 };
    // A retry (any attempt but a new row's first) may come long after the room's members were read
    // for it: one removed since, or whose room was deleted, must not hear of the room any more.
    const aboutRoom = delivery.kind === 'reminder' || delivery.kind === 'changes';
    if (!force && aboutRoom && !(await storage.rooms.member(delivery.roomId, delivery.userId))) {
      metrics.attempts.inc({ channel: 'email', outcome: 'dropped' });
      logger.info(log, 'email dropped: its recipient is no longer a member of its room');
      return outbox.markFailed(key, attempts, 'not a member of the room', true);
    }
    // The rest of what the first send checked (the member's preferences for the kind, quiet hours,
    // a reminder's event still there and due): asked of the core, whose checks they are.
    if (!force && this.retryCheck && delivery.kind !== 'account') {
      let verdict: RetryVerdict;
      try {
        verdict = await this.retryCheck(delivery, this.name);
      } catch (err) {
        // The room could not be read: an attempt spent (counted, backed off), tried again later.
        logger.warn({ ...log, err }, 'email retry could not be checked; will retry');
        metrics.attempts.inc({ channel: 'email', outcome: 'retry' });
        return outbox.markFailed(key, attempts, 'retry check failed', false);
      }
      if ('drop' in verdict) {
        metrics.attempts.inc({ channel: 'email', outcome: 'dropped' });
        logger.info({ ...log, reason: verdict.drop }, 'email dropped: no longer to be sent');
        return outbox.markFailed(key, attempts, verdict.drop, true);
      }
      if ('waitMs' in verdict) {
        // Quiet hours (or a reminder now due later): not an attempt, so it costs none of the row's tries.
        await outbox.postpone(key, now + verdict.waitMs);
        return 'pending';
      }
      if (verdict.instead) delivery = verdict.instead; // what it says now (a change notice narrowed)
    }
    const to = await addresses.deliverable(delivery.userId, delivery.kind === 'account' ? 'account' : 'notice');
    if (!to) {
      metrics.attempts.inc({ channel: 'email', outcome: 'gone' });
      return outbox.markFailed(key, attempts, 'no deliverable address', true);
    }
    const account = delivery.kind === 'account';
    const unsubscribe = account
      ? undefined
      : `${this.deps.linkBase}/unsubscribe?token=${encodeURIComponent(this.deps.unsubscribe.issue(delivery.userId, to))}`;
    const content = deliveryMail(delivery, { open: this.deps.linkBase + delivery.url, unsubscribe });
    const result = await mailer.send({
      to,
      ...content,
      ics: delivery.ics,
      messageId: `<${sha256(delivery.key).slice(0, 32)}@${this.deps.domain}>`,
      // RFC 8058: mail clients show "Unsubscribe" and POST to the link with one click.
      headers: unsubscribe ? { 'List-Unsubscribe': `<${unsubscribe}>`, 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' } : {},
    });
    if (result.outcome === 'sent') {
      await outbox.markSent(key);
      metrics.attempts.inc({ channel: 'email', outcome: 'sent' });
      return 'sent';
    }
    const status = await outbox.markFailed(key, attempts, result.reason, result.outcome === 'rejected');
    if (result.outcome === 'rejected') {
      metrics.attempts.inc({ channel: 'email', outcome: 'failed' });
      logger.warn({ ...log, reason: result.reason }, 'SMTP rejected an email for good');
    } else {
      metrics.attempts.inc({ channel: 'email', outcome: status === 'failed' ? 'failed' : 'retry' });
      logger.info({ ...log, reason: result.reason, givenUp: status === 'failed' }, 'email not sent; will retry');
    }
    return status;
  }

  /** Starts retrying due outbox rows every `pollMs`. */
  start(): void {
    const tick = () => {
      if (this.closed) return;
      this.draining = this.drain().catch((err) => this.deps.logger.error({ err }, 'email outbox run failed'));
      void this.draining.then(() => {
        if (!this.closed) this.timer = setTimeout(tick, this.deps.pollMs);
      });
    };
    this.timer = setTimeout(tick, this.deps.pollMs);
  }

  /** Sends what is due now; exposed so tests and shutdown can run one pass. */
  async drain(now = Date.now()): Promise<void> {
    for (const key of await this.deps.outbox.due(now, BATCH)) {
      if (this.closed) return;
      await this.attempt(key, false, now);
    }
    await this.deps.outbox.prune(now);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.draining;
    this.deps.mailer.close();
  }
}
