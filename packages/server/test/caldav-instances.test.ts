/**
 * CalDAV served by two kith-server instances sharing PostgreSQL and Redis: any instance serves any
 * room; an object written on one is read on the other with the same ETag; sync tokens and ctags
 * handed out by one are understood by the other, and an incremental sync on either lists changes
 * made through both. Skipped (with the reason) when PostgreSQL or redis-server is missing, unless
 * KITH_REQUIRE_SERVICES=1.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, RedisProcess, redisServerAvailable, requireServices, type TestServer } from '@kith/test-support';
import type { KithServer } from '../src/index.js';
import { apiClient } from './helpers/api.js';
import { calendarPath, dav, davUser, ICS, multistatus, objectPath, startCaldavServer, vevent, DAV, type DavUser } from './helpers/caldav.js';
import { createTestSchema, probePostgres } from './helpers/postgres.js';

const pg = await probePostgres();
const haveRedis = redisServerAvailable();
const missing = [!pg.available && `PostgreSQL (${pg.reason})`, !haveRedis && 'redis-server'].filter(Boolean);
if (missing.length > 0) {
  const msg = `CalDAV across instances needs ${missing.join(' and ')}: ${requireServices ? 'failing (KITH_REQUIRE_SERVICES=1)' : 'skipping'}`;
  if (requireServices) throw new Error(msg);
  console.warn(msg);
}

const syncBody = (token: string) => `<D:sync-collection xmlns:D="DAV:"><D:sync-token>${token}</D:sync-token><D:prop><D:getetag/></D:prop></D:sync-collection>`;

async function eventually<T>(read: () => Promise<T>, ok: (v: T) => boolean, what: string): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe.skipIf(missing.length > 0)('CalDAV across two instances (PostgreSQL and Redis)', () => {
  let redis: RedisProcess;
  let dropSchema: () => Promise<void>;
  let instances: Array<TestServer<KithServer>>;
  let anna: DavUser;
  let room: string;

  beforeAll(async () => {
    if (!pg.available) return;
    redis = new RedisProcess(await freePort());
    await redis.start();
    const schema = await createTestSchema(pg.url);
    dropSchema = schema.drop;
    const databaseUrl = `${pg.url}?options=${encodeURIComponent(`-c search_path=${schema.schema}`)}`;
    instances = [];
    for (let i = 0; i < 2; i++) instances.push(await startCaldavServer({ databaseUrl, redisUrl: redis.url }));
    const api = apiClient(instances[0]!.url);
    anna = await davUser(api, 'anna');
    room = await api.createRoom(anna.token, 'Family');
  }, 60_000);
  afterAll(async () => {
    for (const i of instances ?? []) await i.close();
    await redis?.kill();
    await dropSchema?.();
  });

  const url = (i: number) => instances[i]!.url;
  const sync = async (i: number, token = '') => multistatus(await dav(url(i), 'REPORT', calendarPath(anna, room), { user: anna, body: syncBody(token) }));
  const hrefs = (r: Awaited<ReturnType<typeof sync>>) => r.responses.map((x) => `${x.href} ${x.status ?? x.props.get(`${DAV}|getetag`)?.text}`).sort();

  it('serves an object written on one instance from the other, with the same ETag', async () => {
    const put = await dav(url(0), 'PUT', objectPath(anna, room, 'one@x'), { user: anna, body: vevent('one@x', { summary: 'From A' }), headers: ICS });
    expect(put.status).toBe(201);
    const onA = await dav(url(0), 'GET', objectPath(anna, room, 'one@x'), { user: anna });
    const onB = await eventually(() => dav(url(1), 'GET', objectPath(anna, room, 'one@x'), { user: anna }), (r) => r.status === 200, 'the object on B');
    expect(onB.headers.get('etag')).toBe(onA.headers.get('etag'));
    expect(onB.body).toBe(onA.body);
  });

  it('keeps a client-chosen name on every instance (created on one, read, listed, deleted on the other)', async () => {
    const name = 'b7e1c0de-uuid-name';
    expect((await dav(url(0), 'PUT', objectPath(anna, room, name), { user: anna, body: vevent('named@x', { summary: 'Named' }), headers: ICS })).status).toBe(201);
    const onB = await eventually(() => dav(url(1), 'GET', objectPath(anna, room, name), { user: anna }), (r) => r.status === 200, 'the named object on B');
    expect(onB.body).toContain('UID:named@x');
    expect((await dav(url(1), 'GET', objectPath(anna, room, 'named@x'), { user: anna })).status).toBe(404);
    const listed = await sync(1);
    expect(listed.responses.map((r) => r.href)).toContain(objectPath(anna, room, name));
    expect((await dav(url(1), 'DELETE', objectPath(anna, room, name), { user: anna })).status).toBe(204);
    // A reaches the deletion a moment later (its copy of the room is updated through Redis).
    const gone = await eventually(() => sync(0, listed.syncToken), (r) => r.responses.some((x) => x.status?.includes('404')), 'the deletion on A');
    expect(gone.responses.map((r) => `${r.href} ${r.status}`)).toEqual([expect.stringMatching(new RegExp(`^${objectPath(anna, room, name)} .*404`))]);
  });

  it('shares sync tokens: a token from one instance syncs on the other, listing changes made through both', async () => {
    const first = await sync(0);
    const sameOnB = await eventually(() => sync(1), (r) => r.syncToken === first.syncToken, 'B at the same token');
    expect(hrefs(sameOnB)).toEqual(hrefs(first));

    // Writes through both instances at once.
    const [a, b] = await Promise.all([
      dav(url(0), 'PUT', objectPath(anna, room, 'two@x'), { user: anna, body: vevent('two@x', { summary: 'Via A' }), headers: ICS }),
      dav(url(1), 'PUT', objectPath(anna, room, 'three@x'), { user: anna, body: vevent('three@x', { summary: 'Via B' }), headers: ICS }),
    ]);
    expect([a.status, b.status]).toEqual([201, 201]);
    expect((await dav(url(1), 'DELETE', objectPath(anna, room, 'one@x'), { user: anna })).status).toBe(204);

    const expected = (r: Awaited<ReturnType<typeof sync>>) => {
      const seen = hrefs(r).join('\n');
      return seen.includes('two%40x.ics "') && seen.includes('three%40x.ics "') && seen.includes('one%40x.ics HTTP/1.1 404');
    };
    const fromA = await eventually(() => sync(0, first.syncToken), expected, 'A lists both writes and the delete');
    const fromB = await eventually(() => sync(1, first.syncToken), expected, 'B lists both writes and the delete');
    expect(hrefs(fromA)).toEqual(hrefs(fromB));
    // Each instance's newer token is understood by the other, and nothing is new after it.
    expect((await sync(1, fromA.syncToken)).responses).toEqual([]);
    expect((await sync(0, fromB.syncToken)).responses).toEqual([]);
    expect(fromA.syncToken).toBe(fromB.syncToken);
  });
});
