/**
 * Work over many objects of a room in slices: each slice runs inside one read of the room (the
 * document does not change during it) for about SLICE_MS, then the event loop turns, so a REPORT
 * over thousands of objects never holds other requests up for long. A budget bounds the working
 * time one request may spend in all; past it the caller answers what it can without the rest
 * (time-range.ts) or refuses.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';

/** Working time per slice: long enough that reading the room between slices costs little. */
export const SLICE_MS = 20;

/** Working time one request may spend (slices only: not the waits between them). */
export class WorkBudget {
  private spentMs = 0;

  constructor(readonly ms: number) {}

  get exhausted(): boolean {
    return this.spentMs >= this.ms;
  }

  get spent(): number {
    return this.spentMs;
  }

  charge(ms: number): void {
    this.spentMs += ms;
  }
}

/**
 * Calls `each` on the items in order, in slices each run by `enter` (inside a read of the room),
 * the event loop turning between them; stops early once `budget` is spent. Resolves with how many
 * items were done. An item is never split: a slice ends after the item that takes it past SLICE_MS.
 */
export async function inSlices<T, C>(
  items: readonly T[],
  enter: (slice: (ctx: C) => void) => Promise<void>,
  each: (item: T, ctx: C) => void,
  budget?: WorkBudget,
): Promise<number> {
  let i = 0;
  while (i < items.length && !budget?.exhausted) {
    const from = i;
    await enter((ctx) => {
      const started = performance.now();
      try {
        do each(items[i++]!, ctx);
        while (i < items.length && performance.now() - started < SLICE_MS);
      } finally {
        budget?.charge(performance.now() - started);
      }
    });
    if (i === from) break; // `enter` ran no slice: nothing more would be done
    if (i < items.length) await nextTurn();
  }
  return i;
}
