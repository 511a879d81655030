/**
 * Hardening: the memory rooms' documents hold is bounded in Yjs structs, not only in bytes. An
 * update of tiny map keys costs the heap ~28 times its size (a 64 MB room held 2.5 GB; two ran the
 * process out of memory), so each room's document is capped in structs (4413 ROOM_TOO_LARGE) and
 * all loaded rooms share a budget (1013 SERVER_MEMORY_FULL: the client keeps its edit and sends it
 * again later), freed as rooms unload. Real server over loopback with small caps, raw sockets and
 * a stock y-websocket client, REST edits.
 */
import * as Y from 'yjs';
import WebSocket from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { protocol } from '../src/index.js';
import { structCount } from '../src/sync/struct-budget.js';
import { apiClient } from './helpers/api.js';
import { RawClient } from './helpers/raw-client.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { connectProvider, waitFor, waitForSynced } from './helpers/yjs-clients.js';

const servers: TestServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

async function server(maxRoomStructs: number, maxLoadedStructs: number) {
  const t = await startTestServer({ limits: { maxRoomStructs, maxLoadedStructs, updatesPerSecond: 10_000, updatesBurst: 10_000 }, sync: { unloadGraceMs: 50 } });
  servers.push(t);
  return { t, api: apiClient(t.url) };
}

/** An update of `n` map keys from a new Yjs client: `n` structs. */
function keys(n: number, prefix = 'k'): Uint8Array {
  const doc = new Y.Doc();
  doc.transact(() => {
    const m = doc.getMap('scratch');
    for (let i = 0; i < n; i++) m.set(`${prefix}${i}`, i);
  });
  return Y.encodeStateAsUpdate(doc);
}

/** The registry's budget agrees with the documents it counts. */
function expectBudgetMatches(t: TestServer): void {
  const registry = t.server.sync.registry;
  const counted = [...registry.rooms.values()].reduce((n, r) => n + (r.documentBuilt ? structCount(r.doc) : 0), 0);
  expect(registry.structs.used).toBe(counted);
}

describe('memory held by rooms is bounded in structs', () => {
  it('an update that would take a room past its struct cap closes the socket with 4413 and changes nothing', async () => {
    const { t, api } = await server(5_000, 1_000_000);
    const owner = await api.signUp('owner');
    const roomId = await api.createRoom(owner.token);
    const url = `${t.wsUrl}/${roomId}?token=${owner.token}`;
    const c = await RawClient.connect(url);
    await c.waitSynced();
    c.send(protocol.encodeUpdate(keys(3_000, 'a')));
    c.send(protocol.encodeUpdate(keys(3_000, 'b')));
    const closed = await c.closed;
    expect([closed.code, closed.reason]).toEqual([4413, 'ROOM_TOO_LARGE']);
    // A fresh client gets the first update only.
    const reader = connectProvider(t.wsUrl, roomId, owner.token);
    await waitForSynced(reader.provider);
    expect(reader.doc.getMap('scratch').size).toBe(3_000);
    expectBudgetMatches(t);
    reader.provider.destroy();
  });

  it('past the process budget updates are refused with 1013 SERVER_MEMORY_FULL and REST edits with 503; unloading rooms frees it', async () => {
    const { t, api } = await server(10_000, 12_000);
    const owner = await api.signUp('owner');
    const rooms = [await api.createRoom(owner.token), await api.createRoom(owner.token), await api.createRoom(owner.token)];
    const clients: RawClient[] = [];
    for (const [i, roomId] of rooms.slice(0, 2).entries()) {
      const c = await RawClient.connect(`${t.wsUrl}/${roomId}?token=${owner.token}`);
      await c.waitSynced();
      c.send(protocol.encodeUpdate(keys(5_000, `r${i}-`)));
      clients.push(c);
    }
    await waitFor(() => t.server.sync.registry.structs.used >= 10_000, 5000, 'two rooms filled');
    expectBudgetMatches(t);

    // The third room's 3,000 keys would pass 12,000 in all.
    const third = await RawClient.connect(`${t.wsUrl}/${rooms[2]}?token=${owner.token}`);
    await third.waitSynced();
    third.send(protocol.encodeUpdate(keys(3_000, 'late-')));
    const closed = await third.closed;
    expect([closed.code, closed.reason]).toEqual([1013, 'SERVER_MEMORY_FULL']);
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    expect(metrics).toMatch(/kith_updates_rejected_total\{reason="server-memory-full"\} 1\b/);
    // A REST edit of a room at the budget: 503 with the catalogue's body.
    const rest = await api.request('POST', `/rooms/${rooms[2]}/events`, {
      token: owner.token,
      body: { eventTitle: 'Swim', startTime: '2026-06-04T16:00', endTime: '2026-06-04T17:00', timeZone: 'UTC' },
    });
    // The third room is small: its own edit fits unless the budget is spent; 10,000+ of 12,000 are.
    if (t.server.sync.registry.structs.used + 1 > 12_000) expect([rest.status, rest.body.error.code]).toEqual([503, 'SERVER_MEMORY_FULL']);

    // The two full rooms unload once their sockets close: the budget is back, and the update goes through.
    for (const c of clients) c.close();
    await waitFor(() => !rooms.slice(0, 2).some((r) => t.server.sync.registry.rooms.has(r)), 5000, 'the full rooms unloaded');
    expectBudgetMatches(t);
    const again = await RawClient.connect(`${t.wsUrl}/${rooms[2]}?token=${owner.token}`);
    await again.waitSynced();
    again.send(protocol.encodeUpdate(keys(3_000, 'late-')));
    const reader = connectProvider(t.wsUrl, rooms[2]!, owner.token);
    await waitForSynced(reader.provider);
    await waitFor(() => reader.doc.getMap('scratch').size === 3_000, 5000, 'the update stored and sent');
    expect(again.ws.readyState).toBe(WebSocket.OPEN);
    expectBudgetMatches(t);
    again.close();
    reader.provider.destroy();
    await waitFor(() => t.server.sync.registry.rooms.size === 0, 5000, 'every room unloaded');
    expect(t.server.sync.registry.structs.used).toBe(0);
  });
});
