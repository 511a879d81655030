/**
 * Hardening (issue 11, finding 4): sockets that never read, and floods of sockets.
 * A `/live` socket that stops reading is closed once its unsent data passes a cut-off, so a busy
 * room cannot pile up memory behind it; sockets per user and per client address are capped for
 * `/sync` and `/live` together, refused with 429 TOO_MANY_SOCKETS, and counted back when they close.
 */
import http from 'node:http';
import type { Socket } from 'node:net';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEvent, updateEvent } from '@kith/model';
import { apiClient } from './helpers/api.js';
import { sleep } from './helpers/http-assert.js';
import { watchPressure } from './helpers/pressure.js';
import { RawClient } from './helpers/raw-client.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { connectProvider, nextClose, rawSocket, waitFor, waitForSynced } from './helpers/yjs-clients.js';

type User = Awaited<ReturnType<ReturnType<typeof apiClient>['signUp']>>;

const liveUrl = (t: TestServer) => t.url.replace(/^http/, 'ws') + '/live';

/** A `/live` JSON client: keeps every message it reads but event updates, which it counts. */
class LiveClient {
  readonly messages: any[] = [];
  /** update_event messages whose description is 8,000 characters long. */
  bigUpdates = 0;
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(readonly ws: WebSocket) {
    this.closed = nextClose(ws, 600_000);
    ws.on('message', (data) => {
      const m = JSON.parse(data.toString());
      if (m.type !== 'update_event') this.messages.push(m);
      else if (m.event?.description?.length === 8000) this.bigUpdates++;
    });
  }

  static async connect(url: string, headers: Record<string, string> = {}): Promise<LiveClient> {
    return new LiveClient(await rawSocket(url, headers));
  }

  async join(roomId: string, token: string): Promise<any> {
    this.ws.send(JSON.stringify({ type: 'join_room', roomId, token, requestId: 'join' }));
    await waitFor(() => this.messages.some((m) => m.requestId === 'join' || m.type === 'error'), 5000, 'join answer');
    return this.messages.find((m) => m.requestId === 'join' || m.type === 'error');
  }

  /** Stops reading the TCP socket: the server's writes pile up behind it. */
  stopReading(): void {
    (this.ws as unknown as { _socket: Socket })._socket.pause();
  }

  resumeReading(): void {
    (this.ws as unknown as { _socket: Socket })._socket.resume();
  }
}

/** An upgrade that is refused answers with an HTTP status and the catalogue's JSON body. */
async function refusal(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  try {
    const ws = await rawSocket(url, headers);
    ws.close();
    return { status: 101, body: undefined };
  } catch (err) {
    const e = err as { status?: number; body?: string };
    return { status: e.status ?? 0, body: e.body ? JSON.parse(e.body) : undefined };
  }
}

const rss = () => Math.round(process.memoryUsage.rss() / (1024 * 1024));

describe('/live sockets that never read', () => {
  let t: TestServer;
  let api: ReturnType<typeof apiClient>;
  beforeAll(async () => {
    t = await startTestServer({ limits: { updatesPerSecond: 10_000, updatesBurst: 10_000 } });
    api = apiClient(t.url);
  });
  afterAll(async () => {
    await t.close();
  });

  it('are closed once their unsent data passes the cut-off while the room is busy; memory stays bounded and another room keeps syncing', async () => {
    const owner = await api.signUp('owner');
    const busyRoom = await api.createRoom(owner.token, 'busy');
    const quietRoom = await api.createRoom(owner.token, 'quiet');

    // The busy room: a Yjs client rewrites the descriptions of 25 events, 8 KB each, round after round.
    const writer = await RawClient.connect(`${t.wsUrl}/${busyRoom}?token=${owner.token}`);
    await writer.waitSynced();
    const ids: string[] = [];
    writer.doc.transact(() => {
      for (let i = 0; i < 25; i++) {
        ids.push(createEvent(writer.doc, { title: `e${i}`, start: '2026-12-01T10:00', end: '2026-12-01T11:00', tz: 'Europe/Berlin' }, { actor: owner.userId }));
      }
    });

    // A reader that keeps up, and 20 that stop reading.
    const reader = await LiveClient.connect(liveUrl(t));
    expect((await reader.join(busyRoom, owner.token)).type).toBe('joined');
    const slow = await Promise.all(Array.from({ length: 20 }, () => LiveClient.connect(liveUrl(t))));
    for (const s of slow) expect((await s.join(busyRoom, owner.token)).type).toBe('joined');
    for (const s of slow) s.stopReading();

    // Another room, meanwhile: two stock clients; each edit's latency is measured.
    const a = connectProvider(t.wsUrl, quietRoom, owner.token);
    const b = connectProvider(t.wsUrl, quietRoom, owner.token);
    await Promise.all([waitForSynced(a.provider), waitForSynced(b.provider)]);
    const latencies: number[] = [];
    let attacking = true;
    const quiet = (async () => {
      for (let n = 0; attacking; n++) {
        const sent = performance.now();
        a.doc.getMap('m').set('n', n);
        await waitFor(() => b.doc.getMap('m').get('n') === n, 10_000, 'edit in the other room');
        latencies.push(performance.now() - sent);
        await sleep(100);
      }
    })();

    const rssBefore = rss();
    const pressure = watchPressure('slow /live readers (20 sockets, 25 × 8 KB events per round)');
    const ROUNDS = 120;
    for (let round = 0; round < ROUNDS; round++) {
      const text = String(round % 10).repeat(8000);
      writer.doc.transact(() => {
        for (const id of ids) updateEvent(writer.doc, id, { description: text }, { actor: owner.userId });
      });
      // Paced by the reader that keeps up: it is never more than a round behind.
      const want = 25 * (round + 1);
      await waitFor(() => reader.bigUpdates >= want, 20_000, `round ${round} delivered`);
    }
    const report = pressure.stop();
    attacking = false;
    await quiet;
    const growth = report.peakRssMb - rssBefore;
    console.log(
      `slow /live readers: ${ROUNDS} rounds × 25 events × 8 KB to 20 sockets that never read (≈${Math.round((ROUNDS * 25 * 8) / 1024)} MB each); ` +
        `peak RSS ${report.peakRssMb} MB (+${growth} MB), worst stall ${report.worstStallMs} ms; ` +
        `other room: ${latencies.length} edits, worst ${Math.round(Math.max(...latencies))} ms`,
    );
    // Unbounded, the 20 sockets would hold ≈470 MB between them; cut off at 1 MB each, tens.
    expect(growth).toBeLessThan(250);
    expect(report.worstStallMs).toBeLessThan(2000);
    expect(Math.max(...latencies)).toBeLessThan(3000);

    // Every slow socket was closed by the server; the reader that kept up was not.
    for (const s of slow) s.resumeReading();
    for (const closed of await Promise.all(slow.map((s) => Promise.race([s.closed, sleep(15_000).then(() => ({ code: 0, reason: 'still open' }))])))) {
      expect([4429, 1006]).toContain(closed.code);
    }
    expect(reader.ws.readyState).toBe(WebSocket.OPEN);

    reader.ws.close();
    writer.close();
    a.provider.destroy();
    b.provider.destroy();
    await waitFor(() => t.server.sync.quota.size.addresses === 0, 10_000, 'every socket slot given back');
  }, 180_000);
});

describe('sockets per user and per address', () => {
  let t: TestServer;
  let api: ReturnType<typeof apiClient>;
  beforeAll(async () => {
    // Default caps (50 per user, 200 per address), except where a test says otherwise.
    t = await startTestServer({ sync: { unloadGraceMs: 0 } });
    api = apiClient(t.url);
  });
  afterAll(async () => {
    await t.close();
  });

  it('one user opening 600 sync sockets gets 50; the rest are refused with 429 TOO_MANY_SOCKETS, /live too; another user still connects', async () => {
    const mallory = await api.signUp('mallory');
    const roomId = await api.createRoom(mallory.token);
    const url = `${t.wsUrl}/${roomId}?token=${mallory.token}`;

    const pressure = watchPressure('socket flood: 600 /sync upgrades from one user');
    const rssBefore = rss();
    const open: WebSocket[] = [];
    const refused: { status: number; body: any }[] = [];
    for (let i = 0; i < 600; i += 100) {
      await Promise.all(
        Array.from({ length: 100 }, async () => {
          try {
            open.push(await rawSocket(url));
          } catch (err) {
            const e = err as { status?: number; body?: string };
            refused.push({ status: e.status ?? 0, body: e.body ? JSON.parse(e.body) : undefined });
          }
        }),
      );
    }
    const report = pressure.stop();
    console.log(
      `socket flood per user: 600 upgrades → ${open.length} open, ${refused.length} refused; peak RSS ${report.peakRssMb} MB (+${report.peakRssMb - rssBefore} MB), worst stall ${report.worstStallMs} ms`,
    );
    expect(open.length).toBe(50);
    expect(refused.length).toBe(550);
    for (const r of refused) {
      expect(r.status).toBe(429);
      expect(r.body.error.code).toBe('TOO_MANY_SOCKETS');
    }
    expect(t.server.sync.quota.userCount(mallory.userId)).toBe(50);
    expect(report.worstStallMs).toBeLessThan(2000);

    // The cap covers /live as well: joining over it is refused and the socket closed with 4429.
    const live = await LiveClient.connect(liveUrl(t));
    const answer = await live.join(roomId, mallory.token);
    expect(answer).toMatchObject({ type: 'error', code: 'TOO_MANY_SOCKETS' });
    expect(await live.closed).toEqual({ code: 4429, reason: 'TOO_MANY_SOCKETS' });

    // Someone else is not affected.
    const alice = await api.signUp('alice');
    const aliceRoom = await api.createRoom(alice.token);
    const aliceSocket = await RawClient.connect(`${t.wsUrl}/${aliceRoom}?token=${alice.token}`);
    await aliceSocket.waitSynced();

    // Closing a socket gives its slot back.
    const one = open.pop()!;
    one.close();
    await nextClose(one);
    await waitFor(() => t.server.sync.quota.userCount(mallory.userId) === 49, 5000, 'slot given back');
    const again = await rawSocket(url);
    expect(t.server.sync.quota.userCount(mallory.userId)).toBe(50);

    for (const ws of [...open, again]) ws.close();
    aliceSocket.close();
    await waitFor(() => t.server.sync.quota.size.users === 0 && t.server.sync.quota.size.addresses === 0, 10_000, 'all slots back');
  }, 120_000);

  it('counts are given back whatever way a socket ends: refused, bad handshake, closed by either side, /live or /sync', async () => {
    const bob = await api.signUp('bob');
    const roomId = await api.createRoom(bob.token);
    const url = `${t.wsUrl}/${roomId}?token=${bob.token}`;
    const before = { ...t.server.sync.quota.size };
    expect(before).toEqual({ users: 0, addresses: 0 });

    for (let round = 0; round < 20; round++) {
      // A sync socket closed by the client; one closed by the server (malformed frame).
      const c = await RawClient.connect(url);
      await c.waitSynced();
      const bad = await rawSocket(url);
      const badClosed = nextClose(bad);
      bad.send('text is not the protocol');
      expect((await badClosed).code).toBe(4400);
      c.close();
      await c.closed;
      // A live socket that joined, and one that never did.
      const live = await LiveClient.connect(liveUrl(t));
      await live.join(roomId, bob.token);
      const idle = await LiveClient.connect(liveUrl(t));
      live.ws.close();
      idle.ws.terminate();
      await Promise.all([live.closed, idle.closed]);
      // A refused upgrade (not a member) and a handshake ws itself rejects (no Sec-WebSocket-Key).
      const eve = await api.signUp('eve');
      expect((await refusal(`${t.wsUrl}/${roomId}?token=${eve.token}`)).status).toBe(403);
      expect(await badHandshake(`${t.url}/sync/${roomId}?token=${bob.token}`)).toBe(400);
      expect(await badHandshake(`${t.url}/live`)).toBe(400);
    }
    await waitFor(
      () => t.server.sync.quota.size.users === 0 && t.server.sync.quota.size.addresses === 0,
      10_000,
      'every slot given back',
    );
    // The rejected handshakes left no hold on the room either: it unloads.
    await waitFor(() => t.server.sync.registry.rooms.size === 0, 10_000, 'room unloaded');
  }, 120_000);
});

/** An upgrade request without Sec-WebSocket-Key: ws answers 400 itself. */
function badHandshake(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13' } });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('upgrade', () => reject(new Error('upgraded')));
    req.on('error', reject);
    req.end();
  });
}

describe('sockets per address behind a gateway', () => {
  let trusting: TestServer;
  let direct: TestServer;
  beforeAll(async () => {
    trusting = await startTestServer({ trustProxy: 'loopback', limits: { socketsPerIp: 12, socketsPerUser: 1000 } });
    direct = await startTestServer({ limits: { socketsPerIp: 12, socketsPerUser: 1000 } });
  });
  afterAll(async () => {
    await trusting.close();
    await direct.close();
  });

  async function flood(t: TestServer, forwardedFor: (i: number) => string) {
    const api = apiClient(t.url);
    const users: User[] = [];
    for (let i = 0; i < 3; i++) users.push(await api.signUp('member'));
    const roomId = await api.createRoom(users[0]!.token);
    for (const u of users.slice(1)) await api.addMember(users[0]!.token, roomId, u.token);
    const open: WebSocket[] = [];
    const statuses: number[] = [];
    // Three users from one household, 30 sockets in all, half /sync and half /live.
    for (let i = 0; i < 30; i++) {
      const u = users[i % 3]!;
      const headers = { 'x-forwarded-for': forwardedFor(i) };
      const url = i % 2 === 0 ? `${t.wsUrl}/${roomId}?token=${u.token}` : liveUrl(t);
      const r = await rawSocket(url, headers).then(
        (ws) => (open.push(ws), 101),
        (err: { status?: number; body?: string }) => {
          expect(JSON.parse(err.body!).error.code).toBe('TOO_MANY_SOCKETS');
          return err.status ?? 0;
        },
      );
      statuses.push(r);
    }
    return { open, statuses, roomId, users };
  }

  it('with --trust-proxy each client address behind the gateway has its own cap', async () => {
    const pressure = watchPressure('socket flood per address (trust-proxy)');
    const { open, statuses } = await flood(trusting, () => '198.51.100.7');
    expect(statuses.filter((s) => s === 101)).toHaveLength(12);
    expect(statuses.filter((s) => s === 429)).toHaveLength(18);
    // Another household behind the same gateway still connects.
    const other = await flood(trusting, () => '198.51.100.8');
    expect(other.statuses.filter((s) => s === 101)).toHaveLength(12);
    const report = pressure.stop();
    console.log(`socket flood per address: 30 upgrades from one address → 12 open; peak RSS ${report.peakRssMb} MB, worst stall ${report.worstStallMs} ms`);
    expect(trusting.server.sync.quota.addressCount('198.51.100.7')).toBe(12);
    for (const ws of [...open, ...other.open]) ws.close();
    await waitFor(() => trusting.server.sync.quota.size.addresses === 0, 10_000, 'slots back');
  });

  it('without it, a forged X-Forwarded-For does not escape the cap', async () => {
    const { open, statuses } = await flood(direct, (i) => `203.0.113.${i}`);
    expect(statuses.filter((s) => s === 101)).toHaveLength(12);
    expect(direct.server.sync.quota.addressCount('127.0.0.1')).toBe(12);
    for (const ws of open) ws.close();
    await waitFor(() => direct.server.sync.quota.size.addresses === 0, 10_000, 'slots back');
  });
});

describe('/live keep-alive', () => {
  const PING_INTERVAL_MS = 400;
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ sync: { pingIntervalMs: PING_INTERVAL_MS } });
  });
  afterAll(async () => {
    await t.close();
  });

  it('pings /live sockets spread over the interval, and closes the ones that stop answering', async () => {
    const open = (autoPong: boolean) =>
      new Promise<WebSocket>((resolve, reject) => {
        const ws = new WebSocket(liveUrl(t), { autoPong });
        ws.once('open', () => resolve(ws));
        ws.once('error', reject);
      });
    const live = await Promise.all(Array.from({ length: 16 }, () => open(true)));
    const silent = await Promise.all(Array.from({ length: 4 }, () => open(false)));
    const pings = live.map(() => [] as number[]);
    live.forEach((ws, i) => ws.on('ping', () => pings[i]!.push(performance.now())));
    const silentClosed = silent.map((ws) => nextClose(ws, 8 * PING_INTERVAL_MS));
    for (const closed of await Promise.all(silentClosed)) expect(closed.code).toBe(1006);
    await waitFor(() => pings.every((p) => p.length >= 3), 10 * PING_INTERVAL_MS, 'three pings to every live socket');
    for (const ws of live) expect(ws.readyState).toBe(WebSocket.OPEN);
    for (const p of pings) for (let i = 1; i < p.length; i++) expect(p[i]! - p[i - 1]!).toBeGreaterThan(PING_INTERVAL_MS / 2);
    // Not all at the same moment: before, every /live socket was pinged in one tick.
    const firstPings = pings.map((p) => p[0]!);
    expect(Math.max(...firstPings) - Math.min(...firstPings)).toBeGreaterThan(PING_INTERVAL_MS / 4);
    for (const ws of live) ws.close();
  });
});
