/** Reader thread of ThreadedLoader: its own connection to the database file, loading rooms. */
import { parentPort, workerData } from 'node:worker_threads';
import BetterSqlite3 from 'better-sqlite3';
import type { JobReply } from '../../util/job-thread.js';
import { answerLoad, loadTransaction } from './doc-loader.js';

const db = new BetterSqlite3((workerData as { file: string }).file);
db.pragma('busy_timeout = 5000');
const load = loadTransaction(db);

parentPort?.on('message', (job: { id: number; roomId: string }) => {
  try {
    answerLoad(parentPort!, job.id, load(job.roomId, 0));
  } catch (err) {
    const reply: JobReply<never> = { id: job.id, error: (err as Error).message, code: (err as { code?: string }).code };
    parentPort?.postMessage(reply);
  }
});
