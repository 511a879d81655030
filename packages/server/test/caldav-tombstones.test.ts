/**
 * Sync-collection tombstones are pruned (sync-index.ts): beyond the newest N of a room, or older
 * than the age limit; the room's floor rises to the newest version pruned, so a token below it is
 * refused (RFC 6578 §3.2) rather than silently missing a deletion. On a real SQLite file with the
 * caldav module's own migrations.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { testServers } from '@kith/test-support';
import { caldavModule } from '../src/caldav/index.js';
import { SyncIndex } from '../src/caldav/sync-index.js';
import { calendarModule, defaultConfig, startKithServer, type KithConfig, type KithServer } from '../src/index.js';
import { openStorage } from '../src/storage/open-storage.js';
import type { Storage } from '../src/storage/storage.js';
import { apiClient } from './helpers/api.js';
import { CALDAV, DAV, calendarPath, dav, davUser, expectDavError, ICS, multistatus, objectPath, vevent } from './helpers/caldav.js';
import { TEST_JWT_SECRET } from './helpers/server.js';

/** A server whose rooms keep one tombstone each. */
const { startTestServer } = testServers<KithConfig, KithServer>(
  { defaultConfig, startKithServer: (config) => startKithServer(config, { modules: [calendarModule(), caldavModule({ tombstones: { maxTombstones: 1 } })] }) },
  { jwtSecret: TEST_JWT_SECRET, loginPerMinute: 1000, dataDirPrefix: 'kith-tombstones-' },
);

const dirs: string[] = [];
const opened: Storage[] = [];
afterAll(async () => {
  for (const s of opened) await s.close();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

async function caldavSql() {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kith-tombstones-'));
  dirs.push(dataDir);
  const storage = await openStorage({ dataDir, sqliteSynchronous: 'normal' });
  opened.push(storage);
  return storage.modules.open('caldav', caldavModule().migrations!);
}

const etags = (uids: string[]) => new Map(uids.map((u) => [u, { etag: `"${u}"` }]));

describe('sync tombstones', () => {
  it('keeps the newest N tombstones of a room and refuses tokens from before the ones it dropped', async () => {
    const sql = await caldavSql();
    const index = new SyncIndex(sql, { maxTombstones: 2 });
    const all = ['a', 'b', 'c', 'd', 'e'];
    const v1 = await index.record('r1', etags(all), 'all');
    expect(await index.floor('r1')).toBe(0);
    // Delete one object per version: a, then b, then c, then d.
    let live = [...all];
    const versions: number[] = [];
    for (const gone of ['a', 'b', 'c', 'd']) {
      live = live.filter((u) => u !== gone);
      versions.push(await index.record('r1', etags(live), new Set([gone])));
    }
    // Only c's and d's tombstones are kept: tokens from before b's deletion was recorded are too old.
    expect(await index.floor('r1')).toBe(versions[1]);
    const since = await index.changesSince('r1', versions[1]!, versions[3]!);
    expect(since.map((c) => [c.uid, c.deleted])).toEqual([['c', true], ['d', true]]);
    expect((await index.changesSince('r1', 0, versions[3]!)).map((c) => c.uid).sort()).toEqual(['c', 'd', 'e']);
    expect(v1).toBeLessThan(await index.floor('r1'));
    // Another room is not affected.
    await index.record('r2', etags(['x']), 'all');
    expect(await index.floor('r2')).toBe(0);
  });

  it('drops tombstones older than the age limit', async () => {
    const sql = await caldavSql();
    let now = Date.parse('2026-01-01T00:00:00Z');
    const index = new SyncIndex(sql, { tombstoneMs: 30 * 86_400_000, now: () => now });
    await index.record('r1', etags(['a', 'b', 'c']), 'all');
    const first = await index.record('r1', etags(['b', 'c']), new Set(['a']));
    now += 31 * 86_400_000;
    const second = await index.record('r1', etags(['c']), new Set(['b']));
    // a's tombstone is 31 days old: pruned when b's was written; b's stays.
    expect(await index.floor('r1')).toBe(first);
    expect((await index.changesSince('r1', first, second)).map((c) => c.uid)).toEqual(['b']);
    expect((await index.changesSince('r1', 0, second)).map((c) => c.uid).sort()).toEqual(['b', 'c']);
  });
});

describe('sync-collection over HTTP with pruned tombstones', () => {
  it('answers 403 valid-sync-token to a token from before a pruned deletion, and the deletion to a newer one', async () => {
    const server = await startTestServer();
    try {
      const api = apiClient(server.url);
      const anna = await davUser(api, 'anna');
      const room = await api.createRoom(anna.token, 'Family');
      const sync = (token: string) =>
        dav(server.url, 'REPORT', calendarPath(anna, room), {
          user: anna,
          depth: '1',
          body: `<D:sync-collection xmlns:D="DAV:" xmlns:C="${CALDAV}"><D:sync-token>${token}</D:sync-token><D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>`,
        });
      for (const uid of ['a@x', 'b@x', 'c@x']) expect((await dav(server.url, 'PUT', objectPath(anna, room, uid), { user: anna, body: vevent(uid), headers: ICS })).status).toBe(201);
      const start = multistatus(await sync('')).syncToken!;
      expect((await dav(server.url, 'DELETE', objectPath(anna, room, 'a@x'), { user: anna })).status).toBe(204);
      const afterA = multistatus(await sync(start));
      expect(afterA.responses.map((r) => [r.href, r.status])).toEqual([[objectPath(anna, room, 'a@x'), expect.stringContaining('404')]]);
      expect((await dav(server.url, 'DELETE', objectPath(anna, room, 'b@x'), { user: anna })).status).toBe(204);
      const afterB = multistatus(await sync(afterA.syncToken!));
      expect(afterB.responses.map((r) => r.href)).toEqual([objectPath(anna, room, 'b@x')]);
      // a's tombstone is gone: the first token could miss it, so it is refused and the client starts over.
      expectDavError(await sync(start), 403, { ns: DAV, name: 'valid-sync-token' });
      expect(multistatus(await sync(afterA.syncToken!)).responses.map((r) => r.href)).toEqual([objectPath(anna, room, 'b@x')]);
      expect(multistatus(await sync('')).responses.map((r) => r.href)).toEqual([objectPath(anna, room, 'c@x')]);
    } finally {
      await server.close();
    }
  });
});
