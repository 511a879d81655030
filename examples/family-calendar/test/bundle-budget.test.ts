/**
 * What the built app asks a browser to download, read from dist/ (the sizes of a build are
 * deterministic): the script the first screen (sign-in) needs stays within budget, the calendar
 * comes in chunks of its own that the service worker still keeps for offline use, and every
 * compressible file has its .br and .gz copies for kith-server to send.
 */
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { DIST, ensureBuilt } from './helpers/env.js';

/** The target for the first screen's script, compressed (gzip, the larger of the two). */
const FIRST_SCREEN_JS_BUDGET = 120 * 1024;

const read = (name: string) => fs.readFileSync(path.join(DIST, name));
const size = (name: string) => fs.statSync(path.join(DIST, name)).size;

/** The entry script named by index.html and every chunk it imports statically (not `import()`). */
function firstScreenScripts(): string[] {
  const html = read('index.html').toString();
  const entries = [...html.matchAll(/<script[^>]+src="\/([^"]+\.js)"/g), ...html.matchAll(/<link[^>]+rel="modulepreload"[^>]+href="\/([^"]+\.js)"/g)].map(
    (m) => m[1]!,
  );
  const seen = new Set<string>();
  const visit = (name: string) => {
    if (seen.has(name)) return;
    seen.add(name);
    const code = read(name).toString();
    // Minified static imports: `import{a as b}from"./x.js"` and `import"./x.js"`; never `import("./x.js")`.
    for (const m of code.matchAll(/(?:\bfrom|\bimport)\s*["'](\.\/[^"']+\.js)["']/g)) {
      visit(path.posix.join(path.posix.dirname(name), m[1]!));
    }
  };
  entries.forEach(visit);
  return [...seen];
}

beforeAll(async () => {
  await ensureBuilt();
}, 180_000);

describe('the built app', () => {
  it(`needs at most ${FIRST_SCREEN_JS_BUDGET / 1024} KB of compressed script for the sign-in screen, and no calendar code`, () => {
    const scripts = firstScreenScripts();
    expect(scripts.length).toBeGreaterThan(0);
    const gz = scripts.reduce((sum, s) => sum + size(`${s}.gz`), 0);
    const br = scripts.reduce((sum, s) => sum + size(`${s}.br`), 0);
    const raw = scripts.reduce((sum, s) => sum + size(s), 0);
    console.log(`first screen: ${scripts.join(', ')}: ${(raw / 1024).toFixed(1)} KB, gzip ${(gz / 1024).toFixed(1)} KB, brotli ${(br / 1024).toFixed(1)} KB`);
    expect(gz).toBeLessThanOrEqual(FIRST_SCREEN_JS_BUDGET);
    expect(br).toBeLessThan(gz);
    const code = scripts.map((s) => read(s).toString()).join('\n');
    // FullCalendar, Yjs and the recurrence rules are not in it.
    expect(code).not.toMatch(/fc-daygrid|fc-timegrid/);
    expect(code).not.toContain('Add Yjs type to a document before reading data');
    expect(code).not.toContain('BYSETPOS');
  });

  it('loads the calendar screen and the client\'s calendar code on demand, and the service worker keeps them for offline', () => {
    const assets = fs.readdirSync(path.join(DIST, 'assets')).filter((f) => /\.(js|css)$/.test(f));
    const first = new Set(firstScreenScripts());
    const lazy = assets.filter((f) => f.endsWith('.js') && !first.has(`assets/${f}`));
    expect(lazy.some((f) => /^calendar-screen-/.test(f))).toBe(true);
    expect(lazy.some((f) => read(`assets/${f}`).toString().includes('Add Yjs type to a document before reading data'))).toBe(true);
    const shell = JSON.parse(/const SHELL = (\[[^\]]*\])/.exec(read('sw.js').toString())![1]!) as string[];
    for (const f of assets) expect(shell, f).toContain(`/assets/${f}`);
    expect(shell.filter((u) => /\.(br|gz)$/.test(u))).toEqual([]);
  });

  it('has .br and .gz copies of every compressible file of 1 KB or more, each decoding to the file', () => {
    const files = (fs.readdirSync(DIST, { recursive: true }) as string[]).filter(
      (f) => /\.(js|css|html|svg|json|webmanifest)$/.test(f) && size(f) >= 1024,
    );
    expect(files).toEqual(expect.arrayContaining(['sw.js', expect.stringMatching(/^assets\/index-.*\.js$/)]));
    for (const f of files) {
      expect(zlib.brotliDecompressSync(read(`${f}.br`)).equals(read(f)), `${f}.br`).toBe(true);
      expect(zlib.gunzipSync(read(`${f}.gz`)).equals(read(f)), `${f}.gz`).toBe(true);
    }
  });
});
