/**
 * Hardening: frames whose cost grows with a count inside them are bounded by that count, read
 * before anything is decoded. A sync step 1 naming more client ids than any room has, and a
 * durable-ack subscription naming more than a client asks about, close the socket (4400); a
 * socket's ack list stays bounded whatever its updates carry; an awareness update with more
 * entries than any room holds is dropped unread; a viewer's updates are not decoded at all.
 * Real server over loopback, raw sockets speaking the y-websocket protocol.
 */
import * as Y from 'yjs';
import * as encoding from 'lib0/encoding';
import * as decoding from 'lib0/decoding';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { protocol } from '../src/index.js';
import { MAX_ACK_CLIENTS } from '../src/sync/connection.js';
import { MAX_SYNC_CLIENTS } from '../src/sync/message-handler.js';
import { apiClient } from './helpers/api.js';
import { sleep } from './helpers/http-assert.js';
import { RawClient } from './helpers/raw-client.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { waitFor, waitForAsync } from './helpers/yjs-clients.js';

let t: TestServer;
let api: ReturnType<typeof apiClient>;
beforeAll(async () => {
  t = await startTestServer({ limits: { updatesPerSecond: 10_000, updatesBurst: 10_000 } });
  api = apiClient(t.url);
});
afterAll(async () => {
  await t.close();
});

/** A state vector naming `n` clients (each at clock 1). */
function stateVector(n: number, first = 1_000_000): Uint8Array {
  const sv = new Map<number, number>();
  for (let i = 0; i < n; i++) sv.set(first + i, 1);
  return Y.encodeStateVector(sv);
}

const rejected = async (reason: string) =>
  Number(new RegExp(`kith_updates_rejected_total\\{reason="${reason}"\\} (\\d+)`).exec(await (await fetch(`${t.url}/metrics`)).text())?.[1] ?? 0);

async function room(): Promise<{ owner: { token: string }; viewer: { token: string }; url: (token: string) => string }> {
  const owner = await api.signUp('owner');
  const viewer = await api.signUp('viewer');
  const roomId = await api.createRoom(owner.token);
  await api.addMember(owner.token, roomId, viewer.token, 'viewer');
  return { owner, viewer, url: (token) => `${t.wsUrl}/${roomId}?token=${token}` };
}

/** The client ids of the last durable ack a raw client received. */
function lastAck(c: RawClient): Map<number, number> | undefined {
  for (let i = c.frames.length - 1; i >= 0; i--) {
    const f = c.frames[i]!;
    if (f[0] !== protocol.MESSAGE_KITH_DURABLE) continue;
    const d = decoding.createDecoder(f);
    decoding.readVarUint(d);
    return Y.decodeStateVector(decoding.readVarUint8Array(d));
  }
  return undefined;
}

describe('counts inside frames are bounded before decoding', () => {
  it(`a sync step 1 naming more than ${MAX_SYNC_CLIENTS} clients closes the socket with 4400; one naming 1,000 is answered`, async () => {
    const { viewer, url } = await room();
    const ok = await RawClient.connect(url(viewer.token));
    await ok.waitSynced();
    const answers = ok.frames.length;
    ok.send(protocol.encodeSyncStep1(stateVector(1_000)));
    await waitFor(() => ok.frames.slice(answers).some((f) => f[0] === protocol.MESSAGE_SYNC && f[1] === protocol.SYNC_STEP2), 5000, 'the answer');
    expect(ok.ws.readyState).toBe(WebSocket.OPEN);

    const big = await RawClient.connect(url(viewer.token));
    await big.waitSynced();
    big.send(protocol.encodeSyncStep1(stateVector(MAX_SYNC_CLIENTS + 1)));
    expect((await big.closed).code).toBe(4400);
    ok.close();
  });

  it(`a durable-ack subscription naming more than ${MAX_ACK_CLIENTS} clients closes with 4400; a socket's acks name at most ${MAX_ACK_CLIENTS} whatever its updates carry`, async () => {
    const { owner, url } = await room();
    const big = await RawClient.connect(url(owner.token));
    await big.waitSynced();
    big.send(protocol.encodeDurable(stateVector(MAX_ACK_CLIENTS + 1)));
    expect((await big.closed).code).toBe(4400);

    // An editor subscribed with the most allowed, then sends updates from 400 other client ids.
    const writer = await RawClient.connect(url(owner.token));
    await writer.waitSynced();
    writer.send(protocol.encodeDurable(stateVector(MAX_ACK_CLIENTS)));
    for (let i = 0; i < 400; i++) {
      const doc = new Y.Doc();
      doc.clientID = 5_000_000 + i;
      doc.getMap('scratch').set(`k${i}`, i);
      writer.send(protocol.encodeUpdate(Y.encodeStateAsUpdate(doc)));
    }
    await waitFor(() => lastAck(writer)?.has(5_000_399) === true, 10_000, 'the ack of the last update');
    expect(lastAck(writer)!.size).toBe(MAX_ACK_CLIENTS);
    expect(writer.ws.readyState).toBe(WebSocket.OPEN);
    writer.close();
  });

  it('an awareness update with more entries than any room holds is dropped unread; the socket stays open', async () => {
    const { viewer, url } = await room();
    const c = await RawClient.connect(url(viewer.token));
    await c.waitSynced();
    const before = await rejected('presence-over-cap');
    const e = encoding.createEncoder();
    const n = 100_000;
    encoding.writeVarUint(e, n);
    for (let i = 0; i < n; i++) {
      encoding.writeVarUint(e, 7_000_000 + i);
      encoding.writeVarUint(e, 1);
      encoding.writeVarString(e, 'null');
    }
    c.send(protocol.encodeAwareness(encoding.toUint8Array(e)));
    await waitForAsync(async () => (await rejected('presence-over-cap')) - before === n, 5000, 'the update dropped');
    await sleep(100);
    expect(c.ws.readyState).toBe(WebSocket.OPEN);
    const roomState = [...t.server.sync.registry.rooms.values()].map((r) => r.presence.size);
    expect(Math.max(...roomState)).toBeLessThanOrEqual(1);
    c.close();
  });

  it("a viewer's updates are not decoded: garbage from a viewer is dropped like any update of theirs, the socket stays open", async () => {
    const { owner, viewer, url } = await room();
    const v = await RawClient.connect(url(viewer.token));
    await v.waitSynced();
    const before = await rejected('read-only');
    // Undecodable as an update: an editor's socket is closed for it (4400), a viewer's is not read.
    const garbage = protocol.encodeUpdate(new Uint8Array([5, 255, 255, 255, 255, 15, 1, 2, 3]));
    v.send(garbage);
    await waitForAsync(async () => (await rejected('read-only')) === before + 1, 5000, 'the update refused as read-only');
    await sleep(100);
    expect(v.ws.readyState).toBe(WebSocket.OPEN);
    const editor = await RawClient.connect(url(owner.token));
    await editor.waitSynced();
    editor.send(garbage);
    expect((await editor.closed).code).toBe(4400);
    v.close();
  });
});
