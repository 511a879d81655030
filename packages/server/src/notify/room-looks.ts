/**
 * What the reminder scheduler remembers about each room across restarts (notify_room_looks): when
 * it last looked, the room's stored log head at that look, and when the room next needs a look.
 *
 * "Changed since the last look" uses the core's own per-room log head (doc_heads, raised by every
 * stored update, on every instance), so the commit path writes nothing extra: a room whose head
 * differs from the one recorded at its last look has changed since.
 *
 * Looks are saved in batches (one transaction per FLUSH_MS, or per MAX_PENDING looks), not one
 * committed write each: with hundreds of busy rooms, each look's own commit (an fsync on SQLite, on
 * the event loop) cost more than the look. A look lost to a crash before its batch is saved only
 * means an extra look at start-up: the row left behind is older, so its head differs from the
 * room's now, or its due time has passed, or there is none — each of which start-up looks at.
 */
import type { Logger } from 'pino';
import type { ModuleSql } from '../storage/module-tables.js';

export interface RoomLookRow {
  roomId: string;
  /** Null when the room was never looked at. */
  look: { nextDue: number; lookedAt: number; head: number } | null;
  /** The room's stored log head now (0 when nothing is stored yet). */
  head: number;
}

type Num = number | string | null;

/** How long a look waits to be saved with others. */
const FLUSH_MS = 1_000;
/** A batch is saved at once when this many looks wait (bounds the memory and the transaction). */
const MAX_PENDING = 500;

interface Look {
  nextDue: number;
  lookedAt: number;
  head: number;
}

export class RoomLooks {
  /** Looks not yet saved, by room; a newer look of a room replaces the older one. */
  private pending = new Map<string, Look>();
  private timer: NodeJS.Timeout | undefined;
  private saving: Promise<void> = Promise.resolve();

  constructor(
    private readonly sql: ModuleSql,
    private readonly logger?: Logger,
  ) {}

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

  /** Remembers a look; saved with the next batch (see the file comment). */
  save(roomId: string, nextDue: number, lookedAt: number, head: number): void {
    const earlier = this.pending.get(roomId);
    if (earlier && earlier.lookedAt > lookedAt) return;
    this.pending.set(roomId, { nextDue, lookedAt, head });
    if (this.pending.size >= MAX_PENDING) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), FLUSH_MS).unref();
  }

  /**
   * Saves every waiting look in one transaction (resolves once it is stored; batches are saved one
   * after another). An older look (another instance's, finishing late) does not overwrite a newer
   * one, and a room deleted meanwhile gets no row back. A failed batch is logged and dropped: its
   * rooms are looked at again at the next start-up.
   */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.size === 0) return this.saving;
    const batch = this.pending;
    this.pending = new Map();
    this.saving = this.saving.then(() =>
      this.sql
        .transaction(async (tx) => {
          for (const [roomId, look] of batch) {
            await tx.run(
              `INSERT INTO notify_room_looks (room_id, next_due, looked_at, head)
               SELECT ?, CAST(? AS bigint), CAST(? AS bigint), CAST(? AS bigint) WHERE EXISTS (SELECT 1 FROM rooms WHERE room_id = ?)
               ON CONFLICT (room_id) DO UPDATE SET next_due = excluded.next_due, looked_at = excluded.looked_at, head = excluded.head
               WHERE notify_room_looks.looked_at <= excluded.looked_at`,
              [roomId, look.nextDue, look.lookedAt, look.head, roomId],
            );
          }
        })
        .catch((err) => this.logger?.warn({ err, rooms: batch.size }, 'saving room looks failed; those rooms are looked at again at start-up')),
    );
    return this.saving;
  }

  /** A deleted room's row goes with it. */
  async forget(roomId: string): Promise<void> {
    this.pending.delete(roomId);
    // After any batch being saved, which may still hold the room's look.
    await this.saving;
    await this.sql.run('DELETE FROM notify_room_looks WHERE room_id = ?', [roomId]);
  }
}
