import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient } from './helpers/api.js';
import { calendarPath, dav, davUser, ICS, multistatus, objectPath, propfindBody, startCaldavServer, vevent, type DavUser } from './helpers/caldav.js';

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

describe('perf', () => {
  let server: Awaited<ReturnType<typeof startCaldavServer>>;
  let api: ReturnType<typeof apiClient>;
  let anna: DavUser;
  let room: string;
  beforeAll(async () => {
    server = await startCaldavServer({ limits: { maxRoomBytes: 200 * 1024 * 1024 } } as any);
    api = apiClient(server.url);
    anna = await davUser(api, 'anna');
    room = await api.createRoom(anna.token, 'Big');
    const lines = ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//t//EN'];
    for (let i = 0; i < 5000; i++) {
      const day = String(1 + (i % 28)).padStart(2, '0');
      const month = String(1 + (i % 12)).padStart(2, '0');
      lines.push('BEGIN:VEVENT', `UID:ev-${i}@bench`, 'DTSTAMP:20260101T000000Z', `DTSTART;TZID=Europe/Berlin:2026${month}${day}T090000`, `DTEND;TZID=Europe/Berlin:2026${month}${day}T100000`, `SUMMARY:Event ${i}`);
      if (i % 10 === 0) lines.push('RRULE:FREQ=WEEKLY;COUNT=20');
      lines.push('END:VEVENT');
      if (i % 10 === 0) lines.push('BEGIN:VEVENT', `UID:ev-${i}@bench`, 'DTSTAMP:20260101T000000Z', `RECURRENCE-ID;TZID=Europe/Berlin:2026${month}${day}T090000`, `DTSTART;TZID=Europe/Berlin:2026${month}${day}T110000`, `DTEND;TZID=Europe/Berlin:2026${month}${day}T120000`, `SUMMARY:Moved ${i}`, 'END:VEVENT');
    }
    lines.push('END:VCALENDAR', '');
    const res = await api.request('POST', `/rooms/${room}/import`, { token: anna.token, rawBody: lines.join('\r\n'), headers: { 'content-type': 'text/calendar' } });
    expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBe(200);
  }, 300_000);
  afterAll(() => server?.close());

  it('measures', async () => {
    let t = performance.now();
    const first = multistatus(await dav(server.url, 'PROPFIND', calendarPath(anna, room), { user: anna, depth: '1', body: propfindBody('D:getetag') }));
    console.log(`first PROPFIND depth 1 (${first.responses.length}): ${(performance.now() - t).toFixed(0)} ms`);
    t = performance.now();
    const sync = `<D:sync-collection xmlns:D="DAV:"><D:sync-token/><D:prop><D:getetag/></D:prop></D:sync-collection>`;
    const full = multistatus(await dav(server.url, 'REPORT', calendarPath(anna, room), { user: anna, body: sync }));
    console.log(`full sync: ${(performance.now() - t).toFixed(0)} ms`);
    let token = full.syncToken!;
    const samples: number[] = [];
    for (let i = 0; i < 50; i++) {
      expect((await dav(server.url, 'PUT', objectPath(anna, room, 'ev-1@bench'), { user: anna, body: vevent('ev-1@bench', { summary: `Change ${i}` }), headers: ICS })).status).toBe(204);
      t = performance.now();
      const inc = multistatus(await dav(server.url, 'REPORT', calendarPath(anna, room), { user: anna, body: sync.replace('<D:sync-token/>', `<D:sync-token>${token}</D:sync-token>`) }));
      samples.push(performance.now() - t);
      expect(inc.responses).toHaveLength(1);
      token = inc.syncToken!;
    }
    console.log(`incremental sync: p50 ${pct(samples, 50).toFixed(1)} p99 ${pct(samples, 99).toFixed(1)} ms`);
    const q: number[] = [];
    for (let i = 0; i < 10; i++) {
      t = performance.now();
      const body = `<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/></D:prop><C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:time-range start="20260301T000000Z" end="20260401T000000Z"/></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>`;
      const r = multistatus(await dav(server.url, 'REPORT', calendarPath(anna, room), { user: anna, body }));
      q.push(performance.now() - t);
      if (i === 0) console.log(`month query: ${r.responses.length} objects`);
    }
    console.log(`month query: p50 ${pct(q, 50).toFixed(1)} p99 ${pct(q, 99).toFixed(1)} ms`);
    t = performance.now();
    const hrefs = first.responses.filter((r) => r.href.endsWith('.ics')).map((r) => `<D:href>${r.href}</D:href>`).join('');
    const mg = multistatus(await dav(server.url, 'REPORT', calendarPath(anna, room), { user: anna, body: `<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/><C:calendar-data/></D:prop>${hrefs}</C:calendar-multiget>` }));
    console.log(`multiget all (${mg.responses.length}): ${(performance.now() - t).toFixed(0)} ms`);
  }, 300_000);
});
