/** Time-zone and RFC 3339 helpers built on Intl (no tz database of our own). */

export interface WallTime {
  y: number;
  mo: number; // 1-12
  d: number;
  h: number;
  mi: number;
  s: number;
}

const DAY_MS = 86_400_000;
const formatters = new Map<string, Intl.DateTimeFormat>();
const validZones = new Map<string, boolean>();

function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(tz, f);
  }
  return f;
}

/** An IANA zone name that Intl knows (Google accepts IANA names only). */
export function isValidTimeZone(tz: unknown): tz is string {
  if (typeof tz !== 'string' || tz.length === 0 || tz.length > 64) return false;
  let ok = validZones.get(tz);
  if (ok === undefined) {
    try {
      formatter(tz);
      // Intl also accepts offsets such as "+02:00", which are not IANA names.
      ok = /^[A-Za-z_]+(\/[A-Za-z0-9_+-]+)*$/.test(tz);
    } catch {
      ok = false;
    }
    validZones.set(tz, ok);
  }
  return ok;
}

export function wallInZone(ms: number, tz: string): WallTime {
  const parts = formatter(tz).formatToParts(new Date(ms));
  const get = (type: string): number => Number(parts.find((p) => p.type === type)?.value ?? '0');
  return { y: get('year'), mo: get('month'), d: get('day'), h: get('hour'), mi: get('minute'), s: get('second') };
}

function wallAsUtc(w: WallTime): number {
  return Date.UTC(w.y, w.mo - 1, w.d, w.h, w.mi, w.s);
}

/** Offset of `tz` from UTC at instant `ms`, in ms (positive east of Greenwich). */
export function offsetAt(ms: number, tz: string): number {
  const truncated = Math.floor(ms / 1000) * 1000;
  return wallAsUtc(wallInZone(truncated, tz)) - truncated;
}

/**
 * The instant at which the wall clock in `tz` shows `w`. A wall time inside a DST gap maps to the
 * instant computed with the offset in force before the gap (so 02:30 in a spring-forward gap → 03:30),
 * as RFC 5545 prescribes.
 */
export function wallToUtc(w: WallTime, tz: string): number {
  const asUtc = wallAsUtc(w);
  const before = offsetAt(asUtc - DAY_MS / 2, tz);
  const candidate = asUtc - before;
  const after = offsetAt(candidate, tz);
  if (after === before) return candidate;
  const second = asUtc - after;
  return offsetAt(second, tz) === after ? second : candidate;
}

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

export function formatDate(y: number, mo: number, d: number): string {
  return `${pad(y, 4)}-${pad(mo)}-${pad(d)}`;
}

/** RFC 3339 with the offset of `tz` at that instant; `Z` when the offset is zero. */
export function formatRfc3339(ms: number, tz: string): string {
  const w = wallInZone(ms, tz);
  const off = offsetAt(ms, tz);
  const base = `${formatDate(w.y, w.mo, w.d)}T${pad(w.h)}:${pad(w.mi)}:${pad(w.s)}`;
  if (off === 0) return `${base}Z`;
  const sign = off > 0 ? '+' : '-';
  const abs = Math.abs(off) / 60_000;
  return `${base}${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

export interface ParsedDateTime {
  wall: WallTime;
  /** Offset in minutes, or null when the string carries none. */
  offsetMin: number | null;
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})?$/;

export function parseDateTime(s: unknown): ParsedDateTime | null {
  if (typeof s !== 'string') return null;
  const m = RFC3339.exec(s);
  if (!m) return null;
  const wall: WallTime = {
    y: Number(m[1]),
    mo: Number(m[2]),
    d: Number(m[3]),
    h: Number(m[4]),
    mi: Number(m[5]),
    s: Number(m[6]),
  };
  if (!validWall(wall)) return null;
  const z = m[8];
  let offsetMin: number | null = null;
  if (z) {
    if (z === 'Z' || z === 'z') offsetMin = 0;
    else {
      const sign = z[0] === '-' ? -1 : 1;
      const hh = Number(z.slice(1, 3));
      const mm = Number(z.slice(4, 6));
      if (hh > 23 || mm > 59) return null;
      offsetMin = sign * (hh * 60 + mm);
    }
  }
  return { wall, offsetMin };
}

/** Parse an RFC 3339 timestamp that must carry an offset (list `timeMin`/`timeMax`/`updatedMin`). */
export function parseInstant(s: unknown): number | null {
  const p = parseDateTime(s);
  if (!p || p.offsetMin === null) return null;
  return wallAsUtc(p.wall) - p.offsetMin * 60_000;
}

export function instantOf(p: ParsedDateTime, tz: string | undefined): number | null {
  if (p.offsetMin !== null) return wallAsUtc(p.wall) - p.offsetMin * 60_000;
  if (!tz) return null;
  return wallToUtc(p.wall, tz);
}

function validWall(w: WallTime): boolean {
  if (w.mo < 1 || w.mo > 12 || w.d < 1 || w.d > daysInMonth(w.y, w.mo)) return false;
  return w.h <= 23 && w.mi <= 59 && w.s <= 60;
}

export interface CivilDate {
  y: number;
  mo: number;
  d: number;
}

export function parseDate(s: unknown): CivilDate | null {
  if (typeof s !== 'string') return null;
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (!m) return null;
  const date = { y: Number(m[1]), mo: Number(m[2]), d: Number(m[3]) };
  if (date.mo < 1 || date.mo > 12 || date.d < 1 || date.d > daysInMonth(date.y, date.mo)) return null;
  return date;
}

export function daysInMonth(y: number, mo: number): number {
  return new Date(Date.UTC(y, mo, 0)).getUTCDate();
}

/** Days since 1970-01-01 for a civil date. */
export function dayNumber(date: CivilDate): number {
  return Math.round(Date.UTC(date.y, date.mo - 1, date.d) / DAY_MS);
}

export function fromDayNumber(n: number): CivilDate {
  const dt = new Date(n * DAY_MS);
  return { y: dt.getUTCFullYear(), mo: dt.getUTCMonth() + 1, d: dt.getUTCDate() };
}

/** 0 = Sunday … 6 = Saturday. */
export function weekday(date: CivilDate): number {
  return new Date(Date.UTC(date.y, date.mo - 1, date.d)).getUTCDay();
}

export function dateString(date: CivilDate): string {
  return formatDate(date.y, date.mo, date.d);
}

/** Midnight of a civil date in `tz`. */
export function startOfDate(date: CivilDate, tz: string): number {
  return wallToUtc({ ...date, h: 0, mi: 0, s: 0 }, tz);
}
