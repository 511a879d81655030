/**
 * The reminder scheduler's memory of its looks (notify_room_looks) is saved in batches, on real
 * SQLite and PostgreSQL: a look is not stored until its batch is (one transaction, after a second or
 * once 500 wait), a newer look of a room replaces a waiting older one, an older look never
 * overwrites a newer stored one, a room deleted meanwhile gets no row, and a look forgotten before
 * its batch is never stored. PostgreSQL is skipped when it is not reachable (unless
 * KITH_REQUIRE_SERVICES=1).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { NOTIFY_LOOK_MIGRATIONS } from '../../src/notify/migrations.js';
import { RoomLooks } from '../../src/notify/room-looks.js';
import type { ModuleSql } from '../../src/storage/module-tables.js';
import type { Storage } from '../../src/storage/storage.js';
import { describeOnPostgres, openTestPostgresStorage } from '../helpers/postgres.js';
import { openTestSqliteStorage } from '../helpers/sqlite.js';

type Opened = { storage: Storage; cleanup: () => Promise<void> };

function describeRoomLooks(name: string, open: () => Promise<Opened>): void {
  describe(`room looks: ${name}`, { timeout: 60_000 }, () => {
    const cleanups: Array<() => Promise<void>> = [];
    afterEach(async () => {
      for (const c of cleanups.splice(0)) await c();
    });

    /** Storage with `count` rooms (room-0 …) and the looks table; `stored()` reads the table as saved. */
    const setUp = async (count: number) => {
      const o = await open();
      cleanups.push(o.cleanup);
      await o.storage.users.create({ userId: 'u1', username: 'mum', passwordHash: 'x', createdAt: 1 });
      for (let i = 0; i < count; i++) await o.storage.rooms.create({ roomId: `room-${i}`, name: `R${i}`, createdBy: 'u1', createdAt: 1 });
      const sql: ModuleSql = await o.storage.modules.open('notify', NOTIFY_LOOK_MIGRATIONS);
      const stored = async () => {
        const rows = await sql.all<{ room_id: string; next_due: number | string; looked_at: number | string; head: number | string }>(
          'SELECT room_id, next_due, looked_at, head FROM notify_room_looks ORDER BY room_id',
        );
        return new Map(rows.map((r) => [r.room_id, { nextDue: Number(r.next_due), lookedAt: Number(r.looked_at), head: Number(r.head) }]));
      };
      return { storage: o.storage, sql, stored, looks: new RoomLooks(sql) };
    };

    it('stores waiting looks together once their second is up, the newest look of each room', async () => {
      const { looks, stored } = await setUp(3);
      looks.save('room-0', 5_000, 1_000, 7);
      looks.save('room-1', 6_000, 1_000, 2);
      looks.save('room-0', 9_000, 2_000, 8);
      // An older look of the same room arriving late does not replace the newer one waiting.
      looks.save('room-0', 4_000, 1_500, 7);
      expect((await stored()).size).toBe(0);
      await expect.poll(async () => (await stored()).size, { timeout: 5_000, interval: 50 }).toBe(2);
      expect(await stored()).toEqual(
        new Map([
          ['room-0', { nextDue: 9_000, lookedAt: 2_000, head: 8 }],
          ['room-1', { nextDue: 6_000, lookedAt: 1_000, head: 2 }],
        ]),
      );
      // Stored, an older look (another instance's, finishing late) still does not overwrite it.
      looks.save('room-0', 3_000, 1_800, 6);
      await looks.flush();
      expect((await stored()).get('room-0')).toEqual({ nextDue: 9_000, lookedAt: 2_000, head: 8 });
      // …and a newer one does.
      looks.save('room-0', 12_000, 3_000, 9);
      await looks.flush();
      expect((await stored()).get('room-0')).toEqual({ nextDue: 12_000, lookedAt: 3_000, head: 9 });
    });

    it('saves at once when 500 looks wait, without waiting for the second', async () => {
      const { looks, stored } = await setUp(501);
      for (let i = 0; i < 499; i++) looks.save(`room-${i}`, 10_000, 1_000, i);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect((await stored()).size).toBe(0);
      looks.save('room-499', 10_000, 1_000, 499);
      await expect.poll(async () => (await stored()).size, { timeout: 900, interval: 20 }).toBe(500);
      looks.save('room-500', 10_000, 1_000, 500);
      await looks.flush();
      expect((await stored()).size).toBe(501);
    });

    it('keeps no row for a room deleted or forgotten before its look was saved', async () => {
      const { storage, looks, stored } = await setUp(3);
      looks.save('room-0', 5_000, 1_000, 1);
      looks.save('room-1', 5_000, 1_000, 1);
      looks.save('room-2', 5_000, 1_000, 1);
      await storage.rooms.delete('room-1');
      await looks.forget('room-2');
      await looks.flush();
      expect([...(await stored()).keys()]).toEqual(['room-0']);
      // A stored row goes with forget, even while a batch holding the room is being saved.
      looks.save('room-0', 6_000, 2_000, 2);
      const saving = looks.flush();
      await looks.forget('room-0');
      await saving;
      expect((await stored()).size).toBe(0);
    });
  });
}

describeRoomLooks('SQLite', () => openTestSqliteStorage('kith-room-looks-'));

await describeOnPostgres('PostgreSQL', (url) => describeRoomLooks('PostgreSQL', () => openTestPostgresStorage(url)));
