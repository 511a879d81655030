import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { InlineAppender, SizedAppender, ThreadedAppender, type CompactionWrite } from '../src/storage/sqlite/doc-appender.js';
import { openSqliteStorage, sqliteFileIn } from '../src/storage/sqlite/sqlite-storage.js';
import type { UpdateToAppend } from '../src/storage/storage.js';

const closers: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (closers.length) await closers.pop()!();
});

/** SQLite's two writers on one real file, as the server sets them up, with the inline appends counted. */
async function writers() {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kith-writer-'));
  const file = sqliteFileIn(dataDir);
  const storage = openSqliteStorage({ file, synchronous: 'normal' }); // makes the schema
  const db = new BetterSqlite3(file);
  db.pragma('journal_mode = WAL');
  db.pragma('busy_timeout = 5000');
  const inline = new InlineAppender(db);
  let inlineAppends = 0;
  const counted = {
    append: (updates: UpdateToAppend[]) => (inlineAppends++, inline.append(updates)),
    compact: (write: CompactionWrite) => inline.compact(write),
    close: () => inline.close(),
  };
  const threaded = new ThreadedAppender({ file, synchronous: 'NORMAL' });
  const sized = new SizedAppender(counted, threaded, 32);
  closers.push(async () => {
    await sized.close();
    db.close();
    await storage.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });
  return { sized, threaded, storage, inlineAppends: () => inlineAppends };
}

function edits(n: number): { doc: Y.Doc; updates: Uint8Array[] } {
  const doc = new Y.Doc();
  const updates: Uint8Array[] = [];
  doc.on('update', (u: Uint8Array) => updates.push(u));
  for (let i = 0; i < n; i++) doc.getMap('events').set(`e${i}`, { title: `event ${i}`, notes: 'x'.repeat(2000) });
  return { doc, updates };
}

describe('SQLite writer thread', () => {
  it('stores compactions; small appends given meanwhile queue behind it on the thread, not on the event loop', async () => {
    const { sized, threaded, storage, inlineAppends } = await writers();
    const { doc, updates } = edits(50);
    // Idle: single updates commit inline.
    for (const data of updates.slice(0, 30)) await sized.append([{ roomId: 'r', data }]);
    expect(inlineAppends()).toBe(30);
    const write: CompactionWrite = {
      roomId: 'r',
      snapshot: Y.mergeUpdates(updates.slice(0, 30)),
      expectedSnapshotSeq: 0,
      throughSeq: 30,
      stateVector: null,
    };
    const compacting = sized.compact(write);
    expect(threaded.busy).toBe(true);
    const queued = updates.slice(30, 40).map((data) => sized.append([{ roomId: 'r', data }]));
    expect(await compacting).toBe(true);
    expect((await Promise.all(queued)).flat()).toEqual([31, 32, 33, 34, 35, 36, 37, 38, 39, 40]);
    expect(inlineAppends()).toBe(30); // none of those ten ran inline
    expect(write.snapshot.byteLength).toBeGreaterThan(0); // copied to the thread, not moved
    // Idle again: inline again.
    expect(threaded.busy).toBe(false);
    for (const data of updates.slice(40)) await sized.append([{ roomId: 'r', data }]);
    expect(inlineAppends()).toBe(40);
    // A second compaction of the same stored state is refused on the thread too.
    expect(await sized.compact(write)).toBe(false);
    const stored = await storage.docs.load('r');
    expect({ snapshotSeq: stored.snapshotSeq, head: stored.head, logRows: stored.updates.length }).toEqual({ snapshotSeq: 30, head: 50, logRows: 20 });
    const loaded = new Y.Doc();
    for (const u of [stored.snapshot!, ...stored.updates.map((x) => x.data)]) Y.applyUpdate(loaded, u);
    expect(loaded.getMap('events').toJSON()).toEqual(doc.getMap('events').toJSON());
  });
});
