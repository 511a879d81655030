import * as Y from 'yjs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MemoryTokenStore, type Calendar, type KithClient, type PresenceEntry, type Session, type StatusInfo } from '../src/index.js';
import { countingWebSocket, makeClient, signUp, sleep, waitFor } from './helpers/clients.js';
import { startServer, tempDir, type TestServer } from './helpers/server.js';

let t: TestServer;
beforeAll(async () => {
  t = await startServer();
});
afterAll(async () => {
  await t.close();
});

const open: Array<KithClient> = [];
afterEach(async () => {
  while (open.length) await open.pop()!.close();
});

/** Two signed-in clients (editors of one room) on `url`. */
async function pair(url = t.url) {
  const a = makeClient(url);
  const b = makeClient(url);
  open.push(a, b);
  const [ua, ub] = await Promise.all([signUp(a, 'ann'), signUp(b, 'ben')]);
  const { roomId } = await a.rooms.create('Family');
  await b.rooms.acceptInvite((await a.rooms.invite(roomId, { role: 'editor' })).code);
  return { a, b, ua, ub, roomId };
}

const lunch = (day: string, title = 'Lunch') => ({ title, start: `${day}T12:00`, end: `${day}T13:00`, tz: 'Europe/Berlin' });

function titles(cal: Calendar): string[] {
  return cal.listEvents().map((e) => e.title).sort();
}

describe('sync', () => {
  it('status goes offline → connecting → synced → saved while unsavedEdits counts down to 0', async () => {
    const client = makeClient(t.url);
    open.push(client);
    await signUp(client, 'cal');
    const { roomId } = await client.rooms.create('Home');
    const cal = await client.openCalendar(roomId, { connect: false });
    expect(cal.status).toBe('offline');
    expect(cal.unsavedEdits).toBe(0);
    const seen: StatusInfo[] = [];
    cal.on('status', (s) => seen.push(s));
    for (const day of ['2026-03-02', '2026-03-03', '2026-03-04']) cal.createEvent(lunch(day));
    expect(cal.unsavedEdits).toBe(3);
    expect(cal.status).toBe('offline');

    cal.connect();
    await cal.whenSaved(5000);
    expect(cal.unsavedEdits).toBe(0);
    const statuses = seen.map((s) => s.status).filter((s, i, all) => s !== all[i - 1]);
    expect(statuses[0]).toBe('offline');
    expect(statuses.slice(1)).toEqual(['connecting', 'syncing', 'synced', 'saved']);
    const counts = seen.map((s) => s.unsavedEdits);
    expect(counts.slice(0, 3)).toEqual([1, 2, 3]);
    for (let i = 3; i < counts.length; i++) expect(counts[i]).toBeLessThanOrEqual(counts[i - 1]!);
    expect(counts.at(-1)).toBe(0);

    // Online, one more edit: synced with 1 unsaved, then saved again.
    seen.length = 0;
    cal.createEvent(lunch('2026-03-05', 'Dentist'));
    expect(cal.status).toBe('synced');
    expect(cal.unsavedEdits).toBe(1);
    await cal.whenSaved(5000);
    expect(seen.map((s) => [s.status, s.unsavedEdits])).toEqual([
      ['synced', 1],
      ['saved', 0],
    ]);
  });

  it('works with no server at all: edits are kept, counted as unsaved, and it keeps trying without giving up', async () => {
    const online = makeClient(t.url);
    open.push(online);
    await signUp(online, 'solo');
    const store = new MemoryTokenStore();
    store.set((online as unknown as { session: Session }).session);
    const ws = countingWebSocket();
    const nowhere = makeClient('http://127.0.0.1:1', { tokenStore: store, WebSocket: ws.WebSocket });
    open.push(nowhere);
    const cal = await nowhere.openCalendar('AAAAAAAAAAAAAAAAAAAAAA');
    const stops: string[] = [];
    cal.on('auth-required', () => stops.push('auth-required'));
    cal.on('access-revoked', () => stops.push('access-revoked'));
    cal.on('error', () => stops.push('error'));
    const id = cal.createEvent(lunch('2026-03-09', 'Offline'));
    cal.updateEvent(id, { location: 'Home' });
    expect(cal.getEvent(id)).toMatchObject({ title: 'Offline', location: 'Home' });
    expect(cal.unsavedEdits).toBe(2);
    await waitFor(() => ws.attempts() >= 4, 5000, 'reconnect attempts');
    expect(stops).toEqual([]);
    expect(['offline', 'connecting']).toContain(cal.status);
  });

  it('two clients edit the same calendar and see each other\'s changes', async () => {
    const { a, b, roomId, ua } = await pair();
    const [ca, cb] = await Promise.all([a.openCalendar(roomId), b.openCalendar(roomId)]);
    await Promise.all([ca.whenSynced(5000), cb.whenSynced(5000)]);
    const changes: string[][] = [];
    cb.on('change', (c) => changes.push(c.ids));
    const id = ca.createEvent(lunch('2026-03-10'));
    await waitFor(() => cb.getEvent(id) !== null, 5000, 'B sees A\'s event');
    expect(cb.getEvent(id)).toMatchObject({ title: 'Lunch', createdBy: ua.userId });
    expect(changes).toContainEqual([id]);
    cb.updateEvent(id, { title: 'Lunch with Gran' });
    await waitFor(() => ca.getEvent(id)?.title === 'Lunch with Gran', 5000, 'A sees B\'s edit');
    await Promise.all([ca.whenSaved(5000), cb.whenSaved(5000)]);
  });

  it('offline edits with the server stopped merge and reach "saved" after it restarts on the same data dir and port', async () => {
    const dataDir = await tempDir();
    const first = await startServer({ dataDir });
    const port = first.port;
    let second: TestServer | undefined;
    try {
      const { a, b, roomId } = await pair(first.url);
      const [ca, cb] = await Promise.all([a.openCalendar(roomId), b.openCalendar(roomId)]);
      const shared = ca.createEvent(lunch('2026-04-01', 'Picnic'));
      await waitFor(() => cb.getEvent(shared) !== null, 5000, 'initial sync');
      await Promise.all([ca.whenSaved(5000), cb.whenSaved(5000)]);

      await first.close();
      await waitFor(() => ca.status !== 'saved' && cb.status !== 'saved', 5000, 'both notice the server is gone');
      const fromA = ca.createEvent(lunch('2026-04-02', 'Swim'));
      ca.updateEvent(shared, { location: 'Park' });
      const fromB = cb.createEvent(lunch('2026-04-03', 'Chess'));
      cb.updateEvent(shared, { title: 'Picnic!' });
      cb.deleteEvent(shared);
      cb.restoreEvent(shared);
      await sleep(700); // a few failed reconnect attempts
      expect(ca.unsavedEdits).toBe(2);
      expect(cb.unsavedEdits).toBe(4);
      expect(['offline', 'connecting']).toContain(ca.status);
      expect(ca.getEvent(fromB)).toBeNull();

      second = await startServer({ dataDir, port });
      await Promise.all([ca.whenSaved(10_000), cb.whenSaved(10_000)]);
      await waitFor(() => ca.getEvent(fromB) !== null && cb.getEvent(fromA) !== null, 5000, 'merge');
      expect(ca.unsavedEdits).toBe(0);
      expect(cb.unsavedEdits).toBe(0);
      for (const cal of [ca, cb]) {
        expect(titles(cal)).toEqual(['Chess', 'Picnic!', 'Swim']);
        expect(cal.getEvent(shared)).toMatchObject({ title: 'Picnic!', location: 'Park', deleted: null });
      }
      // Stored on the server: a fresh device gets everything.
      const c = makeClient(second.url);
      open.push(c);
      await c.login(a.user!.username, 'correct horse battery');
      const fresh = await c.openCalendar(roomId);
      await fresh.whenSynced(5000);
      expect(titles(fresh)).toEqual(['Chess', 'Picnic!', 'Swim']);
    } finally {
      await second?.close();
      await first.close();
    }
  });

  it('undo and redo touch only my own edits, and undone edits are saved too', async () => {
    const { a, b, roomId } = await pair();
    const [ca, cb] = await Promise.all([a.openCalendar(roomId), b.openCalendar(roomId)]);
    await Promise.all([ca.whenSynced(5000), cb.whenSynced(5000)]);
    const mine = ca.createEvent(lunch('2026-05-01', 'Mine'));
    const theirs = cb.createEvent(lunch('2026-05-02', 'Theirs'));
    await waitFor(() => ca.getEvent(theirs) !== null && cb.getEvent(mine) !== null, 5000, 'exchange');
    ca.updateEvent(mine, { title: 'Mine, renamed' });
    cb.updateEvent(theirs, { title: 'Theirs, renamed' });
    await waitFor(() => ca.getEvent(theirs)?.title === 'Theirs, renamed', 5000, 'B\'s rename reaches A');
    expect(ca.canUndo()).toBe(true);

    expect(ca.undo()).toBe(true); // my rename
    expect(ca.getEvent(mine)?.title).toBe('Mine');
    expect(ca.getEvent(theirs)?.title).toBe('Theirs, renamed');
    expect(ca.undo()).toBe(true); // my create
    expect(ca.getEvent(mine)).toBeNull();
    expect(ca.getEvent(theirs)?.title).toBe('Theirs, renamed');
    expect(ca.undo()).toBe(false); // nothing of mine left; B's edits are not on my stack
    expect(ca.getEvent(theirs)?.title).toBe('Theirs, renamed');
    await waitFor(() => cb.getEvent(mine) === null, 5000, 'the undo reaches B');
    // Undoing a create only deletes: it is still an unsaved edit until the server confirms it.
    await ca.whenSaved(5000);

    expect(ca.redo()).toBe(true);
    expect(ca.getEvent(mine)?.title).toBe('Mine');
    expect(ca.redo()).toBe(true);
    expect(ca.getEvent(mine)?.title).toBe('Mine, renamed');
    await waitFor(() => cb.getEvent(mine)?.title === 'Mine, renamed', 5000, 'the redo reaches B');
    await ca.whenSaved(5000);
  });

  it('counts a delete-only edit as unsaved until the server has stored it', async () => {
    const { a, roomId } = await pair();
    const ca = await a.openCalendar(roomId);
    const id = ca.createEvent(lunch('2026-06-01'));
    ca.deleteEvent(id);
    await ca.whenSaved(5000);
    const before = Y.encodeStateVector(ca.doc);
    expect(ca.purgeTrash({ olderThanDays: 0 })).toEqual([id]);
    expect(Y.encodeStateVector(ca.doc)).toEqual(before); // no clock moved: no state vector can acknowledge it
    expect(ca.unsavedEdits).toBe(1);
    expect(ca.status).toBe('synced');
    await ca.whenSaved(5000);
    expect(ca.unsavedEdits).toBe(0);
  });

  it('shows who is online and which day they look at', async () => {
    const { a, b, ua, ub, roomId } = await pair();
    const [ca, cb] = await Promise.all([a.openCalendar(roomId), b.openCalendar(roomId)]);
    const seenByB: PresenceEntry[][] = [];
    cb.onPresence((p) => seenByB.push(p));
    expect(seenByB[0]).toEqual([{ clientId: cb.awareness.clientID, userId: ub.userId, username: ub.username, viewing: null, self: true }]);
    ca.setViewing('2026-03-20');
    cb.setViewing(new Date(2026, 2, 21));
    await waitFor(() => cb.presence.some((p) => p.userId === ua.userId && p.viewing === '2026-03-20'), 5000, 'B sees A');
    await waitFor(() => ca.presence.some((p) => p.userId === ub.userId && p.viewing === '2026-03-21'), 5000, 'A sees B');
    expect(ca.presence.find((p) => p.userId === ub.userId)).toMatchObject({ username: ub.username, self: false });
    expect(() => ca.setViewing('March 20')).toThrow(TypeError);

    await ca.close();
    await waitFor(() => !cb.presence.some((p) => p.userId === ua.userId), 5000, 'A leaves');
    expect(seenByB.at(-1)!.map((p) => p.userId)).toEqual([ub.userId]);
  });

  it('shows me again to the others as soon as I reconnect, not only at my next presence renewal', async () => {
    const { a, b, ua, roomId } = await pair();
    const [ca, cb] = await Promise.all([a.openCalendar(roomId), b.openCalendar(roomId)]);
    ca.setViewing('2026-03-20');
    await waitFor(() => cb.presence.some((p) => p.userId === ua.userId), 5000, 'B sees A');
    // A goes offline (as after a network drop or a sign-out) and comes back.
    ca.disconnect();
    await waitFor(() => !cb.presence.some((p) => p.userId === ua.userId), 5000, 'A leaves');
    ca.connect();
    await ca.whenSynced(5000);
    // y-protocols renews a presence only every 15 s: B must not wait for that.
    await waitFor(() => cb.presence.some((p) => p.userId === ua.userId && p.viewing === '2026-03-20'), 3000, 'B sees A again');
  });
});
