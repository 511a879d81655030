/**
 * A faithful fake of the Google Calendar v3 API and Google's OAuth 2.0 endpoints, as a Fastify server.
 *
 * Point `@googleapis/calendar` at it with `calendar({ version: 'v3', auth, rootUrl: fake.rootUrl })` and
 * `google-auth-library`'s OAuth2Client with `endpoints: fake.oauthEndpoints`.
 *
 * This file only composes: the shared state (context.ts), the Fastify app (http-app.ts), one module per group of
 * routes (routes/), and the programmatic handle (handle.ts).
 */
import { createContext } from './context.js';
import { createHandle, type FakeGoogle } from './handle.js';
import { createApp } from './http-app.js';
import type { FakeGoogleOptions } from './options.js';
import { apiRouter } from './routes/api-route.js';
import { registerCalendarRoutes } from './routes/calendars.js';
import { registerControlRoutes } from './routes/control.js';
import { registerEventRoutes } from './routes/events.js';
import { registerOAuthRoutes } from './routes/oauth.js';
import { registerWatchRoutes } from './routes/watch.js';

export async function startFakeGoogle(options: FakeGoogleOptions = {}): Promise<FakeGoogle> {
  const ctx = createContext(options);
  const app = createApp(options.logger, ctx.stats);

  const apiRoute = apiRouter(app, ctx);
  registerCalendarRoutes(apiRoute, ctx);
  registerEventRoutes(apiRoute, ctx);
  registerWatchRoutes(apiRoute, ctx);
  registerOAuthRoutes(app, ctx);

  const fake = createHandle(ctx, app);
  registerControlRoutes(app, fake);

  app.get('/', async () => ({
    name: 'kith fake Google Calendar API',
    rootUrl: fake.rootUrl,
    oauthEndpoints: fake.oauthEndpoints,
    control: `${ctx.baseUrl}/__control`,
  }));

  const address = await app.listen({ port: options.port ?? 0, host: options.host ?? '127.0.0.1' });
  const listenUrl = new URL(address);
  if (listenUrl.hostname === '0.0.0.0' || listenUrl.hostname === '[::]') listenUrl.hostname = '127.0.0.1';
  ctx.baseUrl = listenUrl.origin;
  return fake;
}
