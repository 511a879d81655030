/**
 * The claims of a Kith access token: an HS256 JWT that kith-server signs at login and refresh, and
 * that the standalone Google mirror signs with the same secret to act as the user who linked a room.
 * Clients read it unverified (who they are, when it expires); only the server verifies it.
 */
export interface TokenClaims {
  /** The user's id. */
  sub: string;
  username: string;
  /** Issued at, seconds since the epoch. */
  iat: number;
  /** Expiry, seconds since the epoch. */
  exp: number;
}

/** The claims a signer is given; it adds `iat` and `exp` itself. */
export type TokenSubject = Pick<TokenClaims, 'sub' | 'username'>;
