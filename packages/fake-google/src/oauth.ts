/**
 * The fake's OAuth 2.0 authorization server: consent (auto-approved), authorization codes with PKCE,
 * access and refresh tokens bound to a user, client and scope set, refresh, revocation and tokeninfo.
 *
 * As at Google, a grant is one per (user, client): every consent of the same user to the same client adds tokens
 * to that grant, and revoking any one token revokes the whole grant, so every token of it stops working. A
 * consent after a revocation starts a new grant.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { errors, OAuthError } from './errors.js';

export const CALENDAR_SCOPE = 'https://www.googleapis.com/auth/calendar';
export const CALENDAR_APP_CREATED_SCOPE = 'https://www.googleapis.com/auth/calendar.app.created';

export interface OAuthClientConfig {
  clientId: string;
  clientSecret: string;
  /** When given, the authorization endpoint and token exchange only accept these redirect URIs. */
  redirectUris?: string[];
}

export interface ConsentBehaviour {
  /** The user clicks "Cancel": redirect with `error=access_denied`. */
  deny?: boolean;
  /** The user unticks these scopes on the granular consent screen. */
  dropScopes?: string[];
  /** Sign in as this user when the request has no `login_hint`. */
  email?: string;
}

export interface Grant {
  id: string;
  email: string;
  clientId: string;
  /** Whether any consent of this grant asked for offline access (a refresh token was issued). */
  offline: boolean;
  revoked: boolean;
}

/** A token carries the scopes of the consent that issued it (a refresh keeps them). */
interface RefreshTokenRecord {
  grantId: string;
  scopes: string[];
}

interface AccessTokenRecord {
  grantId: string;
  scopes: string[];
  expiresAt: number;
}

interface AuthCode {
  email: string;
  clientId: string;
  redirectUri: string;
  scopes: string[];
  challenge?: string;
  challengeMethod?: 'S256' | 'plain';
  issueRefreshToken: boolean;
  expiresAt: number;
  used: boolean;
}

export interface Actor {
  email: string;
  clientId: string;
  scopes: Set<string>;
  grantId: string;
}

export interface TokenResponse {
  access_token: string;
  expires_in: number;
  refresh_token?: string;
  scope: string;
  token_type: 'Bearer';
}

export type AuthorizeOutcome =
  | { kind: 'redirect'; location: string }
  | { kind: 'errorPage'; status: number; error: string; description: string };

export interface OAuthOptions {
  now: () => number;
  clients?: OAuthClientConfig[];
  defaultUser: string;
  accessTokenTtlSeconds: number;
  onUser: (email: string) => void;
}

const VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;

const token = (prefix: string, bytes = 32): string => `${prefix}${randomBytes(bytes).toString('base64url')}`;

function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}

export class FakeOAuth {
  consent: ConsentBehaviour = {};
  private readonly clients = new Map<string, OAuthClientConfig>();
  private readonly strictClients: boolean;
  /** Secrets pinned on first use when no clients were configured. */
  private readonly pinnedSecrets = new Map<string, string>();
  private readonly codes = new Map<string, AuthCode>();
  private readonly grants = new Map<string, Grant>();
  /** `email\nclientId` → the live (unrevoked) grant of that pair. */
  private readonly liveGrants = new Map<string, string>();
  private readonly refreshTokens = new Map<string, RefreshTokenRecord>();
  private readonly accessTokens = new Map<string, AccessTokenRecord>();
  /** (email, client) pairs that already consented to offline access. */
  private readonly offlineConsents = new Set<string>();

  constructor(private readonly opts: OAuthOptions) {
    for (const c of opts.clients ?? []) this.clients.set(c.clientId, c);
    this.strictClients = (opts.clients ?? []).length > 0;
  }

  reset(): void {
    this.codes.clear();
    this.grants.clear();
    this.liveGrants.clear();
    this.refreshTokens.clear();
    this.accessTokens.clear();
    this.offlineConsents.clear();
    this.pinnedSecrets.clear();
    this.consent = {};
  }

  // ------------------------------------------------------------ authorization endpoint

  authorize(q: Record<string, string | undefined>): AuthorizeOutcome {
    const page = (error: string, description: string, status = 400): AuthorizeOutcome => ({
      kind: 'errorPage',
      status,
      error,
      description,
    });
    const clientId = q.client_id;
    if (!clientId) return page('invalid_request', 'Missing required parameter: client_id');
    const client = this.clients.get(clientId);
    if (this.strictClients && !client) return page('invalid_client', 'The OAuth client was not found.', 401);
    const redirectUri = q.redirect_uri;
    if (!redirectUri) return page('invalid_request', 'Missing required parameter: redirect_uri');
    let redirect: URL;
    try {
      redirect = new URL(redirectUri);
    } catch {
      return page('invalid_request', 'Invalid parameter value for redirect_uri: Invalid URL');
    }
    if (client?.redirectUris && !client.redirectUris.includes(redirectUri)) {
      return page('redirect_uri_mismatch', `redirect_uri=${redirectUri} is not registered for this client.`);
    }
    if (!q.scope) return page('invalid_request', 'Missing required parameter: scope');
    const scopes = [...new Set(q.scope.split(/[\s+]+/).filter(Boolean))];
    const bad = scopes.filter(
      (s) => !s.startsWith('https://www.googleapis.com/auth/') && !['openid', 'email', 'profile'].includes(s),
    );
    if (bad.length > 0) return page('invalid_scope', `Some requested scopes were invalid. {invalid=[${bad.join(', ')}]}`);
    const challengeMethod = q.code_challenge_method;
    if (q.code_challenge !== undefined) {
      if (challengeMethod !== undefined && challengeMethod !== 'S256' && challengeMethod !== 'plain') {
        return page('invalid_request', 'Invalid code_challenge_method value.');
      }
      if (!VERIFIER.test(q.code_challenge)) return page('invalid_request', 'Invalid code_challenge value.');
    } else if (challengeMethod !== undefined) {
      return page('invalid_request', 'Missing code_challenge.');
    }
    const back = (params: Record<string, string>): AuthorizeOutcome => {
      if (q.state !== undefined) redirect.searchParams.set('state', q.state);
      for (const [k, v] of Object.entries(params)) redirect.searchParams.set(k, v);
      return { kind: 'redirect', location: redirect.toString() };
    };
    if (q.response_type !== 'code') return back({ error: 'unsupported_response_type' });
    if (this.consent.deny) return back({ error: 'access_denied' });
    const granted = scopes.filter((s) => !(this.consent.dropScopes ?? []).includes(s));
    const email = (q.login_hint || this.consent.email || this.opts.defaultUser).toLowerCase();
    this.opts.onUser(email);
    const offline = q.access_type === 'offline';
    const consentKey = `${email}\n${clientId}`;
    const issueRefreshToken =
      offline && (!this.offlineConsents.has(consentKey) || (q.prompt ?? '').split(' ').includes('consent'));
    if (offline) this.offlineConsents.add(consentKey);
    const code = token('4/0A', 40);
    this.codes.set(code, {
      email,
      clientId,
      redirectUri,
      scopes: granted,
      ...(q.code_challenge !== undefined
        ? { challenge: q.code_challenge, challengeMethod: (challengeMethod ?? 'plain') as 'S256' | 'plain' }
        : {}),
      issueRefreshToken,
      expiresAt: this.opts.now() + 10 * 60_000,
      used: false,
    });
    return back({ code, scope: granted.join(' '), authuser: '0', prompt: 'consent' });
  }

  // ------------------------------------------------------------ token endpoint

  private authenticateClient(form: Record<string, string | undefined>, authorization: string | undefined): string {
    let clientId = form.client_id;
    let secret = form.client_secret;
    if (authorization?.startsWith('Basic ')) {
      const decoded = Buffer.from(authorization.slice(6), 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon > 0) {
        clientId = decodeURIComponent(decoded.slice(0, colon));
        secret = decodeURIComponent(decoded.slice(colon + 1));
      }
    }
    if (!clientId) throw new OAuthError(400, 'invalid_request', 'Could not determine client ID from request.');
    if (this.strictClients) {
      const client = this.clients.get(clientId);
      if (!client) throw new OAuthError(401, 'invalid_client', 'The OAuth client was not found.');
      if (!secret || !safeEqual(secret, client.clientSecret)) throw new OAuthError(401, 'invalid_client', 'Unauthorized');
    } else {
      if (!secret) throw new OAuthError(400, 'invalid_request', 'client_secret is missing.');
      const pinned = this.pinnedSecrets.get(clientId);
      if (pinned === undefined) this.pinnedSecrets.set(clientId, secret);
      else if (!safeEqual(pinned, secret)) throw new OAuthError(401, 'invalid_client', 'Unauthorized');
    }
    return clientId;
  }

  token(form: Record<string, string | undefined>, authorization: string | undefined): TokenResponse {
    const grantType = form.grant_type;
    if (!grantType) throw new OAuthError(400, 'unsupported_grant_type', 'Invalid grant_type: ');
    if (grantType !== 'authorization_code' && grantType !== 'refresh_token') {
      throw new OAuthError(400, 'unsupported_grant_type', `Invalid grant_type: ${grantType}`);
    }
    const clientId = this.authenticateClient(form, authorization);
    if (grantType === 'authorization_code') return this.exchangeCode(form, clientId);
    return this.refresh(form, clientId);
  }

  private exchangeCode(form: Record<string, string | undefined>, clientId: string): TokenResponse {
    const codeValue = form.code;
    if (!codeValue) throw new OAuthError(400, 'invalid_request', 'Missing required parameter: code');
    const code = this.codes.get(codeValue);
    if (!code) throw new OAuthError(400, 'invalid_grant', 'Malformed auth code.');
    if (code.used || code.expiresAt <= this.opts.now()) throw new OAuthError(400, 'invalid_grant', 'Bad Request');
    if (code.clientId !== clientId) throw new OAuthError(400, 'invalid_grant', 'Bad Request');
    if (!form.redirect_uri) throw new OAuthError(400, 'invalid_request', 'Missing parameter: redirect_uri');
    if (form.redirect_uri !== code.redirectUri) throw new OAuthError(400, 'redirect_uri_mismatch', 'Bad Request');
    if (code.challenge !== undefined) {
      const verifier = form.code_verifier;
      if (!verifier) throw new OAuthError(400, 'invalid_grant', 'Missing code verifier.');
      if (!VERIFIER.test(verifier)) throw new OAuthError(400, 'invalid_grant', 'Invalid code verifier.');
      const expected =
        code.challengeMethod === 'S256' ? createHash('sha256').update(verifier).digest('base64url') : verifier;
      if (!safeEqual(expected, code.challenge)) throw new OAuthError(400, 'invalid_grant', 'Invalid code verifier.');
    }
    code.used = true;
    const grant = this.grantFor(code.email, clientId);
    let refreshToken: string | undefined;
    if (code.issueRefreshToken) {
      refreshToken = token('1//0', 48);
      grant.offline = true;
      this.refreshTokens.set(refreshToken, { grantId: grant.id, scopes: code.scopes });
    }
    const access = this.newAccessToken(grant, code.scopes);
    return {
      access_token: access,
      expires_in: this.opts.accessTokenTtlSeconds,
      ...(refreshToken ? { refresh_token: refreshToken } : {}),
      scope: code.scopes.join(' '),
      token_type: 'Bearer',
    };
  }

  /** The live grant of a (user, client) pair, or a new one when there is none (first consent, or after a revoke). */
  private grantFor(email: string, clientId: string): Grant {
    const key = `${email}\n${clientId}`;
    const live = this.grants.get(this.liveGrants.get(key) ?? '');
    if (live && !live.revoked) return live;
    const grant: Grant = { id: token('g', 12), email, clientId, offline: false, revoked: false };
    this.grants.set(grant.id, grant);
    this.liveGrants.set(key, grant.id);
    return grant;
  }

  private refresh(form: Record<string, string | undefined>, clientId: string): TokenResponse {
    const refreshToken = form.refresh_token;
    if (!refreshToken) throw new OAuthError(400, 'invalid_request', 'Missing required parameter: refresh_token');
    const record = this.refreshTokens.get(refreshToken);
    const grant = record ? this.grants.get(record.grantId) : undefined;
    if (!record || !grant || grant.revoked) throw new OAuthError(400, 'invalid_grant', 'Token has been expired or revoked.');
    if (grant.clientId !== clientId) throw new OAuthError(401, 'unauthorized_client', 'Unauthorized');
    return {
      access_token: this.newAccessToken(grant, record.scopes),
      expires_in: this.opts.accessTokenTtlSeconds,
      scope: record.scopes.join(' '),
      token_type: 'Bearer',
    };
  }

  private newAccessToken(grant: Grant, scopes: string[]): string {
    const access = token('ya29.a0', 48);
    this.accessTokens.set(access, {
      grantId: grant.id,
      scopes: [...scopes],
      expiresAt: this.opts.now() + this.opts.accessTokenTtlSeconds * 1000,
    });
    return access;
  }

  // ------------------------------------------------------------ revoke, tokeninfo

  /** Revoking any token of a grant revokes the whole grant (every token of that user and client), as Google does. */
  revoke(tokenValue: string | undefined): void {
    if (!tokenValue) throw new OAuthError(400, 'invalid_request', 'Missing required parameter: token');
    const grant = this.grantOfToken(tokenValue);
    if (!grant || grant.revoked) throw new OAuthError(400, 'invalid_token', 'Token expired or revoked');
    grant.revoked = true;
  }

  private grantOfToken(tokenValue: string): Grant | undefined {
    const record = this.accessTokens.get(tokenValue) ?? this.refreshTokens.get(tokenValue);
    return record ? this.grants.get(record.grantId) : undefined;
  }

  tokenInfo(accessToken: string | undefined): Record<string, unknown> {
    const actor = accessToken ? this.actorOf(accessToken) : null;
    const record = accessToken ? this.accessTokens.get(accessToken) : undefined;
    if (!actor || !record) throw new OAuthError(400, 'invalid_token', 'Invalid Value');
    const expiresIn = Math.max(0, Math.floor((record.expiresAt - this.opts.now()) / 1000));
    return {
      azp: actor.clientId,
      aud: actor.clientId,
      sub: createHash('sha256').update(actor.email).digest('hex').slice(0, 21),
      scope: [...actor.scopes].join(' '),
      exp: String(Math.floor(record.expiresAt / 1000)),
      expires_in: String(expiresIn),
      email: actor.email,
      email_verified: 'true',
      access_type: this.grants.get(record.grantId)?.offline ? 'offline' : 'online',
    };
  }

  // ------------------------------------------------------------ API authentication

  private actorOf(accessToken: string): Actor | null {
    const record = this.accessTokens.get(accessToken);
    if (!record || record.expiresAt <= this.opts.now()) return null;
    const grant = this.grants.get(record.grantId);
    if (!grant || grant.revoked) return null;
    return { email: grant.email, clientId: grant.clientId, scopes: new Set(record.scopes), grantId: grant.id };
  }

  /** Authenticate an API request's `Authorization` header (401 `required` / `authError` otherwise). */
  authenticate(authorization: string | undefined): Actor {
    if (!authorization) throw errors.loginRequired();
    const m = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
    if (!m) throw errors.authError();
    const actor = this.actorOf(m[1]!);
    if (!actor) throw errors.authError();
    return actor;
  }

  // ------------------------------------------------------------ test helpers

  /** Mint tokens directly, skipping the browser step (they join the user's live grant for that client). */
  issueTokens(opts: { email: string; clientId: string; scopes: string[] }): TokenResponse & { expiry_date: number } {
    this.opts.onUser(opts.email);
    const grant = this.grantFor(opts.email.toLowerCase(), opts.clientId);
    grant.offline = true;
    const refreshToken = token('1//0', 48);
    this.refreshTokens.set(refreshToken, { grantId: grant.id, scopes: [...opts.scopes] });
    const access = this.newAccessToken(grant, opts.scopes);
    return {
      access_token: access,
      refresh_token: refreshToken,
      expires_in: this.opts.accessTokenTtlSeconds,
      expiry_date: this.accessTokens.get(access)!.expiresAt,
      scope: opts.scopes.join(' '),
      token_type: 'Bearer',
    };
  }

  /** Make one access token (or all of them) expired, as if an hour had passed. */
  expireAccessTokens(accessToken?: string): void {
    const past = this.opts.now() - 1;
    if (accessToken !== undefined) {
      const r = this.accessTokens.get(accessToken);
      if (r) r.expiresAt = past;
      return;
    }
    for (const r of this.accessTokens.values()) r.expiresAt = past;
  }

  /** Revoke the grant behind a token without going through HTTP (e.g. "user removed the app"). */
  revokeGrantOf(tokenValue: string): boolean {
    const grant = this.grantOfToken(tokenValue);
    if (!grant) return false;
    grant.revoked = true;
    return true;
  }

  /** Revoke every grant of a user (e.g. password change, or 6 months unused). */
  revokeAllFor(email: string): number {
    let n = 0;
    for (const g of this.grants.values()) {
      if (g.email === email.toLowerCase() && !g.revoked) {
        g.revoked = true;
        n++;
      }
    }
    return n;
  }
}

// ---------------------------------------------------------------- scopes

const S = 'https://www.googleapis.com/auth/';

export type Operation =
  | 'events.read'
  | 'events.write'
  | 'calendars.read'
  | 'calendars.write'
  | 'calendars.create'
  | 'calendarList.read';

const GRANTING: Record<Operation, string[]> = {
  'events.read': [
    'calendar',
    'calendar.readonly',
    'calendar.events',
    'calendar.events.readonly',
    'calendar.events.owned',
    'calendar.events.owned.readonly',
  ],
  'events.write': ['calendar', 'calendar.events', 'calendar.events.owned'],
  'calendars.read': ['calendar', 'calendar.readonly', 'calendar.calendars', 'calendar.calendars.readonly'],
  'calendars.write': ['calendar', 'calendar.calendars'],
  'calendars.create': ['calendar', 'calendar.calendars', 'calendar.app.created'],
  'calendarList.read': ['calendar', 'calendar.readonly', 'calendar.calendarlist', 'calendar.calendarlist.readonly'],
};

/**
 * Whether the actor's scopes allow `op` on a calendar. `calendar.app.created` grants everything, but only on
 * calendars this client created; other calendars are invisible to it (404), as Google hides calendars a caller
 * cannot access.
 */
export function checkScope(actor: Actor, op: Operation, createdByThisClient: boolean | null): 'ok' | 'notFound' | 'forbidden' {
  if (GRANTING[op].some((s) => actor.scopes.has(S + s))) return 'ok';
  if (actor.scopes.has(CALENDAR_APP_CREATED_SCOPE)) {
    if (createdByThisClient === null || createdByThisClient) return 'ok';
    return 'notFound';
  }
  return 'forbidden';
}
