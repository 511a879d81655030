/**
 * Each member's notification settings: their zone, quiet hours, a daily agenda time, and per room
 * which change notices they want (everything / events they take part in / nothing).
 */
import type { ModuleSql } from '../storage/module-tables.js';

export type ChangesPref = 'all' | 'participant' | 'none';

export interface NotificationSettings {
  timeZone: string | null;
  /** "22:00"–"07:00" in `timeZone`: change notices wait until it ends. */
  quietHours: { start: string; end: string } | null;
  dailyAgenda: { time: string } | null;
  rooms: Record<string, { changes: ChangesPref }>;
}

interface PrefRow {
  time_zone: string | null;
  quiet_start: string | null;
  quiet_end: string | null;
  agenda_time: string | null;
}

export class Preferences {
  constructor(private readonly sql: ModuleSql) {}

  async get(userId: string): Promise<NotificationSettings> {
    const row = await this.sql.get<PrefRow>('SELECT time_zone, quiet_start, quiet_end, agenda_time FROM notify_prefs WHERE user_id = ?', [userId]);
    const rooms = await this.sql.all<{ room_id: string; changes: ChangesPref }>(
      'SELECT room_id, changes FROM notify_room_prefs WHERE user_id = ? ORDER BY room_id',
      [userId],
    );
    return {
      timeZone: row?.time_zone ?? null,
      quietHours: row?.quiet_start && row.quiet_end ? { start: row.quiet_start, end: row.quiet_end } : null,
      dailyAgenda: row?.agenda_time ? { time: row.agenda_time } : null,
      rooms: Object.fromEntries(rooms.map((r) => [r.room_id, { changes: r.changes }])),
    };
  }

  /** Replaces the settings named in `s` (checked by the caller), in one transaction. */
  async put(userId: string, s: Partial<NotificationSettings>, now: number): Promise<void> {
    const next = { ...(await this.get(userId)), ...s };
    await this.sql.transaction(async (tx) => {
      await tx.run(
        `INSERT INTO notify_prefs (user_id, time_zone, quiet_start, quiet_end, agenda_time, updated_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (user_id) DO UPDATE SET time_zone = excluded.time_zone, quiet_start = excluded.quiet_start,
           quiet_end = excluded.quiet_end, agenda_time = excluded.agenda_time, updated_at = excluded.updated_at`,
        [userId, next.timeZone, next.quietHours?.start ?? null, next.quietHours?.end ?? null, next.dailyAgenda?.time ?? null, now],
      );
      for (const [roomId, pref] of Object.entries(s.rooms ?? {})) {
        await tx.run(
          `INSERT INTO notify_room_prefs (user_id, room_id, changes) VALUES (?, ?, ?)
           ON CONFLICT (user_id, room_id) DO UPDATE SET changes = excluded.changes`,
          [userId, roomId, pref.changes],
        );
      }
    });
  }

  /** A deleted room: the members' preferences for it go. */
  async forgetRoom(roomId: string): Promise<void> {
    await this.sql.run('DELETE FROM notify_room_prefs WHERE room_id = ?', [roomId]);
  }

  async zoneOf(userId: string): Promise<string | null> {
    const row = await this.sql.get<{ time_zone: string | null }>('SELECT time_zone FROM notify_prefs WHERE user_id = ?', [userId]);
    return row?.time_zone ?? null;
  }

  /** The zones these members chose (members without one are left out), a few hundred per query. */
  async zonesOf(userIds: readonly string[]): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (let i = 0; i < userIds.length; i += 200) {
      const chunk = userIds.slice(i, i + 200);
      const rows = await this.sql.all<{ user_id: string; time_zone: string }>(
        `SELECT user_id, time_zone FROM notify_prefs WHERE time_zone IS NOT NULL AND user_id IN (${chunk.map(() => '?').join(', ')})`,
        chunk,
      );
      for (const r of rows) out[r.user_id] = r.time_zone;
    }
    return out;
  }

  async changesPref(userId: string, roomId: string): Promise<ChangesPref> {
    const row = await this.sql.get<{ changes: ChangesPref }>('SELECT changes FROM notify_room_prefs WHERE user_id = ? AND room_id = ?', [userId, roomId]);
    return row?.changes ?? 'all';
  }

  /** When the member's quiet hours end, if `now` is inside them; null otherwise. */
  async quietUntil(userId: string, now: number, fallbackZone: string): Promise<number | null> {
    const s = await this.get(userId);
    if (!s.quietHours) return null;
    return quietEnd(now, s.quietHours.start, s.quietHours.end, s.timeZone ?? fallbackZone);
  }
}

const minutesOf = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/** The wall clock's parts at `now` in `zone`, or in UTC when the zone is unknown (a room's zone is whatever a client wrote). */
function clockParts(now: number, zone: string): Intl.DateTimeFormatPart[] {
  const options = { hour: '2-digit', minute: '2-digit', hour12: false } as const;
  try {
    return new Intl.DateTimeFormat('en-GB', { ...options, timeZone: zone }).formatToParts(now);
  } catch {
    return new Intl.DateTimeFormat('en-GB', { ...options, timeZone: 'UTC' }).formatToParts(now);
  }
}

/**
 * If `now` falls in [start, end) local time (wrapping midnight), the instant the quiet ends; else
 * null. An unknown zone counts as UTC: throwing held the notice back from every member, for good.
 */
export function quietEnd(now: number, start: string, end: string, zone: string): number | null {
  const parts = clockParts(now, zone);
  const local = Number(parts.find((p) => p.type === 'hour')!.value) % 24 * 60 + Number(parts.find((p) => p.type === 'minute')!.value);
  const s = minutesOf(start);
  const e = minutesOf(end);
  const inside = s <= e ? local >= s && local < e : local >= s || local < e;
  if (!inside) return null;
  const wait = (e - local + 1_440) % 1_440;
  // Minute precision is enough for "not at night"; a DST change inside the wait shifts it by ≤ 1 h.
  return now - (now % 60_000) + wait * 60_000;
}
