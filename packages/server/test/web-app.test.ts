import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectError, rawRequest } from './helpers/http-assert.js';
import { makeDataDir, startTestServer, type TestServer } from './helpers/server.js';

let t: TestServer;
let webDir: string;
beforeAll(async () => {
  webDir = await makeDataDir();
  await fs.writeFile(path.join(webDir, 'index.html'), '<!doctype html><title>Kith</title><div id="app"></div>');
  await fs.mkdir(path.join(webDir, 'assets'));
  await fs.writeFile(path.join(webDir, 'assets', 'main-AbCdEf12.js'), 'console.log("kith")');
  t = await startTestServer({ staticDir: webDir });
});
afterAll(async () => {
  await t.close();
});

describe('serving the web app', () => {
  it('serves index.html at / with revalidation and hashed assets as immutable', async () => {
    const index = await fetch(`${t.url}/`);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toMatch(/text\/html/);
    expect(index.headers.get('cache-control')).toBe('no-cache');
    expect(await index.text()).toContain('<title>Kith</title>');
    const asset = await fetch(`${t.url}/assets/main-AbCdEf12.js`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('cache-control')).toContain('immutable');
  });

  it('answers client-side routes such as /invite/:code with the app, and API misses with JSON 404', async () => {
    const page = await fetch(`${t.url}/invite/abc123`, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<div id="app">');
    const api = await fetch(`${t.url}/no/such/api`, { headers: { accept: 'application/json' } });
    expect(api.status).toBe(404);
    expect(await api.json()).toMatchObject({ error: { code: 'NOT_FOUND' } });
  });

  it('answers a Range past a file\'s end or a precondition that fails with 200 or 412, not 500', async () => {
    // Any client may send these; each was a 500 INTERNAL, logged as a failed request.
    const asset = '/assets/main-AbCdEf12.js';
    const ranged = await rawRequest(t.url, asset, { method: 'GET', headers: { range: 'bytes=500-600' } });
    expect(ranged.status).toBe(200); // a Range is ignored: the whole file
    expect(ranged.body).toBe('console.log("kith")');
    expect((await rawRequest(t.url, asset, { method: 'GET', headers: { range: 'bytes=0-6' } })).status).toBe(200);
    expectError(await rawRequest(t.url, asset, { method: 'GET', headers: { 'if-match': '"other"' } }), 412, 'PRECONDITION_FAILED');
    expectError(
      await rawRequest(t.url, '/', { method: 'GET', headers: { 'if-unmodified-since': 'Mon, 01 Jan 2001 00:00:00 GMT' } }),
      412,
      'PRECONDITION_FAILED',
    );
    expectError(await rawRequest(t.url, '/invite/abc123', { method: 'GET', headers: { accept: 'text/html', 'if-match': '"other"' } }), 412, 'PRECONDITION_FAILED');
  });

  it('keeps the API routes ahead of the app', async () => {
    const res = await fetch(`${t.url}/healthz`, { headers: { accept: 'text/html' } });
    expect(await res.json()).toEqual({ status: 'ok' });
  });
});
