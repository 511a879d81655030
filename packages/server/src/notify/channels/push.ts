import type { Logger } from 'pino';
import webpush from 'web-push';
import { sha256 } from '../../ids.js';
import type { Channel, Delivery, SendOutcome } from '../delivery.js';
import type { ChannelMetrics } from './metrics.js';
import type { PushSubscriptions, StoredSubscription } from './push-subscriptions.js';
import type { VapidKeys } from './vapid.js';

/** Push services take 4 KiB of payload; the notification's text is clipped well inside it. */
const MAX_TITLE = 120;
const MAX_BODY = 1000;
/** How long a push service keeps a message for an offline device, and waits for our request. */
const TTL_SECONDS = 24 * 3600;
const REQUEST_TIMEOUT_MS = 10_000;

type OneOutcome = 'sent' | 'retry' | 'gone' | 'failed';

export interface PushChannelDeps {
  subscriptions: PushSubscriptions;
  vapid: VapidKeys;
  subject: string;
  metrics: ChannelMetrics;
  logger: Logger;
}

/** What the service worker receives: only what the notification shows and opens. */
export function pushPayload(d: Delivery): string {
  return JSON.stringify({
    title: d.title.slice(0, MAX_TITLE),
    body: d.body.slice(0, MAX_BODY),
    url: d.url,
    ...(d.tag ? { tag: d.tag } : {}),
  });
}

/**
 * Web Push (RFC 8030/8291/8292): the payload encrypted (aes128gcm) and VAPID-signed by `web-push`,
 * POSTed by us so that redirects are never followed, the wait is bounded and http is possible for a
 * loopback mock in tests. One delivery goes to each of the member's browsers.
 */
export class PushChannel implements Channel {
  readonly name = 'push' as const;

  constructor(private readonly deps: PushChannelDeps) {}

  async available(userId: string): Promise<boolean> {
    return (await this.deps.subscriptions.count(userId)) > 0;
  }

  /**
   * `sent` when at least one browser took it (sending again would repeat it there), `retry` when
   * none did but one may later, `gone` when the member has no browser left to reach.
   */
  async send(delivery: Delivery): Promise<SendOutcome> {
    const subs = await this.deps.subscriptions.of(delivery.userId);
    if (subs.length === 0) return 'gone';
    const payload = pushPayload(delivery);
    const outcomes = await Promise.all(subs.map((sub) => this.sendOne(sub, payload, delivery)));
    for (const outcome of outcomes) this.deps.metrics.attempts.inc({ channel: 'push', outcome });
    if (outcomes.includes('sent')) return 'sent';
    if (outcomes.includes('retry')) return 'retry';
    // Refused for good (e.g. 403: the browser subscribed with another VAPID key): no use retrying.
    return 'gone';
  }

  private async sendOne(sub: StoredSubscription, payload: string, delivery: Delivery): Promise<OneOutcome> {
    const { vapid, subject, logger } = this.deps;
    // Never the endpoint in logs: it is a capability URL (anyone holding it can push to the browser).
    const log = { subscription: sub.endpointHash.slice(0, 12), deliveryKind: delivery.kind };
    let request: ReturnType<typeof webpush.generateRequestDetails>;
    try {
      request = webpush.generateRequestDetails({ endpoint: sub.endpoint, keys: sub.keys }, payload, {
        vapidDetails: { subject, publicKey: vapid.publicKey, privateKey: vapid.privateKey },
        TTL: TTL_SECONDS,
        contentEncoding: 'aes128gcm',
        urgency: delivery.kind === 'reminder' ? 'high' : 'normal',
        // A newer notice with the same tag replaces one still waiting at the push service.
        ...(delivery.tag ? { topic: sha256(delivery.tag).slice(0, 32) } : {}),
      });
    } catch (err) {
      // Keys no message can be encrypted to (stored before subscriptions were checked on the
      // curve): this one is dropped; throwing here used to fail the member's other devices' send
      // too, which the dispatcher then repeated to them every minute.
      await this.deps.subscriptions.removeGone(sub.endpointHash);
      logger.warn({ ...log, err: (err as Error).message }, 'push subscription unusable; removed');
      return 'gone';
    }
    let status: number;
    try {
      const res = await fetch(sub.endpoint, {
        method: 'POST',
        headers: request.headers as Record<string, string>,
        body: request.body ?? undefined,
        redirect: 'manual',
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      status = res.status;
      await res.body?.cancel();
    } catch (err) {
      logger.warn({ ...log, err: (err as Error).message }, 'push service unreachable; will retry');
      return 'retry';
    }
    if (status >= 200 && status < 300) return 'sent';
    if (status === 404 || status === 410) {
      await this.deps.subscriptions.removeGone(sub.endpointHash);
      logger.info({ ...log, status }, 'push subscription gone; removed');
      return 'gone';
    }
    if (status === 429 || status >= 500) {
      logger.warn({ ...log, status }, 'push service busy or failing; will retry');
      return 'retry';
    }
    logger.warn({ ...log, status }, 'push service refused the message');
    return 'failed';
  }
}
