import type { FastifyInstance } from 'fastify';

/**
 * The web app keeps a 30-day refresh token in localStorage, so script injection must be made as
 * hard as possible. Its CSP allows only the app's own files: no inline or eval'd script, no
 * inline style attribute or <style> (Preact and FullCalendar set styles through the CSSOM, which
 * CSP does not restrict), connections only to this origin (REST, and the sync socket: CSP3's
 * 'self' covers ws:/wss: of the same host), the service worker from here, and no framing.
 */
const APP_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "worker-src 'self'",
  "manifest-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Everything that is not the app (JSON answers, feeds, metrics) runs nothing and loads nothing. */
const API_CSP = "default-src 'none'; frame-ancestors 'none'";

/**
 * Headers on every answer: nosniff (a JSON or ICS answer is never read as a script or a page), no
 * framing, and no Referer (invite and feed URLs carry secrets). JSON, ICS and metrics answers get
 * API_CSP; the app's files (HTML, scripts, styles, icons) APP_CSP. JSON answers are not stored by
 * caches (no-store) unless their route set Cache-Control.
 */
export function installSecurityHeaders(app: FastifyInstance): void {
  // A callback hook, not an async one: it adds no promise turn to every answer.
  app.addHook('onSend', (_request, reply, payload, done) => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('x-frame-options', 'DENY');
    reply.header('referrer-policy', 'no-referrer');
    // A 304 must not carry a CSP: the browser would merge it into the cached page (whose type
    // @fastify/static does not repeat), and the app's page would end up with the API's policy.
    if (reply.statusCode !== 304 && reply.statusCode !== 204) {
      const type = String(reply.getHeader('content-type') ?? '');
      reply.header('content-security-policy', /^(application\/json|text\/calendar|text\/plain)\b/i.test(type) ? API_CSP : APP_CSP);
      // JSON answers are a user's own (tokens, invite codes, feed links, their rooms and events):
      // kept by no cache unless the route said otherwise (RFC 6749 §5.1 asks it of token answers).
      if (/^application\/json\b/i.test(type) && !reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
    }
    done(null, payload);
  });
}
