/**
 * GET /rooms/:roomId/state — a room's whole Yjs document as one update (`Y.encodeStateAsUpdate`),
 * compressed with brotli or gzip as the request's Accept-Encoding allows.
 *
 * Why: a new device's first sync gets the room as one uncompressed WebSocket frame (the sync
 * socket never compresses: per-socket zlib state would cost every idle socket memory). Calendar
 * data compresses ~6×, so a client with an empty local copy fetches this first, applies it, and
 * then connects: the socket's sync step 2 is only what changed since. Members only (others get
 * 404, like every room route); the body is private, so it is never cached by intermediaries.
 */
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import * as Y from 'yjs';
import { requireUser } from '../auth/access-tokens.js';
import { KithError } from '../errors/catalogue.js';
import { RoomParams } from '../rooms/schemas.js';
import type { Storage } from '../storage/storage.js';
import type { RoomApi } from './room-api.js';

export interface RoomStateRouteOptions {
  rooms: RoomApi;
  storage: Storage;
}

const brotli = promisify(zlib.brotliCompress);
const gzip = promisify(zlib.gzip);

/** Quality 5 compresses calendar data nearly as well as 11, in a small fraction of the time. */
const BROTLI_OPTIONS = { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 5 } };

/** The encoding to send: brotli over gzip, each only if accepted with q > 0; else none. */
export function pickEncoding(acceptEncoding: string | undefined): 'br' | 'gzip' | undefined {
  const accepted = new Map<string, number>();
  // Bounded: a header longer than any browser's is read only as far as the first 1 KB.
  for (const part of (acceptEncoding ?? '').slice(0, 1024).split(',')) {
    const [name, ...params] = part.trim().toLowerCase().split(';');
    if (!name) continue;
    const q = params.map((p) => /^\s*q=([\d.]+)\s*$/.exec(p)?.[1]).find((v) => v !== undefined);
    accepted.set(name, q === undefined ? 1 : Number(q));
  }
  const ok = (name: string) => (accepted.get(name) ?? accepted.get('*') ?? 0) > 0;
  if (ok('br')) return 'br';
  if (ok('gzip')) return 'gzip';
  return undefined;
}

export const roomStateRoute: FastifyPluginAsyncTypebox<RoomStateRouteOptions> = async (app, { rooms, storage }) => {
  app.get('/rooms/:roomId/state', { schema: { params: RoomParams } }, async (request, reply) => {
    await requireUser.call(app, request);
    const { roomId } = request.params;
    if (!(await storage.rooms.member(roomId, request.user.userId))) throw new KithError('ROOM_NOT_FOUND');
    const update = await rooms.read(roomId, (doc) => Y.encodeStateAsUpdate(doc));
    const encoding = pickEncoding(request.headers['accept-encoding']);
    const body = encoding === 'br' ? await brotli(update, BROTLI_OPTIONS) : encoding === 'gzip' ? await gzip(update) : Buffer.from(update);
    reply.header('content-type', 'application/octet-stream');
    reply.header('cache-control', 'private, no-store');
    reply.header('vary', 'accept-encoding');
    if (encoding) reply.header('content-encoding', encoding);
    return reply.send(body);
  });
};
