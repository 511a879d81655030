/**
 * Worker thread: one ICS import, off the event loop. It receives the file and the room's state
 * (a Yjs update), parses the file, applies the import to its own copy of the room in one
 * transaction and answers with that transaction's update and the summary. The main thread
 * applies the update to the room like any other server edit. One worker per import: it is
 * started with a memory cap and terminated at its deadline (see import-runner.ts).
 */
import { parentPort } from 'node:worker_threads';
import * as Y from 'yjs';
import { KithError } from '../errors/catalogue.js';
import { applyImport, parseIcs } from './ics-import.js';
import type { ImportJob, WorkerAnswer } from './import-runner.js';

parentPort?.once('message', (job: ImportJob) => {
  let answer: WorkerAnswer;
  const transfer: ArrayBuffer[] = [];
  try {
    const parsed = parseIcs(job.body);
    const doc = new Y.Doc({ gc: true });
    Y.applyUpdate(doc, job.state);
    let update: Uint8Array | null = null;
    doc.on('update', (u: Uint8Array) => {
      update = update === null ? u : Y.mergeUpdates([update, u]);
    });
    const result = applyImport(doc, parsed, job.actor);
    answer = { ok: true, result, update };
    if (update !== null) transfer.push((update as Uint8Array).buffer as ArrayBuffer);
  } catch (err) {
    answer =
      err instanceof KithError
        ? { ok: false, code: err.code, message: err.message }
        : { ok: false, code: 'INTERNAL', message: 'the import failed', detail: err instanceof Error ? err.stack ?? err.message : String(err) };
  }
  parentPort?.postMessage(answer, transfer);
});
