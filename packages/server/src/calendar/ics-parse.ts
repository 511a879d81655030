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
