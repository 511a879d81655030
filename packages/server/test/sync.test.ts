import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { apiClient } from './helpers/api.js';
import { startTestServer, type TestServer } from './helpers/server.js';
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

describe('sync with stock y-websocket providers', () => {
  it('two users sync a Y.Map both ways', async () => {
    const alice = await api.signUp('alice');
    const bob = await api.signUp('bob');
    const roomId = await api.createRoom(alice.token);
    await api.addMember(alice.token, roomId, bob.token, 'editor');

    const a = connectProvider(t.wsUrl, roomId, alice.token);
    const b = connectProvider(t.wsUrl, roomId, bob.token);
    await Promise.all([waitForSynced(a.provider), waitForSynced(b.provider)]);

    a.doc.getMap('events').set('e1', 'Dinner');
    await waitFor(() => b.doc.getMap('events').get('e1') === 'Dinner', 5000, 'alice → bob');
    b.doc.getMap('events').set('e2', 'Football');
    await waitFor(() => a.doc.getMap('events').get('e2') === 'Football', 5000, 'bob → alice');

    a.provider.destroy();
    b.provider.destroy();
  });

  it('a late joiner receives the stored state', async () => {
    const alice = await api.signUp('alice');
    const roomId = await api.createRoom(alice.token);
    const a = connectProvider(t.wsUrl, roomId, alice.token);
    await waitForSynced(a.provider);
    a.doc.getMap('events').set('x', 42);
    a.provider.destroy();

    const c = connectProvider(t.wsUrl, roomId, alice.token, { doc: new Y.Doc() });
    await waitFor(() => c.doc.getMap('events').get('x') === 42, 5000, 'late joiner state');
    c.provider.destroy();
  });
});
