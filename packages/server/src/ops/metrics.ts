import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Outcomes of `kith_compactions_total` (see sync/compaction.ts). */
const COMPACTION_OUTCOMES = ['done', 'lost-race', 'failed', 'leased-elsewhere'] as const;
/** Reasons of `kith_updates_rejected_total` (see sync/message-handler.ts). */
const REJECTION_REASONS = ['read-only', 'room-too-large', 'malformed', 'storage-unavailable', 'server-memory-full'] as const;

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
  readonly roomLoadSeconds = new Histogram({
    name: 'kith_room_load_seconds',
    help: 'Time to load a room from storage into memory',
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly catchUps = new Counter({
    name: 'kith_catch_ups_total',
    help: 'Times a room read updates it had missed (from other instances) back from the log',
    registers: [this.registry],
  });
  readonly socketsClosed = new Counter({
    name: 'kith_sockets_closed_total',
    help: 'Sync sockets closed by the server, by error code',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });

  readonly commitFailures = new Counter({
    name: 'kith_storage_commit_failures_total',
    help: 'Commits of updates that storage refused (e.g. disk full); nothing of them was acknowledged',
    registers: [this.registry],
  });
  readonly storageWritable = new Gauge({
    name: 'kith_storage_writable',
    help: '1 while storage accepts writes, 0 from a failed commit until a probe write succeeds',
    registers: [this.registry],
  });

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics ?? true) {
      // The event-loop-lag histogram samples with a timer that wakes the process each time; at
      // prom-client's default 10 ms that timer was most of an idle server's CPU. One sample a
      // second still shows a loop that lags, at a tenth of the wake-ups of 100 ms.
      collectDefaultMetrics({ register: this.registry, prefix: 'kith_', eventLoopMonitoringPrecision: 1000 });
    }
    // Labelled series exist from the start at 0, so that rate() and alerts see the first event
    // as an increase (a series that appears at 1 looks to Prometheus like no change at all).
    for (const outcome of COMPACTION_OUTCOMES) this.compactions.inc({ outcome }, 0);
    for (const reason of REJECTION_REASONS) this.updatesRejected.inc({ reason }, 0);
    this.storageWritable.set(1);
  }
}
