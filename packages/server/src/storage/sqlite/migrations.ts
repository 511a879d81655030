import type { Database } from 'better-sqlite3';

/**
 * Versioned schema migrations. Each runs once, in its own transaction, in order; the applied
 * versions are kept in `schema_migrations`. Never edit a shipped migration: add a new one.
 */
export const MIGRATIONS: ReadonlyArray<{ version: number; name: string; sql: string }> = [
  {
    version: 1,
    name: 'users, tokens, rooms, members, invites, document log and snapshots',
    sql: `
      CREATE TABLE users (
        user_id TEXT PRIMARY KEY,
        username TEXT NOT NULL,
        username_key TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL,
        created_at INTEGER NOT NULL
      );
      CREATE TABLE refresh_tokens (
        token_hash TEXT PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
        family_id TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('active', 'rotated', 'revoked')),
        expires_at INTEGER NOT NULL,
        created_at INTEGER NOT NULL
      );
      CREATE INDEX refresh_tokens_family ON refresh_tokens(family_id);
      CREATE TABLE rooms (
        room_id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        created_by TEXT NOT NULL REFERENCES users(user_id),
        created_at INTEGER NOT NULL
      );
      CREATE TABLE members (
        room_id TEXT NOT NULL REFERENCES rooms(room_id) ON DELETE CASCADE,
        user_id TEXT NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
        role TEXT NOT NULL CHECK (role IN ('owner', 'editor', 'viewer')),
        joined_at INTEGER NOT NULL,
        PRIMARY KEY (room_id, user_id)
      ) WITHOUT ROWID;
      CREATE INDEX members_user ON members(user_id);
      CREATE TABLE invites (
        code_hash TEXT PRIMARY KEY,
        room_id TEXT NOT NULL REFERENCES rooms(room_id) ON DELETE CASCADE,
        role TEXT NOT NULL CHECK (role IN ('owner', 'editor', 'viewer')),
        created_by TEXT NOT NULL REFERENCES users(user_id),
        expires_at INTEGER,
        max_uses INTEGER,
        uses INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL
      );
      CREATE TABLE doc_updates (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        room_id TEXT NOT NULL,
        data BLOB NOT NULL
      );
      CREATE INDEX doc_updates_room ON doc_updates(room_id, seq);
      CREATE TABLE doc_snapshots (
        room_id TEXT PRIMARY KEY,
        snapshot BLOB NOT NULL,
        snapshot_seq INTEGER NOT NULL
      );
    `,
  },
  {
    version: 2,
    name: 'per-room contiguous log positions, log heads, leases',
    sql: `
      CREATE TABLE doc_log (
        room_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        data BLOB NOT NULL,
        PRIMARY KEY (room_id, seq)
      ) WITHOUT ROWID;
      -- A room's existing snapshot becomes position 1; its remaining log follows from 2.
      INSERT INTO doc_log (room_id, seq, data)
        SELECT u.room_id,
               row_number() OVER (PARTITION BY u.room_id ORDER BY u.seq)
                 + (CASE WHEN s.room_id IS NULL THEN 0 ELSE 1 END),
               u.data
        FROM doc_updates u LEFT JOIN doc_snapshots s ON s.room_id = u.room_id;
      UPDATE doc_snapshots SET snapshot_seq = 1;
      CREATE TABLE doc_heads (room_id TEXT PRIMARY KEY, head INTEGER NOT NULL) WITHOUT ROWID;
      INSERT INTO doc_heads (room_id, head)
        SELECT room_id, max(seq) FROM (
          SELECT room_id, seq FROM doc_log UNION ALL SELECT room_id, snapshot_seq FROM doc_snapshots
        ) GROUP BY room_id;
      DROP TABLE doc_updates;
      ALTER TABLE doc_log RENAME TO doc_updates;
      CREATE TABLE leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_at INTEGER NOT NULL) WITHOUT ROWID;
    `,
  },
  {
    version: 3,
    name: 'calendar feed secrets',
    sql: `
      CREATE TABLE room_feeds (
        room_id TEXT PRIMARY KEY REFERENCES rooms(room_id) ON DELETE CASCADE,
        token_hash TEXT NOT NULL UNIQUE,
        created_by TEXT NOT NULL,
        created_at INTEGER NOT NULL
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 4,
    name: 'snapshot state vectors',
    sql: `ALTER TABLE doc_snapshots ADD COLUMN state_vector BLOB;`,
  },
  {
    version: 5,
    name: 'server-wide secrets',
    sql: `CREATE TABLE server_secrets (name TEXT PRIMARY KEY, value TEXT NOT NULL, created_at INTEGER NOT NULL) WITHOUT ROWID;`,
  },
  {
    version: 6,
    name: 'removals that invites cannot undo; invites listed per room',
    sql: `
      CREATE TABLE room_removals (
        room_id TEXT NOT NULL REFERENCES rooms(room_id) ON DELETE CASCADE,
        user_id TEXT NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
        removed_at INTEGER NOT NULL,
        PRIMARY KEY (room_id, user_id)
      ) WITHOUT ROWID;
      CREATE INDEX invites_room ON invites(room_id, created_at);
    `,
  },
  {
    version: 7,
    name: 'document log as a rowid table',
    // In a WITHOUT ROWID table the whole row is the b-tree key, so every comparison of a seek that
    // meets a large update (a first sync, an import: hundreds of KB in overflow pages) read all of it
    // into a fresh buffer — about 14 times per room load. Here the key is (room_id, seq) in the index.
    sql: `
      CREATE TABLE doc_log (
        room_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        data BLOB NOT NULL,
        PRIMARY KEY (room_id, seq)
      );
      INSERT INTO doc_log (room_id, seq, data) SELECT room_id, seq, data FROM doc_updates ORDER BY room_id, seq;
      DROP TABLE doc_updates;
      ALTER TABLE doc_log RENAME TO doc_updates;
    `,
  },
  {
    version: 8,
    name: 'links revoked for good when their creator stops being an owner',
    // Invites and feeds used to be refused only while their creator was not an owner, and came back
    // to life if they were made one again. Now losing the role revokes them (see removeMember in
    // storage.ts); links already dead that way are revoked here, so that none of them revives.
    sql: `
      ALTER TABLE invites ADD COLUMN revoked_at INTEGER;
      UPDATE invites SET revoked_at = CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)
        WHERE NOT EXISTS (SELECT 1 FROM members m WHERE m.room_id = invites.room_id
                            AND m.user_id = invites.created_by AND m.role = 'owner');
      DELETE FROM room_feeds
        WHERE NOT EXISTS (SELECT 1 FROM members m WHERE m.room_id = room_feeds.room_id
                            AND m.user_id = room_feeds.created_by AND m.role = 'owner');
    `,
  },
  {
    version: 9,
    name: 'indexes for deleting a user and for sweeping dead refresh tokens',
    // Deleting a user (its cascade and the transaction around it) and signing them out everywhere
    // looked rows up by user or creator with no index: a scan of each whole table, on the event
    // loop. The sweep (RefreshTokenPruner) walks expired rows in order and asks of each whether
    // its family still has a token that could be used: one probe of the partial index.
    sql: `
      CREATE INDEX refresh_tokens_user ON refresh_tokens(user_id);
      CREATE INDEX refresh_tokens_expiry ON refresh_tokens(expires_at, token_hash);
      CREATE INDEX refresh_tokens_live ON refresh_tokens(family_id, expires_at) WHERE status = 'active';
      CREATE INDEX invites_creator ON invites(created_by);
      CREATE INDEX rooms_creator ON rooms(created_by);
      CREATE INDEX room_feeds_creator ON room_feeds(created_by);
      CREATE INDEX room_removals_user ON room_removals(user_id);
    `,
  },
];

export function migrate(db: Database): number[] {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`);
  const applied = new Set(
    db.prepare('SELECT version FROM schema_migrations').pluck().all() as number[],
  );
  const ran: number[] = [];
  for (const m of MIGRATIONS) {
    if (applied.has(m.version)) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(
        m.version,
        m.name,
        Date.now(),
      );
    })();
    ran.push(m.version);
  }
  const newest = Math.max(0, ...applied);
  const known = Math.max(...MIGRATIONS.map((m) => m.version));
  if (newest > known) {
    throw new Error(`The database schema (version ${newest}) is newer than this kith-server knows (${known}).`);
  }
  return ran;
}
