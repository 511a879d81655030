/**
 * Real exports from other calendar clients (test/fixtures/interop, see SOURCES.md) through the
 * real import route: none is refused as a whole, none answers 5xx, and each round-trips (import →
 * the room's feed → import into the same room) as `unchanged` for every event.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient } from './helpers/api.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const DIR = new URL('./fixtures/interop/', import.meta.url);
const FILES = readdirSync(DIR).filter((f) => f.endsWith('.ics')).sort();

let t: TestServer;
let api: ReturnType<typeof apiClient>;
let token: string;

beforeAll(async () => {
  t = await startTestServer();
  api = apiClient(t.url);
  token = (await api.signUp('interop')).token;
});
afterAll(async () => {
  await t?.close();
});

const importIcs = (roomId: string, ics: string) =>
  api.request('POST', `/rooms/${roomId}/import`, { token, rawBody: ics, headers: { 'content-type': 'text/calendar' } });

/** Per-fixture figures, printed once for the report. */
const counts: string[] = [];
afterAll(() => {
  if (process.env.KITH_INTEROP_COUNTS) console.log(counts.join('\n'));
});

describe('interop fixtures', () => {
  it('has the fixtures', () => {
    expect(FILES.length).toBeGreaterThanOrEqual(45);
  });

  it.each(FILES)('%s imports and round-trips unchanged', async (file) => {
    const ics = readFileSync(new URL(file, DIR), 'utf8');
    const roomId = await api.createRoom(token, file);
    const first = await importIcs(roomId, ics);
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    const r = first.body;
    counts.push(`${file}: imported ${r.imported}, updated ${r.updated}, unchanged ${r.unchanged}, skipped ${r.skipped}, errors ${r.errors.length}`);
    for (const e of r.errors) expect(e.message).not.toMatch(/TypeError|undefined|is not a function/);

    const feed = await api.request('POST', `/rooms/${roomId}/feed`, { token });
    expect(feed.status).toBe(201);
    const res = await fetch(feed.body.url);
    expect(res.status).toBe(200);
    const back = await importIcs(roomId, await res.text());
    expect(back.status, JSON.stringify(back.body)).toBe(200);
    expect(back.body, file).toMatchObject({ imported: 0, updated: 0, unchanged: r.imported + r.updated + r.unchanged, errors: [] });
  });
});
