import { Worker } from 'node:worker_threads';
import type { Database } from 'better-sqlite3';
import type { UpdateToAppend } from '../storage.js';
import { workerScript } from '../../util/worker-script.js';

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

export interface DocAppender {
  append(updates: UpdateToAppend[]): Promise<number[]>;
  close(): Promise<void>;
}

/** For an in-memory database, which no other connection can open: appends on the caller's thread. */
export class InlineAppender implements DocAppender {
  private readonly tx: (updates: UpdateToAppend[]) => number[];

  constructor(db: Database) {
    this.tx = appendTransaction(db);
  }

  async append(updates: UpdateToAppend[]): Promise<number[]> {
    return this.tx(updates);
  }

  async close(): Promise<void> {}
}

export interface AppendWorkerOptions {
  file: string;
  synchronous: 'FULL' | 'NORMAL';
}

type Job = { resolve: (seqs: number[]) => void; reject: (err: Error) => void };

/**
 * Appends on a writer thread with its own connection to the same file. A commit's fsync then
 * blocks that thread, not the event loop: sockets are read, updates applied and the next batch
 * gathered while the disk works (the batch is still released to clients only once committed).
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

  append(updates: UpdateToAppend[]): Promise<number[]> {
    if (this.closed) return Promise.reject(new Error('storage is closed'));
    const worker = this.ensureWorker();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.jobs.set(id, { resolve, reject });
      // While a commit is in flight the worker keeps the process alive; idle, it does not.
      worker.ref();
      const batch = packBatch(updates);
      worker.postMessage({ id, batch }, [batch.bytes, batch.ends.buffer as ArrayBuffer]);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const worker = this.worker;
    this.worker = undefined;
    if (!worker) return;
    // Let commits in flight finish (their callers are waiting on them), then close the connection.
    if (this.jobs.size > 0) await new Promise<void>((resolve) => (this.onIdle = resolve));
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
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
    worker.on('message', (msg: { id: number; seqs?: number[]; error?: string; code?: string }) => {
      const job = this.jobs.get(msg.id);
      if (!job) return;
      this.jobs.delete(msg.id);
      if (msg.seqs) job.resolve(msg.seqs);
      else job.reject(Object.assign(new Error(msg.error ?? 'append failed'), msg.code ? { code: msg.code } : {}));
      if (this.jobs.size === 0) {
        worker.unref();
        this.onIdle?.();
      }
    });
    worker.on('error', (err) => this.fail(worker, err));
    worker.on('exit', (code) => {
      if (code !== 0) this.fail(worker, new Error(`the SQLite writer thread exited with code ${code}`));
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
 * Small batches are committed on the caller's connection, large ones on the writer thread.
 * Handing a batch to the thread costs the event loop a fixed price (packing, a message each way,
 * waking the thread) that only pays off when the commit itself is long; a handful of updates
 * commits in about the time the hand-off takes. Mixing the two connections keeps positions
 * gap-free because each append reads the room heads inside its IMMEDIATE transaction; the group
 * commit runs one append at a time, so the inline one never waits on the thread's lock.
 */
export class SizedAppender implements DocAppender {
  constructor(
    private readonly inline: DocAppender,
    private readonly threaded: DocAppender,
    private readonly threadedFrom: number,
  ) {}

  append(updates: UpdateToAppend[]): Promise<number[]> {
    return updates.length >= this.threadedFrom ? this.threaded.append(updates) : this.inline.append(updates);
  }

  async close(): Promise<void> {
    await Promise.all([this.inline.close(), this.threaded.close()]);
  }
}
