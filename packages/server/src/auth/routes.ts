import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { KithError } from '../errors/catalogue.js';
import { newUserId } from '../ids.js';
import type { Storage } from '../storage/storage.js';
import { requireUser, signAccessToken } from './access-tokens.js';
import { strictJsonApi } from './json-api.js';
import { decoyHash, hashPassword, verifyPassword } from './passwords.js';
import { RefreshTokens } from './refresh-tokens.js';
import { Credentials, LoginBody, RefreshBody, TokenPair, UserView } from './schemas.js';

export interface AuthRoutesOptions {
  storage: Storage;
  accessTokenTtlSeconds: number;
  refreshTokenTtlDays: number;
  loginPerMinute: number;
}

/** The seed's auth contract: register, login, me; plus refresh rotation and logout. */
export const authRoutes: FastifyPluginAsyncTypebox<AuthRoutesOptions> = async (app, opts) => {
  const { storage } = opts;
  strictJsonApi(app);
  // Compute the decoy hash now: computed lazily, the first login for an unknown username paid
  // for two hashes, which told that the username does not exist.
  await decoyHash();
  const refreshTokens = new RefreshTokens(storage, opts.refreshTokenTtlDays * 24 * 3600 * 1000);

  const tokenPair = async (user: { userId: string; username: string }, refreshToken?: string) => ({
    token: signAccessToken(app, user),
    refreshToken: refreshToken ?? (await refreshTokens.issue(user.userId)),
    expiresIn: opts.accessTokenTtlSeconds,
  });

  app.post(
    '/users/register',
    {
      schema: { body: Credentials, response: { 201: UserView } },
      config: { rateLimit: { max: opts.loginPerMinute * 3, timeWindow: '1 minute' } },
    },
    async (request, reply) => {
      const { username, password } = request.body;
      const user = { userId: newUserId(), username, passwordHash: await hashPassword(password), createdAt: Date.now() };
      if (!(await storage.users.create(user))) throw new KithError('USERNAME_TAKEN');
      request.log.info({ userId: user.userId }, 'user registered');
      return reply.code(201).send({ userId: user.userId, username: user.username });
    },
  );

  // Per-username limit on top of the per-IP one, so that guessing one person's password from
  // many addresses is slowed too. It must not be `app.rateLimit(...)`: every limiter made by that
  // decorator and the route's `config.rateLimit` hook share one per-request "already ran" flag, so
  // the per-IP hook (onRequest) ran first and the per-username preHandler then did nothing at all.
  // `createRateLimit` returns a bare check with its own store that is always applied.
  const perUsername = app.createRateLimit({
    max: opts.loginPerMinute,
    timeWindow: '1 minute',
    keyGenerator: (request) => `login:${String((request.body as { username?: unknown })?.username ?? '').toLowerCase()}`,
  });
  const limitPerUsername = async (request: FastifyRequest) => {
    const limit = await perUsername(request);
    if (!limit.isAllowed && limit.isExceeded) {
      throw new KithError('RATE_LIMITED', `Too many login attempts for this username; retry in ${limit.ttlInSeconds} s.`, {
        'retry-after': String(Math.max(1, limit.ttlInSeconds)),
      });
    }
  };

  app.post(
    '/users/login',
    {
      schema: { body: LoginBody, response: { 200: TokenPair } },
      config: { rateLimit: { max: opts.loginPerMinute, timeWindow: '1 minute' } },
      preHandler: limitPerUsername,
    },
    async (request) => {
      const { username, password } = request.body;
      const user = await storage.users.findByUsername(username);
      // Verify against a decoy when the user is unknown: same work, same answer, similar timing.
      const ok = await verifyPassword(password, user?.passwordHash ?? (await decoyHash()));
      if (!user || !ok) throw new KithError('INVALID_CREDENTIALS');
      return tokenPair(user);
    },
  );

  app.get(
    '/users/me',
    { schema: { response: { 200: UserView } }, preHandler: requireUser },
    async (request) => {
      const user = await storage.users.findById(request.user.userId);
      if (!user) throw new KithError('UNAUTHENTICATED');
      return { userId: user.userId, username: user.username };
    },
  );

  app.post(
    '/users/refresh',
    {
      schema: { body: RefreshBody, response: { 200: TokenPair } },
      config: { rateLimit: { max: 60, timeWindow: '1 minute' } },
    },
    async (request) => {
      const { userId, refreshToken } = await refreshTokens.rotate(request.body.refreshToken);
      const user = await storage.users.findById(userId);
      if (!user) throw new KithError('REFRESH_TOKEN_INVALID');
      return tokenPair(user, refreshToken);
    },
  );

  app.post('/users/logout', { schema: { body: RefreshBody } }, async (request, reply) => {
    await refreshTokens.revoke(request.body.refreshToken);
    return reply.code(204).send();
  });
};
