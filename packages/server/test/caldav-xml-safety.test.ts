/**
 * What the CalDAV writer puts in a multistatus, whatever clients stored or ask: only XML 1.0
 * characters (titles and room names holding U+FFFE, U+FFFF or C0 controls are answered, read back
 * by a strict XML parser), no PROPFIND whose property names are echoed for every object into
 * hundreds of megabytes, and an Allow header on every 405.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient } from './helpers/api.js';
import {
  CALDAV,
  calendarPath,
  DAV,
  dav,
  davUser,
  expectDavError,
  ICS,
  multistatus,
  objectPath,
  propfindBody,
  startCaldavServer,
  vevent,
  type DavUser,
} from './helpers/caldav.js';

/** Characters XML 1.0 cannot carry (not even as references) that a client can get into a stored title or name. */
const NOT_XML = ['\uFFFE', '\uFFFF', '\u0000', '\u0001', '\u000B', '\u001F', '\uD800'];

describe('CalDAV XML answers', () => {
  let server: Awaited<ReturnType<typeof startCaldavServer>>;
  let api: ReturnType<typeof apiClient>;
  let anna: DavUser;
  let room: string;

  beforeAll(async () => {
    server = await startCaldavServer();
    api = apiClient(server.url);
    anna = await davUser(api, 'anna');
    room = await api.createRoom(anna.token, 'Family');
  });
  afterAll(() => server?.close());

  const put = (roomId: string, uid: string, body: string) => dav(server.url, 'PUT', objectPath(anna, roomId, uid), { user: anna, body, headers: ICS });

  it('answers well-formed XML for events whose titles hold U+FFFE or U+FFFF, in every REPORT and PROPFIND', async () => {
    const party = await api.createRoom(anna.token, 'Party');
    expect((await put(party, 'plain@x', vevent('plain@x', { summary: 'Plain' }))).status).toBe(201);
    for (const [i, c] of ['\uFFFE', '\uFFFF'].entries()) {
      const res = await put(party, `odd-${i}@x`, vevent(`odd-${i}@x`, { summary: `Party ${c} night`, extra: [`LOCATION:Hall ${c}`, `DESCRIPTION:Bring ${c} cake`] }));
      expect(res.status).toBe(201);
    }
    const hrefs = ['plain@x', 'odd-0@x', 'odd-1@x'].map((uid) => objectPath(anna, party, uid));
    const bodies = {
      multiget: `<C:calendar-multiget xmlns:D="DAV:" xmlns:C="${CALDAV}"><D:prop><D:getetag/><C:calendar-data/></D:prop>${hrefs.map((h) => `<D:href>${h}</D:href>`).join('')}</C:calendar-multiget>`,
      query: `<C:calendar-query xmlns:D="DAV:" xmlns:C="${CALDAV}"><D:prop><D:getetag/><C:calendar-data/></D:prop><C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"/></C:comp-filter></C:filter></C:calendar-query>`,
      expand: `<C:calendar-query xmlns:D="DAV:" xmlns:C="${CALDAV}"><D:prop><C:calendar-data><C:expand start="20260301T000000Z" end="20260401T000000Z"/></C:calendar-data></D:prop><C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:time-range start="20260301T000000Z" end="20260401T000000Z"/></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>`,
      sync: `<D:sync-collection xmlns:D="DAV:" xmlns:C="${CALDAV}"><D:sync-token/><D:sync-level>1</D:sync-level><D:prop><D:getetag/><C:calendar-data/></D:prop></D:sync-collection>`,
    };
    const answers = [
      ...Object.values(bodies).map((body) => dav(server.url, 'REPORT', calendarPath(anna, party), { user: anna, depth: '1', body })),
      dav(server.url, 'PROPFIND', calendarPath(anna, party), { user: anna, depth: '1', body: propfindBody('D:getetag', 'C:calendar-data') }),
    ];
    for (const res of await Promise.all(answers)) {
      // The strict parser (saxes) refused these answers before: "disallowed character".
      const { responses } = multistatus(res);
      const objects = responses.filter((r) => r.href.endsWith('.ics'));
      expect(objects).toHaveLength(3);
      const texts = objects.map((r) => r.props.get(`${CALDAV}|calendar-data`)?.text ?? '');
      expect(texts.join('\n')).toContain('SUMMARY:Plain');
      expect(texts.join('\n')).toMatch(/SUMMARY:Party \uFFFD night/);
      for (const t of texts) for (const c of NOT_XML) expect(t).not.toContain(c);
    }
  });

  it('answers calendar discovery in well-formed XML when room names hold characters XML cannot carry (names stored before they were refused)', async () => {
    const names = NOT_XML.map((c, i) => `Fam${c}ily ${i}`);
    const rooms: string[] = [];
    // As an older server stored them (POST /rooms refuses them now: rooms.test.ts).
    for (const name of names) {
      const roomId = `legacy-${randomBytes(8).toString('hex')}`;
      await server.server.storage.rooms.create({ roomId, name, createdBy: anna.userId, createdAt: Date.now() });
      rooms.push(roomId);
    }
    const home = `/dav/calendars/${anna.userId}/`;
    const res = await dav(server.url, 'PROPFIND', home, { user: anna, depth: '1', body: propfindBody('D:displayname', 'D:resourcetype') });
    const { responses } = multistatus(res);
    const shown = new Map(responses.map((r) => [r.href, r.props.get(`${DAV}|displayname`)?.text]));
    expect(shown.get(calendarPath(anna, room))).toBe('Family');
    // (SQLite reads a stored lone surrogate back as three U+FFFD.)
  for (const [i, roomId] of rooms.entries()) expect(shown.get(calendarPath(anna, roomId))).toMatch(new RegExp(`^Fam\uFFFD+ily ${i}$`));
    // The calendar itself, and an allprop, too.
    for (const body of [propfindBody('D:displayname'), undefined]) {
      const one = multistatus(await dav(server.url, 'PROPFIND', calendarPath(anna, rooms[0]!), { user: anna, depth: '0', ...(body ? { body } : {}) }));
      expect(one.responses[0]!.props.get(`${DAV}|displayname`)?.text).toBe('Fam\uFFFDily 0');
    }
  });

  it('refuses with 400 a PROPFIND whose property names and namespaces are too long to echo for every object, at once, and answers ordinary ones', async () => {
    const big = await api.createRoom(anna.token, 'Many');
    for (let i = 0; i < 20; i++) expect((await put(big, `e${i}@x`, vevent(`e${i}@x`))).status).toBe(201);
    const ns = `urn:x:${'n'.repeat(3_900)}`;
    const name = (i: number) => `p${i}${'a'.repeat(3_900)}`;
    // ~1 MB: 256 names of 3,900 characters in one 3,900-character namespace. Before, each object's
    // 404 propstat echoed all of it (2 MB an object: 40 MB here, 4 GB of heap on 2,000 objects).
    const hostile = `<D:propfind xmlns:D="DAV:"><D:prop xmlns:X="${ns}">${Array.from({ length: 256 }, (_, i) => `<X:${name(i)}/>`).join('')}</D:prop></D:propfind>`;
    const started = Date.now();
    const refused = expectDavError(await dav(server.url, 'PROPFIND', calendarPath(anna, big), { user: anna, depth: '1', body: hostile }), 400);
    expect(JSON.stringify(refused)).toMatch(/at most 256 characters/);
    expect(Date.now() - started).toBeLessThan(5_000);

    // Short names, but too many characters in all: refused the same way.
    const wide = `<D:propfind xmlns:D="DAV:"><D:prop xmlns:X="urn:${'w'.repeat(200)}">${Array.from({ length: 256 }, (_, i) => `<X:q${i}${'b'.repeat(60)}/>`).join('')}</D:prop></D:propfind>`;
    const refusedWide = expectDavError(await dav(server.url, 'PROPFIND', calendarPath(anna, big), { user: anna, depth: '1', body: wide }), 400);
    expect(JSON.stringify(refusedWide)).toMatch(/in all/);
    // A REPORT's prop list is bounded the same way.
    const report = `<C:calendar-query xmlns:D="DAV:" xmlns:C="${CALDAV}"><D:prop xmlns:X="${ns}"><X:${name(0)}/></D:prop><C:filter><C:comp-filter name="VCALENDAR"/></C:filter></C:calendar-query>`;
    expectDavError(await dav(server.url, 'REPORT', calendarPath(anna, big), { user: anna, depth: '1', body: report }), 400);

    // What iOS asks of a calendar home (45 properties in six namespaces, unknown ones echoed 404) is answered.
    const asked = [
      'D:add-member', 'D:current-user-privilege-set', 'D:displayname', 'D:owner', 'D:quota-available-bytes', 'D:quota-used-bytes',
      'D:resource-id', 'D:resourcetype', 'D:supported-report-set', 'D:sync-token', 'D:getctag', 'C:calendar-description',
      'C:calendar-free-busy-set', 'C:calendar-timezone', 'C:default-alarm-vevent-date', 'C:default-alarm-vevent-datetime',
      'C:schedule-calendar-transp', 'C:schedule-default-calendar-URL', 'C:supported-calendar-component-set',
      'C:supported-calendar-component-sets', 'C:supported-calendar-data', 'C:max-attendees-per-instance', 'C:max-resource-size',
      'CS:allowed-sharing-modes', 'CS:getctag', 'CS:invite', 'CS:pre-publish-url', 'CS:publish-url', 'CS:push-transports',
      'CS:pushkey', 'CS:source', 'CS:subscribed-strip-alarms', 'CS:subscribed-strip-attachments', 'CS:subscribed-strip-todos',
      'A:autoprovisioned', 'A:calendar-color', 'A:calendar-order', 'A:language-code', 'A:location-code', 'A:refreshrate',
      'ME:bulk-requests', 'ME:provisioned-calendar', 'X2:calendar-container', 'X2:time-zone-id', 'X2:default-alarm',
    ];
    const ios = propfindBody(...asked).replace('<D:prop>', '<D:prop xmlns:ME="http://me.com/_namespace/" xmlns:X2="urn:example:vendor:calendar-extensions:2024">');
    const answered = multistatus(await dav(server.url, 'PROPFIND', calendarPath(anna, big), { user: anna, depth: '1', body: ios }));
    expect(answered.responses).toHaveLength(21);
    expect(answered.responses[0]!.props.get(`${DAV}|displayname`)?.text).toBe('Many');
    expect(answered.responses[0]!.missing).toContain('http://me.com/_namespace/|bulk-requests');
  });

  it('names the methods a resource allows on every 405 (RFC 9110 §15.5.6)', async () => {
    expect((await put(room, 'allow@x', vevent('allow@x'))).status).toBe(201);
    const allowOf = (res: { headers: Headers }) => (res.headers.get('allow') ?? '').split(',').map((m) => m.trim()).filter(Boolean);
    const cases: Array<[string, string, Record<string, string>?]> = [
      ['GET', calendarPath(anna, room)],
      ['HEAD', calendarPath(anna, room)],
      ['PUT', calendarPath(anna, room), ICS],
      ['DELETE', calendarPath(anna, room)],
      ['GET', `/dav/calendars/${anna.userId}/`],
      ['PUT', `/dav/calendars/${anna.userId}/`, ICS],
      ['DELETE', `/dav/principals/${anna.userId}/`],
      ['PUT', '/dav/', ICS],
      ['MKCALENDAR', calendarPath(anna, room)],
      ['PROPPATCH', objectPath(anna, room, 'allow@x')],
    ];
    for (const [method, path, headers] of cases) {
      const res = await dav(server.url, method, path, { user: anna, headers, ...(method === 'PUT' ? { body: vevent('x') } : {}) });
      expect(res.status, `${method} ${path}`).toBe(405);
      if (method !== 'HEAD') expectDavError(res, 405);
      const allow = allowOf(res);
      expect(allow, `${method} ${path}`).toContain('OPTIONS');
      expect(allow, `${method} ${path}`).toContain('PROPFIND');
      expect(allow, `${method} ${path}`).not.toContain(method);
    }
    // What the calendar allows is what it answers.
    const calendar = allowOf(await dav(server.url, 'PUT', calendarPath(anna, room), { user: anna, headers: ICS, body: vevent('x') }));
    expect(calendar.sort()).toEqual(['OPTIONS', 'PROPFIND', 'REPORT']);
    const object = allowOf(await dav(server.url, 'MKCOL', objectPath(anna, room, 'allow@x'), { user: anna }));
    expect(object.sort()).toEqual(['DELETE', 'GET', 'HEAD', 'OPTIONS', 'PROPFIND', 'PUT']);
  });
});
