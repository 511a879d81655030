/**
 * How every Calendar API route runs: count the request, apply an injected fault, authenticate the bearer token,
 * charge the user's quota, then the route's handler; writes are counted even when the answer is dropped.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { FakeContext } from '../context.js';
import { apiFaultError } from '../faults.js';
import type { Actor } from '../oauth.js';
import { drop, sleep, takeFault } from './fault-points.js';

export interface HandlerResult {
  status?: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export type ApiHandler = (req: FastifyRequest, actor: Actor) => HandlerResult | Promise<HandlerResult>;

/** Mounts `handler` at `/calendar/v3${url}` under the client-method name `route`. */
export type ApiRoute = (
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE',
  url: string,
  route: string,
  write: boolean,
  handler: ApiHandler,
) => void;

export function apiRouter(app: FastifyInstance, ctx: FakeContext): ApiRoute {
  return (method, url, route, write, handler) => {
    app.route({
      method,
      url: `/calendar/v3${url}`,
      config: { routeName: route },
      handler: async (req, reply) => {
        ctx.stats.request(route);
        const calendarId = (req.params as { calendarId?: string }).calendarId;
        const fault = takeFault(ctx, route, calendarId);
        if (fault) {
          if (fault.kind === 'delay') await sleep(fault.delayMs ?? 1_000);
          else if (fault.kind === 'dropConnection') return drop(req, reply);
          else {
            const err = apiFaultError(fault.kind);
            if (err) throw err;
          }
        }
        const actor = ctx.oauth.authenticate(req.headers.authorization);
        ctx.quota.check(actor.email);
        const result = await handler(req, actor);
        if (write) ctx.stats.write(route, (req.params as { eventId?: string }).eventId, req.body);
        if (fault?.kind === 'commitThenDrop') return drop(req, reply);
        void reply.code(result.status ?? 200);
        if (result.headers) void reply.headers(result.headers);
        if (result.status === 204 || result.status === 304) return reply.send();
        return reply.send(result.body);
      },
    });
  };
}
