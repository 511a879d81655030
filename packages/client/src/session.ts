/** The signed-in session and where it is kept. */

export interface User {
  userId: string;
  username: string;
}

export interface Session {
  /** The access token (a JWT). */
  token: string;
  /** The rotating refresh token: each refresh replaces it. */
  refreshToken: string;
  /** When the access token expires, ms since the epoch (local clock). */
  expiresAt: number;
  /** Lifetime the server gave the access token, seconds. */
  expiresIn: number;
  user: User;
}

/**
 * Where the session is kept between runs. Methods may be synchronous or return promises.
 * `set(null)` forgets the session (logout, or the server refused the refresh token).
 */
export interface TokenStore {
  get(): Session | null | Promise<Session | null>;
  set(session: Session | null): void | Promise<void>;
}

/** Keeps the session in memory only: it ends with the process or page. The default. */
export class MemoryTokenStore implements TokenStore {
  private session: Session | null = null;
  get(): Session | null {
    return this.session;
  }
  set(session: Session | null): void {
    this.session = session;
  }
}

/** The part of the Web Storage API the localStorage store needs. */
export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/**
 * Keeps the session in `localStorage` (browsers), so a reload stays signed in. Tabs share it:
 * before refreshing, the client re-reads the store and adopts a pair another tab already rotated
 * (refresh tokens rotate, and reusing a rotated one signs every session of that login out).
 */
export class LocalStorageTokenStore implements TokenStore {
  constructor(
    private readonly key = 'kith.session',
    private readonly storage: StorageLike | undefined = (globalThis as { localStorage?: StorageLike }).localStorage,
  ) {
    if (!this.storage) throw new Error('LocalStorageTokenStore: localStorage is not available here');
  }
  get(): Session | null {
    const raw = this.storage!.getItem(this.key);
    if (!raw) return null;
    try {
      const s = JSON.parse(raw) as Session;
      return typeof s?.token === 'string' && typeof s.refreshToken === 'string' && s.user ? s : null;
    } catch {
      return null;
    }
  }
  set(session: Session | null): void {
    if (session) this.storage!.setItem(this.key, JSON.stringify(session));
    else this.storage!.removeItem(this.key);
  }
}

/** The claims of a JWT, unverified (the client only reads who it is and when it expires). */
export function jwtClaims(token: string): Record<string, unknown> | undefined {
  const part = token.split('.')[1];
  if (!part) return undefined;
  try {
    const b64 = part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '=');
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/** Builds a session from a `/users/login` or `/users/refresh` answer. */
export function sessionFrom(
  pair: { token: string; refreshToken: string; expiresIn: number },
  fallbackUser: User | undefined,
  now = Date.now(),
): Session {
  const claims = jwtClaims(pair.token);
  // Expiry on the local clock. The token's `exp` is in whole seconds of the server's clock
  // (`iat` is floored, so the real lifetime may be up to a second shorter than expiresIn): trust it
  // when the two clocks agree, and otherwise count the lifetime from now, a second short. A device
  // whose clock is off must neither use expired tokens nor refresh in a loop.
  let expiresAt = now + pair.expiresIn * 1000;
  if (typeof claims?.exp === 'number') {
    const iat = typeof claims.iat === 'number' ? claims.iat : claims.exp - pair.expiresIn;
    if (Math.abs(iat * 1000 - now) < 10_000) expiresAt = Math.min(expiresAt, claims.exp * 1000);
    else expiresAt = now + Math.max(0, (claims.exp - iat) * 1000 - 1000);
  }
  const user =
    typeof claims?.sub === 'string' && typeof claims.username === 'string'
      ? { userId: claims.sub, username: claims.username }
      : fallbackUser;
  if (!user) throw new Error('The access token does not say who it belongs to');
  return { token: pair.token, refreshToken: pair.refreshToken, expiresAt, expiresIn: pair.expiresIn, user };
}
