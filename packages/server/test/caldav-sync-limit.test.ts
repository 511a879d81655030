/**
 * sync-collection with `<D:limit><D:nresults>` (RFC 6578 §3.6–3.7), over loopback: a result longer
 * than the limit is truncated, says so with a 507 member for the collection, and hands out a
 * continuation token; following the tokens lists every object exactly once, even when all of
 * them were recorded in one version (the first sync of a room), and the last token syncs on as usual.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient } from './helpers/api.js';
import { CALDAV, calendarPath, dav, davUser, expectDavError, ICS, multistatus, objectPath, startCaldavServer, vevent, type DavUser } from './helpers/caldav.js';

describe('sync-collection with DAV:limit', () => {
  let server: Awaited<ReturnType<typeof startCaldavServer>>;
  let anna: DavUser;
  let room: string;

  beforeAll(async () => {
    server = await startCaldavServer();
    const api = apiClient(server.url);
    anna = await davUser(api, 'anna');
    room = await api.createRoom(anna.token, 'Family');
  });
  afterAll(() => server?.close());

  const sync = (token: string, limit?: string) =>
    dav(server.url, 'REPORT', calendarPath(anna, room), {
      user: anna,
      depth: '1',
      body: `<D:sync-collection xmlns:D="DAV:" xmlns:C="${CALDAV}"><D:sync-token>${token}</D:sync-token><D:sync-level>1</D:sync-level>${
        limit === undefined ? '' : `<D:limit><D:nresults>${limit}</D:nresults></D:limit>`
      }<D:prop><D:getetag/></D:prop></D:sync-collection>`,
    });

  it('pages through a room in continuation tokens, each object once, then syncs incrementally', async () => {
    const uids = ['e1@x', 'e2@x', 'e3@x', 'e4@x', 'e5@x'];
    for (const uid of uids) expect((await dav(server.url, 'PUT', objectPath(anna, room, uid), { user: anna, body: vevent(uid), headers: ICS })).status).toBe(201);
    const collection = calendarPath(anna, room);
    const seen: string[] = [];
    let token = '';
    const pages: number[] = [];
    for (let i = 0; i < 10; i++) {
      const page = multistatus(await sync(token, '2'));
      const truncated = page.responses.some((r) => r.href === collection && r.status?.includes('507'));
      const members = page.responses.filter((r) => r.href !== collection);
      pages.push(members.length);
      seen.push(...members.map((r) => r.href));
      token = page.syncToken!;
      if (!truncated) break;
    }
    expect(pages).toEqual([2, 2, 1]);
    expect(seen.sort()).toEqual(uids.map((u) => objectPath(anna, room, u)).sort());

    // The last token is an ordinary one: nothing new, then exactly what changed.
    expect(multistatus(await sync(token, '2')).responses).toEqual([]);
    expect((await dav(server.url, 'PUT', objectPath(anna, room, 'e3@x'), { user: anna, body: vevent('e3@x', { summary: 'Moved' }), headers: ICS })).status).toBe(204);
    expect(multistatus(await sync(token, '2')).responses.map((r) => r.href)).toEqual([objectPath(anna, room, 'e3@x')]);
  });

  it('refuses a limit that is not a positive whole number, and a forged continuation token', async () => {
    for (const bad of ['0', '-1', 'many', '']) expectDavError(await sync('', bad), 400);
    const token = multistatus(await sync('')).syncToken!;
    expectDavError(await sync(`${token}/x/y`), 403);
    expectDavError(await sync(`${token}/%E0%A4%A`), 403);
  });
});
