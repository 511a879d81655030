/**
 * Worker thread: one notification look at a big room (see room-reader.ts). It receives the room's
 * stored bytes (snapshot and log) and the query, builds its own copy of the room, whether or not
 * the server has it in memory, and answers with what `lookAt` finds. Started per read with a
 * memory cap and a deadline.
 */
import { parentPort } from 'node:worker_threads';
import * as Y from 'yjs';
import { applyAll } from '../sync/stored-document.js';
import { lookAt } from './look-at.js';
import type { RoomReadAnswer, RoomReadJob } from './room-reader.js';

parentPort?.once('message', (job: RoomReadJob) => {
  let answer: RoomReadAnswer;
  try {
    const doc = new Y.Doc({ gc: true });
    applyAll(doc, job.stored);
    answer = { ok: true, result: lookAt(doc, job.query) };
  } catch (err) {
    answer = { ok: false, detail: err instanceof Error ? (err.stack ?? err.message) : String(err) };
  }
  parentPort?.postMessage(answer);
});
