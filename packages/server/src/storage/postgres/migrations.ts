import type { Pool } from 'pg';

/**
 * Versioned PostgreSQL schema migrations, the counterpart of `../sqlite/migrations.ts`. Each runs
 * once, in its own transaction, in order; applied versions are kept in `schema_migrations`. Never
 * edit a shipped migration: add a new one (and the matching SQLite one).
 *
 * Tables live in the first schema of the connection's `search_path` (normally `public`).
 * Differences from SQLite: times and seqs are `bigint` (read back as JS numbers, see
 * `postgres-storage.ts`), blobs are `bytea`, and the log's positions come from an explicit sequence
 * so that `append` can allocate a whole batch's seqs at once, in order.
 */
export const PG_MIGRATIONS: ReadonlyArray<{ version: number; name: string; sql: string }> = [
  {
    version: 1,
    name: 'users, tokens, rooms, members, invites, document log and snapshots',
    sql: `
      CREATE TABLE users (
        user_id text PRIMARY KEY,
        username text NOT NULL,
        username_key text NOT NULL UNIQUE,
        password_hash text NOT NULL,
        created_at bigint NOT NULL
      );
      CREATE TABLE refresh_tokens (
        token_hash text PRIMARY KEY,
        user_id text NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
        family_id text NOT NULL,
        status text NOT NULL CHECK (status IN ('active', 'rotated', 'revoked')),
        expires_at bigint NOT NULL,
        created_at bigint NOT NULL
      );
      CREATE INDEX refresh_tokens_family ON refresh_tokens(family_id);
      CREATE TABLE rooms (
        room_id text PRIMARY KEY,
        name text NOT NULL,
        created_by text NOT NULL REFERENCES users(user_id),
        created_at bigint NOT NULL
      );
      CREATE TABLE members (
        room_id text NOT NULL REFERENCES rooms(room_id) ON DELETE CASCADE,
        user_id text NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
        role text NOT NULL CHECK (role IN ('owner', 'editor', 'viewer')),
        joined_at bigint NOT NULL,
        PRIMARY KEY (room_id, user_id)
      );
      CREATE INDEX members_user ON members(user_id);
      CREATE TABLE invites (
        code_hash text PRIMARY KEY,
        room_id text NOT NULL REFERENCES rooms(room_id) ON DELETE CASCADE,
        role text NOT NULL CHECK (role IN ('owner', 'editor', 'viewer')),
        created_by text NOT NULL REFERENCES users(user_id),
        expires_at bigint,
        max_uses integer,
        uses integer NOT NULL DEFAULT 0,
        created_at bigint NOT NULL
      );
      CREATE SEQUENCE doc_updates_seq AS bigint;
      CREATE TABLE doc_updates (
        seq bigint PRIMARY KEY DEFAULT nextval('doc_updates_seq'),
        room_id text NOT NULL,
        data bytea NOT NULL
      );
      ALTER SEQUENCE doc_updates_seq OWNED BY doc_updates.seq;
      CREATE INDEX doc_updates_room ON doc_updates(room_id, seq);
      CREATE TABLE doc_snapshots (
        room_id text PRIMARY KEY,
        snapshot bytea NOT NULL,
        snapshot_seq bigint NOT NULL
      );
    `,
  },
  {
    version: 2,
    name: 'per-room contiguous log positions, log heads, leases',
    sql: `
      CREATE TABLE doc_log (
        room_id text NOT NULL,
        seq bigint NOT NULL,
        data bytea NOT NULL,
        PRIMARY KEY (room_id, seq)
      );
      -- A room's existing snapshot becomes position 1; its remaining log follows from 2.
      INSERT INTO doc_log (room_id, seq, data)
        SELECT u.room_id,
               row_number() OVER (PARTITION BY u.room_id ORDER BY u.seq)
                 + (CASE WHEN s.room_id IS NULL THEN 0 ELSE 1 END),
               u.data
        FROM doc_updates u LEFT JOIN doc_snapshots s ON s.room_id = u.room_id;
      UPDATE doc_snapshots SET snapshot_seq = 1;
      CREATE TABLE doc_heads (room_id text PRIMARY KEY, head bigint NOT NULL);
      INSERT INTO doc_heads (room_id, head)
        SELECT room_id, max(seq) FROM (
          SELECT room_id, seq FROM doc_log UNION ALL SELECT room_id, snapshot_seq FROM doc_snapshots
        ) AS positions GROUP BY room_id;
      DROP TABLE doc_updates;
      ALTER TABLE doc_log RENAME TO doc_updates;
      CREATE TABLE leases (name text PRIMARY KEY, holder text NOT NULL, expires_at bigint NOT NULL);
    `,
  },
  {
    version: 3,
    name: 'calendar feed secrets',
    sql: `
      CREATE TABLE room_feeds (
        room_id text PRIMARY KEY REFERENCES rooms(room_id) ON DELETE CASCADE,
        token_hash text NOT NULL UNIQUE,
        created_by text NOT NULL,
        created_at bigint NOT NULL
      );
    `,
  },
  {
    version: 4,
    name: 'snapshot state vectors',
    sql: `ALTER TABLE doc_snapshots ADD COLUMN state_vector bytea;`,
  },
  {
    version: 5,
    name: 'server-wide secrets',
    sql: `CREATE TABLE server_secrets (name text PRIMARY KEY, value text NOT NULL, created_at bigint NOT NULL);`,
  },
  {
    version: 6,
    name: 'removals that invites cannot undo; invites listed per room',
    sql: `
      CREATE TABLE room_removals (
        room_id text NOT NULL REFERENCES rooms(room_id) ON DELETE CASCADE,
        user_id text NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
        removed_at bigint NOT NULL,
        PRIMARY KEY (room_id, user_id)
      );
      CREATE INDEX invites_room ON invites(room_id, created_at);
    `,
  },
  {
    version: 7,
    name: 'links revoked for good when their creator stops being an owner',
    // SQLite's version 8 (SQLite's version 7 only rebuilt its log table).
    sql: `
      ALTER TABLE invites ADD COLUMN revoked_at bigint;
      UPDATE invites SET revoked_at = (extract(epoch FROM clock_timestamp()) * 1000)::bigint
        WHERE NOT EXISTS (SELECT 1 FROM members m WHERE m.room_id = invites.room_id
                            AND m.user_id = invites.created_by AND m.role = 'owner');
      DELETE FROM room_feeds
        WHERE NOT EXISTS (SELECT 1 FROM members m WHERE m.room_id = room_feeds.room_id
                            AND m.user_id = room_feeds.created_by AND m.role = 'owner');
    `,
  },
  {
    version: 8,
    name: 'indexes for deleting a user and for sweeping dead refresh tokens',
    // SQLite's version 9.
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

/** First key of the migration's two-int advisory lock ("kiti" in ASCII); the second is a hash of the schema name. */
const MIGRATION_LOCK_CLASS = 0x6b697469;

/**
 * Brings the schema up to date. Runs under a session-level advisory lock keyed by the target
 * schema, so that several kith-server instances starting at once migrate exactly once: the others
 * wait, then find every migration applied. Returns the versions this call applied.
 */
export async function migratePostgres(pool: Pool): Promise<number[]> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    const schema = (await client.query<{ s: string | null }>('SELECT current_schema() AS s')).rows[0]?.s;
    if (!schema) {
      throw new Error(
        'PostgreSQL has no current schema: the first schema of the search_path does not exist. Create it first.',
      );
    }
    await client.query('SELECT pg_advisory_lock($1, hashtext($2))', [MIGRATION_LOCK_CLASS, schema]);
    try {
      await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version integer PRIMARY KEY, name text NOT NULL, applied_at bigint NOT NULL)`);
      const applied = new Set(
        (await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version),
      );
      const known = Math.max(...PG_MIGRATIONS.map((m) => m.version));
      const newest = Math.max(0, ...applied);
      if (newest > known) {
        throw new Error(`The database schema (version ${newest}) is newer than this kith-server knows (${known}).`);
      }
      const ran: number[] = [];
      for (const m of PG_MIGRATIONS) {
        if (applied.has(m.version)) continue;
        await client.query('BEGIN');
        try {
          await client.query(m.sql);
          await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [
            m.version,
            m.name,
            Date.now(),
          ]);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK').catch(() => undefined);
          throw err;
        }
        ran.push(m.version);
      }
      return ran;
    } finally {
      await client.query('SELECT pg_advisory_unlock($1, hashtext($2))', [MIGRATION_LOCK_CLASS, schema]).catch((err) => {
        // The session lock dies with the connection, so drop the connection rather than reuse it.
        broken = err as Error;
      });
    }
  } finally {
    client.release(broken ?? false);
  }
}
