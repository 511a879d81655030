import type { Clock } from './clock.js';

/**
 * When each room next needs a look: one entry per room, a min-heap over them (stale heap entries are
 * skipped when popped), so a tick costs O(log n) per due room and never walks every room.
 */
export class DueIndex {
  private readonly next = new Map<string, number>();
  private heap: Array<{ at: number; roomId: string }> = [];

  get size(): number {
    return this.next.size;
  }

  /** When the room is next due, if it is indexed. */
  get(roomId: string): number | undefined {
    return this.next.get(roomId);
  }

  set(roomId: string, at: number): void {
    if (this.next.get(roomId) === at) return;
    this.next.set(roomId, at);
    this.push({ at, roomId });
  }

  delete(roomId: string): void {
    this.next.delete(roomId);
  }

  /** The earliest time any room needs a look, or null. */
  peek(): number | null {
    this.dropStale();
    return this.heap[0]?.at ?? null;
  }

  /** Removes and returns the rooms due at or before `now`. */
  popDue(now: number): string[] {
    const out: string[] = [];
    for (;;) {
      this.dropStale();
      const top = this.heap[0];
      if (!top || top.at > now) return out;
      this.pop();
      this.next.delete(top.roomId);
      out.push(top.roomId);
    }
  }

  private dropStale(): void {
    while (this.heap.length > 0 && this.next.get(this.heap[0]!.roomId) !== this.heap[0]!.at) this.pop();
  }

  private push(entry: { at: number; roomId: string }): void {
    const h = this.heap;
    h.push(entry);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p]!.at <= h[i]!.at) break;
      [h[p], h[i]] = [h[i]!, h[p]!];
      i = p;
    }
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop()!;
    if (h.length === 0) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && h[l]!.at < h[m]!.at) m = l;
      if (r < h.length && h[r]!.at < h[m]!.at) m = r;
      if (m === i) return;
      [h[m], h[i]] = [h[i]!, h[m]!];
      i = m;
    }
  }
}

/**
 * One timer for the earliest entry of a DueIndex, re-armed after every change to it: however many
 * entries the index holds, only the next due time holds a timer.
 */
export class DueTimer {
  private cancel: (() => void) | null = null;
  private at: number | null = null;
  private stopped = false;

  constructor(
    private readonly index: DueIndex,
    private readonly clock: Clock,
    private readonly onDue: () => void,
  ) {}

  arm(): void {
    if (this.stopped) return;
    const at = this.index.peek();
    if (at === this.at) return;
    this.cancel?.();
    this.cancel = null;
    this.at = at;
    if (at === null) return;
    this.cancel = this.clock.after(at - this.clock.now(), () => {
      this.at = null;
      this.cancel = null;
      this.onDue();
    });
  }

  stop(): void {
    this.stopped = true;
    this.cancel?.();
    this.cancel = null;
  }
}
