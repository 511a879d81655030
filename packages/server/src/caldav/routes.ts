import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { strictJsonApi } from '../auth/json-api.js';
import { KithError } from '../errors/catalogue.js';
import type { AuthenticatedUser, RequestAuth } from '../modules/module.js';
import type { AppPasswords } from './app-passwords.js';
import type { BasicVerifier } from './basic-auth.js';
import { AppPasswordList, AppPasswordParams, CreateAppPasswordBody, CreatedAppPassword, DavProbe } from './schemas.js';

export interface AppPasswordRoutesOptions {
  appPasswords: AppPasswords;
  auth: RequestAuth;
}

/** `/users/me/app-passwords`: create (shown once), list, revoke. Bearer tokens, like `/users/me`. */
export const appPasswordRoutes: FastifyPluginAsyncTypebox<AppPasswordRoutesOptions> = async (app, opts) => {
  const { appPasswords } = opts;
  strictJsonApi(app);
  const me = new WeakMap<FastifyRequest, AuthenticatedUser>();
  app.addHook('preHandler', async (request) => {
    me.set(request, await opts.auth.verifyRequest(request));
  });
  const userOf = (request: FastifyRequest) => me.get(request)!.userId;

  app.post(
    '/users/me/app-passwords',
    { schema: { body: CreateAppPasswordBody, response: { 201: CreatedAppPassword } } },
    async (request, reply) => {
      const created = await appPasswords.create(userOf(request), request.body.label.trim());
      request.log.info({ appPasswordId: created.id }, 'app password created');
      const { id, label, createdAt, password } = created;
      return reply.code(201).header('cache-control', 'no-store').send({ id, label, createdAt, password });
    },
  );

  app.get('/users/me/app-passwords', { schema: { response: { 200: AppPasswordList } } }, async (request) => ({
    appPasswords: await appPasswords.list(userOf(request)),
  }));

  app.delete('/users/me/app-passwords/:id', { schema: { params: AppPasswordParams } }, async (request, reply) => {
    // Someone else's id answers the same 404 as an unknown one: ids are not confirmed to exist.
    if (!(await appPasswords.revoke(userOf(request), request.params.id))) throw new KithError('APP_PASSWORD_NOT_FOUND');
    request.log.info({ appPasswordId: request.params.id }, 'app password revoked');
    return reply.code(204).send();
  });
};

/** The Basic challenge CalDAV clients answer by asking for the username and app password. */
export function basicChallenge(): KithError {
  return new KithError('BASIC_AUTH_REQUIRED', undefined, { 'www-authenticate': 'Basic realm="Kith", charset="UTF-8"' });
}

/**
 * `GET /dav/`: the start of the CalDAV module, a probe that says whether a username and app
 * password are accepted (200 with who they are, 401 with a Basic challenge, 429 when rate-limited).
 * The CalDAV routes (PROPFIND, REPORT, …) replace it, calling the same verifier.
 */
export const davProbeRoutes: FastifyPluginAsyncTypebox<{ verifier: BasicVerifier }> = async (app, opts) => {
  app.get('/dav/', { schema: { response: { 200: DavProbe } } }, async (request) => {
    const user = await opts.verifier.verify(request.headers.authorization, request.ip);
    if (!user) throw basicChallenge();
    return user;
  });
};
