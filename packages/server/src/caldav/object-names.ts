/**
 * Resource names that differ from the UID (RFC 4791 ties none to the other): a client that PUTs a
 * new object to `…/<uuid>.ics` — vdirsyncer does whenever the UID holds `@` — finds it under that
 * name afterwards. Table `caldav_object_names (room_id, name, uid)`, shared by every instance; an
 * object with no row is named by its UID. A row whose UID no longer has an object is stale: its
 * name is free again (the next PUT to it replaces the row). Deleting the object removes the row.
 */
import type { ModuleSql } from '../modules/module.js';

/**
 * Whether a client's resource name can be stored: not with NUL, which PostgreSQL's text cannot hold
 * (no UID holds one either). Checked before a PUT changes anything: the name is written after the event.
 */
export const storableName = (name: string): boolean => !name.includes('\u0000');

export const OBJECT_NAME_MIGRATIONS = {
  sqlite: [
    `CREATE TABLE caldav_object_names (room_id TEXT NOT NULL, name TEXT NOT NULL, uid TEXT NOT NULL, PRIMARY KEY (room_id, name))`,
    'CREATE UNIQUE INDEX caldav_object_names_uid ON caldav_object_names (room_id, uid)',
  ],
  postgres: [
    `CREATE TABLE caldav_object_names (room_id text NOT NULL, name text NOT NULL, uid text NOT NULL, PRIMARY KEY (room_id, name))`,
    'CREATE UNIQUE INDEX caldav_object_names_uid ON caldav_object_names (room_id, uid)',
  ],
};

/** A room's names at one moment. */
export class RoomNames {
  private readonly uidByName = new Map<string, string>();
  private readonly nameByUid = new Map<string, string>();

  constructor(rows: ReadonlyArray<{ name: string; uid: string }>) {
    for (const r of rows) {
      this.uidByName.set(r.name, r.uid);
      this.nameByUid.set(r.uid, r.name);
    }
  }

  /** The name an object is listed under. */
  nameOf(uid: string): string {
    return this.nameByUid.get(uid) ?? uid;
  }

  /** The row's UID for this name, if it has one. */
  mapped(name: string): string | undefined {
    return this.uidByName.get(name);
  }

  /**
   * The UID a name stands for; undefined when the name is a UID listed under another name (one
   * object, one name).
   */
  uidOf(name: string): string | undefined {
    const mapped = this.uidByName.get(name);
    if (mapped !== undefined) return mapped;
    return this.nameByUid.has(name) ? undefined : name;
  }
}

export class ObjectNames {
  constructor(private readonly sql: ModuleSql) {}

  async forRoom(roomId: string): Promise<RoomNames> {
    return new RoomNames(await this.sql.all<{ name: string; uid: string }>('SELECT name, uid FROM caldav_object_names WHERE room_id = ?', [roomId]));
  }

  /** Names the object `uid` by `name` (replacing any row for either); `name === uid` just clears them. */
  async set(roomId: string, name: string, uid: string): Promise<void> {
    await this.sql.transaction(async (tx) => {
      await tx.run('DELETE FROM caldav_object_names WHERE room_id = ? AND (name = ? OR uid = ?)', [roomId, name, uid]);
      if (name !== uid) await tx.run('INSERT INTO caldav_object_names (room_id, name, uid) VALUES (?, ?, ?)', [roomId, name, uid]);
    });
  }

  async remove(roomId: string, uid: string): Promise<void> {
    await this.sql.run('DELETE FROM caldav_object_names WHERE room_id = ? AND uid = ?', [roomId, uid]);
  }
}
