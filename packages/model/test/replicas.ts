/**
 * Test plumbing for multi-replica runs: replicas with fixed Yjs client ids (so "who wins" a
 * same-field conflict is reproducible), the ways two devices exchange updates, and the model-level
 * view that replicas must agree on. The seeded PRNG is @kith/test-support's.
 */
import * as Y from 'yjs';
import { listEvents, occurrencesBetween } from '../src/index.js';
import type { ViewWindow } from '../src/index.js';

/** A Y.Doc with a fixed client id; set before any edit, so conflict winners do not depend on chance. */
export function replica(clientID: number): Y.Doc {
  const doc = new Y.Doc({ gc: true });
  doc.clientID = clientID;
  return doc;
}

/** Sends `to` what `from` has and `to` lacks: one direction of a sync step 2. */
export function push(from: Y.Doc, to: Y.Doc): void {
  Y.applyUpdate(to, Y.encodeStateAsUpdate(from, Y.encodeStateVector(to)));
}

/** Both directions, as two devices coming back online do. Diffs are computed before either is applied. */
export function exchange(a: Y.Doc, b: Y.Doc): void {
  const toB = Y.encodeStateAsUpdate(a, Y.encodeStateVector(b));
  const toA = Y.encodeStateAsUpdate(b, Y.encodeStateVector(a));
  Y.applyUpdate(b, toB);
  Y.applyUpdate(a, toA);
}

/** Two replicas of one room with client ids `ids`, both starting from the state `setup` writes. */
export function pair(ids: readonly [number, number], setup?: (doc: Y.Doc) => void): [Y.Doc, Y.Doc] {
  const a = replica(ids[0]);
  // The shared starting state is written by a third client, so neither side "owns" it.
  const origin = replica(ids[0] + ids[1] + 1_000);
  setup?.(origin);
  const start = Y.encodeStateAsUpdate(origin);
  Y.applyUpdate(a, start);
  const b = replica(ids[1]);
  Y.applyUpdate(b, start);
  return [a, b];
}

/** Whether Yjs still holds updates it could not integrate yet (their dependencies are missing). */
export function hasPending(doc: Y.Doc): boolean {
  return doc.store.pendingStructs !== null || doc.store.pendingDs !== null;
}

const hex = (bytes: Uint8Array): string => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');

/** The model-level view replicas must agree on: every event (trash included) and the occurrences of a window. */
export function modelView(doc: Y.Doc, window: ViewWindow): { events: string; occurrences: string } {
  return {
    events: JSON.stringify(listEvents(doc, { includeDeleted: true })),
    occurrences: JSON.stringify(occurrencesBetween(doc, window)),
  };
}

/**
 * Throws unless every replica has integrated everything, holds the same Yjs state (state vector and
 * delete set) and shows the same model-level view. Returns the common view.
 */
export function expectConverged(docs: readonly Y.Doc[], window: ViewWindow): { events: string; occurrences: string } {
  const [first, ...rest] = docs;
  if (!first) throw new Error('no replicas');
  docs.forEach((d, i) => {
    if (hasPending(d)) throw new Error(`replica ${i} still holds updates it could not integrate`);
  });
  const sv = hex(Y.encodeStateVector(first));
  const snap = Y.snapshot(first);
  const view = modelView(first, window);
  rest.forEach((d, k) => {
    const i = k + 1;
    if (hex(Y.encodeStateVector(d)) !== sv) throw new Error(`replica ${i} has a different state vector than replica 0`);
    if (!Y.equalSnapshots(Y.snapshot(d), snap)) throw new Error(`replica ${i} has a different delete set than replica 0`);
    const v = modelView(d, window);
    if (v.events !== view.events) throw new Error(`replica ${i} lists different events than replica 0:\n${firstDifference(view.events, v.events)}`);
    if (v.occurrences !== view.occurrences) {
      throw new Error(`replica ${i} expands different occurrences than replica 0:\n${firstDifference(view.occurrences, v.occurrences)}`);
    }
  });
  return view;
}

function firstDifference(a: string, b: string): string {
  let i = 0;
  while (i < a.length && a[i] === b[i]) i++;
  const from = Math.max(0, i - 160);
  return `  replica 0: …${a.slice(from, i + 160)}…\n  other:     …${b.slice(from, i + 160)}…`;
}
