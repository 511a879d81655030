import type { FastifyInstance } from 'fastify';

/**
 * Makes the routes of one encapsulated plugin a strict JSON API: bodies must be
 * `application/json`. Fastify also parses `text/plain` by default, which turned a wrong content
 * type into a confusing 400 ("body must be object") instead of a 415. (Types are never coerced:
 * the app's Ajv runs with `coerceTypes: false`, so `{"username": 12345}` is a 400.)
 *
 * Call it at the top of the plugin, before any route is added.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function strictJsonApi(app: FastifyInstance<any, any, any, any, any>): void {
  app.removeContentTypeParser('text/plain');
}
