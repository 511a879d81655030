/**
 * A faithful fake of the Google Calendar v3 API and Google's OAuth 2.0 endpoints, as a Fastify server.
 *
 * Point `@googleapis/calendar` at it with `calendar({ version: 'v3', auth, rootUrl: fake.rootUrl })` and
 * `google-auth-library`'s OAuth2Client with `endpoints: fake.oauthEndpoints`.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { errors, GoogleApiError, OAuthError } from './errors.js';
import {
  type ActiveFault,
  apiFaultError,
  FaultInjector,
  type FaultSpec,
  type FiredFault,
  oauthFaultError,
} from './faults.js';
import {
  type Actor,
  CALENDAR_SCOPE,
  checkScope,
  type ConsentBehaviour,
  FakeOAuth,
  type OAuthClientConfig,
  type Operation,
  type TokenResponse,
} from './oauth.js';
import { type DeliveryRecord, PushManager } from './push.js';
import { type Calendar, FakeCalendarStore, isPlainObject, type JsonObject } from './store.js';
import { isValidTimeZone } from './time.js';

export interface FakeGoogleOptions {
  /** Port to listen on; 0 (default) picks a free one. */
  port?: number;
  /** Interface to bind (default 127.0.0.1). */
  host?: string;
  /**
   * Registered OAuth clients. When empty (default) any client id is accepted and its secret is pinned on first
   * use at the token endpoint.
   */
  clients?: OAuthClientConfig[];
  /** Who signs in at the consent screen when the request has no `login_hint` (default `demo@kith.example`). */
  defaultUser?: string;
  /** Time zone of primary calendars and of calendars created without one (default `UTC`). */
  defaultTimeZone?: string;
  /** Access-token lifetime (default 3599 s, like Google). */
  accessTokenTtlSeconds?: number;
  /** Seed of the PRNG behind probabilistic faults, short pages and message numbers (default 1). */
  seed?: number;
  /** Clock (default `Date.now`). */
  now?: () => number;
  /** Fastify logger (default off). */
  logger?: boolean;
  /** Refuse `http:` webhook addresses like Google does (default false, so tests can use a local receiver). */
  requireHttpsWebhooks?: boolean;
  /** Longest channel lifetime; longer requested expirations are capped (default 7 days). */
  channelMaxTtlMs?: number;
  /** How far back `updatedMin` may reach before 410 `updatedMinTooLongAgo` (default 28 days). */
  updatedMinMaxAgeMs?: number;
  /** How far open-ended series are expanded when no `timeMax` is given (default 730 days). */
  expansionHorizonDays?: number;
  /** Randomly short or empty list pages that still carry a `nextPageToken` (Google may do this; default false). */
  shortPages?: boolean;
  /** Per-user request quota per minute; beyond it 403 `userRateLimitExceeded` (default: unlimited). */
  requestsPerMinutePerUser?: number;
  /** Timeout for push deliveries (default 5 s). */
  pushTimeoutMs?: number;
}

export interface FakeStats {
  /** Requests received per route (including failed and faulted ones). */
  requests: Record<string, number>;
  /** Writes applied per route (including `commitThenDrop` ones, whose answer was never sent). */
  writes: Record<string, number>;
  /** Response status codes per route. */
  statuses: Record<string, Record<string, number>>;
  /** Injected faults fired per route. */
  faults: Record<string, number>;
  /** Invitation emails Google would have sent (attendees on writes with `sendUpdates` all/externalOnly). */
  invitationsSent: number;
}

export interface OAuthEndpoints {
  oauth2AuthBaseUrl: string;
  oauth2TokenUrl: string;
  oauth2RevokeUrl: string;
  tokenInfoUrl: string;
}

export interface FakeGoogle {
  /** Base URL, e.g. `http://127.0.0.1:43123` (no trailing slash). */
  readonly url: string;
  /** `rootUrl` for `@googleapis/calendar` (`url` + `/`). */
  readonly rootUrl: string;
  /** `endpoints` for google-auth-library's `OAuth2Client`. */
  readonly oauthEndpoints: OAuthEndpoints;
  readonly app: FastifyInstance;
  close(): Promise<void>;

  injectFault(spec: FaultSpec): string;
  removeFault(id: string): boolean;
  clearFaults(): void;
  faults(): { active: ActiveFault[]; fired: FiredFault[] };

  /** Make every sync token issued so far for a calendar (or all calendars) answer 410 `fullSyncRequired`. */
  expireSyncTokens(calendarId?: string): void;
  /** Expire one access token (or all): the next API call with it gets 401. */
  expireAccessTokens(accessToken?: string): void;
  /** Revoke the grant behind an access or refresh token, as if the user removed the app. */
  revokeToken(token: string): boolean;
  /** Revoke every grant of a user. */
  revokeAllTokens(email: string): number;
  /** Mint tokens for a user without the browser step. */
  issueTokens(opts?: { email?: string; scopes?: string[]; clientId?: string }): TokenResponse & { expiry_date: number };
  /** How the consent screen behaves from now on. */
  setConsent(consent: ConsentBehaviour): void;

  createUser(email: string): void;
  /** A secondary calendar; pass the OAuth client id to make it reachable with `calendar.app.created`. */
  createCalendar(
    email: string,
    body: { summary: string; timeZone?: string; description?: string },
    opts?: { clientId?: string },
  ): JsonObject;
  calendars(email?: string): JsonObject[];
  /** Every stored event of a calendar, tombstones and exceptions included, fully rendered. */
  events(calendarId: string): JsonObject[];
  /** One stored event (or instance) fully rendered, or undefined. */
  event(calendarId: string, eventId: string): JsonObject | undefined;
  /** Edits as the user would make them in Google's own UI (no OAuth, no faults; they trigger pushes). */
  ui: {
    insertEvent(calendarId: string, body: JsonObject): JsonObject;
    patchEvent(calendarId: string, eventId: string, patch: JsonObject): JsonObject;
    updateEvent(calendarId: string, eventId: string, body: JsonObject): JsonObject;
    deleteEvent(calendarId: string, eventId: string): void;
  };

  stats(): FakeStats;
  resetStats(): void;
  channels(): Array<{ id: string; resourceId: string; address: string; expiration: number; calendarId: string }>;
  pushDeliveries(): DeliveryRecord[];
  /** Forget everything: users, calendars, tokens, channels, faults, stats. */
  reset(): void;
}

/** Small deterministic PRNG (mulberry32). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface HandlerResult {
  status?: number;
  body?: unknown;
  headers?: Record<string, string>;
}

type ApiHandler = (req: FastifyRequest, actor: Actor) => HandlerResult | Promise<HandlerResult>;

declare module 'fastify' {
  interface FastifyContextConfig {
    routeName?: string;
  }
}

const emptyStats = (): FakeStats => ({ requests: {}, writes: {}, statuses: {}, faults: {}, invitationsSent: 0 });
const bump = (rec: Record<string, number>, key: string, by = 1): void => {
  rec[key] = (rec[key] ?? 0) + by;
};

export async function startFakeGoogle(options: FakeGoogleOptions = {}): Promise<FakeGoogle> {
  const now = options.now ?? Date.now;
  const random = prng(options.seed ?? 1);
  let baseUrl = '';
  let stats = emptyStats();
  const userRequests = new Map<string, number[]>();

  const faultInjector = new FaultInjector(random, now);
  const push = new PushManager({
    now,
    random,
    baseUrl: () => baseUrl,
    faults: faultInjector,
    maxTtlMs: options.channelMaxTtlMs ?? 7 * 24 * 3_600_000,
    requireHttps: options.requireHttpsWebhooks ?? false,
    timeoutMs: options.pushTimeoutMs ?? 5_000,
  });
  const store = new FakeCalendarStore({
    now,
    random,
    baseUrl: () => baseUrl,
    defaultTimeZone: options.defaultTimeZone ?? 'UTC',
    updatedMinMaxAgeMs: options.updatedMinMaxAgeMs ?? 28 * 24 * 3_600_000,
    expansionHorizonDays: options.expansionHorizonDays ?? 730,
    shortPages: options.shortPages ?? false,
    onChange: (calendarId) => push.notify(calendarId),
  });
  const defaultUser = (options.defaultUser ?? 'demo@kith.example').toLowerCase();
  const oauth = new FakeOAuth({
    now,
    defaultUser,
    accessTokenTtlSeconds: options.accessTokenTtlSeconds ?? 3599,
    onUser: (email) => void store.ensurePrimaryCalendar(email.toLowerCase()),
    ...(options.clients ? { clients: options.clients } : {}),
  });

  const app = Fastify({
    logger: options.logger ?? false,
    // Event ids may be 1024 characters long.
    routerOptions: { maxParamLength: 2100 },
    bodyLimit: 2 * 1024 * 1024,
  });

  // ------------------------------------------------------------------ body parsing
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

  // ------------------------------------------------------------------ errors and stats
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
    const byStatus = (stats.statuses[route] ??= {});
    bump(byStatus, String(reply.statusCode));
  });

  const drop = (req: FastifyRequest, reply: FastifyReply): void => {
    reply.hijack();
    req.raw.socket?.destroy();
  };
  const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

  const takeFault = (route: string, calendarId: string | undefined): ActiveFault | null => {
    const fault = faultInjector.pick(route, calendarId);
    if (fault) bump(stats.faults, route);
    return fault;
  };

  const checkQuota = (actor: Actor): void => {
    const limit = options.requestsPerMinutePerUser;
    if (!limit) return;
    const t = now();
    const list = (userRequests.get(actor.email) ?? []).filter((x) => x > t - 60_000);
    if (list.length >= limit) {
      userRequests.set(actor.email, list);
      throw errors.userRateLimitExceeded();
    }
    list.push(t);
    userRequests.set(actor.email, list);
  };

  const apiRoute = (
    method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE',
    url: string,
    route: string,
    write: boolean,
    handler: ApiHandler,
  ): void => {
    app.route({
      method,
      url: `/calendar/v3${url}`,
      config: { routeName: route },
      handler: async (req, reply) => {
        bump(stats.requests, route);
        const calendarId = (req.params as { calendarId?: string }).calendarId;
        const fault = takeFault(route, calendarId);
        if (fault) {
          if (fault.kind === 'delay') await sleep(fault.delayMs ?? 1_000);
          else if (fault.kind === 'dropConnection') return drop(req, reply);
          else {
            const err = apiFaultError(fault.kind);
            if (err) throw err;
          }
        }
        const actor = oauth.authenticate(req.headers.authorization);
        checkQuota(actor);
        const result = await handler(req, actor);
        if (write) bump(stats.writes, route);
        if (fault?.kind === 'commitThenDrop') return drop(req, reply);
        void reply.code(result.status ?? 200);
        if (result.headers) void reply.headers(result.headers);
        if (result.status === 204 || result.status === 304) return reply.send();
        return reply.send(result.body);
      },
    });
  };

  const calendarFor = (actor: Actor, calendarId: string, op: Operation): Calendar => {
    if (checkScope(actor, op, null) === 'forbidden') throw errors.insufficientPermissions();
    const cal = calendarId === 'primary' ? store.ensurePrimaryCalendar(actor.email) : store.calendars.get(calendarId);
    if (!cal || cal.deleted || cal.ownerEmail !== actor.email) throw errors.notFound();
    if (checkScope(actor, op, cal.createdByClient === actor.clientId) !== 'ok') throw errors.notFound();
    return cal;
  };

  const query = (req: FastifyRequest): JsonObject => (req.query ?? {}) as JsonObject;
  const param = (req: FastifyRequest, name: string): string => (req.params as Record<string, string>)[name]!;
  const ifMatch = (req: FastifyRequest): string | undefined => {
    const h = req.headers['if-match'];
    return Array.isArray(h) ? h.join(',') : h;
  };
  const outTz = (req: FastifyRequest): string | undefined => {
    const tz = query(req).timeZone;
    if (tz === undefined) return undefined;
    if (!isValidTimeZone(tz)) throw errors.invalidParameter('timeZone', 'Invalid time zone definition.');
    return tz;
  };
  const sendUpdates = (req: FastifyRequest): string | undefined => {
    const v = query(req).sendUpdates;
    if (v === undefined) return undefined;
    if (v !== 'all' && v !== 'externalOnly' && v !== 'none') throw errors.invalidParameter('sendUpdates');
    return v;
  };
  const countInvitations = (req: FastifyRequest, cal: Calendar, event: JsonObject): void => {
    const mode = sendUpdates(req) ?? (query(req).sendNotifications === 'true' ? 'all' : 'none');
    if (mode === 'none') return;
    const attendees = Array.isArray(event.attendees) ? (event.attendees as Array<{ email?: string }>) : [];
    stats.invitationsSent += attendees.filter((a) => a.email !== cal.ownerEmail).length;
  };

  // ------------------------------------------------------------------ calendars
  apiRoute('POST', '/calendars', 'calendars.insert', true, (req, actor) => {
    if (checkScope(actor, 'calendars.create', null) !== 'ok') throw errors.insufficientPermissions();
    const body = req.body;
    if (!isPlainObject(body)) throw errors.required('Missing title.');
    return { body: store.renderCalendar(store.createCalendar(actor.email, body, actor.clientId)) };
  });
  apiRoute('GET', '/calendars/:calendarId', 'calendars.get', false, (req, actor) => ({
    body: store.renderCalendar(calendarFor(actor, param(req, 'calendarId'), 'calendars.read')),
  }));
  for (const [method, route] of [
    ['PATCH', 'calendars.patch'],
    ['PUT', 'calendars.update'],
  ] as const) {
    apiRoute(method, '/calendars/:calendarId', route, true, (req, actor) => {
      const cal = calendarFor(actor, param(req, 'calendarId'), 'calendars.write');
      const body = isPlainObject(req.body) ? req.body : {};
      return { body: store.renderCalendar(store.patchCalendar(cal, body, method === 'PUT')) };
    });
  }
  apiRoute('DELETE', '/calendars/:calendarId', 'calendars.delete', true, (req, actor) => {
    const cal = calendarFor(actor, param(req, 'calendarId'), 'calendars.write');
    store.deleteCalendar(cal);
    push.stopCalendar(cal.id);
    return { status: 204 };
  });
  apiRoute('GET', '/users/me/calendarList', 'calendarList.list', false, (_req, actor) => {
    if (checkScope(actor, 'calendarList.read', null) === 'forbidden') throw errors.insufficientPermissions();
    store.ensurePrimaryCalendar(actor.email);
    const items = store
      .calendarsOf(actor.email)
      .filter((c) => checkScope(actor, 'calendarList.read', c.createdByClient === actor.clientId) === 'ok')
      .map((c) => store.renderCalendarListEntry(c));
    return { body: { kind: 'calendar#calendarList', etag: `"${now()}"`, items } };
  });
  apiRoute('GET', '/users/me/calendarList/:calendarId', 'calendarList.get', false, (req, actor) => ({
    body: store.renderCalendarListEntry(calendarFor(actor, param(req, 'calendarId'), 'calendarList.read')),
  }));

  // ------------------------------------------------------------------ events
  apiRoute('GET', '/calendars/:calendarId/events', 'events.list', false, (req, actor) => {
    const cal = calendarFor(actor, param(req, 'calendarId'), 'events.read');
    const result = store.listEvents(cal, query(req));
    return {
      body: {
        ...store.listMeta(cal, outTz(req)),
        ...(result.nextPageToken ? { nextPageToken: result.nextPageToken } : {}),
        ...(result.nextSyncToken ? { nextSyncToken: result.nextSyncToken } : {}),
        items: result.items,
      },
    };
  });
  apiRoute('POST', '/calendars/:calendarId/events', 'events.insert', true, (req, actor) => {
    const cal = calendarFor(actor, param(req, 'calendarId'), 'events.write');
    sendUpdates(req);
    const ev = store.insertEvent(cal, req.body as JsonObject, actor.email);
    const body = store.renderEvent(cal, ev);
    countInvitations(req, cal, body);
    return { body };
  });
  apiRoute('POST', '/calendars/:calendarId/events/watch', 'events.watch', false, (req, actor) => {
    const cal = calendarFor(actor, param(req, 'calendarId'), 'events.read');
    return { body: push.watch(cal.id, actor.email, actor.clientId, req.body) };
  });
  apiRoute('GET', '/calendars/:calendarId/events/:eventId', 'events.get', false, (req, actor) => {
    const cal = calendarFor(actor, param(req, 'calendarId'), 'events.read');
    const body = store.renderById(cal, param(req, 'eventId'), outTz(req));
    const inm = req.headers['if-none-match'];
    if (typeof inm === 'string' && inm.split(',').map((s) => s.trim()).includes(String(body.etag))) {
      return { status: 304, headers: { etag: String(body.etag) } };
    }
    return { body, headers: { etag: String(body.etag) } };
  });
  for (const [method, route] of [
    ['PATCH', 'events.patch'],
    ['PUT', 'events.update'],
  ] as const) {
    apiRoute(method, '/calendars/:calendarId/events/:eventId', route, true, (req, actor) => {
      const cal = calendarFor(actor, param(req, 'calendarId'), 'events.write');
      sendUpdates(req);
      const ev = store.modifyEvent(cal, param(req, 'eventId'), (req.body ?? {}) as JsonObject, {
        replace: method === 'PUT',
        ...(ifMatch(req) !== undefined ? { ifMatch: ifMatch(req)! } : {}),
      });
      const body = store.renderEvent(cal, ev);
      countInvitations(req, cal, body);
      return { body };
    });
  }
  apiRoute('DELETE', '/calendars/:calendarId/events/:eventId', 'events.delete', true, (req, actor) => {
    const cal = calendarFor(actor, param(req, 'calendarId'), 'events.write');
    sendUpdates(req);
    const before = store.renderById(cal, param(req, 'eventId'));
    store.deleteEvent(cal, param(req, 'eventId'), ifMatch(req));
    countInvitations(req, cal, before);
    return { status: 204 };
  });
  apiRoute('GET', '/calendars/:calendarId/events/:eventId/instances', 'events.instances', false, (req, actor) => {
    const cal = calendarFor(actor, param(req, 'calendarId'), 'events.read');
    const result = store.listInstances(cal, param(req, 'eventId'), query(req));
    return {
      body: {
        ...store.listMeta(cal, outTz(req)),
        ...(result.nextPageToken ? { nextPageToken: result.nextPageToken } : {}),
        items: result.items,
      },
    };
  });
  apiRoute('POST', '/channels/stop', 'channels.stop', false, (req, actor) => {
    push.stop(actor.email, req.body);
    return { status: 204 };
  });

  // ------------------------------------------------------------------ OAuth
  const oauthFault = (route: string): ActiveFault | null => {
    bump(stats.requests, route);
    const fault = takeFault(route, undefined);
    if (!fault || fault.kind === 'delay' || fault.kind === 'commitThenDrop' || fault.kind === 'dropConnection') {
      return fault;
    }
    throw oauthFaultError(fault.kind)!;
  };
  const stringRecord = (v: unknown): Record<string, string | undefined> => {
    const out: Record<string, string | undefined> = {};
    if (isPlainObject(v)) {
      for (const [k, val] of Object.entries(v)) out[k] = Array.isArray(val) ? String(val[val.length - 1]) : val == null ? undefined : String(val);
    }
    return out;
  };
  const withOAuthFault = async (
    route: string,
    req: FastifyRequest,
    reply: FastifyReply,
    fn: () => unknown,
  ): Promise<unknown> => {
    const fault = oauthFault(route);
    if (fault?.kind === 'delay') await sleep(fault.delayMs ?? 1_000);
    if (fault?.kind === 'dropConnection') return drop(req, reply);
    const body = fn();
    if (fault?.kind === 'commitThenDrop') return drop(req, reply);
    return reply.header('cache-control', 'no-store').send(body);
  };

  for (const path of ['/o/oauth2/v2/auth', '/o/oauth2/auth']) {
    app.get(path, { config: { routeName: 'oauth.authorize' } }, async (req, reply) => {
      try {
        oauthFault('oauth.authorize');
      } catch (e) {
        const err = e as OAuthError;
        return reply.code(err.httpStatus).type('text/html').send(`<h1>Error ${err.httpStatus}: ${err.error}</h1>`);
      }
      const outcome = oauth.authorize(stringRecord(req.query));
      if (outcome.kind === 'redirect') return reply.redirect(outcome.location, 302);
      return reply
        .code(outcome.status)
        .type('text/html; charset=utf-8')
        .send(
          `<!doctype html><title>Error ${outcome.status}: ${outcome.error}</title>` +
            `<h1>Access blocked: authorisation error</h1><p>Error ${outcome.status}: ${escapeHtml(outcome.error)}</p>` +
            `<p>${escapeHtml(outcome.description)}</p>`,
        );
    });
  }
  app.post('/token', { config: { routeName: 'oauth.token' } }, (req, reply) =>
    withOAuthFault('oauth.token', req, reply, () => oauth.token(stringRecord(req.body), req.headers.authorization)),
  );
  for (const method of ['GET', 'POST'] as const) {
    app.route({
      method,
      url: '/revoke',
      config: { routeName: 'oauth.revoke' },
      handler: (req, reply) =>
        withOAuthFault('oauth.revoke', req, reply, () => {
          const q = stringRecord(req.query);
          const b = stringRecord(req.body);
          oauth.revoke(q.token ?? b.token);
          return {};
        }),
    });
    app.route({
      method,
      url: '/tokeninfo',
      config: { routeName: 'oauth.tokeninfo' },
      handler: (req, reply) =>
        withOAuthFault('oauth.tokeninfo', req, reply, () => {
          const q = { ...stringRecord(req.body), ...stringRecord(req.query) };
          return oauth.tokenInfo(q.access_token);
        }),
    });
  }

  // ------------------------------------------------------------------ programmatic surface
  const calendarById = (calendarId: string): Calendar => {
    const cal = store.calendars.get(calendarId);
    if (!cal) throw new Error(`fake google: no calendar ${calendarId}`);
    return cal;
  };
  const uiEdit = {
    insertEvent(calendarId: string, body: JsonObject): JsonObject {
      const cal = calendarById(calendarId);
      return store.renderEvent(cal, store.insertEvent(cal, body, cal.ownerEmail));
    },
    patchEvent(calendarId: string, eventId: string, patch: JsonObject): JsonObject {
      const cal = calendarById(calendarId);
      return store.renderEvent(cal, store.modifyEvent(cal, eventId, patch, { replace: false }));
    },
    updateEvent(calendarId: string, eventId: string, body: JsonObject): JsonObject {
      const cal = calendarById(calendarId);
      return store.renderEvent(cal, store.modifyEvent(cal, eventId, body, { replace: true }));
    },
    deleteEvent(calendarId: string, eventId: string): void {
      store.deleteEvent(calendarById(calendarId), eventId);
    },
  };

  const fake: FakeGoogle = {
    get url() {
      return baseUrl;
    },
    get rootUrl() {
      return `${baseUrl}/`;
    },
    get oauthEndpoints() {
      return {
        oauth2AuthBaseUrl: `${baseUrl}/o/oauth2/v2/auth`,
        oauth2TokenUrl: `${baseUrl}/token`,
        oauth2RevokeUrl: `${baseUrl}/revoke`,
        tokenInfoUrl: `${baseUrl}/tokeninfo`,
      };
    },
    app,
    async close() {
      await push.close();
      await app.close();
    },
    injectFault: (spec) => faultInjector.add(spec).id,
    removeFault: (id) => faultInjector.remove(id),
    clearFaults: () => faultInjector.clear(),
    faults: () => ({ active: faultInjector.active(), fired: [...faultInjector.fired] }),
    expireSyncTokens(calendarId) {
      if (calendarId !== undefined) store.expireSyncTokens(calendarById(calendarId));
      else for (const cal of store.calendars.values()) store.expireSyncTokens(cal);
    },
    expireAccessTokens: (token) => oauth.expireAccessTokens(token),
    revokeToken: (token) => oauth.revokeGrantOf(token),
    revokeAllTokens: (email) => oauth.revokeAllFor(email),
    issueTokens: (opts = {}) =>
      oauth.issueTokens({
        email: (opts.email ?? defaultUser).toLowerCase(),
        clientId: opts.clientId ?? options.clients?.[0]?.clientId ?? 'kith-test-client',
        scopes: opts.scopes ?? [CALENDAR_SCOPE],
      }),
    setConsent(consent) {
      oauth.consent = { ...consent };
    },
    createUser: (email) => void store.ensurePrimaryCalendar(email.toLowerCase()),
    createCalendar: (email, body, opts) =>
      store.renderCalendar(store.createCalendar(email.toLowerCase(), body as JsonObject, opts?.clientId)),
    calendars: (email) =>
      [...store.calendars.values()]
        .filter((c) => email === undefined || c.ownerEmail === email.toLowerCase())
        .map((c) => ({ ...store.renderCalendar(c), owner: c.ownerEmail, primary: c.primary })),
    events(calendarId) {
      const cal = calendarById(calendarId);
      return [...cal.events.values()].map((ev) => store.renderEvent(cal, ev));
    },
    event(calendarId, eventId) {
      const cal = store.calendars.get(calendarId);
      if (!cal) return undefined;
      try {
        return store.renderById(cal, eventId);
      } catch {
        return undefined;
      }
    },
    ui: uiEdit,
    stats: () => JSON.parse(JSON.stringify(stats)) as FakeStats,
    resetStats() {
      stats = emptyStats();
    },
    channels: () =>
      push.list().map((c) => ({
        id: c.id,
        resourceId: c.resourceId,
        address: c.address,
        expiration: c.expiration,
        calendarId: c.calendarId,
      })),
    pushDeliveries: () => push.deliveries.map((d) => ({ ...d })),
    reset() {
      store.reset();
      oauth.reset();
      push.reset();
      faultInjector.clear();
      faultInjector.fired.length = 0;
      stats = emptyStats();
      userRequests.clear();
    },
  };

  registerControlRoutes(app, fake);

  app.get('/', async () => ({
    name: 'kith fake Google Calendar API',
    rootUrl: fake.rootUrl,
    oauthEndpoints: fake.oauthEndpoints,
    control: `${baseUrl}/__control`,
  }));

  const address = await app.listen({ port: options.port ?? 0, host: options.host ?? '127.0.0.1' });
  const listenUrl = new URL(address);
  if (listenUrl.hostname === '0.0.0.0' || listenUrl.hostname === '[::]') listenUrl.hostname = '127.0.0.1';
  baseUrl = listenUrl.origin;
  return fake;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The HTTP control API under `/__control` (no auth; it is a fake). */
function registerControlRoutes(app: FastifyInstance, fake: FakeGoogle): void {
  const body = (req: FastifyRequest): JsonObject => (isPlainObject(req.body) ? req.body : {});
  const fail = (reply: FastifyReply, e: unknown) =>
    reply.code(400).send({ error: e instanceof Error ? e.message : String(e) });

  app.post('/__control/faults', async (req, reply) => {
    try {
      const id = fake.injectFault(body(req) as unknown as FaultSpec);
      return reply.code(201).send({ id, ...fake.faults().active.find((f) => f.id === id) });
    } catch (e) {
      return fail(reply, e);
    }
  });
  app.get('/__control/faults', async () => fake.faults());
  app.delete('/__control/faults', async (_req, reply) => {
    fake.clearFaults();
    return reply.code(204).send();
  });
  app.delete('/__control/faults/:id', async (req, reply) =>
    fake.removeFault((req.params as { id: string }).id) ? reply.code(204).send() : reply.code(404).send({ error: 'no such fault' }),
  );
  app.post('/__control/sync-tokens/expire', async (req, reply) => {
    const calendarId = body(req).calendarId;
    try {
      fake.expireSyncTokens(typeof calendarId === 'string' ? calendarId : undefined);
    } catch (e) {
      return fail(reply, e);
    }
    return reply.code(204).send();
  });
  app.post('/__control/access-tokens/expire', async (req, reply) => {
    const token = body(req).token;
    fake.expireAccessTokens(typeof token === 'string' ? token : undefined);
    return reply.code(204).send();
  });
  app.post('/__control/tokens', async (req) => {
    const b = body(req);
    return fake.issueTokens({
      ...(typeof b.email === 'string' ? { email: b.email } : {}),
      ...(typeof b.clientId === 'string' ? { clientId: b.clientId } : {}),
      ...(Array.isArray(b.scopes) ? { scopes: b.scopes.map(String) } : {}),
    });
  });
  app.post('/__control/tokens/revoke', async (req, reply) => {
    const b = body(req);
    if (typeof b.email === 'string') return { revoked: fake.revokeAllTokens(b.email) };
    if (typeof b.token === 'string') return { revoked: fake.revokeToken(b.token) ? 1 : 0 };
    return reply.code(400).send({ error: 'token or email required' });
  });
  app.post('/__control/consent', async (req, reply) => {
    fake.setConsent(body(req) as ConsentBehaviour);
    return reply.code(204).send();
  });
  app.get('/__control/calendars', async (req) => {
    const email = (req.query as { email?: string }).email;
    return { items: fake.calendars(email) };
  });
  app.get('/__control/calendars/:calendarId/events', async (req, reply) => {
    try {
      return { items: fake.events((req.params as { calendarId: string }).calendarId) };
    } catch (e) {
      return reply.code(404).send({ error: e instanceof Error ? e.message : String(e) });
    }
  });
  const uiRoute = (fn: (req: FastifyRequest) => unknown) => async (req: FastifyRequest, reply: FastifyReply) => {
    try {
      const out = fn(req);
      return out === undefined ? reply.code(204).send() : reply.send(out);
    } catch (e) {
      if (e instanceof GoogleApiError) return reply.code(e.code).send(e.toBody());
      return reply.code(404).send({ error: e instanceof Error ? e.message : String(e) });
    }
  };
  const p = (req: FastifyRequest) => req.params as { calendarId: string; eventId: string };
  app.post('/__control/calendars/:calendarId/events', uiRoute((req) => fake.ui.insertEvent(p(req).calendarId, body(req))));
  app.patch(
    '/__control/calendars/:calendarId/events/:eventId',
    uiRoute((req) => fake.ui.patchEvent(p(req).calendarId, p(req).eventId, body(req))),
  );
  app.put(
    '/__control/calendars/:calendarId/events/:eventId',
    uiRoute((req) => fake.ui.updateEvent(p(req).calendarId, p(req).eventId, body(req))),
  );
  app.delete(
    '/__control/calendars/:calendarId/events/:eventId',
    uiRoute((req) => fake.ui.deleteEvent(p(req).calendarId, p(req).eventId)),
  );
  app.get('/__control/stats', async () => fake.stats());
  app.delete('/__control/stats', async (_req, reply) => {
    fake.resetStats();
    return reply.code(204).send();
  });
  app.get('/__control/channels', async () => ({ items: fake.channels() }));
  app.get('/__control/push-deliveries', async () => ({ items: fake.pushDeliveries() }));
  app.post('/__control/reset', async (_req, reply) => {
    fake.reset();
    return reply.code(204).send();
  });
}
