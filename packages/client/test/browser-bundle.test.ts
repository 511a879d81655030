import { builtinModules } from 'node:module';
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
    expect(chunks).toHaveLength(1);
    const [chunk] = chunks;
    expect(chunk!.imports).toEqual([]);
    expect(Object.keys(chunk!.modules).filter((m) => m.includes('browser-external'))).toEqual([]);
    for (const name of ['createKithClient', 'KithApiError', 'LocalStorageTokenStore', 'indexedDbPersistence', 'Calendar']) {
      expect(chunk!.exports).toContain(name);
    }
    // y-websocket, y-indexeddb and the model are inside.
    expect(chunk!.code).toContain('IndexeddbPersistence');
    expect(chunk!.code).toContain('WebsocketProvider');
    expect(Object.keys(chunk!.modules).some((m) => m.includes('/model/'))).toBe(true);
  }, 60_000);

  it('the check is real: the Node entry (file store) would pull in node:fs', async () => {
    const { nodeImports } = await browserBundle(src('node.ts'));
    expect(nodeImports.some((i) => i.startsWith('node:fs'))).toBe(true);
  }, 60_000);
});
