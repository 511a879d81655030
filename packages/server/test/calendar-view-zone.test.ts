/**
 * `GET /rooms/:roomId/events?timeZone=` over real HTTP and a real SQLite file: each occurrence
 * keeps its times in the event's own zone (`startTime`/`endTime`) and also carries them as the
 * viewer's clock reads them (`localStartTime`/`localEndTime`), across daylight-saving changes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient } from './helpers/api.js';
import { expectError } from './helpers/http-assert.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let t: TestServer;
let api: ReturnType<typeof apiClient>;
let token: string;
let roomId: string;

beforeAll(async () => {
  t = await startTestServer();
  api = apiClient(t.url);
  token = (await api.signUp('zones')).token;
  roomId = await api.createRoom(token, 'Zones');
  const post = (body: unknown) => api.request('POST', `/rooms/${roomId}/events`, { token, body });
  // 09:00 in Berlin on Tuesdays; Berlin changes its clocks on 29 March, New York on 8 March.
  expect(
    (
      await post({
        eventTitle: 'Dentist',
        startTime: '2026-03-03T09:00',
        endTime: '2026-03-03T10:00',
        timeZone: 'Europe/Berlin',
        recurrence: ['RRULE:FREQ=WEEKLY;BYDAY=TU;COUNT=6'],
      })
    ).status,
  ).toBe(201);
  expect((await post({ eventTitle: 'Holiday', startTime: '2026-03-20', endTime: '2026-03-21' })).status).toBe(201);
  expect(
    (await post({ eventTitle: 'Pill', startTime: '2026-03-20T08:00', endTime: '2026-03-20T08:15', timeZone: null })).status,
  ).toBe(201);
});
afterAll(async () => {
  await t?.close();
});

const list = (query: string) => api.request('GET', `/rooms/${roomId}/events?from=2026-03-01&to=2026-04-15&${query}`, { token });

describe('occurrences rendered in the asked time zone', () => {
  it('adds the viewer\'s wall clock (with its offset) beside the event\'s own, through both clock changes', async () => {
    const res = await list('timeZone=America/New_York');
    expect(res.status).toBe(200);
    expect(res.body.timeZone).toBe('America/New_York');
    const dentist = res.body.occurrences.filter((o: any) => o.eventTitle === 'Dentist');
    expect(dentist.map((o: any) => [o.startTime, o.localStartTime, o.localEndTime])).toEqual([
      ['2026-03-03T09:00:00+01:00', '2026-03-03T03:00:00-05:00', '2026-03-03T04:00:00-05:00'],
      ['2026-03-10T09:00:00+01:00', '2026-03-10T04:00:00-04:00', '2026-03-10T05:00:00-04:00'],
      ['2026-03-17T09:00:00+01:00', '2026-03-17T04:00:00-04:00', '2026-03-17T05:00:00-04:00'],
      ['2026-03-24T09:00:00+01:00', '2026-03-24T04:00:00-04:00', '2026-03-24T05:00:00-04:00'],
      ['2026-03-31T09:00:00+02:00', '2026-03-31T03:00:00-04:00', '2026-03-31T04:00:00-04:00'],
      ['2026-04-07T09:00:00+02:00', '2026-04-07T03:00:00-04:00', '2026-04-07T04:00:00-04:00'],
    ]);
    // The event's own zone is still named.
    expect(dentist.every((o: any) => o.timeZone === 'Europe/Berlin')).toBe(true);
  });

  it('all-day occurrences keep their dates and floating ones their wall clock, in any zone', async () => {
    for (const zone of ['Asia/Tokyo', 'America/Los_Angeles']) {
      const res = await list(`timeZone=${zone}`);
      const holiday = res.body.occurrences.find((o: any) => o.eventTitle === 'Holiday');
      expect([holiday.localStartTime, holiday.localEndTime]).toEqual(['2026-03-20', '2026-03-21']);
      const pill = res.body.occurrences.find((o: any) => o.eventTitle === 'Pill');
      expect(pill.localStartTime.slice(0, 19)).toBe('2026-03-20T08:00:00');
      expect(pill.localStartTime).toBe(pill.startTime);
    }
  });

  it('without timeZone the local times are UTC, and the answer says so', async () => {
    const res = await list('');
    expect(res.body.timeZone).toBe('UTC');
    const first = res.body.occurrences.find((o: any) => o.eventTitle === 'Dentist');
    expect([first.startTime, first.localStartTime]).toEqual(['2026-03-03T09:00:00+01:00', '2026-03-03T08:00:00+00:00']);
  });

  it('an unknown or oversized zone is a 400 naming timeZone', async () => {
    expectError(await list('timeZone=Mars/Olympus'), 400, 'UNKNOWN_TIME_ZONE', /timeZone/);
    const tooLong = await list(`timeZone=${'A'.repeat(65)}`);
    expect(tooLong.status).toBe(400);
    expect(JSON.stringify(tooLong.body)).toMatch(/timeZone/);
  });
});
