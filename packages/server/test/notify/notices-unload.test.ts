/**
 * Change notices keep one picture per loaded room, not one per room ever seen (a server that reads
 * every room once — the reminder start-up pass of a big instance — would otherwise hold a picture
 * of each forever). Over real HTTP and SQLite with a short unload grace: a room's picture leaves
 * memory with the room and is taken again, from the stored room, before its next change (a room
 * loaded only to be read is not pictured); a change whose look
 * is still to come when its room unloads keeps the picture and is still told.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startMillers, untilNoRoomLoaded, type NotifyHarness } from './harness.js';

const open: NotifyHarness[] = [];
afterEach(async () => {
  for (const h of open.splice(0)) await h.server.close().catch(() => undefined);
});

const WINDOW = 60_000;
/** A notice body that starts with this text. */
const said = (start: string) => expect.stringMatching(new RegExp(`^${start.replace(/[()]/g, '\\$&')}`));

async function setup() {
  const { h, api, mum, dad, roomId, pass, channel } = await startMillers({ unloadGraceMs: 50, notify: { changeWindowMs: WINDOW } });
  open.push(h);
  const created = await api.request('POST', `/rooms/${roomId}/events`, {
    token: mum.token,
    body: { eventTitle: 'Dentist', startTime: '2026-06-04T16:00', endTime: '2026-06-04T17:00', timeZone: 'Europe/Berlin' },
  });
  expect(created.status).toBe(201);
  const eventId: string = created.body.eventId ?? created.body.id;
  await pass(WINDOW);
  await pass(WINDOW);
  const toDad = () => channel.deliveries.filter((d) => d.kind === 'changes' && d.userId === dad.userId);
  expect(toDad().map((d) => d.body)).toEqual([said(`${mum.username} added Dentist`)]);
  return { h, api, mum, roomId, eventId, pass, toDad };
}

describe('change notices and rooms leaving memory', { timeout: 60_000 }, () => {
  it("a room's picture goes when it unloads; the next change is told against the room as stored", async () => {
    const { h, api, mum, roomId, eventId, pass, toDad } = await setup();
    await untilNoRoomLoaded(h.server.url);
    expect(h.parts.notices.picturedRooms).toBe(0);
    // Loaded only to be read (as a reminder look or a feed does): not pictured at all.
    expect(await h.rooms.read(roomId, (doc) => doc.getMap('events').size)).toBe(1);
    expect(h.parts.notices.picturedRooms).toBe(0);

    const renamed = await api.request('PATCH', `/rooms/${roomId}/events/${eventId}`, { token: mum.token, body: { eventTitle: 'Dentist (Dr Lee)' } });
    expect(renamed.status).toBe(200);
    await pass(WINDOW);
    await pass(WINDOW);
    // Told as a change to the one event, not as the whole room added (the picture was retaken on load, before the edit).
    expect(toDad().map((d) => d.body)).toEqual([said(`${mum.username} added Dentist`), said(`${mum.username} changed Dentist (Dr Lee)`)]);
    await untilNoRoomLoaded(h.server.url);
    expect(h.parts.notices.picturedRooms).toBe(0);
  });

  it('a change whose look is still to come when the room unloads keeps the picture and is told', async () => {
    const { h, api, mum, roomId, eventId, pass, toDad } = await setup();
    await untilNoRoomLoaded(h.server.url);
    const moved = await api.request('PATCH', `/rooms/${roomId}/events/${eventId}`, { token: mum.token, body: { startTime: '2026-06-04T17:00', endTime: '2026-06-04T18:00' } });
    expect(moved.status).toBe(200);
    await new Promise((r) => setTimeout(r, 30)); // the commit reaches the module; its look waits for the (test) clock
    await untilNoRoomLoaded(h.server.url);
    expect(h.parts.notices.picturedRooms).toBe(1);
    await pass(WINDOW);
    await pass(WINDOW);
    expect(toDad().map((d) => d.body)).toEqual([said(`${mum.username} added Dentist`), said(`${mum.username} moved Dentist`)]);
  });
});
