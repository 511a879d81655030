import { Counter } from 'prom-client';
import type { Metrics } from '../../ops/metrics.js';

/** What the channels did, for /metrics: each push request and email attempt, by outcome. */
export interface ChannelMetrics {
  attempts: Counter<'channel' | 'outcome'>;
}

export function channelMetrics(metrics: Metrics): ChannelMetrics {
  return {
    attempts: new Counter({
      name: 'kith_notify_channel_attempts_total',
      help: 'Push requests and email sends, by channel and outcome (sent, retry, gone, failed = permanently refused, dropped = no longer to be sent at a retry: recipient left the room, turned it off, or its event went)',
      labelNames: ['channel', 'outcome'] as const,
      registers: [metrics.registry],
    }),
  };
}
