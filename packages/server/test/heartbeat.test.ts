import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { apiClient } from './helpers/api.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { nextClose, waitFor } from './helpers/yjs-clients.js';

const PING_INTERVAL_MS = 400;

let t: TestServer;
let api: ReturnType<typeof apiClient>;

beforeAll(async () => {
  t = await startTestServer({ sync: { pingIntervalMs: PING_INTERVAL_MS } });
  api = apiClient(t.url);
});
afterAll(async () => {
  await t.close();
});

function open(url: string, autoPong: boolean): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { autoPong });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

describe('keep-alive pings', () => {
  it('closes sockets that stop answering pings and keeps the ones that answer, pinging them spread out', async () => {
    const alice = await api.signUp('alice');
    const roomId = await api.createRoom(alice.token);
    const url = `${t.wsUrl}/${roomId}?token=${alice.token}`;
    const live = await Promise.all(Array.from({ length: 16 }, () => open(url, true)));
    const silent = await Promise.all(Array.from({ length: 4 }, () => open(url, false)));

    const pings = live.map(() => [] as number[]);
    live.forEach((ws, i) => ws.on('ping', () => pings[i]!.push(performance.now())));
    // Generous bounds (timers run late on a loaded machine); the spacing asserted below is the point.
    const silentClosed = silent.map((ws) => nextClose(ws, 25 * PING_INTERVAL_MS));

    // A silent socket is pinged once, and found dead when its turn comes round again.
    for (const closed of await Promise.all(silentClosed)) expect(closed.code).toBe(1006);

    await waitFor(() => pings.every((p) => p.length >= 3), 25 * PING_INTERVAL_MS, 'three pings to every live socket');
    for (const ws of live) expect(ws.readyState).toBe(WebSocket.OPEN);
    // Once per interval each: a socket's pings are an interval apart, never two in one tick.
    for (const p of pings) {
      for (let i = 1; i < p.length; i++) expect(p[i]! - p[i - 1]!).toBeGreaterThan(PING_INTERVAL_MS / 2);
    }
    // The sockets are not all pinged at the same moment.
    const firstPings = pings.map((p) => p[0]!);
    expect(Math.max(...firstPings) - Math.min(...firstPings)).toBeGreaterThan(PING_INTERVAL_MS / 4);

    for (const ws of live) ws.close();
  });
});
