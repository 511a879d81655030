import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The server's Prometheus metrics, each registered in a registry of its own (one per server). */
export class Metrics {
  readonly registry = new Registry();
  readonly connections = new Gauge({
    name: 'kith_connections',
    help: 'Open sync WebSocket connections',
    registers: [this.registry],
  });
  readonly roomsLoaded = new Gauge({
    name: 'kith_rooms_loaded',
    help: 'Rooms whose document is in memory',
    registers: [this.registry],
  });
  readonly updates = new Counter({
    name: 'kith_updates_total',
    help: 'Yjs updates received from clients and persisted (rate() gives updates/s)',
    registers: [this.registry],
  });
  readonly updatesRejected = new Counter({
    name: 'kith_updates_rejected_total',
    help: 'Updates refused, by reason',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly persistLatency = new Histogram({
    name: 'kith_persist_latency_seconds',
    help: 'Time to commit one batch of updates to storage',
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [this.registry],
  });
  readonly persistBatchSize = new Histogram({
    name: 'kith_persist_batch_updates',
    help: 'Updates committed per batch',
    buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000],
    registers: [this.registry],
  });
  readonly compactions = new Counter({
    name: 'kith_compactions_total',
    help: 'Room compactions, by outcome',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly socketsClosed = new Counter({
    name: 'kith_sockets_closed_total',
    help: 'Sync sockets closed by the server, by error code',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'kith_' });
  }
}
