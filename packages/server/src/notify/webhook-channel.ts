/**
 * A channel that POSTs each delivery as JSON to one URL, with `Idempotency-Key: <delivery key>`.
 * Only on when named (`KITH_NOTIFY_WEBHOOK_URL` in the binary): for tests that need a recipient
 * outside the server process (kill trials), and for operators who forward notifications elsewhere.
 * 2xx = sent; 404/410 = gone; anything else (or no answer in 10 s) = retry.
 */
import type { Delivery, SendOutcome } from './delivery.js';
import type { AnyChannel } from './dispatcher.js';

export function webhookChannel(url: string, name = 'webhook'): AnyChannel {
  const target = new URL(url);
  if (target.protocol !== 'http:' && target.protocol !== 'https:') throw new Error('the notify webhook URL must be http(s)');
  return {
    name,
    available: async () => true,
    async send(delivery: Delivery): Promise<SendOutcome> {
      const res = await fetch(target, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': delivery.key },
        body: JSON.stringify(delivery),
        signal: AbortSignal.timeout(10_000),
      });
      await res.arrayBuffer().catch(() => undefined);
      if (res.ok) return 'sent';
      return res.status === 404 || res.status === 410 ? 'gone' : 'retry';
    },
  };
}
