import fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import BetterSqlite3, { type Database, type Statement } from 'better-sqlite3';
import type { SqliteSynchronous } from '../../config/config.js';
import type {
  DocStats,
  DocStore,
  FeedRecord,
  FeedStore,
  InviteAcceptance,
  LeaseStore,
  InviteRecord,
  MemberRecord,
  NewInvite,
  RefreshTokenCursor,
  RefreshTokenRecord,
  RefreshTokenStore,
  Role,
  RoomRecord,
  RoomStore,
  SecretStore,
  Storage,
  StoredDoc,
  UpdateToAppend,
  UserRecord,
  UserStore,
} from '../storage.js';
import { toInvite, toMember, toRoom, toToken, toUser } from '../rows.js';
import { REFRESH_SWEEP_START } from '../storage.js';
import { migrate } from './migrations.js';
import { SqliteModuleTables } from './module-tables.js';
import type { ModuleTables } from '../module-tables.js';
import { InlineAppender, SizedAppender, ThreadedAppender, type DocAppender } from './doc-appender.js';
import { loadTransaction, ThreadedLoader } from './doc-loader.js';

export interface SqliteOptions {
  /** Path of the database file, or ':memory:'. */
  file: string;
  synchronous?: SqliteSynchronous;
}

export function sqliteFileIn(dataDir: string): string {
  return path.join(dataDir, 'kith.sqlite');
}

/**
 * Batches of at least this many updates are committed on the writer thread, smaller ones inline.
 * Measured in the bench (W2, one update per commit): thread only 0.289 s of CPU per 1,000
 * deliveries, sized 0.202, inline only 0.188; large batches still leave the event loop free.
 */
const THREADED_APPEND_FROM = 32;

/** The embedded default storage: one SQLite file in WAL mode. */
export function openSqliteStorage(options: SqliteOptions): Storage {
  if (options.file !== ':memory:') fs.mkdirSync(path.dirname(options.file), { recursive: true });
  const db = new BetterSqlite3(options.file);
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${options.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`);
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  migrate(db);
  const appender =
    options.file === ':memory:'
      ? new InlineAppender(db)
      : new SizedAppender(
          new InlineAppender(db),
          new ThreadedAppender({ file: options.file, synchronous: options.synchronous === 'normal' ? 'NORMAL' : 'FULL' }),
          THREADED_APPEND_FROM,
        );
  return new SqliteStorage(db, appender, options.file === ':memory:' ? undefined : new ThreadedLoader(options.file));
}


class SqliteStorage implements Storage {
  readonly users: UserStore;
  readonly refreshTokens: RefreshTokenStore;
  readonly rooms: RoomStore;
  readonly docs: DocStore;
  readonly leases: LeaseStore;
  readonly feeds: FeedStore;
  readonly secrets: SecretStore;
  readonly modules: ModuleTables;
  /** One process owns the file. */
  readonly shared = false;
  private readonly probeTx: ReturnType<Database['transaction']>;

  constructor(
    private readonly db: Database,
    private readonly appender: DocAppender,
    private readonly loader: ThreadedLoader | undefined,
  ) {
    this.secrets = new SqliteSecrets(db);
    const put = db.prepare(
      `INSERT INTO leases (name, holder, expires_at) VALUES ('kith:write-probe', ?, 0)
       ON CONFLICT (name) DO UPDATE SET holder = excluded.holder`,
    );
    const drop = db.prepare(`DELETE FROM leases WHERE name = 'kith:write-probe'`);
    // Sized like a real commit: on a full disk a tiny write may still fit in the WAL's spare room.
    this.probeTx = db.transaction(() => {
      put.run(randomBytes(PROBE_BYTES / 2).toString('hex'));
      drop.run();
    });
    this.users = new SqliteUsers(db);
    this.refreshTokens = new SqliteRefreshTokens(db);
    this.rooms = new SqliteRooms(db);
    this.docs = new SqliteDocs(db, appender, loader);
    this.leases = new SqliteLeases(db);
    this.feeds = new SqliteFeeds(db);
    this.modules = new SqliteModuleTables(db);
  }

  async ping(): Promise<void> {
    this.db.prepare('SELECT 1').get();
  }

  async probeWrite(): Promise<void> {
    this.probeTx.immediate();
  }

  async close(): Promise<void> {
    await Promise.all([this.appender.close(), this.loader?.close()]);
    if (this.db.open) this.db.close();
  }
}

/** Size of the write `probeWrite` commits. */
const PROBE_BYTES = 64 * 1024;

class SqliteSecrets implements SecretStore {
  private readonly insert;
  private readonly read;

  constructor(db: Database) {
    this.insert = db.prepare(
      'INSERT INTO server_secrets (name, value, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING',
    );
    this.read = db.prepare('SELECT value FROM server_secrets WHERE name = ?').pluck();
  }

  async getOrCreate(name: string, candidate: string): Promise<string> {
    this.insert.run(name, candidate, Date.now());
    return this.read.get(name) as string;
  }
}

class SqliteUsers implements UserStore {
  private readonly insert;
  private readonly byKey;
  private readonly byId;
  private readonly setHash;
  private readonly deleteTx;

  constructor(db: Database) {
    this.insert = db.prepare(
      `INSERT INTO users (user_id, username, username_key, password_hash, created_at)
       VALUES (?, ?, ?, ?, ?) ON CONFLICT (username_key) DO NOTHING`,
    );
    this.byKey = db.prepare('SELECT * FROM users WHERE username_key = ?');
    this.byId = db.prepare('SELECT * FROM users WHERE user_id = ?');
    this.setHash = db.prepare('UPDATE users SET password_hash = ? WHERE user_id = ?');
    const soleOwnerships = db.prepare(
      `SELECT m.room_id FROM members m WHERE m.user_id = ? AND m.role = 'owner' AND NOT EXISTS
         (SELECT 1 FROM members o WHERE o.room_id = m.room_id AND o.role = 'owner' AND o.user_id <> m.user_id)`,
    );
    const steps = [
      db.prepare('DELETE FROM invites WHERE created_by = ?'),
      db.prepare('DELETE FROM room_feeds WHERE created_by = ?'),
    ];
    const handOverCreated = db.prepare(
      `UPDATE rooms SET created_by = (SELECT o.user_id FROM members o WHERE o.room_id = rooms.room_id AND o.role = 'owner'
         AND o.user_id <> ? ORDER BY o.joined_at, o.user_id LIMIT 1) WHERE created_by = ?`,
    );
    const deleteUser = db.prepare('DELETE FROM users WHERE user_id = ?');
    this.deleteTx = db.transaction((userId: string): 'ok' | 'not-found' | 'owns-rooms' => {
      if (!this.byId.get(userId)) return 'not-found';
      if (soleOwnerships.all(userId).length > 0) return 'owns-rooms';
      for (const step of steps) step.run(userId);
      handOverCreated.run(userId, userId);
      deleteUser.run(userId);
      return 'ok';
    });
  }

  async delete(userId: string): Promise<'ok' | 'not-found' | 'owns-rooms'> {
    return this.deleteTx.immediate(userId);
  }

  async setPasswordHash(userId: string, passwordHash: string): Promise<boolean> {
    return this.setHash.run(passwordHash, userId).changes === 1;
  }

  async create(u: UserRecord): Promise<boolean> {
    return this.insert.run(u.userId, u.username, u.username.toLowerCase(), u.passwordHash, u.createdAt).changes === 1;
  }

  async findByUsername(username: string): Promise<UserRecord | undefined> {
    const r = this.byKey.get(username.toLowerCase());
    return r ? toUser(r) : undefined;
  }

  async findById(userId: string): Promise<UserRecord | undefined> {
    const r = this.byId.get(userId);
    return r ? toUser(r) : undefined;
  }
}

class SqliteRefreshTokens implements RefreshTokenStore {
  private readonly insertStmt;
  private readonly findStmt;
  private readonly markRotated;
  private readonly revokeStmt;
  private readonly revokeFamilyStmt;
  private readonly revokeUserStmt;
  private readonly rotateTx;
  private readonly sweepEnd;
  private readonly sweepRange;
  private readonly sweepTail;

  constructor(db: Database) {
    this.insertStmt = db.prepare(
      `INSERT INTO refresh_tokens (token_hash, user_id, family_id, status, expires_at, created_at)
       VALUES (@tokenHash, @userId, @familyId, @status, @expiresAt, @createdAt)`,
    );
    this.findStmt = db.prepare('SELECT * FROM refresh_tokens WHERE token_hash = ?');
    this.markRotated = db.prepare(
      `UPDATE refresh_tokens SET status = 'rotated' WHERE token_hash = ? AND status = 'active'`,
    );
    this.revokeStmt = db.prepare(`UPDATE refresh_tokens SET status = 'revoked' WHERE token_hash = ?`);
    this.revokeFamilyStmt = db.prepare(`UPDATE refresh_tokens SET status = 'revoked' WHERE family_id = ?`);
    this.revokeUserStmt = db.prepare(`UPDATE refresh_tokens SET status = 'revoked' WHERE user_id = ? AND status = 'active'`);
    this.rotateTx = db.transaction((oldHash: string, successor: RefreshTokenRecord): boolean => {
      if (this.markRotated.run(oldHash).changes !== 1) return false;
      this.insertStmt.run(successor);
      return true;
    });
    // The sweep walks refresh_tokens_expiry from the cursor; each row's family is one probe of the
    // partial index refresh_tokens_live. Every statement touches at most `limit` rows.
    this.sweepEnd = db.prepare(
      `SELECT expires_at, token_hash FROM refresh_tokens
       WHERE (expires_at, token_hash) > (@fromE, @fromH) AND expires_at <= @before
       ORDER BY expires_at, token_hash LIMIT 1 OFFSET @skip`,
    );
    const dead = `expires_at <= @before AND NOT EXISTS (SELECT 1 FROM refresh_tokens l
      WHERE l.family_id = refresh_tokens.family_id AND l.status = 'active' AND l.expires_at > @before)`;
    this.sweepRange = db.prepare(
      `DELETE FROM refresh_tokens WHERE (expires_at, token_hash) > (@fromE, @fromH)
         AND (expires_at, token_hash) <= (@toE, @toH) AND ${dead}`,
    );
    this.sweepTail = db.prepare(`DELETE FROM refresh_tokens WHERE (expires_at, token_hash) > (@fromE, @fromH) AND ${dead}`);
  }

  async insert(t: RefreshTokenRecord): Promise<void> {
    this.insertStmt.run(t);
  }

  async find(tokenHash: string): Promise<RefreshTokenRecord | undefined> {
    const r = this.findStmt.get(tokenHash);
    return r ? toToken(r) : undefined;
  }

  async rotate(oldHash: string, successor: RefreshTokenRecord): Promise<boolean> {
    return this.rotateTx(oldHash, successor);
  }

  async revoke(tokenHash: string): Promise<void> {
    this.revokeStmt.run(tokenHash);
  }

  async revokeFamily(familyId: string): Promise<void> {
    this.revokeFamilyStmt.run(familyId);
  }

  async revokeUser(userId: string): Promise<void> {
    this.revokeUserStmt.run(userId);
  }

  async pruneDead(
    before: number,
    after: RefreshTokenCursor | undefined,
    limit: number,
  ): Promise<{ deleted: number; next: RefreshTokenCursor | undefined }> {
    const from = after ?? REFRESH_SWEEP_START;
    const params = { fromE: from.expiresAt, fromH: from.tokenHash, before };
    const end = this.sweepEnd.get({ ...params, skip: Math.max(0, limit - 1) }) as
      | { expires_at: number; token_hash: string }
      | undefined;
    if (!end) return { deleted: this.sweepTail.run(params).changes, next: undefined };
    const deleted = this.sweepRange.run({ ...params, toE: end.expires_at, toH: end.token_hash }).changes;
    return { deleted, next: { expiresAt: end.expires_at, tokenHash: end.token_hash } };
  }
}

/** An invite that still admits someone at @now: not revoked, not expired, not used up. */
const LIVE_INVITE = `revoked_at IS NULL AND (expires_at IS NULL OR expires_at > @now) AND (max_uses IS NULL OR uses < max_uses)`;

class SqliteRooms implements RoomStore {
  private readonly db: Database;
  private readonly stmts;

  constructor(db: Database) {
    this.db = db;
    this.stmts = {
      insertRoom: db.prepare(
        'INSERT INTO rooms (room_id, name, created_by, created_at) VALUES (@roomId, @name, @createdBy, @createdAt)',
      ),
      insertMember: db.prepare(
        'INSERT INTO members (room_id, user_id, role, joined_at) VALUES (?, ?, ?, ?)',
      ),
      getRoom: db.prepare('SELECT * FROM rooms WHERE room_id = ?'),
      listForUser: db.prepare(
        `SELECT r.*, m.role FROM rooms r JOIN members m ON m.room_id = r.room_id
         WHERE m.user_id = ? ORDER BY r.created_at, r.room_id`,
      ),
      members: db.prepare(
        `SELECT m.*, u.username FROM members m JOIN users u ON u.user_id = m.user_id
         WHERE m.room_id = ? ORDER BY m.joined_at, u.username_key`,
      ),
      member: db.prepare(
        `SELECT m.*, u.username FROM members m JOIN users u ON u.user_id = m.user_id
         WHERE m.room_id = ? AND m.user_id = ?`,
      ),
      ownerCount: db.prepare(`SELECT count(*) FROM members WHERE room_id = ? AND role = 'owner'`).pluck(),
      ownedCount: db.prepare(`SELECT count(*) FROM members WHERE user_id = ? AND role = 'owner'`).pluck(),
      soleOwned: db.prepare(
        `SELECT r.room_id FROM rooms r JOIN members m ON m.room_id = r.room_id
         WHERE m.user_id = ? AND m.role = 'owner'
           AND NOT EXISTS (SELECT 1 FROM members o WHERE o.room_id = m.room_id AND o.role = 'owner' AND o.user_id <> m.user_id)
         ORDER BY r.created_at, r.room_id`,
      ).pluck(),
      liveInviteCount: db.prepare(`SELECT count(*) FROM invites WHERE room_id = @roomId AND ${LIVE_INVITE}`).pluck(),
      boundedInvites: db.prepare(
        `SELECT * FROM (SELECT * FROM invites WHERE room_id = @roomId AND ${LIVE_INVITE} ORDER BY created_at DESC, code_hash LIMIT @live)
         UNION ALL
         SELECT * FROM (SELECT * FROM invites WHERE room_id = @roomId AND NOT (${LIVE_INVITE}) ORDER BY created_at DESC, code_hash LIMIT @dead)
         ORDER BY created_at DESC, code_hash`,
      ),
      setRole: db.prepare('UPDATE members SET role = ? WHERE room_id = ? AND user_id = ?'),
      remove: db.prepare('DELETE FROM members WHERE room_id = ? AND user_id = ?'),
      insertInvite: db.prepare(
        // An invite is newer than every removal from its room, even within the same millisecond
        // (a removal refuses the invites created up to it). Stored only while its creator is an
        // owner: one statement, so no membership change comes between the check and the insert.
        `INSERT INTO invites (code_hash, room_id, role, created_by, expires_at, max_uses, uses, created_at)
         SELECT @codeHash, @roomId, @role, @createdBy, @expiresAt, @maxUses, @uses,
                max(@createdAt, coalesce((SELECT max(removed_at) + 1 FROM room_removals WHERE room_id = @roomId), 0))
         WHERE EXISTS (SELECT 1 FROM members WHERE room_id = @roomId AND user_id = @createdBy AND role = 'owner')`,
      ),
      getInvite: db.prepare('SELECT * FROM invites WHERE code_hash = ?'),
      useInvite: db.prepare('UPDATE invites SET uses = uses + 1 WHERE code_hash = ?'),
      listInvites: db.prepare('SELECT * FROM invites WHERE room_id = ? ORDER BY created_at DESC, code_hash'),
      revokeInvite: db.prepare('DELETE FROM invites WHERE room_id = ? AND code_hash = ?'),
      // What an owner's links become when they stop being one (see changeMembership).
      revokeInvitesBy: db.prepare('UPDATE invites SET revoked_at = ? WHERE room_id = ? AND created_by = ? AND revoked_at IS NULL'),
      dropFeedBy: db.prepare('DELETE FROM room_feeds WHERE room_id = ? AND created_by = ?'),
      recordRemoval: db.prepare(
        // A removal is no older than any invite its room has, so it refuses every one of them.
        `INSERT INTO room_removals (room_id, user_id, removed_at)
         VALUES (@roomId, @userId, max(@removedAt, coalesce((SELECT max(created_at) FROM invites WHERE room_id = @roomId), 0)))
         ON CONFLICT (room_id, user_id) DO UPDATE SET removed_at = max(removed_at, excluded.removed_at)`,
      ),
      removedAt: db.prepare('SELECT removed_at FROM room_removals WHERE room_id = ? AND user_id = ?').pluck(),
      insertUser: db.prepare(
        `INSERT INTO users (user_id, username, username_key, password_hash, created_at)
         VALUES (?, ?, ?, ?, ?) ON CONFLICT (username_key) DO NOTHING`,
      ),
    };
  }

  async create(room: RoomRecord, maxOwned?: number): Promise<'ok' | 'too-many'> {
    return this.db.transaction((): 'ok' | 'too-many' => {
      if (maxOwned !== undefined && (this.stmts.ownedCount.get(room.createdBy) as number) >= maxOwned) return 'too-many';
      this.stmts.insertRoom.run(room);
      this.stmts.insertMember.run(room.roomId, room.createdBy, 'owner', room.createdAt);
      return 'ok';
    }).immediate();
  }

  async soleOwnedRooms(userId: string): Promise<string[]> {
    return this.stmts.soleOwned.all(userId) as string[];
  }

  async get(roomId: string): Promise<RoomRecord | undefined> {
    const r = this.stmts.getRoom.get(roomId);
    return r ? toRoom(r) : undefined;
  }

  async listForUser(userId: string): Promise<Array<RoomRecord & { role: Role }>> {
    return this.stmts.listForUser.all(userId).map((r: any) => ({ ...toRoom(r), role: r.role as Role }));
  }

  async members(roomId: string): Promise<MemberRecord[]> {
    return this.stmts.members.all(roomId).map(toMember);
  }

  async member(roomId: string, userId: string): Promise<MemberRecord | undefined> {
    const r = this.stmts.member.get(roomId, userId);
    return r ? toMember(r) : undefined;
  }

  private readonly changeMembership = (
    roomId: string,
    userId: string,
    role: Role | null,
    removedAt?: number,
  ): 'ok' | 'not-member' | 'last-owner' => {
    const current = this.stmts.member.get(roomId, userId) as any;
    if (!current) return 'not-member';
    const losesOwner = current.role === 'owner' && role !== 'owner';
    if (losesOwner && (this.stmts.ownerCount.get(roomId) as number) <= 1) return 'last-owner';
    if (role === null) {
      this.stmts.remove.run(roomId, userId);
      if (removedAt !== undefined) this.stmts.recordRemoval.run({ roomId, userId, removedAt });
    } else this.stmts.setRole.run(role, roomId, userId);
    // The links an owner made die with the role, for good (see RoomStore.removeMember): their
    // invites are marked revoked and their feed deleted, in this transaction.
    if (losesOwner) {
      this.stmts.revokeInvitesBy.run(Date.now(), roomId, userId);
      this.stmts.dropFeedBy.run(roomId, userId);
    }
    return 'ok';
  };

  async setRole(roomId: string, userId: string, role: Role): Promise<'ok' | 'not-member' | 'last-owner'> {
    return this.db.transaction(this.changeMembership).immediate(roomId, userId, role);
  }

  async removeMember(roomId: string, userId: string, removedAt?: number): Promise<'ok' | 'not-member' | 'last-owner'> {
    return this.db.transaction(this.changeMembership).immediate(roomId, userId, null, removedAt);
  }

  async createInvite(invite: NewInvite): Promise<boolean> {
    const { codeHash, roomId, role, createdBy, expiresAt, maxUses, uses, createdAt } = invite;
    return this.stmts.insertInvite.run({ codeHash, roomId, role, createdBy, expiresAt, maxUses, uses, createdAt }).changes === 1;
  }

  async createInviteWithin(invite: NewInvite, maxLive: number): Promise<'ok' | 'not-owner' | 'too-many'> {
    const { codeHash, roomId, role, createdBy, expiresAt, maxUses, uses, createdAt } = invite;
    return this.db.transaction((): 'ok' | 'not-owner' | 'too-many' => {
      if ((this.stmts.member.get(roomId, createdBy) as any)?.role !== 'owner') return 'not-owner';
      if ((this.stmts.liveInviteCount.get({ roomId, now: createdAt }) as number) >= maxLive) return 'too-many';
      const stored = this.stmts.insertInvite.run({ codeHash, roomId, role, createdBy, expiresAt, maxUses, uses, createdAt }).changes === 1;
      return stored ? 'ok' : 'not-owner';
    }).immediate();
  }

  async listInvites(roomId: string, bound?: { now: number; live: number; dead: number }): Promise<InviteRecord[]> {
    if (bound) return this.stmts.boundedInvites.all({ roomId, ...bound }).map(toInvite);
    return this.stmts.listInvites.all(roomId).map(toInvite);
  }

  async revokeInvite(roomId: string, codeHash: string): Promise<boolean> {
    return this.stmts.revokeInvite.run(roomId, codeHash).changes === 1;
  }

  async findInvite(codeHash: string): Promise<InviteRecord | undefined> {
    const row = this.stmts.getInvite.get(codeHash);
    return row ? toInvite(row) : undefined;
  }

  /** The acceptance rules; runs inside the caller's transaction. */
  private readonly accept = (codeHash: string, userId: string, now: number): InviteAcceptance => {
    const inv = this.stmts.getInvite.get(codeHash) as any;
    if (!inv) return { outcome: 'not-found' };
    const existing = this.stmts.member.get(inv.room_id, userId);
    if (existing) return { outcome: 'already-member', member: toMember(existing) };
    if (inv.expires_at !== null && inv.expires_at <= now) return { outcome: 'expired' };
    if (inv.max_uses !== null && inv.uses >= inv.max_uses) return { outcome: 'used-up' };
    // Revoked when its creator lost the role; and, should a row ever escape that, refused while
    // they are not an owner anyway.
    if (inv.revoked_at !== null) return { outcome: 'revoked' };
    if ((this.stmts.member.get(inv.room_id, inv.created_by) as any)?.role !== 'owner') return { outcome: 'revoked' };
    const removedAt = this.stmts.removedAt.get(inv.room_id, userId) as number | undefined;
    if (removedAt !== undefined && inv.created_at <= removedAt) return { outcome: 'removed' };
    this.stmts.useInvite.run(codeHash);
    this.stmts.insertMember.run(inv.room_id, userId, inv.role, now);
    return { outcome: 'joined', member: toMember(this.stmts.member.get(inv.room_id, userId)) };
  };

  async acceptInvite(codeHash: string, userId: string, now: number): Promise<InviteAcceptance> {
    return this.db.transaction(this.accept).immediate(codeHash, userId, now);
  }

  async delete(roomId: string): Promise<boolean> {
    const stmts = this.deleteStmts ??= [
      // The document's rows name the room without a foreign key: removed by hand, in the same transaction.
      this.db.prepare('DELETE FROM doc_updates WHERE room_id = ?'),
      this.db.prepare('DELETE FROM doc_snapshots WHERE room_id = ?'),
      this.db.prepare('DELETE FROM doc_heads WHERE room_id = ?'),
      // Members, invites, removals and the feed go with the room (ON DELETE CASCADE).
      this.db.prepare('DELETE FROM rooms WHERE room_id = ?'),
    ];
    return this.db.transaction(() => stmts.map((s) => s.run(roomId).changes).at(-1)! > 0).immediate();
  }

  private deleteStmts: Statement[] | undefined;

  async registerWithInvite(
    u: UserRecord,
    codeHash: string,
    now: number,
  ): Promise<InviteAcceptance | { outcome: 'username-taken' }> {
    const refused = new Error('invite refused');
    let outcome: InviteAcceptance | { outcome: 'username-taken' } | undefined;
    try {
      this.db
        .transaction(() => {
          const added = this.stmts.insertUser.run(u.userId, u.username, u.username.toLowerCase(), u.passwordHash, u.createdAt);
          if (added.changes !== 1) {
            outcome = { outcome: 'username-taken' };
            return;
          }
          outcome = this.accept(codeHash, u.userId, now);
          // Throwing rolls the user back: no account without the room it was invited to.
          if (outcome.outcome !== 'joined') throw refused;
        })
        .immediate();
    } catch (err) {
      if (err !== refused) throw err;
    }
    return outcome!;
  }
}

class SqliteDocs implements DocStore {
  private readonly stmts;
  private readonly loadTx;

  constructor(
    db: Database,
    private readonly appender: DocAppender,
    /** Loads off the event loop; none for an in-memory database, which no other connection can open. */
    private readonly loader: ThreadedLoader | undefined,
  ) {
    this.loadTx = loadTransaction(db);
    this.stmts = {
      head: db.prepare('SELECT head FROM doc_heads WHERE room_id = ?').pluck(),
      logStats: db.prepare(
        'SELECT count(*) AS n, coalesce(sum(length(data)), 0) AS bytes FROM doc_updates WHERE room_id = ?',
      ),
      snapshotBytes: db.prepare('SELECT length(snapshot) FROM doc_snapshots WHERE room_id = ?').pluck(),
    };
  }

  async load(roomId: string, afterSeq = 0): Promise<StoredDoc> {
    return this.loadTx(roomId, afterSeq);
  }

  async loadOffLoop(roomId: string): Promise<StoredDoc> {
    return this.loader ? this.loader.load(roomId) : this.loadTx(roomId, 0);
  }

  async head(roomId: string): Promise<number> {
    return (this.stmts.head.get(roomId) as number | undefined) ?? 0;
  }

  async append(updates: UpdateToAppend[]): Promise<number[]> {
    if (updates.length === 0) return [];
    return this.appender.append(updates);
  }

  async stats(roomId: string): Promise<DocStats> {
    const log = this.stmts.logStats.get(roomId) as { n: number; bytes: number };
    const snapshotBytes = (this.stmts.snapshotBytes.get(roomId) as number | undefined) ?? 0;
    return { logCount: log.n, logBytes: log.bytes, snapshotBytes };
  }

  async compact(
    roomId: string,
    snapshot: Uint8Array,
    expectedSnapshotSeq: number,
    throughSeq: number,
    stateVector?: Uint8Array,
  ): Promise<boolean> {
    return this.appender.compact({ roomId, snapshot, expectedSnapshotSeq, throughSeq, stateVector: stateVector ?? null });
  }
}

class SqliteLeases implements LeaseStore {
  private readonly acquire;
  private readonly releaseStmt;

  constructor(db: Database) {
    this.acquire = db.prepare(
      `INSERT INTO leases (name, holder, expires_at) VALUES (@name, @holder, @expiresAt)
       ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
       WHERE leases.expires_at <= @now OR leases.holder = excluded.holder
       RETURNING holder`,
    );
    this.releaseStmt = db.prepare('DELETE FROM leases WHERE name = ? AND holder = ?');
  }

  async tryAcquire(name: string, holder: string, ttlMs: number, now = Date.now()): Promise<boolean> {
    return this.acquire.get({ name, holder, expiresAt: now + ttlMs, now }) !== undefined;
  }

  async release(name: string, holder: string): Promise<void> {
    this.releaseStmt.run(name, holder);
  }
}

const toFeed = (r: any): FeedRecord => ({
  roomId: r.room_id,
  tokenHash: r.token_hash,
  createdBy: r.created_by,
  createdAt: r.created_at,
});

class SqliteFeeds implements FeedStore {
  private readonly stmts;

  constructor(db: Database) {
    this.stmts = {
      put: db.prepare(
        // Stored only while its creator is an owner of the room (one statement: no membership
        // change comes between the check and the write).
        `INSERT INTO room_feeds (room_id, token_hash, created_by, created_at)
         SELECT @roomId, @tokenHash, @createdBy, @createdAt
         WHERE EXISTS (SELECT 1 FROM members WHERE room_id = @roomId AND user_id = @createdBy AND role = 'owner')
         ON CONFLICT (room_id) DO UPDATE SET token_hash = excluded.token_hash,
           created_by = excluded.created_by, created_at = excluded.created_at`,
      ),
      get: db.prepare('SELECT * FROM room_feeds WHERE room_id = ?'),
      byHash: db.prepare('SELECT * FROM room_feeds WHERE token_hash = ?'),
      revoke: db.prepare('DELETE FROM room_feeds WHERE room_id = ?'),
    };
  }

  async put(feed: FeedRecord): Promise<boolean> {
    const { roomId, tokenHash, createdBy, createdAt } = feed;
    return this.stmts.put.run({ roomId, tokenHash, createdBy, createdAt }).changes === 1;
  }

  async get(roomId: string): Promise<FeedRecord | undefined> {
    const r = this.stmts.get.get(roomId);
    return r ? toFeed(r) : undefined;
  }

  async findByTokenHash(tokenHash: string): Promise<FeedRecord | undefined> {
    const r = this.stmts.byHash.get(tokenHash);
    return r ? toFeed(r) : undefined;
  }

  async revoke(roomId: string): Promise<boolean> {
    return this.stmts.revoke.run(roomId).changes > 0;
  }
}
