/**
 * Deleting an account (the account module's `DELETE /users/me`) with the CalDAV module loaded, on
 * each engine: the CalDAV rows of the rooms deleted with it (sync index, object names) and the
 * user's app passwords go too; those of rooms that remain and of other users stay.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testServers } from '@kith/test-support';
import { accountModule, caldavModule, calendarModule, defaultConfig, startKithServer, type KithConfig, type KithServer } from '../src/index.js';
import type { ModuleSql } from '../src/modules/module.js';
import { apiClient } from './helpers/api.js';
import { storageEngines } from './helpers/postgres.js';
import { TEST_JWT_SECRET } from './helpers/server.js';
import { calendarPath, dav, davUser, ICS, multistatus, objectPath, vevent, type DavUser } from './helpers/caldav.js';

const { startTestServer } = testServers<KithConfig, KithServer>(
  { defaultConfig, startKithServer: (config) => startKithServer(config, { modules: [calendarModule(), caldavModule(), accountModule()] }) },
  { jwtSecret: TEST_JWT_SECRET, loginPerMinute: 1000, dataDirPrefix: 'kith-caldav-account-' },
);

const engines = await storageEngines('deleting an account with CalDAV');

describe.each(engines)('deleting an account with CalDAV on $engine', ({ skip, database }) => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let drop: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    if (skip) return;
    const db = await database();
    drop = db.drop;
    server = await startTestServer({ databaseUrl: db.databaseUrl });
  });
  afterAll(async () => {
    await server?.close();
    await drop?.();
  });

  /** Rows of each CalDAV table about one room, and app passwords of one user. */
  async function rows(sql: ModuleSql, roomId: string, userId: string) {
    const count = async (table: string, column: string, value: string) =>
      Number((await sql.get<{ n: number | string }>(`SELECT COUNT(*) AS n FROM ${table} WHERE ${column} = ?`, [value]))?.n ?? 0);
    return {
      syncObjects: await count('caldav_sync_objects', 'room_id', roomId),
      syncRooms: await count('caldav_sync_rooms', 'room_id', roomId),
      objectNames: await count('caldav_object_names', 'room_id', roomId),
      appPasswords: await count('caldav_app_passwords', 'user_id', userId),
    };
  }

  it.skipIf(skip)('drops the deleted rooms\' sync index and object names and the user\'s app passwords, and keeps the rest', async () => {
    const api = apiClient(server.url);
    const mum: DavUser = await davUser(api, 'mum');
    const dad: DavUser = await davUser(api, 'dad');
    const work = await api.createRoom(mum.token, 'Work');
    const shared = await api.createRoom(dad.token, 'Shared');
    await api.addMember(dad.token, shared, mum.token, 'editor');
    // In each room an object under a name other than its UID (a caldav_object_names row) and a sync (the index's rows).
    for (const [user, roomId] of [[mum, work], [dad, shared]] as const) {
      const put = await dav(server.url, 'PUT', objectPath(user, roomId, `named-${roomId}`), { user, body: vevent(`uid-${roomId}@x`), headers: ICS });
      expect(put.status).toBe(201);
      const sync = `<D:sync-collection xmlns:D="DAV:"><D:sync-token/><D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>`;
      expect(multistatus(await dav(server.url, 'REPORT', calendarPath(user, roomId), { user, body: sync })).responses).toHaveLength(1);
    }
    const sql = await server.server.storage.modules.open('caldav', caldavModule().migrations!);
    const full = { syncObjects: 1, syncRooms: 1, objectNames: 1, appPasswords: 1 };
    expect(await rows(sql, work, mum.userId)).toEqual(full);
    expect(await rows(sql, shared, dad.userId)).toEqual(full);

    const done = await api.request('DELETE', '/users/me', {
      token: mum.token,
      body: { password: 'correct horse battery', soleOwnedRooms: [{ roomId: work, action: 'delete' }] },
    });
    expect(done.status, JSON.stringify(done.body)).toBe(204);

    // Before: every row stayed, app passwords of an account that no longer exists among them.
    expect(await rows(sql, work, mum.userId)).toEqual({ syncObjects: 0, syncRooms: 0, objectNames: 0, appPasswords: 0 });
    expect(await rows(sql, shared, dad.userId)).toEqual(full);
    // The room that remains syncs on for its other member.
    const res = multistatus(await dav(server.url, 'PROPFIND', calendarPath(dad, shared), { user: dad, depth: '1' }));
    expect(res.responses.map((r) => r.href)).toContain(objectPath(dad, shared, `named-${shared}`));
    expect((await dav(server.url, 'PROPFIND', '/dav/', { user: mum, depth: '0' })).status).toBe(401);
  });
});
