import { describe, expect, it } from 'vitest';
import { formatDateOf, formatWall, formatWallOf, Temporal, wallAt, wallOf, zoneOffsetMs } from '../src/time.js';

// Zones with DST, half- and quarter-hour offsets, a 30-minute DST shift (Lord Howe), a date-line
// jump (Apia skipped 2011-12-30), local mean time before 1900, and no DST at all.
const ZONES = ['Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe', 'Asia/Kathmandu', 'Pacific/Chatham', 'Pacific/Apia', 'America/St_Johns', 'Asia/Tokyo', 'UTC', 'Africa/Casablanca', 'Europe/Amsterdam'];

const exact = (ms: number, zone: string): Temporal.PlainDateTime => Temporal.Instant.fromEpochMilliseconds(ms).toZonedDateTimeISO(zone).toPlainDateTime();

describe('wall clocks through remembered zone offsets', () => {
  it('give exactly what Temporal gives, at every transition ±1 ms and at random instants, asked in any order', () => {
    let seed = 11;
    const next = () => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648);
    for (const zone of ZONES) {
      const instants: number[] = [];
      // Every transition from 1880 to 2040, and the millisecond either side.
      let at = Temporal.Instant.from('1880-01-01T00:00:00Z').toZonedDateTimeISO(zone);
      for (let i = 0; i < 400; i++) {
        const t = at.getTimeZoneTransition('next');
        if (t === null || t.epochMilliseconds > Date.parse('2040-01-01T00:00:00Z')) break;
        instants.push(t.epochMilliseconds - 1, t.epochMilliseconds, t.epochMilliseconds + 1, t.epochMilliseconds + 1_799_999);
        at = t;
      }
      for (let i = 0; i < 500; i++) instants.push(Date.parse('1850-01-01T00:00:00Z') + (next() % 7_000_000) * 3_600_000 + (next() % 3_600_000));
      // Ask twice, the second time in reverse, so answers from the memo are checked too.
      for (const ms of [...instants, ...instants.reverse()]) {
        const want = exact(ms, zone);
        expect(wallAt(ms, zone).toString(), `${zone} ${new Date(ms).toISOString()}`).toBe(want.toString());
        const z = Temporal.Instant.fromEpochMilliseconds(ms).toZonedDateTimeISO(zone);
        // Whole minutes too, where formatWallOf skips building the wall clock.
        const minute = Temporal.Instant.fromEpochMilliseconds(ms - (((ms % 60_000) + 60_000) % 60_000)).toZonedDateTimeISO(zone);
        for (const x of [z, minute]) expect(formatWallOf(x)).toBe(formatWall(x.toPlainDateTime()));
        expect(formatDateOf(want)).toBe(want.toPlainDate().toString());
        expect(zoneOffsetMs(ms, zone)).toBe(Temporal.Instant.fromEpochMilliseconds(ms).toZonedDateTimeISO(zone).offsetNanoseconds / 1e6);
      }
    }
  });

  it('wallOf, formatWallOf and formatDateOf match Temporal for sub-millisecond instants, years outside 1000–9999 and the ends of the range', () => {
    const zdts = [
      Temporal.ZonedDateTime.from('2026-03-29T01:59:59.999999999+01:00[Europe/Berlin]'),
      Temporal.ZonedDateTime.from('2026-03-29T03:00:00.000000001+02:00[Europe/Berlin]'),
      Temporal.Instant.fromEpochMilliseconds(8.64e15).toZonedDateTimeISO('Pacific/Chatham'),
      Temporal.Instant.fromEpochMilliseconds(-8.64e15).toZonedDateTimeISO('America/New_York'),
      Temporal.Instant.fromEpochMilliseconds(-1).toZonedDateTimeISO('Asia/Kathmandu'),
    ];
    zdts.push(
      Temporal.ZonedDateTime.from('0999-12-31T23:59:00+00:00[UTC]'),
      Temporal.ZonedDateTime.from('+010000-01-01T00:00:00+00:00[UTC]'),
      Temporal.ZonedDateTime.from('-000001-06-01T10:00:00+00:00[UTC]'),
      Temporal.ZonedDateTime.from('1900-06-01T10:00:00[Europe/Amsterdam]'), // local mean time: +00:19:32
    );
    for (const z of zdts) {
      expect(wallOf(z).toString()).toBe(z.toPlainDateTime().toString());
      expect(formatWallOf(z)).toBe(formatWall(z.toPlainDateTime()));
      expect(formatDateOf(z.toPlainDateTime())).toBe(z.toPlainDate().toString());
    }
  });
});
