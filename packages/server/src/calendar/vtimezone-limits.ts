/**
 * Bounds on the VTIMEZONEs of an uploaded file, checked before ical.js expands one.
 *
 * ical.js turns a VTIMEZONE into a list of offset changes by expanding each STANDARD/DAYLIGHT
 * part's RRULE from its DTSTART up to a few years past the time it converts. Real zones only use
 * YEARLY rules (one change a year per part), a few dozen parts and some RDATEs; a SECONDLY rule
 * would be expanded into billions of changes (the server ran out of memory). So only the shapes
 * real zones use are accepted, and the whole expansion is estimated and capped.
 */
import ICAL from 'ical.js';

/** STANDARD/DAYLIGHT parts per VTIMEZONE (zones with their full history in the fixtures: 85). */
export const MAX_ZONE_PARTS = 200;
/** RDATE values per VTIMEZONE (fixtures: up to 144). */
export const MAX_ZONE_RDATES = 1_000;
/** Offset changes ical.js may compute for one VTIMEZONE and one conversion. */
export const MAX_ZONE_CHANGES = 20_000;

/** Rule parts a time zone rule may use (every vzic, Outlook, Apple and Google zone fits). */
const ZONE_RULE_PARTS = new Set(['freq', 'interval', 'until', 'count', 'bymonth', 'byday', 'bymonthday', 'wkst']);

export class ZoneRefused extends Error {}

/** Throws ZoneRefused naming what is wrong when the VTIMEZONE is not shaped like a real zone. */
export function checkZoneShape(vtz: ICAL.Component): void {
  const tzid = String(vtz.getFirstPropertyValue('tzid'));
  const refuse = (why: string): never => {
    throw new ZoneRefused(`VTIMEZONE "${tzid.slice(0, 80)}" ${why}`);
  };
  const parts = vtz.getAllSubcomponents();
  if (parts.length > MAX_ZONE_PARTS) refuse(`has ${parts.length} STANDARD/DAYLIGHT parts (at most ${MAX_ZONE_PARTS})`);
  let rdates = 0;
  for (const part of parts) {
    if (part.name !== 'standard' && part.name !== 'daylight') refuse(`holds a ${part.name.toUpperCase()} (only STANDARD and DAYLIGHT)`);
    for (const p of part.getAllProperties('rdate')) rdates += p.getValues().length;
    const rules = part.getAllProperties('rrule');
    if (rules.length > 1) refuse('has a part with several RRULEs');
    const rule = rules[0]?.getFirstValue();
    if (rules.length === 1 && !(rule instanceof ICAL.Recur)) refuse('has an unreadable RRULE');
    if (rule instanceof ICAL.Recur) {
      if (rule.freq !== 'YEARLY') refuse(`has RRULE FREQ=${String(rule.freq)} (time zone rules are YEARLY)`);
      if ((rule.interval ?? 1) !== 1) refuse('has an RRULE with INTERVAL other than 1');
      for (const name of Object.keys(rule.parts)) {
        if (!ZONE_RULE_PARTS.has(name.toLowerCase())) refuse(`has an RRULE with ${name.toUpperCase()} (not used by time zones)`);
      }
      const months = rule.parts.BYMONTH?.length ?? 1;
      const days = rule.parts.BYDAY?.length ?? 0;
      // Without BYMONTH a BYDAY is every such weekday of the year: not a zone transition.
      if (months > 1 || (days > 0 && rule.parts.BYMONTH === undefined)) refuse('has an RRULE that changes the offset more than once a year');
      if (days > 1 || (rule.parts.BYMONTHDAY?.length ?? 0) > 7) refuse('has an RRULE that changes the offset more than once a year');
    }
  }
  if (rdates > MAX_ZONE_RDATES) refuse(`has ${rdates} RDATEs (at most ${MAX_ZONE_RDATES})`);
}

/**
 * Throws ZoneRefused when converting a time of `year` through this VTIMEZONE would make ical.js
 * compute more than MAX_ZONE_CHANGES offset changes (it expands each rule from its DTSTART to
 * `year` + 5, or this year + 5 for earlier times). Call after checkZoneShape.
 */
export function checkZoneExpansion(vtz: ICAL.Component, year: number): void {
  const endYear = Math.max(year, new Date().getUTCFullYear()) + ICAL.Timezone.EXTRA_COVERAGE;
  let changes = 0;
  for (const part of vtz.getAllSubcomponents()) {
    changes += 1;
    for (const p of part.getAllProperties('rdate')) changes += p.getValues().length;
    const rule = part.getFirstPropertyValue('rrule');
    const start = part.getFirstPropertyValue('dtstart');
    if (rule instanceof ICAL.Recur && start instanceof ICAL.Time) {
      // Once a year, at most once per listed BYMONTHDAY (and never more than COUNT).
      const perYear = rule.parts.BYDAY ? 1 : Math.max(1, rule.parts.BYMONTHDAY?.length ?? 1);
      const years = Math.max(0, endYear - start.year + 1);
      changes += Math.min(years * perYear, rule.count ?? Infinity);
    }
  }
  if (changes > MAX_ZONE_CHANGES) {
    const tzid = String(vtz.getFirstPropertyValue('tzid')).slice(0, 80);
    throw new ZoneRefused(`VTIMEZONE "${tzid}" would expand into ${changes} offset changes for year ${year} (at most ${MAX_ZONE_CHANGES})`);
  }
}
