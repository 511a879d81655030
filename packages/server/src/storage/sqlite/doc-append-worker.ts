/** Writer thread of ThreadedAppender: its own connection to the database file, appending batches and storing compactions. */
import { parentPort, workerData } from 'node:worker_threads';
import BetterSqlite3 from 'better-sqlite3';
import { appendTransaction, compactTransaction, unpackBatch, type AppendWorkerOptions, type WriterJob } from './doc-appender.js';

const options = workerData as AppendWorkerOptions;
const db = new BetterSqlite3(options.file);
// Per-connection settings, the same as the main connection's (which created the schema).
db.pragma('journal_mode = WAL');
db.pragma(`synchronous = ${options.synchronous}`);
db.pragma('foreign_keys = ON');
db.pragma('busy_timeout = 5000');
const append = appendTransaction(db);
const compact = compactTransaction(db);

parentPort?.on('message', (job: WriterJob) => {
  if ('close' in job) {
    db.close();
    parentPort?.close();
    return;
  }
  try {
    const answer = 'batch' in job ? append(unpackBatch(job.batch)) : compact(job.compact);
    parentPort?.postMessage({ id: job.id, answer });
  } catch (err) {
    // The SQLite code (e.g. SQLITE_FULL) crosses too: the caller reports it.
    parentPort?.postMessage({ id: job.id, error: (err as Error).message, code: (err as { code?: string }).code });
  }
});
