/**
 * Several tabs of one browser (several clients over one IndexedDB, one login) share a room's local
 * store, and with it the stored ledger of unsaved edits: no tab may overwrite another's edits in
 * it, a tab that closed (or died) without cleaning up leaves nothing stale behind once another
 * tab has opened, and an acknowledgement seen by one tab clears the copies the others adopted.
 */
import 'fake-indexeddb/auto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { indexedDbPersistence, memoryPersistence, MemoryTokenStore, type LocalPersistence, type Session } from '../src/node.js';
import { makeClient, signUp, sleep } from './helpers/clients.js';
import { startServer, type TestServer } from './helpers/server.js';

let t: TestServer;
beforeAll(async () => {
  t = await startServer();
});
afterAll(async () => {
  await t.close();
});

const event = (day: string, title: string) => ({ title, start: `${day}T09:00`, end: `${day}T10:00`, tz: 'Europe/Paris' });

/** A user with a room, and a way to open "tabs": clients over the same local store and login. */
async function device(persistence: 'indexeddb' | LocalPersistence) {
  const first = makeClient(t.url, { persistence });
  await signUp(first, 'tabs');
  const session = (first as unknown as { session: Session }).session;
  const { roomId } = await first.rooms.create('Home');
  await first.close();
  const tab = () => {
    const store = new MemoryTokenStore();
    store.set(session);
    return makeClient(t.url, { persistence, tokenStore: store, crossTab: true });
  };
  const storeName = `kith:${new URL(t.url).host}:${session.user.userId}:${roomId}`;
  /** The stored ledger's sessions (read while no tab holds the store open for writing it). */
  const sessions = async (): Promise<string[]> => {
    if (persistence !== 'indexeddb') return [];
    const store = await indexedDbPersistence().open(storeName, new Y.Doc());
    const raw = await store.getMeta('kith.unsaved');
    await store.close();
    return raw ? Object.keys((JSON.parse(raw) as { sessions: object }).sessions) : [];
  };
  return { roomId, tab, sessions, token: session.token };
}

describe('unsaved edits across tabs sharing a local store', () => {
  it('IndexedDB: two tabs editing offline both count after a reload, and "saved" comes only once both are stored', async () => {
    const d = await device('indexeddb');
    const A = d.tab();
    const B = d.tab();
    const ca = await A.openCalendar(d.roomId, { connect: false });
    const cb = await B.openCalendar(d.roomId, { connect: false });
    ca.createEvent(event('2026-07-01', 'From tab A'));
    await sleep(50);
    cb.createEvent(event('2026-07-02', 'From tab B'));
    const doomed = cb.createEvent(event('2026-07-03', 'Trashed, then removed in tab B'));
    cb.deleteEvent(doomed); // to the trash: an edit that writes
    cb.transact((doc) => doc.getMap('events').delete(doomed)); // a delete-only edit
    await sleep(50);
    expect([ca.unsavedEdits, cb.unsavedEdits]).toEqual([1, 4]);
    await A.close();
    await B.close();

    const R = d.tab();
    const cr = await R.openCalendar(d.roomId, { connect: false });
    expect(cr.listEvents().map((e) => e.title).sort()).toEqual(['From tab A', 'From tab B']);
    expect(cr.unsavedEdits).toBe(5);
    const saw: string[] = [];
    cr.on('status', (s) => saw.push(`${s.status}/${s.unsavedEdits}`));
    cr.connect();
    await cr.whenSaved(10_000);
    expect(saw.filter((s) => s.startsWith('saved'))).toEqual(['saved/0']);
    // The server holds every edit of both tabs.
    const res = await fetch(`${t.url}/rooms/${d.roomId}/events?from=2026-07-01T00:00:00Z&to=2026-07-04T00:00:00Z&timeZone=UTC`, {
      headers: { authorization: `Bearer ${d.token}` },
    });
    const titles = ((await res.json()) as { occurrences: Array<{ eventTitle: string }> }).occurrences.map((o) => o.eventTitle).sort();
    expect(titles).toEqual(['From tab A', 'From tab B']);
    await R.close();
    expect(await d.sessions()).toEqual([]);

    const again = d.tab();
    expect((await again.openCalendar(d.roomId, { connect: false })).unsavedEdits).toBe(0);
    await again.close();
  });

  it('IndexedDB: a tab that died without cleaning up is adopted by the next tab, and its part dropped', async () => {
    const d = await device('indexeddb');
    const dead = d.tab();
    const cd = await dead.openCalendar(d.roomId, { connect: false });
    cd.createEvent(event('2026-07-01', 'Made by a tab that then crashed'));
    await sleep(50);
    // It never closes (a crash): its section stays behind in the store.

    const R = d.tab();
    const cr = await R.openCalendar(d.roomId, { connect: false });
    expect(cr.unsavedEdits).toBe(1);
    cr.createEvent(event('2026-07-02', 'Made in the new tab'));
    expect(cr.unsavedEdits).toBe(2);
    await R.close();
    const left = await d.sessions();
    expect(left).toHaveLength(1); // R's own, holding both; the dead tab's part was folded in

    const R2 = d.tab();
    const c2 = await R2.openCalendar(d.roomId, { connect: false });
    expect(c2.unsavedEdits).toBe(2);
    c2.connect();
    await c2.whenSaved(10_000);
    expect(c2.unsavedEdits).toBe(0);
    await R2.close();
    expect(await d.sessions()).toEqual([]);
    await dead.close();
  });

  it('IndexedDB: a live tab keeps its part when another tab opens, and its acknowledgement clears the copy', async () => {
    const d = await device('indexeddb');
    const A = d.tab();
    const ca = await A.openCalendar(d.roomId, { connect: false });
    ca.createEvent(event('2026-07-01', 'A one'));
    await sleep(50);

    const R = d.tab();
    const cr = await R.openCalendar(d.roomId, { connect: false });
    expect(cr.unsavedEdits).toBe(1); // the device's unsaved edit, adopted
    await sleep(50);
    // A edits again after R dropped A's section: A writes its whole part again.
    ca.createEvent(event('2026-07-02', 'A two'));
    await sleep(50);
    await R.close();
    await A.close();
    const S = d.tab();
    const cs = await S.openCalendar(d.roomId, { connect: false });
    expect(cs.unsavedEdits).toBe(2); // A's two edits, once each (R's copy of the first deduplicated)
    await S.close();

    // A tab saves its edits while another, offline, holds adopted copies: the copies are pruned.
    const A2 = d.tab();
    const ca2 = await A2.openCalendar(d.roomId, { connect: false });
    const R2 = d.tab();
    const cr2 = await R2.openCalendar(d.roomId, { connect: false });
    expect([ca2.unsavedEdits, cr2.unsavedEdits]).toEqual([2, 2]);
    await sleep(50);
    ca2.connect();
    await ca2.whenSaved(10_000);
    await sleep(50);
    await A2.close();
    await R2.close();
    const S2 = d.tab();
    expect((await S2.openCalendar(d.roomId, { connect: false })).unsavedEdits).toBe(0);
    await S2.close();
  });

  it('memory store shared by two clients: neither overwrites the other', async () => {
    const d = await device(memoryPersistence());
    const A = d.tab();
    const B = d.tab();
    const ca = await A.openCalendar(d.roomId, { connect: false });
    const cb = await B.openCalendar(d.roomId, { connect: false });
    ca.createEvent(event('2026-07-01', 'A'));
    cb.createEvent(event('2026-07-02', 'B'));
    await sleep(20);
    await A.close();
    await B.close();
    const R = d.tab();
    const cr = await R.openCalendar(d.roomId, { connect: false });
    // The memory store keeps each client's updates: both edits and both ledger entries are there.
    expect(cr.listEvents()).toHaveLength(2);
    expect(cr.unsavedEdits).toBe(2);
    await R.close();
  });
});
