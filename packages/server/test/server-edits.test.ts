import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient } from './helpers/api.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { readStoredDoc } from './helpers/stored-doc.js';
import { connectProvider, waitFor, waitForSynced } from './helpers/yjs-clients.js';

let t: TestServer;
let api: ReturnType<typeof apiClient>;
beforeAll(async () => {
  t = await startTestServer();
  api = apiClient(t.url);
});
afterAll(async () => {
  await t.close();
});

describe('server-side room edits (used by REST, the live socket and importers)', () => {
  it('an edit made on the server is on disk when editRoom resolves, and reaches connected clients', async () => {
    const alice = await api.signUp('alice');
    const roomId = await api.createRoom(alice.token);
    const a = connectProvider(t.wsUrl, roomId, alice.token);
    await waitForSynced(a.provider);
    const result = await t.server.sync.editRoom(roomId, (doc) => {
      doc.getMap('events').set('srv', 'from the server');
      return 7;
    });
    expect(result).toBe(7);
    expect(readStoredDoc(t.dataDir, roomId).getMap('events').get('srv')).toBe('from the server');
    await waitFor(() => a.doc.getMap('events').get('srv') === 'from the server', 5000, 'client sees server edit');
    a.provider.destroy();
  });

  it('readRoom sees what clients stored; watchRoom is told after each commit', async () => {
    const alice = await api.signUp('alice');
    const roomId = await api.createRoom(alice.token);
    const commits: string[] = [];
    const stop = await t.server.sync.watchRoom(roomId, {
      onCommitted: (doc) => commits.push(String(doc.getMap('events').get('k'))),
    });
    const a = connectProvider(t.wsUrl, roomId, alice.token);
    await waitForSynced(a.provider);
    a.doc.getMap('events').set('k', 'v1');
    await waitFor(() => commits.includes('v1'), 5000, 'commit seen by watcher');
    expect(await t.server.sync.readRoom(roomId, (doc) => doc.getMap('events').get('k'))).toBe('v1');
    stop();
    a.provider.destroy();
  });

  it('an edit that throws midway still stores what it wrote, and the error reaches the caller', async () => {
    const alice = await api.signUp('alice');
    const roomId = await api.createRoom(alice.token);
    await expect(
      t.server.sync.editRoom(roomId, (doc) => {
        doc.getMap('events').set('partial', true);
        throw new Error('validation failed late');
      }),
    ).rejects.toThrow('validation failed late');
    await waitFor(() => readStoredDoc(t.dataDir, roomId).getMap('events').get('partial') === true, 5000, 'stored');
  });
});

describe('transient reads (passes over many rooms)', () => {
  it('a transient read lets go at once of a room it loaded, and leaves a room others use in memory', async () => {
    const s = await startTestServer({ sync: { unloadGraceMs: 400 } });
    try {
      const sApi = apiClient(s.url);
      const alice = await sApi.signUp('alice');
      const roomId = await sApi.createRoom(alice.token);
      const unloads: string[] = [];
      s.server.sync.rooms.onAnyUnload((id) => unloads.push(id));
      await s.server.sync.editRoom(roomId, (doc) => doc.getMap('events').set('k', 'stored'));
      await waitFor(() => unloads.length === 1, 5000, 'room unloads after the grace');

      // Not in memory: the read loads it and it leaves memory as the read resolves.
      expect(await s.server.sync.readRoom(roomId, (doc) => doc.getMap('events').get('k'), { transient: true })).toBe('stored');
      expect(unloads).toEqual([roomId, roomId]);

      // In memory with a client: a transient read leaves it there.
      const a = connectProvider(s.wsUrl, roomId, alice.token);
      await waitForSynced(a.provider);
      expect(await s.server.sync.readRoom(roomId, (doc) => doc.getMap('events').get('k'), { transient: true })).toBe('stored');
      await new Promise((r) => setTimeout(r, 600));
      expect(unloads).toHaveLength(2);
      a.doc.getMap('events').set('k', 'after');
      await waitFor(() => readStoredDoc(s.dataDir, roomId).getMap('events').get('k') === 'after', 5000, 'the client still syncs');
      a.provider.destroy();
      await waitFor(() => unloads.length === 3, 5000, 'room unloads after its client left');

      // An ordinary read keeps the room for the grace.
      await s.server.sync.readRoom(roomId, () => undefined);
      expect(unloads).toHaveLength(3);
      await waitFor(() => unloads.length === 4, 5000, 'and then unloads it');
    } finally {
      await s.close();
    }
  });
});
