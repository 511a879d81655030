import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { MIGRATIONS, migrate } from '../src/storage/sqlite/migrations.js';
import { openSqliteStorage } from '../src/storage/sqlite/sqlite-storage.js';
import { makeDataDir } from './helpers/server.js';

describe('SQLite schema migrations', () => {
  it('a fresh database gets every migration once, and a second run applies nothing', async () => {
    const db = new BetterSqlite3(':memory:');
    expect(migrate(db)).toEqual(MIGRATIONS.map((m) => m.version));
    expect(migrate(db)).toEqual([]);
    db.close();
  });

  it('refuses a database whose schema is newer than this server', () => {
    const db = new BetterSqlite3(':memory:');
    migrate(db);
    db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, ?, 0)').run('from the future');
    expect(() => migrate(db)).toThrow(/newer than this kith-server knows/);
    db.close();
  });

  it('version 2 renumbers a version-1 log per room without losing or reordering anything', async () => {
    const file = path.join(await makeDataDir(), 'kith.sqlite');
    const db = new BetterSqlite3(file);
    // A database as version 1 left it: one global sequence, one room already compacted.
    db.exec(`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`);
    db.exec(MIGRATIONS[0]!.sql);
    db.prepare('INSERT INTO schema_migrations VALUES (1, ?, 0)').run(MIGRATIONS[0]!.name);
    const docs = { a: new Y.Doc(), b: new Y.Doc() };
    const insert = db.prepare('INSERT INTO doc_updates (room_id, data) VALUES (?, ?)');
    const updatesOf = (room: 'a' | 'b', n: number) => {
      const out: Uint8Array[] = [];
      const handler = (u: Uint8Array) => out.push(u);
      docs[room].on('update', handler);
      for (let i = 0; i < n; i++) docs[room].getMap('m').set(`${room}${i}`, i);
      docs[room].off('update', handler);
      return out;
    };
    // Room a: 3 updates folded into a snapshot at global seq 5, then 2 more; room b interleaved.
    const a1 = updatesOf('a', 3);
    const b1 = updatesOf('b', 2);
    for (const [room, u] of [['a', a1[0]], ['b', b1[0]], ['a', a1[1]], ['b', b1[1]], ['a', a1[2]]] as const) insert.run(room, u);
    db.prepare('INSERT INTO doc_snapshots VALUES (?, ?, 5)').run('a', Y.mergeUpdates(a1));
    db.prepare("DELETE FROM doc_updates WHERE room_id = 'a'").run();
    for (const u of updatesOf('a', 2)) insert.run('a', u);
    for (const u of updatesOf('b', 1)) insert.run('b', u);
    db.close();

    const storage = openSqliteStorage({ file });
    try {
      const a = await storage.docs.load('a');
      expect(a.snapshotSeq).toBe(1);
      expect(a.updates.map((u) => u.seq)).toEqual([2, 3]);
      const b = await storage.docs.load('b');
      expect(b.snapshot).toBeNull();
      expect(b.updates.map((u) => u.seq)).toEqual([1, 2, 3]);
      expect(await storage.docs.head('a')).toBe(3);
      expect(await storage.docs.head('b')).toBe(3);
      for (const [room, stored] of [['a', a], ['b', b]] as const) {
        const doc = new Y.Doc();
        Y.applyUpdate(doc, Y.mergeUpdates([...(stored.snapshot ? [stored.snapshot] : []), ...stored.updates.map((u) => u.data)]));
        expect(doc.getMap('m').toJSON()).toEqual(docs[room].getMap('m').toJSON());
      }
      expect(await storage.docs.append([{ roomId: 'a', data: updatesOf('a', 1)[0]! }])).toEqual([4]);
    } finally {
      await storage.close();
    }
  });
});
