/**
 * What the reminder scheduler remembers about each room across restarts (notify_room_looks): when
 * it last looked, the room's stored log head at that look, and when the room next needs a look.
 *
 * "Changed since the last look" uses the core's own per-room log head (doc_heads, raised by every
 * stored update, on every instance), so the commit path writes nothing extra: a room whose head
 * differs from the one recorded at its last look has changed since.
 */
import type { ModuleSql } from '../storage/module-tables.js';

export interface RoomLookRow {
  roomId: string;
  /** Null when the room was never looked at. */
  look: { nextDue: number; lookedAt: number; head: number } | null;
  /** The room's stored log head now (0 when nothing is stored yet). */
  head: number;
}

type Num = number | string | null;

export class RoomLooks {
  constructor(private readonly sql: ModuleSql) {}

  /** Every room (the core's rooms table, read only) with its last look, if any, and its head now. */
  async survey(): Promise<RoomLookRow[]> {
    const rows = await this.sql.all<{ room_id: string; next_due: Num; looked_at: Num; looked_head: Num; head: Num }>(
      `SELECT r.room_id, l.next_due, l.looked_at, l.head AS looked_head, h.head
       FROM rooms r
       LEFT JOIN notify_room_looks l ON l.room_id = r.room_id
       LEFT JOIN doc_heads h ON h.room_id = r.room_id
       ORDER BY r.room_id`,
    );
    return rows.map((r) => ({
      roomId: r.room_id,
      look: r.next_due === null ? null : { nextDue: Number(r.next_due), lookedAt: Number(r.looked_at), head: Number(r.looked_head) },
      head: Number(r.head ?? 0),
    }));
  }

  /** The room's stored log head (read before a look, so a commit racing the look counts as a change). */
  async head(roomId: string): Promise<number> {
    const row = await this.sql.get<{ head: Num }>('SELECT head FROM doc_heads WHERE room_id = ?', [roomId]);
    return Number(row?.head ?? 0);
  }

  /**
   * One upsert per look; an older look (another instance's, finishing late) does not overwrite a
   * newer one, and a room deleted during the look gets no row back.
   */
  async save(roomId: string, nextDue: number, lookedAt: number, head: number): Promise<void> {
    await this.sql.run(
      `INSERT INTO notify_room_looks (room_id, next_due, looked_at, head)
       SELECT ?, CAST(? AS bigint), CAST(? AS bigint), CAST(? AS bigint) WHERE EXISTS (SELECT 1 FROM rooms WHERE room_id = ?)
       ON CONFLICT (room_id) DO UPDATE SET next_due = excluded.next_due, looked_at = excluded.looked_at, head = excluded.head
       WHERE notify_room_looks.looked_at <= excluded.looked_at`,
      [roomId, nextDue, lookedAt, head, roomId],
    );
  }

  /** A deleted room's row goes with it. */
  async forget(roomId: string): Promise<void> {
    await this.sql.run('DELETE FROM notify_room_looks WHERE room_id = ?', [roomId]);
  }
}
