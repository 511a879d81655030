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

  it('version 7 moves the log into a rowid table with every row as it was, read through its key index', async () => {
    const file = path.join(await makeDataDir(), 'kith.sqlite');
    const db = new BetterSqlite3(file);
    db.exec(`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`);
    for (const m of MIGRATIONS.filter((m) => m.version < 7)) {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations VALUES (?, ?, 0)').run(m.version, m.name);
    }
    const doc = new Y.Doc();
    const updates: Uint8Array[] = [];
    doc.on('update', (u: Uint8Array) => updates.push(u));
    doc.getText('t').insert(0, 'x'.repeat(300_000)); // a large update: overflow pages
    for (let i = 0; i < 5; i++) doc.getMap('m').set(`k${i}`, i);
    const insert = db.prepare('INSERT INTO doc_updates (room_id, seq, data) VALUES (?, ?, ?)');
    updates.forEach((u, i) => insert.run('big', i + 1, u));
    insert.run('other', 1, updates[1]!);
    db.prepare('INSERT INTO doc_heads VALUES (?, ?), (?, ?)').run('big', updates.length, 'other', 1);
    db.close();

    const storage = openSqliteStorage({ file });
    try {
      const big = await storage.docs.load('big');
      expect(big.updates.map((u) => u.seq)).toEqual(updates.map((_, i) => i + 1));
      big.updates.forEach((u, i) => expect(Buffer.compare(u.data, updates[i]!)).toBe(0));
      expect((await storage.docs.load('other')).updates.map((u) => u.seq)).toEqual([1]);
      expect(await storage.docs.append([{ roomId: 'big', data: updates[1]! }])).toEqual([updates.length + 1]);
    } finally {
      await storage.close();
    }
    const after = new BetterSqlite3(file, { readonly: true });
    try {
      const sql = after.prepare("SELECT sql FROM sqlite_master WHERE name = 'doc_updates'").pluck().get() as string;
      expect(sql).not.toMatch(/WITHOUT ROWID/i);
      const plan = after.prepare('EXPLAIN QUERY PLAN SELECT seq, data FROM doc_updates WHERE room_id = ? AND seq > ? ORDER BY seq').all('big', 0) as Array<{ detail: string }>;
      expect(plan.map((p) => p.detail).join(' ')).toMatch(/USING INDEX/);
    } finally {
      after.close();
    }
  });
});
