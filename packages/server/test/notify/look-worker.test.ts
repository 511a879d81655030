/**
 * A reminder look at a big room that is not in memory reads the room in a worker thread from its
 * stored bytes (ReminderReader), so the event loop neither loads nor expands it. Through the real
 * server, SQLite and a controllable clock: the same room, edits and clock give the same deliveries
 * whether its looks run in a worker (threshold 1 byte) or in process (the default threshold, which
 * this small room is under), and the worker's looks leave the room out of memory.
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
  for (const m of text.matchAll(/^kith_reminder_looks_total\{where="(\w+)"\} (\d+)$/gm)) out[m[1]!] = Number(m[2]);
  return out;
}

/** A family room with a daily reminder in Berlin time (across the autumn DST change), one for dad only and a one-off. */
async function run(offLoopLookBytes: number | undefined) {
  const clock = new ManualClock(at('2026-10-23T12:00:00Z'));
  const channel = new RecordingChannel();
  const h = await startNotifyServer({ clock, channel, unloadGraceMs: 50, notify: offLoopLookBytes === undefined ? {} : { offLoopLookBytes } });
  open.push(h);
  const api = apiClient(h.server.url);
  const mum = await api.signUp('mum');
  const dad = await api.signUp('dad');
  const roomId = await api.createRoom(mum.token);
  await api.addMember(mum.token, roomId, dad.token);
  await h.rooms.edit(roomId, (doc) => {
    const ctx = { actor: mum.userId };
    createEvent(doc, { title: 'Vitamins', start: '2026-10-24T08:00', end: '2026-10-24T08:15', tz: 'Europe/Berlin', rrule: 'FREQ=DAILY;COUNT=4', reminders: [{ minutesBefore: 0 }] }, ctx);
    createEvent(doc, { title: 'Bins', start: '2026-10-25T19:00', end: '2026-10-25T19:10', tz: 'Europe/Berlin', reminders: [{ minutesBefore: 60, for: [dad.userId] }] }, ctx);
    createEvent(doc, { title: 'Passport', start: '2026-11-22T09:00', end: '2026-11-22T10:00', tz: 'Europe/Berlin', reminders: [{ minutesBefore: 40_320 }] }, ctx);
  });
  await h.settle();
  // The first pass runs the looks the edit asked for (reminders, and the change notice, which loads the room).
  await clock.advanceTo(clock.now() + 60_000, h.settle);
  const loadedAfterLooks: number[] = [];
  for (let t = at('2026-10-23T18:00:00Z'); t < at('2026-10-28T12:00:00Z'); t += 6 * 3_600_000) {
    await untilNoRoomLoaded(h.server.url);
    await clock.advanceTo(t, h.settle);
    await h.settle();
    loadedAfterLooks.push(await roomsLoaded(h.server.url));
  }
  const fired = channel.deliveries
    .filter((d) => d.kind === 'reminder')
    .map((d) => `${d.title}|${d.userId === dad.userId ? 'dad' : 'mum'}|${d.key.split(':').slice(3, 6).join(':')}`)
    .sort();
  return { fired, looks: await looksBy(h.server.url), loadedAfterLooks };
}

describe('reminder looks at big rooms not in memory run in a worker', { timeout: 120_000 }, () => {
  it('sends exactly what looks in process send, and leaves the room out of memory', async () => {
    const inWorker = await run(1);
    const inProcess = await run(undefined);
    expect(inWorker.fired).toEqual(inProcess.fired);
    // Four mornings at 08:00 Berlin (CEST, then CET from 25 Oct), the bins for dad, the passport four weeks ahead for both.
    expect(inWorker.fired).toEqual([
      'Bins at 19:00|dad|2026-10-25T18:00:00.000Z',
      'Passport at 09:00|dad|2026-11-22T08:00:00.000Z',
      'Passport at 09:00|mum|2026-11-22T08:00:00.000Z',
      ...['dad', 'mum'].flatMap((who) => ['2026-10-24T06:00', '2026-10-25T07:00', '2026-10-26T07:00', '2026-10-27T07:00'].map((t) => `Vitamins at 08:00|${who}|${t}:00.000Z`)),
    ]);
    // Every look after the first pass found the room out of memory: in a worker for one, in process for the other.
    expect(inWorker.looks.worker).toBeGreaterThanOrEqual(7);
    expect(inProcess.looks.worker ?? 0).toBe(0);
    expect(inProcess.looks.loop).toBeGreaterThanOrEqual(7);
    // A worker's look does not load the room; one in process loads it (and lets it go at once: a transient read).
    expect(inWorker.loadedAfterLooks.every((n) => n === 0)).toBe(true);
  });
});
