/**
 * Worker thread: one reminder look at a room that is not in memory (see reminder-reader.ts). It
 * receives the room's stored bytes (snapshot and log), builds its own copy of the room and answers
 * with the reminders remindersOf finds. Started per look with a memory cap and a deadline.
 */
import { parentPort } from 'node:worker_threads';
import * as Y from 'yjs';
import { applyAll } from '../sync/stored-document.js';
import type { LookAnswer, LookJob } from './reminder-reader.js';
import { remindersOf } from './reminders.js';

parentPort?.once('message', (job: LookJob) => {
  let answer: LookAnswer;
  try {
    const doc = new Y.Doc({ gc: true });
    applyAll(doc, job.stored);
    answer = { ok: true, reminders: remindersOf(doc, job.members, job.startsAfter, job.dueBy) };
  } catch (err) {
    answer = { ok: false, detail: err instanceof Error ? (err.stack ?? err.message) : String(err) };
  }
  parentPort?.postMessage(answer);
});
