/**
 * A deleted room takes its notify rows with it: deleting an account together with the room it alone
 * owned (the account module, over real HTTP) removes the room's pending change notices, room
 * preferences, ledger keys and scheduler entry; the open window sends nothing. Another room's rows stay.
 */
import path from 'node:path';
import { createEvent } from '@kith/model';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { accountModule, ManualClock } from '../../src/index.js';
import { apiClient } from '../helpers/api.js';
import { RecordingChannel, startNotifyServer, type NotifyHarness } from './harness.js';

const open: NotifyHarness[] = [];
afterEach(async () => {
  for (const h of open.splice(0)) await h.server.close().catch(() => undefined);
});

describe('a deleted room', { timeout: 120_000 }, () => {
  it('loses its pending notices, preferences, ledger keys and index entry', async () => {
    const clock = new ManualClock(Date.parse('2026-06-01T09:00:00Z'));
    const channel = new RecordingChannel();
    const h = await startNotifyServer({ clock, channel, notify: { changeWindowMs: 60_000 }, modules: [accountModule()] });
    open.push(h);
    const api = apiClient(h.server.url);
    const mum = await api.signUp('mum');
    const dad = await api.signUp('dad');
    const gone = await api.createRoom(mum.token, 'Millers');
    const kept = await api.createRoom(dad.token, 'Dad’s club');
    await api.addMember(mum.token, gone, dad.token, 'editor');
    await api.addMember(dad.token, kept, mum.token, 'editor');
    const { pass } = h;
    await pass(10);
    for (const [token, roomId] of [[dad.token, gone], [mum.token, gone], [dad.token, kept]] as const) {
      expect((await api.request('PUT', '/users/me/notification-settings', { token, body: { rooms: { [roomId]: { changes: 'all' } } } })).status).toBe(200);
    }
    // A reminder sent in each room (ledger keys), then a change of each room waiting in its window.
    for (const roomId of [gone, kept]) {
      await h.rooms.edit(roomId, (doc) =>
        createEvent(doc, { title: 'Soon', start: '2026-06-01T09:30', end: '2026-06-01T10:00', tz: 'UTC', reminders: [{ id: 'r1', minutesBefore: 60 }] }, { actor: mum.userId }),
      );
    }
    await pass(100); // a room read less than busyLookMs (10 × settle) ago is read again busyLookMs after that read
    expect(channel.deliveries.filter((d) => d.kind === 'reminder').map((d) => d.roomId).sort()).toEqual([gone, gone, kept, kept].sort());
    await pass(120_000); // the notices of those additions went out
    for (const roomId of [gone, kept]) {
      await h.rooms.edit(roomId, (doc) => createEvent(doc, { title: `Later ${roomId}`, start: '2026-06-05T09:00', end: '2026-06-05T10:00', tz: 'UTC' }, { actor: dad.userId }));
    }
    await pass(100);
    expect(h.parts.scheduler.roomsIndexed).toBe(2);

    const sent = channel.deliveries.length;
    const del = await api.request('DELETE', '/users/me', { token: mum.token, body: { password: mum.password, soleOwnedRooms: [{ roomId: gone, action: 'delete' }] } });
    expect(del.status, JSON.stringify(del.body)).toBe(204);
    expect(h.parts.scheduler.roomsIndexed).toBe(1);

    // The notify tables as stored (a second, read-only connection to the same SQLite file).
    const db = new Database(path.join(h.dataDir, 'kith.sqlite'), { readonly: true });
    try {
      const rowsOf = (roomId: string) => ({
        pending: db.prepare('SELECT COUNT(*) AS n FROM notify_pending_changes WHERE room_id = ?').pluck().get(roomId),
        prefs: db.prepare('SELECT COUNT(*) AS n FROM notify_room_prefs WHERE room_id = ?').pluck().get(roomId),
        ledger: db.prepare('SELECT COUNT(*) AS n FROM notify_ledger WHERE key LIKE ? OR key LIKE ?').pluck().get(`rem:${roomId}:%`, `chg:${roomId}:%`),
        looks: db.prepare('SELECT COUNT(*) AS n FROM notify_room_looks WHERE room_id = ?').pluck().get(roomId),
      });
      expect(rowsOf(gone)).toEqual({ pending: 0, prefs: 0, ledger: 0, looks: 0 });
      // The other room keeps its open window (dad's change), dad's preference, its keys (2 reminders, 1 notice) and its last look.
      expect(rowsOf(kept)).toEqual({ pending: 1, prefs: 1, ledger: 3, looks: 1 });
    } finally {
      db.close();
    }
    // The deleted room's window sends nothing.
    await pass(120_000);
    expect(channel.deliveries.slice(sent).filter((d) => d.roomId === gone)).toEqual([]);
  });
});
