/**
 * Test plumbing for multi-replica runs: a seeded PRNG, replicas with fixed Yjs client ids (so "who
 * wins" a same-field conflict is reproducible), the ways two devices exchange updates, and the
 * model-level view that replicas must agree on.
 */
import * as Y from 'yjs';
import { listEvents, occurrencesBetween } from '../src/index.js';
import type { ViewWindow } from '../src/index.js';

/** mulberry32: a small, fast, seedable 32-bit PRNG; the same seed always gives the same stream. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class Rng {
  private readonly next: () => number;

  constructor(seed: number) {
    this.next = mulberry32(seed);
  }

  float(): number {
    return this.next();
  }

  /** A whole number in [lo, hi], both inclusive. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(list: readonly T[]): T {
    if (list.length === 0) throw new Error('pick from an empty list');
    return list[Math.floor(this.next() * list.length)] as T;
  }

  /** Picks a key of `weights` with probability proportional to its weight. */
  weighted<K extends string>(weights: Readonly<Record<K, number>>): K {
    const entries = Object.entries(weights) as Array<[K, number]>;
    let r = this.next() * entries.reduce((s, [, w]) => s + w, 0);
    for (const [k, w] of entries) {
      r -= w;
      if (r < 0) return k;
    }
    return (entries.at(-1) as [K, number])[0];
  }

  /** A shuffled copy (Fisher–Yates). */
  shuffle<T>(list: readonly T[]): T[] {
    const out = [...list];
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [out[i], out[j]] = [out[j] as T, out[i] as T];
    }
    return out;
  }

  /** A random subset (each item kept with probability p), in the original order. */
  subset<T>(list: readonly T[], p = 0.5): T[] {
    return list.filter(() => this.next() < p);
  }
}

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
