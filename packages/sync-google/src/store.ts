/**
 * The mirror's durable state: its own SQLite file in the data dir (WAL, versioned migrations).
 *
 * - `links`: one row per linked room: the Google calendar, the encrypted tokens, the sync token, the push
 *   channel, and the link's status.
 * - `mirror`: one row per mapped Google event (a Kith event part): its Google id (chosen by us, so written
 *   here before the insert is sent), generation, state, and Google's side as last seen (the merge base).
 * - `oauth_states`: single-use nonces of consent requests, with their PKCE verifiers (encrypted).
 * - `revocations`: grants still to revoke at Google (after an unlink, a re-link with another account or the
 *   linking user's account deletion) whose revoke call failed.
 *
 * better-sqlite3 is synchronous: every method is one atomic step, and a process that dies between two of them
 * leaves a consistent file.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { RemoteState } from './canon.js';

/** awaiting_confirmation: a mass deletion is held until an owner applies or undoes it (`massDelete`). */
export type LinkStatus = 'active' | 'needs_reauth' | 'paused' | 'awaiting_confirmation';

/** An owner's answer to a held mass deletion: carry it out on the other side too, or bring the events back. */
export type MassDeleteDecision = 'apply' | 'restore';

export interface LinkRow {
  roomId: string;
  userId: string;
  username: string | null;
  calendarId: string;
  calendarTz: string;
  /** Encrypted; '' once erased (the linking user deleted their account): the link holds no grant until linked again. */
  tokens: string;
  scope: string;
  status: LinkStatus;
  statusReason: string | null;
  syncToken: string | null;
  channelId: string | null;
  channelResourceId: string | null;
  channelExpiration: number | null;
  lastSyncAt: number | null;
  lastError: string | null;
  lastErrorAt: number | null;
  pausedUntil: number | null;
  /** Last push notification taken by a process that does not mirror (for the one that does). */
  pushedAt: number | null;
  /** Hash of the Google grant (client + account) the tokens belong to; null for links stored before it was kept. */
  grantKey: string | null;
  /** An owner's answer to the mass deletion that held the link; used by the next import, then cleared. */
  massDelete: MassDeleteDecision | null;
  createdAt: number;
  updatedAt: number;
}

/** foreign: a Google event the room could not take (adoption refused by the model); never exported. */
export type MirrorState = 'inserting' | 'synced' | 'gone' | 'foreign';

export interface MirrorRow {
  roomId: string;
  googleId: string;
  kithId: string;
  part: string;
  generation: number;
  state: MirrorState;
  remote: RemoteState | null;
  /** Permanent export failure: the local form it happened for (skipped until the event changes) and why. */
  failedLocal: string | null;
  error: string | null;
  /** While inserting: the canonical form the insert sends (JSON), the merge base if its answer is lost. */
  sent?: string | null;
  updatedAt: number;
}

export interface OAuthStateRow {
  nonce: string;
  userId: string;
  username: string | null;
  roomId: string;
  verifier: string;
  expiresAt: number;
}

const MIGRATIONS: Array<(db: Database.Database) => void> = [
  // 1: initial schema
  (db) => {
    db.exec(`
      CREATE TABLE links (
        room_id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        calendar_id TEXT NOT NULL,
        calendar_tz TEXT NOT NULL,
        tokens TEXT NOT NULL,
        scope TEXT NOT NULL,
        status TEXT NOT NULL,
        status_reason TEXT,
        sync_token TEXT,
        channel_id TEXT,
        channel_resource_id TEXT,
        channel_expiration INTEGER,
        last_sync_at INTEGER,
        last_error TEXT,
        last_error_at INTEGER,
        paused_until INTEGER,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );
      CREATE UNIQUE INDEX links_channel ON links(channel_id) WHERE channel_id IS NOT NULL;
      CREATE TABLE mirror (
        room_id TEXT NOT NULL,
        google_id TEXT NOT NULL,
        kith_id TEXT NOT NULL,
        part TEXT NOT NULL,
        generation INTEGER NOT NULL,
        state TEXT NOT NULL,
        remote TEXT,
        failed_local TEXT,
        error TEXT,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (room_id, google_id)
      );
      CREATE INDEX mirror_kith ON mirror(room_id, kith_id);
      CREATE TABLE oauth_states (
        nonce TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        room_id TEXT NOT NULL,
        verifier TEXT NOT NULL,
        expires_at INTEGER NOT NULL
      );
      CREATE TABLE revocations (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        room_id TEXT NOT NULL,
        token TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_at INTEGER NOT NULL
      );
    `);
  },
  // 2: the linking user's name, so a separate worker process can act as that user in the room
  (db) => {
    db.exec(`
      ALTER TABLE links ADD COLUMN username TEXT;
      ALTER TABLE links ADD COLUMN pushed_at INTEGER;
      ALTER TABLE oauth_states ADD COLUMN username TEXT;
    `);
  },
  // 3: which Google grant a link holds, so unlinking one room does not revoke another room's grant
  (db) => {
    db.exec(`
      ALTER TABLE links ADD COLUMN grant_key TEXT;
      ALTER TABLE revocations ADD COLUMN grant_key TEXT;
      `);
    },
  // 4: what an insert sent, the merge base when its answer was lost and Google's copy was edited meanwhile
  (db) => {
    db.exec(`
      ALTER TABLE mirror ADD COLUMN sent TEXT;
      ALTER TABLE links ADD COLUMN mass_delete TEXT;
    `);
  },
];

export const STATE_FILE = 'sync-google.sqlite';

const linkOf = (r: Record<string, unknown>): LinkRow => ({
  roomId: r.room_id as string,
  userId: r.user_id as string,
  username: (r.username as string | null) ?? null,
  calendarId: r.calendar_id as string,
  calendarTz: r.calendar_tz as string,
  tokens: r.tokens as string,
  scope: r.scope as string,
  status: r.status as LinkStatus,
  statusReason: (r.status_reason as string | null) ?? null,
  syncToken: (r.sync_token as string | null) ?? null,
  channelId: (r.channel_id as string | null) ?? null,
  channelResourceId: (r.channel_resource_id as string | null) ?? null,
  channelExpiration: (r.channel_expiration as number | null) ?? null,
  lastSyncAt: (r.last_sync_at as number | null) ?? null,
  lastError: (r.last_error as string | null) ?? null,
  lastErrorAt: (r.last_error_at as number | null) ?? null,
  pausedUntil: (r.paused_until as number | null) ?? null,
  pushedAt: (r.pushed_at as number | null) ?? null,
  grantKey: (r.grant_key as string | null) ?? null,
  massDelete: (r.mass_delete as MassDeleteDecision | null) ?? null,
  createdAt: r.created_at as number,
  updatedAt: r.updated_at as number,
});

const mirrorOf = (r: Record<string, unknown>): MirrorRow => ({
  roomId: r.room_id as string,
  googleId: r.google_id as string,
  kithId: r.kith_id as string,
  part: r.part as string,
  generation: r.generation as number,
  state: r.state as MirrorState,
  remote: r.remote ? (JSON.parse(r.remote as string) as RemoteState) : null,
  failedLocal: (r.failed_local as string | null) ?? null,
  error: (r.error as string | null) ?? null,
  sent: (r.sent as string | null) ?? null,
  updatedAt: r.updated_at as number,
});

export class StateStore {
  readonly db: Database.Database;
  private closed = false;

  constructor(file: string) {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('busy_timeout = 5000');
    this.migrate();
  }

  static inDataDir(dataDir: string): StateStore {
    return new StateStore(path.join(dataDir, STATE_FILE));
  }

  get schemaVersion(): number {
    return this.db.pragma('user_version', { simple: true }) as number;
  }

  private migrate(): void {
    const current = this.schemaVersion;
    if (current > MIGRATIONS.length) {
      throw new Error(`sync-google state is at schema ${current}, newer than this build knows (${MIGRATIONS.length})`);
    }
    for (let v = current; v < MIGRATIONS.length; v++) {
      this.db.transaction(() => {
        MIGRATIONS[v]!(this.db);
        this.db.pragma(`user_version = ${v + 1}`);
      })();
    }
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }

  // ---------------------------------------------------------------------------------------------- links

  link(roomId: string): LinkRow | undefined {
    const r = this.db.prepare('SELECT * FROM links WHERE room_id = ?').get(roomId) as Record<string, unknown> | undefined;
    return r ? linkOf(r) : undefined;
  }

  links(): LinkRow[] {
    return (this.db.prepare('SELECT * FROM links ORDER BY room_id').all() as Array<Record<string, unknown>>).map(linkOf);
  }

  linkByChannel(channelId: string): LinkRow | undefined {
    const r = this.db.prepare('SELECT * FROM links WHERE channel_id = ?').get(channelId) as Record<string, unknown> | undefined;
    return r ? linkOf(r) : undefined;
  }

  insertLink(l: Pick<LinkRow, 'roomId' | 'userId' | 'username' | 'calendarId' | 'calendarTz' | 'tokens' | 'scope' | 'grantKey'>, now: number): void {
    this.db
      .prepare(
        `INSERT INTO links (room_id, user_id, username, calendar_id, calendar_tz, tokens, scope, grant_key, status, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'active', ?, ?)`,
      )
      .run(l.roomId, l.userId, l.username, l.calendarId, l.calendarTz, l.tokens, l.scope, l.grantKey, now, now);
  }

  /**
   * Updates the named columns of a link. A link whose tokens were erased keeps its status until new tokens are
   * stored (it is linked again): an update that sets a status without tokens leaves such a link alone, so a cycle
   * that was under way when its user was deleted cannot make it active, paused or held again.
   */
  updateLink(roomId: string, patch: Partial<Omit<LinkRow, 'roomId' | 'createdAt'>>, now: number): void {
    const cols: Record<string, string> = {
      userId: 'user_id',
      username: 'username',
      calendarId: 'calendar_id',
      calendarTz: 'calendar_tz',
      tokens: 'tokens',
      scope: 'scope',
      status: 'status',
      statusReason: 'status_reason',
      syncToken: 'sync_token',
      channelId: 'channel_id',
      channelResourceId: 'channel_resource_id',
      channelExpiration: 'channel_expiration',
      lastSyncAt: 'last_sync_at',
      lastError: 'last_error',
      lastErrorAt: 'last_error_at',
      pausedUntil: 'paused_until',
      pushedAt: 'pushed_at',
      grantKey: 'grant_key',
      massDelete: 'mass_delete',
    };
    const sets: string[] = [];
    const values: unknown[] = [];
    for (const [k, v] of Object.entries(patch)) {
      const col = cols[k];
      if (!col || v === undefined) continue;
      sets.push(`${col} = ?`);
      values.push(v);
    }
    sets.push('updated_at = ?');
    values.push(now, roomId);
    const keepErased = patch.status !== undefined && patch.tokens === undefined ? " AND tokens <> ''" : '';
    this.db.prepare(`UPDATE links SET ${sets.join(', ')} WHERE room_id = ?${keepErased}`).run(...values);
  }

  /**
   * Stores refreshed tokens of a link, unless its tokens were replaced (linked again) or erased meanwhile: a
   * client of the old tokens must not write them back. False when they were not stored.
   */
  refreshTokens(roomId: string, expected: string, sealed: string, now: number): boolean {
    if (!expected) return false;
    return this.db.prepare('UPDATE links SET tokens = ?, updated_at = ? WHERE room_id = ? AND tokens = ?').run(sealed, now, roomId, expected).changes > 0;
  }

  /** Removes a link and everything mapped for it; queues the grant for revocation when given. */
  deleteLink(roomId: string, revokeToken: string | null, now: number, grantKey: string | null = null): void {
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM links WHERE room_id = ?').run(roomId);
      this.db.prepare('DELETE FROM mirror WHERE room_id = ?').run(roomId);
      if (revokeToken) this.queueRevocation(roomId, revokeToken, now, grantKey);
    })();
  }

  // ---------------------------------------------------------------------------------------------- mirror

  mirrorRows(roomId: string): MirrorRow[] {
    return (this.db.prepare('SELECT * FROM mirror WHERE room_id = ?').all(roomId) as Array<Record<string, unknown>>).map(mirrorOf);
  }

  mirrorByGoogleId(roomId: string, googleId: string): MirrorRow | undefined {
    const r = this.db.prepare('SELECT * FROM mirror WHERE room_id = ? AND google_id = ?').get(roomId, googleId) as
      | Record<string, unknown>
      | undefined;
    return r ? mirrorOf(r) : undefined;
  }

  mirrorByKithId(roomId: string, kithId: string): MirrorRow[] {
    return (this.db.prepare('SELECT * FROM mirror WHERE room_id = ? AND kith_id = ?').all(roomId, kithId) as Array<Record<string, unknown>>).map(
      mirrorOf,
    );
  }

  putMirror(row: Omit<MirrorRow, 'updatedAt'>, now: number): void {
    this.db
      .prepare(
        `INSERT INTO mirror (room_id, google_id, kith_id, part, generation, state, remote, failed_local, error, sent, updated_at)
         VALUES (@roomId, @googleId, @kithId, @part, @generation, @state, @remote, @failedLocal, @error, @sent, @now)
         ON CONFLICT (room_id, google_id) DO UPDATE SET kith_id = excluded.kith_id, part = excluded.part,
           generation = excluded.generation, state = excluded.state, remote = excluded.remote,
           failed_local = excluded.failed_local, error = excluded.error, sent = excluded.sent, updated_at = excluded.updated_at`,
      )
      .run({ ...row, remote: row.remote ? JSON.stringify(row.remote) : null, sent: row.state === 'inserting' ? (row.sent ?? null) : null, now });
  }

  deleteMirror(roomId: string, googleId: string): void {
    this.db.prepare('DELETE FROM mirror WHERE room_id = ? AND google_id = ?').run(roomId, googleId);
  }

  clearMirror(roomId: string): void {
    this.db.prepare('DELETE FROM mirror WHERE room_id = ?').run(roomId);
  }

  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  // ---------------------------------------------------------------------------------------------- OAuth states

  putOAuthState(s: OAuthStateRow): void {
    this.db.prepare('DELETE FROM oauth_states WHERE expires_at < ?').run(Date.now() - 3_600_000);
    this.db
      .prepare('INSERT INTO oauth_states (nonce, user_id, username, room_id, verifier, expires_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(s.nonce, s.userId, s.username, s.roomId, s.verifier, s.expiresAt);
  }

  /** Forgets a user's consent requests still under way (their account was deleted). */
  dropOAuthStatesOf(userId: string): number {
    return this.db.prepare('DELETE FROM oauth_states WHERE user_id = ?').run(userId).changes;
  }

  /** Takes (deletes and returns) a state: each one can be used once. */
  takeOAuthState(nonce: string): OAuthStateRow | undefined {
    return this.transaction(() => {
      const r = this.db.prepare('SELECT * FROM oauth_states WHERE nonce = ?').get(nonce) as Record<string, unknown> | undefined;
      if (!r) return undefined;
      this.db.prepare('DELETE FROM oauth_states WHERE nonce = ?').run(nonce);
      return {
        nonce: r.nonce as string,
        userId: r.user_id as string,
        username: (r.username as string | null) ?? null,
        roomId: r.room_id as string,
        verifier: r.verifier as string,
        expiresAt: r.expires_at as number,
      };
    });
  }

  // ---------------------------------------------------------------------------------------------- revocations

  dueRevocations(now: number): Array<{ id: number; roomId: string; token: string; attempts: number }> {
    return (
      this.db.prepare('SELECT id, room_id, token, attempts FROM revocations WHERE next_at <= ? ORDER BY id LIMIT 20').all(now) as Array<
        Record<string, unknown>
      >
    ).map((r) => ({ id: r.id as number, roomId: r.room_id as string, token: r.token as string, attempts: r.attempts as number }));
  }

  /** Queues a grant for revocation (tried at once by the worker, retried while Google cannot take it). */
  queueRevocation(roomId: string, token: string, now: number, grantKey: string | null): void {
    this.db.prepare('INSERT INTO revocations (room_id, token, next_at, grant_key) VALUES (?, ?, ?, ?)').run(roomId, token, now, grantKey);
  }

  revocationDone(id: number): void {
    this.db.prepare('DELETE FROM revocations WHERE id = ?').run(id);
  }

  revocationFailed(id: number, nextAt: number): void {
    this.db.prepare('UPDATE revocations SET attempts = attempts + 1, next_at = ? WHERE id = ?').run(nextAt, id);
  }

  /** A new link holds this grant again: a revocation still queued for it would cut that link off. */
  dropRevocationsOfGrant(grantKey: string): number {
    return this.db.prepare('DELETE FROM revocations WHERE grant_key = ?').run(grantKey).changes;
  }

  pendingRevocations(): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM revocations').get() as { n: number }).n;
  }
}
