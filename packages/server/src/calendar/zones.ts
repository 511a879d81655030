/**
 * Time zones at the iCalendar edges: TZIDs read from files (IANA names, Windows names, vendor
 * prefixes) mapped to IANA zones, and VTIMEZONE blocks for the zones a feed uses.
 *
 * VTIMEZONE data comes from `timezones-ical-library` (vzic output of a current tzdb). Its blocks
 * give each zone's current rules from 1970 on, like Google's and Apple's feeds do.
 */
import { tzlib_get_ical_block, tzlib_get_timezones } from 'timezones-ical-library';
import { findIana } from 'windows-iana';
import { ianaZone } from './iana-zone.js';

export { ianaZone };

const isUtc = (tz: string): boolean => /^(Etc\/)?(UTC|UCT|GMT|Zulu|Universal|Greenwich)$/i.test(tz) || /^Etc\/GMT[+-]0$/i.test(tz);

/** True for the zone names that mean UTC: such events are written in UTC ("…Z"), with no VTIMEZONE. */
export function isUtcZone(tz: string): boolean {
  return isUtc(tz);
}

/**
 * The IANA zone a TZID from an iCalendar file means, or null. Tries, in order: the TZID itself;
 * a trailing `Area/City` (vendor prefixes such as `/mozilla.org/20050126_1/Europe/Berlin`); a
 * Windows zone name (`W. Europe Standard Time`, what Outlook and Exchange write); the
 * `X-LIC-LOCATION` of the file's own VTIMEZONE for that TZID. Answers are remembered (a Windows
 * name costs 50–300 µs to map, and an import or a recurrence list names the same few TZIDs on every
 * line), the oldest forgotten beyond MAX_REMEMBERED_TZIDS.
 */
export function ianaFromTzid(tzid: string, licLocation?: string | null): string | null {
  const key = licLocation ? `${tzid}\u0000${licLocation}` : tzid;
  const known = rememberedTzids.get(key);
  if (known !== undefined) return known;
  const iana = lookUpTzid(tzid, licLocation);
  if (rememberedTzids.size >= MAX_REMEMBERED_TZIDS) rememberedTzids.delete(rememberedTzids.keys().next().value as string);
  rememberedTzids.set(key, iana);
  return iana;
}

/** TZIDs (with their X-LIC-LOCATION) already mapped, in the order first asked. */
const rememberedTzids = new Map<string, string | null>();
const MAX_REMEMBERED_TZIDS = 1_000;

function lookUpTzid(tzid: string, licLocation?: string | null): string | null {
  const raw = tzid.trim().replace(/^"|"$/g, '');
  const direct = ianaZone(raw);
  if (direct) return direct;
  const tail = /([A-Za-z_]+\/[A-Za-z0-9_+\-]+(?:\/[A-Za-z0-9_+\-]+)?)$/.exec(raw);
  if (tail?.[1]) {
    const z = ianaZone(tail[1]);
    if (z) return z;
  }
  const windows = findIana(raw)[0];
  if (windows) {
    const z = ianaZone(windows);
    if (z) return z;
  }
  if (licLocation) return ianaZone(licLocation.trim());
  return null;
}

let known: Set<string> | undefined;
const blocks = new Map<string, { tzid: string; block: string } | null>();

/**
 * The VTIMEZONE for an IANA zone and the TZID it declares (aliases such as `Asia/Calcutta` get
 * their canonical zone's block, so events must be written with the returned TZID); null when the
 * library does not know the zone.
 */
export function vtimezone(tz: string): { tzid: string; block: string } | null {
  if (blocks.has(tz)) return blocks.get(tz) ?? null;
  known ??= new Set(tzlib_get_timezones() as string[]);
  let found: { tzid: string; block: string } | null = null;
  if (known.has(tz)) {
    const got = tzlib_get_ical_block(tz);
    const block = Array.isArray(got) ? got[0] : undefined;
    const tzid = block ? /^TZID:(.+)$/m.exec(block)?.[1]?.trim() : undefined;
    if (block && tzid) found = { tzid, block };
  }
  blocks.set(tz, found);
  return found;
}
