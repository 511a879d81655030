import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import fastifyJwt from '@fastify/jwt';
import fastifyRateLimit from '@fastify/rate-limit';
import type { Logger } from 'pino';
import type { KithConfig } from './config/config.js';
import { KithError, errorBody } from './errors/catalogue.js';
import { answerClientError, installErrorHandlers } from './errors/http.js';
import { authRoutes } from './auth/routes.js';
import { accountPasswordAttempts, loginLimits } from './auth/login-limits.js';
import { invitePreviewRoutes } from './rooms/invite-preview.js';
import { roomRoutes } from './rooms/routes.js';
import type { MembershipEvents } from './rooms/membership-events.js';
import type { SignInEvents } from './auth/sign-in-events.js';
import { opsRoutes } from './ops/health.js';
import { AccessLog } from './ops/access-log.js';
import { installSecurityHeaders } from './web/security-headers.js';
import { bundledAppDir, serveWebApp } from './web/static-app.js';
import type { Metrics } from './ops/metrics.js';
import type { Storage } from './storage/storage.js';
import type { WriteHealth } from './storage/write-health.js';

export interface AppDeps {
  config: KithConfig;
  storage: Storage;
  metrics: Metrics;
  membership: MembershipEvents;
  signIns?: SignInEvents;
  logger: Logger;
  jwtSecret: string;
  isAccepting: () => boolean;
  writeHealth?: WriteHealth;
}

/** The HTTP API: auth, rooms and operations. The sync WebSocket is attached to its server separately. */
/** Longest path parameter the router matches; a longer one is a 400 before any route. */
const MAX_PARAM_LENGTH = 256;

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const { config } = deps;
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    bodyLimit: 64 * 1024,
    // Our /readyz answers 503 SHUTTING_DOWN itself (Fastify's generic 503 would bypass the catalogue).
    return503OnClosing: false,
    // Behind nginx or an Ingress, the client's address (for per-IP rate limits and logs) comes from
    // X-Forwarded-For, but only from the proxies configured as trusted.
    trustProxy: config.trustProxy,
    // No type coercion: `{"username": 12345}` must be a 400, not the user "12345".
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
    // One line per request, at debug unless --access-log asks for info.
    logController: new AccessLog(config.accessLog),
    // A URL Fastify cannot decode (`/feeds/%E0.ics`) reaches neither a route nor the error handler:
    // without this it answered in Fastify's own shape, not the catalogue's.
    frameworkErrors: (err, _request, reply) => {
      const message =
        err.code === 'FST_ERR_MAX_PARAM_LENGTH'
          ? `A part of the request URL is longer than ${MAX_PARAM_LENGTH} characters.`
          : 'The request URL is not valid percent-encoded UTF-8.';
      void (reply as FastifyReply).code(400).send(errorBody('VALIDATION_FAILED', message));
    },
    // Above every id a route takes (event ids reach 128 characters; find-my-way's default of 100
    // refused longer ones before their schema could), and still bounded.
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // A request Node's HTTP parser refuses (`Content-Length: abc`, a bad header character, headers
    // over the size limit, a timeout) never becomes a request: answered on the raw socket, in the
    // catalogue's body rather than Fastify's own shape.
    clientErrorHandler: (err, socket) => answerClientError(err, socket, deps.logger),
  });
  installSecurityHeaders(app);
  const webRoot = config.staticDir ?? bundledAppDir();
  const webAppFallback = webRoot ? await serveWebApp(app, webRoot) : undefined;
  installErrorHandlers(app, webAppFallback);

  await app.register(fastifyJwt, {
    secret: deps.jwtSecret,
    sign: { expiresIn: config.accessTokenTtlSeconds, algorithm: 'HS256' },
    verify: { algorithms: ['HS256'] },
  });
  await app.register(fastifyRateLimit, {
    global: false,
    errorResponseBuilder: (_request, context) =>
      new KithError('RATE_LIMITED', `Too many requests; retry in ${context.after}.`, {
        'retry-after': String(Math.ceil(context.ttl / 1000)),
      }),
  });

  const limits = loginLimits(config.limits);
  // On the root instance: login and the modules' password checks (account deletion) share it.
  app.decorate('accountPasswordAttempts', accountPasswordAttempts(app, limits.perAccount));
  await app.register(authRoutes, {
    storage: deps.storage,
    accessTokenTtlSeconds: config.accessTokenTtlSeconds,
    refreshTokenTtlDays: config.refreshTokenTtlDays,
    limits,
    registration: config.registration,
    signIns: deps.signIns,
  });
  await app.register(roomRoutes, {
    storage: deps.storage,
    membership: deps.membership,
    publicUrl: config.publicUrl,
    inviteDefaults: { expiryHours: config.inviteExpiryHours, maxUses: config.inviteMaxUses },
    acceptPerMinute: config.limits.loginPerMinute,
    limits: config.limits,
  });
  await app.register(invitePreviewRoutes, { storage: deps.storage, perMinute: config.limits.loginPerMinute });
  await app.register(opsRoutes, {
    storage: deps.storage,
    metrics: deps.metrics,
    isAccepting: deps.isAccepting,
    metricsToken: config.metricsToken,
    ...(deps.writeHealth ? { writeHealth: deps.writeHealth } : {}),
  });
  return app;
}
