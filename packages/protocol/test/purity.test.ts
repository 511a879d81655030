/** The package runs in browsers as well as Node: its sources import lib0 and each other, nothing else. */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const pkg = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

describe('purity', () => {
  it('sources import only lib0 and their own modules', () => {
    const src = path.join(pkg, 'src');
    for (const file of fs.readdirSync(src).filter((f) => f.endsWith('.ts'))) {
      const text = fs.readFileSync(path.join(src, file), 'utf8');
      for (const [, specifier] of text.matchAll(/\bfrom '([^']+)'/g)) {
        expect(/^lib0\/[a-z]+$|^\.\/[a-z-]+\.js$/.test(specifier!), `${file} imports ${specifier}`).toBe(true);
      }
    }
  });

  it('depends on lib0 alone', () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(pkg, 'package.json'), 'utf8')) as { dependencies?: object };
    expect(Object.keys(manifest.dependencies ?? {})).toEqual(['lib0']);
  });
});
