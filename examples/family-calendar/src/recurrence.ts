/** The "Repeat" part of the event form: RRULE strings (without DTSTART) to form fields and back. */

export type Freq = 'DAILY' | 'WEEKLY' | 'MONTHLY' | 'YEARLY';
export const WEEKDAYS = ['MO', 'TU', 'WE', 'TH', 'FR', 'SA', 'SU'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

export interface RepeatFields {
  freq: Freq | 'none';
  interval: number;
  /** Weekly only; empty means "the start's weekday". */
  byDay: Weekday[];
  ends: 'never' | 'until' | 'count';
  /** "YYYY-MM-DD", inclusive. */
  until: string;
  count: number;
  /** A rule this form cannot show faithfully: kept as it is unless the user changes the fields. */
  custom: string | null;
}

export const noRepeat = (): RepeatFields => ({ freq: 'none', interval: 1, byDay: [], ends: 'never', until: '', count: 10, custom: null });

/** Reads a rule into form fields; parts the form has no field for make it `custom`. */
export function fromRule(rule: string | null): RepeatFields {
  const f = noRepeat();
  if (!rule) return f;
  const parts = new Map(rule.split(';').filter(Boolean).map((p) => p.split('=') as [string, string]));
  const known = new Set(['FREQ', 'INTERVAL', 'BYDAY', 'UNTIL', 'COUNT', 'WKST']);
  const freq = parts.get('FREQ');
  if (freq === 'DAILY' || freq === 'WEEKLY' || freq === 'MONTHLY' || freq === 'YEARLY') f.freq = freq;
  f.interval = Number(parts.get('INTERVAL') ?? 1) || 1;
  const byDay = parts.get('BYDAY');
  if (byDay) {
    const days = byDay.split(',');
    if (f.freq === 'WEEKLY' && days.every((d) => (WEEKDAYS as readonly string[]).includes(d))) f.byDay = days as Weekday[];
    else f.custom = rule;
  }
  const until = parts.get('UNTIL');
  if (until) {
    f.ends = 'until';
    f.until = `${until.slice(0, 4)}-${until.slice(4, 6)}-${until.slice(6, 8)}`;
    if (until.length > 8) f.custom = rule; // a time of day the form cannot show
  }
  const count = parts.get('COUNT');
  if (count) {
    f.ends = 'count';
    f.count = Number(count);
  }
  if ([...parts.keys()].some((k) => !known.has(k)) || f.freq === 'none') f.custom = rule;
  return f;
}

/** The rule for form fields (null: does not repeat). */
export function toRule(f: RepeatFields): string | null {
  if (f.freq === 'none') return null;
  const parts = [`FREQ=${f.freq}`];
  if (f.interval > 1) parts.push(`INTERVAL=${Math.floor(f.interval)}`);
  if (f.freq === 'WEEKLY' && f.byDay.length) parts.push(`BYDAY=${WEEKDAYS.filter((d) => f.byDay.includes(d)).join(',')}`);
  if (f.ends === 'until' && f.until) parts.push(`UNTIL=${f.until.replaceAll('-', '')}`);
  if (f.ends === 'count') parts.push(`COUNT=${Math.max(1, Math.floor(f.count))}`);
  return parts.join(';');
}

/** The weekday of a date "YYYY-MM-DD". */
export function weekdayOf(date: string): Weekday | undefined {
  const d = new Date(`${date}T12:00:00Z`);
  if (Number.isNaN(d.getTime())) return undefined;
  return WEEKDAYS[(d.getUTCDay() + 6) % 7];
}

/** "Mon", "lun.", … as the browser's locale writes weekdays (1 Jan 2024 was a Monday). */
export const weekdayName = (d: Weekday): string =>
  new Date(Date.UTC(2024, 0, 1 + WEEKDAYS.indexOf(d))).toLocaleDateString(undefined, { weekday: 'short', timeZone: 'UTC' });

/** "Every 2 weeks on Tue, Thu, until 2026-06-30": for the event details. */
export function describeRule(rule: string | null): string {
  if (!rule) return 'Does not repeat';
  const f = fromRule(rule);
  if (f.freq === 'none') return rule;
  const unit = { DAILY: 'day', WEEKLY: 'week', MONTHLY: 'month', YEARLY: 'year' }[f.freq];
  let text = f.interval > 1 ? `Every ${f.interval} ${unit}s` : { DAILY: 'Daily', WEEKLY: 'Weekly', MONTHLY: 'Monthly', YEARLY: 'Yearly' }[f.freq];
  if (f.freq === 'WEEKLY' && f.byDay.length) text += ` on ${f.byDay.map(weekdayName).join(', ')}`;
  if (f.ends === 'until' && f.until) text += `, until ${f.until}`;
  if (f.ends === 'count') text += `, ${f.count} times`;
  return text;
}
