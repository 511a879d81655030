import type { FastifyPluginAsync } from 'fastify';
import { errorBody } from '../errors/catalogue.js';
import type { Storage } from '../storage/storage.js';
import { checkMetricsAccess } from './metrics-access.js';
import type { Metrics } from './metrics.js';
import type { WriteHealth } from '../storage/write-health.js';

export interface OpsRoutesOptions {
  storage: Storage;
  metrics: Metrics;
  /** False once shutdown has begun, so load balancers stop sending traffic. */
  isAccepting: () => boolean;
  /** Whether storage takes writes: not ready while it refuses them (e.g. a full disk). */
  writeHealth?: WriteHealth;
  /** Bearer token for /metrics; without it only loopback clients may read them. */
  metricsToken: string | undefined;
}

/** Liveness, readiness and Prometheus metrics. */
export const opsRoutes: FastifyPluginAsync<OpsRoutesOptions> = async (app, opts) => {
  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (request, reply) => {
    if (!opts.isAccepting()) return reply.code(503).send(errorBody('SHUTTING_DOWN'));
    try {
      await opts.storage.ping();
    } catch (err) {
      request.log.error({ err }, 'storage is not answering');
      return reply.code(503).send(errorBody('INTERNAL', 'Storage is not answering.'));
    }
    const refused = opts.writeHealth?.reason;
    if (refused) return reply.code(503).send(errorBody('STORAGE_UNAVAILABLE', refused));
    return { status: 'ready' };
  });

  app.get('/metrics', async (request, reply) => {
    checkMetricsAccess(request, opts.metricsToken);
    reply.type(opts.metrics.registry.contentType);
    return opts.metrics.registry.metrics();
  });
};
