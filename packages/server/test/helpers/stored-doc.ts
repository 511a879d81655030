import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import * as Y from 'yjs';

/** Reads a room's document straight from the SQLite file (a second reader, as WAL allows). */
export function readStoredDoc(dataDir: string, roomId: string): Y.Doc {
  const db = new BetterSqlite3(path.join(dataDir, 'kith.sqlite'), { readonly: true, fileMustExist: true });
  try {
    const snap = db.prepare('SELECT snapshot, snapshot_seq FROM doc_snapshots WHERE room_id = ?').get(roomId) as
      | { snapshot: Buffer; snapshot_seq: number }
      | undefined;
    const rows = db
      .prepare('SELECT data FROM doc_updates WHERE room_id = ? AND seq > ? ORDER BY seq')
      .all(roomId, snap?.snapshot_seq ?? 0) as Array<{ data: Buffer }>;
    const doc = new Y.Doc();
    const updates = rows.map((r) => new Uint8Array(r.data));
    if (snap) updates.unshift(new Uint8Array(snap.snapshot));
    if (updates.length) Y.applyUpdate(doc, Y.mergeUpdates(updates));
    return doc;
  } finally {
    db.close();
  }
}

export function storedRowCounts(dataDir: string, roomId: string): { log: number; snapshots: number } {
  const db = new BetterSqlite3(path.join(dataDir, 'kith.sqlite'), { readonly: true, fileMustExist: true });
  try {
    const log = db.prepare('SELECT count(*) FROM doc_updates WHERE room_id = ?').pluck().get(roomId) as number;
    const snapshots = db.prepare('SELECT count(*) FROM doc_snapshots WHERE room_id = ?').pluck().get(roomId) as number;
    return { log, snapshots };
  } finally {
    db.close();
  }
}
