/**
 * Links die with the role that made them, for good: an owner's invites and feed stop working once
 * they are demoted, leave or are removed, and stay dead when they are made an owner again or
 * re-join (whoever demoted them may have done it to cut off what they had shared). Over real HTTP,
 * on SQLite and on PostgreSQL; and the migration that revokes links already dead that way.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStorage } from '../src/storage/open-storage.js';
import { openPostgresStorage } from '../src/storage/postgres/postgres-storage.js';
import { PG_MIGRATIONS } from '../src/storage/postgres/migrations.js';
import { MIGRATIONS } from '../src/storage/sqlite/migrations.js';
import type { Storage } from '../src/storage/storage.js';
import { apiClient } from './helpers/api.js';
import { expectError } from './helpers/http-assert.js';
import { createTestSchema, probePostgres, storageEngines } from './helpers/postgres.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const probe = await probePostgres();
const engines = await storageEngines('an owner’s links stay revoked once they lose the role');

type Api = ReturnType<typeof apiClient>;
type User = Awaited<ReturnType<Api['signUp']>>;

describe.each(engines)('an owner’s links stay revoked once they lose the role ($engine)', ({ skip, database }) => {
  let t: TestServer;
  let api: Api;
  let drop: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    if (skip) return;
    const db = await database();
    drop = db.drop;
    t = await startTestServer({ databaseUrl: db.databaseUrl });
    api = apiClient(t.url);
  }, 30_000);
  afterAll(async () => {
    await t?.close();
    await drop?.();
  });

  const setRole = (by: User, roomId: string, userId: string, role: string) =>
    api.request('PATCH', `/rooms/${roomId}/members/${userId}`, { token: by.token, body: { role } });

  /** Ann and Ben own a room; Ben makes an invite and the room's feed, both working. */
  async function bensLinks() {
    const [ann, ben, cara] = (await Promise.all(['ann', 'ben', 'cara'].map((p) => api.signUp(p)))) as [User, User, User];
    const roomId = await api.createRoom(ann.token);
    await api.addMember(ann.token, roomId, ben.token, 'owner');
    const invite = await api.request('POST', `/rooms/${roomId}/invites`, { token: ben.token, body: { role: 'editor', maxUses: 5 } });
    expect(invite.status, JSON.stringify(invite.body)).toBe(201);
    const feed = await api.request('POST', `/rooms/${roomId}/feed`, { token: ben.token });
    expect(feed.status, JSON.stringify(feed.body)).toBe(201);
    const links = { code: invite.body.code as string, inviteId: invite.body.inviteId as string, feedPath: new URL(feed.body.url).pathname };
    expect((await api.request('GET', `/invites/${links.code}`)).status).toBe(200);
    expect((await api.request('GET', links.feedPath)).status).toBe(200);
    return { ann, ben, cara, roomId, links };
  }

  /** Ben's invite answers 410 INVITE_REVOKED (preview and accept), his feed 404 FEED_NOT_FOUND. */
  async function expectRevoked(cara: User, links: { code: string; feedPath: string }) {
    expectError(await api.request('GET', `/invites/${links.code}`), 410, 'INVITE_REVOKED');
    expectError(await api.request('POST', `/invites/${links.code}/accept`, { token: cara.token }), 410, 'INVITE_REVOKED');
    expectError(await api.request('GET', links.feedPath), 404, 'FEED_NOT_FOUND');
  }

  /** The remaining owner sees it too: Ben's invite is listed as unusable, the room has no feed. */
  async function expectOwnerSeesRevoked(ann: User, roomId: string, links: { inviteId: string }) {
    const list = await api.request('GET', `/rooms/${roomId}/invites`, { token: ann.token });
    expect(list.body.invites.find((i: { inviteId: string }) => i.inviteId === links.inviteId)).toMatchObject({ usable: false });
    expect((await api.request('GET', `/rooms/${roomId}/feed`, { token: ann.token })).body).toEqual({ active: false, createdAt: null });
  }

  for (const lower of ['editor', 'viewer']) {
    it.skipIf(skip)(`demoted to ${lower} and then made an owner again, the owner’s invite and feed stay revoked`, async () => {
      const { ann, ben, cara, roomId, links } = await bensLinks();
      const annsInvite = await api.request('POST', `/rooms/${roomId}/invites`, { token: ann.token, body: { role: 'viewer' } });
      expect((await setRole(ann, roomId, ben.userId, lower)).status).toBe(200);
      await expectRevoked(cara, links);
      expect((await setRole(ann, roomId, ben.userId, 'owner')).status).toBe(200);
      await expectRevoked(cara, links);
      await expectOwnerSeesRevoked(ann, roomId, links);
      expect((await api.request('GET', `/rooms/${roomId}`, { token: cara.token })).status).toBe(404);
      // Only Ben's links went: Ann's invite still admits.
      const dora = await api.signUp('dora');
      expect((await api.request('POST', `/invites/${annsInvite.body.code}/accept`, { token: dora.token })).status).toBe(200);
      // Owner again, Ben makes new links on purpose, and those work.
      const fresh = await api.request('POST', `/rooms/${roomId}/invites`, { token: ben.token, body: { role: 'viewer' } });
      expect((await api.request('POST', `/invites/${fresh.body.code}/accept`, { token: cara.token })).status).toBe(200);
      const feed = await api.request('POST', `/rooms/${roomId}/feed`, { token: ben.token });
      expect((await api.request('GET', new URL(feed.body.url).pathname)).status).toBe(200);
    });
  }

  it.skipIf(skip)('having left and re-joined as an owner, the owner’s old invite and feed stay revoked', async () => {
    const { ann, ben, cara, roomId, links } = await bensLinks();
    expect((await api.request('DELETE', `/rooms/${roomId}/members/${ben.userId}`, { token: ben.token })).status).toBe(204);
    await expectRevoked(cara, links);
    await api.addMember(ann.token, roomId, ben.token, 'owner');
    await expectRevoked(cara, links);
    await expectOwnerSeesRevoked(ann, roomId, links);
  });

  it.skipIf(skip)('removed and added again as an owner, the owner’s old invite and feed stay revoked', async () => {
    const { ann, ben, cara, roomId, links } = await bensLinks();
    expect((await api.request('DELETE', `/rooms/${roomId}/members/${ben.userId}`, { token: ann.token })).status).toBe(204);
    await expectRevoked(cara, links);
    await api.addMember(ann.token, roomId, ben.token, 'owner');
    await expectRevoked(cara, links);
    await expectOwnerSeesRevoked(ann, roomId, links);
  });

});

// ---------------------------------------------------------------------------------------------
// The migration: links already dead because their creator is no longer an owner stay dead.

/** Rooms as the previous schema held them: Ann owns, Ben was an owner and is now an editor. */
const ROWS = {
  users: [
    ['u-ann', 'ann'],
    ['u-ben', 'ben'],
    ['u-cara', 'cara'],
  ],
  rooms: [
    ['r-1', 'u-ann'],
    ['r-2', 'u-ben'],
  ],
  members: [
    ['r-1', 'u-ann', 'owner'],
    ['r-1', 'u-ben', 'editor'],
    ['r-2', 'u-ben', 'editor'],
    ['r-2', 'u-ann', 'owner'],
  ],
  invites: [
    ['i-ann', 'r-1', 'u-ann'],
    ['i-ben', 'r-1', 'u-ben'],
  ],
  feeds: [
    ['r-1', 'f-ann', 'u-ann'],
    ['r-2', 'f-ben', 'u-ben'],
  ],
};

/** Ben's links, dead before the migration, stay dead once he is an owner again; Ann's work. */
async function expectMigrated(s: Storage): Promise<void> {
  expect((await s.rooms.findInvite('i-ben'))?.revokedAt).toEqual(expect.any(Number));
  expect((await s.rooms.findInvite('i-ann'))?.revokedAt).toBeNull();
  expect(await s.feeds.findByTokenHash('f-ben')).toBeUndefined();
  expect((await s.feeds.findByTokenHash('f-ann'))?.createdBy).toBe('u-ann');
  expect(await s.rooms.setRole('r-1', 'u-ben', 'owner')).toBe('ok');
  expect(await s.rooms.setRole('r-2', 'u-ben', 'owner')).toBe('ok');
  expect(await s.rooms.acceptInvite('i-ben', 'u-cara', Date.now())).toEqual({ outcome: 'revoked' });
  expect(await s.feeds.get('r-2')).toBeUndefined();
  expect((await s.rooms.acceptInvite('i-ann', 'u-cara', Date.now())).outcome).toBe('joined');
}

describe('the migration to links revoked for good', () => {
  it('SQLite: revokes the invites and deletes the feeds whose creator is no longer an owner', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kith-links-'));
    const file = path.join(dataDir, 'kith.sqlite');
    const db = new BetterSqlite3(file);
    db.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
    for (const m of MIGRATIONS.filter((m) => m.version <= 7)) {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations VALUES (?, ?, 0)').run(m.version, m.name);
    }
    for (const [id, name] of ROWS.users) db.prepare(`INSERT INTO users VALUES (?, ?, ?, 'hash', 1)`).run(id, name, name);
    for (const [id, by] of ROWS.rooms) db.prepare('INSERT INTO rooms VALUES (?, ?, ?, 1)').run(id, id, by);
    for (const [room, user, role] of ROWS.members) db.prepare('INSERT INTO members VALUES (?, ?, ?, 1)').run(room, user, role);
    for (const [code, room, by] of ROWS.invites) {
      db.prepare(`INSERT INTO invites (code_hash, room_id, role, created_by, expires_at, max_uses, uses, created_at)
                  VALUES (?, ?, 'viewer', ?, NULL, NULL, 0, 1)`).run(code, room, by);
    }
    for (const [room, hash, by] of ROWS.feeds) db.prepare('INSERT INTO room_feeds VALUES (?, ?, ?, 1)').run(room, hash, by);
    db.close();
    const storage = await openStorage({ dataDir, sqliteSynchronous: 'normal' });
    try {
      await expectMigrated(storage);
    } finally {
      await storage.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it.skipIf(!probe.available)('PostgreSQL: revokes the invites and deletes the feeds whose creator is no longer an owner', async () => {
    const { schema, drop } = await createTestSchema(probe.available ? probe.url : '');
    try {
      const client = new pg.Client({ connectionString: probe.available ? probe.url : '' });
      await client.connect();
      try {
        await client.query(`SET search_path TO ${schema}`);
        await client.query('CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at bigint NOT NULL)');
        for (const m of PG_MIGRATIONS.filter((m) => m.version <= 6)) {
          await client.query(m.sql);
          await client.query('INSERT INTO schema_migrations VALUES ($1, $2, 0)', [m.version, m.name]);
        }
        for (const [id, name] of ROWS.users) await client.query(`INSERT INTO users VALUES ($1, $2, $2, 'hash', 1)`, [id, name]);
        for (const [id, by] of ROWS.rooms) await client.query('INSERT INTO rooms VALUES ($1, $1, $2, 1)', [id, by]);
        for (const [room, user, role] of ROWS.members) await client.query('INSERT INTO members VALUES ($1, $2, $3, 1)', [room, user, role]);
        for (const [code, room, by] of ROWS.invites) {
          await client.query(
            `INSERT INTO invites (code_hash, room_id, role, created_by, expires_at, max_uses, uses, created_at)
             VALUES ($1, $2, 'viewer', $3, NULL, NULL, 0, 1)`,
            [code, room, by],
          );
        }
        for (const [room, hash, by] of ROWS.feeds) await client.query('INSERT INTO room_feeds VALUES ($1, $2, $3, 1)', [room, hash, by]);
      } finally {
        await client.end();
      }
      const storage = await openPostgresStorage({ connectionString: probe.available ? probe.url : '', schema });
      try {
        await expectMigrated(storage);
      } finally {
        await storage.close();
      }
    } finally {
      await drop();
    }
  });
});
