import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import * as encoding from 'lib0/encoding';
import { encodeAwarenessUpdate, Awareness } from 'y-protocols/awareness';
import { mulberry32 } from '@kith/test-support';
import { protocol } from '../src/index.js';
import { apiClient } from './helpers/api.js';
import { frame } from './helpers/raw-client.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { readStoredDoc } from './helpers/stored-doc.js';
import { connectProvider, rawSocket, waitFor, waitForSynced } from './helpers/yjs-clients.js';

/** Valid frames of every kind, from which mutated ones are made. */
function seedFrames(): Uint8Array[] {
  const doc = new Y.Doc();
  const updates: Uint8Array[] = [];
  doc.on('update', (u: Uint8Array) => updates.push(u));
  // The fuzzer writes only under its own root type, so any mutation that Yjs accepts lands there.
  const m = doc.getMap('fuzz');
  m.set('a', 'x');
  m.set('b', { nested: [1, 2, 3] });
  doc.getText('fuzztext').insert(0, 'hello');
  m.delete('a');
  const awareness = new Awareness(doc);
  awareness.setLocalState({ user: 'fuzzer', viewing: '2026-11-21' });
  const aw = encodeAwarenessUpdate(awareness, [doc.clientID]);
  awareness.destroy();
  return [
    protocol.encodeSyncStep1(Y.encodeStateVector(doc)),
    protocol.encodeSyncStep2(Y.encodeStateAsUpdate(doc)),
    ...updates.map((u) => protocol.encodeUpdate(u)),
    protocol.encodeAwareness(aw),
    protocol.encodeQueryAwareness(),
    protocol.encodeDurable(Y.encodeStateVector(doc)),
  ];
}

function mutate(base: Uint8Array, r: () => number): Uint8Array {
  const out = Array.from(base);
  const edits = 1 + Math.floor(r() * 4);
  for (let i = 0; i < edits; i++) {
    const op = r();
    const at = Math.floor(r() * (out.length + 1));
    if (op < 0.5 && out.length > 0) out[Math.min(at, out.length - 1)] = Math.floor(r() * 256);
    else if (op < 0.7) out.splice(at, 0, Math.floor(r() * 256));
    else if (op < 0.85 && out.length > 1) out.splice(Math.min(at, out.length - 1), 1);
    else out.splice(at); // truncate
  }
  return Uint8Array.from(out);
}

function randomFrame(r: () => number): Uint8Array {
  const kind = r();
  if (kind < 0.3) return Uint8Array.from({ length: Math.floor(r() * 64) }, () => Math.floor(r() * 256));
  if (kind < 0.4) {
    // Over-long varints and huge declared lengths.
    return frame((e) => {
      encoding.writeVarUint(e, Math.floor(r() * 4));
      for (let i = 0; i < 12; i++) encoding.writeUint8(e, 0xff);
    });
  }
  if (kind < 0.45) return frame((e) => encoding.writeVarUint(e, 4 + Math.floor(r() * 90))); // unknown type
  return new Uint8Array(0);
}

let t: TestServer;
let api: ReturnType<typeof apiClient>;
beforeAll(async () => {
  t = await startTestServer({ limits: { updatesPerSecond: 100_000, updatesBurst: 100_000 } });
  api = apiClient(t.url);
});
afterAll(async () => {
  await t.close();
});

describe('fuzzing the sync socket', () => {
  it('random and mutated frames close only the sending socket; other clients keep syncing and the room content is unchanged', async () => {
    const owner = await api.signUp('owner');
    const roomId = await api.createRoom(owner.token);
    const writer = connectProvider(t.wsUrl, roomId, owner.token);
    const reader = connectProvider(t.wsUrl, roomId, owner.token);
    await Promise.all([waitForSynced(writer.provider), waitForSynced(reader.provider)]);
    const events = writer.doc.getMap('events');
    events.set('dinner', { title: 'Dinner', start: '2026-11-21T19:00', tz: 'Europe/Berlin' });
    await waitFor(() => reader.doc.getMap('events').has('dinner'), 5000, 'initial content');

    const r = mulberry32(20261121);
    const seeds = seedFrames();
    let sent = 0;
    let closedByServer = 0;
    const closeCodes = new Map<number, number>();
    const FRAMES = 5000;
    const PARALLEL = 8;
    let legitWrites = 0;

    // Each fuzz frame is followed by a valid sync step 1 as a probe: the server answers it (the
    // fuzz frame was accepted) or has closed the socket (it was refused). So every frame counted
    // here was processed by the server, not just written to a socket.
    const probe = protocol.encodeSyncStep1(new Uint8Array([0]));
    const fuzzer = async () => {
      while (sent < FRAMES) {
        const ws = await rawSocket(`${t.wsUrl}/${roomId}?token=${owner.token}`);
        const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
        let open = true;
        void closed.then(() => (open = false));
        let replies = 0;
        ws.on('message', (data: Buffer) => {
          if (data[0] === protocol.MESSAGE_SYNC && data[1] === protocol.SYNC_STEP2) replies++;
        });
        for (let i = 0; i < 50 && open && sent < FRAMES; i++) {
          const pick = r();
          const f = pick < 0.75 ? mutate(seeds[Math.floor(r() * seeds.length)]!, r) : randomFrame(r);
          const expected = replies + 1;
          ws.send(f);
          ws.send(probe);
          sent++;
          await Promise.race([closed, waitFor(() => replies >= expected || !open, 5000, 'probe answer')]);
        }
        if (open) ws.close();
        const code = await closed;
        closeCodes.set(code, (closeCodes.get(code) ?? 0) + 1);
        if (code !== 1005 && code !== 1000) closedByServer++;
      }
    };
    const legit = async () => {
      // Meanwhile the family keeps editing; every edit must reach the reader.
      while (sent < FRAMES) {
        events.set(`e${legitWrites}`, { title: `event ${legitWrites}` });
        legitWrites++;
        await new Promise((res) => setTimeout(res, 20));
      }
    };
    await Promise.all([...Array.from({ length: PARALLEL }, fuzzer), legit()]);

    expect(sent).toBeGreaterThanOrEqual(FRAMES);
    expect(closedByServer).toBeGreaterThan(0);
    // Legitimate content: identical in writer, reader, and on disk; nothing else appeared in it.
    await waitFor(
      () => reader.doc.getMap('events').size === legitWrites + 1,
      10_000,
      'reader has every legitimate edit',
    );
    expect(reader.doc.getMap('events').toJSON()).toEqual(events.toJSON());
    await waitFor(() => t.server.sync.registry.rooms.get(roomId)?.hasUnstoredWork === false, 5000, 'stored');
    expect(readStoredDoc(t.dataDir, roomId).getMap('events').toJSON()).toEqual(events.toJSON());
    // The server is still healthy.
    expect((await api.request('GET', '/healthz')).status).toBe(200);
    console.log(
      `fuzz: ${sent} frames over ${[...closeCodes.values()].reduce((a, b) => a + b, 0)} sockets; close codes ${JSON.stringify(Object.fromEntries(closeCodes))}; ${legitWrites} legitimate edits converged`,
    );
    writer.provider.destroy();
    reader.provider.destroy();
  }, 120_000);
});
