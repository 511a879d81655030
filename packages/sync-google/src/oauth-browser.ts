/**
 * Binds a consent request to the browser that started it (against login CSRF): `GET /google/auth-url` gives
 * the browser a random secret in a short-lived cookie (HttpOnly, SameSite=Lax so it comes along on Google's
 * top-level redirect back, Secure and `__Host-` when the callback is https), and the signed `state` carries a
 * hash of that secret. The callback only proceeds in a browser that holds it, so a callback URL carried to
 * another browser (an attacker's consent injected into a victim's session, or the reverse) is refused.
 *
 * One secret per browser, kept while it is valid, so two consent flows started in two tabs both finish.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

const SECRET = /^[A-Za-z0-9_-]{43}$/;

export interface BrowserBinding {
  /** The browser's secret (new, or the one its cookie already holds). */
  secret: string;
  /** Hash of the secret, for the signed state. */
  hash: string;
  /** The `Set-Cookie` value that (re)sets it for `maxAgeSeconds`. */
  setCookie: string;
}

/** The cookie's name: `__Host-` (only this host, path /, Secure) when the callback URL is https. */
export function bindingCookieName(callbackUrl: string | undefined): string {
  return isHttps(callbackUrl) ? '__Host-kith-google-oauth' : 'kith-google-oauth';
}

function isHttps(url: string | undefined): boolean {
  return (url ?? '').toLowerCase().startsWith('https:');
}

export function hashBinding(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('base64url');
}

/** Reads one cookie from a `Cookie` header (bounded: the header is limited by the HTTP server). */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** The binding for a consent request: reuses a valid secret the browser already holds. */
export function bindBrowser(cookieHeader: string | undefined, callbackUrl: string | undefined, maxAgeSeconds: number): BrowserBinding {
  const name = bindingCookieName(callbackUrl);
  const held = readCookie(cookieHeader, name);
  const secret = held && SECRET.test(held) ? held : randomBytes(32).toString('base64url');
  const attrs = [`${name}=${secret}`, `Max-Age=${maxAgeSeconds}`, 'Path=/', 'HttpOnly', 'SameSite=Lax'];
  if (isHttps(callbackUrl)) attrs.push('Secure');
  return { secret, hash: hashBinding(secret), setCookie: attrs.join('; ') };
}

/** Whether the callback's browser holds the secret whose hash the state names (constant-time). */
export function sameBrowser(cookieHeader: string | undefined, callbackUrl: string | undefined, expectedHash: unknown): boolean {
  if (typeof expectedHash !== 'string') return false;
  const held = readCookie(cookieHeader, bindingCookieName(callbackUrl));
  if (!held || !SECRET.test(held)) return false;
  const got = Buffer.from(hashBinding(held), 'utf8');
  const want = Buffer.from(expectedHash, 'utf8');
  return got.length === want.length && timingSafeEqual(got, want);
}
