import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from './helpers/server.js';

const run = promisify(execFile);
const script = fileURLToPath(new URL('../examples/quickstart.mjs', import.meta.url));
const readme = fileURLToPath(new URL('../../../README.md', import.meta.url));

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server.close();
});

describe("the README's client example", () => {
  it('is quoted in the README exactly as the example file', () => {
    expect(fs.readFileSync(readme, 'utf8')).toContain(fs.readFileSync(script, 'utf8').trimEnd());
  });

  it('runs against a real server: signs up, creates a calendar, stores a yearly event and lists it', async () => {
    const { stdout } = await run(process.execPath, [script], {
      env: { ...process.env, KITH_URL: server.url },
      timeout: 30_000,
    });
    expect(stdout.trim().split('\n')).toEqual([
      'Dinner at Grandma’s: 2026-12-24T18:00 Europe/Berlin',
      'Dinner at Grandma’s: 2027-12-24T18:00 Europe/Berlin',
      'Dinner at Grandma’s: 2028-12-24T18:00 Europe/Berlin',
    ]);
  }, 40_000);
});
