import { Worker } from 'node:worker_threads';
import type { Database } from 'better-sqlite3';
import type { UpdateToAppend } from '../storage.js';
import { workerScript } from '../../util/worker-script.js';
import type { JobReply } from '../../util/job-thread.js';

/**
 * The transaction that appends a batch of updates to the room logs: each room's next positions
 * (gap-free, from doc_heads), the rows, the new heads. IMMEDIATE, because it reads before it
 * writes and another connection may be writing: a deferred one could then fail at once with
 * SQLITE_BUSY instead of waiting its turn.
 */
export function appendTransaction(db: Database): (updates: UpdateToAppend[]) => number[] {
  const head = db.prepare('SELECT head FROM doc_heads WHERE room_id = ?').pluck();
  const insert = db.prepare('INSERT INTO doc_updates (room_id, seq, data) VALUES (?, ?, ?)');
  const setHead = db.prepare(
    'INSERT INTO doc_heads (room_id, head) VALUES (?, ?) ON CONFLICT (room_id) DO UPDATE SET head = excluded.head',
  );
  const tx = db.transaction((updates: UpdateToAppend[]): number[] => {
    const heads = new Map<string, number>();
    const seqs = updates.map((u) => {
      const seq = (heads.get(u.roomId) ?? ((head.get(u.roomId) as number | undefined) ?? 0)) + 1;
      heads.set(u.roomId, seq);
      insert.run(u.roomId, seq, u.data);
      return seq;
    });
    for (const [roomId, h] of heads) setHead.run(roomId, h);
    return seqs;
  });
  return (updates) => tx.immediate(updates);
}

/** A compaction's write: the room's new snapshot, replacing the log through `throughSeq`. */
export interface CompactionWrite {
  roomId: string;
  snapshot: Uint8Array;
  /** The snapshot position the compactor read; another compaction since then makes this one a no-op. */
  expectedSnapshotSeq: number;
  throughSeq: number;
  stateVector: Uint8Array | null;
}

/**
 * The transaction that stores a compaction (see DocStore.compact): true if it was applied, false
 * when another compaction got there first or the room was deleted meanwhile.
 */
export function compactTransaction(db: Database): (write: CompactionWrite) => boolean {
  const head = db.prepare('SELECT head FROM doc_heads WHERE room_id = ?').pluck();
  const snapshotSeq = db.prepare('SELECT snapshot_seq FROM doc_snapshots WHERE room_id = ?').pluck();
  const upsertSnapshot = db.prepare(
    `INSERT INTO doc_snapshots (room_id, snapshot, snapshot_seq, state_vector) VALUES (?, ?, ?, ?)
     ON CONFLICT (room_id) DO UPDATE SET snapshot = excluded.snapshot, snapshot_seq = excluded.snapshot_seq,
       state_vector = excluded.state_vector`,
  );
  const dropLog = db.prepare('DELETE FROM doc_updates WHERE room_id = ? AND seq <= ?');
  const tx = db.transaction((w: CompactionWrite): boolean => {
    // A room deleted since the compactor read it has no head: its snapshot would be left behind.
    if (((head.get(w.roomId) as number | undefined) ?? 0) < w.throughSeq) return false;
    const current = (snapshotSeq.get(w.roomId) as number | undefined) ?? 0;
    if (current !== w.expectedSnapshotSeq || w.throughSeq <= current) return false;
    upsertSnapshot.run(w.roomId, w.snapshot, w.throughSeq, w.stateVector);
    dropLog.run(w.roomId, w.throughSeq);
    return true;
  });
  return (write) => tx.immediate(write);
}

/**
 * A batch as it crosses to the writer thread: every update's bytes in one transferred buffer
 * (cloning thousands of small arrays one by one costs the event loop more than the commit does).
 */
export interface PackedBatch {
  roomIds: string[];
  /** Where each update ends in `bytes`. */
  ends: Uint32Array;
  bytes: ArrayBuffer;
}

function packBatch(updates: UpdateToAppend[]): PackedBatch {
  const ends = new Uint32Array(updates.length);
  let total = 0;
  updates.forEach((u, i) => (ends[i] = total += u.data.byteLength));
  const bytes = new Uint8Array(total);
  updates.forEach((u, i) => bytes.set(u.data, ends[i]! - u.data.byteLength));
  return { roomIds: updates.map((u) => u.roomId), ends, bytes: bytes.buffer };
}

export function unpackBatch(batch: PackedBatch): UpdateToAppend[] {
  return batch.roomIds.map((roomId, i) => {
    const start = i === 0 ? 0 : batch.ends[i - 1]!;
    return { roomId, data: Buffer.from(batch.bytes, start, batch.ends[i]! - start) };
  });
}

/** Where the document log is written: its appends and its compactions. */
export interface DocAppender {
  append(updates: UpdateToAppend[]): Promise<number[]>;
  /** Stores a compaction (see DocStore.compact). */
  compact(write: CompactionWrite): Promise<boolean>;
  close(): Promise<void>;
}

/** For an in-memory database, which no other connection can open: appends on the caller's thread. */
export class InlineAppender implements DocAppender {
  private readonly appendTx: (updates: UpdateToAppend[]) => number[];
  private readonly compactTx: (write: CompactionWrite) => boolean;

  constructor(db: Database) {
    this.appendTx = appendTransaction(db);
    this.compactTx = compactTransaction(db);
  }

  async append(updates: UpdateToAppend[]): Promise<number[]> {
    return this.appendTx(updates);
  }

  async compact(write: CompactionWrite): Promise<boolean> {
    return this.compactTx(write);
  }

  async close(): Promise<void> {}
}

export interface AppendWorkerOptions {
  file: string;
  synchronous: 'FULL' | 'NORMAL';
}

type Job = { resolve: (answer: never) => void; reject: (err: Error) => void };

/** What the writer thread is asked, and answers (`{ id, answer }` or `{ id, error, code }`). */
export type WriterJob = { id: number; batch: PackedBatch } | { id: number; compact: CompactionWrite } | { close: true };

/**
 * Appends and compactions on a writer thread with its own connection to the same file. A commit's
 * fsync then blocks that thread, not the event loop: sockets are read, updates applied and the
 * next batch gathered while the disk works (the batch is still released to clients only once
 * committed). Jobs run in the order they were given.
 */
export class ThreadedAppender implements DocAppender {
  private worker: Worker | undefined;
  private readonly jobs = new Map<number, Job>();
  private nextId = 1;
  private closed = false;
  /** Called when the last job in flight has finished. */
  private onIdle: (() => void) | undefined;

  constructor(private readonly options: AppendWorkerOptions) {
    // Started now rather than on the first write: the first edit then does not wait for a thread
    // to boot, and the thread's fixed memory is part of the server's start-up, not of its rooms.
    this.ensureWorker();
  }

  /** Whether a job is in flight: a write on another connection would now wait for the thread's lock. */
  get busy(): boolean {
    return this.jobs.size > 0;
  }

  append(updates: UpdateToAppend[]): Promise<number[]> {
    const batch = packBatch(updates);
    return this.run<number[]>((id) => this.worker!.postMessage({ id, batch }, [batch.bytes, batch.ends.buffer as ArrayBuffer]));
  }

  /**
   * Stores a compaction on the thread. The snapshot is copied, not moved (the caller may still
   * hold it): 0.5–5 ms for 6 MB, against the 28–82 ms its commit held the event loop.
   */
  compact(write: CompactionWrite): Promise<boolean> {
    return this.run<boolean>((id) => this.worker!.postMessage({ id, compact: write }));
  }

  private run<A>(post: (id: number) => void): Promise<A> {
    if (this.closed) return Promise.reject(new Error('storage is closed'));
    const worker = this.ensureWorker();
    const id = this.nextId++;
    return new Promise<A>((resolve, reject) => {
      this.jobs.set(id, { resolve: resolve as (answer: never) => void, reject });
      // While a commit is in flight the worker keeps the process alive; idle, it does not.
      worker.ref();
      try {
        post(id);
      } catch (err) {
        // Not sent (it could not be cloned): no answer will come, so the job must not stay in flight.
        this.settled(id, worker);
        reject(err as Error);
      }
    });
  }

  private settled(id: number, worker: Worker): void {
    this.jobs.delete(id);
    if (this.jobs.size === 0) {
      worker.unref();
      this.onIdle?.();
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const worker = this.worker;
    this.worker = undefined;
    if (!worker) return;
    // Listened for now: the thread may die while the commits below finish, and exit only once.
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    // Let commits in flight finish (their callers are waiting on them), then close the connection.
    if (this.jobs.size > 0) await new Promise<void>((resolve) => (this.onIdle = resolve));
    worker.postMessage({ close: true });
    const timer = setTimeout(() => void worker.terminate(), 5_000);
    await exited;
    clearTimeout(timer);
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(
      workerScript(import.meta.url, './doc-append-worker.js', '../../../dist/storage/sqlite/doc-append-worker.js'),
      { workerData: this.options },
    );
    worker.unref();
    worker.on('message', (reply: JobReply<never>) => {
      const job = this.jobs.get(reply.id);
      if (!job) return;
      this.settled(reply.id, worker);
      if ('answer' in reply) job.resolve(reply.answer);
      else job.reject(Object.assign(new Error(reply.error), reply.code ? { code: reply.code } : {}));
    });
    // A dying thread reports twice ('error', then 'exit'), and jobs given in between went to its
    // successor: only the first report fails jobs, and they are this thread's.
    let dead = false;
    const lost = (err: Error) => {
      if (dead) return;
      dead = true;
      this.fail(worker, err);
    };
    worker.on('error', lost);
    worker.on('exit', (code) => {
      if (code !== 0) lost(new Error(`the SQLite writer thread exited with code ${code}`));
    });
    this.worker = worker;
    return worker;
  }

  /** The writer died: what it was committing is unknown, so every caller is told it failed. */
  private fail(worker: Worker, err: Error): void {
    if (this.worker === worker) this.worker = undefined;
    for (const job of this.jobs.values()) job.reject(err);
    this.jobs.clear();
    this.onIdle?.();
  }
}

/**
 * Small batches are committed on the caller's connection, large ones and compactions on the writer
 * thread. Handing a batch to the thread costs the event loop a fixed price (packing, a message each
 * way, waking the thread) that only pays off when the commit itself is long; a handful of updates
 * commits in about the time the hand-off takes. Mixing the two connections keeps positions
 * gap-free because each append reads the room heads inside its IMMEDIATE transaction. While the
 * thread has work (a compaction storing a big snapshot, say), small batches queue behind it on the
 * thread too: on the caller's connection they would wait for its lock with the event loop held.
 */
export class SizedAppender implements DocAppender {
  constructor(
    private readonly inline: DocAppender,
    private readonly threaded: ThreadedAppender,
    private readonly threadedFrom: number,
  ) {}

  append(updates: UpdateToAppend[]): Promise<number[]> {
    const onThread = this.threaded.busy || updates.length >= this.threadedFrom;
    return onThread ? this.threaded.append(updates) : this.inline.append(updates);
  }

  /** On the thread: storing a big room's snapshot (6 MB) held the event loop 28–82 ms inline. */
  compact(write: CompactionWrite): Promise<boolean> {
    return this.threaded.compact(write);
  }

  async close(): Promise<void> {
    await Promise.all([this.inline.close(), this.threaded.close()]);
  }
}
