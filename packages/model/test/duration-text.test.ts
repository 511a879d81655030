import { describe, expect, it } from 'vitest';
import { formatDuration, Temporal } from '../src/time.js';

describe('formatDuration', () => {
  it('writes exactly what Temporal.Duration#toString writes, for every mix of units and signs', () => {
    const units = ['years', 'months', 'weeks', 'days', 'hours', 'minutes', 'seconds'] as const;
    const values = [0, 1, 7, 24, 59, 60, 90, 3_660, 1_000_000];
    let seed = 7;
    const next = () => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648);
    const cases: Temporal.DurationLike[] = [{ seconds: 0 }, { hours: 1 }, { days: 1 }, { hours: 0 }, { seconds: 0 }, { minutes: 90 }, { hours: 26 }];
    for (let i = 0; i < 2_000; i++) {
      const sign = next() % 4 === 0 ? -1 : 1;
      const like: Record<string, number> = {};
      for (const u of units) if (next() % 3 === 0) like[u] = sign * values[next() % values.length]!;
      if (Object.keys(like).length === 0) like.days = 0;
      cases.push(like);
    }
    for (const like of cases) {
      const d = Temporal.Duration.from(like);
      expect(formatDuration(d), JSON.stringify(like)).toBe(d.toString());
    }
  });

  it('leaves fractions of a second and huge values to Temporal', () => {
    for (const like of [{ milliseconds: 500 }, { seconds: 1, microseconds: 1 }, { nanoseconds: -3 }, { seconds: Number.MAX_SAFE_INTEGER }]) {
      const d = Temporal.Duration.from(like);
      expect(formatDuration(d)).toBe(d.toString());
    }
  });
});
