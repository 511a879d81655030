import { Worker } from 'node:worker_threads';
import type { Database } from 'better-sqlite3';
import type { StoredDoc } from '../storage.js';
import { toBytes } from '../rows.js';
import { postMoving } from '../../util/worker-run.js';
import { workerScript } from '../../util/worker-script.js';

/**
 * The read of a room's stored document (see DocStore.load): one read transaction, so the snapshot
 * and the log tail are consistent with each other. Shared by the main connection and the reader thread.
 */
export function loadTransaction(db: Database): (roomId: string, afterSeq: number) => StoredDoc {
  const snapshotRow = db.prepare('SELECT snapshot, snapshot_seq, state_vector FROM doc_snapshots WHERE room_id = ?');
  const log = db.prepare('SELECT seq, data FROM doc_updates WHERE room_id = ? AND seq > ? ORDER BY seq');
  const head = db.prepare('SELECT head FROM doc_heads WHERE room_id = ?').pluck();
  const tx = db.transaction((roomId: string, afterSeq: number): StoredDoc => {
    const snap = snapshotRow.get(roomId) as { snapshot: Buffer; snapshot_seq: number; state_vector: Buffer | null } | undefined;
    const snapshotSeq = snap?.snapshot_seq ?? 0;
    const from = Math.max(afterSeq, snapshotSeq);
    const updates = (log.all(roomId, from) as Array<{ seq: number; data: Buffer }>).map((r) => ({ seq: r.seq, data: toBytes(r.data) }));
    // A full load always includes the snapshot; a load after a position only if it is newer.
    const snapshot = snap && (afterSeq === 0 || snapshotSeq > afterSeq) ? toBytes(snap.snapshot) : null;
    const snapshotStateVector = snapshot && snap?.state_vector ? toBytes(snap.state_vector) : null;
    return { snapshot, snapshotSeq, snapshotStateVector, updates, head: (head.get(roomId) as number | undefined) ?? 0 };
  });
  return (roomId, afterSeq) => tx(roomId, afterSeq);
}

/** The arrays of a stored document, to move them across threads. */
export function bytesOf(stored: StoredDoc): Uint8Array[] {
  const out = stored.updates.map((u) => u.data);
  if (stored.snapshot) out.push(stored.snapshot);
  if (stored.snapshotStateVector) out.push(stored.snapshotStateVector);
  return out;
}

type Job = { resolve: (stored: StoredDoc) => void; reject: (err: Error) => void };

/**
 * Loads rooms on a reader thread with its own connection to the file (WAL: readers see every
 * committed write and never wait for the writer), and moves the bytes back without a copy. Reading
 * a 3 MB room held the event loop 22–25 ms on the main connection. Started at the first load,
 * stopped after 10 s without one, so an idle server holds no thread.
 */
export class ThreadedLoader {
  private worker: Worker | undefined;
  private readonly jobs = new Map<number, Job>();
  private nextId = 1;
  private idleTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly file: string) {}

  load(roomId: string): Promise<StoredDoc> {
    if (this.closed) return Promise.reject(new Error('storage is closed'));
    const worker = this.ensureWorker();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.jobs.set(id, { resolve, reject });
      worker.ref();
      worker.postMessage({ id, roomId });
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    const worker = this.worker;
    this.worker = undefined;
    this.fail(new Error('storage is closed'));
    worker?.removeAllListeners('exit').removeAllListeners('error').on('error', () => undefined);
    if (worker) await worker.terminate();
  }

  private ensureWorker(): Worker {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    if (this.worker) return this.worker;
    const worker = new Worker(workerScript(import.meta.url, './doc-load-worker.js', '../../../dist/storage/sqlite/doc-load-worker.js'), {
      workerData: { file: this.file },
    });
    worker.unref();
    worker.on('message', (msg: { id: number; stored?: StoredDoc; error?: string; code?: string }) => {
      const job = this.jobs.get(msg.id);
      if (!job) return;
      this.jobs.delete(msg.id);
      if (msg.stored) job.resolve(msg.stored);
      else job.reject(Object.assign(new Error(msg.error ?? 'load failed'), msg.code ? { code: msg.code } : {}));
      if (this.jobs.size === 0) {
        worker.unref();
        this.stopWhenIdle();
      }
    });
    const lost = (err: Error) => {
      if (this.worker === worker) this.worker = undefined;
      this.fail(err);
    };
    worker.on('error', lost);
    worker.on('exit', (code) => lost(new Error(`the SQLite reader thread exited with code ${code}`)));
    this.worker = worker;
    return worker;
  }

  private stopWhenIdle(): void {
    this.idleTimer = setTimeout(() => {
      const w = this.worker;
      this.worker = undefined;
      // Its exit is no failure: the loads meanwhile are a new thread's.
      w?.removeAllListeners('exit').removeAllListeners('error').on('error', () => undefined);
      void w?.terminate();
    }, 10_000);
    this.idleTimer.unref();
  }

  private fail(err: Error): void {
    for (const job of this.jobs.values()) job.reject(err);
    this.jobs.clear();
  }
}

/** Answers a reader thread's load (used by doc-load-worker.ts), moving the bytes. */
export function answerLoad(port: { postMessage(value: unknown, transfer?: readonly ArrayBuffer[]): void }, id: number, stored: StoredDoc): void {
  postMoving(port, { id, stored }, bytesOf(stored));
}
