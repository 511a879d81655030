import * as Y from 'yjs';
import { ModelError } from '../src/index.js';
import type { ModelErrorCode, OpContext } from '../src/index.js';

export const T0 = '2026-03-01T12:00:00Z';

export function ctx(actor = 'alice', now = T0): OpContext {
  return { actor, now };
}

/** Two replicas of one room that start from the same state, like two devices after a sync. */
export function replicas(setup?: (doc: Y.Doc) => void): [Y.Doc, Y.Doc] {
  const a = new Y.Doc();
  setup?.(a);
  const b = new Y.Doc();
  Y.applyUpdate(b, Y.encodeStateAsUpdate(a));
  return [a, b];
}

/** Exchanges everything each side has, as two devices coming back online do. */
export function sync(a: Y.Doc, b: Y.Doc): void {
  const fromA = Y.encodeStateAsUpdate(a, Y.encodeStateVector(b));
  const fromB = Y.encodeStateAsUpdate(b, Y.encodeStateVector(a));
  Y.applyUpdate(b, fromA);
  Y.applyUpdate(a, fromB);
}

/** Runs fn and returns the ModelError it throws. */
export function modelError(fn: () => unknown): ModelError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ModelError) return err;
    throw err;
  }
  throw new Error('expected a ModelError');
}

export function expectCode(fn: () => unknown, code: ModelErrorCode): ModelError {
  const err = modelError(fn);
  if (err.code !== code) throw new Error(`expected ${code}, got ${err.code}: ${err.message}`);
  return err;
}

export const window = (from: string, to: string, timeZone = 'UTC') => ({ from, to, timeZone });
