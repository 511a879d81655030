/**
 * Change notices stay bounded whatever a client writes into the room (real server over loopback
 * HTTP, the room edited in-process as a raw Yjs client could): authors made up per event cost no
 * more than one author, a window keeps one row per event and kind however often it changes (and
 * counts past a cap), and a room zone no one knows neither stops nor garbles a notice. The rows are
 * checked on SQLite and, where it is reachable, PostgreSQL.
 */
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import pg from 'pg';
import * as Y from 'yjs';
import { createEvent, initRoom, updateEvent } from '@kith/model';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/index.js';
import { MAX_WINDOW_ROWS, summarize } from '../../src/notify/notices.js';
import { quietEnd } from '../../src/notify/preferences.js';
import { DETAILED_CHANGES, diffRooms, printRoom, withNextStarts, type RoomChange } from '../../src/notify/room-changes.js';
import { apiClient } from '../helpers/api.js';
import { createTestSchema, probePostgres } from '../helpers/postgres.js';
import { RecordingChannel, startNotifyServer, type NotifyHarness } from './harness.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

const WINDOW = 300_000;
const pgProbe = await probePostgres();

/** The Millers' room (mum owner, dad editor, kid viewer) on a notify server; `pending()` counts the stored change rows. */
async function millers(engine: 'sqlite' | 'postgres' = 'sqlite') {
  let databaseUrl: string | undefined;
  if (engine === 'postgres') {
    const schema = await createTestSchema(pgProbe.available ? pgProbe.url : '');
    cleanups.push(schema.drop);
    databaseUrl = schema.databaseUrl;
  }
  const clock = new ManualClock(Date.parse('2026-06-01T12:00:00Z'));
  const channel = new RecordingChannel();
  const h: NotifyHarness = await startNotifyServer({ clock, channel, databaseUrl, notify: { changeWindowMs: WINDOW, settleMs: 1_000, busyLookMs: 10_000 } });
  cleanups.push(() => h.server.close());
  const api = apiClient(h.server.url);
  const mum = await api.signUp('mum');
  const dad = await api.signUp('dad');
  const kid = await api.signUp('kid');
  const roomId = await api.createRoom(mum.token, 'Millers');
  await api.addMember(mum.token, roomId, dad.token, 'editor');
  await api.addMember(mum.token, roomId, kid.token, 'viewer');
  const COUNT = 'SELECT COUNT(*) AS n, COALESCE(SUM(LENGTH(change)), 0) AS b FROM notify_pending_changes';
  let pending: () => Promise<{ rows: number; bytes: number }>;
  if (databaseUrl) {
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    cleanups.push(() => client.end());
    pending = async () => {
      const r = (await client.query(COUNT)).rows[0] as { n: string; b: string };
      return { rows: Number(r.n), bytes: Number(r.b) };
    };
  } else {
    const db = new Database(path.join(h.dataDir, 'kith.sqlite'), { readonly: true });
    cleanups.push(async () => {
      db.close();
    });
    pending = async () => {
      const r = db.prepare(COUNT).get() as { n: number; b: number };
      return { rows: r.n, bytes: r.b };
    };
  }
  const notices = (userId: string) => channel.deliveries.filter((d) => d.kind === 'changes' && d.userId === userId).map((d) => d.body);
  return { h, api, channel, mum, dad, kid, roomId, pass: h.pass, pending, notices };
}

const engines = (['sqlite', 'postgres'] as const).filter((e) => e === 'sqlite' || pgProbe.available);
if (!pgProbe.available) console.warn(`notices-bounds: PostgreSQL not reachable (${pgProbe.reason}): its cases are skipped`);

describe('change notices stay bounded', { timeout: 180_000 }, () => {
  it('moves of 1,000 series, each under an author of its own making, neither hold the event loop nor make a notice of 1,000 lines', async () => {
    const { h, mum, dad, kid, roomId, pass, notices } = await millers();
    const ids: string[] = [];
    await h.rooms.edit(roomId, (doc) => {
      for (let i = 0; i < 1_000; i++) {
        ids.push(createEvent(doc, { title: `E${i}`, start: '2026-06-01T12:00', end: '2026-06-01T13:00', tz: 'Europe/Berlin', rrule: 'FREQ=DAILY' }, { actor: mum.userId }));
      }
    });
    await pass(WINDOW + 1_000);
    await pass(WINDOW + 1_000);
    const before = notices(kid.userId).length;
    // A raw Yjs client moves every series and names a different author on each.
    await h.rooms.edit(roomId, (doc) => {
      const events = doc.getMap<Y.Map<unknown>>('events');
      ids.forEach((id, i) => {
        const ev = events.get(id)!;
        ev.set('start', '2026-06-01T14:00');
        ev.set('updatedBy', `fake-${i}`);
      });
    });
    const delay = monitorEventLoopDelay({ resolution: 5 });
    delay.enable();
    const t0 = performance.now();
    await pass(2_000);
    await h.settle();
    delay.disable();
    const lookMs = performance.now() - t0;
    const maxDelayMs = delay.max / 1e6;
    console.log(`spoofed authors: look ${Math.round(lookMs)} ms, longest event-loop delay ${Math.round(maxDelayMs)} ms`);
    // Each move's next start was looked up over 400 days: 8 s on the loop at 1,000 series, 31 s at 3,000.
    expect(maxDelayMs).toBeLessThan(1_000);
    await pass(WINDOW + 1_000);
    // Authors who are not members are one "Someone", counted.
    for (const member of [mum, dad, kid]) expect(notices(member.userId).slice(member === kid ? before : -1)).toEqual(['Someone: 1000 moved']);
  });

  it('looks up the next start of a bounded number of moves, whatever the authors', () => {
    const doc = new Y.Doc();
    initRoom(doc, { defaultTz: 'Europe/Berlin' });
    const ids = Array.from({ length: 50 }, (_, i) =>
      createEvent(doc, { title: `E${i}`, start: '2026-06-01T12:00', end: '2026-06-01T13:00', tz: 'Europe/Berlin', rrule: 'FREQ=DAILY' }, { actor: 'mum' }),
    );
    const before = printRoom(doc);
    ids.forEach((id, i) => updateEvent(doc, id, { start: '2026-06-02T15:00', end: '2026-06-02T16:00' }, { actor: `fake-${i}` }));
    const changes = withNextStarts(doc, diffRooms(before, printRoom(doc)), Date.parse('2026-06-01T00:00:00Z'), 3);
    expect(changes).toHaveLength(50);
    const shown = changes.filter((c) => c.start !== null);
    expect(shown.length).toBeGreaterThan(0);
    expect(shown.length).toBeLessThanOrEqual(DETAILED_CHANGES);
    expect(shown[0]!.start).toBe(Date.parse('2026-06-02T13:00:00Z'));
  });

  it('a notice has a few lines however many authors there are: made-up ones are one "Someone", the last members "Others"', () => {
    const move = (actor: string, i: number): RoomChange => ({ kind: 'moved', actor, eventId: `ev-${actor}-${i}`, title: `E${i}`, participants: [], start: null, tz: 'UTC' });
    const names = new Map(Array.from({ length: 20 }, (_, i) => [`m${i}`, `member${i}`]));
    const lines = summarize([...Array.from({ length: 20 }, (_, i) => move(`m${i}`, i)), ...Array.from({ length: 500 }, (_, i) => move(`fake-${i}`, i))], names, 'UTC');
    // One line per author before: 520.
    expect(lines).toEqual([...Array.from({ length: 7 }, (_, i) => `member${i} moved E${i}`), 'Others: 513 moved']);
    expect(summarize(Array.from({ length: 500 }, (_, i) => move(`fake-${i}`, i)), names, 'UTC')).toEqual(['Someone: 500 moved']);
  });

  for (const engine of engines) {
    it(`${engine}: renaming 300 events ten times in one window keeps one small row per event, and the notice counts them`, async () => {
      const { h, api, mum, dad, kid, roomId, pass, pending, notices } = await millers(engine);
      // Dad hears only of events he takes part in; each event names the kid and 99 made-up ids of 128 characters.
      expect((await api.request('PUT', '/users/me/notification-settings', { token: dad.token, body: { rooms: { [roomId]: { changes: 'participant' } } } })).status).toBe(200);
      const who = [kid.userId, ...Array.from({ length: 99 }, (_, i) => String(i).padStart(3, '0').padEnd(128, 'x'))];
      const ids: string[] = [];
      await h.rooms.edit(roomId, (doc) => {
        for (let i = 0; i < 300; i++) ids.push(createEvent(doc, { title: `E${i}`, start: '2026-07-01T12:00', end: '2026-07-01T13:00', tz: 'UTC', participants: who }, { actor: mum.userId }));
      });
      await pass(WINDOW + 1_000);
      await pass(WINDOW + 1_000);
      expect((await pending()).rows).toBe(0);
      const before = notices(kid.userId).length;
      for (let round = 0; round < 10; round++) {
        await h.rooms.edit(roomId, (doc) => {
          for (const id of ids) updateEvent(doc, id, { title: `${id.slice(0, 4)}-${round}` }, { actor: mum.userId });
        });
        await pass(10_000);
      }
      const stored = await pending();
      console.log(`${engine}: ${stored.rows} rows, ${stored.bytes} bytes after 10 renames of 300 events`);
      // A row per change and look: 3,000 rows of 13 kB each (40 MB) before.
      expect(stored.rows).toBe(300);
      expect(stored.bytes).toBeLessThan(300 * 1_000);
      await pass(WINDOW);
      expect(notices(kid.userId).slice(before)).toEqual([`${mum.username}: 300 changed`]);
      expect(notices(dad.userId)).toEqual([]);
      expect((await pending()).rows).toBe(0);
    });

    it(`${engine}: past ${MAX_WINDOW_ROWS} rows a window counts an import, and a member's change after it is still told by name`, async () => {
      const { h, mum, dad, kid, roomId, pass, pending, notices } = await millers(engine);
      const IMPORTED = MAX_WINDOW_ROWS + 700;
      const ids: string[] = [];
      await h.rooms.edit(roomId, (doc) => {
        for (let i = 0; i < IMPORTED; i++) ids.push(createEvent(doc, { title: `E${i}`, start: '2026-07-01T12:00', end: '2026-07-01T13:00', tz: 'UTC' }, { actor: mum.userId }));
      });
      await pass(2_000);
      await h.rooms.edit(roomId, (doc) => updateEvent(doc, ids[7]!, { title: 'Parents’ evening' }, { actor: dad.userId }));
      await pass(10_000); // a room that keeps changing is looked at once per busyLookMs
      const stored = await pending();
      // One row per change before: 1,201.
      expect(stored.rows).toBe(MAX_WINDOW_ROWS + 2); // the cap, mum's count, dad's change
      await pass(WINDOW);
      expect(notices(kid.userId)).toEqual([`${mum.username}: ${IMPORTED} added · ${dad.username} changed Parents’ evening`]);
      expect(notices(mum.userId)).toEqual([`${dad.username} changed Parents’ evening`]);
      expect(notices(dad.userId)).toEqual([`${mum.username}: ${IMPORTED} added`]);
      expect((await pending()).rows).toBe(0);
    });
  }

  it('a room zone no one knows, and a member with quiet hours but no zone of their own: everyone is told, times in UTC', async () => {
    const { h, api, mum, dad, kid, roomId, pass, notices } = await millers();
    expect((await api.request('PUT', '/users/me/notification-settings', { token: dad.token, body: { quietHours: { start: '22:00', end: '07:00' } } })).status).toBe(200);
    await h.rooms.edit(roomId, (doc) => doc.getMap('room').set('defaultTz', 'Mars/Olympus_Mons'));
    await pass(WINDOW + 1_000);
    const created = await api.request('POST', `/rooms/${roomId}/events`, {
      token: mum.token,
      body: { eventTitle: 'Swim', startTime: '2026-06-04T16:00', endTime: '2026-06-04T17:00', timeZone: 'Europe/Berlin' },
    });
    expect(created.status).toBe(201);
    await pass(WINDOW + 1_000);
    // Dad's quiet hours threw on the room's zone: the notice stopped there, for everyone, every minute.
    expect(notices(dad.userId)).toEqual([`${mum.username} added Swim`]);
    expect(notices(kid.userId)).toEqual([`${mum.username} added Swim`]);
    const eventId = created.body.eventId ?? created.body.id;
    expect((await api.request('PATCH', `/rooms/${roomId}/events/${eventId}`, { token: mum.token, body: { startTime: '2026-06-04T18:00', endTime: '2026-06-04T19:00' } })).status).toBe(200);
    await pass(WINDOW + 1_000);
    expect(notices(kid.userId).at(-1)).toBe(`${mum.username} moved Swim to Thu 4 Jun 16:00`);
    expect(notices(dad.userId).at(-1)).toBe(`${mum.username} moved Swim to Thu 4 Jun 16:00`);
  });

  it('a waiting row stored with a zone no one knows (by an older version) is told to everyone, times in UTC', async () => {
    const { h, api, mum, dad, kid, roomId } = await millers();
    expect((await api.request('PUT', '/users/me/notification-settings', { token: dad.token, body: { quietHours: { start: '22:00', end: '07:00' } } })).status).toBe(200);
    await h.server.close();
    const db = new Database(path.join(h.dataDir, 'kith.sqlite'));
    const moved = { kind: 'moved', actor: mum.userId, eventId: 'ev-1', title: 'Swim', participants: [], start: Date.parse('2026-06-04T16:00:00Z'), tz: 'Europe/Berlin' };
    db.prepare('INSERT INTO notify_pending_changes (room_id, window_end, zone, comment_id, change) VALUES (?, ?, ?, NULL, ?)').run(
      roomId,
      Date.parse('2026-06-01T12:05:00Z'),
      'Mars/Olympus_Mons',
      JSON.stringify(moved),
    );
    db.close();
    const channel = new RecordingChannel();
    const again = await startNotifyServer({ clock: new ManualClock(Date.parse('2026-06-01T12:06:00Z')), channel, dataDir: h.dataDir, notify: { changeWindowMs: WINDOW } });
    cleanups.push(() => again.server.close());
    await again.pass(1_000);
    const told = channel.deliveries.filter((d) => d.kind === 'changes').map((d) => [d.userId, d.body]);
    // The zone threw in dad's quiet hours and in every member's text: nobody was told, every minute, for a day.
    expect(told).toEqual(
      expect.arrayContaining([
        [dad.userId, `${mum.username} moved Swim to Thu 4 Jun 16:00`],
        [kid.userId, `${mum.username} moved Swim to Thu 4 Jun 16:00`],
      ]),
    );
    expect(told).toHaveLength(2);
  });

  it('quiet hours in a zone no one knows are read in UTC', () => {
    const now = Date.parse('2026-06-01T23:30:00Z');
    expect(quietEnd(now, '22:00', '07:00', 'Mars/Olympus_Mons')).toBe(Date.parse('2026-06-02T07:00:00Z'));
    expect(quietEnd(now, '08:00', '20:00', 'Mars/Olympus_Mons')).toBeNull();
  });
});
