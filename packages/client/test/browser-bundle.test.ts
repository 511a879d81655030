import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin, type Rollup } from 'vite';
import { describe, expect, it } from 'vitest';

/**
 * Bundles an entry for the browser with vite and reports every Node built-in anything in it
 * imports (vite would silently swap those for an empty "__vite-browser-external" module).
 */
async function browserBundle(entry: string) {
  const nodeImports: string[] = [];
  const spy: Plugin = {
    name: 'node-import-spy',
    enforce: 'pre',
    resolveId(source, importer) {
      if (source.startsWith('node:') || builtinModules.includes(source)) nodeImports.push(`${source} <- ${importer}`);
      return null;
    },
  };
  const result = (await build({
    configFile: false,
    logLevel: 'silent',
    plugins: [spy],
    build: { write: false, minify: false, target: 'es2022', lib: { entry, formats: ['es'], fileName: 'kith-client' } },
  })) as Rollup.RollupOutput[] | Rollup.RollupOutput;
  const chunks = (Array.isArray(result) ? result : [result])
    .flatMap((r) => r.output)
    .filter((o): o is Rollup.OutputChunk => o.type === 'chunk');
  return { chunks, nodeImports };
}

const src = (file: string) => fileURLToPath(new URL(`../src/${file}`, import.meta.url));

describe('browser bundle', () => {
  it('bundles src/index.ts for the browser: self-contained, with no Node built-in anywhere in it', async () => {
    const { chunks, nodeImports } = await browserBundle(src('index.ts'));
    expect(nodeImports).toEqual([]);
    // The entry and the chunks it loads lazily (calendars); they import only one another.
    const names = chunks.map((c) => c.fileName);
    for (const chunk of chunks) {
      expect(chunk.imports.filter((i) => !names.includes(i))).toEqual([]);
      expect(chunk.dynamicImports.filter((i) => !names.includes(i))).toEqual([]);
      expect(Object.keys(chunk.modules).filter((m) => m.includes('browser-external'))).toEqual([]);
    }
    const entry = chunks.find((c) => c.isEntry)!;
    for (const name of ['createKithClient', 'KithApiError', 'LocalStorageTokenStore', 'indexedDbPersistence', 'Calendar']) {
      expect(entry.exports).toContain(name);
    }
    // y-websocket, y-indexeddb and the model are inside.
    const code = chunks.map((c) => c.code).join('\n');
    expect(code).toContain('IndexeddbPersistence');
    expect(code).toContain('WebsocketProvider');
    expect(chunks.some((c) => Object.keys(c.modules).some((m) => m.includes('/model/')))).toBe(true);
  }, 60_000);

  it('an app that only signs in loads no Yjs, model or y-websocket until it opens a calendar', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'kith-signin-'));
    const entry = path.join(dir, 'signin.js');
    await writeFile(
      entry,
      `import { createKithClient, LocalStorageTokenStore } from ${JSON.stringify(src('index.ts'))};\n` +
        `export const kith = createKithClient({ baseUrl: location.origin, tokenStore: new LocalStorageTokenStore() });\n`,
    );
    try {
      const { chunks } = await browserBundle(entry);
      const first = chunks.find((c) => c.isEntry)!;
      const firstModules = Object.keys(first.modules);
      for (const heavy of ['/yjs/', '/y-websocket/', '/y-indexeddb/', '/model/', 'rrule-temporal', 'temporal-polyfill']) {
        expect(firstModules.filter((m) => m.includes(heavy)), heavy).toEqual([]);
      }
      const lazy = chunks.filter((c) => !c.isEntry).flatMap((c) => Object.keys(c.modules));
      expect(lazy.some((m) => m.includes('/yjs/'))).toBe(true);
      expect(lazy.some((m) => m.endsWith('calendar.ts'))).toBe(true);
      expect(first.dynamicImports.length).toBeGreaterThan(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('the check is real: the Node entry (file store) would pull in node:fs', async () => {
    const { nodeImports } = await browserBundle(src('node.ts'));
    expect(nodeImports.some((i) => i.startsWith('node:fs'))).toBe(true);
  }, 60_000);
});
