/**
 * How long after a room changed to read it again: `settleMs`, so that a burst of edits is read
 * once, and no sooner than `busyLookMs` after the previous read, so that a room edited without
 * pause (a busy shared room, an import, a mirror) is read once per `busyLookMs`, not once per
 * settle: every read walks the whole room.
 */
export function settleDelay(now: number, lastLookAt: number | undefined, settleMs: number, busyLookMs: number): number {
  return lastLookAt === undefined ? settleMs : Math.max(settleMs, lastLookAt + busyLookMs - now);
}
