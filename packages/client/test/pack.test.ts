/**
 * @kith/client outside this repository: `pnpm pack` of the client and the two packages it needs
 * (@kith/model, @kith/protocol), installed into a new project in the system's temp folder with
 * `pnpm install --prefer-offline` (everything else from the pnpm store, as for any app), then
 * (1) the README's Node example runs against a real kith-server, and (2) a fresh Vite app that
 * imports the client builds, with the calendar code in a chunk of its own.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from './helpers/server.js';

const run = promisify(execFile);
const REPO = fileURLToPath(new URL('../../..', import.meta.url));
const pkgDir = (name: string) => path.join(REPO, 'packages', name);

/** The environment without what pnpm passes to the scripts it runs (they would point at this workspace). */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(npm_|PNPM_|INIT_CWD$)/i.test(k)) env[k] = v;
  return env;
}

async function pnpm(args: string[], cwd: string): Promise<string> {
  const { stdout, stderr } = await run('pnpm', args, { cwd, env: cleanEnv(), timeout: 240_000, maxBuffer: 16 * 1024 * 1024 });
  return stdout + stderr;
}

let project: string;
let server: TestServer;
let installLog: string;

beforeAll(async () => {
  project = await fs.mkdtemp(path.join(os.tmpdir(), 'kith-outside-'));
  const tarballs = path.join(project, 'tarballs');
  await fs.mkdir(tarballs);
  const packed: Record<string, string> = {};
  for (const name of ['protocol', 'model', 'client']) {
    const out = await pnpm(['pack', '--pack-destination', tarballs], pkgDir(name));
    packed[name] = `file:./tarballs/${path.basename(out.trim().split('\n').pop()!.trim())}`;
  }
  // The same vite and ws as this repository's, so that the offline install finds them in the store.
  const { devDependencies } = JSON.parse(await fs.readFile(path.join(pkgDir('client'), 'package.json'), 'utf8'));
  const viteVersion = devDependencies.vite as string;
  const wsVersion = devDependencies.ws as string;
  await fs.writeFile(
    path.join(project, 'package.json'),
    JSON.stringify(
      {
        name: 'kith-outside',
        private: true,
        type: 'module',
        dependencies: { '@kith/client': packed.client, ws: wsVersion },
        devDependencies: { vite: viteVersion },
        // The client's own dependencies on its sibling packages, from their tarballs too.
        pnpm: { overrides: { '@kith/model': packed.model, '@kith/protocol': packed.protocol } },
      },
      null,
      2,
    ),
  );
  // --prefer-offline: packages from the pnpm store; only what the store lacks (at least the
  // registry's metadata, which a frozen-lockfile install never fetched) comes from the registry.
  installLog = await pnpm(['install', '--prefer-offline', '--no-frozen-lockfile'], project);
  server = await startServer();
}, 300_000);

afterAll(async () => {
  await server?.close();
  if (project) await fs.rm(project, { recursive: true, force: true });
});

describe('@kith/client packed and installed outside the repository', () => {
  it('installs from its tarballs with no warnings, and carries only its dist, README and types', async () => {
    expect(installLog).not.toMatch(/WARN|ERR_/);
    const installed = path.join(project, 'node_modules/@kith/client');
    const manifest = JSON.parse(await fs.readFile(path.join(installed, 'package.json'), 'utf8'));
    // `workspace:*` became real versions.
    expect(Object.values(manifest.dependencies as Record<string, string>).filter((v) => v.startsWith('workspace:'))).toEqual([]);
    const files = await fs.readdir(installed);
    expect(files).toContain('README.md');
    expect(files.filter((f) => ['src', 'test', 'examples', 'tsconfig.json'].includes(f))).toEqual([]);
    expect(await fs.readdir(path.join(installed, 'dist'))).toEqual(expect.arrayContaining(['index.js', 'index.d.ts', 'node.js', 'node.d.ts']));
  });

  it("runs the README's Node example against a real server", async () => {
    const example = path.join(project, 'quickstart.mjs');
    await fs.copyFile(path.join(pkgDir('client'), 'examples/quickstart.mjs'), example);
    const { stdout } = await run(process.execPath, [example], { cwd: project, env: { ...cleanEnv(), KITH_URL: server.url }, timeout: 60_000 });
    expect(stdout.trim().split('\n')).toEqual([
      'Dinner at Grandma’s: 2026-12-24T18:00 Europe/Berlin',
      'Dinner at Grandma’s: 2027-12-24T18:00 Europe/Berlin',
      'Dinner at Grandma’s: 2028-12-24T18:00 Europe/Berlin',
    ]);
  }, 90_000);

  it('builds in a fresh Vite app: sign-in code in the entry, Yjs and the calendar in a lazy chunk', async () => {
    await fs.writeFile(path.join(project, 'index.html'), '<!doctype html><title>Outside</title><script type="module" src="/main.js"></script>');
    await fs.writeFile(
      path.join(project, 'main.js'),
      [
        "import { createKithClient, KithApiError, LocalStorageTokenStore } from '@kith/client';",
        'const kith = createKithClient({ baseUrl: location.origin, tokenStore: new LocalStorageTokenStore() });',
        'await kith.ready();',
        "document.title = kith.user ? 'signed in' : 'signed out';",
        "if (kith.user) kith.openCalendar(new URLSearchParams(location.search).get('room') ?? '').catch((e) => console.log(e instanceof KithApiError));",
        '',
      ].join('\n'),
    );
    const out = await run(process.execPath, [path.join(project, 'node_modules/vite/bin/vite.js'), 'build', '--logLevel', 'warn'], {
      cwd: project,
      env: { ...cleanEnv(), NODE_ENV: 'production' },
      timeout: 120_000,
    });
    expect(out.stderr).not.toMatch(/error/i);
    const assets = await fs.readdir(path.join(project, 'dist/assets'));
    const html = await fs.readFile(path.join(project, 'dist/index.html'), 'utf8');
    const entry = /src="\/assets\/([^"]+\.js)"/.exec(html)![1]!;
    const entryCode = await fs.readFile(path.join(project, 'dist/assets', entry), 'utf8');
    const others = await Promise.all(assets.filter((a) => a !== entry && a.endsWith('.js')).map((a) => fs.readFile(path.join(project, 'dist/assets', a), 'utf8')));
    const yjsMarker = 'Add Yjs type to a document before reading data';
    expect(entryCode).toContain('/users/login');
    expect(entryCode).not.toContain(yjsMarker);
    expect(others.some((code) => code.includes(yjsMarker))).toBe(true);
  }, 150_000);
});
