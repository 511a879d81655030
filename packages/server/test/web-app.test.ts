import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

  it('keeps the API routes ahead of the app', async () => {
    const res = await fetch(`${t.url}/healthz`, { headers: { accept: 'text/html' } });
    expect(await res.json()).toEqual({ status: 'ok' });
  });
});
