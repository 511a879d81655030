/**
 * calendar-query prop-filters on a VEVENT (RFC 4791 §9.7.2): `is-not-defined`, or `text-match`
 * (§9.7.5) with the collations i;ascii-casemap (the default) and i;octet, `negate-condition`, and
 * the `match-type` attribute later CalDAV/CardDAV clients send (equals, contains — the default —,
 * starts-with, ends-with). They are matched against the object's own rendering (the bytes GET
 * answers), so any property works: UID (python3-caldav's event_by_uid), SUMMARY, LOCATION, ….
 * An object matches when one of its VEVENTs (the master or an override) passes every prop-filter.
 */
import type { DavObject } from './object-catalog.js';
import { badRequest, caldavPre, DavError } from './dav-errors.js';
import { NS, type XmlElement } from './xml.js';

/** Prop-filters one query may hold, and the length of one text-match: bounds the work per object. */
const MAX_PROP_FILTERS = 20;
const MAX_TEXT = 1_000;

type MatchType = 'equals' | 'contains' | 'starts-with' | 'ends-with';

interface TextMatch {
  text: string;
  caseless: boolean;
  matchType: MatchType;
  negate: boolean;
}

export interface PropFilter {
  name: string;
  /** 'defined': a bare prop-filter (the property must be there). */
  test: { kind: 'defined' } | { kind: 'not-defined' } | ({ kind: 'text' } & TextMatch);
}

const unsupported = (what: string): DavError =>
  new DavError('UNSUPPORTED_REPORT', `The ${what} filter is not supported; comp-filter, time-range and prop-filter (text-match, is-not-defined) are.`, caldavPre('supported-filter'));

/** i;ascii-casemap folds ASCII letters only (RFC 4790 §9.2), unlike toLowerCase. */
const asciiFold = (s: string): string => s.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32));

function textMatch(el: XmlElement): TextMatch {
  const collation = el.attrs.collation ?? 'i;ascii-casemap';
  if (collation !== 'i;ascii-casemap' && collation !== 'i;octet') {
    throw new DavError('UNSUPPORTED_REPORT', `The collation ${collation} is not supported; use i;ascii-casemap or i;octet.`, caldavPre('supported-collation'));
  }
  const matchType = (el.attrs['match-type'] ?? 'contains') as MatchType;
  if (!['equals', 'contains', 'starts-with', 'ends-with'].includes(matchType)) {
    throw badRequest(`match-type must be equals, contains, starts-with or ends-with, not ${matchType}.`, caldavPre('valid-filter'));
  }
  const negateAttr = el.attrs['negate-condition'] ?? 'no';
  if (negateAttr !== 'yes' && negateAttr !== 'no') throw badRequest('negate-condition must be yes or no.', caldavPre('valid-filter'));
  if (el.text.length > MAX_TEXT) throw badRequest(`A text-match holds at most ${MAX_TEXT} characters.`, caldavPre('valid-filter'));
  const caseless = collation === 'i;ascii-casemap';
  return { text: caseless ? asciiFold(el.text) : el.text, caseless, matchType, negate: negateAttr === 'yes' };
}

/** The prop-filters of a VEVENT comp-filter, or throws 403 supported-filter / 400 valid-filter. */
export function parsePropFilters(elements: readonly XmlElement[]): PropFilter[] {
  if (elements.length > MAX_PROP_FILTERS) throw badRequest(`A query may hold at most ${MAX_PROP_FILTERS} prop-filters.`, caldavPre('valid-filter'));
  return elements.map((pf) => {
    const name = (pf.attrs.name ?? '').trim().toUpperCase();
    if (!/^[A-Z0-9-]{1,64}$/.test(name)) throw badRequest('A prop-filter needs the name of a property.', caldavPre('valid-filter'));
    const inner = pf.children.filter((c) => c.ns === NS.CALDAV);
    const other = pf.children.find((c) => c.ns !== NS.CALDAV || !['is-not-defined', 'text-match'].includes(c.name));
    if (other) throw unsupported(`${other.name} (inside prop-filter)`);
    if (inner.length === 0) return { name, test: { kind: 'defined' } };
    if (inner.length > 1) throw badRequest('A prop-filter holds one is-not-defined or one text-match.', caldavPre('valid-filter'));
    const only = inner[0]!;
    if (only.name === 'is-not-defined') return { name, test: { kind: 'not-defined' } };
    return { name, test: { kind: 'text', ...textMatch(only) } };
  });
}

/** One VEVENT's properties: name → its values, unfolded and unescaped. */
type Props = Map<string, string[]>;

const unescapeText = (v: string): string => v.replace(/\\([\\;,nN])/g, (_, c: string) => (c === 'n' || c === 'N' ? '\n' : c));

/** The VEVENTs of a rendered object (not their VALARMs), parsed once per object and kept. */
const parsedObjects = new WeakMap<DavObject, Props[]>();

function veventsOf(obj: DavObject): Props[] {
  const hit = parsedObjects.get(obj);
  if (hit) return hit;
  const events: Props[] = [];
  let current: Props | undefined;
  let depth = 0; // components nested inside the current VEVENT (VALARM)
  for (const line of obj.ics.replace(/\r?\n[ \t]/g, '').split(/\r?\n/)) {
    const upper = line.toUpperCase();
    if (upper === 'BEGIN:VEVENT' && !current) {
      current = new Map();
      continue;
    }
    if (!current) continue;
    if (upper.startsWith('BEGIN:')) depth++;
    else if (upper.startsWith('END:')) {
      if (depth === 0) {
        events.push(current);
        current = undefined;
      } else depth--;
    } else if (depth === 0) {
      const colon = valueColon(line);
      if (colon < 0) continue;
      const name = line.slice(0, colon).split(';')[0]!.toUpperCase();
      const values = current.get(name) ?? [];
      values.push(unescapeText(line.slice(colon + 1)));
      current.set(name, values);
    }
  }
  parsedObjects.set(obj, events);
  return events;
}

/** The colon that starts the value: the first one outside a quoted parameter value. */
function valueColon(line: string): number {
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '"') quoted = !quoted;
    else if (c === ':' && !quoted) return i;
  }
  return -1;
}

function textMatches(value: string, m: TextMatch): boolean {
  const v = m.caseless ? asciiFold(value) : value;
  switch (m.matchType) {
    case 'equals':
      return v === m.text;
    case 'starts-with':
      return v.startsWith(m.text);
    case 'ends-with':
      return v.endsWith(m.text);
    default:
      return v.includes(m.text);
  }
}

function passes(props: Props, f: PropFilter): boolean {
  const values = props.get(f.name);
  switch (f.test.kind) {
    case 'defined':
      return values !== undefined;
    case 'not-defined':
      return values === undefined;
    default: {
      // §9.7.2: an undefined property fails a text-match (negated or not).
      if (values === undefined) return false;
      const m = f.test;
      const hit = values.some((v) => textMatches(v, m));
      return m.negate ? !hit : hit;
    }
  }
}

/** Whether one of the object's VEVENTs passes every filter. */
export function matchesPropFilters(obj: DavObject, filters: readonly PropFilter[]): boolean {
  if (filters.length === 0) return true;
  return veventsOf(obj).some((props) => filters.every((f) => passes(props, f)));
}
