import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { calendarModule, defaultConfig, openSqliteStorage, protocol, sqliteFileIn, startKithServer, type Storage } from '../src/index.js';
import { apiClient } from './helpers/api.js';
import { RawClient } from './helpers/raw-client.js';
import { TEST_JWT_SECRET, makeDataDir, startTestServer, type TestServer } from './helpers/server.js';
import { readStoredDoc, storedRowCounts } from './helpers/stored-doc.js';
import { connectProvider, rawSocket, waitFor, waitForSynced } from './helpers/yjs-clients.js';

const servers: TestServer[] = [];
afterEach(async () => {
  while (servers.length) await servers.pop()!.close();
});
async function server(overrides: Parameters<typeof startTestServer>[0] = {}) {
  const s = await startTestServer(overrides);
  servers.push(s);
  return { s, api: apiClient(s.url) };
}

/**
 * Creating a room writes its document header (issue 13), which loads the room; tests that then
 * change its storage behind the server's back wait for it to be unloaded first.
 */
async function unloadedRoom(s: Awaited<ReturnType<typeof server>>['s'], api: Awaited<ReturnType<typeof server>>['api'], token: string): Promise<string> {
  const roomId = await api.createRoom(token);
  await waitFor(() => !s.server.sync.registry.rooms.has(roomId), 5000, 'room unloaded');
  return roomId;
}

describe('stored before seen', () => {
  it('an update is in the SQLite file by the time another client receives it', async () => {
    const { s, api } = await server({ sqliteSynchronous: 'full' });
    const alice = await api.signUp('alice');
    const roomId = await api.createRoom(alice.token);
    const writer = await RawClient.connect(`${s.wsUrl}/${roomId}?token=${alice.token}`);
    const reader = await RawClient.connect(`${s.wsUrl}/${roomId}?token=${alice.token}`);
    await Promise.all([writer.waitSynced(), reader.waitSynced()]);

    const seenOnDisk: boolean[] = [];
    reader.doc.getMap('m').observe((e) => {
      for (const key of e.keysChanged) {
        seenOnDisk.push(readStoredDoc(s.dataDir, roomId).getMap('m').get(key) === reader.doc.getMap('m').get(key));
      }
    });
    for (let i = 0; i < 30; i++) {
      writer.doc.getMap('m').set(`k${i}`, i);
      await new Promise((r) => setTimeout(r, 2));
    }
    await waitFor(() => seenOnDisk.length === 30, 5000, 'reader saw all 30');
    expect(seenOnDisk.every(Boolean)).toBe(true);
    writer.close();
    reader.close();
  });

  it('a durable acknowledgement arrives only once the edit is on disk', async () => {
    const { s, api } = await server();
    const alice = await api.signUp('alice');
    const roomId = await api.createRoom(alice.token);
    const c = await RawClient.connect(`${s.wsUrl}/${roomId}?token=${alice.token}`);
    await c.waitSynced();
    c.subscribeDurable();
    await waitFor(() => c.durable.has(c.doc.clientID), 5000, 'initial ack');
    expect(c.durable.get(c.doc.clientID)).toBe(0);

    c.doc.getMap('m').set('title', 'Dentist');
    expect(c.allSaved).toBe(false);
    await waitFor(() => c.allSaved, 5000, 'ack of the edit');
    expect(readStoredDoc(s.dataDir, roomId).getMap('m').get('title')).toBe('Dentist');
    c.close();
  });

  it('a reconnecting client learns that its earlier edits are stored, and stock clients never see the extension', async () => {
    const { s, api } = await server();
    const alice = await api.signUp('alice');
    const roomId = await api.createRoom(alice.token);
    const stock = connectProvider(s.wsUrl, roomId, alice.token);
    await waitForSynced(stock.provider);
    const first = await RawClient.connect(`${s.wsUrl}/${roomId}?token=${alice.token}`);
    await first.waitSynced();
    first.doc.getMap('m').set('a', 1);
    await waitFor(() => stock.doc.getMap('m').get('a') === 1, 5000, 'stock client got edit');
    first.close();

    // Same document state (as if reloaded from IndexedDB), new socket: ask what is stored.
    const second = await RawClient.connect(`${s.wsUrl}/${roomId}?token=${alice.token}`);
    Y.applyUpdate(second.doc, Y.encodeStateAsUpdate(first.doc));
    second.subscribeDurable();
    await waitFor(() => second.durable.has(first.doc.clientID), 5000, 'ack for the old client id');
    expect(second.durable.get(first.doc.clientID)).toBe(Y.getState(first.doc.store, first.doc.clientID));
    second.close();
    // The stock provider stayed connected and healthy throughout (unknown types would have been logged as errors).
    expect(stock.provider.wsconnected).toBe(true);
    stock.provider.destroy();
  });
});

describe('stored barrier (message 102)', () => {
  it('answers a barrier once everything sent before it is on disk, including a pure deletion', async () => {
    const { s, api } = await server();
    const alice = await api.signUp('alice');
    const roomId = await api.createRoom(alice.token);
    const c = await RawClient.connect(`${s.wsUrl}/${roomId}?token=${alice.token}`);
    await c.waitSynced();
    c.doc.getMap('m').set('gone', 'soon');
    c.send(protocol.encodeStoredBarrier(1));
    await waitFor(() => c.barriers.includes(1), 5000, 'barrier 1');
    // A deletion moves no clock: a state-vector ack cannot cover it, the barrier can.
    c.doc.getMap('m').delete('gone');
    c.send(protocol.encodeStoredBarrier(2));
    await waitFor(() => c.barriers.includes(2), 5000, 'barrier 2');
    expect(readStoredDoc(s.dataDir, roomId).getMap('m').has('gone')).toBe(false);
    expect(c.barriers).toEqual([1, 2]);
    c.close();
  });
});

describe('compaction', () => {
  it('folds the log into a snapshot in the background and keeps the content identical', async () => {
    const { s, api } = await server({ sync: { compactAfterUpdates: 25 } });
    const alice = await api.signUp('alice');
    const roomId = await api.createRoom(alice.token);
    const c = await RawClient.connect(`${s.wsUrl}/${roomId}?token=${alice.token}`);
    await c.waitSynced();
    const events = c.doc.getMap('events');
    for (let i = 0; i < 120; i++) {
      events.set(`e${i % 40}`, { title: `event ${i}`, n: i });
      if (i % 7 === 0) events.delete(`e${(i + 3) % 40}`);
      const notes = c.doc.getText('notes');
      notes.insert(notes.length, `line ${i}\n`);
      await new Promise((r) => setTimeout(r, 1));
    }
    c.subscribeDurable();
    await waitFor(() => c.allSaved, 5000, 'all stored');
    await waitFor(() => storedRowCounts(s.dataDir, roomId).snapshots === 1, 10_000, 'a snapshot');
    await waitFor(() => !s.server.sync.registry.rooms.get(roomId)?.compacting, 10_000, 'compaction done');
    expect(storedRowCounts(s.dataDir, roomId).log).toBeLessThan(120);

    const stored = readStoredDoc(s.dataDir, roomId);
    expect(stored.getMap('events').toJSON()).toEqual(events.toJSON());
    expect(stored.getText('notes').toString()).toBe(c.doc.getText('notes').toString());
    const fresh = await RawClient.connect(`${s.wsUrl}/${roomId}?token=${alice.token}`);
    await fresh.waitSynced();
    expect(fresh.doc.getMap('events').toJSON()).toEqual(events.toJSON());
    expect(Y.encodeStateVector(fresh.doc)).toEqual(Y.encodeStateVector(c.doc));
    const metrics = await s.server.metrics.registry.getSingleMetricAsString('kith_compactions_total');
    expect(metrics).toMatch(/kith_compactions_total\{outcome="done"\} [1-9]/);
    c.close();
    fresh.close();
  });

  it('a compaction that lost the race to another one changes nothing', async () => {
    const dataDir = await makeDataDir();
    const storage = openSqliteStorage({ file: sqliteFileIn(dataDir) });
    try {
      await storage.users.create({ userId: 'u1', username: 'ann', passwordHash: 'x', createdAt: 1 });
      await storage.rooms.create({ roomId: 'r1', name: 'R', createdBy: 'u1', createdAt: 1 });
      const doc = new Y.Doc();
      const updates: Uint8Array[] = [];
      doc.on('update', (u: Uint8Array) => updates.push(u));
      for (let i = 0; i < 10; i++) doc.getMap('m').set(`k${i}`, i);
      await storage.docs.append(updates.map((data) => ({ roomId: 'r1', data })));
      const stored = await storage.docs.load('r1');
      const last = stored.updates.at(-1)!.seq;
      const snapshot = Y.encodeStateAsUpdate(doc);
      expect(await storage.docs.compact('r1', snapshot, 0, last)).toBe(true);
      expect(await storage.docs.compact('r1', snapshot, 0, last)).toBe(false);
      const after = await storage.docs.load('r1');
      expect(after.updates).toHaveLength(0);
      expect(after.snapshotSeq).toBe(last);
    } finally {
      await storage.close();
    }
  });
});

describe('rooms served from their stored snapshot', () => {
  it('after a restart, fresh clients get the stored bytes without a document build; returning clients and writes build it', async () => {
    const first = await server({ sync: { compactAfterUpdates: 30 } });
    const alice = await first.api.signUp('alice');
    const roomId = await first.api.createRoom(alice.token);
    const writer = connectProvider(first.s.wsUrl, roomId, alice.token);
    await waitForSynced(writer.provider);
    const events = writer.doc.getMap('events');
    for (let i = 0; i < 80; i++) {
      events.set(`e${i % 25}`, { title: `event ${i}`, n: i });
      if (i % 9 === 0) events.delete(`e${(i + 4) % 25}`);
      await new Promise((r) => setTimeout(r, 1));
    }
    await waitFor(() => storedRowCounts(first.s.dataDir, roomId).snapshots === 1, 10_000, 'a snapshot');
    const room = () => first.s.server.sync.registry.rooms.get(roomId);
    await waitFor(() => !room()?.compacting && room()?.hasUnstoredWork === false, 10_000, 'compacted and stored');
    // A log tail after the snapshot: these reach fresh clients as updates before the snapshot.
    events.set('after-1', { title: 'after the snapshot' });
    writer.doc.getText('notes').insert(0, 'tail');
    events.delete('e3');
    await waitFor(() => room()?.hasUnstoredWork === false && storedRowCounts(first.s.dataDir, roomId).log > 0, 5000, 'tail stored');
    const expected = events.toJSON();
    // The returning device keeps an older copy: everything up to now minus what comes next.
    const returning = new Y.Doc();
    Y.applyUpdate(returning, Y.encodeStateAsUpdate(writer.doc));
    writer.provider.destroy();
    await first.s.close();
    servers.splice(servers.indexOf(first.s), 1);

    const { s } = await server({ dataDir: first.s.dataDir });
    const fresh = connectProvider(s.wsUrl, roomId, alice.token);
    await waitForSynced(fresh.provider);
    const loaded = s.server.sync.registry.rooms.get(roomId)!;
    expect(fresh.doc.getMap('events').toJSON()).toEqual(expected);
    expect(fresh.doc.getText('notes').toString()).toBe('tail');
    expect(loaded.documentBuilt).toBe(false);
    const raw = await RawClient.connect(`${s.wsUrl}/${roomId}?token=${alice.token}`);
    await raw.waitSynced();
    expect(raw.doc.getMap('events').toJSON()).toEqual(expected);
    expect(Y.encodeStateVector(raw.doc)).toEqual(Y.encodeStateVector(fresh.doc));
    expect(loaded.documentBuilt).toBe(false);

    // A client that holds part of the room needs a diff: the document is built for it.
    returning.getMap('events').set('offline', { title: 'made offline' });
    const back = connectProvider(s.wsUrl, roomId, alice.token, { doc: returning });
    await waitForSynced(back.provider);
    await waitFor(() => fresh.doc.getMap('events').has('offline'), 5000, 'offline edit reached the fresh client');
    expect(loaded.documentBuilt).toBe(true);
    fresh.doc.getMap('events').set('new', { title: 'written after the restart' });
    await waitFor(() => back.doc.getMap('events').has('new'), 5000, 'new edit reached the returning client');
    await waitFor(() => loaded.hasUnstoredWork === false, 5000, 'stored');
    const stored = readStoredDoc(s.dataDir, roomId).getMap('events').toJSON();
    expect(stored).toEqual({ ...expected, offline: { title: 'made offline' }, new: { title: 'written after the restart' } });
    expect(back.doc.getMap('events').toJSON()).toEqual(stored);
    fresh.provider.destroy();
    back.provider.destroy();
    raw.close();
  });

  it('a garbage log entry after a snapshot is refused at load (503), as without one', async () => {
    const { s, api } = await server({ sync: { unloadGraceMs: 50 } });
    const alice = await api.signUp('alice');
    const roomId = await unloadedRoom(s, api, alice.token);
    const doc = new Y.Doc();
    doc.getMap('m').set('k', 1);
    const docs = s.server.storage.docs;
    const [seq] = await docs.append([{ roomId, data: Y.encodeStateAsUpdate(doc) }]);
    expect(await docs.compact(roomId, Y.encodeStateAsUpdate(doc), 0, seq!, Y.encodeStateVector(doc))).toBe(true);
    await docs.append([{ roomId, data: new Uint8Array([0xff, 0xff, 0xff, 0x01, 0x02]) }]);
    const err = await rawSocket(`${s.wsUrl}/${roomId}?token=${alice.token}`).then(
      (ws) => (ws.close(), undefined),
      (e) => e as { status: number; body: string },
    );
    expect(err?.status).toBe(503);
    expect(s.server.sync.registry.rooms.size).toBe(0);
  });
});

describe('long logs', () => {
  it('a room whose log holds 20,000 updates loads, serves a fresh client and compacts with content intact', async () => {
    const { s, api } = await server({ sync: { compactAfterUpdates: 1_000_000, unloadGraceMs: 50 } });
    const alice = await api.signUp('alice');
    const roomId = await unloadedRoom(s, api, alice.token);
    const doc = new Y.Doc();
    const updates: Uint8Array[] = [];
    doc.on('update', (u: Uint8Array) => updates.push(u));
    const events = doc.getMap('events');
    for (let i = 0; i < 20_000; i++) events.set(`e${i % 2000}`, { title: `event ${i}`, n: i });
    for (let i = 0; i < updates.length; i += 1000) {
      await s.server.storage.docs.append(updates.slice(i, i + 1000).map((data) => ({ roomId, data })));
    }
    const started = performance.now();
    const c = await RawClient.connect(`${s.wsUrl}/${roomId}?token=${alice.token}`);
    await c.waitSynced();
    const loadedMs = performance.now() - started;
    expect(c.doc.getMap('events').toJSON()).toEqual(events.toJSON());
    expect(await s.server.sync.compactRoom(roomId)).toBe('compacted');
    expect(readStoredDoc(s.dataDir, roomId).getMap('events').toJSON()).toEqual(events.toJSON());
    console.log(`long log: 20,000 stored updates → fresh client synced in ${loadedMs.toFixed(0)} ms; compacted`);
    c.close();
  }, 60_000);
});

describe('loading and unloading rooms', () => {
  it('unloads a room with no connection after the grace period and loads it again intact', async () => {
    const { s, api } = await server({ sync: { unloadGraceMs: 50 } });
    const alice = await api.signUp('alice');
    const roomId = await api.createRoom(alice.token);
    const a = connectProvider(s.wsUrl, roomId, alice.token);
    await waitForSynced(a.provider);
    a.doc.getMap('events').set('e1', { title: 'Swim', start: '2026-11-22T09:00' });
    a.doc.getText('notes').insert(0, 'bring towels');
    await waitFor(() => s.server.sync.registry.rooms.get(roomId)?.hasUnstoredWork === false, 5000, 'stored');
    a.provider.destroy();
    await waitFor(() => s.server.sync.registry.rooms.size === 0, 5000, 'room unloaded');

    const b = connectProvider(s.wsUrl, roomId, alice.token);
    await waitForSynced(b.provider);
    await waitFor(() => b.doc.getText('notes').toString() === 'bring towels', 5000, 'content back');
    expect(b.doc.getMap('events').get('e1')).toEqual({ title: 'Swim', start: '2026-11-22T09:00' });
    b.provider.destroy();
  });

  it('a room only read from its stored bytes unloads as its last socket leaves; a built one waits out the grace', async () => {
    // A grace long enough that only the no-grace path can unload the room within the test.
    const { s, api } = await server({ sync: { unloadGraceMs: 60_000 } });
    const alice = await api.signUp('alice');
    const roomId = await api.createRoom(alice.token);
    const registry = s.server.sync.registry;
    // The room as a year-old calendar sits on disk: a log written elsewhere, nothing in memory.
    registry.unload(registry.rooms.get(roomId)!);
    const source = new Y.Doc();
    source.getMap('events').set('e1', { title: 'Swim', start: '2026-11-22T09:00' });
    await s.server.storage.docs.append([{ roomId, data: Y.encodeStateAsUpdate(source) }]);

    const reader = connectProvider(s.wsUrl, roomId, alice.token);
    await waitForSynced(reader.provider);
    expect(reader.doc.getMap('events').get('e1')).toEqual({ title: 'Swim', start: '2026-11-22T09:00' });
    expect(registry.rooms.get(roomId)?.documentBuilt).toBe(false);
    reader.provider.destroy();
    await waitFor(() => !registry.rooms.has(roomId), 5000, 'read-only room unloaded at once');

    // A client that writes builds the document: that room stays for the grace after it leaves.
    const writer = connectProvider(s.wsUrl, roomId, alice.token);
    await waitForSynced(writer.provider);
    writer.doc.getMap('events').set('e2', { title: 'Piano', start: '2026-11-23T17:00' });
    await waitFor(() => registry.rooms.get(roomId)?.documentBuilt === true && !registry.rooms.get(roomId)!.hasUnstoredWork, 5000, 'stored');
    writer.provider.destroy();
    await new Promise((r) => setTimeout(r, 300));
    expect(registry.rooms.has(roomId)).toBe(true);

    // Loaded again after the unload, the content is all there.
    registry.unload(registry.rooms.get(roomId)!);
    const again = connectProvider(s.wsUrl, roomId, alice.token);
    await waitForSynced(again.provider);
    expect(again.doc.getMap('events').toJSON()).toEqual({
      e1: { title: 'Swim', start: '2026-11-22T09:00' },
      e2: { title: 'Piano', start: '2026-11-23T17:00' },
    });
    again.provider.destroy();
  });

  it('refuses connections with 503 when the stored room cannot be loaded, and never overwrites it', async () => {
    const { s, api } = await server({ sync: { unloadGraceMs: 50 } });
    const alice = await api.signUp('alice');
    const roomId = await unloadedRoom(s, api, alice.token);
    // A snapshot that is not a Yjs update: the room cannot be loaded.
    const db = new BetterSqlite3(path.join(s.dataDir, 'kith.sqlite'));
    // The room's header, written at creation (issue 13): the refused loads must add nothing to it.
    const logBefore = db.prepare('SELECT count(*) FROM doc_updates WHERE room_id = ?').pluck().get(roomId);
    const garbage = Buffer.from([0xff, 0xff, 0xff, 0xff, 0x01, 0x02, 0x03]);
    db.prepare('INSERT INTO doc_snapshots (room_id, snapshot, snapshot_seq) VALUES (?, ?, 0)').run(roomId, garbage);
    db.close();

    for (let i = 0; i < 3; i++) {
      const err = await rawSocket(`${s.wsUrl}/${roomId}?token=${alice.token}`).then(
        (ws) => (ws.close(), undefined),
        (e) => e as { status: number; body: string },
      );
      expect(err?.status).toBe(503);
      expect(JSON.parse(err!.body)).toMatchObject({ error: { code: 'ROOM_UNAVAILABLE' } });
    }
    expect(s.server.sync.registry.rooms.size).toBe(0);
    const check = new BetterSqlite3(path.join(s.dataDir, 'kith.sqlite'), { readonly: true });
    const row = check.prepare('SELECT snapshot FROM doc_snapshots WHERE room_id = ?').get(roomId) as { snapshot: Buffer };
    const logRows = check.prepare('SELECT count(*) FROM doc_updates WHERE room_id = ?').pluck().get(roomId);
    check.close();
    expect(Buffer.compare(row.snapshot, garbage)).toBe(0);
    expect(logRows).toBe(logBefore);
  });

  it('a storage error during load refuses the connection; the next attempt loads the real content', async () => {
    const dataDir = await makeDataDir();
    const real = openSqliteStorage({ file: sqliteFileIn(dataDir), synchronous: 'normal' });
    let failLoads = 0;
    const flaky: Storage = {
      users: real.users,
      refreshTokens: real.refreshTokens,
      rooms: real.rooms,
      leases: real.leases,
      feeds: real.feeds,
      secrets: real.secrets,
      modules: real.modules,
      shared: real.shared,
      ping: () => real.ping(),
      probeWrite: () => real.probeWrite(),
      close: () => real.close(),
      docs: {
        load: async (roomId) => {
          if (failLoads > 0) {
            failLoads--;
            throw new Error('disk I/O error');
          }
          return real.docs.load(roomId);
        },
        loadOffLoop: (r) => real.docs.loadOffLoop(r),
        append: (u) => real.docs.append(u),
        head: (r) => real.docs.head(r),
        stats: (r) => real.docs.stats(r),
        compact: (...args) => real.docs.compact(...args),
      },
    };
    const srv = await startKithServer(
      defaultConfig({ port: 0, dataDir, logLevel: 'silent', jwtSecret: TEST_JWT_SECRET, sync: { unloadGraceMs: 20 } as any }),
      { storage: flaky, modules: [calendarModule()] },
    );
    try {
      const api = apiClient(srv.url);
      const wsUrl = srv.url.replace('http', 'ws') + '/sync';
      const alice = await api.signUp('alice');
      const roomId = await api.createRoom(alice.token);
      const a = await RawClient.connect(`${wsUrl}/${roomId}?token=${alice.token}`);
      await a.waitSynced();
      a.doc.getMap('m').set('keep', 'me');
      a.subscribeDurable();
      await waitFor(() => a.allSaved, 5000, 'stored');
      a.close();
      await waitFor(() => srv.sync.registry.rooms.size === 0, 5000, 'unloaded');

      failLoads = 1;
      const refused = await rawSocket(`${wsUrl}/${roomId}?token=${alice.token}`).then(
        () => 0,
        (e) => (e as { status: number }).status,
      );
      expect(refused).toBe(503);
      const b = await RawClient.connect(`${wsUrl}/${roomId}?token=${alice.token}`);
      await b.waitSynced();
      expect(b.doc.getMap('m').get('keep')).toBe('me');
      b.close();
    } finally {
      await srv.close();
    }
  });
});
