/**
 * Worker thread: merges a room's snapshot and log into one snapshot, off the event loop.
 * Loading into a Y.Doc (rather than Y.mergeUpdates) lets garbage collection drop deleted content
 * and is far faster on long logs; encodeStateAsUpdate keeps pending structs and deletions, so
 * content is unchanged.
 */
import { parentPort } from 'node:worker_threads';
import * as Y from 'yjs';
import type { JobReply } from '../util/job-thread.js';
import type { MergedSnapshot } from './compaction.js';

parentPort?.on('message', (job: { id: number; updates: Uint8Array[] }) => {
  let reply: JobReply<MergedSnapshot>;
  try {
    const doc = new Y.Doc({ gc: true });
    // One transaction over every update: a single Y.mergeUpdates of a long log takes minutes.
    doc.transact(() => {
      for (const u of job.updates) Y.applyUpdate(doc, u);
    });
    const snapshot = Y.encodeStateAsUpdate(doc);
    // Stored with the snapshot: it lets a room be served from these bytes without building a document.
    const stateVector = Y.encodeStateVector(doc);
    doc.destroy();
    reply = { id: job.id, answer: { snapshot, stateVector } };
    parentPort?.postMessage(reply, [snapshot.buffer as ArrayBuffer]);
  } catch (err) {
    reply = { id: job.id, error: (err as Error).message };
    parentPort?.postMessage(reply);
  }
});
