/**
 * GET /rooms/:roomId/state over real HTTP and a real SQLite file: a member gets the room's whole
 * Yjs state, brotli- or gzip-compressed as asked, that rebuilds the same calendar a stock
 * y-websocket client syncs; anyone else gets the room routes' usual errors.
 */
import http from 'node:http';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { listEvents } from '@kith/model';
import { pickEncoding } from '../src/sync/room-state-route.js';
import { apiClient } from './helpers/api.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { connectProvider, waitForSynced } from './helpers/yjs-clients.js';

type User = Awaited<ReturnType<ReturnType<typeof apiClient>['signUp']>>;

let t: TestServer;
let api: ReturnType<typeof apiClient>;
let owner: User, viewer: User, stranger: User;
let roomId: string;

beforeAll(async () => {
  t = await startTestServer();
  api = apiClient(t.url);
  [owner, viewer, stranger] = (await Promise.all(['owner', 'viewer', 'stranger'].map((p) => api.signUp(p)))) as [User, User, User];
  roomId = await api.createRoom(owner.token);
  await api.addMember(owner.token, roomId, viewer.token, 'viewer');
  for (let i = 0; i < 40; i++) {
    const at = Date.UTC(2026, 4, 1 + (i % 20), 8 + (i % 10));
    const body = { eventTitle: `Swimming ${i}`, startTime: new Date(at).toISOString(), endTime: new Date(at + 3_600_000).toISOString() };
    expect((await api.request('POST', `/rooms/${roomId}/events`, { token: owner.token, body })).status).toBe(201);
  }
});
afterAll(async () => {
  await t?.close();
});

/** A raw GET (no automatic decompression), so the encoding on the wire is what is checked. */
function getState(path: string, headers: Record<string, string>): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    http
      .get(t.url + path, { headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

const titles = (doc: Y.Doc) => listEvents(doc).map((e) => e.title).sort();

describe('a room state over HTTP', () => {
  it('serves a member the whole state, brotli-compressed, that rebuilds what a stock provider syncs', async () => {
    const res = await getState(`/rooms/${roomId}/state`, { authorization: `Bearer ${viewer.token}`, 'accept-encoding': 'gzip, deflate, br, zstd' });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/octet-stream');
    expect(res.headers['content-encoding']).toBe('br');
    expect(res.headers['cache-control']).toBe('private, no-store');
    expect(res.headers.vary).toMatch(/accept-encoding/i);
    const update = zlib.brotliDecompressSync(res.body);
    expect(res.body.length).toBeLessThan(update.length / 3);
    const fromHttp = new Y.Doc();
    Y.applyUpdate(fromHttp, update);
    expect(titles(fromHttp)).toHaveLength(40);

    const { doc: synced, provider } = connectProvider(t.wsUrl, roomId, owner.token);
    try {
      await waitForSynced(provider);
      expect(titles(fromHttp)).toEqual(titles(synced));
      // Nothing the socket has is missing from the HTTP copy.
      expect(Y.encodeStateAsUpdate(synced, Y.encodeStateVector(fromHttp)).length).toBeLessThan(10);
    } finally {
      provider.destroy();
    }
  });

  it('sends gzip when brotli is not accepted, and the bytes as they are when neither is', async () => {
    const gz = await getState(`/rooms/${roomId}/state`, { authorization: `Bearer ${owner.token}`, 'accept-encoding': 'gzip, br;q=0' });
    expect(gz.headers['content-encoding']).toBe('gzip');
    const plain = await getState(`/rooms/${roomId}/state`, { authorization: `Bearer ${owner.token}`, 'accept-encoding': 'identity' });
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(zlib.gunzipSync(gz.body).equals(plain.body)).toBe(true);
  });

  it('refuses a caller without a token (401) and a non-member as if the room did not exist (404)', async () => {
    const anonymous = await getState(`/rooms/${roomId}/state`, {});
    expect(anonymous.status).toBe(401);
    expect(JSON.parse(anonymous.body.toString()).error.code).toBeTruthy();
    const outsider = await getState(`/rooms/${roomId}/state`, { authorization: `Bearer ${stranger.token}` });
    expect(outsider.status).toBe(404);
    expect(JSON.parse(outsider.body.toString()).error.code).toBe('ROOM_NOT_FOUND');
    const tooLong = await getState(`/rooms/${'x'.repeat(65)}/state`, { authorization: `Bearer ${owner.token}` });
    expect(tooLong.status).toBe(400);
  });

  it('reads Accept-Encoding as browsers and proxies write it', () => {
    expect(pickEncoding(undefined)).toBeUndefined();
    expect(pickEncoding('gzip, deflate, br')).toBe('br');
    expect(pickEncoding('br;q=0, gzip;q=0.5')).toBe('gzip');
    expect(pickEncoding('*')).toBe('br');
    expect(pickEncoding('*;q=0, identity')).toBeUndefined();
    expect(pickEncoding('deflate')).toBeUndefined();
  });
});
