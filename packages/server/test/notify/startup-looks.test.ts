/**
 * The reminder scheduler's start-up pass reads only the rooms that need it: a server with 200 rooms
 * (real SQLite, real HTTP) restarts, and the rooms read while starting are counted on the real
 * RoomApi. Unchanged rooms with nothing due are not read; a room due while the server was down, a
 * room changed after its last look, and (once) a room never looked at are — and the reminder that
 * fell due while down in an otherwise unchanged room is still sent, once. The rooms the pass loads
 * leave memory with their look.
 */
import { createEvent } from '@kith/model';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/index.js';
import { apiClient } from '../helpers/api.js';
import { RecordingChannel, roomsLoaded, startNotifyServer, type NotifyHarness } from './harness.js';

const open: NotifyHarness[] = [];
afterEach(async () => {
  for (const h of open.splice(0)) await h.server.close().catch(() => undefined);
});

const at = (iso: string) => Date.parse(iso);
const ROOMS = 200;

describe('reminder start-up pass', { timeout: 180_000 }, () => {
  it('after a restart reads only the rooms due, changed or new, and still sends what fell due while down', async () => {
    const clock = new ManualClock(at('2026-06-01T08:00:00Z'));
    const channel = new RecordingChannel();
    let reads: string[] = [];
    /** Starts a server on the data dir, counting every room read from before notify is installed. */
    const start = async (dataDir?: string) => {
      reads = [];
      const h = await startNotifyServer({
        clock,
        channel,
        dataDir,
        onRooms: (rooms) => {
          const read = rooms.read.bind(rooms);
          rooms.read = ((roomId, fn, options) => {
            reads.push(roomId);
            return read(roomId, fn, options);
          }) as typeof rooms.read;
        },
      });
      open.push(h);
      await h.settle();
      return h;
    };
    const stop = async (h: NotifyHarness) => {
      await h.server.close();
      open.splice(open.indexOf(h), 1);
    };

    const first = await start();
    const api = apiClient(first.server.url);
    const mum = await api.signUp('mum');
    const roomIds: string[] = [];
    for (let i = 0; i < ROOMS; i++) roomIds.push(await api.createRoom(mum.token, `Room ${i}`));
    const [dueRoom, laterRoom, editedRoom] = roomIds as [string, string, string];
    // Due at 09:00, while the server is down; its event (10:00) is still ahead when it comes back.
    await first.rooms.edit(dueRoom, (doc) =>
      createEvent(doc, { title: 'Dentist', start: '2026-06-01T10:00', end: '2026-06-01T11:00', tz: 'UTC', reminders: [{ minutesBefore: 60 }] }, { actor: mum.userId }),
    );
    // Due in three days: its room is indexed from the table, not read.
    await first.rooms.edit(laterRoom, (doc) =>
      createEvent(doc, { title: 'Piano', start: '2026-06-04T10:00', end: '2026-06-04T11:00', tz: 'UTC', reminders: [{ minutesBefore: 60 }] }, { actor: mum.userId }),
    );
    await new Promise((r) => setTimeout(r, 30)); // lets the commits reach the module
    await clock.advanceTo(clock.now() + 1_000, first.settle);
    // Every new room was looked at once while running (created, then changed).
    expect(new Set(reads).size).toBe(ROOMS);
    await stop(first);

    // Restart with nothing due and nothing changed: the start-up pass reads no room at all.
    await clock.advanceTo(at('2026-06-01T08:30:00Z'));
    const second = await start(first.dataDir);
    expect(reads).toEqual([]);
    expect(second.parts.scheduler.roomsIndexed).toBe(ROOMS);
    // A change that is stored but not yet looked at when the server goes down (the look waits for the settle time).
    await second.rooms.edit(editedRoom, (doc) =>
      createEvent(doc, { title: 'Swim', start: '2026-06-05T10:00', end: '2026-06-05T11:00', tz: 'UTC' }, { actor: mum.userId }),
    );
    await stop(second);
    expect(reads).toEqual([]);
    expect(channel.deliveries).toEqual([]);

    // Down over 09:00: the due room and the changed room are read; the 198 others are not.
    await clock.advanceTo(at('2026-06-01T09:30:00Z'));
    const third = await start(first.dataDir);
    expect([...reads].sort()).toEqual([dueRoom, editedRoom].sort());
    expect(third.parts.scheduler.roomsIndexed).toBe(ROOMS);
    // The rooms the pass loaded left memory with their look (not after the 30 s unload grace).
    expect(await roomsLoaded(third.server.url)).toBe(0);
    expect(channel.deliveries.map((d) => [d.title, d.url.includes(dueRoom)])).toEqual([['Dentist at 10:00', true]]);
    await stop(third);

    // And again: nothing is read, nothing is sent twice.
    const fourth = await start(first.dataDir);
    expect(reads).toEqual([]);
    expect(channel.deliveries).toHaveLength(1);
    await stop(fourth);
  });

  it('a room not read at start-up still gets a change notice for its first edit after the restart', async () => {
    const WINDOW = 60_000;
    const clock = new ManualClock(at('2026-06-01T09:00:00Z'));
    const channel = new RecordingChannel();
    let reads = 0;
    const start = async (dataDir?: string) => {
      const h = await startNotifyServer({
        clock,
        channel,
        dataDir,
        notify: { changeWindowMs: WINDOW },
        onRooms: (rooms) => {
          const read = rooms.read.bind(rooms);
          rooms.read = ((roomId, fn, options) => {
            reads += 1;
            return read(roomId, fn, options);
          }) as typeof rooms.read;
        },
      });
      open.push(h);
      await h.settle();
      return h;
    };
    const first = await start();
    let api = apiClient(first.server.url);
    const mum = await api.signUp('mum');
    const dad = await api.signUp('dad');
    const roomId = await api.createRoom(mum.token, 'Millers');
    await api.addMember(mum.token, roomId, dad.token, 'editor');
    const created = await api.request('POST', `/rooms/${roomId}/events`, {
      token: mum.token,
      body: { eventTitle: 'Dentist', startTime: '2026-06-04T16:00', endTime: '2026-06-04T17:00', timeZone: 'Europe/Berlin' },
    });
    expect(created.status).toBe(201);
    const eventId = created.body.eventId ?? created.body.id;
    await first.pass(WINDOW);
    await first.pass(WINDOW);
    const noticesToDad = () => channel.deliveries.filter((d) => d.kind === 'changes' && d.userId === dad.userId).length;
    expect(noticesToDad()).toBe(1);
    await first.server.close();
    open.splice(open.indexOf(first), 1);

    reads = 0;
    const second = await start(first.dataDir);
    expect(reads).toBe(0); // the start-up pass did not read the room
    api = apiClient(second.server.url);
    const moved = await api.request('PATCH', `/rooms/${roomId}/events/${eventId}`, { token: mum.token, body: { eventTitle: 'Dentist (moved)' } });
    expect(moved.status).toBe(200);
    await second.pass(WINDOW);
    await second.pass(WINDOW);
    // Its first picture was taken when the edit loaded the room, before the edit reached it.
    expect(noticesToDad()).toBe(2);
  });
});
