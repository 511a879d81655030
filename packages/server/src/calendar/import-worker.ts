/**
 * Worker thread: one ICS import, off the event loop. It receives the file and the room's stored
 * bytes (snapshot and log), parses the file, applies the import to its own copy of the room in a few
 * transactions (CHUNK_WEIGHT events each) and answers with their updates and the summary. The
 * main thread applies each update to the room like any other server edit. One worker per import: it is
 * started with a memory cap and terminated at its deadline (see import-runner.ts).
 */
import { parentPort } from 'node:worker_threads';
import * as Y from 'yjs';
import { KithError } from '../errors/catalogue.js';
import { applyAll } from '../sync/stored-document.js';
import { applyImport, parseIcs } from './ics-import.js';
import type { ImportJob, WorkerAnswer } from './import-runner.js';

parentPort?.once('message', (job: ImportJob) => {
  let answer: WorkerAnswer;
  const transfer: ArrayBuffer[] = [];
  try {
    const parsed = parseIcs(job.body);
    const doc = new Y.Doc({ gc: true });
    applyAll(doc, job.stored);
    const updates: Uint8Array[] = [];
    doc.on('update', (u: Uint8Array) => updates.push(u));
    const result = applyImport(doc, parsed, job.actor);
    answer = { ok: true, result, updates };
    for (const u of updates) transfer.push(u.buffer as ArrayBuffer);
  } catch (err) {
    answer =
      err instanceof KithError
        ? { ok: false, code: err.code, message: err.message }
        : { ok: false, code: 'INTERNAL', message: 'the import failed', detail: err instanceof Error ? err.stack ?? err.message : String(err) };
  }
  parentPort?.postMessage(answer, transfer);
});
