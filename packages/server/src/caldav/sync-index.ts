/**
 * The per-room change index behind CalDAV sync tokens (RFC 6578) and ctags, shared by every
 * instance through the module's tables: `caldav_sync_objects (room, uid, etag, version, deleted)`
 * and the room's current version in `caldav_sync_rooms`. A request records what its instance's
 * catalogue rendered again (object-catalog.ts) under a per-room lock (one SQLite transaction; a
 * PostgreSQL advisory lock): each row whose ETag differs, or whose object is gone, gets the next
 * version. So every change gets a version above every token handed out before it, whichever
 * instance noticed it, and a sync from token T answers the rows above T. Deleted rows stay as
 * tombstones for a while: those beyond the newest `maxTombstones` of a room, or older than
 * `tombstoneMs`, are pruned, and the room's `floor` rises to the newest version pruned; a token
 * below the floor could miss a deletion, so it is refused like an unknown one (RFC 6578 §3.2:
 * 403 valid-sync-token, and the client syncs from the start). A token above the room's version
 * (or for another room) is unknown.
 *
 * Instances' copies of a room are a few milliseconds apart (other instances' commits reach a copy
 * through the fan-out), and a copy behind the one the index was last recorded from must neither
 * record nor answer the room's version: it would record an older ETag over a newer one (a client
 * then served by the other instance, whose catalogue saw nothing new, would keep the older state),
 * or answer a version whose rows it has not got (an object another instance created, reported gone
 * or left out at that version, and never again: once the copy receives it, its row already
 * matches). So the room keeps the Yjs state vector of the copy it was last recorded from
 * (`state`), and only a copy that holds every update of it records (storing its own). A copy that
 * does not is behind: nothing is recorded, the request waits for the copy to catch up
 * (calendars.ts), and if it does not in time, it answers at the version this instance last
 * recorded (`answered`): every row up to it matched the copy then, and the copy has only grown
 * since (an object it renders differently now is pending, and recorded above it later). A state
 * the stored room does not hold (a restore under the index) is replaced by a copy holding all that
 * is stored, recording every object.
 *
 * A copy holding every update of the recorded one renders each object as that one did, or it
 * rendered the object again since its own last record (the catalogue notes each UID it renders,
 * changed ETag or not), and then records it. So after each record every row matches the recording
 * copy, and a room stored with exactly the recorded state has the index's version as its own: a
 * home listing answers it without rendering the room (Calendars.version). Kith's edits always
 * insert (the model's touch() sets updatedAt), so a state vector tells every edit apart.
 */
import * as Y from 'yjs';
import type { ModuleSql } from '../modules/module.js';
import type { PendingUids } from './object-catalog.js';

export const SYNC_INDEX_MIGRATIONS = {
  sqlite: [
    'CREATE TABLE caldav_sync_rooms (room_id TEXT PRIMARY KEY, version INTEGER NOT NULL)',
    `CREATE TABLE caldav_sync_objects (
       room_id TEXT NOT NULL, uid TEXT NOT NULL, etag TEXT NOT NULL, version INTEGER NOT NULL,
       deleted INTEGER NOT NULL, PRIMARY KEY (room_id, uid))`,
    'CREATE INDEX caldav_sync_objects_version ON caldav_sync_objects (room_id, version)',
    // The resource name a change is reported under when it differs from the UID (object-names.ts).
    'ALTER TABLE caldav_sync_objects ADD COLUMN name TEXT',
  ],
  postgres: [
    'CREATE TABLE caldav_sync_rooms (room_id text PRIMARY KEY, version bigint NOT NULL)',
    `CREATE TABLE caldav_sync_objects (
       room_id text NOT NULL, uid text NOT NULL, etag text NOT NULL, version bigint NOT NULL,
       deleted smallint NOT NULL, PRIMARY KEY (room_id, uid))`,
    'CREATE INDEX caldav_sync_objects_version ON caldav_sync_objects (room_id, version)',
    'ALTER TABLE caldav_sync_objects ADD COLUMN name text',
  ],
};

/**
 * Tombstone pruning (shipped after the object names' migrations, so appended after them): when a
 * row became a tombstone, and the version below which tokens are refused.
 */
export const SYNC_PRUNE_MIGRATIONS = {
  sqlite: ['ALTER TABLE caldav_sync_objects ADD COLUMN deleted_at INTEGER', 'ALTER TABLE caldav_sync_rooms ADD COLUMN floor INTEGER NOT NULL DEFAULT 0'],
  postgres: ['ALTER TABLE caldav_sync_objects ADD COLUMN deleted_at bigint', 'ALTER TABLE caldav_sync_rooms ADD COLUMN floor bigint NOT NULL DEFAULT 0'],
};

/** The room's last recorded state: a copy must hold every update of it to record (see above). */
export const SYNC_STATE_MIGRATIONS = {
  sqlite: ['ALTER TABLE caldav_sync_rooms ADD COLUMN state TEXT'],
  postgres: ['ALTER TABLE caldav_sync_rooms ADD COLUMN state text'],
};

export interface TombstoneLimits {
  /** Tombstones kept per room (the newest). */
  maxTombstones: number;
  /** Tombstones older than this are pruned. */
  tombstoneMs: number;
  now: () => number;
}

export const DEFAULT_TOMBSTONE_LIMITS: TombstoneLimits = { maxTombstones: 1_000, tombstoneMs: 30 * 86_400_000, now: Date.now };

export interface IndexedChange {
  uid: string;
  etag: string;
  deleted: boolean;
  /** The object's resource name when it was recorded (a deleted one is reported under it). */
  name: string;
  version: number;
}

/**
 * Where a sync token stands: every change up to `version` seen, and, for a continuation token
 * (a result truncated by DAV:limit), the changes of version + 1 up to the UID `after`.
 */
export interface SyncPoint {
  version: number;
  after: string | null;
}

type Row = { uid: string; etag: string; version: number | string; deleted: number | string; name?: string | null };

/** What recording a copy gave: the room's version after it, or that the copy is behind the index. */
export type Recorded = { behind: false; version: number } | { behind: true; head: number; state: Map<number, number> };

/** The room's version and the state vector of the copy it was recorded from (empty before any). */
export interface IndexHead {
  version: number;
  state: Map<number, number>;
}

const decodeState = (stored: string | null | undefined): Map<number, number> =>
  stored ? Y.decodeStateVector(Buffer.from(stored, 'base64')) : new Map();

/** Whether state vector `a` has every update of `b` (each client's clock at least as far). */
export function covers(a: ReadonlyMap<number, number>, b: ReadonlyMap<number, number>): boolean {
  for (const [client, clock] of b) if ((a.get(client) ?? 0) < clock) return false;
  return true;
}

export const sameState = (a: ReadonlyMap<number, number>, b: ReadonlyMap<number, number>): boolean => covers(a, b) && covers(b, a);

/** Rooms whose last recorded version this instance remembers (beyond it, the oldest is forgotten: 0). */
const MAX_ANSWERED = 10_000;

/** Rows written per statement (SQLite allows 32,766 parameters; 6 per row). */
const CHUNK = 200;

export class SyncIndex {
  /** Per-room queue in this process: refreshes of one room run one after another. */
  private readonly queues = new Map<string, Promise<unknown>>();

  private readonly limits: TombstoneLimits;

  constructor(
    private readonly sql: ModuleSql,
    limits: Partial<TombstoneLimits> = {},
  ) {
    this.limits = { ...DEFAULT_TOMBSTONE_LIMITS, ...limits };
  }

  /** Runs `fn` after the room's previous refresh on this instance has finished. */
  serial<T>(roomId: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.queues.get(roomId) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.queues.set(roomId, tail);
    void tail.then(() => {
      if (this.queues.get(roomId) === tail) this.queues.delete(roomId);
    });
    return run;
  }

  /** The version this instance last recorded the room at (0 if none): rows up to it matched its copy. */
  answered(roomId: string): number {
    return this.lastRecorded.get(roomId) ?? 0;
  }

  private readonly lastRecorded = new Map<string, number>();

  private remember(roomId: string, version: number): void {
    this.lastRecorded.delete(roomId);
    this.lastRecorded.set(roomId, version);
    if (this.lastRecorded.size > MAX_ANSWERED) this.lastRecorded.delete(this.lastRecorded.keys().next().value as string);
  }

  /** Drops the room's rows (a deleted room), after any refresh of it running here. */
  async forget(roomId: string): Promise<void> {
    await this.serial(roomId, () =>
      this.sql.transaction(async (tx) => {
        await tx.run('DELETE FROM caldav_sync_objects WHERE room_id = ?', [roomId]);
        await tx.run('DELETE FROM caldav_sync_rooms WHERE room_id = ?', [roomId]);
      }),
    );
    this.lastRecorded.delete(roomId);
  }

  /** The room's version and the state it was recorded from. */
  async head(roomId: string): Promise<IndexHead> {
    const row = await this.sql.get<{ version: number | string; state: string | null }>('SELECT version, state FROM caldav_sync_rooms WHERE room_id = ?', [roomId]);
    return { version: Number(row?.version ?? 0), state: decodeState(row?.state) };
  }

  /**
   * Records the changes among `pending` (current ETags in `current`) and answers the room's version
   * after them: the collection's sync token and ctag. (Without a copy's state: see recordCopy.)
   */
  async record(
    roomId: string,
    current: ReadonlyMap<string, { etag: string }>,
    pending: PendingUids,
    nameOf: (uid: string) => string = (uid) => uid,
  ): Promise<number> {
    const recorded = await this.recordCopy(roomId, current, null, pending, nameOf);
    return recorded.behind ? recorded.head : recorded.version;
  }

  /**
   * Records a copy of the room whose state vector is `state`: when it has every update of the copy
   * the index was last recorded from (or `force`), the changes among `pending` (as `record`), and
   * its state; otherwise nothing (`behind`, with the room's version and the state recorded).
   */
  async recordCopy(
    roomId: string,
    current: ReadonlyMap<string, { etag: string }>,
    state: Uint8Array | null,
    pending: PendingUids,
    nameOf: (uid: string) => string = (uid) => uid,
    force = false,
  ): Promise<Recorded> {
    const recorded = await this.sql.transaction((tx) => this.recordIn(tx, roomId, current, state, pending, nameOf, force));
    if (!recorded.behind) this.remember(roomId, recorded.version);
    return recorded;
  }

  private async recordIn(
    tx: ModuleSql,
    roomId: string,
    current: ReadonlyMap<string, { etag: string }>,
    state: Uint8Array | null,
    pending: PendingUids,
    nameOf: (uid: string) => string,
    force: boolean,
  ): Promise<Recorded> {
    if (tx.engine === 'postgres') await tx.get('SELECT pg_advisory_xact_lock(hashtext(?::text))', [`caldav_sync:${roomId}`]);
    const head = await tx.get<{ version: number | string; state: string | null }>('SELECT version, state FROM caldav_sync_rooms WHERE room_id = ?', [roomId]);
    const version = Number(head?.version ?? 0);
    let newState: string | null = null;
    if (state !== null) {
      const mine = Y.decodeStateVector(state);
      const recorded = decodeState(head?.state);
      if (!force && !covers(mine, recorded)) return { behind: true, head: version, state: recorded };
      if (!sameState(recorded, mine)) newState = Buffer.from(state).toString('base64');
    }
    const keepState = async (): Promise<Recorded> => {
      if (newState !== null) {
        await tx.run(
          'INSERT INTO caldav_sync_rooms (room_id, version, state) VALUES (?, ?, ?) ON CONFLICT (room_id) DO UPDATE SET state = excluded.state',
          [roomId, version, newState],
        );
      }
      return { behind: false, version };
    };
    if (pending !== 'all' && pending.size === 0) return keepState();
    const stored = new Map<string, Row>();
    if (pending === 'all') {
      for (const r of await tx.all<Row>('SELECT uid, etag, version, deleted FROM caldav_sync_objects WHERE room_id = ?', [roomId])) stored.set(r.uid, r);
    } else {
      const uids = [...pending];
      for (let i = 0; i < uids.length; i += CHUNK) {
        const part = uids.slice(i, i + CHUNK);
        const rows = await tx.all<Row>(
          `SELECT uid, etag, version, deleted FROM caldav_sync_objects WHERE room_id = ? AND uid IN (${part.map(() => '?').join(',')})`,
          [roomId, ...part],
        );
        for (const r of rows) stored.set(r.uid, r);
      }
    }
    const next = version + 1;
    const now = this.limits.now();
    const writes: Array<[string, string, number]> = []; // uid, etag, deleted
    const check = (uid: string) => {
      const now = current.get(uid);
      const was = stored.get(uid);
      const wasLive = was !== undefined && Number(was.deleted) === 0;
      if (now !== undefined && (!wasLive || was.etag !== now.etag)) writes.push([uid, now.etag, 0]);
      else if (now === undefined && wasLive) writes.push([uid, was.etag, 1]);
    };
    if (pending === 'all') {
      for (const uid of current.keys()) check(uid);
      for (const uid of stored.keys()) if (!current.has(uid)) check(uid);
    } else {
      for (const uid of pending) check(uid);
    }
    if (writes.length === 0) return keepState();
    for (let i = 0; i < writes.length; i += CHUNK) {
      const part = writes.slice(i, i + CHUNK);
      await tx.run(
        `INSERT INTO caldav_sync_objects (room_id, uid, etag, version, deleted, name, deleted_at) VALUES ${part.map(() => '(?, ?, ?, ?, ?, ?, ?)').join(', ')}
         ON CONFLICT (room_id, uid) DO UPDATE SET etag = excluded.etag, version = excluded.version, deleted = excluded.deleted, name = excluded.name, deleted_at = excluded.deleted_at`,
        part.flatMap(([uid, etag, deleted]) => {
          const name = nameOf(uid);
          return [roomId, uid, etag, next, deleted, name === uid ? null : name, deleted ? now : null];
        }),
      );
    }
    await tx.run(
      `INSERT INTO caldav_sync_rooms (room_id, version, state) VALUES (?, ?, ?)
       ON CONFLICT (room_id) DO UPDATE SET version = excluded.version, state = COALESCE(excluded.state, caldav_sync_rooms.state)`,
      [roomId, next, newState],
    );
    if (writes.some(([, , deleted]) => deleted === 1)) await this.prune(tx, roomId, now);
    return { behind: false, version: next };
  }

  /** Drops the room's tombstones beyond the limits and raises its floor to the newest one dropped. */
  private async prune(tx: ModuleSql, roomId: string, now: number): Promise<void> {
    const { maxTombstones, tombstoneMs } = this.limits;
    const beyond = await tx.get<{ version: number | string }>(
      'SELECT version FROM caldav_sync_objects WHERE room_id = ? AND deleted = 1 ORDER BY version DESC LIMIT 1 OFFSET ?',
      [roomId, maxTombstones],
    );
    const old = await tx.get<{ version: number | string | null }>(
      'SELECT MAX(version) AS version FROM caldav_sync_objects WHERE room_id = ? AND deleted = 1 AND deleted_at < ?',
      [roomId, now - tombstoneMs],
    );
    const floor = Math.max(Number(beyond?.version ?? 0), Number(old?.version ?? 0));
    if (floor <= 0) return;
    await tx.run('DELETE FROM caldav_sync_objects WHERE room_id = ? AND deleted = 1 AND version <= ?', [roomId, floor]);
    await tx.run('UPDATE caldav_sync_rooms SET floor = ? WHERE room_id = ? AND floor < ?', [floor, roomId, floor]);
  }

  /** The oldest version a sync token may name: below it, pruned tombstones could be missed. */
  async floor(roomId: string): Promise<number> {
    const row = await this.sql.get<{ floor: number | string }>('SELECT floor FROM caldav_sync_rooms WHERE room_id = ?', [roomId]);
    return Number(row?.floor ?? 0);
  }

  /**
   * The room's objects changed after version `since` up to `upTo` (the version of the caller's
   * snapshot: later rows are another instance's newer state, answered by the next sync).
   */
  async changesSince(roomId: string, since: number | SyncPoint, upTo: number): Promise<IndexedChange[]> {
    const point: SyncPoint = typeof since === 'number' ? { version: since, after: null } : since;
    // A continuation token has seen the rows of the next version up to its UID (rows only ever
    // leave a version, to a newer one, so none can be added behind the cursor).
    const rows =
      point.after === null
        ? await this.sql.all<Row>(
            'SELECT uid, etag, version, deleted, name FROM caldav_sync_objects WHERE room_id = ? AND version > ? AND version <= ? ORDER BY version, uid',
            [roomId, point.version, upTo],
          )
        : await this.sql.all<Row>(
            `SELECT uid, etag, version, deleted, name FROM caldav_sync_objects
             WHERE room_id = ? AND version > ? AND version <= ? AND NOT (version = ? AND uid <= ?) ORDER BY version, uid`,
            [roomId, point.version, upTo, point.version + 1, point.after],
          );
    return rows.map((r) => ({ uid: r.uid, etag: r.etag, deleted: Number(r.deleted) !== 0, name: r.name ?? r.uid, version: Number(r.version) }));
  }
}

const TOKEN_PREFIX = 'http://kith.invalid/ns/sync/';

/** A sync token (RFC 6578 wants a URI): the room and its version (and a continuation's UID). */
export function syncToken(roomId: string, version: number, after: string | null = null): string {
  return `${TOKEN_PREFIX}${roomId}/${version}${after === null ? '' : `/${encodeURIComponent(after)}`}`;
}

/** The point a token names for this room, or undefined when it is not one of this room's. */
export function parseSyncPoint(token: string, roomId: string): SyncPoint | undefined {
  const prefix = `${TOKEN_PREFIX}${roomId}/`;
  if (!token.startsWith(prefix) || token.length > 4_000) return undefined;
  const m = /^(\d{1,15})(?:\/([^/]+))?$/.exec(token.slice(prefix.length));
  if (!m) return undefined;
  let after: string | null = null;
  if (m[2] !== undefined) {
    try {
      after = decodeURIComponent(m[2]);
    } catch {
      return undefined;
    }
    // No UID holds NUL (and PostgreSQL's text cannot: the query failed with a 500).
    if (after.includes('\u0000')) return undefined;
  }
  return { version: Number(m[1]), after };
}

/** The version a token names for this room, or undefined when it is not one of this room's. */
export function parseSyncToken(token: string, roomId: string): number | undefined {
  const point = parseSyncPoint(token, roomId);
  return point === undefined || point.after !== null ? undefined : point.version;
}
