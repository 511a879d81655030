/**
 * Google's OAuth 2.0 endpoints: the consent screen (`/o/oauth2/v2/auth`), `/token`, `/revoke` and `/tokeninfo`,
 * each with the OAuth-shaped faults a test can inject.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { FakeContext } from '../context.js';
import type { OAuthError } from '../errors.js';
import { type ActiveFault, oauthFaultError } from '../faults.js';
import { isPlainObject } from '../calendar-data.js';
import { drop, sleep, takeFault } from './fault-points.js';

export function registerOAuthRoutes(app: FastifyInstance, ctx: FakeContext): void {
  const oauthFault = (route: string): ActiveFault | null => {
    ctx.stats.request(route);
    const fault = takeFault(ctx, route, undefined);
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
      const outcome = ctx.oauth.authorize(stringRecord(req.query));
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
    withOAuthFault('oauth.token', req, reply, () => ctx.oauth.token(stringRecord(req.body), req.headers.authorization)),
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
          ctx.oauth.revoke(q.token ?? b.token);
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
          // google-auth-library's getTokenInfo sends the token as a bearer header, which Google accepts too.
          const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
          return ctx.oauth.tokenInfo(q.access_token ?? bearer);
        }),
    });
  }
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
