/**
 * The browser binding of consent requests (login CSRF): cookie attributes per scheme, reuse of a held secret,
 * and the constant-time check of the state's hash against the cookie.
 */
import { describe, expect, it } from 'vitest';
import { bindBrowser, hashBinding, sameBrowser } from '../src/oauth-browser.js';

describe('browser binding cookie', () => {
  it('is __Host- prefixed and Secure when the callback is https, plain on http', () => {
    const secure = bindBrowser(undefined, 'https://kith.example/google/callback', 600);
    expect(secure.setCookie).toMatch(/^__Host-kith-google-oauth=[A-Za-z0-9_-]{43}; Max-Age=600; Path=\/; HttpOnly; SameSite=Lax; Secure$/);
    const plain = bindBrowser(undefined, 'http://127.0.0.1:8080/google/callback', 600);
    expect(plain.setCookie).toMatch(/^kith-google-oauth=[A-Za-z0-9_-]{43}; Max-Age=600; Path=\/; HttpOnly; SameSite=Lax$/);
    expect(secure.secret).not.toBe(plain.secret);
  });

  it('keeps a well-formed secret the browser holds and replaces a malformed one', () => {
    const first = bindBrowser(undefined, 'https://kith.example/cb', 600);
    const again = bindBrowser(`a=b; __Host-kith-google-oauth=${first.secret}; c=d`, 'https://kith.example/cb', 600);
    expect(again.secret).toBe(first.secret);
    const junk = bindBrowser('__Host-kith-google-oauth=<script>', 'https://kith.example/cb', 600);
    expect(junk.secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // A cookie of the plain name does not count for an https callback (it could have been set over http).
    expect(bindBrowser(`kith-google-oauth=${first.secret}`, 'https://kith.example/cb', 600).secret).not.toBe(first.secret);
  });

  it('accepts only the browser holding the secret whose hash the state carries', () => {
    const { secret, hash } = bindBrowser(undefined, 'https://kith.example/cb', 600);
    expect(hash).toBe(hashBinding(secret));
    expect(sameBrowser(`__Host-kith-google-oauth=${secret}`, 'https://kith.example/cb', hash)).toBe(true);
    expect(sameBrowser(undefined, 'https://kith.example/cb', hash)).toBe(false);
    expect(sameBrowser(`__Host-kith-google-oauth=${bindBrowser(undefined, 'https://kith.example/cb', 600).secret}`, 'https://kith.example/cb', hash)).toBe(false);
    expect(sameBrowser(`kith-google-oauth=${secret}`, 'https://kith.example/cb', hash)).toBe(false);
    expect(sameBrowser(`__Host-kith-google-oauth=${secret}`, 'https://kith.example/cb', undefined)).toBe(false);
    expect(sameBrowser(`__Host-kith-google-oauth=${secret}`, 'https://kith.example/cb', 'short')).toBe(false);
  });
});
