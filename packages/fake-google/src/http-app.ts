/**
 * The Fastify instance every route module mounts on: Google's body parsing, Google-shaped error answers (API and
 * OAuth), a Google 404 for unknown paths, and per-route status counting.
 */
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { errors, GoogleApiError, OAuthError } from './errors.js';
import type { StatsRecorder } from './stats.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The Google client method a route stands for (`events.insert`…), as faults and stats name it. */
    routeName?: string;
  }
}

export function createApp(logger: boolean | undefined, stats: StatsRecorder): FastifyInstance {
  const app = Fastify({
    logger: logger ?? false,
    // Event ids may be 1024 characters long.
    routerOptions: { maxParamLength: 2100 },
    bodyLimit: 2 * 1024 * 1024,
  });

  // Body parsing as Google does it: an empty body is no body, and bad JSON answers Google's 400 parseError.
  app.removeContentTypeParser('application/json');
  const parseJson = (_req: FastifyRequest, body: string, done: (err: Error | null, body?: unknown) => void): void => {
    if (body.trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(body));
    } catch {
      done(errors.parseError());
    }
  };
  app.addContentTypeParser('application/json', { parseAs: 'string' }, parseJson);
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });
  app.addContentTypeParser('*', { parseAs: 'string' }, (req, body, done) => parseJson(req, body as string, done));

  app.setErrorHandler((err, req, reply) => {
    if (err instanceof GoogleApiError) {
      void reply.code(err.code).headers(err.headers).send(err.toBody());
      return;
    }
    if (err instanceof OAuthError) {
      void reply.code(err.httpStatus).header('cache-control', 'no-store').send(err.toBody());
      return;
    }
    const status = (err as { statusCode?: number }).statusCode;
    if (status !== undefined && status >= 400 && status < 500) {
      void reply.code(400).send(errors.badRequest((err as Error).message || 'Bad Request', 'badRequest').toBody());
      return;
    }
    req.log.error({ err }, 'fake google: unexpected error');
    void reply.code(500).send(errors.backendError(500).toBody());
  });
  app.setNotFoundHandler((_req, reply) => {
    void reply.code(404).send(errors.notFound().toBody());
  });
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.config?.routeName;
    if (!route) return;
    stats.status(route, reply.statusCode);
  });
  return app;
}
