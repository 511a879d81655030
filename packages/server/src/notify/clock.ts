/**
 * Time as the notify module sees it: injectable, so tests move a clock instead of waiting (the DST
 * test runs a day of reminders in milliseconds).
 */
import { setImmediate as nextTurn } from 'node:timers/promises';

export interface Clock {
  now(): number;
  /** Calls `fn` after `ms` (of this clock's time); returns a cancel function. */
  after(ms: number, fn: () => void): () => void;
}

/** Real time. Long waits are cut into ≤ 1 h steps (setTimeout's limit is ~24.8 days). */
export const systemClock: Clock = {
  now: () => Date.now(),
  after(ms, fn) {
    const timer = setTimeout(fn, Math.max(0, Math.min(ms, 3_600_000)));
    timer.unref?.();
    return () => clearTimeout(timer);
  },
};

/**
 * Runs `work` every `ms` of the clock's time, each period counted from the end of the last run (a
 * slow run never overlaps the next); `work` must not reject. Returns stop.
 */
export function repeatEvery(clock: Clock, ms: number, work: () => Promise<void>): () => void {
  let cancel: (() => void) | undefined;
  let stopped = false;
  const arm = () => {
    if (!stopped) cancel = clock.after(ms, () => void work().then(arm));
  };
  arm();
  return () => {
    stopped = true;
    cancel?.();
  };
}

/** A clock that only moves when told (tests). `advance` runs what falls due, in time order. */
export class ManualClock implements Clock {
  private timers: Array<{ at: number; fn: () => void; seq: number }> = [];
  private seq = 0;

  constructor(private time: number) {}

  now(): number {
    return this.time;
  }

  after(ms: number, fn: () => void): () => void {
    const timer = { at: this.time + Math.max(0, ms), fn, seq: this.seq++ };
    this.timers.push(timer);
    return () => {
      this.timers = this.timers.filter((t) => t !== timer);
    };
  }

  /** Moves to `to` (epoch ms), firing due timers one by one, letting their async work settle. */
  async advanceTo(to: number, settle: () => Promise<unknown> = nextTurn): Promise<void> {
    for (;;) {
      const next = this.timers.filter((t) => t.at <= to).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!next) break;
      this.timers = this.timers.filter((t) => t !== next);
      this.time = Math.max(this.time, next.at);
      next.fn();
      await settle();
    }
    this.time = Math.max(this.time, to);
    await settle();
  }
}
