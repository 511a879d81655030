/**
 * A new device's first sync: with an empty local copy, the calendar fetches the room's state over
 * HTTP (compressed by the server) and then connects, so the socket carries only what changed
 * since; with a local copy, or when the HTTP state cannot be had, the socket does it all as
 * before. A real kith-server over loopback, `ws` sockets, memory persistence.
 */
import WebSocket from 'ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { KithClient } from '../src/index.js';
import { makeClient, signUp } from './helpers/clients.js';
import { startServer, type TestServer } from './helpers/server.js';

let t: TestServer;
beforeAll(async () => {
  t = await startServer();
});
afterAll(async () => {
  await t.close();
});
const open: KithClient[] = [];
afterEach(async () => {
  while (open.length) await open.pop()!.close();
});

/** `ws` that notes the size of the largest message the server sent. */
function measuringWebSocket() {
  let largest = 0;
  class Measuring extends WebSocket {
    constructor(address: string, protocols?: string | string[]) {
      super(address, protocols);
      // y-websocket asks for ArrayBuffers.
      this.on('message', (data: ArrayBuffer | Buffer) => (largest = Math.max(largest, data.byteLength)));
    }
  }
  return { WebSocket: Measuring as typeof WebSocket, largest: () => largest };
}

/** fetch that records the paths asked for; `refuse` answers matching paths with a 404 instead. */
function recordingFetch(refuse?: RegExp) {
  const paths: string[] = [];
  const f: typeof fetch = async (input, init) => {
    const path = new URL(String(input)).pathname;
    paths.push(path);
    if (refuse?.test(path)) return new Response('{"error":{"code":"NOT_FOUND","message":"no"}}', { status: 404, headers: { 'content-type': 'application/json' } });
    return fetch(input, init);
  };
  return { fetch: f, paths };
}

/** A room with `n` events, made by its owner; returns the owner's credentials and the room. */
async function busyRoom(n: number) {
  const owner = makeClient(t.url);
  open.push(owner);
  const user = await signUp(owner, 'own');
  const { roomId } = await owner.rooms.create('Busy');
  const cal = await owner.openCalendar(roomId);
  for (let i = 0; i < n; i++) {
    const day = `2026-05-${String(1 + (i % 28)).padStart(2, '0')}`;
    cal.createEvent({ title: `Practice ${i}`, start: `${day}T${String(8 + (i % 10)).padStart(2, '0')}:00`, end: `${day}T19:00`, tz: 'Europe/Berlin' });
  }
  await cal.whenSaved(10_000);
  return { user, roomId };
}

describe('first sync of a new device', () => {
  it('fills an empty local copy from the HTTP state, then syncs only the rest over the socket; a second open does not fetch it again', async () => {
    const { user, roomId } = await busyRoom(80);
    const socket = measuringWebSocket();
    const requests = recordingFetch();
    const device = makeClient(t.url, { WebSocket: socket.WebSocket, fetch: requests.fetch });
    open.push(device);
    await device.login(user.username, 'correct horse battery');
    const cal = await device.openCalendar(roomId);
    await cal.whenSynced(10_000);
    expect(cal.listEvents()).toHaveLength(80);
    expect(requests.paths).toContain(`/rooms/${roomId}/state`);
    // 80 events are tens of KB; the socket brought only sync bookkeeping.
    expect(socket.largest()).toBeLessThan(2000);

    await cal.close();
    const again = await device.openCalendar(roomId);
    await again.whenSynced(10_000);
    expect(again.listEvents()).toHaveLength(80);
    expect(requests.paths.filter((p) => p.endsWith('/state'))).toHaveLength(1);
  });

  it('syncs everything over the socket when the HTTP state is refused (an older server)', async () => {
    const { user, roomId } = await busyRoom(40);
    const socket = measuringWebSocket();
    const requests = recordingFetch(/\/state$/);
    const device = makeClient(t.url, { WebSocket: socket.WebSocket, fetch: requests.fetch });
    open.push(device);
    await device.login(user.username, 'correct horse battery');
    const cal = await device.openCalendar(roomId);
    await cal.whenSynced(10_000);
    expect(cal.listEvents()).toHaveLength(40);
    expect(requests.paths).toContain(`/rooms/${roomId}/state`);
    expect(socket.largest()).toBeGreaterThan(2000);
  });

  it('asks for nothing over HTTP when opened with connect: false, and seeds once connect() is called', async () => {
    const { user, roomId } = await busyRoom(10);
    const requests = recordingFetch();
    const device = makeClient(t.url, { fetch: requests.fetch });
    open.push(device);
    await device.login(user.username, 'correct horse battery');
    const cal = await device.openCalendar(roomId, { connect: false });
    expect(cal.status).toBe('offline');
    expect(requests.paths.some((p) => p.endsWith('/state'))).toBe(false);
    cal.connect();
    expect(cal.status).toBe('connecting');
    await cal.whenSynced(10_000);
    expect(cal.listEvents()).toHaveLength(10);
    expect(requests.paths.filter((p) => p.endsWith('/state'))).toHaveLength(1);
  });
});
