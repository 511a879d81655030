/**
 * Presence is coalesced per room per tick (issue 17, W6): changes that arrive together go out as one
 * awareness update carrying each client's latest state, framed once for every socket. Stock
 * y-websocket clients must see exactly what they saw before: the latest state wins, and removals
 * (a closed socket) reach them. The 30 s timeout is covered by hardening-awareness.test.ts.
 */
import * as encoding from 'lib0/encoding';
import * as decoding from 'lib0/decoding';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { protocol } from '../src/index.js';
import { apiClient } from './helpers/api.js';
import { RawClient } from './helpers/raw-client.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { connectProvider, waitFor, waitForSynced } from './helpers/yjs-clients.js';

/** An awareness message as a client sends it: entries of [client id, clock, state (null removes)]. */
function awarenessFrame(entries: [number, number, unknown][]): Uint8Array {
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, entries.length);
  for (const [client, clock, state] of entries) {
    encoding.writeVarUint(e, client);
    encoding.writeVarUint(e, clock);
    encoding.writeVarString(e, JSON.stringify(state));
  }
  return protocol.encodeAwareness(encoding.toUint8Array(e));
}

/** Every awareness frame a raw socket received, decoded to its entries in order. */
function awarenessEntries(frames: Uint8Array[]): Array<Array<{ client: number; clock: number; state: any }>> {
  const out: Array<Array<{ client: number; clock: number; state: any }>> = [];
  for (const f of frames) {
    if (f[0] !== protocol.MESSAGE_AWARENESS) continue;
    const d = decoding.createDecoder(f);
    decoding.readVarUint(d);
    const u = decoding.createDecoder(decoding.readVarUint8Array(d));
    const n = decoding.readVarUint(u);
    const entries = [];
    for (let i = 0; i < n; i++) {
      const client = decoding.readVarUint(u);
      const clock = decoding.readVarUint(u);
      entries.push({ client, clock, state: JSON.parse(decoding.readVarString(u)) });
    }
    out.push(entries);
  }
  return out;
}

let t: TestServer;
let api: ReturnType<typeof apiClient>;
beforeAll(async () => {
  t = await startTestServer({ limits: { updatesPerSecond: 10_000, updatesBurst: 10_000 } });
  api = apiClient(t.url);
});
afterAll(async () => {
  await t.close();
});

/** A raw socket that keeps every frame it is sent from the start. */
async function observer(roomId: string, token: string): Promise<{ client: RawClient; frames: Uint8Array[] }> {
  const client = await RawClient.connect(`${t.wsUrl}/${roomId}?token=${token}`);
  const frames: Uint8Array[] = [];
  client.ws.on('message', (d: Buffer) => frames.push(new Uint8Array(d)));
  await client.waitSynced();
  return { client, frames };
}

describe('presence coalesced per tick', () => {
  it('a burst of 20 cursor moves reaches a stock client as its latest state, in fewer frames, each id once per frame and never going back', async () => {
    const owner = await api.signUp('owner');
    const roomId = await api.createRoom(owner.token);
    const stock = connectProvider(t.wsUrl, roomId, owner.token);
    await waitForSynced(stock.provider);
    const watch = await observer(roomId, owner.token);
    const mover = await RawClient.connect(`${t.wsUrl}/${roomId}?token=${owner.token}`);
    await mover.waitSynced();

    const id = 7_070_707;
    for (let clock = 1; clock <= 20; clock++) mover.send(awarenessFrame([[id, clock, { cursor: { anchor: clock, head: clock + 3 } }]]));
    await waitFor(() => (stock.provider.awareness.getStates().get(id) as any)?.cursor?.anchor === 20, 5000, 'stock client has the latest cursor');
    await waitFor(() => awarenessEntries(watch.frames).some((es) => es.some((e) => e.client === id && e.clock === 20)), 5000, 'observer has the latest');

    const mine = awarenessEntries(watch.frames).filter((es) => es.some((e) => e.client === id));
    expect(mine.length).toBeLessThan(20);
    let last = 0;
    for (const entries of mine) {
      expect(entries.filter((e) => e.client === id)).toHaveLength(1);
      const e = entries.find((x) => x.client === id)!;
      expect(e.clock).toBeGreaterThan(last);
      expect(e.state.cursor.anchor).toBe(e.clock);
      last = e.clock;
    }
    expect(last).toBe(20);
    expect((t.server.sync.registry.rooms.get(roomId)!.awareness.getStates().get(id) as any).cursor.anchor).toBe(20);
    mover.close();
    watch.client.close();
    stock.provider.destroy();
  });

  it('a removal (socket closed) and another client’s change in the same moment both reach stock clients', async () => {
    const owner = await api.signUp('owner');
    const roomId = await api.createRoom(owner.token);
    const a = connectProvider(t.wsUrl, roomId, owner.token);
    const b = connectProvider(t.wsUrl, roomId, owner.token);
    const c = connectProvider(t.wsUrl, roomId, owner.token);
    await Promise.all([a, b, c].map((x) => waitForSynced(x.provider)));
    a.provider.awareness.setLocalState({ user: { name: 'a' } });
    b.provider.awareness.setLocalState({ user: { name: 'b' }, cursor: 1 });
    const aId = a.provider.awareness.clientID;
    const bId = b.provider.awareness.clientID;
    await waitFor(() => c.provider.awareness.getStates().has(aId) && (c.provider.awareness.getStates().get(bId) as any)?.cursor === 1, 5000, 'c sees a and b');

    a.provider.destroy();
    b.provider.awareness.setLocalStateField('cursor', 2);
    await waitFor(() => !c.provider.awareness.getStates().has(aId), 5000, 'a removed for c');
    await waitFor(() => (c.provider.awareness.getStates().get(bId) as any)?.cursor === 2, 5000, 'b moved for c');
    await waitFor(() => !b.provider.awareness.getStates().has(aId), 5000, 'a removed for b');
    expect(t.server.sync.registry.rooms.get(roomId)!.awareness.getStates().has(aId)).toBe(false);
    b.provider.destroy();
    c.provider.destroy();
  });
});
