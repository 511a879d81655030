import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient } from './helpers/api.js';
import { RawClient } from './helpers/raw-client.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { waitFor } from './helpers/yjs-clients.js';

v8.setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer({ sync: { unloadGraceMs: 0 } });
});
afterAll(async () => {
  await t.close();
});

const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

async function settle(): Promise<number> {
  await waitFor(() => t.server.sync.registry.rooms.size === 0, 10_000, 'all rooms unloaded');
  // Let closing sockets' terminate timers fire.
  await new Promise((r) => setTimeout(r, 2200));
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
  return process.memoryUsage().heapUsed;
}

describe('memory across connect/disconnect cycles', () => {
  it('leaves no room loaded, no connection and no timer behind, and the heap does not grow', async () => {
    const api = apiClient(t.url);
    const alice = await api.signUp('alice');
    const rooms = await Promise.all(Array.from({ length: 20 }, (_, i) => api.createRoom(alice.token, `room ${i}`)));
    const cycle = async (i: number) => {
      const roomId = rooms[i % rooms.length]!;
      const c = await RawClient.connect(`${t.wsUrl}/${roomId}?token=${alice.token}`);
      await c.waitSynced();
      c.doc.getMap('m').set(`k${i % 5}`, i);
      c.doc.getMap('m').set('who', { name: 'alice', n: i });
      c.close();
      await c.closed;
    };
    const run = async (n: number, offset: number) => {
      for (let i = 0; i < n; i += 10) await Promise.all(Array.from({ length: 10 }, (_, j) => cycle(offset + i + j)));
    };

    await run(300, 0); // warm-up: JIT, caches, lazy modules
    const heapBefore = await settle();
    const timersBefore = timers();
    await run(2000, 300);
    const heapAfter = await settle();

    expect(t.server.sync.registry.rooms.size).toBe(0);
    expect(t.server.sync.connectionCount).toBe(0);
    expect(timers()).toBeLessThanOrEqual(timersBefore);
    const growth = heapAfter - heapBefore;
    console.log(
      `memory: 2000 cycles over 20 rooms; heap ${(heapBefore / 1e6).toFixed(1)} MB → ${(heapAfter / 1e6).toFixed(1)} MB (${(growth / 1e6).toFixed(2)} MB); timers ${timersBefore} → ${timers()}`,
    );
    // 2000 cycles: a leak of even 2 KB per cycle would show as 4 MB.
    expect(growth).toBeLessThan(3 * 1024 * 1024);
  }, 120_000);
});
