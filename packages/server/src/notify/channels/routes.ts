import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { strictJsonApi } from '../../auth/json-api.js';
import { KithError } from '../../errors/catalogue.js';
import type { AuthenticatedUser, RequestAuth } from '../../modules/module.js';
import type { EmailAddresses } from './email-addresses.js';
import { normaliseAddress } from './email-addresses.js';
import type { Mailer } from './mailer.js';
import { checkSubscription, type EndpointPolicy, type PushSubscriptions } from './push-subscriptions.js';
import type { AccountRecovery } from './recovery.js';
import {
  CodeBody,
  EmailBody,
  EmailView,
  EndpointBody,
  PushSubscriptionBody,
  ResetConfirmBody,
  ResetRequestBody,
  UnsubscribeQuery,
  VapidKeyView,
} from './schemas.js';
import type { UnsubscribeTokens } from './signing.js';
import { verificationMail } from './templates.js';

export interface MemberRoutesOptions {
  auth: RequestAuth;
  subscriptions: PushSubscriptions;
  endpointPolicy: EndpointPolicy;
  addresses: EmailAddresses;
  /** Undefined without SMTP_URL: email routes answer 503 EMAIL_NOT_CONFIGURED. */
  mailer: Mailer | undefined;
  /** Requests a minute from one address to the routes that send mail (the login's per-IP bound). */
  perIpPerMinute: number;
}

/** `/users/me/push-subscriptions` and `/users/me/email`: a member sets up their own channels. */
export const memberChannelRoutes: FastifyPluginAsyncTypebox<MemberRoutesOptions> = async (app, opts) => {
  const { subscriptions, addresses } = opts;
  strictJsonApi(app);
  const me = new WeakMap<FastifyRequest, AuthenticatedUser>();
  app.addHook('preHandler', async (request) => {
    me.set(request, await opts.auth.verifyRequest(request));
  });
  const userOf = (request: FastifyRequest) => me.get(request)!.userId;
  const mailer = (): Mailer => {
    if (!opts.mailer) throw new KithError('EMAIL_NOT_CONFIGURED');
    return opts.mailer;
  };

  app.post(
    '/users/me/push-subscriptions',
    { schema: { body: PushSubscriptionBody }, config: { rateLimit: { max: 30, timeWindow: '1 minute' } } },
    async (request, reply) => {
      const { endpoint, keys } = request.body;
      checkSubscription({ endpoint, keys }, opts.endpointPolicy);
      await subscriptions.save(userOf(request), { endpoint, keys });
      request.log.info('push subscription saved');
      return reply.code(201).send({ subscribed: true });
    },
  );

  app.delete('/users/me/push-subscriptions', { schema: { body: EndpointBody } }, async (request, reply) => {
    if (!(await subscriptions.remove(userOf(request), request.body.endpoint))) throw new KithError('PUSH_SUBSCRIPTION_NOT_FOUND');
    return reply.code(204).send();
  });

  app.get('/users/me/email', { schema: { response: { 200: EmailView } } }, async (request) => addresses.status(userOf(request)));

  app.post(
    '/users/me/email',
    // Per member: one code a minute (email-addresses.ts); per address, the login's bound.
    { schema: { body: EmailBody }, config: { rateLimit: { max: opts.perIpPerMinute, timeWindow: '1 minute' } } },
    async (request, reply) => {
      const send = mailer();
      const userId = userOf(request);
      const address = normaliseAddress(request.body.address);
      const code = await addresses.startVerification(userId, address);
      const result = await send.send({ to: address, ...verificationMail(code) });
      if (result.outcome !== 'sent') {
        await addresses.cancelCode(userId);
        request.log.warn({ reason: result.reason }, 'verification code not sent');
        throw new KithError(result.outcome === 'rejected' ? 'INVALID_EMAIL' : 'EMAIL_SEND_FAILED');
      }
      request.log.info('verification code sent');
      return reply.code(202).send({ pendingAddress: address });
    },
  );

  app.post(
    '/users/me/email/verify',
    { schema: { body: CodeBody, response: { 200: EmailView } }, config: { rateLimit: { max: opts.perIpPerMinute, timeWindow: '1 minute' } } },
    async (request) => {
      const userId = userOf(request);
      await addresses.verify(userId, request.body.code);
      request.log.info('email address verified');
      return addresses.status(userId);
    },
  );

  app.delete('/users/me/email', async (request, reply) => {
    await addresses.remove(userOf(request));
    return reply.code(204).send();
  });
};

export interface PublicRoutesOptions {
  vapidPublicKey: string;
  unsubscribe: UnsubscribeTokens;
  addresses: EmailAddresses;
}

const htmlPage = (title: string, inner: string) =>
  `<!doctype html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${title}</title></head><body style="font-family:system-ui,sans-serif">${inner}</body></html>`;

/** Routes without a bearer token: the VAPID key and one-click unsubscribe (RFC 8058). */
export const publicChannelRoutes: FastifyPluginAsyncTypebox<PublicRoutesOptions> = async (app, opts) => {
  const { unsubscribe, addresses } = opts;
  // RFC 8058's POST body is `List-Unsubscribe=One-Click`, form-encoded: read as a bounded string.
  for (const type of ['application/x-www-form-urlencoded', 'multipart/form-data']) {
    app.addContentTypeParser(type, { parseAs: 'string', bodyLimit: 1024 }, (_req, body, done) => done(null, body));
  }

  app.get('/push/vapid-public-key', { schema: { response: { 200: VapidKeyView } } }, async () => ({ publicKey: opts.vapidPublicKey }));

  const addressOf = async (userId: string) => (await addresses.status(userId)).address ?? undefined;

  // A GET never unsubscribes: mail scanners follow links. It shows a button that POSTs.
  app.get('/unsubscribe', { schema: { querystring: UnsubscribeQuery } }, async (request, reply) => {
    if (!(await unsubscribe.check(request.query.token, addressOf))) throw new KithError('UNSUBSCRIBE_TOKEN_INVALID');
    const action = `/unsubscribe?token=${encodeURIComponent(request.query.token)}`;
    return reply
      .type('text/html; charset=utf-8')
      .header('cache-control', 'no-store')
      .send(
        htmlPage(
          'Unsubscribe',
          `<p>Stop Kith's notification emails?</p><form method="post" action="${action}"><input type="hidden" name="List-Unsubscribe" value="One-Click"><button>Unsubscribe</button></form>`,
        ),
      );
  });

  app.post(
    '/unsubscribe',
    { schema: { querystring: UnsubscribeQuery }, config: { rateLimit: { max: 30, timeWindow: '1 minute' } } },
    async (request, reply) => {
      const who = await unsubscribe.check(request.query.token, addressOf);
      if (!who) throw new KithError('UNSUBSCRIBE_TOKEN_INVALID');
      await addresses.unsubscribe(who.userId, who.address);
      request.log.info({ userId: who.userId }, 'unsubscribed from notification emails');
      return reply.type('text/html; charset=utf-8').send(htmlPage('Unsubscribed', '<p>Done: Kith will send you no more notification emails.</p>'));
    },
  );
};

/** Password reset by email (no bearer token: the member cannot sign in). */
export const passwordResetRoutes: FastifyPluginAsyncTypebox<{ recovery: AccountRecovery | undefined; resetPerMinute: number }> = async (
  app,
  opts,
) => {
  strictJsonApi(app);
  const recovery = (): AccountRecovery => {
    if (!opts.recovery) throw new KithError('EMAIL_NOT_CONFIGURED');
    return opts.recovery;
  };

  app.post(
    '/users/password-reset',
    { schema: { body: ResetRequestBody }, config: { rateLimit: { max: opts.resetPerMinute, timeWindow: '1 minute' } } },
    async (request, reply) => {
      const r = recovery();
      let address: string | undefined;
      try {
        address = normaliseAddress(request.body.email);
      } catch {
        address = undefined; // the same answer for a malformed address: nothing is told
      }
      // Answered before any lookup, so neither the answer nor its timing tells whether the address is known.
      if (address) {
        const known = address;
        setImmediate(() => void r.requestReset(known).catch((err) => request.log.error({ err }, 'password reset failed')));
      }
      return reply.code(202).send({ accepted: true });
    },
  );

  app.post(
    '/users/password-reset/confirm',
    { schema: { body: ResetConfirmBody }, config: { rateLimit: { max: 20, timeWindow: '1 minute' } } },
    async (request, reply) => {
      const userId = await recovery().confirmReset(request.body.token, request.body.newPassword);
      request.log.info({ userId }, 'password reset');
      return reply.code(204).send();
    },
  );
};
