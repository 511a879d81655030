/**
 * Worker thread: one room's ICS feed, off the event loop (a 5,000-event room's takes about 2 s of
 * CPU). It receives the room's stored bytes (snapshot and log) and the feed's name, builds its own
 * copy of the room and answers with the text and what it left out, and with the document as JSON
 * when asked (the account export). Started per build with a memory cap and a deadline (see
 * feed-builder.ts).
 */
import { parentPort } from 'node:worker_threads';
import * as Y from 'yjs';
import type { FeedAnswer, FeedJob } from './feed-builder.js';
import { applyAll } from '../sync/stored-document.js';
import { documentJson } from '../sync/document-json.js';
import { buildIcs } from './ics-export.js';

parentPort?.once('message', (job: FeedJob) => {
  let answer: FeedAnswer;
  try {
    const doc = new Y.Doc({ gc: true });
    applyAll(doc, job.stored);
    const skipped: Array<{ eventId: string; reason: string }> = [];
    const ics = buildIcs(doc, {
      roomId: job.roomId,
      name: job.name,
      defaultTz: doc.getMap('room').get('defaultTz'),
      onSkip: (eventId, reason) => skipped.push({ eventId: eventId.slice(0, 200), reason }),
    });
    answer = { ok: true, ics, skipped: { sample: skipped.slice(0, 20), count: skipped.length }, ...(job.withDocument ? { document: documentJson(doc) } : {}) };
  } catch (err) {
    answer = { ok: false, detail: err instanceof Error ? (err.stack ?? err.message) : String(err) };
  }
  parentPort?.postMessage(answer);
});
