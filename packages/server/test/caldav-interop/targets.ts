/**
 * The two servers every client script runs against: Debian's Radicale (the reference) and a real
 * Kith server (core + calendar + caldav modules, SQLite in a temp dir). Both hold one calendar
 * named "Family" loaded with the same seed, and one user who signs in with HTTP Basic — on Kith
 * with an app password, as a phone would.
 *
 * "Server side" edits go through each server's own way in: on Radicale a plain CalDAV PUT (it has
 * nothing else), on Kith the REST API the web app uses (so they reach the room's document, not
 * merely the CalDAV layer).
 */
import { RadicaleProcess, testServers } from '@kith/test-support';
import { caldavModule, calendarModule, defaultConfig, startKithServer, type KithConfig, type KithServer } from '../../src/index.js';
import { apiClient, type ApiResponse } from '../helpers/api.js';
import { TEST_JWT_SECRET } from '../helpers/server.js';
import { SEED_ICS } from './seed.js';

export const CALENDAR_NAME = 'Family';

export interface DavTarget {
  readonly name: 'Radicale' | 'Kith';
  /** Where a client starts (its "server address"): discovery goes from here. */
  readonly davUrl: string;
  /** The server's origin; vdirsyncer starts its discovery at `/.well-known/caldav` under it. */
  readonly origin: string;
  readonly username: string;
  readonly password: string;
  /** Titles of the calendar's events as the server holds them (series once), sorted. */
  titles(): Promise<string[]>;
  /** Renames the event titled `from` through the server's own way in (not through the client under test). */
  rename(from: string, to: string): Promise<void>;
  close(): Promise<void>;
}

const basic = (user: string, password: string) => 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64');

async function ok(res: Response, what: string): Promise<string> {
  const text = await res.text();
  if (!res.ok) throw new Error(`${what}: ${res.status} ${text.slice(0, 300)}`);
  return text;
}

/** Unfolded property values of every VEVENT in an iCalendar text (enough for SUMMARY and UID). */
function propertyValues(ics: string, name: string): string[] {
  const unfolded = ics.replace(/\r?\n[ \t]/g, '');
  const re = new RegExp(`^${name}(?:;[^:]*)?:(.*)$`, 'gm');
  return [...unfolded.matchAll(re)].map((m) => m[1]!.replace(/\r$/, ''));
}

export async function radicaleTarget(): Promise<DavTarget> {
  const username = 'anna';
  const password = 'radicale-test-password';
  const radicale = await RadicaleProcess.start({ [username]: password });
  const auth = basic(username, password);
  const calendarUrl = `${radicale.url}/${username}/family/`;
  // A PUT of a whole VCALENDAR onto a collection is Radicale's upload: one item per UID.
  await ok(await fetch(calendarUrl, { method: 'PUT', headers: { authorization: auth, 'content-type': 'text/calendar' }, body: SEED_ICS }), 'radicale seed');
  await ok(
    await fetch(calendarUrl, {
      method: 'PROPPATCH',
      headers: { authorization: auth, 'content-type': 'application/xml' },
      body: `<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:displayname>${CALENDAR_NAME}</D:displayname></D:prop></D:set></D:propertyupdate>`,
    }),
    'radicale displayname',
  );

  /** Every object of the calendar: href and body (PROPFIND depth 1, then GET each; small calendars only). */
  async function objects(): Promise<Array<{ href: string; etag: string; body: string }>> {
    const listing = await ok(await fetch(calendarUrl, { method: 'PROPFIND', headers: { authorization: auth, depth: '1' } }), 'radicale list');
    const hrefs = [...listing.matchAll(/<href>([^<]+\.ics)<\/href>/g)].map((m) => m[1]!);
    return Promise.all(
      hrefs.map(async (href) => {
        const res = await fetch(radicale.url + href, { headers: { authorization: auth } });
        return { href, etag: res.headers.get('etag') ?? '', body: await ok(res, `radicale GET ${href}`) };
      }),
    );
  }

  return {
    name: 'Radicale',
    davUrl: radicale.url + '/',
    origin: radicale.url,
    username,
    password,
    async titles() {
      const all = await objects();
      return all.map((o) => propertyValues(o.body, 'SUMMARY')[0]!).sort();
    },
    async rename(from, to) {
      const target = (await objects()).find((o) => propertyValues(o.body, 'SUMMARY').includes(from));
      if (!target) throw new Error(`radicale: no event titled ${from}`);
      const body = target.body.replace(/^SUMMARY(;[^:]*)?:.*$/m, `SUMMARY:${to}\r`);
      await ok(
        await fetch(radicale.url + target.href, { method: 'PUT', headers: { authorization: auth, 'content-type': 'text/calendar', 'if-match': target.etag }, body }),
        'radicale rename',
      );
    },
    close: () => radicale.close(),
  };
}

const { startTestServer } = testServers<KithConfig, KithServer>(
  { defaultConfig, startKithServer: (config) => startKithServer(config, { modules: [calendarModule(), caldavModule()] }) },
  { jwtSecret: TEST_JWT_SECRET, loginPerMinute: 1000, dataDirPrefix: 'kith-caldav-interop-' },
);

/** Kith's target also opens the room to the test's own web-app-like clients (Yjs over /sync, REST). */
export interface KithTarget extends DavTarget {
  readonly name: 'Kith';
  readonly wsUrl: string;
  readonly roomId: string;
  readonly userId: string;
  /** The user's bearer token for REST and the sync socket. */
  readonly token: string;
  /** `GET /rooms/:roomId/events/:eventId` (the REST view of one event). */
  event(eventId: string): Promise<{ eventTitle: string; startTime: string; endTime: string; reminders: Array<{ id: string; minutesBefore: number; for: string[] | null }> }>;
}

export async function kithTarget(): Promise<KithTarget> {
  const server = await startTestServer();
  try {
    const api = apiClient(server.url);
    const user = await api.signUp('anna');
    const roomId = await api.createRoom(user.token, CALENDAR_NAME);
    const imported = await api.request('POST', `/rooms/${roomId}/import`, { token: user.token, headers: { 'content-type': 'text/calendar' }, rawBody: SEED_ICS });
    if (imported.status !== 200 || imported.body.imported !== 3) throw new Error(`kith seed: ${imported.status} ${JSON.stringify(imported.body)}`);
    const appPassword = await api.request('POST', '/users/me/app-passwords', { token: user.token, body: { label: 'interop test' } });
    if (appPassword.status !== 201) throw new Error(`kith app password: ${appPassword.status} ${JSON.stringify(appPassword.body)}`);

    /** Every event of the room (series once), through the REST occurrences listing. */
    async function events(): Promise<Array<{ eventId: string; eventTitle: string }>> {
      const byId = new Map<string, { eventId: string; eventTitle: string }>();
      let path: string | null = `/rooms/${roomId}/events?from=2025-01-01&to=2028-01-01&limit=500`;
      while (path) {
        const page: ApiResponse = await api.request('GET', path, { token: user.token });
        if (page.status !== 200) throw new Error(`kith events: ${page.status} ${JSON.stringify(page.body)}`);
        for (const o of page.body.occurrences) if (!byId.has(o.eventId)) byId.set(o.eventId, o);
        path = page.body.nextUrl ?? null;
      }
      return [...byId.values()];
    }

    return {
      name: 'Kith',
      wsUrl: server.wsUrl,
      roomId,
      userId: user.userId,
      token: user.token,
      async event(eventId) {
        const res = await api.request('GET', `/rooms/${roomId}/events/${eventId}`, { token: user.token });
        if (res.status !== 200) throw new Error(`kith event: ${res.status} ${JSON.stringify(res.body)}`);
        return res.body;
      },
      davUrl: server.url + '/dav/',
      origin: server.url,
      username: user.username,
      password: appPassword.body.password,
      async titles() {
        return (await events()).map((e) => e.eventTitle).sort();
      },
      async rename(from, to) {
        const target = (await events()).find((e) => e.eventTitle === from);
        if (!target) throw new Error(`kith: no event titled ${from}`);
        const res = await api.request('PATCH', `/rooms/${roomId}/events/${target.eventId}`, { token: user.token, body: { eventTitle: to } });
        if (res.status !== 200) throw new Error(`kith rename: ${res.status} ${JSON.stringify(res.body)}`);
      },
      close: () => server.close(),
    };
  } catch (err) {
    await server.close();
    throw err;
  }
}
