/**
 * Time zones for people: current canonical IANA names (browsers' lists still carry some old
 * spellings, e.g. Asia/Calcutta), UTC, the current offset, and short names for labels.
 */
import { Temporal } from 'temporal-polyfill';

/** Old names (IANA "backward" links) that browsers still return, and the names used today. */
const LEGACY: Record<string, string> = {
  'Africa/Asmera': 'Africa/Asmara',
  'America/Buenos_Aires': 'America/Argentina/Buenos_Aires',
  'America/Catamarca': 'America/Argentina/Catamarca',
  'America/Coral_Harbour': 'America/Atikokan',
  'America/Cordoba': 'America/Argentina/Cordoba',
  'America/Fort_Wayne': 'America/Indiana/Indianapolis',
  'America/Godthab': 'America/Nuuk',
  'America/Indianapolis': 'America/Indiana/Indianapolis',
  'America/Jujuy': 'America/Argentina/Jujuy',
  'America/Louisville': 'America/Kentucky/Louisville',
  'America/Mendoza': 'America/Argentina/Mendoza',
  'Asia/Calcutta': 'Asia/Kolkata',
  'Asia/Choibalsan': 'Asia/Ulaanbaatar',
  'Asia/Dacca': 'Asia/Dhaka',
  'Asia/Katmandu': 'Asia/Kathmandu',
  'Asia/Macao': 'Asia/Macau',
  'Asia/Rangoon': 'Asia/Yangon',
  'Asia/Saigon': 'Asia/Ho_Chi_Minh',
  'Asia/Thimbu': 'Asia/Thimphu',
  'Asia/Ujung_Pandang': 'Asia/Makassar',
  'Asia/Ulan_Bator': 'Asia/Ulaanbaatar',
  'Atlantic/Faeroe': 'Atlantic/Faroe',
  'Australia/Currie': 'Australia/Hobart',
  'Europe/Kiev': 'Europe/Kyiv',
  'Europe/Uzhgorod': 'Europe/Kyiv',
  'Europe/Zaporozhye': 'Europe/Kyiv',
  'Pacific/Enderbury': 'Pacific/Kanton',
  'Pacific/Ponape': 'Pacific/Pohnpei',
  'Pacific/Truk': 'Pacific/Chuuk',
  'Etc/UTC': 'UTC',
  'Etc/GMT': 'UTC',
  GMT: 'UTC',
};

/** The name used today for a zone (its own name when it is current). */
export const canonicalZone = (zone: string): string => LEGACY[zone] ?? zone;

/** This device's zone, by its current name. */
export const deviceZone = (): string => canonicalZone(Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC');

/** Whether this browser knows the zone (a stored or typed name may not be one). */
export function isKnownZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** Offset from UTC now, in minutes. */
export function offsetMinutes(zone: string, at = Temporal.Now.instant()): number {
  return Math.round(at.toZonedDateTimeISO(zone).offsetNanoseconds / 60e9);
}

/** "UTC+05:30", "UTC−03:00", "UTC". */
export function offsetLabel(minutes: number): string {
  if (minutes === 0) return 'UTC';
  const sign = minutes < 0 ? '−' : '+';
  const m = Math.abs(minutes);
  return `UTC${sign}${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
}

/** The short name people say: "Berlin", "New York", "UTC". */
export function zoneCity(zone: string): string {
  const z = canonicalZone(zone);
  if (z === 'UTC') return 'UTC';
  return (z.split('/').pop() ?? z).replaceAll('_', ' ');
}

export interface ZoneOption {
  zone: string;
  /** "Europe/Berlin (UTC+01:00)", what the picker lists and searches. */
  label: string;
  offset: number;
}

/** Every zone this browser knows, by current names, UTC included, sorted by offset then name. */
export function zoneOptions(extra: string[] = []): ZoneOption[] {
  const sv = (Intl as { supportedValuesOf?: (k: string) => string[] }).supportedValuesOf;
  const names = new Set<string>(['UTC']);
  for (const z of [...(sv ? sv('timeZone') : []), deviceZone(), ...extra]) {
    const c = canonicalZone(z);
    if (isKnownZone(c)) names.add(c);
  }
  const now = Temporal.Now.instant();
  return [...names]
    .map((zone) => {
      const offset = offsetMinutes(zone, now);
      return { zone, offset, label: `${zone.replaceAll('_', ' ')} (${offsetLabel(offset)})` };
    })
    .sort((a, b) => a.offset - b.offset || a.zone.localeCompare(b.zone));
}

/** Options whose name or offset contains every word typed ("new york", "kolkata", "+05:30"). */
export function searchZones(options: ZoneOption[], query: string): ZoneOption[] {
  const words = query.toLowerCase().replaceAll('_', ' ').split(/\s+/).filter(Boolean);
  if (!words.length) return options;
  return options.filter((o) => {
    const hay = o.label.toLowerCase().replace('−', '-');
    return words.every((w) => hay.includes(w.replace('−', '-')));
  });
}
