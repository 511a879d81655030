/** The HTTP control API under `/__control` (no auth; it is a fake): the handle's test controls over HTTP, for demos. */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GoogleApiError } from '../errors.js';
import type { FaultSpec } from '../faults.js';
import type { FakeGoogle } from '../handle.js';
import type { ConsentBehaviour } from '../oauth.js';
import { isPlainObject, type JsonObject } from '../calendar-data.js';

export function registerControlRoutes(app: FastifyInstance, fake: FakeGoogle): void {
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
