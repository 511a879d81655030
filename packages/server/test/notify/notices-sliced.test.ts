/**
 * A change look at more events than fit one slice (an import of hundreds) reads them a slice per
 * turn of the event loop, so other rooms are served in between, and still tells each change once:
 * an edit that lands between two slices is told by the next look if its event was already read,
 * and is part of this look if not. Real server, SQLite, HTTP import; the look's room reads are
 * counted, and a member's edit is made to land after the first slice.
 */
import { listEvents, ROOT, updateEvent } from '@kith/model';
import { afterEach, expect, it } from 'vitest';
import { PRINT_SLICE } from '../../src/notify/notices.js';
import { manyEvents } from '../helpers/ics-files.js';
import { startMillers, untilNoRoomLoaded, type NotifyHarness } from './harness.js';

const open: NotifyHarness[] = [];
afterEach(async () => {
  for (const h of open.splice(0)) await h.server.close().catch(() => undefined);
});

const WINDOW = 60_000;
const IMPORTED = 2 * PRINT_SLICE + 200;

it('an import of hundreds is read in slices, and an edit between two slices is told once, by whoever made it', { timeout: 120_000 }, async () => {
  // Reminder and agenda reads go to the worker (threshold 1 byte): the room reads counted here are the change look's.
  const { channel, api, mum, dad, kid, roomId, pass, h } = await startMillers({ notify: { changeWindowMs: WINDOW, offLoopLookBytes: 1 } });
  open.push(h);
  // A first change and its look: the room's document is followed from here on, so the next look reads only what changed.
  const first = await api.request('POST', `/rooms/${roomId}/events`, {
    token: mum.token,
    body: { eventTitle: 'Swim', startTime: '2026-06-03T17:00', endTime: '2026-06-03T18:00', timeZone: 'Europe/Berlin' },
  });
  expect(first.status).toBe(201);
  await pass(1_000);

  const imported = await api.request('POST', `/rooms/${roomId}/import`, {
    token: mum.token,
    rawBody: manyEvents(IMPORTED, 'imp'),
    headers: { 'content-type': 'text/calendar' },
  });
  expect(imported.status).toBe(200);
  expect(imported.body.imported).toBe(IMPORTED);
  const keys = await h.rooms.read(roomId, (doc) => [...doc.getMap(ROOT.events).keys()].slice(1)); // the import's, in the look's order
  const early = keys[0]!; // in the first slice
  const late = keys[2 * PRINT_SLICE + 10]!; // in the third
  const titleOf = (id: string) => h.rooms.read(roomId, (doc) => listEvents(doc).find((e) => e.id === id)!.title);
  const lateTitle = await titleOf(late);

  // Dad renames both events once the look has read its plan and its first slice.
  const read = h.rooms.read.bind(h.rooms);
  let reads = 0;
  h.rooms.read = (async (id: string, fn: never, o?: never) => {
    if (id === roomId && ++reads === 3) {
      await h.rooms.edit(roomId, (doc) => {
        updateEvent(doc, early, { title: 'Early (dad)' }, { actor: dad.userId });
        updateEvent(doc, late, { title: 'Late (dad)' }, { actor: dad.userId });
      });
    }
    return read(id, fn, o);
  }) as typeof h.rooms.read;
  await pass(1_000);
  // The look: its plan, one read per slice and the comparison. Then the look dad's edit asked for,
  // in one read (two events).
  expect(reads).toBe(1 + Math.ceil(IMPORTED / PRINT_SLICE) + 1 + 1);
  h.rooms.read = read;
  await pass(WINDOW);
  const bodyFor = (userId: string) => channel.deliveries.filter((d) => d.kind === 'changes' && d.userId === userId).map((d) => d.body);
  // The kid hears every change once, in one notice: mum's Swim and her import, but for the late
  // event, read after dad's rename, which arrives as his, under its new title; then dad's rename of
  // the early event, read before it and told by the next look.
  const mumsAdds = 1 + IMPORTED - 1;
  expect(bodyFor(kid.userId)).toEqual([`${mum.username}: ${mumsAdds} added · ${dad.username} added Late (dad) · ${dad.username} changed Early (dad)`]);
  expect(bodyFor(mum.userId)).toEqual([`${dad.username} added Late (dad) · ${dad.username} changed Early (dad)`]);
  expect(bodyFor(dad.userId)).toEqual([`${mum.username}: ${mumsAdds} added`]);
  expect(lateTitle).not.toBe('Late (dad)');
});

it('a big room loaded again is pictured in the worker before its first change, compared whole in slices, and only the new change is told', { timeout: 120_000 }, async () => {
  const { channel, api, mum, dad, kid, roomId, pass, h } = await startMillers({ notify: { changeWindowMs: WINDOW, offLoopLookBytes: 1 }, unloadGraceMs: 50 });
  open.push(h);
  const imported = await api.request('POST', `/rooms/${roomId}/import`, {
    token: mum.token,
    rawBody: manyEvents(IMPORTED, 'imp'),
    headers: { 'content-type': 'text/calendar' },
  });
  expect(imported.status).toBe(200);
  await pass(WINDOW);
  await pass(WINDOW);
  const sent = channel.deliveries.length;
  const eventId = await h.rooms.read(roomId, (doc) => [...doc.getMap(ROOT.events).keys()][5]!);
  await untilNoRoomLoaded(h.server.url);

  // Dad's edit loads the room again: its document is new to the look, which reads all of it.
  const read = h.rooms.read.bind(h.rooms);
  let reads = 0;
  h.rooms.read = ((id: string, fn: never, o?: never) => {
    if (id === roomId) reads++;
    return read(id, fn, o);
  }) as typeof h.rooms.read;
  expect((await api.request('PATCH', `/rooms/${roomId}/events/${eventId}`, { token: dad.token, body: { eventTitle: 'Parents’ evening' } })).status).toBe(200);
  await pass(1_000);
  expect(reads).toBe(1 + Math.ceil(IMPORTED / PRINT_SLICE) + 1);
  h.rooms.read = read;
  // Its picture before dad's edit was taken as bytes inside that edit's transaction and read in the worker.
  const metrics = await (await fetch(`${h.server.url}/metrics`)).text();
  expect(metrics).toMatch(/^kith_notify_room_reads_total\{for="print",where="worker"\} 1$/m);
  await pass(WINDOW);
  const news = channel.deliveries.slice(sent).map((d) => [d.userId, d.body]);
  expect(news).toEqual(
    expect.arrayContaining([
      [mum.userId, `${dad.username} changed Parents’ evening`],
      [kid.userId, `${dad.username} changed Parents’ evening`],
    ]),
  );
  expect(news).toHaveLength(2);
});
