/**
 * The calendar-home listing (PROPFIND Depth 1 on `/dav/calendars/<user>/`): every room of the
 * user with its ctag and sync token, for a user with more rooms than the CalDAV object cache
 * keeps (16). A room's version comes from the sync index when the room is as it was last recorded,
 * so a listing renders no room that did not change (counted by kith_caldav_rooms_rendered_total),
 * and the ctag and token still move whenever an object changes, however it was changed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient } from './helpers/api.js';
import { CALDAV, calendarPath, DAV, dav, davUser, ICS, multistatus, objectPath, propfindBody, startCaldavServer, vevent, type DavUser } from './helpers/caldav.js';

const ROOMS = 40;
const CS = 'http://calendarserver.org/ns/';

const syncBody = (token: string) =>
  `<D:sync-collection xmlns:D="DAV:" xmlns:C="${CALDAV}"><D:sync-token>${token}</D:sync-token><D:prop><D:getetag/></D:prop></D:sync-collection>`;

function roomIcs(room: number, summary = 'Event'): string {
  const events = [0, 1, 2].flatMap((i) => [
    'BEGIN:VEVENT',
    `UID:r${room}-e${i}@x`,
    'DTSTAMP:20260101T000000Z',
    `DTSTART:2026031${i}T090000Z`,
    `DTEND:2026031${i}T100000Z`,
    `SUMMARY:${summary} ${i}`,
    'END:VEVENT',
  ]);
  return ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//test//home//EN', ...events, 'END:VCALENDAR', ''].join('\r\n');
}

describe('CalDAV calendar home with more rooms than the object cache keeps', () => {
  let server: Awaited<ReturnType<typeof startCaldavServer>>;
  let api: ReturnType<typeof apiClient>;
  let anna: DavUser;
  const rooms: string[] = [];

  beforeAll(async () => {
    server = await startCaldavServer();
    api = apiClient(server.url);
    anna = await davUser(api, 'anna');
    for (let r = 0; r < ROOMS; r++) {
      const room = await api.createRoom(anna.token, `Room ${r}`);
      const imported = await api.request('POST', `/rooms/${room}/import`, { token: anna.token, rawBody: roomIcs(r), headers: { 'content-type': 'text/calendar' } });
      expect(imported.status).toBe(200);
      rooms.push(room);
    }
  }, 120_000);
  afterAll(() => server?.close());

  const counter = async (name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(String((await api.request('GET', '/metrics')).body))?.[1] ?? 0);
  const rendered = () => counter('kith_caldav_rooms_rendered_total');

  /** Each room's ctag and sync token from one home listing. */
  async function listing(): Promise<Map<string, { ctag: string; token: string }>> {
    const res = multistatus(
      await dav(server.url, 'PROPFIND', `/dav/calendars/${anna.userId}/`, { user: anna, depth: '1', body: propfindBody('D:displayname', 'CS:getctag', 'D:sync-token') }),
    );
    const out = new Map<string, { ctag: string; token: string }>();
    for (const r of res.responses) {
      const room = rooms.find((id) => r.href === calendarPath(anna, id));
      if (room === undefined) continue;
      out.set(room, { ctag: r.props.get(`${CS}|getctag`)!.text, token: r.props.get(`${DAV}|sync-token`)!.text });
    }
    expect(out.size).toBe(ROOMS);
    return out;
  }

  it('answers every room’s ctag again without rendering any room, and moves only the changed room’s, however it changed', async () => {
    const first = await listing();
    const afterFirst = await rendered();
    expect(afterFirst).toBeGreaterThanOrEqual(ROOMS - 16); // the first listing records every room once

    // Nothing changed: the same ctags and tokens, and no room rendered (before: all 40, every time,
    // each pushing another out of the 16-room cache).
    const second = await listing();
    expect(await rendered()).toBe(afterFirst);
    expect(second).toEqual(first);

    // A change through the app (not through CalDAV) to a room the cache no longer keeps, and one
    // through CalDAV to another.
    const viaApp = rooms[0]!;
    const viaDav = rooms[1]!;
    const updated = await api.request('POST', `/rooms/${viaApp}/import`, { token: anna.token, rawBody: roomIcs(0, 'Moved'), headers: { 'content-type': 'text/calendar' } });
    expect(updated.status).toBe(200);
    expect((await dav(server.url, 'PUT', objectPath(anna, viaDav, 'added@x'), { user: anna, body: vevent('added@x'), headers: ICS })).status).toBe(201);

    const beforeThird = await rendered(); // the PUT rendered its room if the cache no longer kept it
    const third = await listing();
    for (const room of rooms) {
      if (room === viaApp || room === viaDav) expect(third.get(room)!.ctag, room).not.toBe(first.get(room)!.ctag);
      else expect(third.get(room), room).toEqual(first.get(room));
    }
    // Only the room changed outside the cache is rendered again (the PUT's room is kept since the PUT).
    expect(await rendered()).toBeLessThanOrEqual(beforeThird + 1);

    // The tokens of both listings are the rooms' own: a sync from the first lists the changes, from the third nothing.
    const changes = multistatus(await dav(server.url, 'REPORT', calendarPath(anna, viaApp), { user: anna, body: syncBody(first.get(viaApp)!.token) }));
    expect(changes.responses.map((r) => r.href).sort()).toEqual([0, 1, 2].map((i) => objectPath(anna, viaApp, `r0-e${i}@x`)).sort());
    expect(changes.syncToken).toBe(third.get(viaApp)!.token);
    const added = multistatus(await dav(server.url, 'REPORT', calendarPath(anna, viaDav), { user: anna, body: syncBody(first.get(viaDav)!.token) }));
    expect(added.responses.map((r) => r.href)).toEqual([objectPath(anna, viaDav, 'added@x')]);
    for (const room of [viaApp, viaDav]) {
      expect(multistatus(await dav(server.url, 'REPORT', calendarPath(anna, room), { user: anna, body: syncBody(third.get(room)!.token) })).responses).toEqual([]);
    }

    const before = await rendered();
    expect(await listing()).toEqual(third);
    expect(await rendered()).toBe(before);
  }, 60_000);
});
