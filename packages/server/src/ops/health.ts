import type { FastifyPluginAsync } from 'fastify';
import { errorBody } from '../errors/catalogue.js';
import type { Storage } from '../storage/storage.js';
import type { Metrics } from './metrics.js';

export interface OpsRoutesOptions {
  storage: Storage;
  metrics: Metrics;
  /** False once shutdown has begun, so load balancers stop sending traffic. */
  isAccepting: () => boolean;
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
    return { status: 'ready' };
  });

  app.get('/metrics', async (_request, reply) => {
    reply.type(opts.metrics.registry.contentType);
    return opts.metrics.registry.metrics();
  });
};
