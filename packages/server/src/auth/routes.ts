import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import type { RegistrationPolicy } from '../config/config.js';
import { KithError } from '../errors/catalogue.js';
import { newUserId, sha256 } from '../ids.js';
import { refuseInvite } from '../rooms/invite-outcome.js';
import type { Storage } from '../storage/storage.js';
import { requireUser, signAccessToken } from './access-tokens.js';
import { strictJsonApi } from './json-api.js';
import { throwIfExceeded, type LoginLimits } from './login-limits.js';
import { decoyHash, hashPassword, verifyPassword } from './passwords.js';
import { RefreshTokens } from './refresh-tokens.js';
import type { SignInEvents } from './sign-in-events.js';
import { LoginBody, RefreshBody, RegisterBody, RegisteredView, TokenPair, UserView } from './schemas.js';

export interface AuthRoutesOptions {
  storage: Storage;
  accessTokenTtlSeconds: number;
  refreshTokenTtlDays: number;
  /** Attempts per minute per client IP and username, and per IP; per account is `app.accountPasswordAttempts`. */
  limits: LoginLimits;
  registration: RegistrationPolicy;
  /** Told of each successful login (modules listen: e.g. the new-device email). */
  signIns?: SignInEvents;
}

/** The auth API: register, login, me, refresh (tokens rotate) and logout. */
export const authRoutes: FastifyPluginAsyncTypebox<AuthRoutesOptions> = async (app, opts) => {
  const { storage } = opts;
  const { limits } = opts;
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
      schema: { body: RegisterBody, response: { 201: RegisteredView } },
      config: { rateLimit: { max: limits.perIp, timeWindow: '1 minute' } },
    },
    async (request, reply) => {
      const { username, password, inviteCode } = request.body;
      if (opts.registration === 'closed') throw new KithError('REGISTRATION_CLOSED');
      if (opts.registration === 'invite-only' && inviteCode === undefined) throw new KithError('INVITE_REQUIRED');
      const now = Date.now();
      const user = { userId: newUserId(), username, passwordHash: await hashPassword(password), createdAt: now };
      if (inviteCode === undefined) {
        if (!(await storage.users.create(user))) throw new KithError('USERNAME_TAKEN');
        request.log.info({ userId: user.userId }, 'user registered');
        return reply.code(201).send({ userId: user.userId, username: user.username });
      }
      // With a code (in every policy) the account exists only if the invite admits it: one
      // transaction, so a used-up or revoked invite cannot mint accounts.
      const result = await storage.rooms.registerWithInvite(user, sha256(inviteCode), now);
      if (result.outcome !== 'joined') {
        refuseInvite(result.outcome);
        throw new KithError('INTERNAL');
      }
      const room = await storage.rooms.get(result.member.roomId);
      request.log.info({ userId: user.userId, roomId: result.member.roomId }, 'user registered with an invite');
      return reply.code(201).send({
        userId: user.userId,
        username: user.username,
        room: { roomId: result.member.roomId, name: room?.name ?? '', role: result.member.role },
      });
    },
  );

  // Login limits. Per client IP and username, so that someone guessing a password from their
  // address locks out only themself, not the account's owner elsewhere (a per-account lock was a
  // one-request-a-minute denial of service against anyone). Per IP across usernames (3×, room
  // for a household behind one NAT) against spraying one password over many accounts. And a
  // generous per-account bound against guessing spread over many addresses: at the default
  // 100/min a botnet still gets at most 144,000 guesses a day, while the owner is locked out only
  // by an attacker with at least ten addresses working full time.
  // These must not be `app.rateLimit(...)`: every limiter made by that decorator and the route's
  // `config.rateLimit` hook share one per-request "already ran" flag, so the per-IP hook
  // (onRequest) ran first and a later one did nothing at all. `createRateLimit` returns a bare
  // check with its own store that is always applied.
  const usernameOf = (request: FastifyRequest) =>
    String((request.body as { username?: unknown })?.username ?? '').toLowerCase();
  const perIpAndUsername = app.createRateLimit({
    max: limits.perIpAndUsername,
    timeWindow: '1 minute',
    keyGenerator: (request) => `login:${request.ip}:${usernameOf(request)}`,
  });
  // Per account: the counter account deletion's password check adds to as well (login-limits.ts).
  const limitLogins = async (request: FastifyRequest) => {
    throwIfExceeded(await perIpAndUsername(request));
    await app.accountPasswordAttempts(request, usernameOf(request));
  };

  app.post(
    '/users/login',
    {
      schema: { body: LoginBody, response: { 200: TokenPair } },
      config: { rateLimit: { max: limits.perIp, timeWindow: '1 minute' } },
      preHandler: limitLogins,
    },
    async (request) => {
      const { username, password } = request.body;
      const user = await storage.users.findByUsername(username);
      // Verify against a decoy when the user is unknown: same work, same answer, similar timing.
      const ok = await verifyPassword(password, user?.passwordHash ?? (await decoyHash()));
      if (!user || !ok) throw new KithError('INVALID_CREDENTIALS');
      const tokens = await tokenPair(user);
      const userAgent = String(request.headers['user-agent'] ?? '').slice(0, 512);
      opts.signIns?.publish({ userId: user.userId, username: user.username, ip: request.ip, userAgent, at: Date.now() });
      return tokens;
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
