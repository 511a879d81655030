/**
 * Writes `name.br` and `name.gz` beside every compressible file of the build, so that kith-server
 * sends the smaller one a browser accepts without compressing on each request (brotli at its
 * best level costs ~1 s for the app's script: fine once at build time, too slow per request).
 * Runs after everything else has been written, `sw.js` included; the compressed copies are not
 * in the bundle, so the service worker's precache list never names them.
 */
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import type { Plugin, ResolvedConfig } from 'vite';

const COMPRESSIBLE = /\.(js|mjs|css|html|svg|json|webmanifest|txt|ico|map)$/i;
/** Below this, the headers cost more than compression saves. */
const MIN_BYTES = 1024;

const brotli = promisify(zlib.brotliCompress);
const gzip = promisify(zlib.gzip);

export function precompress(): Plugin {
  let config: ResolvedConfig;
  return {
    name: 'kith-precompress',
    apply: 'build',
    enforce: 'post',
    configResolved(resolved) {
      config = resolved;
    },
    async closeBundle() {
      const outDir = path.resolve(config.root, config.build.outDir);
      const names = (fs.readdirSync(outDir, { recursive: true }) as string[]).filter((n) => COMPRESSIBLE.test(n));
      await Promise.all(
        names.map(async (name) => {
          const full = path.join(outDir, name);
          const data = fs.readFileSync(full);
          if (data.length < MIN_BYTES) return;
          const [br, gz] = await Promise.all([
            brotli(data, {
              params: {
                [zlib.constants.BROTLI_PARAM_QUALITY]: zlib.constants.BROTLI_MAX_QUALITY,
                [zlib.constants.BROTLI_PARAM_SIZE_HINT]: data.length,
              },
            }),
            gzip(data, { level: zlib.constants.Z_BEST_COMPRESSION }),
          ]);
          // A copy that is not smaller is useless: the server then sends the file as it is.
          if (br.length < data.length) fs.writeFileSync(`${full}.br`, br);
          if (gz.length < data.length) fs.writeFileSync(`${full}.gz`, gz);
        }),
      );
    },
  };
}
