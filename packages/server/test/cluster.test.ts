import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { calendarModule, defaultConfig, startKithServer, type KithServer } from '../src/index.js';
import { apiClient } from './helpers/api.js';
import { RedisProcess, freePort, redisServerAvailable, requireServices } from '@kith/test-support';
import { createTestSchema, probePostgres } from './helpers/postgres.js';
import { PROCESS_JWT_SECRET, killAllServers, makeTempDir, startServerProcess, type ServerProcess } from './helpers/process.js';
import { connectProvider, waitFor, waitForSynced } from './helpers/yjs-clients.js';

const pg = await probePostgres();
const haveRedis = redisServerAvailable();
const missing = [!pg.available && `PostgreSQL (${pg.reason})`, !haveRedis && 'redis-server'].filter(Boolean);
if (missing.length > 0) {
  const msg = `several-instance tests need ${missing.join(' and ')}: ${requireServices ? 'failing (KITH_REQUIRE_SERVICES=1)' : 'skipping'}`;
  if (requireServices) throw new Error(msg);
  console.warn(msg);
}

type Client = ReturnType<typeof connectProvider> & { instance: number };

const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

describe.skipIf(missing.length > 0)('several kith-server instances over PostgreSQL and Redis', () => {
  let redis: RedisProcess;
  let dropSchema: () => Promise<void>;
  let databaseUrl: string;
  let instances: ServerProcess[];
  let api: ReturnType<typeof apiClient>;
  let owner: Awaited<ReturnType<ReturnType<typeof apiClient>['signUp']>>;

  const startInstance = async () =>
    startServerProcess(['--port', '0', '--data-dir', await makeTempDir(), '--log-level', 'warn'], {
      env: {
        DATABASE_URL: databaseUrl,
        REDIS_URL: redis.url,
        KITH_JWT_SECRET: PROCESS_JWT_SECRET,
        KITH_UNLOAD_GRACE_MS: '60000',
        KITH_LOGIN_PER_MINUTE: '1000',
      },
      timeoutMs: 20_000,
    });

  const connect = (roomId: string, instance: number, doc?: Y.Doc): Client => ({
    ...connectProvider(instances[instance]!.wsUrl, roomId, owner.token, { doc }),
    instance,
  });

  beforeAll(async () => {
    if (!pg.available) return;
    redis = new RedisProcess(await freePort());
    await redis.start();
    const schema = await createTestSchema(pg.url);
    dropSchema = schema.drop;
    databaseUrl = `${pg.url}?options=${encodeURIComponent(`-c search_path=${schema.schema}`)}`;
    instances = [];
    for (let i = 0; i < 3; i++) instances.push(await startInstance());
    api = apiClient(instances[0]!.url);
    owner = await api.signUp('owner');
  }, 120_000);

  afterAll(async () => {
    await killAllServers();
    await redis?.kill();
    await dropSchema?.();
  });

  it('clients spread over three instances edit the same rooms and all converge; cross-instance delivery is prompt', async () => {
    const rooms = [await api.createRoom(owner.token, 'A'), await api.createRoom(owner.token, 'B')];
    const clients: Client[] = [];
    for (const roomId of rooms) for (let i = 0; i < 3; i++) clients.push(connect(roomId, i));
    await Promise.all(clients.map((c) => waitForSynced(c.provider, 10_000)));

    // Latency: a writer on instance 0, readers on 1 and 2, in room A.
    const [writer, r1, r2] = clients.slice(0, 3) as [Client, Client, Client];
    const samples: number[] = [];
    for (const reader of [r1, r2]) {
      reader.doc.getMap('lat').observe((e) => {
        for (const key of e.keysChanged) {
          const sent = reader.doc.getMap('lat').get(key) as number;
          samples.push(performance.timeOrigin + performance.now() - sent);
        }
      });
    }
    for (let i = 0; i < 100; i++) {
      writer.doc.getMap('lat').set(`k${i}`, performance.timeOrigin + performance.now());
      await new Promise((r) => setTimeout(r, 10));
    }
    await waitFor(() => samples.length === 200, 10_000, 'all latency samples');

    // Everyone edits everywhere.
    for (let round = 0; round < 20; round++) {
      for (const [i, c] of clients.entries()) c.doc.getArray('log').push([`c${i}-r${round}`]);
      await new Promise((r) => setTimeout(r, 5));
    }
    for (const roomId of rooms) {
      const inRoom = clients.filter((c) => c.provider.roomname === roomId);
      await waitFor(
        () => inRoom.every((c) => c.doc.getArray('log').length === 60),
        15_000,
        `room ${roomId} converged`,
      );
      const states = inRoom.map((c) => JSON.stringify(c.doc.getArray('log').toJSON()));
      expect(new Set(states).size).toBe(1);
    }
    console.log(
      `cluster: cross-instance delivery over ${samples.length} samples: p50 ${percentile(samples, 50).toFixed(1)} ms, p99 ${percentile(samples, 99).toFixed(1)} ms, max ${Math.max(...samples).toFixed(1)} ms`,
    );
    for (const c of clients) c.provider.destroy();
  }, 120_000);

  it('an instance killed with SIGKILL under load loses nothing any client had seen; its clients move to another', async () => {
    const roomId = await api.createRoom(owner.token, 'kill');
    const clients = [0, 1, 2, 2].map((i) => connect(roomId, i));
    await Promise.all(clients.map((c) => waitForSynced(c.provider, 10_000)));
    const seenByAnyone = new Set<string>();
    for (const c of clients) c.doc.getArray('log').observe(() => c.doc.getArray('log').forEach((v) => seenByAnyone.add(v as string)));

    let n = 0;
    let writing = true;
    const writers = clients.map(async (c, i) => {
      while (writing) {
        c.doc.getArray('log').push([`w${i}-${n++}`]);
        await new Promise((r) => setTimeout(r, 5));
      }
    });
    await new Promise((r) => setTimeout(r, 500));
    await instances[2]!.kill();
    // The load balancer sends the victims' reconnects to a live instance: same document, new socket.
    for (const [i, c] of clients.entries()) {
      if (c.instance !== 2) continue;
      c.provider.destroy();
      clients[i] = connect(roomId, 0, c.doc);
    }
    await new Promise((r) => setTimeout(r, 700));
    writing = false;
    await Promise.all(writers);

    // Converged means the same content everywhere: equal lengths alone can hold for an instant
    // while two last edits are still crossing each other on a loaded machine.
    const content = (c: Client) => JSON.stringify(c.doc.getArray('log').toJSON());
    await waitFor(
      () => clients.every((c) => content(c) === content(clients[0]!) && c.provider.synced),
      30_000,
      'survivors converged',
    );
    const finalLog = clients[0]!.doc.getArray('log').toArray() as string[];
    for (const v of seenByAnyone) expect(finalLog).toContain(v);
    expect(new Set(finalLog).size).toBe(finalLog.length);
    // And it is stored: a fresh client on another instance loads all of it.
    const fresh = connect(roomId, 1, new Y.Doc());
    await waitFor(() => fresh.doc.getArray('log').length === finalLog.length, 10_000, 'fresh load complete');
    console.log(`cluster: SIGKILL under load: ${finalLog.length} edits, ${seenByAnyone.size} seen before convergence, 0 lost`);
    for (const c of [...clients, fresh]) c.provider.destroy();
    instances[2] = await startInstance();
  }, 120_000);

  it('Redis restarted in the middle of a run: every client converges, nothing lost or duplicated', async () => {
    const roomId = await api.createRoom(owner.token, 'redis');
    const clients = [0, 1, 2].map((i) => connect(roomId, i));
    await Promise.all(clients.map((c) => waitForSynced(c.provider, 10_000)));
    let writing = true;
    let n = 0;
    const writers = clients.map(async (c, i) => {
      while (writing) {
        c.doc.getArray('log').push([`w${i}-${n++}`]);
        await new Promise((r) => setTimeout(r, 10));
      }
    });
    await new Promise((r) => setTimeout(r, 400));
    await redis.kill();
    await new Promise((r) => setTimeout(r, 1500)); // instances serve their own clients and poll the log
    await redis.start();
    await new Promise((r) => setTimeout(r, 600));
    writing = false;
    await Promise.all(writers);
    await waitFor(
      () => clients.every((c) => c.doc.getArray('log').length === n),
      30_000,
      `all clients hold all ${n} edits`,
    );
    for (const c of clients) {
      const log = c.doc.getArray('log').toArray() as string[];
      expect(new Set(log).size).toBe(n);
    }
    expect(new Set(clients.map((c) => JSON.stringify(c.doc.getArray('log').toJSON()))).size).toBe(1);
    console.log(`cluster: Redis restart mid-run: ${n} edits over 3 instances converged, none lost or duplicated`);
    for (const c of clients) c.provider.destroy();
  }, 120_000);

  it('two instances racing to compact one room: exactly one compacts, and the content is identical', async () => {
    const roomId = await api.createRoom(owner.token, 'compact');
    const writer = connect(roomId, 0);
    await waitForSynced(writer.provider);
    for (let i = 0; i < 50; i++) writer.doc.getMap('m').set(`k${i % 10}`, i);
    const expected = writer.doc.getMap('m').toJSON();
    // Two in-process instances on the same database and Redis, so the race can be started at once.
    const config = (dataDir: string) =>
      defaultConfig({
        port: 0,
        dataDir,
        logLevel: 'silent',
        jwtSecret: PROCESS_JWT_SECRET,
        databaseUrl,
        redisUrl: redis.url,
        sync: { compactAfterUpdates: 1_000_000 } as never,
      });
    const racers: KithServer[] = [
      await startKithServer(config(await makeTempDir()), { modules: [calendarModule()] }),
      await startKithServer(config(await makeTempDir()), { modules: [calendarModule()] }),
    ];
    try {
      // Race only once every edit is stored (the compaction reads what is on disk).
      const storedContent = async () => {
        const s = await racers[0]!.storage.docs.load(roomId);
        const d = new Y.Doc();
        Y.applyUpdate(d, Y.mergeUpdates([...(s.snapshot ? [s.snapshot] : []), ...s.updates.map((u) => u.data)]));
        return JSON.stringify(d.getMap('m').toJSON());
      };
      for (let i = 0; i < 200 && (await storedContent()) !== JSON.stringify(expected); i++) {
        await new Promise((r) => setTimeout(r, 25));
      }
      const outcomes = await Promise.all(racers.map((s) => s.sync.compactRoom(roomId)));
      expect(outcomes.filter((o) => o === 'compacted')).toHaveLength(1);
      expect(outcomes.filter((o) => o !== 'compacted')[0]).toMatch(/leased-elsewhere|nothing-to-do|lost-race/);
      const loaded = await racers[1]!.storage.docs.load(roomId);
      expect(loaded.snapshot).not.toBeNull();
      const doc = new Y.Doc();
      Y.applyUpdate(doc, Y.mergeUpdates([loaded.snapshot!, ...loaded.updates.map((u) => u.data)]));
      expect(doc.getMap('m').toJSON()).toEqual(expected);
      const fresh = connect(roomId, 1, new Y.Doc());
      await waitFor(() => JSON.stringify(fresh.doc.getMap('m').toJSON()) === JSON.stringify(expected), 10_000, 'fresh');
      fresh.provider.destroy();
    } finally {
      writer.provider.destroy();
      await Promise.all(racers.map((s) => s.close()));
    }
  }, 120_000);
});
