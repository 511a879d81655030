import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Pool, PoolClient, QueryResultRow } from 'pg';
import type {
  DocStats,
  DocStore,
  FeedRecord,
  FeedStore,
  LeaseStore,
  InviteAcceptance,
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
import { toBytes, toInvite, toMember, toRoom, toToken, toUser } from '../rows.js';
import { REFRESH_SWEEP_START } from '../storage.js';
import { migratePostgres } from './migrations.js';
import { PostgresModuleTables } from './module-tables.js';
import type { ModuleTables } from '../module-tables.js';

export interface PostgresOptions {
  /** `postgres://user:password@host:port/database?…`, as libpq understands it. */
  connectionString: string;
  /**
   * Schema to keep kith's tables in (it must exist; letters, digits and `_` only). Default: the
   * connection's search_path, normally `public`. Added to the URL's libpq `options` as
   * `-c search_path=…`, so a URL may equally carry `?options=-c%20search_path%3Dkith`.
   */
  schema?: string;
  /** Most connections the pool opens (default 10). */
  poolMax?: number;
  /** How long to wait for a connection before failing (default 10 s). */
  connectionTimeoutMillis?: number;
  /** Called when an idle pooled connection fails (e.g. the server restarted); the pool replaces it. */
  onIdleError?: (err: Error) => void;
}

/**
 * Storage on PostgreSQL (15+; 12+ should do): connects, migrates under an advisory lock and returns
 * a Storage with the same semantics as the SQLite one. Several kith-server processes may share one
 * database: every check-then-write is a transaction whose rows are locked first.
 */
export async function openPostgresStorage(options: PostgresOptions): Promise<Storage> {
  const pool = new pg.Pool({
    connectionString: withSchema(options.connectionString, options.schema),
    max: options.poolMax ?? 10,
    connectionTimeoutMillis: options.connectionTimeoutMillis ?? 10_000,
    types: { getTypeParser: getTypeParser as CustomGetTypeParser },
  });
  // Without a listener an idle connection's error (server restart, network cut) would crash the
  // process; the pool drops such a connection by itself.
  pool.on('error', (err) => options.onIdleError?.(err));
  try {
    await migratePostgres(pool);
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw err;
  }
  return new PostgresStorage(pool);
}

type CustomGetTypeParser = pg.CustomTypesConfig['getTypeParser'];
const INT8_OID = 20;

/** int8 (times in ms, seqs, counts) comes back as a JS number; none of them can pass 2^53. */
function parseInt8(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new Error(`PostgreSQL bigint ${text} does not fit a JS number`);
  return n;
}

function getTypeParser(oid: number, format?: 'text' | 'binary'): unknown {
  if (oid === INT8_OID && format !== 'binary') return parseInt8;
  return (pg.types.getTypeParser as (oid: number, format?: string) => unknown)(oid, format);
}

/** Adds `-c search_path=<schema>` to the URL's `options` (a URL's own options override a config's). */
function withSchema(connectionString: string, schema: string | undefined): string {
  if (schema === undefined) return connectionString;
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(schema)) {
    throw new Error(`PostgreSQL schema name must be letters, digits and _ only, got "${schema}"`);
  }
  const url = new URL(connectionString);
  const own = url.searchParams.get('options');
  url.searchParams.set('options', `${own ? `${own} ` : ''}-c search_path=${schema}`);
  return url.toString();
}


/** SQLSTATEs after which the whole transaction can simply run again. */
const RETRYABLE = new Set(['40001' /* serialization_failure */, '40P01' /* deadlock_detected */]);

/** Small layer over the pool: plain queries and retried READ COMMITTED transactions. */
class Db {
  constructor(readonly pool: Pool) {}

  async rows<T extends QueryResultRow = any>(sql: string, params: unknown[] = []): Promise<T[]> {
    return (await this.pool.query<T>(sql, params)).rows;
  }

  /** Runs a statement; returns how many rows it changed. */
  async run(sql: string, params: unknown[] = []): Promise<number> {
    return (await this.pool.query(sql, params)).rowCount ?? 0;
  }

  /**
   * Runs `fn` in one transaction on one connection. Rolls back on any error, and runs the whole
   * transaction again (a few times) on a deadlock or serialization failure.
   */
  async tx<T>(fn: (c: PoolClient) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const c = await this.pool.connect();
      let broken: Error | undefined;
      try {
        await c.query('BEGIN');
        const result = await fn(c);
        await c.query('COMMIT');
        return result;
      } catch (err) {
        await c.query('ROLLBACK').catch((e: Error) => {
          broken = e; // the connection is unusable: let the pool discard it
        });
        if (attempt < 5 && RETRYABLE.has((err as { code?: string }).code ?? '')) continue;
        throw err;
      } finally {
        c.release(broken ?? false);
      }
    }
  }
}

class PostgresStorage implements Storage {
  readonly users: UserStore;
  readonly refreshTokens: RefreshTokenStore;
  readonly rooms: RoomStore;
  readonly docs: DocStore;
  readonly leases: LeaseStore;
  readonly feeds: FeedStore;
  readonly secrets: SecretStore;
  readonly modules: ModuleTables;
  /** Every instance of a cluster connects to the same database. */
  readonly shared = true;
  private closing: Promise<void> | undefined;
  private readonly db: Db;

  constructor(private readonly pool: Pool) {
    const db = (this.db = new Db(pool));
    this.secrets = new PgSecrets(db);
    this.users = new PgUsers(db);
    this.refreshTokens = new PgRefreshTokens(db);
    this.rooms = new PgRooms(db);
    this.docs = new PgDocs(db);
    this.leases = new PgLeases(db);
    this.feeds = new PgFeeds(db);
    this.modules = new PostgresModuleTables(pool, (fn) => db.tx(fn));
  }

  async ping(): Promise<void> {
    await this.pool.query('SELECT 1');
  }

  async probeWrite(): Promise<void> {
    // Sized like a real commit (random, so that TOAST compression cannot shrink it).
    await this.db.tx(async (c) => {
      await c.query(
        `INSERT INTO leases (name, holder, expires_at) VALUES ('kith:write-probe', $1, 0)
         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder`,
        [randomBytes(32 * 1024).toString('hex')],
      );
      await c.query(`DELETE FROM leases WHERE name = 'kith:write-probe'`);
    });
  }

  close(): Promise<void> {
    this.closing ??= this.pool.end();
    return this.closing;
  }
}

class PgUsers implements UserStore {
  constructor(private readonly db: Db) {}

  async create(u: UserRecord): Promise<boolean> {
    // The key is lower-cased here, not with SQL lower(), so it is exactly SQLite's key.
    const n = await this.db.run(
      `INSERT INTO users (user_id, username, username_key, password_hash, created_at)
       VALUES ($1, $2, $3, $4, $5) ON CONFLICT (username_key) DO NOTHING`,
      [u.userId, u.username, u.username.toLowerCase(), u.passwordHash, u.createdAt],
    );
    return n === 1;
  }

  async findByUsername(username: string): Promise<UserRecord | undefined> {
    const [r] = await this.db.rows('SELECT * FROM users WHERE username_key = $1', [username.toLowerCase()]);
    return r ? toUser(r) : undefined;
  }

  async findById(userId: string): Promise<UserRecord | undefined> {
    const [r] = await this.db.rows('SELECT * FROM users WHERE user_id = $1', [userId]);
    return r ? toUser(r) : undefined;
  }

  async setPasswordHash(userId: string, passwordHash: string): Promise<boolean> {
    return (await this.db.run('UPDATE users SET password_hash = $1 WHERE user_id = $2', [passwordHash, userId])) === 1;
  }

  async delete(userId: string): Promise<'ok' | 'not-found' | 'owns-rooms'> {
    return this.db.tx(async (c) => {
      if ((await c.query('SELECT 1 FROM users WHERE user_id = $1 FOR UPDATE', [userId])).rowCount === 0) return 'not-found';
      // Lock the rooms the user is in (membership changes lock the room row first, see
      // changeMembership), so no other owner can leave while the sole-owner check runs.
      await c.query(
        'SELECT 1 FROM rooms WHERE room_id IN (SELECT room_id FROM members WHERE user_id = $1) ORDER BY room_id FOR NO KEY UPDATE',
        [userId],
      );
      const sole = await c.query(
        `SELECT m.room_id FROM members m WHERE m.user_id = $1 AND m.role = 'owner' AND NOT EXISTS
           (SELECT 1 FROM members o WHERE o.room_id = m.room_id AND o.role = 'owner' AND o.user_id <> m.user_id)`,
        [userId],
      );
      if ((sole.rowCount ?? 0) > 0) return 'owns-rooms';
      await c.query('DELETE FROM invites WHERE created_by = $1', [userId]);
      await c.query('DELETE FROM room_feeds WHERE created_by = $1', [userId]);
      await c.query(
        `UPDATE rooms SET created_by = (SELECT o.user_id FROM members o WHERE o.room_id = rooms.room_id AND o.role = 'owner'
           AND o.user_id <> $1 ORDER BY o.joined_at, o.user_id LIMIT 1) WHERE created_by = $1`,
        [userId],
      );
      await c.query('DELETE FROM users WHERE user_id = $1', [userId]);
      return 'ok';
    });
  }
}

const INSERT_TOKEN = `INSERT INTO refresh_tokens (token_hash, user_id, family_id, status, expires_at, created_at)
  VALUES ($1, $2, $3, $4, $5, $6)`;
const tokenParams = (t: RefreshTokenRecord) => [t.tokenHash, t.userId, t.familyId, t.status, t.expiresAt, t.createdAt];

class PgRefreshTokens implements RefreshTokenStore {
  constructor(private readonly db: Db) {}

  async insert(t: RefreshTokenRecord): Promise<void> {
    await this.db.run(INSERT_TOKEN, tokenParams(t));
  }

  async find(tokenHash: string): Promise<RefreshTokenRecord | undefined> {
    const [r] = await this.db.rows('SELECT * FROM refresh_tokens WHERE token_hash = $1', [tokenHash]);
    return r ? toToken(r) : undefined;
  }

  async rotate(oldHash: string, successor: RefreshTokenRecord): Promise<boolean> {
    // The UPDATE's row lock makes this a compare-and-swap: a concurrent rotate of the same token
    // waits, then re-reads status = 'rotated' and changes nothing.
    return this.db.tx(async (c) => {
      const marked = await c.query(
        `UPDATE refresh_tokens SET status = 'rotated' WHERE token_hash = $1 AND status = 'active'`,
        [oldHash],
      );
      if (marked.rowCount !== 1) return false;
      await c.query(INSERT_TOKEN, tokenParams(successor));
      return true;
    });
  }

  async revoke(tokenHash: string): Promise<void> {
    await this.db.run(`UPDATE refresh_tokens SET status = 'revoked' WHERE token_hash = $1`, [tokenHash]);
  }

  async revokeFamily(familyId: string): Promise<void> {
    await this.db.run(`UPDATE refresh_tokens SET status = 'revoked' WHERE family_id = $1`, [familyId]);
  }

  async revokeUser(userId: string): Promise<void> {
    await this.db.run(`UPDATE refresh_tokens SET status = 'revoked' WHERE user_id = $1 AND status = 'active'`, [userId]);
  }

  async pruneDead(
    before: number,
    after: RefreshTokenCursor | undefined,
    limit: number,
  ): Promise<{ deleted: number; next: RefreshTokenCursor | undefined }> {
    // As on SQLite: a walk of refresh_tokens_expiry from the cursor, each row's family one probe
    // of the partial index refresh_tokens_live; each statement touches at most `limit` rows. A
    // rotation committing meanwhile leaves its family an active row, so the family is kept.
    const from = after ?? REFRESH_SWEEP_START;
    const [end] = await this.db.rows<{ expires_at: number; token_hash: string }>(
      `SELECT expires_at, token_hash FROM refresh_tokens
       WHERE (expires_at, token_hash) > ($1::bigint, $2::text) AND expires_at <= $3
       ORDER BY expires_at, token_hash LIMIT 1 OFFSET $4`,
      [from.expiresAt, from.tokenHash, before, Math.max(0, limit - 1)],
    );
    const dead = `expires_at <= $3 AND NOT EXISTS (SELECT 1 FROM refresh_tokens l
      WHERE l.family_id = refresh_tokens.family_id AND l.status = 'active' AND l.expires_at > $3)`;
    if (!end) {
      const deleted = await this.db.run(
        `DELETE FROM refresh_tokens WHERE (expires_at, token_hash) > ($1::bigint, $2::text) AND ${dead}`,
        [from.expiresAt, from.tokenHash, before],
      );
      return { deleted, next: undefined };
    }
    const expiresAt = Number(end.expires_at);
    const deleted = await this.db.run(
      `DELETE FROM refresh_tokens WHERE (expires_at, token_hash) > ($1::bigint, $2::text)
         AND (expires_at, token_hash) <= ($4::bigint, $5::text) AND ${dead}`,
      [from.expiresAt, from.tokenHash, before, expiresAt, end.token_hash],
    );
    return { deleted, next: { expiresAt, tokenHash: end.token_hash } };
  }
}

const INSERT_MEMBER = 'INSERT INTO members (room_id, user_id, role, joined_at) VALUES ($1, $2, $3, $4)';
const SELECT_MEMBER = `SELECT m.*, u.username FROM members m JOIN users u ON u.user_id = m.user_id
  WHERE m.room_id = $1 AND m.user_id = $2`;

class PgRooms implements RoomStore {
  constructor(private readonly db: Db) {}

  async create(room: RoomRecord, maxOwned?: number): Promise<'ok' | 'too-many'> {
    return this.db.tx(async (c) => {
      if (maxOwned !== undefined) {
        // One creation per user at a time (racing ones would each count maxOwned − 1).
        await c.query('SELECT pg_advisory_xact_lock(hashtext($1::text))', [`kith_rooms_owned:${room.createdBy}`]);
        const owned = await c.query<{ n: string }>(`SELECT count(*) AS n FROM members WHERE user_id = $1 AND role = 'owner'`, [room.createdBy]);
        if (Number(owned.rows[0]?.n ?? 0) >= maxOwned) return 'too-many';
      }
      await c.query('INSERT INTO rooms (room_id, name, created_by, created_at) VALUES ($1, $2, $3, $4)', [
        room.roomId,
        room.name,
        room.createdBy,
        room.createdAt,
      ]);
      await c.query(INSERT_MEMBER, [room.roomId, room.createdBy, 'owner', room.createdAt]);
      return 'ok';
    });
  }

  async soleOwnedRooms(userId: string): Promise<string[]> {
    const rows = await this.db.rows(
      `SELECT r.room_id FROM rooms r JOIN members m ON m.room_id = r.room_id
       WHERE m.user_id = $1 AND m.role = 'owner'
         AND NOT EXISTS (SELECT 1 FROM members o WHERE o.room_id = m.room_id AND o.role = 'owner' AND o.user_id <> m.user_id)
       ORDER BY r.created_at, r.room_id COLLATE "C"`,
      [userId],
    );
    return rows.map((r) => r.room_id as string);
  }

  async get(roomId: string): Promise<RoomRecord | undefined> {
    const [r] = await this.db.rows('SELECT * FROM rooms WHERE room_id = $1', [roomId]);
    return r ? toRoom(r) : undefined;
  }

  async listForUser(userId: string): Promise<Array<RoomRecord & { role: Role }>> {
    // COLLATE "C": byte order, as SQLite sorts text, whatever the database's collation.
    const rows = await this.db.rows(
      `SELECT r.*, m.role FROM rooms r JOIN members m ON m.room_id = r.room_id
       WHERE m.user_id = $1 ORDER BY r.created_at, r.room_id COLLATE "C"`,
      [userId],
    );
    return rows.map((r) => ({ ...toRoom(r), role: r.role as Role }));
  }

  async members(roomId: string): Promise<MemberRecord[]> {
    const rows = await this.db.rows(
      `SELECT m.*, u.username FROM members m JOIN users u ON u.user_id = m.user_id
       WHERE m.room_id = $1 ORDER BY m.joined_at, u.username_key COLLATE "C"`,
      [roomId],
    );
    return rows.map(toMember);
  }

  async member(roomId: string, userId: string): Promise<MemberRecord | undefined> {
    const [r] = await this.db.rows(SELECT_MEMBER, [roomId, userId]);
    return r ? toMember(r) : undefined;
  }

  async delete(roomId: string): Promise<boolean> {
    return this.db.tx(async (c) => {
      // The document's rows name the room without a foreign key: removed by hand, in the same
      // transaction. The head first: its row lock orders this against a compaction (see compact).
      for (const table of ['doc_heads', 'doc_updates', 'doc_snapshots']) await c.query(`DELETE FROM ${table} WHERE room_id = $1`, [roomId]);
      // Members, invites, removals and the feed go with the room (ON DELETE CASCADE).
      return ((await c.query('DELETE FROM rooms WHERE room_id = $1', [roomId])).rowCount ?? 0) > 0;
    });
  }

  /**
   * The last-owner rule needs "count the owners, then change one" to be atomic across connections.
   * Every membership change of a room first locks the room's row (FOR NO KEY UPDATE: it does not
   * block the foreign-key checks of concurrent member inserts), so they run one at a time per room;
   * under READ COMMITTED each later statement then sees what the previous holder committed.
   */
  private changeMembership(
    roomId: string,
    userId: string,
    role: Role | null,
    removedAt?: number,
  ): Promise<'ok' | 'not-member' | 'last-owner'> {
    return this.db.tx(async (c) => {
      await c.query('SELECT 1 FROM rooms WHERE room_id = $1 FOR NO KEY UPDATE', [roomId]);
      const current = (await c.query('SELECT role FROM members WHERE room_id = $1 AND user_id = $2', [roomId, userId]))
        .rows[0];
      if (!current) return 'not-member';
      const losesOwner = current.role === 'owner' && role !== 'owner';
      if (losesOwner) {
        const owners = await c.query<{ n: number }>(
          `SELECT count(*) AS n FROM members WHERE room_id = $1 AND role = 'owner'`,
          [roomId],
        );
        if ((owners.rows[0]?.n ?? 0) <= 1) return 'last-owner';
      }
      if (role === null) {
        await c.query('DELETE FROM members WHERE room_id = $1 AND user_id = $2', [roomId, userId]);
        if (removedAt !== undefined) {
          await c.query(
            // A removal is no older than any invite its room has, so it refuses every one of them.
            `INSERT INTO room_removals (room_id, user_id, removed_at)
             VALUES ($1, $2, greatest($3::bigint, (SELECT max(created_at) FROM invites WHERE room_id = $1)))
             ON CONFLICT (room_id, user_id) DO UPDATE SET removed_at = greatest(room_removals.removed_at, excluded.removed_at)`,
            [roomId, userId, removedAt],
          );
        }
      } else await c.query('UPDATE members SET role = $1 WHERE room_id = $2 AND user_id = $3', [role, roomId, userId]);
      // The links an owner made die with the role, for good (see RoomStore.removeMember): their
      // invites are marked revoked and their feed deleted, in this transaction. Links being made
      // meanwhile wait for the room's row (see ownerWrite), so none slips past.
      if (losesOwner) {
        await c.query('UPDATE invites SET revoked_at = $3 WHERE room_id = $1 AND created_by = $2 AND revoked_at IS NULL', [
          roomId,
          userId,
          Date.now(),
        ]);
        await c.query('DELETE FROM room_feeds WHERE room_id = $1 AND created_by = $2', [roomId, userId]);
      }
      return 'ok';
    });
  }

  setRole(roomId: string, userId: string, role: Role): Promise<'ok' | 'not-member' | 'last-owner'> {
    return this.changeMembership(roomId, userId, role);
  }

  removeMember(roomId: string, userId: string, removedAt?: number): Promise<'ok' | 'not-member' | 'last-owner'> {
    return this.changeMembership(roomId, userId, null, removedAt);
  }

  async listInvites(roomId: string, bound?: { now: number; live: number; dead: number }): Promise<InviteRecord[]> {
    if (bound) {
      const live = LIVE_INVITE('$2');
      const rows = await this.db.rows(
        `SELECT * FROM (
           (SELECT * FROM invites WHERE room_id = $1 AND ${live} ORDER BY created_at DESC, code_hash COLLATE "C" LIMIT $3)
           UNION ALL
           (SELECT * FROM invites WHERE room_id = $1 AND NOT (${live}) ORDER BY created_at DESC, code_hash COLLATE "C" LIMIT $4)
         ) listed ORDER BY created_at DESC, code_hash COLLATE "C"`,
        [roomId, bound.now, bound.live, bound.dead],
      );
      return rows.map(toInvite);
    }
    const rows = await this.db.rows(
      'SELECT * FROM invites WHERE room_id = $1 ORDER BY created_at DESC, code_hash COLLATE "C"',
      [roomId],
    );
    return rows.map(toInvite);
  }

  async revokeInvite(roomId: string, codeHash: string): Promise<boolean> {
    return (await this.db.run('DELETE FROM invites WHERE room_id = $1 AND code_hash = $2', [roomId, codeHash])) === 1;
  }

  async createInvite(i: NewInvite): Promise<boolean> {
    return ownerWrite(this.db, i.roomId, (c) =>
      c.query(
        // An invite is newer than every removal from its room, even within the same millisecond.
        `INSERT INTO invites (code_hash, room_id, role, created_by, expires_at, max_uses, uses, created_at)
         SELECT $1, $2, $3, $4, $5, $6, $7, greatest($8::bigint, (SELECT max(removed_at) + 1 FROM room_removals WHERE room_id = $2))
         WHERE ${CREATOR_IS_OWNER}`,
        [i.codeHash, i.roomId, i.role, i.createdBy, i.expiresAt, i.maxUses, i.uses, i.createdAt],
      ),
    );
  }

  async createInviteWithin(i: NewInvite, maxLive: number): Promise<'ok' | 'not-owner' | 'too-many'> {
    let tooMany = false;
    const stored = await ownerWrite(this.db, i.roomId, async (c) => {
      // One invite creation per room at a time (the room's row is only share-locked by ownerWrite).
      await c.query('SELECT pg_advisory_xact_lock(hashtext($1::text))', [`kith_invites:${i.roomId}`]);
      const owner = await c.query(`SELECT 1 FROM members WHERE room_id = $1 AND user_id = $2 AND role = 'owner'`, [i.roomId, i.createdBy]);
      if (owner.rowCount === 0) return { rowCount: 0 };
      const live = await c.query<{ n: string }>(`SELECT count(*) AS n FROM invites WHERE room_id = $1 AND ${LIVE_INVITE('$2')}`, [
        i.roomId,
        i.createdAt,
      ]);
      if (Number(live.rows[0]?.n ?? 0) >= maxLive) {
        tooMany = true;
        return { rowCount: 0 };
      }
      return c.query(
        `INSERT INTO invites (code_hash, room_id, role, created_by, expires_at, max_uses, uses, created_at)
         SELECT $1, $2, $3, $4, $5, $6, $7, greatest($8::bigint, (SELECT max(removed_at) + 1 FROM room_removals WHERE room_id = $2))
         WHERE ${CREATOR_IS_OWNER}`,
        [i.codeHash, i.roomId, i.role, i.createdBy, i.expiresAt, i.maxUses, i.uses, i.createdAt],
      );
    });
    return tooMany ? 'too-many' : stored ? 'ok' : 'not-owner';
  }

  async findInvite(codeHash: string): Promise<InviteRecord | undefined> {
    const row = (await this.db.rows('SELECT * FROM invites WHERE code_hash = $1', [codeHash]))[0];
    return row ? toInvite(row) : undefined;
  }

  async acceptInvite(codeHash: string, userId: string, now: number): Promise<InviteAcceptance> {
    return this.db.tx((c) => this.accept(c, codeHash, userId, now));
  }

  async registerWithInvite(
    u: UserRecord,
    codeHash: string,
    now: number,
  ): Promise<InviteAcceptance | { outcome: 'username-taken' }> {
    let outcome: InviteAcceptance | { outcome: 'username-taken' } | undefined;
    try {
      await this.db.tx(async (c) => {
        const added = await c.query(
          `INSERT INTO users (user_id, username, username_key, password_hash, created_at)
           VALUES ($1, $2, $3, $4, $5) ON CONFLICT (username_key) DO NOTHING`,
          [u.userId, u.username, u.username.toLowerCase(), u.passwordHash, u.createdAt],
        );
        if (added.rowCount !== 1) {
          outcome = { outcome: 'username-taken' };
          return;
        }
        outcome = await this.accept(c, codeHash, u.userId, now);
        // Throwing rolls the user back: no account without the room it was invited to.
        if (outcome.outcome !== 'joined') throw INVITE_REFUSED;
      });
    } catch (err) {
      if (err !== INVITE_REFUSED) throw err;
    }
    return outcome!;
  }

  /** The acceptance rules, inside the caller's transaction. */
  private async accept(c: PoolClient, codeHash: string, userId: string, now: number): Promise<InviteAcceptance> {
    // Locking the invite serializes acceptances of one code: the second waits, then reads the
    // uses the first committed, so a 1-use invite admits exactly one user.
    const inv = (await c.query('SELECT * FROM invites WHERE code_hash = $1 FOR UPDATE', [codeHash])).rows[0];
    if (!inv) return { outcome: 'not-found' };
    const existing = (await c.query(SELECT_MEMBER, [inv.room_id, userId])).rows[0];
    if (existing) return { outcome: 'already-member', member: toMember(existing) };
    if (inv.expires_at !== null && inv.expires_at <= now) return { outcome: 'expired' };
    if (inv.max_uses !== null && inv.uses >= inv.max_uses) return { outcome: 'used-up' };
    const creator = (await c.query('SELECT role FROM members WHERE room_id = $1 AND user_id = $2', [inv.room_id, inv.created_by]))
      .rows[0];
    // Revoked when its creator lost the role; and, should a row ever escape that, refused while
    // they are not an owner anyway.
    if (inv.revoked_at !== null || creator?.role !== 'owner') return { outcome: 'revoked' };
    const removal = (await c.query('SELECT removed_at FROM room_removals WHERE room_id = $1 AND user_id = $2', [inv.room_id, userId]))
      .rows[0];
    if (removal && inv.created_at <= removal.removed_at) return { outcome: 'removed' };
    // The same user accepting two different invites of the room at once: the second insert waits
    // for the first to commit, then inserts nothing, and this invite is left unused.
    const added = await c.query(`${INSERT_MEMBER} ON CONFLICT (room_id, user_id) DO NOTHING`, [
      inv.room_id,
      userId,
      inv.role,
      now,
    ]);
    const member = toMember((await c.query(SELECT_MEMBER, [inv.room_id, userId])).rows[0]);
    if (added.rowCount !== 1) return { outcome: 'already-member', member };
    await c.query('UPDATE invites SET uses = uses + 1 WHERE code_hash = $1', [codeHash]);
    return { outcome: 'joined', member };
  }
}

/** A link's WHERE: its creator (parameter `$4`) is an owner of its room (`$2`). */
/** An invite that still admits someone at `now` (the parameter named): not revoked, not expired, not used up. */
const LIVE_INVITE = (now: string) =>
  `revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ${now}::bigint) AND (max_uses IS NULL OR uses < max_uses)`;

const CREATOR_IS_OWNER = `EXISTS (SELECT 1 FROM members WHERE room_id = $2 AND user_id = $4 AND role = 'owner')`;

/**
 * Writes a link (invite, feed) whose creator must be an owner of the room, checked in `write`'s
 * WHERE. The room's row is share-locked first: membership changes lock it FOR NO KEY UPDATE (see
 * changeMembership), so the check and the write see either the creator's role before a change
 * (and the change, waiting for this commit, then revokes the new link) or after it (nothing is
 * written). True when a row was written.
 */
function ownerWrite(db: Db, roomId: string, write: (c: PoolClient) => Promise<{ rowCount: number | null }>): Promise<boolean> {
  return db.tx(async (c) => {
    await c.query('SELECT 1 FROM rooms WHERE room_id = $1 FOR SHARE', [roomId]);
    return ((await write(c)).rowCount ?? 0) > 0;
  });
}

/** Thrown inside registerWithInvite's transaction to roll the new user back. */
const INVITE_REFUSED = new Error('invite refused');

/** Rows per INSERT statement in `append` (3 parameters each; PostgreSQL allows 65535). */
const APPEND_CHUNK = 1000;

/**
 * The document log.
 *
 * Ordering. Each room's log positions are 1, 2, 3, … with no gaps, handed out from the room's
 * row in `doc_heads`. Bumping that row (an upsert) locks it until commit, so appends to one room
 * are serialized and commit in position order: whoever sees position s of a room also sees every
 * position below it. That matters twice: an instance that receives position s + 2 over pub/sub
 * knows it missed s + 1 and reads the log; and compaction, which folds in what it read through its
 * last position and then deletes up to it, can never skip a row still in flight. (A shared
 * sequence would not do: it hands out numbers at nextval() time, and two transactions can commit
 * them out of order.) Rooms are locked in sorted order, so two batches cannot deadlock; appends to
 * different rooms do not wait for each other.
 */
class PgSecrets implements SecretStore {
  constructor(private readonly db: Db) {}

  async getOrCreate(name: string, candidate: string): Promise<string> {
    // Whoever inserts first wins; everyone reads back that one value.
    await this.db.run(
      'INSERT INTO server_secrets (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING',
      [name, candidate, Date.now()],
    );
    const [r] = await this.db.rows<{ value: string }>('SELECT value FROM server_secrets WHERE name = $1', [name]);
    return r!.value;
  }
}

class PgDocs implements DocStore {
  constructor(private readonly db: Db) {}

  loadOffLoop(roomId: string): Promise<StoredDoc> {
    return this.load(roomId);
  }

  async load(roomId: string, afterSeq = 0): Promise<StoredDoc> {
    // One statement reads from one MVCC snapshot, so the snapshot row and the log tail are
    // consistent with each other even with a compaction committing meanwhile (it is what a
    // REPEATABLE READ transaction would give, in one round trip).
    // The head comes in the same statement (part 0, always one row), so it describes exactly the
    // rows read with it.
    const rows = await this.db.rows<{
      part: number;
      seq: number | null;
      data: Buffer | null;
      snapshot_seq: number | null;
      state_vector: Buffer | null;
    }>(
      `WITH s AS (SELECT snapshot, snapshot_seq, state_vector FROM doc_snapshots WHERE room_id = $1)
       SELECT 0 AS part, (SELECT head FROM doc_heads WHERE room_id = $1) AS seq, NULL::bytea AS data,
              NULL::bigint AS snapshot_seq, NULL::bytea AS state_vector
       UNION ALL
       SELECT 1, NULL::bigint, snapshot, snapshot_seq, state_vector FROM s
       UNION ALL
       SELECT 2, u.seq, u.data, NULL::bigint, NULL::bytea FROM doc_updates u
       WHERE u.room_id = $1 AND u.seq > greatest($2, coalesce((SELECT snapshot_seq FROM s), 0))
       ORDER BY part, seq`,
      [roomId, afterSeq],
    );
    const head = rows[0]?.seq ?? 0;
    const snap = rows.find((r) => r.part === 1);
    // A full load always includes the snapshot; a load after a position only if it is newer.
    const withSnapshot = snap !== undefined && (afterSeq === 0 || (snap.snapshot_seq ?? 0) > afterSeq);
    return {
      snapshot: withSnapshot ? toBytes(snap.data!) : null,
      snapshotSeq: snap?.snapshot_seq ?? 0,
      snapshotStateVector: withSnapshot && snap.state_vector ? toBytes(snap.state_vector) : null,
      updates: rows.filter((r) => r.part === 2).map((r) => ({ seq: r.seq as number, data: toBytes(r.data!) })),
      head,
    };
  }

  async append(updates: UpdateToAppend[]): Promise<number[]> {
    if (updates.length === 0) return [];
    return this.db.tx(async (c) => {
      // 1. Reserve each room's positions by bumping its head (this row lock is the per-room lock).
      const counts = new Map<string, number>();
      for (const u of updates) counts.set(u.roomId, (counts.get(u.roomId) ?? 0) + 1);
      const next = new Map<string, number>();
      for (const roomId of [...counts.keys()].sort()) {
        const n = counts.get(roomId)!;
        const head = (
          await c.query<{ head: number }>(
            `INSERT INTO doc_heads (room_id, head) VALUES ($1, $2)
             ON CONFLICT (room_id) DO UPDATE SET head = doc_heads.head + excluded.head
             RETURNING head`,
            [roomId, n],
          )
        ).rows[0]!.head;
        next.set(roomId, head - n + 1);
      }
      // 2. Insert with those positions, in the batch's order (blobs go as binary parameters).
      const seqs = updates.map((u) => {
        const seq = next.get(u.roomId)!;
        next.set(u.roomId, seq + 1);
        return seq;
      });
      for (let start = 0; start < updates.length; start += APPEND_CHUNK) {
        const chunk = updates.slice(start, start + APPEND_CHUNK);
        const params: unknown[] = [];
        const values = chunk.map((u, i) => {
          params.push(u.roomId, seqs[start + i], u.data);
          return `($${3 * i + 1}, $${3 * i + 2}, $${3 * i + 3})`;
        });
        await c.query(`INSERT INTO doc_updates (room_id, seq, data) VALUES ${values.join(', ')}`, params);
      }
      return seqs;
    });
  }

  async head(roomId: string): Promise<number> {
    const [r] = await this.db.rows<{ head: number }>('SELECT head FROM doc_heads WHERE room_id = $1', [roomId]);
    return r?.head ?? 0;
  }

  async stats(roomId: string): Promise<DocStats> {
    const [r] = await this.db.rows<{ n: number; bytes: number; snapshot_bytes: number }>(
      `SELECT
         (SELECT count(*) FROM doc_updates WHERE room_id = $1) AS n,
         (SELECT coalesce(sum(octet_length(data)), 0) FROM doc_updates WHERE room_id = $1)::bigint AS bytes,
         coalesce((SELECT octet_length(snapshot) FROM doc_snapshots WHERE room_id = $1), 0) AS snapshot_bytes`,
      [roomId],
    );
    return { logCount: r?.n ?? 0, logBytes: r?.bytes ?? 0, snapshotBytes: r?.snapshot_bytes ?? 0 };
  }

  async compact(
    roomId: string,
    snapshot: Uint8Array,
    expectedSnapshotSeq: number,
    throughSeq: number,
    stateVector?: Uint8Array,
  ): Promise<boolean> {
    if (throughSeq <= expectedSnapshotSeq) return false;
    return this.db.tx(async (c) => {
      // A room deleted meanwhile has no head row, and a deletion waits for this share lock: once it
      // runs, it also removes the snapshot written here (it deletes the head first, then the rest).
      const head = await c.query('SELECT head FROM doc_heads WHERE room_id = $1 FOR SHARE', [roomId]);
      if (head.rowCount !== 1 || Number(head.rows[0].head) < throughSeq) return false;
      // Conditional write of the snapshot row; its row lock (or, for the first snapshot, the
      // primary key) makes a concurrent compaction wait, then find the condition false.
      const swapped =
        expectedSnapshotSeq === 0
          ? await c.query(
              `INSERT INTO doc_snapshots (room_id, snapshot, snapshot_seq, state_vector) VALUES ($1, $2, $3, $4)
               ON CONFLICT (room_id) DO NOTHING`,
              [roomId, snapshot, throughSeq, stateVector ?? null],
            )
          : await c.query(
              `UPDATE doc_snapshots SET snapshot = $2, snapshot_seq = $3, state_vector = $5
               WHERE room_id = $1 AND snapshot_seq = $4`,
              [roomId, snapshot, throughSeq, expectedSnapshotSeq, stateVector ?? null],
            );
      if (swapped.rowCount !== 1) return false;
      await c.query('DELETE FROM doc_updates WHERE room_id = $1 AND seq <= $2', [roomId, throughSeq]);
      return true;
    });
  }
}

class PgLeases implements LeaseStore {
  constructor(private readonly db: Db) {}

  async tryAcquire(name: string, holder: string, ttlMs: number, now = Date.now()): Promise<boolean> {
    const rows = await this.db.rows(
      `INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3)
       ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
       WHERE leases.expires_at <= $4 OR leases.holder = excluded.holder
       RETURNING holder`,
      [name, holder, now + ttlMs, now],
    );
    return rows.length === 1;
  }

  async release(name: string, holder: string): Promise<void> {
    await this.db.run('DELETE FROM leases WHERE name = $1 AND holder = $2', [name, holder]);
  }
}

const toFeed = (r: any): FeedRecord => ({
  roomId: r.room_id,
  tokenHash: r.token_hash,
  createdBy: r.created_by,
  createdAt: r.created_at,
});

class PgFeeds implements FeedStore {
  constructor(private readonly db: Db) {}

  async put(feed: FeedRecord): Promise<boolean> {
    return ownerWrite(this.db, feed.roomId, (c) =>
      c.query(
        `INSERT INTO room_feeds (room_id, token_hash, created_by, created_at) SELECT $2, $1, $4, $3
         WHERE ${CREATOR_IS_OWNER}
         ON CONFLICT (room_id) DO UPDATE SET token_hash = excluded.token_hash,
           created_by = excluded.created_by, created_at = excluded.created_at`,
        [feed.tokenHash, feed.roomId, feed.createdAt, feed.createdBy],
      ),
    );
  }

  async get(roomId: string): Promise<FeedRecord | undefined> {
    const [r] = await this.db.rows('SELECT * FROM room_feeds WHERE room_id = $1', [roomId]);
    return r ? toFeed(r) : undefined;
  }

  async findByTokenHash(tokenHash: string): Promise<FeedRecord | undefined> {
    const [r] = await this.db.rows('SELECT * FROM room_feeds WHERE token_hash = $1', [tokenHash]);
    return r ? toFeed(r) : undefined;
  }

  async revoke(roomId: string): Promise<boolean> {
    return (await this.db.run('DELETE FROM room_feeds WHERE room_id = $1', [roomId])) > 0;
  }
}
