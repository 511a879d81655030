import 'fake-indexeddb/auto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import {
  MemoryTokenStore,
  filePersistence,
  indexedDbPersistence,
  type LocalPersistence,
  type NodeKithClientOptions,
  type Session,
} from '../src/node.js';
import { countingWebSocket, makeClient, signUp, sleep, waitFor } from './helpers/clients.js';
import { startServer, tempDir, type TestServer } from './helpers/server.js';

let t: TestServer;
beforeAll(async () => {
  t = await startServer();
});
afterAll(async () => {
  await t.close();
});

const event = (day: string, title: string) => ({ title, start: `${day}T09:00`, end: `${day}T10:00`, tz: 'Europe/Paris' });

/**
 * One device across reloads: each "session" is a new client (new Y.Doc, new Yjs client id) over
 * the same local store and the same saved login.
 */
async function reloadsSaveOfflineEdits(persistence: NodeKithClientOptions['persistence']) {
  const first = makeClient(t.url, { persistence });
  await signUp(first, 'dev');
  const session = (first as unknown as { session: Session }).session;
  const { roomId } = await first.rooms.create('Home');
  const reload = () => {
    const store = new MemoryTokenStore();
    store.set(session);
    return makeClient(t.url, { persistence, tokenStore: store });
  };

  // Session 1, offline: two edits stay local.
  const s1 = await first.openCalendar(roomId, { connect: false });
  const a = s1.createEvent(event('2026-07-01', 'Offline one'));
  s1.createEvent(event('2026-07-02', 'Offline two'));
  expect(s1.unsavedEdits).toBe(2);
  const firstClientId = s1.doc.clientID;
  await first.close();

  // Session 2 (a reload), still offline: the edits are there and still count as unsaved.
  const second = reload();
  const s2 = await second.openCalendar(roomId, { connect: false });
  expect(s2.doc.clientID).not.toBe(firstClientId);
  expect(s2.listEvents().map((e) => e.title).sort()).toEqual(['Offline one', 'Offline two']);
  expect(s2.unsavedEdits).toBe(2);
  s2.updateEvent(a, { title: 'Offline one, edited' });
  expect(s2.unsavedEdits).toBe(3);
  expect(s2.status).toBe('offline');

  // Online: the server acknowledges edits of both sessions.
  s2.connect();
  await s2.whenSaved(5000);
  expect(s2.unsavedEdits).toBe(0);
  await second.close();

  // Session 3: nothing is unsaved, everything is there.
  const third = reload();
  const s3 = await third.openCalendar(roomId, { connect: false });
  expect(s3.unsavedEdits).toBe(0);
  expect(s3.listEvents().map((e) => e.title).sort()).toEqual(['Offline one, edited', 'Offline two']);
  await third.close();

  // And the server has it all: a device with no local copy syncs it.
  const other = makeClient(t.url, { persistence: 'memory', tokenStore: Object.assign(new MemoryTokenStore(), {}) });
  await other.login(session.user.username, 'correct horse battery');
  const fresh = await other.openCalendar(roomId);
  await fresh.whenSynced(5000);
  expect(fresh.listEvents().map((e) => e.title).sort()).toEqual(['Offline one, edited', 'Offline two']);
  await other.close();
}

describe('local persistence', () => {
  it('IndexedDB: a reload keeps the calendar and its unsaved edits, which are acknowledged once online', async () => {
    await reloadsSaveOfflineEdits('indexeddb');
  });

  it('file store: a reload keeps the calendar and its unsaved edits, which are acknowledged once online', async () => {
    await reloadsSaveOfflineEdits({ file: await tempDir('kith-client-files-') });
  });

  it('IndexedDB that cannot be opened (storage blocked): openCalendar rejects instead of never resolving', async () => {
    const client = makeClient(t.url, { persistence: 'indexeddb' });
    await signUp(client, 'blk');
    const { roomId } = await client.rooms.create('Home');
    // What browsers do when the user blocks site data (Firefox: SecurityError "The operation is insecure").
    const factory = indexedDB as { open: IDBFactory['open'] };
    const open = factory.open;
    factory.open = () => {
      throw new DOMException('The operation is insecure.', 'SecurityError');
    };
    try {
      const outcome = await Promise.race([
        client.openCalendar(roomId, { connect: false }).then(
          () => 'opened',
          (err: unknown) => String(err),
        ),
        new Promise((r) => setTimeout(() => r('still waiting'), 3000)),
      ]);
      expect(outcome).toMatch(/insecure/);
    } finally {
      factory.open = open;
    }
    // Once storage works again, so does the calendar.
    const cal = await client.openCalendar(roomId, { connect: false });
    cal.createEvent(event('2026-07-03', 'Kept'));
    await client.close();
  });

  it('close() while openCalendar is loading the local copy: it rejects with CLIENT_CLOSED and leaves nothing open', async () => {
    const ws = countingWebSocket();
    const paths: string[] = [];
    const recording: typeof fetch = (input, init) => {
      paths.push(new URL(String(input)).pathname);
      return fetch(input, init);
    };
    // IndexedDB, held once the room's database is open until the client has been closed.
    const idb = indexedDbPersistence();
    let opened: { doc: Y.Doc; closes: number } | undefined;
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const gated: LocalPersistence = {
      async open(name, doc) {
        const store = await idb.open(name, doc);
        const seen = (opened = { doc, closes: 0 });
        await held;
        return {
          ...store,
          close: async () => {
            seen.closes++;
            await store.close();
          },
        };
      },
      remove: (name) => idb.remove(name),
    };
    const client = makeClient(t.url, { persistence: gated, WebSocket: ws.WebSocket, fetch: recording });
    await signUp(client, 'race');
    const { roomId } = await client.rooms.create('Home');
    const opening = client.openCalendar(roomId);
    opening.catch(() => undefined);
    await waitFor(() => opened !== undefined, 5000, 'the local copy opening');
    await client.close();
    release();
    await expect(opening).rejects.toMatchObject({ code: 'CLIENT_CLOSED' });
    // Released when it rejected: the IndexedDB store, and the calendar (its doc is destroyed last).
    expect(opened!.closes).toBe(1);
    expect(opened!.doc.isDestroyed).toBe(true);
    await sleep(500);
    expect(ws.attempts()).toBe(0);
    expect(paths.filter((p) => p.endsWith('/state'))).toEqual([]);
    await expect(client.openCalendar(roomId)).rejects.toMatchObject({ code: 'CLIENT_CLOSED' });
  });

  it('file store: compacts the log on open and ignores a torn last record', async () => {
    const dir = await tempDir('kith-client-files-');
    const store = filePersistence(dir);
    const doc = new Y.Doc();
    const room = await store.open('room/one', doc);
    for (let i = 0; i < 20; i++) doc.getMap('m').set(`k${i}`, i);
    await room.setMeta('note', 'kept');
    await room.close();
    const [file] = (await fs.readdir(dir)).filter((f) => f.endsWith('.updates'));
    const full = path.join(dir, file!);
    const sizeBefore = (await fs.stat(full)).size;
    // A crash in the middle of an append: a length prefix promising more bytes than follow.
    await fs.appendFile(full, Buffer.from([200, 0, 0, 0, 1, 2, 3]));

    const again = new Y.Doc();
    const reopened = await store.open('room/one', again);
    expect(again.getMap('m').toJSON()).toEqual(doc.getMap('m').toJSON());
    expect(await reopened.getMeta('note')).toBe('kept');
    expect((await fs.stat(full)).size).toBeLessThan(sizeBefore);
    await expect(store.open('room/one', new Y.Doc())).rejects.toThrow(/already open/);
    again.getMap('m').set('after', true);
    await reopened.close();
    const third = new Y.Doc();
    await (await store.open('room/one', third)).close();
    expect(third.getMap('m').get('after')).toBe(true);
  });
});
