import type { TokenClaims, TokenSubject } from '@kith/protocol';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { KithError } from '../errors/catalogue.js';

/** What an access token says: who the bearer is, and until when. */
export interface AccessClaims {
  userId: string;
  username: string;
  /** Expiry, seconds since the epoch. */
  exp: number;
}

declare module '@fastify/jwt' {
  interface FastifyJWT {
    payload: TokenSubject;
    user: { userId: string; username: string };
  }
}

export function signAccessToken(app: FastifyInstance, user: { userId: string; username: string }): string {
  return app.jwt.sign({ sub: user.userId, username: user.username });
}

/** Verifies a bearer token anywhere (REST or WebSocket upgrade); throws UNAUTHENTICATED or TOKEN_EXPIRED. */
export function verifyAccessToken(app: FastifyInstance, token: string | undefined): AccessClaims {
  if (!token) throw new KithError('UNAUTHENTICATED');
  try {
    // Checked field by field: a token signed with our secret may still lack or mistype a claim.
    const p = app.jwt.verify<{ [K in keyof TokenClaims]?: unknown }>(token);
    if (typeof p.sub !== 'string' || typeof p.username !== 'string' || typeof p.exp !== 'number') {
      throw new KithError('UNAUTHENTICATED');
    }
    return { userId: p.sub, username: p.username, exp: p.exp };
  } catch (err) {
    if (err instanceof KithError) throw err;
    if ((err as { code?: string }).code === 'FAST_JWT_EXPIRED') throw new KithError('TOKEN_EXPIRED');
    throw new KithError('UNAUTHENTICATED');
  }
}

/** The token of an `Authorization: Bearer …` header, if there is one. */
export function bearerToken(header: string | undefined): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return m?.[1];
}

/** preHandler for routes that need a signed-in user; sets `request.user`. */
export async function requireUser(this: FastifyInstance, request: FastifyRequest): Promise<void> {
  const claims = verifyAccessToken(this, bearerToken(request.headers.authorization));
  request.user = { userId: claims.userId, username: claims.username };
}
