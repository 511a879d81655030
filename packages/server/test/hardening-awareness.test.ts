/**
 * Hardening (issue 11, finding 5): presence (y-protocols awareness) is bounded and cannot be
 * spoofed. A state over the size limit closes its socket (4413 PRESENCE_TOO_LARGE); a socket
 * introduces at most a few client ids and a room holds a bounded number; only the socket that
 * introduced a client id may change or remove it. Stock clients keep their presence, removals on
 * disconnect, the 30 s timeout and the fan-out between instances.
 */
import WebSocket from 'ws';
import * as encoding from 'lib0/encoding';
import * as decoding from 'lib0/decoding';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { protocol } from '../src/index.js';
import { apiClient } from './helpers/api.js';
import { sleep } from './helpers/http-assert.js';
import { RedisProcess, freePort, redisServerAvailable, requireServices } from '@kith/test-support';
import { createTestSchema, probePostgres } from './helpers/postgres.js';
import { watchPressure } from './helpers/pressure.js';
import { RawClient } from './helpers/raw-client.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { connectProvider, nextClose, rawSocket, waitFor, waitForAsync, waitForSynced } from './helpers/yjs-clients.js';

type User = Awaited<ReturnType<ReturnType<typeof apiClient>['signUp']>>;

/** An awareness message as a client sends it: entries of [client id, clock, state (null removes)]. */
function awarenessFrame(entries: [number, number, unknown][]): Uint8Array {
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, entries.length);
  for (const [client, clock, state] of entries) {
    encoding.writeVarUint(e, client);
    encoding.writeVarUint(e, clock);
    // A varString is its UTF-8 bytes with their length; encoded once per distinct state (fast).
    encoding.writeVarUint8Array(e, utf8(JSON.stringify(state)));
  }
  return protocol.encodeAwareness(encoding.toUint8Array(e));
}

const utf8Cache = new Map<string, Uint8Array>();
function utf8(s: string): Uint8Array {
  let bytes = utf8Cache.get(s);
  if (!bytes) {
    bytes = new TextEncoder().encode(s);
    if (s.length < 1000) utf8Cache.set(s, bytes);
  }
  return bytes;
}

/**
 * Joins like a fresh client and keeps every frame from the very first (the awareness snapshot
 * comes with the handshake), until the sync answer is in.
 */
async function joinAndCollect(url: string): Promise<{ ws: WebSocket; frames: Uint8Array[] }> {
  const ws = new WebSocket(url);
  const frames: Uint8Array[] = [];
  ws.on('message', (d: Buffer) => frames.push(new Uint8Array(d)));
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  ws.send(protocol.encodeSyncStep1(new Uint8Array([0])));
  await waitFor(() => frames.some((f) => f[0] === protocol.MESSAGE_SYNC && f[1] === protocol.SYNC_STEP2), 10_000, 'sync answer');
  return { ws, frames };
}

/** The awareness frames a client was sent, decoded: client id → state (null: removed). */
function awarenessSeen(frames: Uint8Array[]): { sizes: number[]; states: Map<number, unknown> } {
  const sizes: number[] = [];
  const states = new Map<number, unknown>();
  for (const f of frames) {
    if (f[0] !== protocol.MESSAGE_AWARENESS) continue;
    sizes.push(f.byteLength);
    const d = decoding.createDecoder(f);
    decoding.readVarUint(d);
    const u = decoding.createDecoder(decoding.readVarUint8Array(d));
    const n = decoding.readVarUint(u);
    for (let i = 0; i < n; i++) {
      const client = decoding.readVarUint(u);
      decoding.readVarUint(u);
      states.set(client, JSON.parse(decoding.readVarString(u)));
    }
  }
  return { sizes, states };
}

const rss = () => Math.round(process.memoryUsage.rss() / (1024 * 1024));

let t: TestServer;
let api: ReturnType<typeof apiClient>;
beforeAll(async () => {
  t = await startTestServer({ limits: { updatesPerSecond: 10_000, updatesBurst: 10_000, socketsPerUser: 1000 } });
  api = apiClient(t.url);
});
afterAll(async () => {
  await t.close();
});

/** A room with an owner whose stock client shows presence, and a viewer. */
async function roomWithViewer(): Promise<{ owner: User; viewer: User; roomId: string; ownerClient: ReturnType<typeof connectProvider> }> {
  const owner = await api.signUp('owner');
  const viewer = await api.signUp('viewer');
  const roomId = await api.createRoom(owner.token);
  await api.addMember(owner.token, roomId, viewer.token, 'viewer');
  const ownerClient = connectProvider(t.wsUrl, roomId, owner.token);
  await waitForSynced(ownerClient.provider);
  ownerClient.provider.awareness.setLocalState({ user: { name: 'owner' }, viewing: '2026-12-24' });
  return { owner, viewer, roomId, ownerClient };
}

const roomOf = (roomId: string) => t.server.sync.registry.rooms.get(roomId)!;

describe('presence that is too large', () => {
  it('a state over the size limit closes its socket with 4413 PRESENCE_TOO_LARGE; a later joiner is sent a small snapshot', async () => {
    const { viewer, roomId, ownerClient } = await roomWithViewer();
    const url = `${t.wsUrl}/${roomId}?token=${viewer.token}`;
    await waitFor(() => roomOf(roomId).awareness.getStates().size === 1, 5000, 'owner presence on the server');

    // Ten sockets each send one 3.9 MB state (the attack stored 25 of them: a 102 MB frame per joiner).
    const pressure = watchPressure('awareness: 10 states of 3.9 MB');
    const rssBefore = rss();
    const closes: { code: number; reason: string }[] = [];
    // The attackers stay connected (as they did in the attack) until a fresh client has joined.
    const attackers: WebSocket[] = [];
    for (let i = 0; i < 10; i++) {
      const ws = await rawSocket(url);
      attackers.push(ws);
      const closed = nextClose(ws, 20_000);
      ws.send(awarenessFrame([[1_000_000 + i, 1, { user: { name: 'x'.repeat(3_900_000) } }]]));
      closes.push(await Promise.race([closed, sleep(3000).then(() => ({ code: 0, reason: 'still open' }))]));
    }
    const joiner = await joinAndCollect(url);
    await sleep(200);
    for (const ws of attackers) ws.terminate();
    const report = pressure.stop();
    const seen = awarenessSeen(joiner.frames);
    console.log(
      `oversized presence: 10 × 3.9 MB → closes ${JSON.stringify([...new Set(closes.map((c) => `${c.code} ${c.reason}`))])}; ` +
        `joiner's largest awareness frame ${Math.max(0, ...seen.sizes)} bytes; peak RSS ${report.peakRssMb} MB (+${report.peakRssMb - rssBefore} MB), worst stall ${report.worstStallMs} ms`,
    );
    for (const c of closes) expect(c).toEqual({ code: 4413, reason: 'PRESENCE_TOO_LARGE' });
    expect(roomOf(roomId).awareness.getStates().size).toBe(1);
    expect(Math.max(0, ...seen.sizes)).toBeLessThan(4096);
    expect(seen.states.get(ownerClient.provider.awareness.clientID)).toMatchObject({ user: { name: 'owner' } });
    expect(report.worstStallMs).toBeLessThan(2000);
    joiner.ws.close();
    ownerClient.provider.destroy();
  }, 120_000);
});

describe('presence client ids', () => {
  it('a socket introduces at most 4 client ids and a room holds at most 128; the rest are dropped and the socket stays open', async () => {
    const { viewer, roomId, ownerClient } = await roomWithViewer();
    const url = `${t.wsUrl}/${roomId}?token=${viewer.token}`;
    await waitFor(() => roomOf(roomId).awareness.getStates().size === 1, 5000, 'owner presence on the server');

    // Sustained: 10 sockets each send 20 frames of 500 fresh client ids with 200-byte states (a
    // frame of more than 4 × 128 entries is dropped whole: hardening-sync-frames).
    const pressure = watchPressure('awareness: 10 sockets × 20 frames × 500 client ids');
    const rssBefore = rss();
    const sockets: WebSocket[] = [];
    let next = 2_000_000;
    for (let s = 0; s < 10; s++) {
      const ws = await rawSocket(url);
      sockets.push(ws);
      for (let f = 0; f < 20; f++) {
        const entries: [number, number, unknown][] = [];
        for (let i = 0; i < 500; i++) entries.push([next++, 1, { user: { name: 'y'.repeat(200) } }]);
        ws.send(awarenessFrame(entries));
      }
    }
    // Processed: a query-awareness probe on each socket is answered after its frames.
    for (const ws of sockets) {
      const answered = new Promise<void>((resolve) => ws.on('message', (d: Buffer) => d[0] === protocol.MESSAGE_AWARENESS && resolve()));
      ws.send(protocol.encodeQueryAwareness());
      await answered;
    }
    const joiner = await joinAndCollect(url);
    await sleep(200);
    const report = pressure.stop();
    const states = roomOf(roomId).awareness.getStates().size;
    const seen = awarenessSeen(joiner.frames);
    console.log(
      `many presence ids: 100,000 sent → ${states} held; joiner's largest awareness frame ${Math.max(0, ...seen.sizes)} bytes; ` +
        `peak RSS ${report.peakRssMb} MB (+${report.peakRssMb - rssBefore} MB), worst stall ${report.worstStallMs} ms`,
    );
    // 10 sockets × 4 ids, plus the owner's.
    expect(states).toBe(41);
    for (const ws of sockets) expect(ws.readyState).toBe(WebSocket.OPEN);
    expect(Math.max(0, ...seen.sizes)).toBeLessThan(64 * 1024);
    expect(report.worstStallMs).toBeLessThan(2000);

    // Over 128 in the room, new ids are dropped too: 40 more sockets would bring 160.
    const more: WebSocket[] = [];
    for (let s = 0; s < 40; s++) {
      const ws = await rawSocket(url);
      more.push(ws);
      ws.send(awarenessFrame([1, 2, 3, 4].map((i) => [next++, 1, { n: i }])));
    }
    await waitFor(() => roomOf(roomId).awareness.getStates().size === 128, 5000, 'room presence at its cap');
    await sleep(200);
    expect(roomOf(roomId).awareness.getStates().size).toBe(128);

    // Closing sockets frees their ids (and their clocks): the room is back to the owner alone.
    for (const ws of [...sockets, ...more]) ws.close();
    await waitFor(() => roomOf(roomId).awareness.getStates().size === 1, 5000, 'presence removed on close');
    expect(roomOf(roomId).presence.size).toBe(1);
    joiner.ws.close();
    ownerClient.provider.destroy();
  }, 120_000);
});

describe('presence spoofing', () => {
  it("a viewer cannot change or remove the owner's presence; its own presence works", async () => {
    const { viewer, roomId, ownerClient } = await roomWithViewer();
    const ownerId = ownerClient.provider.awareness.clientID;
    const observer = connectProvider(t.wsUrl, roomId, viewer.token);
    await waitFor(() => (observer.provider.awareness.getStates().get(ownerId) as any)?.user?.name === 'owner', 5000, 'owner presence seen');

    const mallory = await RawClient.connect(`${t.wsUrl}/${roomId}?token=${viewer.token}`);
    await mallory.waitSynced();
    const clock = roomOf(roomId).awareness.meta.get(ownerId)!.clock;
    mallory.send(awarenessFrame([[ownerId, clock + 10, { user: { name: 'mallory' } }]]));
    mallory.send(awarenessFrame([[ownerId, clock + 20, null]]));
    // Its own id is fine, in the same frame as another spoof.
    mallory.send(awarenessFrame([[ownerId, clock + 30, { user: { name: 'mallory' } }], [mallory.doc.clientID, 1, { user: { name: 'viewer' } }]]));
    await waitFor(() => (observer.provider.awareness.getStates().get(mallory.doc.clientID) as any)?.user?.name === 'viewer', 5000, 'viewer presence seen');
    await sleep(200);

    expect(observer.provider.awareness.getStates().get(ownerId)).toMatchObject({ user: { name: 'owner' } });
    expect(roomOf(roomId).awareness.getStates().get(ownerId)).toMatchObject({ user: { name: 'owner' } });
    expect(roomOf(roomId).awareness.meta.get(ownerId)!.clock).toBe(clock);
    expect(mallory.ws.readyState).toBe(WebSocket.OPEN);

    // The owner's own updates still go through.
    ownerClient.provider.awareness.setLocalStateField('viewing', '2026-12-31');
    await waitFor(() => (observer.provider.awareness.getStates().get(ownerId) as any)?.viewing === '2026-12-31', 5000, 'owner update seen');
    mallory.close();
    observer.provider.destroy();
    ownerClient.provider.destroy();
  });

  it('a member cannot appear as another member: a state naming another user id or name is dropped, their own goes through', async () => {
    const { owner, viewer, roomId, ownerClient } = await roomWithViewer();
    const observer = connectProvider(t.wsUrl, roomId, owner.token);
    await waitForSynced(observer.provider);
    const rejected = async () => Number(/kith_updates_rejected_total\{reason="presence-not-self"\} (\d+)/.exec(await (await fetch(`${t.url}/metrics`)).text())?.[1] ?? 0);
    const before = await rejected();

    const mallory = await RawClient.connect(`${t.wsUrl}/${roomId}?token=${viewer.token}`);
    await mallory.waitSynced();
    const id = mallory.doc.clientID;
    // The owner's identity (what Kith's client shows as online), then the viewer's id with the owner's name.
    mallory.send(awarenessFrame([[id, 1, { user: { userId: owner.userId, username: owner.username }, viewing: '2026-12-24' }]]));
    mallory.send(awarenessFrame([[id, 2, { user: { userId: viewer.userId, username: owner.username } }]]));
    mallory.send(awarenessFrame([[id, 3, { user: { userId: 42 } }]]));
    await waitForAsync(async () => (await rejected()) - before === 3, 5000, 'three states dropped');
    expect(roomOf(roomId).awareness.getStates().has(id)).toBe(false);
    expect(observer.provider.awareness.getStates().has(id)).toBe(false);
    expect(mallory.ws.readyState).toBe(WebSocket.OPEN);

    // Its own identity, and a stock client's free-form user name, go through.
    mallory.send(awarenessFrame([[id, 4, { user: { userId: viewer.userId, username: viewer.username, name: 'Granny', color: '#f00' } }]]));
    await waitFor(() => (observer.provider.awareness.getStates().get(id) as any)?.user?.username === viewer.username, 5000, 'own presence seen');
    expect(await rejected()).toBe(before + 3);
    mallory.close();
    observer.provider.destroy();
    ownerClient.provider.destroy();
  });

  it("a user's newer socket takes over that user's client id (a reconnect before the old socket is found dead); the old socket's close no longer removes it", async () => {
    const { owner, roomId, ownerClient } = await roomWithViewer();
    const url = `${t.wsUrl}/${roomId}?token=${owner.token}`;
    const old = await RawClient.connect(url);
    await old.waitSynced();
    const id = 4_242_424;
    old.send(awarenessFrame([[id, 1, { user: { name: 'tablet' } }]]));
    await waitFor(() => roomOf(roomId).awareness.getStates().has(id), 5000, 'presence from the old socket');
    const fresh = await RawClient.connect(url);
    await fresh.waitSynced();
    fresh.send(awarenessFrame([[id, 2, { user: { name: 'tablet, again' } }]]));
    await waitFor(() => (roomOf(roomId).awareness.getStates().get(id) as any)?.user?.name === 'tablet, again', 5000, 'taken over');
    old.close();
    await old.closed;
    await sleep(200);
    expect(roomOf(roomId).awareness.getStates().get(id)).toMatchObject({ user: { name: 'tablet, again' } });
    fresh.close();
    await waitFor(() => !roomOf(roomId).awareness.getStates().has(id), 5000, 'removed with its socket');
    ownerClient.provider.destroy();
  });
});

describe('presence as y-protocols has it', () => {
  it('stock clients see each other, and a closed client disappears for the others', async () => {
    const { viewer, roomId, ownerClient } = await roomWithViewer();
    const ownerId = ownerClient.provider.awareness.clientID;
    const v = connectProvider(t.wsUrl, roomId, viewer.token);
    await waitForSynced(v.provider);
    v.provider.awareness.setLocalStateField('user', { name: 'viewer' });
    const vId = v.provider.awareness.clientID;
    await waitFor(() => (ownerClient.provider.awareness.getStates().get(vId) as any)?.user?.name === 'viewer', 5000, 'owner sees viewer');
    await waitFor(() => (v.provider.awareness.getStates().get(ownerId) as any)?.user?.name === 'owner', 5000, 'viewer sees owner');
    v.provider.destroy();
    await waitFor(() => !ownerClient.provider.awareness.getStates().has(vId), 5000, 'viewer gone for the owner');
    expect(roomOf(roomId).awareness.getStates().has(vId)).toBe(false);
    ownerClient.provider.destroy();
  });

  it('a state not renewed for 30 s is removed (the y-protocols timeout), while its socket stays open', async () => {
    const { viewer, roomId, ownerClient } = await roomWithViewer();
    const quiet = await RawClient.connect(`${t.wsUrl}/${roomId}?token=${viewer.token}`);
    await quiet.waitSynced();
    const id = 5_151_515;
    quiet.send(awarenessFrame([[id, 1, { user: { name: 'quiet' } }]]));
    await waitFor(() => ownerClient.provider.awareness.getStates().has(id), 5000, 'quiet presence seen');
    const seenAt = Date.now();
    // The owner's stock client renews its own state every 15 s; the quiet one never does.
    await waitFor(() => !roomOf(roomId).awareness.getStates().has(id), 40_000, 'outdated presence removed');
    expect(Date.now() - seenAt).toBeGreaterThan(25_000);
    await waitFor(() => !ownerClient.provider.awareness.getStates().has(id), 5000, 'removal reaches the owner');
    expect(roomOf(roomId).awareness.getStates().has(ownerClient.provider.awareness.clientID)).toBe(true);
    expect(quiet.ws.readyState).toBe(WebSocket.OPEN);
    // Still its id: renewing it brings it back.
    quiet.send(awarenessFrame([[id, 2, { user: { name: 'quiet, back' } }]]));
    await waitFor(() => (roomOf(roomId).awareness.getStates().get(id) as any)?.user?.name === 'quiet, back', 5000, 'renewed');
    quiet.close();
    ownerClient.provider.destroy();
  }, 60_000);
});

const pg = await probePostgres();
const haveRedis = redisServerAvailable();
const missing = [!pg.available && `PostgreSQL (${pg.reason})`, !haveRedis && 'redis-server'].filter(Boolean);
if (missing.length > 0) {
  const msg = `presence across instances needs ${missing.join(' and ')}: ${requireServices ? 'failing (KITH_REQUIRE_SERVICES=1)' : 'skipping'}`;
  if (requireServices) throw new Error(msg);
  console.warn(msg);
}

describe.skipIf(missing.length > 0)('presence across two instances (PostgreSQL and Redis)', () => {
  let redis: RedisProcess;
  let dropSchema: () => Promise<void>;
  let instances: TestServer[];
  beforeAll(async () => {
    if (!pg.available) return;
    redis = new RedisProcess(await freePort());
    await redis.start();
    const schema = await createTestSchema(pg.url);
    dropSchema = schema.drop;
    const databaseUrl = `${pg.url}?options=${encodeURIComponent(`-c search_path=${schema.schema}`)}`;
    instances = [];
    for (let i = 0; i < 2; i++) instances.push(await startTestServer({ databaseUrl, redisUrl: redis.url }));
  }, 60_000);
  afterAll(async () => {
    for (const i of instances ?? []) await i.close();
    await redis?.kill();
    await dropSchema?.();
  });

  it("travels between instances; a viewer on the other instance cannot spoof the owner's; removal on close travels too", async () => {
    const a = apiClient(instances[0]!.url);
    const owner = await a.signUp('owner');
    const viewer = await a.signUp('viewer');
    const roomId = await a.createRoom(owner.token);
    await a.addMember(owner.token, roomId, viewer.token, 'viewer');
    const o = connectProvider(instances[0]!.wsUrl, roomId, owner.token);
    const v = connectProvider(instances[1]!.wsUrl, roomId, viewer.token);
    await Promise.all([waitForSynced(o.provider), waitForSynced(v.provider)]);
    o.provider.awareness.setLocalStateField('user', { name: 'owner' });
    v.provider.awareness.setLocalStateField('user', { name: 'viewer' });
    const ownerId = o.provider.awareness.clientID;
    const viewerId = v.provider.awareness.clientID;
    await waitFor(() => (v.provider.awareness.getStates().get(ownerId) as any)?.user?.name === 'owner', 10_000, 'owner seen on instance 1');
    await waitFor(() => (o.provider.awareness.getStates().get(viewerId) as any)?.user?.name === 'viewer', 10_000, 'viewer seen on instance 0');

    const mallory = await RawClient.connect(`${instances[1]!.wsUrl}/${roomId}?token=${viewer.token}`);
    await mallory.waitSynced();
    mallory.send(awarenessFrame([[ownerId, 1000, { user: { name: 'mallory' } }]]));
    await sleep(500);
    expect(o.provider.awareness.getStates().get(ownerId)).toMatchObject({ user: { name: 'owner' } });
    expect(v.provider.awareness.getStates().get(ownerId)).toMatchObject({ user: { name: 'owner' } });

    v.provider.destroy();
    await waitFor(() => !o.provider.awareness.getStates().has(viewerId), 10_000, 'viewer removal reaches instance 0');
    mallory.close();
    o.provider.destroy();
  }, 60_000);
});
