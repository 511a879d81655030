import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { RRuleTemporal } from 'rrule-temporal';
import { Temporal } from 'temporal-polyfill';
import { build } from 'vite';
import { describe, expect, it } from 'vitest';

const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');

describe('libraries the model relies on', () => {
  it('pins rrule-temporal to an exact version and yjs to the server’s 13.6 line', () => {
    const { dependencies } = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    expect(dependencies['rrule-temporal']).toMatch(/^\d+\.\d+\.\d+$/);
    expect(dependencies.yjs).toBe('~13.6.33');
  });

  it('rrule-temporal skips a DST-gap time in a real zone, which is why the model expands in wall space', () => {
    const rule = new RRuleTemporal({
      rruleString: 'FREQ=WEEKLY;COUNT=3',
      dtstart: Temporal.ZonedDateTime.from('2026-03-01T02:30[America/New_York]'),
      temporal: Temporal,
    });
    // If this starts to include 2026-03-08, the library changed its gap handling: re-check dst.test.ts.
    expect(rule.all().map((z) => z.toPlainDate().toString())).toEqual(['2026-03-01', '2026-03-15', '2026-03-22']);
  });

  it('bundles for the browser with vite: no Node built-ins reach the output', async () => {
    const result = await build({
      configFile: false,
      logLevel: 'silent',
      root: pkg,
      build: {
        lib: { entry: join(pkg, 'src/index.ts'), formats: ['es'], fileName: 'model' },
        write: false,
        minify: true,
        target: 'es2022',
      },
    });
    const outputs = Array.isArray(result) ? result : [result];
    const code = outputs
      .flatMap((o) => ('output' in o ? o.output : []))
      .map((chunk) => ('code' in chunk ? chunk.code : ''))
      .join('\n');
    expect(code.length).toBeGreaterThan(10_000);
    expect(code).not.toMatch(/from\s*["']node:|require\(["']node:|__vite-browser-external/);
    // Everything (yjs, both Temporal polyfills) is bundled; keep an eye on the size.
    expect(gzipSync(code).length).toBeLessThan(150_000);
  });
});
