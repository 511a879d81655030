/**
 * A CalDAV client nobody here wrote, the `tsdav` npm package, against the real server over
 * loopback: discovery from the server's URL, listing calendars and objects, create, update,
 * delete, time-range queries and sync-collection, with every change checked in Kith itself.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { calendarMultiGet, DAVClient, type DAVCalendar, type DAVObject } from 'tsdav';
import { eventIdForUid } from '../src/calendar/ics-import.js';
import { apiClient } from './helpers/api.js';
import { davUser, startCaldavServer, vevent, type DavUser } from './helpers/caldav.js';

describe('tsdav against Kith', () => {
  let server: Awaited<ReturnType<typeof startCaldavServer>>;
  let api: ReturnType<typeof apiClient>;
  let anna: DavUser;
  let room: string;
  let client: DAVClient;
  let calendar: DAVCalendar;
  let objects: DAVObject[];
  let syncToken: string | undefined;

  beforeAll(async () => {
    server = await startCaldavServer();
    api = apiClient(server.url);
    anna = await davUser(api, 'anna');
    room = await api.createRoom(anna.token, 'Family calendar');
    await api.createRoom(anna.token, 'Holidays');
    const made = await api.request('POST', `/rooms/${room}/events`, {
      token: anna.token,
      body: { eventTitle: 'Made in Kith', startTime: '2026-05-04T08:00', endTime: '2026-05-04T09:00', timeZone: 'Europe/Berlin' },
    });
    expect(made.status).toBe(201);
    client = new DAVClient({
      serverUrl: server.url,
      credentials: { username: anna.username, password: anna.appPassword },
      authMethod: 'Basic',
      defaultAccountType: 'caldav',
    });
  });
  afterAll(() => server?.close());

  const restEvent = async (uid: string) => api.request('GET', `/rooms/${room}/events/${eventIdForUid(uid)}`, { token: anna.token });

  it('discovers the account from the server URL and lists one calendar per room', async () => {
    await client.login();
    expect(client.account?.rootUrl).toBe(`${server.url}/dav/`);
    expect(client.account?.principalUrl).toBe(`${server.url}/dav/principals/${anna.userId}/`);
    expect(client.account?.homeUrl).toBe(`${server.url}/dav/calendars/${anna.userId}/`);
    const calendars = await client.fetchCalendars();
    expect(calendars.map((c) => c.displayName).sort()).toEqual(['Family calendar', 'Holidays']);
    calendar = calendars.find((c) => c.displayName === 'Family calendar')!;
    expect(calendar.url).toBe(`${server.url}/dav/calendars/${anna.userId}/${room}/`);
    expect(calendar.components).toEqual(['VEVENT']);
    expect(calendar.ctag).toBeTruthy();
    expect(calendar.syncToken).toBe(calendar.ctag);
    expect(calendar.calendarColor).toMatch(/^#/);
  });

  it('lists the objects, with data and ETags', async () => {
    objects = await client.fetchCalendarObjects({ calendar });
    expect(objects).toHaveLength(1);
    expect(objects[0]!.data).toContain('SUMMARY:Made in Kith');
    expect(objects[0]!.etag).toMatch(/^"/);
  });

  it('creates an object that Kith stores as an event with the client’s UID', async () => {
    const uid = 'tsdav-created-1@example.org';
    const res = await client.createCalendarObject({ calendar, filename: `${uid}.ics`, iCalString: vevent(uid, { summary: 'Made by tsdav' }) });
    expect(res.status).toBe(201);
    const ev = await restEvent(uid);
    expect(ev.status).toBe(200);
    expect(ev.body.eventTitle).toBe('Made by tsdav');
    objects = await client.fetchCalendarObjects({ calendar });
    expect(objects.map((o) => o.data).join('\n')).toContain(`UID:${uid}`);
  });

  it('updates an object with its ETag, and is refused with a stale one', async () => {
    const uid = 'tsdav-created-1@example.org';
    const mine = objects.find((o) => String(o.data).includes(`UID:${uid}`))!;
    const res = await client.updateCalendarObject({ calendarObject: { ...mine, data: String(mine.data).replace('SUMMARY:Made by tsdav', 'SUMMARY:Changed by tsdav') } });
    expect(res.status).toBe(204);
    expect((await restEvent(uid)).body.eventTitle).toBe('Changed by tsdav');
    const stale = await client.updateCalendarObject({ calendarObject: { ...mine, data: String(mine.data).replace('SUMMARY:Made by tsdav', 'SUMMARY:Lost update') } });
    expect(stale.status).toBe(412);
    expect((await restEvent(uid)).body.eventTitle).toBe('Changed by tsdav');
  });

  it('queries by time range', async () => {
    const may = await client.fetchCalendarObjects({ calendar, timeRange: { start: '2026-05-01T00:00:00Z', end: '2026-05-31T00:00:00Z' } });
    expect(may.map((o) => String(o.data).match(/SUMMARY:(.*)\r\n/)![1])).toEqual(['Made in Kith']);
  });

  it('syncs changes made elsewhere with sync-collection: created, updated and deleted', async () => {
    const collection = { ...calendar, objects: await client.fetchCalendarObjects({ calendar }), objectMultiGet: calendarMultiGet };
    // Changes in Kith and by another client.
    const made = await api.request('POST', `/rooms/${room}/events`, {
      token: anna.token,
      body: { eventTitle: 'Added in Kith', startTime: '2026-05-06T08:00', endTime: '2026-05-06T09:00', timeZone: 'Europe/Berlin' },
    });
    expect(made.status).toBe(201);
    const kithId = collection.objects.find((o) => String(o.data).includes('Made in Kith'))!.url;
    const kithEvent = decodeURIComponent(kithId.split('/').at(-1)!).replace('@kith.ics', '');
    expect((await api.request('PATCH', `/rooms/${room}/events/${kithEvent}`, { token: anna.token, body: { eventTitle: 'Renamed in Kith' } })).status).toBe(200);
    const gone = collection.objects.find((o) => String(o.data).includes('tsdav-created-1'))!;
    expect((await client.deleteCalendarObject({ calendarObject: gone })).status).toBe(204);
    expect((await restEvent('tsdav-created-1@example.org')).status).toBe(404);

    const synced = await client.smartCollectionSyncDetailed({ collection, method: 'webdav' });
    expect(synced.objects.created.map((o) => String(o.data).match(/SUMMARY:(.*)\r\n/)![1])).toEqual(['Added in Kith']);
    expect(synced.objects.updated.map((o) => String(o.data).match(/SUMMARY:(.*)\r\n/)![1])).toEqual(['Renamed in Kith']);
    expect(synced.objects.deleted.map((o) => o.url)).toEqual([gone.url]);
    syncToken = synced.syncToken;
    expect(syncToken).not.toBe(calendar.syncToken);

    // Synced again with nothing new: nothing to do.
    const again = await client.smartCollectionSyncDetailed({
      collection: { ...synced, objects: [...synced.objects.created, ...synced.objects.updated], objectMultiGet: calendarMultiGet },
      method: 'webdav',
    });
    expect(again.objects.created).toEqual([]);
    expect(again.objects.updated).toEqual([]);
    expect(again.objects.deleted).toEqual([]);
  });
});
