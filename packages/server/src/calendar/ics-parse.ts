/**
 * Reading an iCalendar text liberally, one component at a time. ical.js refuses a whole file for
 * one bad property (an Exchange `BYDAY=MO, TU`, an `ORGANIZER;CN=Sixt SE` with no value), and
 * stumbles over text after `END:VCALENDAR`. Here:
 *
 * - everything after the last `END:VCALENDAR` is ignored (servers append cache notes there);
 * - a file ical.js reads as it is is used as it is (the fast path, and the common case);
 * - otherwise each property line is checked on its own: list values in rules are trimmed (what
 *   other clients accept), a line that still cannot be read is dropped (and reported when the
 *   import uses that property), and a VEVENT that still fails is left out and reported with its
 *   UID, so the good events of the file are imported.
 */
import ICAL from 'ical.js';
import { KithError } from '../errors/catalogue.js';
import { sha256 } from '../ids.js';
import type { FileZones } from './ics-times.js';
import { ianaFromTzid } from './zones.js';

export interface ParseIssue {
  uid: string | null;
  code: string;
  message: string;
}

/** Properties the import reads: dropping one of them changes the event, so it is reported. */
const USED = new Set(['uid', 'dtstart', 'dtend', 'duration', 'rrule', 'rdate', 'exdate', 'recurrence-id', 'summary', 'description', 'location', 'status', 'categories', 'color']);

/** ical.js' own parse errors name the problem; anything else (a TypeError) is ours and not shown. */
export function parserMessage(err: unknown): string {
  if (err instanceof Error && !(err instanceof TypeError) && !(err instanceof RangeError) && !(err instanceof ReferenceError)) {
    // eslint-disable-next-line no-control-regex
    return err.message.replace(/[\u0000-\u001F\u007F]/g, ' ').slice(0, 200);
  }
  return 'it could not be read';
}

/** The text up to and including the last END:VCALENDAR line (all of it when there is none). */
export function withoutTrailer(body: string): string {
  const re = /^END:VCALENDAR[ \t]*$/gim;
  let end = -1;
  for (let m = re.exec(body); m !== null; m = re.exec(body)) end = m.index + m[0].length;
  return end < 0 ? body : `${body.slice(0, end)}\r\n`;
}

/** Content lines with folding undone (RFC 5545 §3.1). */
function unfold(text: string): string[] {
  return text.replace(/\r?\n[ \t]/g, '').split(/\r?\n/).filter((l) => l.length > 0);
}

const nameOf = (line: string): string => (/^[A-Za-z0-9-]+/.exec(line)?.[0] ?? '').toLowerCase();

/** Rule values with blanks around their separators (`BYDAY=MO, TU`) tightened, as other clients read them. */
function tighten(line: string): string {
  const name = nameOf(line);
  if (name !== 'rrule' && name !== 'exrule') return line;
  const at = line.indexOf(':');
  return at < 0 ? line : line.slice(0, at + 1) + line.slice(at + 1).replace(/\s*([;,=])\s*/g, '$1').trim();
}

/** A line as it can be kept, or why it cannot. */
function checkLine(line: string): { line: string } | { error: unknown } {
  const fixed = tighten(line);
  try {
    ICAL.parse.property(fixed);
    return { line: fixed };
  } catch (err) {
    return { error: err };
  }
}

const uidIn = (lines: string[]): string | null => {
  const l = lines.find((x) => nameOf(x) === 'uid');
  const v = l === undefined ? '' : l.slice(l.indexOf(':') + 1).trim();
  return v.length > 0 ? v.slice(0, 200) : null;
};

/** Repairs the lines of a file ical.js refused; each VEVENT stands or falls on its own. */
function repair(text: string, issues: ParseIssue[]): string {
  const out: string[] = [];
  const lines = unfold(text);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (/^BEGIN:VEVENT\s*$/i.test(line)) {
      let j = i + 1;
      let depth = 1;
      for (; j < lines.length && depth > 0; j++) {
        if (/^BEGIN:/i.test(lines[j]!)) depth++;
        else if (/^END:/i.test(lines[j]!)) depth--;
      }
      const block = lines.slice(i, j);
      i = j - 1;
      const kept = repairEvent(block, issues);
      if (kept) out.push(...kept);
      continue;
    }
    if (/^(BEGIN|END):/i.test(line)) {
      out.push(line);
      continue;
    }
    const c = checkLine(line);
    if ('line' in c) out.push(c.line); // a bad calendar- or zone-level line is left out
  }
  return out.join('\r\n') + '\r\n';
}

function repairEvent(block: string[], issues: ParseIssue[]): string[] | null {
  const uid = uidIn(block);
  const kept: string[] = [];
  for (const line of block) {
    if (/^(BEGIN|END):/i.test(line)) {
      kept.push(line);
      continue;
    }
    const c = checkLine(line);
    if ('line' in c) kept.push(c.line);
    else if (USED.has(nameOf(line))) {
      issues.push({ uid, code: 'INVALID_PROPERTY', message: `${nameOf(line).toUpperCase()} was left out: ${parserMessage(c.error)}` });
    }
  }
  try {
    ICAL.parse(['BEGIN:VCALENDAR', ...kept, 'END:VCALENDAR'].join('\r\n'));
    return kept;
  } catch (err) {
    issues.push({ uid, code: 'INVALID_ICALENDAR', message: `this VEVENT was left out: ${parserMessage(err)}` });
    return null;
  }
}

/** The file as ical.js' jCal plus what was left out of it; throws (ical.js' error) when nothing is readable. */
export function parseLiberally(body: string): { jcal: unknown; issues: ParseIssue[] } {
  const text = withoutTrailer(body);
  try {
    return { jcal: ICAL.parse(text), issues: [] };
  } catch {
    const issues: ParseIssue[] = [];
    return { jcal: ICAL.parse(repair(text, issues)), issues };
  }
}

// ---------------------------------------------------------------------------------------------
// The file as events grouped by UID

export interface ParsedImport {
  /** VEVENTs or properties the parser left out, with why. */
  issues: ParseIssue[];
  events: Array<{ uid: string; master: ICAL.Component | null; overrides: ICAL.Component[] }>;
  zones: FileZones;
  calZone: string | null;
}

/** Components in an ICS text (its BEGIN: lines), counted before anything parses it. */
export function countComponents(body: string): number {
  return body.match(/^BEGIN:/gim)?.length ?? 0;
}

/** Parses the file; throws INVALID_ICALENDAR when it is not iCalendar at all. */
export function parseIcs(body: string): ParsedImport {
  let jcal: unknown;
  let issues: ParseIssue[];
  try {
    ({ jcal, issues } = parseLiberally(body));
  } catch (err) {
    throw new KithError('INVALID_ICALENDAR', `The file is not valid iCalendar: ${parserMessage(err)}`.slice(0, 300));
  }
  const roots = (Array.isArray(jcal) && Array.isArray(jcal[0]) ? jcal : [jcal]) as unknown[][];
  const calendars = roots.map((j) => new ICAL.Component(j)).filter((c) => c.name === 'vcalendar');
  if (calendars.length === 0) throw new KithError('INVALID_ICALENDAR', 'The file has no VCALENDAR.');
  const zones: FileZones = { vtimezones: new Map(), converters: new Map() };
  let calZone: string | null = null;
  const byUid = new Map<string, { uid: string; master: ICAL.Component | null; overrides: ICAL.Component[] }>();
  for (const cal of calendars) {
    for (const vtz of cal.getAllSubcomponents('vtimezone')) {
      const tzid = vtz.getFirstPropertyValue('tzid');
      if (typeof tzid === 'string') zones.vtimezones.set(tzid, vtz);
    }
    const wr = cal.getFirstPropertyValue('x-wr-timezone');
    if (calZone === null && typeof wr === 'string') calZone = ianaFromTzid(wr);
    for (const ve of cal.getAllSubcomponents('vevent')) {
      let uid = ve.getFirstPropertyValue('uid');
      if (typeof uid !== 'string' || uid.length === 0) {
        // RFC 5545 requires a UID; without one, the same summary and start count as the same event.
        uid = `nouid-${sha256(`${String(ve.getFirstPropertyValue('summary'))}|${ve.getFirstProperty('dtstart')?.toICALString() ?? ''}`)}`;
      }
      const group = byUid.get(uid) ?? { uid, master: null, overrides: [] };
      if (ve.getFirstProperty('recurrence-id')) group.overrides.push(ve);
      else if (group.master === null) group.master = ve;
      else group.overrides.push(ve); // a duplicate master: reported when applied
      byUid.set(uid, group);
    }
  }
  return { issues, events: [...byUid.values()], zones, calZone };
}
