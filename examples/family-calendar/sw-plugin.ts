/**
 * Emits `sw.js`, the service worker that keeps the app shell for offline use, from `src/sw.js`
 * with the list of files to precache and a version made from their contents. Nothing in it
 * depends on the time or the machine, so a build is reproducible.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Plugin, ResolvedConfig } from 'vite';

export function serviceWorker(options: { source: string }): Plugin {
  let config: ResolvedConfig;
  return {
    name: 'kith-service-worker',
    apply: 'build',
    enforce: 'post',
    configResolved(resolved) {
      config = resolved;
    },
    generateBundle(_opts, bundle) {
      const files = new Map<string, string | Uint8Array>();
      for (const [fileName, item] of Object.entries(bundle)) {
        if (fileName.endsWith('.map')) continue;
        files.set(fileName, item.type === 'chunk' ? item.code : item.source);
      }
      const publicDir = config.publicDir;
      if (publicDir && fs.existsSync(publicDir)) {
        for (const name of fs.readdirSync(publicDir, { recursive: true }) as string[]) {
          const full = path.join(publicDir, name);
          if (fs.statSync(full).isFile()) files.set(name.split(path.sep).join('/'), fs.readFileSync(full));
        }
      }
      const names = [...files.keys()].sort();
      const hash = createHash('sha256');
      for (const name of names) hash.update(name).update('\0').update(files.get(name)!).update('\0');
      const template = fs.readFileSync(options.source, 'utf8');
      hash.update(template);
      const version = hash.digest('hex').slice(0, 16);
      const shell = ['/', ...names.map((n) => `/${n}`)];
      const code = template
        .replace("'__KITH_VERSION__'", JSON.stringify(version))
        .replace("['__KITH_SHELL__']", JSON.stringify(shell));
      this.emitFile({ type: 'asset', fileName: 'sw.js', source: code });
    },
  };
}
