/**
 * REST routes of the Google link. Errors answer `{"error": {"code", "message"}}` like the rest of kith-server.
 *
 * | route | who | what |
 * |---|---|---|
 * | `GET /google/auth-url?roomId=` | owner | consent URL (offline access, PKCE S256, narrow scope, signed single-use state bound to this browser by a cookie) |
 * | `GET /google/callback?code=&state=` | (Google's redirect) | in the browser that asked: exchanges the code, stores tokens encrypted, links the room |
 * | `GET /google/events?roomId=&timeMin=&timeMax=` | member | the linked calendar's events in a window |
 * | `GET /rooms/:roomId/google` | member | link status: last sync, errors, needs re-auth, pending changes |
 * | `POST /rooms/:roomId/google/deletions/:decision` (`apply` \| `restore`) | owner | answer a mass deletion in Google that holds the link (status `awaiting_confirmation`) |
 * | `DELETE /rooms/:roomId/google` | owner | unlink (revokes the grant unless another link holds it; `?deleteCalendar=true` also deletes the calendar) |
 * | `POST /google/push` | Google | push notifications (channel token checked) |
 */
import { randomBytes } from 'node:crypto';
import type { Role } from '@kith/protocol';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { CodeChallengeMethod } from 'google-auth-library';
import { classify, GoogleFailure, newOAuthClient } from './google.js';
import { grantKeyOf, grantLookup, grantUsedElsewhere } from './grants.js';
import { bindBrowser, sameBrowser } from './oauth-browser.js';
import { CALENDAR_APP_CREATED, CALENDAR_FULL, type VerifiedUser } from './options.js';
import type { GoogleSyncWorker } from './worker.js';

export const GOOGLE_ERRORS = {
  GOOGLE_NOT_CONFIGURED: { status: 503, message: 'Google Calendar is not configured on this server (GOOGLE_CLIENT_ID, GOOGLE_CLIENT_SECRET, GOOGLE_REDIRECT_URL).' },
  UNAUTHENTICATED: { status: 401, message: 'A valid access token is required.' },
  VALIDATION_FAILED: { status: 400, message: 'The request is invalid.' },
  ROOM_NOT_FOUND: { status: 404, message: 'No such room, or you are not a member of it.' },
  FORBIDDEN: { status: 403, message: 'Only an owner of the room can do that.' },
  GOOGLE_NOT_LINKED: { status: 404, message: 'This room is not linked to Google Calendar.' },
  GOOGLE_STATE_INVALID: { status: 400, message: 'The authorisation request is invalid, expired or was already used; start again.' },
  GOOGLE_STATE_OTHER_BROWSER: { status: 403, message: 'This authorisation was started in another browser; start linking again in this one.' },
  GOOGLE_CONSENT_DENIED: { status: 403, message: 'Access to Google Calendar was not granted.' },
  GOOGLE_SCOPE_MISSING: { status: 403, message: 'Google did not grant the calendar permission Kith needs; start again and allow it.' },
  GOOGLE_NEEDS_REAUTH: { status: 409, message: 'Google no longer accepts this link; an owner must link the room again.' },
  GOOGLE_UNAVAILABLE: { status: 502, message: 'Google Calendar did not answer as expected; try again later.' },
} as const;

export type GoogleErrorCode = keyof typeof GOOGLE_ERRORS;

export class GoogleRouteError extends Error {
  readonly status: number;
  constructor(
    readonly code: GoogleErrorCode,
    message?: string,
  ) {
    super(message ?? GOOGLE_ERRORS[code].message);
    this.status = GOOGLE_ERRORS[code].status;
  }
}

const STATE_TTL_MS = 10 * 60_000;
const MAX_WINDOW_MS = 366 * 86_400_000;

interface SealedState {
  n: string;
  u: string;
  r: string;
  e: number;
  /** Hash of the browser's binding secret (see oauth-browser.ts). */
  b: string;
}

function errorReply(reply: FastifyReply, status: number, code: string, message: string): FastifyReply {
  return reply.code(status).header('cache-control', 'no-store').send({ error: { code, message } });
}

function asString(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (Array.isArray(v) && typeof v[v.length - 1] === 'string') return v[v.length - 1] as string;
  return undefined;
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/i;

const ROUTES = [
  ['GET', '/google/auth-url'],
  ['GET', '/google/callback'],
  ['GET', '/google/events'],
  ['GET', '/rooms/:roomId/google'],
  ['DELETE', '/rooms/:roomId/google'],
  ['POST', '/rooms/:roomId/google/deletions/:decision'],
  ['POST', '/google/push'],
] as const;

/**
 * Registers the routes on `app` (an encapsulated plugin: its error handler and body parsing stay here).
 * Without a worker (Google not configured) every route answers 503 GOOGLE_NOT_CONFIGURED.
 */
export async function registerGoogleRoutes(app: FastifyInstance, worker: GoogleSyncWorker | null): Promise<void> {
  if (!worker) {
    await app.register(async (scope) => {
      scope.removeAllContentTypeParsers();
      scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: 64 * 1024 }, (_req, _body, done) => done(null, undefined));
      for (const [method, url] of ROUTES) {
        scope.route({
          method,
          url,
          handler: async (_request, reply) =>
            errorReply(reply, GOOGLE_ERRORS.GOOGLE_NOT_CONFIGURED.status, 'GOOGLE_NOT_CONFIGURED', GOOGLE_ERRORS.GOOGLE_NOT_CONFIGURED.message),
        });
      }
    });
    return;
  }
  await app.register(async (scope) => {
    // Push notifications have an empty body; nothing here reads a body.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: 64 * 1024 }, (_req, _body, done) => done(null, undefined));

    scope.setErrorHandler((err, request, reply) => {
      if (err instanceof GoogleRouteError) return errorReply(reply, err.status, err.code, err.message);
      const e = err as { status?: unknown; statusCode?: unknown; code?: unknown; message?: string };
      const status = typeof e.status === 'number' ? e.status : typeof e.statusCode === 'number' ? e.statusCode : 500;
      if (status < 500 && typeof e.code === 'string' && /^[A-Z_]+$/.test(e.code)) return errorReply(reply, status, e.code, e.message ?? e.code);
      if (err instanceof GoogleFailure || status >= 500) {
        if (err instanceof GoogleFailure && err.kind === 'invalid_grant') {
          return errorReply(reply, 409, 'GOOGLE_NEEDS_REAUTH', GOOGLE_ERRORS.GOOGLE_NEEDS_REAUTH.message);
        }
        if (err instanceof GoogleFailure) return errorReply(reply, 502, 'GOOGLE_UNAVAILABLE', GOOGLE_ERRORS.GOOGLE_UNAVAILABLE.message);
        request.log.error({ err }, 'google route failed');
        return errorReply(reply, 500, 'INTERNAL', 'Something went wrong on the server.');
      }
      return errorReply(reply, status, 'VALIDATION_FAILED', e.message ?? 'The request is invalid.');
    });

    const configured = () => {
      if (!worker.configured) throw new GoogleRouteError('GOOGLE_NOT_CONFIGURED');
    };
    const user = async (request: FastifyRequest): Promise<VerifiedUser> => {
      const verify = worker.o.verifyUser;
      if (!verify) throw new GoogleRouteError('UNAUTHENTICATED', 'This server cannot authenticate users for Google routes.');
      const u = await verify(request);
      if (!u) throw new GoogleRouteError('UNAUTHENTICATED');
      return u;
    };
    const role = async (roomId: string, userId: string, need: 'member' | 'owner'): Promise<Role> => {
      const r = await worker.host.memberRole(roomId, userId);
      if (!r) throw new GoogleRouteError('ROOM_NOT_FOUND');
      if (need === 'owner' && r !== 'owner') throw new GoogleRouteError('FORBIDDEN');
      return r;
    };
    const roomIdOf = (v: unknown): string => {
      const id = asString(v);
      if (!id || id.length > 128) throw new GoogleRouteError('VALIDATION_FAILED', 'querystring/roomId is required');
      return id;
    };

    scope.get('/google/auth-url', async (request, reply) => {
      configured();
      const me = await user(request);
      const roomId = roomIdOf((request.query as Record<string, unknown>).roomId);
      await role(roomId, me.userId, 'owner');
      const client = newOAuthClient(worker.o);
      const { codeVerifier, codeChallenge } = await client.generateCodeVerifierAsync();
      const nonce = randomBytes(24).toString('base64url');
      const expiresAt = worker.o.now() + STATE_TTL_MS;
      worker.store.putOAuthState({ nonce, userId: me.userId, username: me.username, roomId, verifier: worker.secrets.encrypt(codeVerifier, `pkce:${nonce}`), expiresAt });
      const browser = bindBrowser(request.headers.cookie, worker.o.redirectUrl, STATE_TTL_MS / 1000);
      const state = worker.secrets.seal({ n: nonce, u: me.userId, r: roomId, e: expiresAt, b: browser.hash } satisfies SealedState);
      const url = client.generateAuthUrl({
        access_type: 'offline',
        // Without it Google returns a refresh token on the first consent only.
        prompt: 'consent',
        scope: worker.o.scopes,
        state,
        code_challenge_method: CodeChallengeMethod.S256,
        code_challenge: codeChallenge!,
      });
      reply.header('set-cookie', browser.setCookie).header('cache-control', 'no-store');
      return { url, expiresAt: new Date(expiresAt).toISOString() };
    });

    scope.get('/google/callback', async (request, reply) => {
      configured();
      const q = request.query as Record<string, unknown>;
      const stateParam = asString(q.state) ?? '';
      const sealed = worker.secrets.open<SealedState>(stateParam);
      if (!sealed || typeof sealed.n !== 'string' || typeof sealed.u !== 'string' || typeof sealed.r !== 'string') {
        throw new GoogleRouteError('GOOGLE_STATE_INVALID', 'The state parameter was altered or is not ours.');
      }
      // Checked before the state is used up, so a callback URL replayed elsewhere cannot spend the real one.
      if (!sameBrowser(request.headers.cookie, worker.o.redirectUrl, sealed.b)) throw new GoogleRouteError('GOOGLE_STATE_OTHER_BROWSER');
      const stored = worker.store.takeOAuthState(sealed.n);
      if (!stored) throw new GoogleRouteError('GOOGLE_STATE_INVALID', 'This authorisation request was already used.');
      if (stored.userId !== sealed.u || stored.roomId !== sealed.r) throw new GoogleRouteError('GOOGLE_STATE_INVALID');
      if (stored.expiresAt < worker.o.now() || sealed.e < worker.o.now()) {
        throw new GoogleRouteError('GOOGLE_STATE_INVALID', 'This authorisation request has expired; start again.');
      }
      const error = asString(q.error);
      if (error) throw new GoogleRouteError('GOOGLE_CONSENT_DENIED', `Google answered "${error.slice(0, 64)}".`);
      const code = asString(q.code);
      if (!code) throw new GoogleRouteError('VALIDATION_FAILED', 'querystring/code is required');
      // Whoever asked must still be an owner of the room.
      await role(stored.roomId, stored.userId, 'owner');
      const codeVerifier = worker.secrets.decrypt(stored.verifier, `pkce:${stored.nonce}`);
      const client = newOAuthClient(worker.o);
      let tokens;
      try {
        ({ tokens } = await client.getToken({ code, codeVerifier }));
      } catch (err) {
        const f = classify(err);
        if (f.kind === 'invalid_grant') throw new GoogleRouteError('GOOGLE_STATE_INVALID', 'Google refused the authorisation code; start again.');
        throw new GoogleRouteError('GOOGLE_UNAVAILABLE');
      }
      // Which grant (account + client) these tokens belong to: links holding the same grant must not be revoked.
      const grantKey = tokens.access_token ? await grantKeyOf(client, tokens.access_token).catch(() => null) : null;
      const granted = (tokens.scope ?? '').split(/\s+/);
      if (!granted.includes(CALENDAR_APP_CREATED) && !granted.includes(CALENDAR_FULL) && !worker.o.scopes.every((s) => granted.includes(s))) {
        // Revoking ends the whole grant, so only when no existing link holds it.
        if (!(await grantUsedElsewhere(grantLookup(worker), grantKey, null))) {
          await client.revokeToken(tokens.access_token ?? '').catch(() => undefined);
        }
        throw new GoogleRouteError('GOOGLE_SCOPE_MISSING');
      }
      if (!tokens.refresh_token) {
        const previous = worker.store.link(stored.roomId);
        // Not from a link whose tokens were erased (its linking user deleted their account): it has none.
        const prevCreds = previous?.tokens ? worker.credentialsOf(previous) : undefined;
        if (!prevCreds?.refresh_token) throw new GoogleRouteError('GOOGLE_SCOPE_MISSING', 'Google did not grant offline access; start again.');
        tokens.refresh_token = prevCreds.refresh_token;
      }
      let status;
      try {
        status = await worker.completeLink({ roomId: stored.roomId, userId: stored.userId, username: stored.username, tokens, scope: tokens.scope ?? '', grantKey });
      } catch (err) {
        if (err instanceof GoogleFailure) throw new GoogleRouteError('GOOGLE_UNAVAILABLE', `Could not set up the Google calendar: ${err.message}`);
        throw err;
      }
      // An earlier unlink may have queued this very grant for revocation; the new link holds it now.
      if (grantKey) worker.store.dropRevocationsOfGrant(grantKey);
      const body = { linked: true, roomId: stored.roomId, calendarId: status.calendarId, status: status.status };
      if ((request.headers.accept ?? '').includes('text/html')) {
        return reply
          .type('text/html; charset=utf-8')
          .send('<!doctype html><meta charset="utf-8"><title>Kith</title><p>Your Kith room is now linked to Google Calendar. You can close this window.</p>');
      }
      return body;
    });

    scope.get('/google/events', async (request) => {
      configured();
      const me = await user(request);
      const q = request.query as Record<string, unknown>;
      const roomId = roomIdOf(q.roomId);
      await role(roomId, me.userId, 'member');
      const now = worker.o.now();
      const instant = (name: string, v: string): string => {
        if (!RFC3339.test(v) || !Number.isFinite(Date.parse(v))) {
          throw new GoogleRouteError('VALIDATION_FAILED', `querystring/${name} must be an RFC 3339 time with an offset, e.g. 2026-03-01T00:00:00Z`);
        }
        return v;
      };
      const timeMin = instant('timeMin', asString(q.timeMin) ?? new Date(now).toISOString());
      const timeMax = instant('timeMax', asString(q.timeMax) ?? new Date(Date.parse(timeMin) + 30 * 86_400_000).toISOString());
      const span = Date.parse(timeMax) - Date.parse(timeMin);
      if (span <= 0) throw new GoogleRouteError('VALIDATION_FAILED', 'querystring/timeMax must be after timeMin');
      if (span > MAX_WINDOW_MS) throw new GoogleRouteError('VALIDATION_FAILED', 'the window may span at most 366 days');
      const link = worker.store.link(roomId);
      if (!link) throw new GoogleRouteError('GOOGLE_NOT_LINKED');
      if (link.status === 'needs_reauth') throw new GoogleRouteError('GOOGLE_NEEDS_REAUTH');
      return worker.listGoogleEvents(roomId, new Date(Date.parse(timeMin)).toISOString(), new Date(Date.parse(timeMax)).toISOString());
    });

    scope.get('/rooms/:roomId/google', async (request) => {
      configured();
      const me = await user(request);
      const roomId = roomIdOf((request.params as Record<string, unknown>).roomId);
      await role(roomId, me.userId, 'member');
      const status = await worker.status(roomId);
      return status ?? { roomId, linked: false };
    });

    // The decision is in the path: these routes read no bodies.
    scope.post('/rooms/:roomId/google/deletions/:decision', async (request, reply) => {
      configured();
      const me = await user(request);
      const params = request.params as Record<string, unknown>;
      const roomId = roomIdOf(params.roomId);
      await role(roomId, me.userId, 'owner');
      const decision = params.decision;
      if (decision !== 'apply' && decision !== 'restore') throw new GoogleRouteError('VALIDATION_FAILED', 'params/decision must be "apply" or "restore"');
      if (!worker.store.link(roomId)) throw new GoogleRouteError('GOOGLE_NOT_LINKED');
      if (!worker.decideMassDelete(roomId, decision)) throw new GoogleRouteError('VALIDATION_FAILED', 'the link is not waiting for a decision on deletions');
      return reply.code(204).send();
    });

    scope.delete('/rooms/:roomId/google', async (request, reply) => {
      configured();
      const me = await user(request);
      const roomId = roomIdOf((request.params as Record<string, unknown>).roomId);
      await role(roomId, me.userId, 'owner');
      const deleteCalendar = asString((request.query as Record<string, unknown>).deleteCalendar) === 'true';
      if (!(await worker.unlink(roomId, { deleteCalendar }))) throw new GoogleRouteError('GOOGLE_NOT_LINKED');
      return reply.code(204).send();
    });

    scope.post('/google/push', async (request, reply) => {
      // Always 200 for Google (other answers make it retry and back off); unknown channels are ignored.
      if (worker.configured) worker.onPush(request.headers);
      return reply.code(200).send();
    });
  });
}
