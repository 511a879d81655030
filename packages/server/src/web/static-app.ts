import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fastifyStatic from '@fastify/static';

/** The example web app as built inside this monorepo, used when no --static-dir is given. */
export function bundledAppDir(): string | undefined {
  const candidate = fileURLToPath(new URL('../../../../examples/family-calendar/dist', import.meta.url));
  return fs.existsSync(path.join(candidate, 'index.html')) ? candidate : undefined;
}

/** A precompressed copy's suffix (`app-1a2b3c4d.js.br`): its caching is the original file's. */
const COMPRESSED_COPY = /\.(br|gz)$/;

/**
 * Serves a built single-page web app at `/`. Hashed assets are cached for good; `index.html`
 * and the service worker are always revalidated so that a new release is picked up.
 * The build writes `.br` and `.gz` copies beside the files (precompress-plugin.ts): the copy the
 * request's Accept-Encoding prefers is sent (brotli over gzip at equal q, `q=0` respected), with
 * `Vary: Accept-Encoding`, and the file as it is when no copy is accepted or present.
 * Returns the fallback for client-side routes (e.g. `/invite/:code`): GET requests that want
 * HTML and match no API route get `index.html`.
 */
export async function serveWebApp(
  app: FastifyInstance,
  root: string,
): Promise<(request: FastifyRequest, reply: FastifyReply) => boolean> {
  await app.register(fastifyStatic, {
    root,
    prefix: '/',
    index: ['index.html'],
    wildcard: false,
    preCompressed: true,
    // No byte ranges: the app's files are small, and a range past a file's end was a 416 error
    // the catalogue has no code for (a 500, logged as a failure, for any anonymous client).
    // A Range header is now ignored, as HTTP allows: the whole file is sent.
    acceptRanges: false,
    setHeaders(res, filePath) {
      const base = path.basename(filePath).replace(COMPRESSED_COPY, '');
      if (base === 'index.html' || base === 'sw.js' || base.endsWith('.webmanifest')) {
        res.header('cache-control', 'no-cache');
      } else if (/[.-][A-Za-z0-9_-]{8,}\.(js|css|woff2?|png|svg)$/.test(base)) {
        res.header('cache-control', 'public, max-age=31536000, immutable');
      }
    },
  });
  return (request, reply) => {
    if (request.method !== 'GET' || !(request.headers.accept ?? '').includes('text/html')) return false;
    reply.header('cache-control', 'no-cache');
    void reply.sendFile('index.html');
    return true;
  };
}
