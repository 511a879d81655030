/**
 * The web app's precompressed copies (`.br`, `.gz` written by the app's build) over loopback HTTP
 * with a raw client (fetch would negotiate and decode on its own): which copy each Accept-Encoding
 * gets, and the headers that make caches and browsers handle it right.
 */
import fs from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeDataDir, startTestServer, type TestServer } from './helpers/server.js';

const SCRIPT = `export const kith = ${JSON.stringify('calendar '.repeat(400))};\n`;
const PAGE = `<!doctype html><title>Kith</title><div id="app"></div>${'<!-- padding -->'.repeat(100)}`;
const WORKER = `self.addEventListener('fetch', () => {});${' '.repeat(2000)}`;

let t: TestServer;

/** Writes a file and the copies the build would write beside it. */
async function withCopies(file: string, text: string, copies: Array<'br' | 'gz'>): Promise<void> {
  await fs.writeFile(file, text);
  if (copies.includes('br')) await fs.writeFile(`${file}.br`, zlib.brotliCompressSync(text));
  if (copies.includes('gz')) await fs.writeFile(`${file}.gz`, zlib.gzipSync(text));
}

beforeAll(async () => {
  const webDir = await makeDataDir();
  await fs.mkdir(path.join(webDir, 'assets'));
  await withCopies(path.join(webDir, 'index.html'), PAGE, ['br', 'gz']);
  await withCopies(path.join(webDir, 'sw.js'), WORKER, ['br', 'gz']);
  await withCopies(path.join(webDir, 'assets', 'index-AbCdEf12.js'), SCRIPT, ['br', 'gz']);
  // Only a gzip copy (a build that found brotli no smaller), and one with no copy at all.
  await withCopies(path.join(webDir, 'assets', 'calendar-Zz9Yy8Xx.js'), SCRIPT, ['gz']);
  await withCopies(path.join(webDir, 'assets', 'tiny-Qq1Ww2Ee.css'), 'body{margin:0}', []);
  t = await startTestServer({ staticDir: webDir });
});
afterAll(async () => {
  await t?.close();
});

interface RawAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

function get(pathname: string, headers: Record<string, string> = {}): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${t.url}${pathname}`, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

function decoded(answer: RawAnswer): string {
  const encoding = answer.headers['content-encoding'];
  if (encoding === 'br') return zlib.brotliDecompressSync(answer.body).toString();
  if (encoding === 'gzip') return zlib.gunzipSync(answer.body).toString();
  return answer.body.toString();
}

const BROWSER = 'gzip, deflate, br, zstd';

describe('precompressed web app files', () => {
  it('sends brotli to a browser that accepts it, with the script\'s type, the copy\'s length and Vary', async () => {
    const res = await get('/assets/index-AbCdEf12.js', { 'accept-encoding': BROWSER });
    expect(res.status).toBe(200);
    expect(res.headers['content-encoding']).toBe('br');
    expect(res.headers['content-type']).toMatch(/^(text|application)\/javascript/);
    expect(Number(res.headers['content-length'])).toBe(res.body.length);
    expect(res.body.length).toBeLessThan(SCRIPT.length / 10);
    expect(res.headers.vary).toMatch(/accept-encoding/i);
    expect(res.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(decoded(res)).toBe(SCRIPT);
  });

  it('follows q-values: gzip when brotli is liked less, the file itself when both are refused', async () => {
    const gz = await get('/assets/index-AbCdEf12.js', { 'accept-encoding': 'br;q=0.5, gzip;q=1' });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(decoded(gz)).toBe(SCRIPT);
    const plain = await get('/assets/index-AbCdEf12.js', { 'accept-encoding': 'br;q=0, gzip;q=0, identity' });
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body.toString()).toBe(SCRIPT);
    expect(plain.headers.vary).toMatch(/accept-encoding/i);
  });

  it('without Accept-Encoding sends the file as it is, its length exact', async () => {
    const res = await get('/assets/index-AbCdEf12.js');
    expect(res.headers['content-encoding']).toBeUndefined();
    expect(Number(res.headers['content-length'])).toBe(Buffer.byteLength(SCRIPT));
    expect(res.body.toString()).toBe(SCRIPT);
    expect(res.headers['cache-control']).toBe('public, max-age=31536000, immutable');
  });

  it('falls back to the copies that exist: gzip when there is no .br, the file when there is none', async () => {
    const gz = await get('/assets/calendar-Zz9Yy8Xx.js', { 'accept-encoding': BROWSER });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(decoded(gz)).toBe(SCRIPT);
    const css = await get('/assets/tiny-Qq1Ww2Ee.css', { 'accept-encoding': BROWSER });
    expect(css.status).toBe(200);
    expect(css.headers['content-encoding']).toBeUndefined();
    expect(css.headers['content-type']).toMatch(/^text\/css/);
    expect(css.body.toString()).toBe('body{margin:0}');
    expect(css.headers['cache-control']).toBe('public, max-age=31536000, immutable');
  });

  it('the page (at /, and for client-side routes) and the service worker are compressed but always revalidated', async () => {
    for (const pathname of ['/', '/index.html', '/invite/abc123']) {
      const res = await get(pathname, { 'accept-encoding': BROWSER, accept: 'text/html' });
      expect(res.status, pathname).toBe(200);
      expect(res.headers['content-encoding'], pathname).toBe('br');
      expect(res.headers['content-type'], pathname).toMatch(/^text\/html/);
      expect(res.headers['cache-control'], pathname).toBe('no-cache');
      expect(decoded(res), pathname).toBe(PAGE);
    }
    const sw = await get('/sw.js', { 'accept-encoding': 'gzip' });
    expect(sw.headers['content-encoding']).toBe('gzip');
    expect(sw.headers['cache-control']).toBe('no-cache');
    expect(decoded(sw)).toBe(WORKER);
  });

  it('a compressed copy asked for by name is just a file, not decoded twice', async () => {
    const res = await get('/assets/index-AbCdEf12.js.br', { 'accept-encoding': BROWSER });
    expect(res.status).toBe(200);
    expect(zlib.brotliDecompressSync(res.body).toString()).toBe(SCRIPT);
  });
});
