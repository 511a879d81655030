/**
 * Reminder looks and daily agendas read a big room in a worker thread from its stored bytes
 * (RoomReader), so the event loop neither loads nor expands it, whether it is in memory or not. Through the real server, SQLite and a controllable clock: the same room, edits and
 * clock give the same reminders and agendas whether the reads run in a worker (threshold 1 byte) or
 * in process (the default threshold, which this small room is under); the worker's reads leave a
 * room out of memory, and of a room kept in memory they see every edit made to it.
 */
import { createEvent } from '@kith/model';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/index.js';
import { apiClient } from '../helpers/api.js';
import { RecordingChannel, roomsLoaded, startNotifyServer, untilNoRoomLoaded, type NotifyHarness } from './harness.js';

const open: NotifyHarness[] = [];
afterEach(async () => {
  for (const h of open.splice(0)) await h.server.close().catch(() => undefined);
});

const at = (iso: string) => Date.parse(iso);

async function looksBy(url: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^kith_notify_room_reads_total\{for="(\w+)",where="(\w+)"\} (\d+)$/gm)) out[`${m[1]}/${m[2]}`] = Number(m[3]);
  return out;
}

/** A family room with a daily reminder in Berlin time (across the autumn DST change), one for dad only and a one-off. */
async function run(opts: { offLoopLookBytes?: number; keepInMemory?: boolean } = {}) {
  const clock = new ManualClock(at('2026-10-23T12:00:00Z'));
  const channel = new RecordingChannel();
  const { keepInMemory, ...notify } = opts;
  const h = await startNotifyServer({ clock, channel, unloadGraceMs: 50, notify });
  open.push(h);
  const api = apiClient(h.server.url);
  const mum = await api.signUp('mum');
  const dad = await api.signUp('dad');
  const roomId = await api.createRoom(mum.token);
  await api.addMember(mum.token, roomId, dad.token);
  expect((await api.request('PUT', '/users/me/notification-settings', { token: dad.token, body: { timeZone: 'Europe/Berlin', dailyAgenda: { time: '07:30' } } })).status).toBe(200);
  await h.rooms.edit(roomId, (doc) => {
    const ctx = { actor: mum.userId };
    createEvent(doc, { title: 'Vitamins', start: '2026-10-24T08:00', end: '2026-10-24T08:15', tz: 'Europe/Berlin', rrule: 'FREQ=DAILY;COUNT=4', reminders: [{ minutesBefore: 0 }] }, ctx);
    createEvent(doc, { title: 'Bins', start: '2026-10-25T19:00', end: '2026-10-25T19:10', tz: 'Europe/Berlin', reminders: [{ minutesBefore: 60, for: [dad.userId] }] }, ctx);
    createEvent(doc, { title: 'Passport', start: '2026-11-22T09:00', end: '2026-11-22T10:00', tz: 'Europe/Berlin', reminders: [{ minutesBefore: 40_320 }] }, ctx);
  });
  await h.settle();
  // A watcher holds the room's document in memory, as an open socket that edits it would.
  const stopWatching = keepInMemory ? await h.rooms.watch(roomId, { onCommitted() {} }) : undefined;
  // The first pass runs the looks the edit asked for (reminders, and the change notice, which loads the room).
  await clock.advanceTo(clock.now() + 60_000, h.settle);
  const loadedAfterLooks: number[] = [];
  for (let t = at('2026-10-23T18:00:00Z'); t < at('2026-10-28T12:00:00Z'); t += 6 * 3_600_000) {
    if (!keepInMemory) await untilNoRoomLoaded(h.server.url);
    if (t === at('2026-10-25T12:00:00Z')) {
      // An edit on the way: its reminder is found by the next look, wherever it reads.
      await h.rooms.edit(roomId, (doc) => {
        createEvent(doc, { title: 'Dentist', start: '2026-10-26T10:00', end: '2026-10-26T10:30', tz: 'Europe/Berlin', reminders: [{ minutesBefore: 30 }] }, { actor: dad.userId });
      });
      await h.settle();
      // The looks this edit asks for (reminders, and the change notice, which loads the room) run first.
      await clock.advanceTo(clock.now() + 60_000, h.settle);
      if (!keepInMemory) await untilNoRoomLoaded(h.server.url);
    }
    await clock.advanceTo(t, h.settle);
    await h.settle();
    loadedAfterLooks.push(await roomsLoaded(h.server.url));
  }
  const builtAtEnd = h.server.sync.registry.rooms.get(roomId)?.documentBuilt === true;
  const stats = await h.server.storage.docs.stats(roomId);
  const sizes = { known: h.rooms.storedBytes(roomId), stored: stats.snapshotBytes + stats.logBytes };
  stopWatching?.();
  const agendas = channel.deliveries.filter((d) => d.kind === 'agenda').map((d) => `${d.title}|${d.body}`);
  const fired = channel.deliveries
    .filter((d) => d.kind === 'reminder')
    .map((d) => `${d.title}|${d.userId === dad.userId ? 'dad' : 'mum'}|${d.key.split(':').slice(3, 6).join(':')}`)
    .sort();
  return { fired, agendas, looks: await looksBy(h.server.url), loadedAfterLooks, builtAtEnd, sizes };
}

describe('notification reads of big rooms run in a worker', { timeout: 120_000 }, () => {
  it('send exactly the reminders and agendas reads in process send, and leave the room out of memory', async () => {
    const inWorker = await run({ offLoopLookBytes: 1 });
    const inProcess = await run();
    expect(inWorker.fired).toEqual(inProcess.fired);
    // Four mornings at 08:00 Berlin (CEST, then CET from 25 Oct), the bins for dad, the passport four weeks ahead for both.
    expect(inWorker.fired).toEqual([
      'Bins at 19:00|dad|2026-10-25T18:00:00.000Z',
      'Dentist at 10:00|dad|2026-10-26T09:00:00.000Z',
      'Dentist at 10:00|mum|2026-10-26T09:00:00.000Z',
      'Passport at 09:00|dad|2026-11-22T08:00:00.000Z',
      'Passport at 09:00|mum|2026-11-22T08:00:00.000Z',
      ...['dad', 'mum'].flatMap((who) => ['2026-10-24T06:00', '2026-10-25T07:00', '2026-10-26T07:00', '2026-10-27T07:00'].map((t) => `Vitamins at 08:00|${who}|${t}:00.000Z`)),
    ]);
    // Dad's mornings at 07:30 Berlin: the vitamins each day, the bins on the 25th.
    expect(inWorker.agendas).toEqual(inProcess.agendas);
    expect(inWorker.agendas.length).toBeGreaterThanOrEqual(4);
    expect(inWorker.agendas.filter((a) => a.includes('19:00 Bins'))).toHaveLength(1);
    expect(inWorker.agendas.every((a) => a.includes('08:00 Vitamins'))).toBe(true);
    // Every read after the first pass found the room out of memory: in a worker for one, in process for the other.
    expect(inWorker.looks['reminders/worker']).toBeGreaterThanOrEqual(7);
    expect(inWorker.looks['occurrences/worker']).toBeGreaterThanOrEqual(4);
    expect(Object.entries(inProcess.looks).filter(([k]) => k.endsWith('/worker')).every(([, n]) => n === 0)).toBe(true);
    expect(inProcess.looks['reminders/loop']).toBeGreaterThanOrEqual(7);
    // A worker's look does not load the room; one in process loads it (and lets it go at once: a transient read).
    expect(inWorker.loadedAfterLooks.every((n) => n === 0)).toBe(true);
  });

  it('of a room kept in memory send the same and see every edit', async () => {
    const inWorker = await run({ offLoopLookBytes: 1, keepInMemory: true });
    const inProcess = await run({ keepInMemory: true });
    expect(inWorker.fired).toEqual(inProcess.fired);
    expect(inWorker.fired.filter((f) => f.startsWith('Dentist'))).toHaveLength(2);
    expect(inWorker.fired).toHaveLength(13);
    expect(inWorker.agendas).toEqual(inProcess.agendas);
    expect(inWorker.agendas.length).toBeGreaterThanOrEqual(4);
    expect(inWorker.looks['reminders/worker']).toBeGreaterThanOrEqual(7);
    expect(inWorker.looks['occurrences/worker']).toBeGreaterThanOrEqual(4);
    expect(Object.entries(inProcess.looks).filter(([k]) => k.endsWith('/worker')).every(([, n]) => n === 0)).toBe(true);
    // The room stayed in memory throughout, with its document.
    expect(inWorker.builtAtEnd && inProcess.builtAtEnd).toBe(true);
    // Its size, which decides where it is read, is known without a query, and is what storage holds.
    expect(inWorker.sizes.known).toBe(inWorker.sizes.stored);
    expect(inWorker.sizes.stored).toBeGreaterThan(0);
    expect([...inWorker.loadedAfterLooks, ...inProcess.loadedAfterLooks].every((n) => n === 1)).toBe(true);
  });
});
