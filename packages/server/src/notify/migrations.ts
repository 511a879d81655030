import type { ModuleMigrations } from '../storage/module-tables.js';

/**
 * The core half's tables (notify-channels appends NOTIFY_CHANNEL_MIGRATIONS after these):
 * - notify_ledger: one row per delivery key — claimed (with a lease), sent, gone or skipped.
 * - notify_state: small named values shared by instances (when reminders were last looked at).
 * - notify_prefs / notify_room_prefs: each member's settings.
 */
export const NOTIFY_CORE_MIGRATIONS: ModuleMigrations = {
  sqlite: [
    `CREATE TABLE notify_ledger (
       key TEXT PRIMARY KEY,
       state TEXT NOT NULL CHECK (state IN ('claimed', 'sent', 'gone', 'skipped', 'failed')),
       holder TEXT,
       lease_until INTEGER NOT NULL,
       attempts INTEGER NOT NULL,
       updated_at INTEGER NOT NULL
     ) WITHOUT ROWID;
     CREATE TABLE notify_state (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
     CREATE TABLE notify_prefs (
       user_id TEXT PRIMARY KEY,
       time_zone TEXT,
       quiet_start TEXT,
       quiet_end TEXT,
       agenda_time TEXT,
       updated_at INTEGER NOT NULL
     ) WITHOUT ROWID;
     CREATE TABLE notify_room_prefs (
       user_id TEXT NOT NULL,
       room_id TEXT NOT NULL,
       changes TEXT NOT NULL CHECK (changes IN ('all', 'participant', 'none')),
       PRIMARY KEY (user_id, room_id)
     ) WITHOUT ROWID;`,
  ],
  postgres: [
    `CREATE TABLE notify_ledger (
       key text PRIMARY KEY,
       state text NOT NULL CHECK (state IN ('claimed', 'sent', 'gone', 'skipped', 'failed')),
       holder text,
       lease_until bigint NOT NULL,
       attempts integer NOT NULL,
       updated_at bigint NOT NULL
     );
     CREATE TABLE notify_state (name text PRIMARY KEY, value bigint NOT NULL);
     CREATE TABLE notify_prefs (
       user_id text PRIMARY KEY,
       time_zone text,
       quiet_start text,
       quiet_end text,
       agenda_time text,
       updated_at bigint NOT NULL
     );
     CREATE TABLE notify_room_prefs (
       user_id text NOT NULL,
       room_id text NOT NULL,
       changes text NOT NULL CHECK (changes IN ('all', 'participant', 'none')),
       PRIMARY KEY (user_id, room_id)
     );`,
  ],
};

/**
 * Added after the channels' migrations (versions are list positions, so new tables go last):
 * - notify_pending_changes: the change notices gathering in an open window, one row per change,
 *   so that a crash inside the window loses nothing (see notices.ts).
 */
export const NOTIFY_PENDING_MIGRATIONS: ModuleMigrations = {
  sqlite: [
    `CREATE TABLE notify_pending_changes (
       seq INTEGER PRIMARY KEY AUTOINCREMENT,
       room_id TEXT NOT NULL,
       window_end INTEGER NOT NULL,
       zone TEXT NOT NULL,
       comment_id TEXT,
       change TEXT NOT NULL
     );
     CREATE INDEX notify_pending_changes_room ON notify_pending_changes (room_id, seq);`,
  ],
  postgres: [
    `CREATE TABLE notify_pending_changes (
       seq bigserial PRIMARY KEY,
       room_id text NOT NULL,
       window_end bigint NOT NULL,
       zone text NOT NULL,
       comment_id text,
       change text NOT NULL
     );
     CREATE INDEX notify_pending_changes_room ON notify_pending_changes (room_id, seq);`,
  ],
};

/**
 * Added last (after notify_pending_changes):
 * - notify_room_looks: per room, when the scheduler last looked at it, the room's log head it saw
 *   then (doc_heads), and when it next needs a look, so that start-up reads only the rooms that are
 *   due, changed since, or never looked at (see room-looks.ts).
 */
export const NOTIFY_LOOK_MIGRATIONS: ModuleMigrations = {
  sqlite: [
    `CREATE TABLE notify_room_looks (
       room_id TEXT PRIMARY KEY,
       next_due INTEGER NOT NULL,
       looked_at INTEGER NOT NULL,
       head INTEGER NOT NULL
     ) WITHOUT ROWID;`,
  ],
  postgres: [
    `CREATE TABLE notify_room_looks (
       room_id text PRIMARY KEY,
       next_due bigint NOT NULL,
       looked_at bigint NOT NULL,
       head bigint NOT NULL
     );`,
  ],
};

/**
 * Added after notify_room_looks: notify_pending_changes.change_key, the event, kind and author a row
 * holds the last change of (or "#kind|author" for a count past the window's cap; null for a comment
 * and for rows stored before it), so a look replaces a row instead of adding one (see notices.ts).
 */
export const NOTIFY_PENDING_KEY_MIGRATIONS: ModuleMigrations = {
  sqlite: ['ALTER TABLE notify_pending_changes ADD COLUMN change_key TEXT;'],
  postgres: ['ALTER TABLE notify_pending_changes ADD COLUMN change_key text;'],
};
