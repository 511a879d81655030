/**
 * The handle `startFakeGoogle` returns: the URLs to point Google's client libraries at, and the test controls
 * (faults, token expiry and revocation, consent, edits "in Google's UI", inspection, stats, reset).
 */
import type { FastifyInstance } from 'fastify';
import type { FakeContext } from './context.js';
import type { ActiveFault, FaultSpec, FiredFault } from './faults.js';
import { CALENDAR_SCOPE, type ConsentBehaviour, type TokenResponse } from './oauth.js';
import type { DeliveryRecord } from './push.js';
import type { FakeStats } from './stats.js';
import type { Calendar, JsonObject } from './calendar-data.js';

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
    /** "This and following events": the series ends before `times.start`, a copy `<id>_R…` continues it. */
    splitSeries(calendarId: string, eventId: string, times: { start: JsonObject; end: JsonObject }, changes?: JsonObject): JsonObject;
  };

  stats(): FakeStats;
  resetStats(): void;
  channels(): Array<{ id: string; resourceId: string; address: string; expiration: number; calendarId: string }>;
  pushDeliveries(): DeliveryRecord[];
  /** Forget everything: users, calendars, tokens, channels, faults, stats. */
  reset(): void;
}

export function createHandle(ctx: FakeContext, app: FastifyInstance): FakeGoogle {
  const calendarById = (calendarId: string): Calendar => {
    const cal = ctx.store.calendars.get(calendarId);
    if (!cal) throw new Error(`fake google: no calendar ${calendarId}`);
    return cal;
  };
  const uiEdit = {
    insertEvent(calendarId: string, body: JsonObject): JsonObject {
      const cal = calendarById(calendarId);
      return ctx.store.renderEvent(cal, ctx.store.insertEvent(cal, body, cal.ownerEmail));
    },
    patchEvent(calendarId: string, eventId: string, patch: JsonObject): JsonObject {
      const cal = calendarById(calendarId);
      return ctx.store.renderEvent(cal, ctx.store.modifyEvent(cal, eventId, patch, { replace: false }));
    },
    updateEvent(calendarId: string, eventId: string, body: JsonObject): JsonObject {
      const cal = calendarById(calendarId);
      return ctx.store.renderEvent(cal, ctx.store.modifyEvent(cal, eventId, body, { replace: true }));
    },
    deleteEvent(calendarId: string, eventId: string): void {
      ctx.store.deleteEvent(calendarById(calendarId), eventId);
    },
    splitSeries(calendarId: string, eventId: string, times: { start: JsonObject; end: JsonObject }, changes: JsonObject = {}): JsonObject {
      const cal = calendarById(calendarId);
      return ctx.store.renderEvent(cal, ctx.store.splitSeries(cal, eventId, times, changes, cal.ownerEmail));
    },
  };

  return {
    get url() {
      return ctx.baseUrl;
    },
    get rootUrl() {
      return `${ctx.baseUrl}/`;
    },
    get oauthEndpoints() {
      return {
        oauth2AuthBaseUrl: `${ctx.baseUrl}/o/oauth2/v2/auth`,
        oauth2TokenUrl: `${ctx.baseUrl}/token`,
        oauth2RevokeUrl: `${ctx.baseUrl}/revoke`,
        tokenInfoUrl: `${ctx.baseUrl}/tokeninfo`,
      };
    },
    app,
    async close() {
      await ctx.push.close();
      await app.close();
    },
    injectFault: (spec) => ctx.faults.add(spec).id,
    removeFault: (id) => ctx.faults.remove(id),
    clearFaults: () => ctx.faults.clear(),
    faults: () => ({ active: ctx.faults.active(), fired: [...ctx.faults.fired] }),
    expireSyncTokens(calendarId) {
      if (calendarId !== undefined) ctx.store.expireSyncTokens(calendarById(calendarId));
      else for (const cal of ctx.store.calendars.values()) ctx.store.expireSyncTokens(cal);
    },
    expireAccessTokens: (token) => ctx.oauth.expireAccessTokens(token),
    revokeToken: (token) => ctx.oauth.revokeGrantOf(token),
    revokeAllTokens: (email) => ctx.oauth.revokeAllFor(email),
    issueTokens: (opts = {}) =>
      ctx.oauth.issueTokens({
        email: (opts.email ?? ctx.defaultUser).toLowerCase(),
        clientId: opts.clientId ?? ctx.options.clients?.[0]?.clientId ?? 'kith-test-client',
        scopes: opts.scopes ?? [CALENDAR_SCOPE],
      }),
    setConsent(consent) {
      ctx.oauth.consent = { ...consent };
    },
    createUser: (email) => void ctx.store.ensurePrimaryCalendar(email.toLowerCase()),
    createCalendar: (email, body, opts) =>
      ctx.store.renderCalendar(ctx.store.createCalendar(email.toLowerCase(), body as JsonObject, opts?.clientId)),
    calendars: (email) =>
      [...ctx.store.calendars.values()]
        .filter((c) => email === undefined || c.ownerEmail === email.toLowerCase())
        .map((c) => ({ ...ctx.store.renderCalendar(c), owner: c.ownerEmail, primary: c.primary })),
    events(calendarId) {
      const cal = calendarById(calendarId);
      return [...cal.events.values()].map((ev) => ctx.store.renderEvent(cal, ev));
    },
    event(calendarId, eventId) {
      const cal = ctx.store.calendars.get(calendarId);
      if (!cal) return undefined;
      try {
        return ctx.store.renderById(cal, eventId);
      } catch {
        return undefined;
      }
    },
    ui: uiEdit,
    stats: () => ctx.stats.snapshot(),
    resetStats() {
      ctx.stats.reset();
    },
    channels: () =>
      ctx.push.list().map((c) => ({
        id: c.id,
        resourceId: c.resourceId,
        address: c.address,
        expiration: c.expiration,
        calendarId: c.calendarId,
      })),
    pushDeliveries: () => ctx.push.deliveries.map((d) => ({ ...d })),
    reset() {
      ctx.store.reset();
      ctx.oauth.reset();
      ctx.push.reset();
      ctx.faults.clear();
      ctx.faults.fired.length = 0;
      ctx.stats.reset();
      ctx.quota.clear();
    },
  };
}
