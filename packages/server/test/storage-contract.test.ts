/**
 * One storage contract, every engine: the same tests run against SQLite (a temp file) and
 * PostgreSQL (a fresh schema per test). PostgreSQL is skipped with a warning when it is not
 * reachable, unless KITH_REQUIRE_SERVICES=1 (CI), where that fails the run.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { openStorage, storageEngineFor } from '../src/storage/open-storage.js';
import { openPostgresStorage } from '../src/storage/postgres/postgres-storage.js';
import { PG_MIGRATIONS } from '../src/storage/postgres/migrations.js';
import type { Role, RoomRecord, Storage, StoredDoc, UserRecord } from '../src/storage/storage.js';
import {
  createTestSchema,
  openTestPostgresStorage,
  postgresTarget,
  probePostgres,
} from './helpers/postgres.js';
import { requireServices } from '@kith/test-support';
import { openTestSqliteStorage } from './helpers/sqlite.js';

type Opened = { storage: Storage; cleanup: () => Promise<void> };

// ---------------------------------------------------------------------------------------------
// Fixtures

let clock = 1_700_000_000_000;
const tick = () => (clock += 1000);

async function addUser(s: Storage, username = `user-${randomUUID().slice(0, 8)}`): Promise<UserRecord> {
  const user: UserRecord = { userId: randomUUID(), username, passwordHash: `hash:${username}`, createdAt: tick() };
  expect(await s.users.create(user)).toBe(true);
  return user;
}

async function addRoom(s: Storage, owner: UserRecord, name = 'Family'): Promise<RoomRecord> {
  const room: RoomRecord = { roomId: randomUUID(), name, createdBy: owner.userId, createdAt: tick() };
  await s.rooms.create(room);
  return room;
}

/** Adds `user` to `room` with `role` through a fresh single-use invite. */
async function join(s: Storage, room: RoomRecord, user: UserRecord, role: Role): Promise<void> {
  const codeHash = randomUUID();
  await s.rooms.createInvite({
    codeHash,
    roomId: room.roomId,
    role,
    createdBy: room.createdBy,
    expiresAt: null,
    maxUses: 1,
    uses: 0,
    createdAt: tick(),
  });
  expect((await s.rooms.acceptInvite(codeHash, user.userId, tick())).outcome).toBe('joined');
}

const token = (userId: string, familyId: string, tokenHash: string = randomUUID()) => ({
  tokenHash,
  userId,
  familyId,
  status: 'active' as const,
  expiresAt: clock + 86_400_000,
  createdAt: tick(),
});

/** A Yjs document edited in `n` separate transactions, and the update each one produced. */
function editedDoc(n: number, label = 'e'): { doc: Y.Doc; updates: Uint8Array[] } {
  const doc = new Y.Doc();
  const updates: Uint8Array[] = [];
  doc.on('update', (u: Uint8Array) => updates.push(u));
  for (let i = 0; i < n; i++) {
    doc.transact(() => {
      doc.getMap('events').set(`${label}${i}`, { title: `Event ${i}`, at: i });
      doc.getText('notes').insert(doc.getText('notes').length, `${label}${i};`);
    });
  }
  return { doc, updates };
}

function docOf(stored: StoredDoc): Y.Doc {
  const doc = new Y.Doc();
  if (stored.snapshot) Y.applyUpdate(doc, stored.snapshot);
  for (const u of stored.updates) Y.applyUpdate(doc, u.data);
  return doc;
}

function expectSameDoc(actual: Y.Doc, expected: Y.Doc): void {
  expect(actual.getMap('events').toJSON()).toEqual(expected.getMap('events').toJSON());
  expect(actual.getText('notes').toString()).toBe(expected.getText('notes').toString());
  expect(Y.encodeStateVector(actual)).toEqual(Y.encodeStateVector(expected));
}

/** Folds what is stored (or what `stored` says was stored) into a snapshot, as the compactor does. */
async function compactOnce(s: Storage, roomId: string, stored?: StoredDoc): Promise<boolean> {
  stored ??= await s.docs.load(roomId);
  const last = stored.updates.at(-1);
  if (!last) return false;
  const parts = stored.updates.map((u) => u.data);
  const snapshot = Y.mergeUpdates(stored.snapshot ? [stored.snapshot, ...parts] : parts);
  return s.docs.compact(roomId, snapshot, stored.snapshotSeq, last.seq);
}

const isIncreasing = (xs: number[]) => xs.every((x, i) => i === 0 || x > xs[i - 1]!);

// ---------------------------------------------------------------------------------------------
// The contract

export function describeStorageContract(name: string, open: () => Promise<Opened>): void {
  describe(`storage contract: ${name}`, () => {
    let s: Storage;
    let cleanup: (() => Promise<void>) | undefined;
    beforeEach(async () => {
      const opened = await open();
      s = opened.storage;
      cleanup = opened.cleanup;
    });
    afterEach(async () => {
      await cleanup?.();
      cleanup = undefined;
    });

    it('answers ping', async () => {
      await expect(s.ping()).resolves.toBeUndefined();
    });

    it('commits a probe write and leaves nothing behind', async () => {
      await expect(s.probeWrite()).resolves.toBeUndefined();
      await expect(s.probeWrite()).resolves.toBeUndefined();
      // The probe borrows no lease anyone could hold.
      expect(await s.leases.tryAcquire('compact:r', 'me', 1000)).toBe(true);
    });

    it('keeps one server secret per name: the first stored wins, concurrent callers all get it', async () => {
      const got = await Promise.all(['a', 'b', 'c', 'd'].map((c) => s.secrets.getOrCreate('jwt', `candidate-${c}`)));
      expect(new Set(got).size).toBe(1);
      expect(got[0]).toMatch(/^candidate-[abcd]$/);
      expect(await s.secrets.getOrCreate('jwt', 'later')).toBe(got[0]);
      expect(await s.secrets.getOrCreate('other', 'x')).toBe('x');
    });

    describe('users', () => {
      it('finds a created user by id and by username in any letter case', async () => {
        const alice = await addUser(s, 'Alice');
        expect(await s.users.findById(alice.userId)).toEqual(alice);
        expect(await s.users.findByUsername('alice')).toEqual(alice);
        expect(await s.users.findByUsername('ALICE')).toEqual(alice);
        expect((await s.users.findByUsername('aLiCe'))?.username).toBe('Alice');
      });

      it('refuses a username that differs from a taken one only in case, keeping the first', async () => {
        const alice = await addUser(s, 'Alice');
        const imposter = { userId: randomUUID(), username: 'ALICE', passwordHash: 'x', createdAt: tick() };
        expect(await s.users.create(imposter)).toBe(false);
        expect(await s.users.findById(imposter.userId)).toBeUndefined();
        expect(await s.users.findByUsername('alice')).toEqual(alice);
      });

      it('returns undefined for an unknown username or id', async () => {
        await addUser(s, 'bob');
        expect(await s.users.findByUsername('carol')).toBeUndefined();
        expect(await s.users.findById(randomUUID())).toBeUndefined();
      });

      it('setPasswordHash replaces one user\'s hash and answers false for an unknown id', async () => {
        const alice = await addUser(s, 'alice');
        const bob = await addUser(s, 'bob');
        expect(await s.users.setPasswordHash(alice.userId, 'new-hash')).toBe(true);
        expect((await s.users.findById(alice.userId))?.passwordHash).toBe('new-hash');
        expect(await s.users.findById(bob.userId)).toEqual(bob);
        expect(await s.users.setPasswordHash(randomUUID(), 'x')).toBe(false);
      });

      it('delete refuses while the user alone owns a room, then removes the account, its memberships, sessions, invites and feeds', async () => {
        const mum = await addUser(s, 'mum');
        const dad = await addUser(s, 'dad');
        const family = await addRoom(s, mum, 'Family');
        const dads = await addRoom(s, dad, 'Dad');
        await join(s, family, dad, 'editor');
        await join(s, dads, mum, 'owner'); // invited by dad
        const session = token(mum.userId, 'famM');
        await s.refreshTokens.insert(session);
        expect(await s.users.delete(mum.userId)).toBe('owns-rooms');
        expect(await s.users.findById(mum.userId)).toEqual(mum);
        expect(await s.rooms.setRole(family.roomId, dad.userId, 'owner')).toBe('ok');
        await s.feeds.put({ roomId: family.roomId, tokenHash: `feed-${randomUUID()}`, createdBy: mum.userId, createdAt: tick() });
        expect(await s.users.delete(mum.userId)).toBe('ok');
        expect(await s.users.findById(mum.userId)).toBeUndefined();
        expect(await s.users.findByUsername('mum')).toBeUndefined();
        expect(await s.refreshTokens.find(session.tokenHash)).toBeUndefined();
        expect(await s.rooms.member(family.roomId, mum.userId)).toBeUndefined();
        expect(await s.rooms.member(dads.roomId, mum.userId)).toBeUndefined();
        expect((await s.rooms.get(family.roomId))?.createdBy).toBe(dad.userId);
        expect(await s.rooms.listInvites(family.roomId)).toEqual([]);
        expect(await s.feeds.get(family.roomId)).toBeUndefined();
        expect((await s.rooms.members(family.roomId)).map((m) => [m.username, m.role])).toEqual([['dad', 'owner']]);
        expect(await s.users.delete(mum.userId)).toBe('not-found');
        // The name is free again.
        expect(await s.users.create({ ...mum, userId: randomUUID() })).toBe(true);
      });
    });

    describe('refresh tokens', () => {
      it('stores a token and finds it by hash; an unknown hash finds nothing', async () => {
        const alice = await addUser(s);
        const t = token(alice.userId, 'fam');
        await s.refreshTokens.insert(t);
        expect(await s.refreshTokens.find(t.tokenHash)).toEqual(t);
        expect(await s.refreshTokens.find('nope')).toBeUndefined();
      });

      it('rotate marks the old token rotated and stores the active successor', async () => {
        const alice = await addUser(s);
        const old = token(alice.userId, 'fam');
        await s.refreshTokens.insert(old);
        const next = token(alice.userId, 'fam');
        expect(await s.refreshTokens.rotate(old.tokenHash, next)).toBe(true);
        expect((await s.refreshTokens.find(old.tokenHash))?.status).toBe('rotated');
        expect(await s.refreshTokens.find(next.tokenHash)).toEqual(next);
      });

      it('a second rotation of the same token fails and stores no successor', async () => {
        const alice = await addUser(s);
        const old = token(alice.userId, 'fam');
        await s.refreshTokens.insert(old);
        expect(await s.refreshTokens.rotate(old.tokenHash, token(alice.userId, 'fam'))).toBe(true);
        const second = token(alice.userId, 'fam');
        expect(await s.refreshTokens.rotate(old.tokenHash, second)).toBe(false);
        expect(await s.refreshTokens.find(second.tokenHash)).toBeUndefined();
      });

      it('rotating a revoked or unknown token fails', async () => {
        const alice = await addUser(s);
        const t = token(alice.userId, 'fam');
        await s.refreshTokens.insert(t);
        await s.refreshTokens.revoke(t.tokenHash);
        expect(await s.refreshTokens.rotate(t.tokenHash, token(alice.userId, 'fam'))).toBe(false);
        expect(await s.refreshTokens.rotate('unknown', token(alice.userId, 'fam'))).toBe(false);
      });

      it('of two concurrent rotations of one token exactly one succeeds', async () => {
        const alice = await addUser(s);
        for (let round = 0; round < 5; round++) {
          const old = token(alice.userId, `fam${round}`);
          await s.refreshTokens.insert(old);
          const successors = [1, 2, 3].map(() => token(alice.userId, `fam${round}`));
          const results = await Promise.all(successors.map((n) => s.refreshTokens.rotate(old.tokenHash, n)));
          expect(results.filter(Boolean)).toHaveLength(1);
          const stored = await Promise.all(successors.map((n) => s.refreshTokens.find(n.tokenHash)));
          expect(stored.filter(Boolean)).toHaveLength(1);
        }
      });

      it('revoke revokes one token; revokeFamily revokes every token of that family and no other', async () => {
        const alice = await addUser(s);
        const a1 = token(alice.userId, 'famA');
        const a2 = token(alice.userId, 'famA');
        const b1 = token(alice.userId, 'famB');
        const b2 = token(alice.userId, 'famB');
        for (const t of [a1, a2, b1, b2]) await s.refreshTokens.insert(t);
        await s.refreshTokens.revoke(b1.tokenHash);
        expect((await s.refreshTokens.find(b1.tokenHash))?.status).toBe('revoked');
        expect((await s.refreshTokens.find(b2.tokenHash))?.status).toBe('active');
        await s.refreshTokens.rotate(a1.tokenHash, token(alice.userId, 'famA', 'a3'));
        await s.refreshTokens.revokeFamily('famA');
        for (const h of [a1.tokenHash, a2.tokenHash, 'a3']) {
          expect((await s.refreshTokens.find(h))?.status).toBe('revoked');
        }
        expect((await s.refreshTokens.find(b2.tokenHash))?.status).toBe('active');
      });

      it('revokeUser revokes every active token of one user, leaves rotated ones rotated and other users alone', async () => {
        const alice = await addUser(s, 'alice');
        const bob = await addUser(s, 'bob');
        const a1 = token(alice.userId, 'famA');
        const a2 = token(alice.userId, 'famB');
        const b1 = token(bob.userId, 'famC');
        for (const t of [a1, a2, b1]) await s.refreshTokens.insert(t);
        await s.refreshTokens.rotate(a1.tokenHash, token(alice.userId, 'famA', 'a3'));
        await s.refreshTokens.revokeUser(alice.userId);
        expect((await s.refreshTokens.find(a1.tokenHash))?.status).toBe('rotated');
        for (const h of [a2.tokenHash, 'a3']) expect((await s.refreshTokens.find(h))?.status).toBe('revoked');
        expect((await s.refreshTokens.find(b1.tokenHash))?.status).toBe('active');
      });
    });

    describe('rooms and members', () => {
      it('delete removes a room with its members, invites, feed and document, and nothing of other rooms', async () => {
        const owner = await addUser(s);
        const other = await addUser(s);
        const room = await addRoom(s, owner);
        const kept = await addRoom(s, owner, 'Kept');
        await join(s, room, other, 'viewer');
        await s.feeds.put({ roomId: room.roomId, tokenHash: `feed-${randomUUID()}`, createdBy: owner.userId, createdAt: tick() });
        await s.docs.append([
          { roomId: room.roomId, data: new Uint8Array([1]) },
          { roomId: kept.roomId, data: new Uint8Array([2]) },
        ]);
        expect(await s.rooms.delete(room.roomId)).toBe(true);
        expect(await s.rooms.get(room.roomId)).toBeUndefined();
        expect(await s.rooms.members(room.roomId)).toEqual([]);
        expect(await s.rooms.listForUser(other.userId)).toEqual([]);
        expect(await s.feeds.get(room.roomId)).toBeUndefined();
        expect(await s.docs.head(room.roomId)).toBe(0);
        expect((await s.docs.load(room.roomId)).updates).toEqual([]);
        expect(await s.docs.head(kept.roomId)).toBe(1);
        expect(await s.rooms.get(kept.roomId)).toBeTruthy();
        expect(await s.rooms.delete(room.roomId)).toBe(false);
      });

      it('creating a room makes its creator the owner; get finds it, an unknown id finds nothing', async () => {
        const alice = await addUser(s, 'alice');
        const room = await addRoom(s, alice, 'Smiths');
        expect(await s.rooms.get(room.roomId)).toEqual(room);
        expect(await s.rooms.get(randomUUID())).toBeUndefined();
        expect(await s.rooms.members(room.roomId)).toEqual([
          { roomId: room.roomId, userId: alice.userId, username: 'alice', role: 'owner', joinedAt: room.createdAt },
        ]);
      });

      it("listForUser returns the user's rooms with the user's role, oldest first, and no one else's", async () => {
        const alice = await addUser(s);
        const bob = await addUser(s);
        const r1 = await addRoom(s, alice, 'first');
        const r2 = await addRoom(s, bob, 'second');
        const r3 = await addRoom(s, alice, 'third');
        await addRoom(s, bob, 'bob only');
        await join(s, r2, alice, 'viewer');
        expect(await s.rooms.listForUser(alice.userId)).toEqual([
          { ...r1, role: 'owner' },
          { ...r2, role: 'viewer' },
          { ...r3, role: 'owner' },
        ]);
        expect(await s.rooms.listForUser(randomUUID())).toEqual([]);
      });

      it('members come in join order with their usernames; member() finds one or nothing', async () => {
        const alice = await addUser(s, 'alice');
        const bob = await addUser(s, 'Bob');
        const carol = await addUser(s, 'carol');
        const room = await addRoom(s, alice);
        await join(s, room, carol, 'viewer');
        await join(s, room, bob, 'editor');
        const members = await s.rooms.members(room.roomId);
        expect(members.map((m) => [m.username, m.role])).toEqual([
          ['alice', 'owner'],
          ['carol', 'viewer'],
          ['Bob', 'editor'],
        ]);
        expect(isIncreasing(members.map((m) => m.joinedAt))).toBe(true);
        expect(await s.rooms.member(room.roomId, bob.userId)).toEqual(members[2]);
        expect(await s.rooms.member(room.roomId, randomUUID())).toBeUndefined();
        expect(await s.rooms.members(randomUUID())).toEqual([]);
      });

      it('members who joined at the same moment are ordered by lower-cased username', async () => {
        const alice = await addUser(s, 'alice');
        const room = await addRoom(s, alice);
        const at = tick();
        for (const name of ['delta', 'Charlie', 'bravo']) {
          const u = await addUser(s, name);
          const codeHash = randomUUID();
          await s.rooms.createInvite({
            codeHash,
            roomId: room.roomId,
            role: 'viewer',
            createdBy: alice.userId,
            expiresAt: null,
            maxUses: null,
            uses: 0,
            createdAt: at,
          });
          await s.rooms.acceptInvite(codeHash, u.userId, at);
        }
        expect((await s.rooms.members(room.roomId)).map((m) => m.username)).toEqual(['alice', 'bravo', 'Charlie', 'delta']);
      });

      it('setRole changes a role and answers not-member for someone outside the room', async () => {
        const alice = await addUser(s);
        const bob = await addUser(s);
        const room = await addRoom(s, alice);
        await join(s, room, bob, 'viewer');
        expect(await s.rooms.setRole(room.roomId, bob.userId, 'editor')).toBe('ok');
        expect((await s.rooms.member(room.roomId, bob.userId))?.role).toBe('editor');
        expect(await s.rooms.setRole(room.roomId, randomUUID(), 'editor')).toBe('not-member');
        expect(await s.rooms.setRole(randomUUID(), bob.userId, 'editor')).toBe('not-member');
      });

      it('setRole refuses to demote the last owner, and allows it once there is another owner', async () => {
        const alice = await addUser(s);
        const bob = await addUser(s);
        const room = await addRoom(s, alice);
        await join(s, room, bob, 'editor');
        expect(await s.rooms.setRole(room.roomId, alice.userId, 'editor')).toBe('last-owner');
        expect((await s.rooms.member(room.roomId, alice.userId))?.role).toBe('owner');
        expect(await s.rooms.setRole(room.roomId, alice.userId, 'owner')).toBe('ok');
        expect(await s.rooms.setRole(room.roomId, bob.userId, 'owner')).toBe('ok');
        expect(await s.rooms.setRole(room.roomId, alice.userId, 'viewer')).toBe('ok');
        expect(await s.rooms.setRole(room.roomId, bob.userId, 'viewer')).toBe('last-owner');
      });

      it('removeMember removes a member, refuses to remove the last owner, and answers not-member', async () => {
        const alice = await addUser(s);
        const bob = await addUser(s);
        const room = await addRoom(s, alice);
        await join(s, room, bob, 'editor');
        expect(await s.rooms.removeMember(room.roomId, alice.userId)).toBe('last-owner');
        expect(await s.rooms.removeMember(room.roomId, bob.userId)).toBe('ok');
        expect(await s.rooms.member(room.roomId, bob.userId)).toBeUndefined();
        expect(await s.rooms.listForUser(bob.userId)).toEqual([]);
        expect(await s.rooms.removeMember(room.roomId, bob.userId)).toBe('not-member');
        await join(s, room, bob, 'owner');
        expect(await s.rooms.removeMember(room.roomId, alice.userId)).toBe('ok');
        expect((await s.rooms.members(room.roomId)).map((m) => m.userId)).toEqual([bob.userId]);
      });

      it('two owners demoting each other at the same time leave exactly one owner', async () => {
        const alice = await addUser(s);
        const bob = await addUser(s);
        for (let round = 0; round < 5; round++) {
          const room = await addRoom(s, alice);
          await join(s, room, bob, 'owner');
          const results = await Promise.all([
            s.rooms.setRole(room.roomId, bob.userId, 'editor'),
            s.rooms.setRole(room.roomId, alice.userId, 'viewer'),
          ]);
          expect(results.sort()).toEqual(['last-owner', 'ok']);
          const owners = (await s.rooms.members(room.roomId)).filter((m) => m.role === 'owner');
          expect(owners).toHaveLength(1);
        }
      });

      it('two owners removed at the same time leave exactly one owner', async () => {
        const alice = await addUser(s);
        const bob = await addUser(s);
        for (let round = 0; round < 5; round++) {
          const room = await addRoom(s, alice);
          await join(s, room, bob, 'owner');
          const results = await Promise.all([
            s.rooms.removeMember(room.roomId, bob.userId),
            s.rooms.removeMember(room.roomId, alice.userId),
          ]);
          expect(results.sort()).toEqual(['last-owner', 'ok']);
          const members = await s.rooms.members(room.roomId);
          expect(members).toHaveLength(1);
          expect(members[0]?.role).toBe('owner');
        }
      });

      it('demoting and removing the only two owners at the same time leaves one owner', async () => {
        const alice = await addUser(s);
        const bob = await addUser(s);
        for (let round = 0; round < 4; round++) {
          const room = await addRoom(s, alice);
          await join(s, room, bob, 'owner');
          const results = await Promise.all([
            s.rooms.setRole(room.roomId, alice.userId, 'editor'),
            s.rooms.removeMember(room.roomId, bob.userId),
          ]);
          expect(results.sort()).toEqual(['last-owner', 'ok']);
          const owners = (await s.rooms.members(room.roomId)).filter((m) => m.role === 'owner');
          expect(owners).toHaveLength(1);
        }
      });
    });

    describe('invites', () => {
      async function invite(
        room: RoomRecord,
        fields: { role?: Role; expiresAt?: number | null; maxUses?: number | null; createdAt?: number } = {},
      ) {
        const codeHash = randomUUID();
        await s.rooms.createInvite({
          codeHash,
          roomId: room.roomId,
          role: fields.role ?? 'editor',
          createdBy: room.createdBy,
          expiresAt: fields.expiresAt ?? null,
          maxUses: fields.maxUses === undefined ? 1 : fields.maxUses,
          uses: 0,
          createdAt: fields.createdAt ?? tick(),
        });
        return codeHash;
      }

      it("accepting an invite joins the room with the invite's role at the given time", async () => {
        const alice = await addUser(s);
        const bob = await addUser(s, 'bob');
        const room = await addRoom(s, alice);
        const code = await invite(room, { role: 'viewer' });
        const now = tick();
        expect(await s.rooms.acceptInvite(code, bob.userId, now)).toEqual({
          outcome: 'joined',
          member: { roomId: room.roomId, userId: bob.userId, username: 'bob', role: 'viewer', joinedAt: now },
        });
        expect(await s.rooms.listForUser(bob.userId)).toEqual([{ ...room, role: 'viewer' }]);
      });

      it('an unknown code is not-found', async () => {
        const bob = await addUser(s);
        expect(await s.rooms.acceptInvite('no-such-code', bob.userId, tick())).toEqual({ outcome: 'not-found' });
      });

      it('an invite is expired from its expiry time on, and usable before it; no expiry never expires', async () => {
        const alice = await addUser(s);
        const [bob, carol, dave] = [await addUser(s), await addUser(s), await addUser(s)];
        const room = await addRoom(s, alice);
        const expiresAt = tick();
        const code = await invite(room, { expiresAt, maxUses: null });
        expect(await s.rooms.acceptInvite(code, bob.userId, expiresAt)).toEqual({ outcome: 'expired' });
        expect((await s.rooms.acceptInvite(code, carol.userId, expiresAt - 1)).outcome).toBe('joined');
        expect(await s.rooms.member(room.roomId, bob.userId)).toBeUndefined();
        const forever = await invite(room, { expiresAt: null });
        expect((await s.rooms.acceptInvite(forever, dave.userId, Number.MAX_SAFE_INTEGER)).outcome).toBe('joined');
      });

      it('an invite admits maxUses users and then is used-up; without maxUses it admits any number', async () => {
        const alice = await addUser(s);
        const users = [await addUser(s), await addUser(s), await addUser(s), await addUser(s)];
        const room = await addRoom(s, alice);
        const two = await invite(room, { maxUses: 2 });
        const outcomes = [];
        for (const u of users.slice(0, 3)) outcomes.push((await s.rooms.acceptInvite(two, u.userId, tick())).outcome);
        expect(outcomes).toEqual(['joined', 'joined', 'used-up']);
        const open = await invite(room, { maxUses: null });
        const again = [];
        for (const u of users) again.push((await s.rooms.acceptInvite(open, u.userId, tick())).outcome);
        expect(again).toEqual(['already-member', 'already-member', 'joined', 'joined']);
        expect(await s.rooms.members(room.roomId)).toHaveLength(5);
      });

      it('a member accepting again is already-member (even on an expired or used-up invite) and uses nothing', async () => {
        const alice = await addUser(s);
        const bob = await addUser(s);
        const carol = await addUser(s);
        const room = await addRoom(s, alice);
        const code = await invite(room, { role: 'viewer', maxUses: 2 });
        const joined = await s.rooms.acceptInvite(code, bob.userId, tick());
        const again = await s.rooms.acceptInvite(code, bob.userId, tick());
        expect(again).toEqual({ outcome: 'already-member', member: (joined as { member: unknown }).member });
        // The repeat did not consume the second use.
        expect((await s.rooms.acceptInvite(code, carol.userId, tick())).outcome).toBe('joined');
        expect((await s.rooms.acceptInvite(code, bob.userId, tick())).outcome).toBe('already-member');
        const expired = await invite(room, { expiresAt: 1 });
        expect((await s.rooms.acceptInvite(expired, alice.userId, tick())).outcome).toBe('already-member');
      });

      it('two users accepting a one-use invite at the same time: exactly one joins', async () => {
        const alice = await addUser(s);
        for (let round = 0; round < 5; round++) {
          const room = await addRoom(s, alice);
          const [bob, carol] = [await addUser(s), await addUser(s)];
          const code = await invite(room, { maxUses: 1 });
          const results = await Promise.all([
            s.rooms.acceptInvite(code, bob.userId, tick()),
            s.rooms.acceptInvite(code, carol.userId, tick()),
          ]);
          expect(results.map((r) => r.outcome).sort()).toEqual(['joined', 'used-up']);
          expect(await s.rooms.members(room.roomId)).toHaveLength(2);
        }
      });

      it('six users racing for a three-use invite: exactly three join', async () => {
        const alice = await addUser(s);
        const room = await addRoom(s, alice);
        const users = await Promise.all([1, 2, 3, 4, 5, 6].map(() => addUser(s)));
        const code = await invite(room, { maxUses: 3 });
        const results = await Promise.all(users.map((u) => s.rooms.acceptInvite(code, u.userId, tick())));
        expect(results.filter((r) => r.outcome === 'joined')).toHaveLength(3);
        expect(results.filter((r) => r.outcome === 'used-up')).toHaveLength(3);
        expect(await s.rooms.members(room.roomId)).toHaveLength(4);
      });

      it('one user accepting the same invite twice at once joins once', async () => {
        const alice = await addUser(s);
        const bob = await addUser(s);
        const room = await addRoom(s, alice);
        const code = await invite(room, { maxUses: 5 });
        const results = await Promise.all([1, 2, 3].map(() => s.rooms.acceptInvite(code, bob.userId, tick())));
        expect(results.map((r) => r.outcome).sort()).toEqual(['already-member', 'already-member', 'joined']);
        expect(await s.rooms.members(room.roomId)).toHaveLength(2);
      });

      it('listInvites gives a room’s invites newest first; revokeInvite deletes one of that room only', async () => {
        const alice = await addUser(s);
        const bob = await addUser(s);
        const room = await addRoom(s, alice);
        const other = await addRoom(s, alice, 'Other');
        const older = await invite(room, { role: 'viewer', maxUses: 3 });
        const newer = await invite(room);
        const elsewhere = await invite(other);
        const listed = await s.rooms.listInvites(room.roomId);
        expect(listed.map((i) => i.codeHash)).toEqual([newer, older]);
        expect(listed[1]).toMatchObject({ roomId: room.roomId, role: 'viewer', createdBy: alice.userId, maxUses: 3, uses: 0, expiresAt: null });
        expect(await s.rooms.revokeInvite(room.roomId, elsewhere)).toBe(false);
        expect(await s.rooms.revokeInvite(room.roomId, older)).toBe(true);
        expect(await s.rooms.revokeInvite(room.roomId, older)).toBe(false);
        expect(await s.rooms.acceptInvite(older, bob.userId, tick())).toEqual({ outcome: 'not-found' });
        expect((await s.rooms.listInvites(room.roomId)).map((i) => i.codeHash)).toEqual([newer]);
        expect((await s.rooms.listInvites(other.roomId)).map((i) => i.codeHash)).toEqual([elsewhere]);
      });

      it('findInvite finds an invite by its hash, with its uses counted; an unknown or revoked one finds nothing', async () => {
        const alice = await addUser(s);
        const bob = await addUser(s);
        const room = await addRoom(s, alice);
        const code = await invite(room, { role: 'viewer', maxUses: 2, expiresAt: 4_000_000_000_000 });
        expect(await s.rooms.findInvite(code)).toMatchObject({ codeHash: code, roomId: room.roomId, role: 'viewer', createdBy: alice.userId, maxUses: 2, uses: 0, expiresAt: 4_000_000_000_000 });
        await s.rooms.acceptInvite(code, bob.userId, tick());
        expect((await s.rooms.findInvite(code))?.uses).toBe(1);
        expect(await s.rooms.findInvite('no-such-code')).toBeUndefined();
        await s.rooms.revokeInvite(room.roomId, code);
        expect(await s.rooms.findInvite(code)).toBeUndefined();
      });

      it('a removal with a time refuses invites created up to it (removed) and admits newer ones; leaving records nothing', async () => {
        const alice = await addUser(s);
        const bob = await addUser(s);
        const carol = await addUser(s);
        const room = await addRoom(s, alice);
        const used = await invite(room, { maxUses: 5 });
        expect((await s.rooms.acceptInvite(used, bob.userId, tick())).outcome).toBe('joined');
        const removedAt = tick();
        expect(await s.rooms.removeMember(room.roomId, bob.userId, removedAt)).toBe('ok');
        expect(await s.rooms.acceptInvite(used, bob.userId, tick())).toEqual({ outcome: 'removed' });
        const later = await invite(room, { maxUses: 5 });
        expect((await s.rooms.acceptInvite(later, bob.userId, tick())).outcome).toBe('joined');
        // Removed a second time, later: the later invite is refused too.
        expect(await s.rooms.removeMember(room.roomId, bob.userId, tick())).toBe('ok');
        expect(await s.rooms.acceptInvite(later, bob.userId, tick())).toEqual({ outcome: 'removed' });
        // Carol leaves without a time: her link still works.
        expect((await s.rooms.acceptInvite(used, carol.userId, tick())).outcome).toBe('joined');
        expect(await s.rooms.removeMember(room.roomId, carol.userId)).toBe('ok');
        expect((await s.rooms.acceptInvite(used, carol.userId, tick())).outcome).toBe('joined');
      });

      it('within one millisecond, invites before a removal are refused and invites after it admit', async () => {
        const alice = await addUser(s);
        const bob = await addUser(s);
        const room = await addRoom(s, alice);
        const at = tick();
        const before = await invite(room, { maxUses: 5, createdAt: at });
        expect((await s.rooms.acceptInvite(before, bob.userId, at)).outcome).toBe('joined');
        // The clock reads the same (or even earlier) for the removal and for the owner's next invite.
        expect(await s.rooms.removeMember(room.roomId, bob.userId, at - 1)).toBe('ok');
        expect(await s.rooms.acceptInvite(before, bob.userId, at)).toEqual({ outcome: 'removed' });
        const after = await invite(room, { maxUses: 5, createdAt: at });
        expect((await s.rooms.acceptInvite(after, bob.userId, at)).outcome).toBe('joined');
      });

      /** An invite to `room` made by `by`; whether storage took it. */
      const inviteBy = async (room: RoomRecord, by: UserRecord, codeHash: string = randomUUID()) =>
        s.rooms.createInvite({ codeHash, roomId: room.roomId, role: 'editor', createdBy: by.userId, expiresAt: null, maxUses: null, uses: 0, createdAt: tick() });

      it('an owner who is demoted, leaves or is removed has their invites revoked for good: being an owner again does not bring them back', async () => {
        const alice = await addUser(s);
        const [bob, carol, dave] = [await addUser(s), await addUser(s), await addUser(s)];
        const paths: Array<[string, (room: RoomRecord) => Promise<unknown>]> = [
          ['demoted', (room) => s.rooms.setRole(room.roomId, bob.userId, 'viewer')],
          ['left', (room) => s.rooms.removeMember(room.roomId, bob.userId)],
          ['removed', (room) => s.rooms.removeMember(room.roomId, bob.userId, tick())],
        ];
        for (const [how, lose] of paths) {
          const room = await addRoom(s, alice, how);
          await join(s, room, bob, 'owner');
          const bobs = randomUUID();
          const alices = randomUUID();
          expect(await inviteBy(room, bob, bobs)).toBe(true);
          expect(await inviteBy(room, alice, alices)).toBe(true);
          expect((await s.rooms.findInvite(bobs))?.revokedAt).toBeNull();
          const before = Date.now();
          expect(await lose(room)).toBe('ok');
          expect((await s.rooms.findInvite(bobs))?.revokedAt, how).toBeGreaterThanOrEqual(before);
          expect(await s.rooms.acceptInvite(bobs, carol.userId, tick()), how).toEqual({ outcome: 'revoked' });
          // An owner again (re-joined through a new invite, or promoted), and still revoked.
          if (how === 'demoted') expect(await s.rooms.setRole(room.roomId, bob.userId, 'owner')).toBe('ok');
          else await join(s, room, bob, 'owner');
          expect((await s.rooms.member(room.roomId, bob.userId))?.role).toBe('owner');
          expect(await s.rooms.acceptInvite(bobs, carol.userId, tick()), how).toEqual({ outcome: 'revoked' });
          expect((await s.rooms.listInvites(room.roomId)).find((i) => i.codeHash === bobs)?.revokedAt, how).toEqual(expect.any(Number));
          // The other owner's invite was not touched; Bob's new ones work.
          expect((await s.rooms.findInvite(alices))?.revokedAt).toBeNull();
          expect((await s.rooms.acceptInvite(alices, carol.userId, tick())).outcome, how).toBe('joined');
          const fresh = randomUUID();
          expect(await inviteBy(room, bob, fresh)).toBe(true);
          expect((await s.rooms.acceptInvite(fresh, dave.userId, tick())).outcome, how).toBe('joined');
        }
      });

      it('an owner made an owner again, or an editor made a viewer, revokes nothing', async () => {
        const alice = await addUser(s);
        const [bob, carol] = [await addUser(s), await addUser(s)];
        const room = await addRoom(s, alice);
        await join(s, room, bob, 'owner');
        const code = randomUUID();
        expect(await inviteBy(room, alice, code)).toBe(true);
        expect(await s.rooms.setRole(room.roomId, alice.userId, 'owner')).toBe('ok');
        expect(await s.rooms.setRole(room.roomId, bob.userId, 'editor')).toBe('ok');
        expect(await s.rooms.setRole(room.roomId, bob.userId, 'viewer')).toBe('ok');
        expect((await s.rooms.findInvite(code))?.revokedAt).toBeNull();
        expect((await s.rooms.acceptInvite(code, carol.userId, tick())).outcome).toBe('joined');
      });

      it('createInvite stores nothing, answering false, for a creator who is not an owner of the room', async () => {
        const alice = await addUser(s);
        const [bob, carol] = [await addUser(s), await addUser(s)];
        const room = await addRoom(s, alice);
        await join(s, room, bob, 'owner');
        expect(await s.rooms.setRole(room.roomId, bob.userId, 'editor')).toBe('ok');
        const byEditor = randomUUID();
        const byStranger = randomUUID();
        expect(await inviteBy(room, bob, byEditor)).toBe(false);
        expect(await inviteBy(room, carol, byStranger)).toBe(false);
        expect(await s.rooms.findInvite(byEditor)).toBeUndefined();
        expect(await s.rooms.findInvite(byStranger)).toBeUndefined();
        // Made an owner again, Bob's refused invite does not appear either.
        expect(await s.rooms.setRole(room.roomId, bob.userId, 'owner')).toBe('ok');
        expect(await s.rooms.acceptInvite(byEditor, carol.userId, tick())).toEqual({ outcome: 'not-found' });
      });

      it('invites and a feed made while their creator is being demoted are revoked with the others or not stored', async () => {
        const alice = await addUser(s);
        const [bob, carol] = [await addUser(s), await addUser(s)];
        for (let round = 0; round < 5; round++) {
          const room = await addRoom(s, alice);
          await join(s, room, bob, 'owner');
          const codes = Array.from({ length: 8 }, () => randomUUID());
          const feeds = Array.from({ length: 4 }, () => `feed-${randomUUID()}`);
          const made = codes.map((code) => inviteBy(room, bob, code));
          const put = feeds.map((tokenHash) => s.feeds.put({ roomId: room.roomId, tokenHash, createdBy: bob.userId, createdAt: tick() }));
          const demoted = s.rooms.setRole(room.roomId, bob.userId, 'viewer');
          const later = codes.map((code) => inviteBy(room, bob, `${code}-later`));
          const laterFeed = s.feeds.put({ roomId: room.roomId, tokenHash: `feed-later-${round}`, createdBy: bob.userId, createdAt: tick() });
          const [stored, storedLater] = await Promise.all([Promise.all(made), Promise.all(later), Promise.all([...put, laterFeed])]);
          expect(await demoted).toBe('ok');
          expect(await s.rooms.setRole(room.roomId, bob.userId, 'owner')).toBe('ok');
          const all = [...codes, ...codes.map((c) => `${c}-later`)];
          const answers = [...stored, ...storedLater];
          for (const [i, code] of all.entries()) {
            const found = await s.rooms.findInvite(code);
            // Taken means stored, and then revoked with the rest; refused means not stored at all.
            expect(found !== undefined, code).toBe(answers[i]);
            if (found) expect(found.revokedAt, code).toEqual(expect.any(Number));
            expect(['revoked', 'not-found'], code).toContain((await s.rooms.acceptInvite(code, carol.userId, tick())).outcome);
          }
          expect(await s.rooms.member(room.roomId, carol.userId)).toBeUndefined();
          // Whichever of Bob's feeds was stored went with his role.
          expect(await s.feeds.get(room.roomId)).toBeUndefined();
        }
      });

      it('registerWithInvite creates the user and joins, or does neither', async () => {
        const alice = await addUser(s);
        const room = await addRoom(s, alice);
        const once = await invite(room, { role: 'viewer', maxUses: 1 });
        const newUser = (username: string): UserRecord => ({ userId: randomUUID(), username, passwordHash: 'hash', createdAt: tick() });
        const dora = newUser(`dora-${randomUUID().slice(0, 6)}`);
        const now = tick();
        expect(await s.rooms.registerWithInvite(dora, once, now)).toEqual({
          outcome: 'joined',
          member: { roomId: room.roomId, userId: dora.userId, username: dora.username, role: 'viewer', joinedAt: now },
        });
        expect(await s.users.findById(dora.userId)).toEqual(dora);
        const eve = newUser(`eve-${randomUUID().slice(0, 6)}`);
        expect(await s.rooms.registerWithInvite(eve, once, tick())).toEqual({ outcome: 'used-up' });
        expect(await s.rooms.registerWithInvite(eve, 'no-such-code', tick())).toEqual({ outcome: 'not-found' });
        expect(await s.users.findById(eve.userId)).toBeUndefined();
        expect(await s.users.findByUsername(eve.username)).toBeUndefined();
        const open = await invite(room, { maxUses: 2 });
        expect(await s.rooms.registerWithInvite({ ...newUser(dora.username.toUpperCase()) }, open, tick())).toEqual({ outcome: 'username-taken' });
        expect((await s.rooms.listInvites(room.roomId)).find((i) => i.codeHash === open)?.uses).toBe(0);
      });
    });

    describe('calendar feeds', () => {
      const feed = (roomId: string, createdBy: string, tokenHash: string = randomUUID()) => ({
        roomId,
        tokenHash,
        createdBy,
        createdAt: tick(),
      });

      it('a room has no feed until one is put; the feed is found by room and by token hash', async () => {
        const owner = await addUser(s);
        const room = await addRoom(s, owner);
        expect(await s.feeds.get(room.roomId)).toBeUndefined();
        const f = feed(room.roomId, owner.userId);
        await s.feeds.put(f);
        expect(await s.feeds.get(room.roomId)).toEqual(f);
        expect(await s.feeds.findByTokenHash(f.tokenHash)).toEqual(f);
        expect(await s.feeds.findByTokenHash('unknown')).toBeUndefined();
      });

      it('putting a new feed replaces the old one: the old hash finds nothing, other rooms keep theirs', async () => {
        const owner = await addUser(s);
        const room = await addRoom(s, owner);
        const other = await addRoom(s, owner, 'Other');
        const first = feed(room.roomId, owner.userId);
        const kept = feed(other.roomId, owner.userId);
        await s.feeds.put(first);
        await s.feeds.put(kept);
        const second = feed(room.roomId, owner.userId);
        await s.feeds.put(second);
        expect(await s.feeds.findByTokenHash(first.tokenHash)).toBeUndefined();
        expect(await s.feeds.findByTokenHash(second.tokenHash)).toEqual(second);
        expect(await s.feeds.get(room.roomId)).toEqual(second);
        expect(await s.feeds.findByTokenHash(kept.tokenHash)).toEqual(kept);
      });

      it('revoke removes the feed and answers whether there was one', async () => {
        const owner = await addUser(s);
        const room = await addRoom(s, owner);
        const f = feed(room.roomId, owner.userId);
        await s.feeds.put(f);
        expect(await s.feeds.revoke(room.roomId)).toBe(true);
        expect(await s.feeds.findByTokenHash(f.tokenHash)).toBeUndefined();
        expect(await s.feeds.get(room.roomId)).toBeUndefined();
        expect(await s.feeds.revoke(room.roomId)).toBe(false);
      });

      it('an owner who is demoted, leaves or is removed loses the feed they made for good; another owner’s feed stays', async () => {
        const alice = await addUser(s);
        const bob = await addUser(s);
        const paths: Array<[string, (room: RoomRecord) => Promise<unknown>]> = [
          ['demoted', (room) => s.rooms.setRole(room.roomId, bob.userId, 'editor')],
          ['left', (room) => s.rooms.removeMember(room.roomId, bob.userId)],
          ['removed', (room) => s.rooms.removeMember(room.roomId, bob.userId, tick())],
        ];
        for (const [how, lose] of paths) {
          const room = await addRoom(s, alice, how);
          const alices = await addRoom(s, alice, `${how}, Alice's feed`);
          await join(s, room, bob, 'owner');
          await join(s, alices, bob, 'owner');
          const bobs = feed(room.roomId, bob.userId);
          const kept = feed(alices.roomId, alice.userId);
          expect(await s.feeds.put(bobs)).toBe(true);
          expect(await s.feeds.put(kept)).toBe(true);
          expect(await lose(room)).toBe('ok');
          expect(await lose(alices)).toBe('ok');
          expect(await s.feeds.get(room.roomId), how).toBeUndefined();
          expect(await s.feeds.findByTokenHash(bobs.tokenHash), how).toBeUndefined();
          if (how === 'demoted') expect(await s.rooms.setRole(room.roomId, bob.userId, 'owner')).toBe('ok');
          else await join(s, room, bob, 'owner');
          expect(await s.feeds.findByTokenHash(bobs.tokenHash), how).toBeUndefined();
          expect(await s.feeds.get(alices.roomId), how).toEqual(kept);
          // Bob's new feed works.
          const fresh = feed(room.roomId, bob.userId);
          expect(await s.feeds.put(fresh)).toBe(true);
          expect(await s.feeds.findByTokenHash(fresh.tokenHash)).toEqual(fresh);
        }
      });

      it('put stores nothing, answering false, for a creator who is not an owner of the room; the room keeps its feed', async () => {
        const alice = await addUser(s);
        const [bob, carol] = [await addUser(s), await addUser(s)];
        const room = await addRoom(s, alice);
        await join(s, room, bob, 'editor');
        const alices = feed(room.roomId, alice.userId);
        expect(await s.feeds.put(alices)).toBe(true);
        const bobs = feed(room.roomId, bob.userId);
        expect(await s.feeds.put(bobs)).toBe(false);
        expect(await s.feeds.put(feed(room.roomId, carol.userId))).toBe(false);
        expect(await s.feeds.findByTokenHash(bobs.tokenHash)).toBeUndefined();
        expect(await s.feeds.get(room.roomId)).toEqual(alices);
      });

      it('one token hash cannot serve two rooms', async () => {
        const owner = await addUser(s);
        const a = await addRoom(s, owner);
        const b = await addRoom(s, owner, 'B');
        await s.feeds.put(feed(a.roomId, owner.userId, 'same-hash'));
        await expect(s.feeds.put(feed(b.roomId, owner.userId, 'same-hash'))).rejects.toThrow();
        expect((await s.feeds.findByTokenHash('same-hash'))?.roomId).toBe(a.roomId);
      });
    });

    describe('documents', () => {
      it('a room with nothing stored loads empty and has zero stats', async () => {
        expect(await s.docs.load('empty')).toEqual({
          snapshot: null,
          snapshotSeq: 0,
          snapshotStateVector: null,
          updates: [],
          head: 0,
        });
        expect(await s.docs.stats('empty')).toEqual({ logCount: 0, logBytes: 0, snapshotBytes: 0 });
      });

      it('append gives each room its own positions 1, 2, 3, … with no gaps, in batch order', async () => {
        expect(await s.docs.append([])).toEqual([]);
        const bytes = (n: number) => new Uint8Array([n]);
        expect(await s.docs.head('a')).toBe(0);
        const first = await s.docs.append([
          { roomId: 'a', data: bytes(1) },
          { roomId: 'b', data: bytes(2) },
          { roomId: 'a', data: bytes(3) },
        ]);
        const second = await s.docs.append([{ roomId: 'b', data: bytes(4) }]);
        const third = await s.docs.append([{ roomId: 'a', data: bytes(5) }, { roomId: 'a', data: bytes(6) }]);
        expect(first).toEqual([1, 1, 2]);
        expect(second).toEqual([2]);
        expect(third).toEqual([3, 4]);
        expect(await s.docs.head('a')).toBe(4);
        expect(await s.docs.head('b')).toBe(2);
        expect(isIncreasing([...first.filter((_, i) => i !== 1), ...third])).toBe(true);
      });

      it('load after a position returns only what came later, and the snapshot only when it is newer', async () => {
        const { doc, updates } = editedDoc(6, 'since');
        await s.docs.append(updates.slice(0, 3).map((data) => ({ roomId: 'r', data })));
        const upTo3 = await s.docs.load('r');
        await s.docs.append(updates.slice(3).map((data) => ({ roomId: 'r', data })));
        const after2 = await s.docs.load('r', 2);
        expect(after2.snapshot).toBeNull();
        expect(after2.updates.map((u) => u.seq)).toEqual([3, 4, 5, 6]);
        // Fold positions 1–3 into a snapshot: a reader at 2 now needs the snapshot, a reader at 3 does not.
        expect(await compactOnce(s, 'r', upTo3)).toBe(true);
        const from2 = await s.docs.load('r', 2);
        expect(from2.snapshot).not.toBeNull();
        expect(from2.updates.map((u) => u.seq)).toEqual([4, 5, 6]);
        const from3 = await s.docs.load('r', 3);
        expect(from3.snapshot).toBeNull();
        expect(from3.updates.map((u) => u.seq)).toEqual([4, 5, 6]);
        expectSameDoc(docOf(await s.docs.load('r')), doc);
        expect(await s.docs.head('r')).toBe(6);
        // Every load reports the stored head with what it read (to tell missing rows apart).
        expect((await s.docs.load('r')).head).toBe(6);
        expect((await s.docs.load('r', 3)).head).toBe(6);
        const more = await s.docs.append([{ roomId: 'r', data: editedDoc(1, 'x').updates[0]! }]);
        expect(more).toEqual([7]);
      });

      it('a snapshot keeps the state vector stored with it, and only with a load that returns the snapshot', async () => {
        const { doc, updates } = editedDoc(5, 'sv');
        await s.docs.append(updates.map((data) => ({ roomId: 'r', data })));
        const sv = Y.encodeStateVector(doc);
        expect(await s.docs.compact('r', Y.encodeStateAsUpdate(doc), 0, 3, sv)).toBe(true);
        const full = await s.docs.load('r');
        expect(full.snapshotStateVector).toEqual(sv);
        expect((await s.docs.load('r', 3)).snapshotStateVector).toBeNull(); // no snapshot in it
        // A later snapshot stored without one replaces it: never a stale vector for new bytes.
        expect(await s.docs.compact('r', Y.encodeStateAsUpdate(doc), 3, 5)).toBe(true);
        const again = await s.docs.load('r');
        expect(again.snapshotSeq).toBe(5);
        expect(again.snapshotStateVector).toBeNull();
      });

      it('loadOffLoop answers what load does, and sees every commit as soon as it is acknowledged', async () => {
        expect(await s.docs.loadOffLoop('r')).toEqual(await s.docs.load('r')); // nothing stored
        const { doc, updates } = editedDoc(40, 'off');
        // A batch of 36 (committed on SQLite's writer thread), then single appends (inline).
        await s.docs.append(updates.slice(0, 36).map((data) => ({ roomId: 'r', data })));
        expect(await s.docs.compact('r', Y.encodeStateAsUpdate(docOf(await s.docs.load('r'))), 0, 30, Y.encodeStateVector(docOf(await s.docs.load('r'))))).toBe(true);
        for (const data of updates.slice(36)) {
          await s.docs.append([{ roomId: 'r', data }]);
          const aside = await s.docs.loadOffLoop('r');
          expect(aside.head).toBe((await s.docs.load('r')).head);
        }
        const aside = await s.docs.loadOffLoop('r');
        const loaded = await s.docs.load('r');
        expect(aside.snapshotSeq).toBe(30);
        expect(aside.head).toBe(40);
        expect(Array.from(aside.snapshot!)).toEqual(Array.from(loaded.snapshot!));
        expect(Array.from(aside.snapshotStateVector!)).toEqual(Array.from(loaded.snapshotStateVector!));
        expect(aside.updates.map((u) => [u.seq, Array.from(u.data)])).toEqual(loaded.updates.map((u) => [u.seq, Array.from(u.data)]));
        expectSameDoc(docOf(aside), doc);
        // Loads at once are each answered with their own room.
        await s.docs.append([{ roomId: 'other', data: editedDoc(1, 'x').updates[0]! }]);
        const both = await Promise.all([s.docs.loadOffLoop('r'), s.docs.loadOffLoop('other'), s.docs.loadOffLoop('r')]);
        expect(both.map((d) => d.head)).toEqual([40, 1, 40]);
      });

      it('a lease is held by one holder at a time, renewable by it, and free once expired or released', async () => {
        const t0 = 1_000_000;
        expect(await s.leases.tryAcquire('compact:r', 'A', 1000, t0)).toBe(true);
        expect(await s.leases.tryAcquire('compact:r', 'B', 1000, t0 + 10)).toBe(false);
        expect(await s.leases.tryAcquire('compact:r', 'A', 1000, t0 + 500)).toBe(true); // renewal
        expect(await s.leases.tryAcquire('compact:r', 'B', 1000, t0 + 1400)).toBe(false); // renewed until +1500
        expect(await s.leases.tryAcquire('compact:r', 'B', 1000, t0 + 1500)).toBe(true); // expired
        await s.leases.release('compact:r', 'A'); // not A's any more: no effect
        expect(await s.leases.tryAcquire('compact:r', 'A', 1000, t0 + 1600)).toBe(false);
        await s.leases.release('compact:r', 'B');
        expect(await s.leases.tryAcquire('compact:r', 'A', 1000, t0 + 1600)).toBe(true);
        expect(await s.leases.tryAcquire('other', 'B', 1000, t0 + 1600)).toBe(true);
      });

      it('of many holders racing for a free lease, exactly one gets it', async () => {
        const results = await Promise.all(
          Array.from({ length: 8 }, (_, i) => s.leases.tryAcquire('race', `H${i}`, 10_000)),
        );
        expect(results.filter(Boolean)).toHaveLength(1);
      });

      it('load returns exactly the room\'s updates, byte for byte, in seq order; rooms are isolated', async () => {
        const a = editedDoc(5, 'a');
        const b = editedDoc(3, 'b');
        const seqs = await s.docs.append([
          ...a.updates.slice(0, 2).map((data) => ({ roomId: 'room-a', data })),
          ...b.updates.map((data) => ({ roomId: 'room-b', data })),
        ]);
        seqs.push(...(await s.docs.append(a.updates.slice(2).map((data) => ({ roomId: 'room-a', data })))));
        const loadedA = await s.docs.load('room-a');
        expect(loadedA.snapshot).toBeNull();
        expect(loadedA.snapshotSeq).toBe(0);
        expect(loadedA.updates.map((u) => u.seq)).toEqual([...seqs.slice(0, 2), ...seqs.slice(5)]);
        expect(loadedA.updates.every((u) => u.data instanceof Uint8Array)).toBe(true);
        expect(loadedA.updates.map((u) => Array.from(u.data))).toEqual(a.updates.map((u) => Array.from(u)));
        expectSameDoc(docOf(loadedA), a.doc);
        const loadedB = await s.docs.load('room-b');
        expect(loadedB.updates.map((u) => u.seq)).toEqual(seqs.slice(2, 5));
        expectSameDoc(docOf(loadedB), b.doc);
      });

      it('stores large and empty-looking blobs intact', async () => {
        const big = new Uint8Array(300_000).map((_, i) => (i * 31) % 256);
        const zeros = new Uint8Array(16);
        await s.docs.append([{ roomId: 'r', data: big }, { roomId: 'r', data: zeros }]);
        const loaded = await s.docs.load('r');
        expect(Buffer.from(loaded.updates[0]!.data).equals(Buffer.from(big))).toBe(true);
        expect(Array.from(loaded.updates[1]!.data)).toEqual(Array.from(zeros));
      });

      it('stats count the log entries and bytes and the snapshot bytes of one room', async () => {
        await s.docs.append([
          { roomId: 'r', data: new Uint8Array(10) },
          { roomId: 'r', data: new Uint8Array(25) },
          { roomId: 'other', data: new Uint8Array(100) },
        ]);
        expect(await s.docs.stats('r')).toEqual({ logCount: 2, logBytes: 35, snapshotBytes: 0 });
        const stored = await s.docs.load('r');
        expect(await s.docs.compact('r', new Uint8Array(7), 0, stored.updates.at(-1)!.seq)).toBe(true);
        expect(await s.docs.stats('r')).toEqual({ logCount: 0, logBytes: 0, snapshotBytes: 7 });
        expect(await s.docs.stats('other')).toEqual({ logCount: 1, logBytes: 100, snapshotBytes: 0 });
      });

      it('compaction folds the log into a snapshot holding the same Yjs document', async () => {
        const { doc, updates } = editedDoc(20);
        await s.docs.append(updates.map((data) => ({ roomId: 'r', data })));
        const before = await s.docs.load('r');
        expectSameDoc(docOf(before), doc);
        const last = before.updates.at(-1)!.seq;
        const snapshot = Y.mergeUpdates(before.updates.map((u) => u.data));
        expect(await s.docs.compact('r', snapshot, 0, last)).toBe(true);
        const after = await s.docs.load('r');
        expect(after.snapshotSeq).toBe(last);
        expect(after.updates).toEqual([]);
        expect(Array.from(after.snapshot!)).toEqual(Array.from(snapshot));
        expectSameDoc(docOf(after), doc);
        expect((await s.docs.stats('r')).logCount).toBe(0);
      });

      it('compaction applies only while the snapshot is still at the expected seq and moves forward', async () => {
        const { updates } = editedDoc(6);
        const seqs = await s.docs.append(updates.map((data) => ({ roomId: 'r', data })));
        const snap = Y.mergeUpdates(updates.slice(0, 3));
        expect(await s.docs.compact('r', snap, 0, 0)).toBe(false); // folds nothing
        expect(await s.docs.compact('r', snap, 5, seqs[2]!)).toBe(false); // wrong expectation
        expect(await s.docs.compact('r', snap, 0, seqs[2]!)).toBe(true);
        expect(await s.docs.compact('r', snap, 0, seqs[5]!)).toBe(false); // stale expectation
        expect(await s.docs.compact('r', snap, seqs[2]!, seqs[2]!)).toBe(false); // not forward
        expect(await s.docs.compact('r', Y.mergeUpdates(updates), seqs[2]!, seqs[5]!)).toBe(true);
        expect(await s.docs.load('r')).toMatchObject({ snapshotSeq: seqs[5], updates: [] });
      });

      it('a load after compaction and more appends returns the snapshot plus only the newer tail', async () => {
        const { doc, updates } = editedDoc(12);
        await s.docs.append(updates.slice(0, 8).map((data) => ({ roomId: 'r', data })));
        await s.docs.append([{ roomId: 'elsewhere', data: new Uint8Array([1, 2, 3]) }]);
        expect(await compactOnce(s, 'r')).toBe(true);
        const snapshotSeq = (await s.docs.load('r')).snapshotSeq;
        const newer = await s.docs.append(updates.slice(8).map((data) => ({ roomId: 'r', data })));
        const loaded = await s.docs.load('r');
        expect(loaded.snapshotSeq).toBe(snapshotSeq);
        expect(loaded.snapshot).not.toBeNull();
        expect(loaded.updates.map((u) => u.seq)).toEqual(newer);
        expect(newer.every((q) => q > snapshotSeq)).toBe(true);
        expectSameDoc(docOf(loaded), doc);
        // A second compaction folds the tail in too.
        expect(await compactOnce(s, 'r')).toBe(true);
        const again = await s.docs.load('r');
        expect(again).toMatchObject({ snapshotSeq: newer.at(-1), updates: [] });
        expectSameDoc(docOf(again), doc);
      });

      it('of two compactions racing on one room exactly one wins, and the document survives', async () => {
        for (let round = 0; round < 5; round++) {
          const roomId = `race-${round}`;
          const { doc, updates } = editedDoc(10, `r${round}`);
          await s.docs.append(updates.slice(0, 5).map((data) => ({ roomId, data })));
          if (round % 2 === 1) expect(await compactOnce(s, roomId)).toBe(true); // race from a snapshot too
          await s.docs.append(updates.slice(5).map((data) => ({ roomId, data })));
          const results = await Promise.all([compactOnce(s, roomId), compactOnce(s, roomId)]);
          expect(results.filter(Boolean)).toHaveLength(1);
          const loaded = await s.docs.load(roomId);
          expect(loaded.updates).toEqual([]);
          expectSameDoc(docOf(loaded), doc);
        }
      });

      it('concurrent appends and compactions of one room never lose an update', async () => {
        const { doc, updates } = editedDoc(120);
        const appends = (async () => {
          const pending: Promise<number[]>[] = [];
          for (let i = 0; i < updates.length; i += 3) {
            pending.push(s.docs.append(updates.slice(i, i + 3).map((data) => ({ roomId: 'r', data }))));
            if (i % 12 === 0) await Promise.all(pending.splice(0));
          }
          return (await Promise.all(pending)).flat();
        })();
        let done = false;
        void appends.finally(() => (done = true));
        let compactions = 0;
        while (!done) {
          await Promise.all([compactOnce(s, 'r'), compactOnce(s, 'r')]).then((r) => (compactions += r.filter(Boolean).length));
          // Engines that answer on the calling thread resolve in microtasks only: let the event
          // loop turn, or appends answered by another thread or process would never be seen.
          await new Promise((resolve) => setImmediate(resolve));
        }
        await appends;
        expect(compactions).toBeGreaterThan(0);
        expectSameDoc(docOf(await s.docs.load('r')), doc);
        await compactOnce(s, 'r');
        expectSameDoc(docOf(await s.docs.load('r')), doc);
      });

      it('many concurrent single appends get distinct seqs and all load in seq order', async () => {
        const { doc, updates } = editedDoc(40);
        const seqs = (await Promise.all(updates.map((data) => s.docs.append([{ roomId: 'r', data }])))).flat();
        expect(new Set(seqs).size).toBe(updates.length);
        const loaded = await s.docs.load('r');
        expect(loaded.updates.map((u) => u.seq)).toEqual([...seqs].sort((x, y) => x - y));
        expectSameDoc(docOf(loaded), doc);
      });

      it('large and small batches appended at once share one gap-free sequence per room', async () => {
        // The SQLite engine commits large batches on its writer thread and small ones inline.
        const { doc, updates } = editedDoc(150);
        const batches = [updates.slice(0, 64), updates.slice(64, 65), updates.slice(65, 130), ...updates.slice(130).map((u) => [u])];
        const seqs = (
          await Promise.all(batches.map((batch) => s.docs.append(batch.map((data) => ({ roomId: 'r', data })))))
        ).flat();
        expect([...seqs].sort((x, y) => x - y)).toEqual(updates.map((_, i) => i + 1));
        expectSameDoc(docOf(await s.docs.load('r')), doc);
      });

      it('a compaction of a room deleted since it was read stores nothing', async () => {
        const owner = await addUser(s);
        const room = await addRoom(s, owner);
        const { updates } = editedDoc(5);
        await s.docs.append(updates.map((data) => ({ roomId: room.roomId, data })));
        const stored = await s.docs.load(room.roomId);
        expect(await s.rooms.delete(room.roomId)).toBe(true);
        expect(await compactOnce(s, room.roomId, stored)).toBe(false);
        expect(await s.docs.stats(room.roomId)).toEqual({ logCount: 0, logBytes: 0, snapshotBytes: 0 });
        expect(await s.docs.load(room.roomId)).toMatchObject({ snapshot: null, snapshotSeq: 0, head: 0, updates: [] });
      });

      it('appends given while a compaction is being stored follow it gap-free; the room stays whole', async () => {
        // SQLite stores the compaction on its writer thread and queues these appends behind it.
        const { doc, updates } = editedDoc(60);
        await s.docs.append(updates.slice(0, 40).map((data) => ({ roomId: 'r', data })));
        const stored = await s.docs.load('r');
        const compacting = compactOnce(s, 'r', stored);
        const appending = updates.slice(40).map((data) => s.docs.append([{ roomId: 'r', data }]));
        expect(await compacting).toBe(true);
        // Appends at once may take their positions in any order (PostgreSQL's pool), never with a gap.
        expect((await Promise.all(appending)).flat().sort((x, y) => x - y)).toEqual(updates.slice(40).map((_, i) => 41 + i));
        const after = await s.docs.load('r');
        expect({ snapshotSeq: after.snapshotSeq, head: after.head, seqs: after.updates.map((u) => u.seq) }).toEqual({
          snapshotSeq: 40,
          head: 60,
          seqs: updates.slice(40).map((_, i) => 41 + i),
        });
        expectSameDoc(docOf(after), doc);
      });
    });
  });
}

// ---------------------------------------------------------------------------------------------
// SQLite: a temp data dir per test, opened the way the server opens it.

describeStorageContract('SQLite', () => openTestSqliteStorage());

describe('openStorage', () => {
  it('picks SQLite without a URL, PostgreSQL for postgres:// and postgresql://, and refuses other URLs', () => {
    expect(storageEngineFor(undefined)).toBe('sqlite');
    expect(storageEngineFor('')).toBe('sqlite');
    expect(storageEngineFor('postgres://u@h/db')).toBe('postgres');
    expect(storageEngineFor('postgresql://u:p@h:5433/db?sslmode=require')).toBe('postgres');
    expect(() => storageEngineFor('mysql://u@h/db')).toThrow(/Unsupported database URL scheme "mysql:"/);
    expect(() => storageEngineFor('/var/lib/kith.sqlite')).toThrow(/Unsupported database URL/);
  });

  it('opens the SQLite file in the data dir when there is no database URL', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kith-storage-'));
    try {
      const storage = await openStorage({ databaseUrl: undefined, dataDir, sqliteSynchronous: 'full' });
      await storage.ping();
      await storage.close();
      expect(fs.existsSync(path.join(dataDir, 'kith.sqlite'))).toBe(true);
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

// ---------------------------------------------------------------------------------------------
// PostgreSQL: a fresh schema per test, dropped afterwards.

const probe = await probePostgres();
const PG_UNREACHABLE = `PostgreSQL at ${postgresTarget} is not reachable`;

if (!probe.available) {
  if (requireServices) {
    describe('storage contract: PostgreSQL', () => {
      it('needs a reachable PostgreSQL (KITH_REQUIRE_SERVICES=1)', () => {
        throw new Error(`${PG_UNREACHABLE} and KITH_REQUIRE_SERVICES=1 requires it: ${probe.reason}`);
      });
    });
  } else {
    console.warn(`${PG_UNREACHABLE}: skipping the PostgreSQL storage tests (${probe.reason}). Set KITH_REQUIRE_SERVICES=1 to fail instead.`);
  }
}
const pgUrl = probe.available ? probe.url : '';

describe.skipIf(!probe.available)('PostgreSQL', () => {
  describeStorageContract('PostgreSQL', () => openTestPostgresStorage(pgUrl));

  describe('PostgreSQL specifics', () => {
    const drops: Array<() => Promise<void>> = [];
    afterAll(async () => {
      for (const drop of drops) await drop();
    });

    it('instances starting together on one database migrate it exactly once', async () => {
      const { schema, drop } = await createTestSchema(pgUrl);
      drops.push(drop);
      const storages = await Promise.all([1, 2, 3, 4].map(() => openPostgresStorage({ connectionString: pgUrl, schema })));
      const reopened = await openPostgresStorage({ connectionString: pgUrl, schema });
      await Promise.all([...storages, reopened].map((st) => st.close()));
      const client = new pg.Client({ connectionString: pgUrl });
      await client.connect();
      try {
        const { rows } = await client.query(`SELECT version FROM ${schema}.schema_migrations`);
        expect(rows.map((r) => r.version).sort((a, b) => a - b)).toEqual(PG_MIGRATIONS.map((m) => m.version));
      } finally {
        await client.end();
      }
    });

    it('refuses a database whose schema is newer than this server knows', async () => {
      const { schema, drop } = await createTestSchema(pgUrl);
      drops.push(drop);
      await (await openPostgresStorage({ connectionString: pgUrl, schema })).close();
      const client = new pg.Client({ connectionString: pgUrl });
      await client.connect();
      await client.query(`INSERT INTO ${schema}.schema_migrations VALUES (999, 'future', 0)`);
      await client.end();
      await expect(openPostgresStorage({ connectionString: pgUrl, schema })).rejects.toThrow(/newer than this kith-server/);
    });

    it('openStorage connects to a postgres:// URL, honouring search_path from its options', async () => {
      const { schema, drop } = await createTestSchema(pgUrl);
      drops.push(drop);
      const url = new URL(pgUrl);
      url.searchParams.set('options', `-c search_path=${schema}`);
      const storage = await openStorage({ databaseUrl: url.toString(), dataDir: '/nonexistent' });
      try {
        const alice = await addUser(storage, 'alice');
        expect(await storage.users.findByUsername('ALICE')).toEqual(alice);
      } finally {
        await storage.close();
      }
      const client = new pg.Client({ connectionString: pgUrl });
      await client.connect();
      const { rows } = await client.query(`SELECT username FROM ${schema}.users`);
      await client.end();
      expect(rows).toEqual([{ username: 'alice' }]);
    });

    it('an append that commits late is never hidden behind a compaction that ran meanwhile', async () => {
      // Appends to one room are serialized by its doc_heads row. Stall an append behind that row,
      // start a second append of the same room and compact what is visible; then let them through.
      // Were appends not serialized, the second could commit a higher position first, the
      // compaction would fold it in and delete through it, and the first would land below
      // snapshot_seq: lost.
      const { storage, schema, cleanup } = await openTestPostgresStorage(pgUrl);
      // `blocker` holds the uncommitted row; `monitor` watches who waits (outside any transaction,
      // since pg_stat_activity is frozen for the length of a transaction).
      const [blocker, monitor] = [new pg.Client({ connectionString: pgUrl }), new pg.Client({ connectionString: pgUrl })];
      await Promise.all([blocker.connect(), monitor.connect()]);
      try {
        await blocker.query(`SET search_path TO ${schema}`);
        const blockerPid = (await blocker.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
        /** Backends waiting on the blocker, directly or behind one that does. */
        const waiting = async () =>
          Number(
            (
              await monitor.query(
                `WITH direct AS (SELECT pid FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid)))
                 SELECT (SELECT count(*) FROM direct)
                      + (SELECT count(*) FROM pg_stat_activity
                         WHERE pg_blocking_pids(pid) && (SELECT coalesce(array_agg(pid), '{}') FROM direct)) AS n`,
                [blockerPid],
              )
            ).rows[0].n,
          );
        let secondDone = false;
        const until = async (what: string, ok: () => Promise<boolean>) => {
          for (let i = 0; i < 200; i++) {
            if (await ok()) return;
            await new Promise((r) => setTimeout(r, 10));
          }
          throw new Error(`timed out waiting for ${what}`);
        };

        const { doc, updates } = editedDoc(3);
        await storage.docs.append([{ roomId: 'r', data: updates[0]! }]);
        // Hold the room's head row, as an append in flight does between taking its position and commit.
        await blocker.query('BEGIN');
        await blocker.query(`SELECT head FROM doc_heads WHERE room_id = 'r' FOR UPDATE`);
        const first = storage.docs.append([{ roomId: 'r', data: updates[1]! }]);
        await until('the first append to wait', async () => (await waiting()) >= 1);
        const second = storage.docs.append([{ roomId: 'r', data: updates[2]! }]).finally(() => (secondDone = true));
        await until('the second append to finish or wait', async () => secondDone || (await waiting()) >= 2);
        expect(secondDone).toBe(false);
        // The compaction reads what is visible (position 1), then waits for the head row too.
        const compacting = compactOnce(storage, 'r');
        await until('the compaction to wait', async () => (await waiting()) >= 3);
        await blocker.query('ROLLBACK');
        const [[seq1], [seq2]] = await Promise.all([first, second]);
        expect([seq1, seq2]).toEqual([2, 3]);
        expect(await compacting).toBe(true);
        expect(await storage.docs.load('r')).toMatchObject({ snapshotSeq: 1, head: 3 });
        expectSameDoc(docOf(await storage.docs.load('r')), doc);
      } finally {
        await Promise.all([blocker.end(), monitor.end()]);
        await cleanup();
      }
    });

    it('an invite made while its creator’s demotion is in flight waits for it, and is then refused', async () => {
      // The demotion revokes Bob's invites, then stalls deleting his feed (its row held here), still
      // holding the room. An invite Bob makes meanwhile must wait for the room and find him demoted:
      // were it written at once, the demotion would have revoked before it existed, and it would
      // work again once Bob is an owner again.
      const { storage, schema, cleanup } = await openTestPostgresStorage(pgUrl);
      const [blocker, monitor] = [new pg.Client({ connectionString: pgUrl }), new pg.Client({ connectionString: pgUrl })];
      await Promise.all([blocker.connect(), monitor.connect()]);
      try {
        await blocker.query(`SET search_path TO ${schema}`);
        const blockerPid = (await blocker.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
        /** Backends waiting on the blocker, directly or behind one that does. */
        const waiting = async () =>
          Number(
            (
              await monitor.query(
                `WITH direct AS (SELECT pid FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid)))
                 SELECT (SELECT count(*) FROM direct)
                      + (SELECT count(*) FROM pg_stat_activity
                         WHERE pg_blocking_pids(pid) && (SELECT coalesce(array_agg(pid), '{}') FROM direct)) AS n`,
                [blockerPid],
              )
            ).rows[0].n,
          );
        const until = async (what: string, ok: () => Promise<boolean>) => {
          for (let i = 0; i < 200; i++) {
            if (await ok()) return;
            await new Promise((r) => setTimeout(r, 10));
          }
          throw new Error(`timed out waiting for ${what}`);
        };

        const [alice, bob, carol] = [await addUser(storage), await addUser(storage), await addUser(storage)];
        const room = await addRoom(storage, alice);
        await join(storage, room, bob, 'owner');
        expect(await storage.feeds.put({ roomId: room.roomId, tokenHash: `feed-${randomUUID()}`, createdBy: bob.userId, createdAt: tick() })).toBe(true);
        await blocker.query('BEGIN');
        await blocker.query('SELECT 1 FROM room_feeds WHERE room_id = $1 FOR UPDATE', [room.roomId]);
        const demoted = storage.rooms.setRole(room.roomId, bob.userId, 'viewer');
        await until('the demotion to wait', async () => (await waiting()) >= 1);
        const code = randomUUID();
        let settled = false;
        const invited = storage.rooms
          .createInvite({ codeHash: code, roomId: room.roomId, role: 'editor', createdBy: bob.userId, expiresAt: null, maxUses: null, uses: 0, createdAt: tick() })
          .finally(() => (settled = true));
        await until('the invite to be stored or wait', async () => settled || (await waiting()) >= 2);
        await blocker.query('ROLLBACK');
        expect(await demoted).toBe('ok');
        expect(await invited).toBe(false);
        expect(await storage.rooms.findInvite(code)).toBeUndefined();
        expect(await storage.rooms.setRole(room.roomId, bob.userId, 'owner')).toBe('ok');
        expect(await storage.rooms.acceptInvite(code, carol.userId, tick())).toEqual({ outcome: 'not-found' });
        expect(await storage.feeds.get(room.roomId)).toBeUndefined();
      } finally {
        await blocker.query('ROLLBACK').catch(() => undefined);
        await Promise.all([blocker.end(), monitor.end()]);
        await cleanup();
      }
    });

    it('fails to open, with the reason, when the server cannot be reached', async () => {
      await expect(
        openPostgresStorage({ connectionString: 'postgres://postgres@127.0.0.1:1/test', connectionTimeoutMillis: 2_000 }),
      ).rejects.toThrow(/ECONNREFUSED|connect/);
    });
  });
});
