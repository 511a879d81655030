/** Pure statistics: percentiles and latency summaries. No I/O. */

/** A growable list of numbers (latencies in ms) without per-sample allocation. */
export class Samples {
  private buf: Float64Array;
  length = 0;

  constructor(capacity = 1024) {
    this.buf = new Float64Array(Math.max(16, capacity));
  }

  push(v: number): void {
    if (this.length === this.buf.length) {
      const next = new Float64Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.length++] = v;
  }

  /** A sorted copy of the samples. */
  sorted(): Float64Array {
    return this.buf.slice(0, this.length).sort();
  }

  values(): Float64Array {
    return this.buf.slice(0, this.length);
  }
}

/**
 * Nearest-rank percentile of an ascending array: the smallest value such that at least p% of the
 * samples are at or below it. p in [0, 100]; p = 0 gives the minimum, p = 100 the maximum.
 * Returns NaN for an empty array.
 */
export function percentile(sortedAsc: ArrayLike<number>, p: number): number {
  const n = sortedAsc.length;
  if (n === 0) return NaN;
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be within [0, 100], got ${p}`);
  if (p === 0) return sortedAsc[0]!;
  const rank = Math.ceil((p / 100) * n);
  return sortedAsc[Math.min(n, Math.max(1, rank)) - 1]!;
}

export interface LatencySummary {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

/** The percentiles every latency table shows (the SVG chart plots these too). */
export const CHART_PERCENTILES = [50, 75, 90, 95, 99, 99.9, 100] as const;

export function summarize(values: ArrayLike<number> | Samples): LatencySummary & { curve: number[] } {
  const sorted = values instanceof Samples ? values.sorted() : Float64Array.from(values as ArrayLike<number>).sort();
  let sum = 0;
  for (let i = 0; i < sorted.length; i++) sum += sorted[i]!;
  return {
    count: sorted.length,
    mean: sorted.length ? sum / sorted.length : NaN,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    p999: percentile(sorted, 99.9),
    max: percentile(sorted, 100),
    curve: CHART_PERCENTILES.map((p) => percentile(sorted, p)),
  };
}

export function median(values: number[]): number {
  const s = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** a / b, or NaN when either is missing or b is 0. */
export function ratio(a: number | undefined, b: number | undefined): number {
  if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) return NaN;
  return a / b;
}
