/**
 * The WebDAV/CalDAV properties of each kind of resource, and answering a PROPFIND's (or REPORT's)
 * `<D:prop>` list from them: what a resource has is answered 200, the rest 404.
 */
import type { Role } from '@kith/protocol';
import { roomColor } from '../calendar/ics-export.js';
import type { ObjectView } from './user-view.js';
import { calendarHref, DAV_ROOT, homeHref, principalHref } from './paths.js';
import { syncToken } from './sync-index.js';
import { badRequest } from './dav-errors.js';
import { child, d, el, escapeXml, key, NS, response, type XmlElement } from './xml.js';

/** Properties by `ns|name` key, each the whole property element. */
export type Props = Map<string, string>;

export interface PropName {
  ns: string;
  name: string;
}

/** What a PROPFIND asks for: every property (allprop, propname, an empty body) or these. */
export type PropRequest = 'all' | PropName[];

export const OBJECT_CONTENT_TYPE = 'text/calendar; charset=utf-8; component=vevent';

function set(props: Props, ns: string, name: string, inner: string): void {
  props.set(key(ns, name), el(ns, name, inner));
}

const href = (h: string): string => d('href', escapeXml(h));

function common(userId: string): Props {
  const props: Props = new Map();
  set(props, NS.DAV, 'current-user-principal', href(principalHref(userId)));
  return props;
}

export function rootProps(userId: string): Props {
  const props = common(userId);
  set(props, NS.DAV, 'resourcetype', d('collection'));
  set(props, NS.DAV, 'displayname', 'Kith');
  return props;
}

export function principalProps(userId: string, username: string): Props {
  const props = common(userId);
  set(props, NS.DAV, 'resourcetype', d('principal'));
  set(props, NS.DAV, 'displayname', escapeXml(username));
  set(props, NS.DAV, 'principal-URL', href(principalHref(userId)));
  set(props, NS.CALDAV, 'calendar-home-set', href(homeHref(userId)));
  set(props, NS.DAV, 'principal-collection-set', href(`${DAV_ROOT}principals/`));
  return props;
}

export function homeProps(userId: string): Props {
  const props = common(userId);
  set(props, NS.DAV, 'resourcetype', d('collection'));
  set(props, NS.DAV, 'displayname', 'Kith calendars');
  set(props, NS.DAV, 'owner', href(principalHref(userId)));
  set(props, NS.DAV, 'current-user-privilege-set', privileges('viewer'));
  return props;
}

/** A viewer may read; editors and owners may also add, change and remove objects (not the collection's properties). */
function privileges(role: Role): string {
  const names = ['read', 'read-current-user-privilege-set'];
  if (role !== 'viewer') names.push('write-content', 'bind', 'unbind');
  return names.map((n) => d('privilege', d(n))).join('');
}

export interface CalendarInfo {
  roomId: string;
  name: string;
  role: Role;
}

export function calendarProps(userId: string, room: CalendarInfo, version: number): Props {
  const props = common(userId);
  const token = escapeXml(syncToken(room.roomId, version));
  set(props, NS.DAV, 'resourcetype', d('collection') + el(NS.CALDAV, 'calendar'));
  set(props, NS.DAV, 'displayname', escapeXml(room.name));
  set(props, NS.APPLE, 'calendar-color', roomColor(room.roomId)[1]);
  set(props, NS.CALDAV, 'supported-calendar-component-set', el(NS.CALDAV, 'comp').replace('/>', ' name="VEVENT"/>'));
  set(props, NS.CALDAV, 'supported-calendar-data', el(NS.CALDAV, 'calendar-data').replace('/>', ' content-type="text/calendar" version="2.0"/>'));
  set(props, NS.CS, 'getctag', token);
  set(props, NS.DAV, 'sync-token', token);
  set(props, NS.DAV, 'owner', href(principalHref(userId)));
  set(props, NS.DAV, 'current-user-privilege-set', privileges(room.role));
  const reports = [el(NS.CALDAV, 'calendar-query'), el(NS.CALDAV, 'calendar-multiget'), d('sync-collection')];
  set(props, NS.DAV, 'supported-report-set', reports.map((r) => d('supported-report', d('report', r))).join(''));
  return props;
}

/** An object's properties as one member sees it (user-view.ts: their own reminders are in it). */
export function objectProps(obj: ObjectView, withData: boolean): Props {
  const props: Props = new Map();
  set(props, NS.DAV, 'resourcetype', '');
  set(props, NS.DAV, 'getetag', escapeXml(obj.etag));
  set(props, NS.DAV, 'getcontenttype', OBJECT_CONTENT_TYPE);
  set(props, NS.DAV, 'getcontentlength', String(Buffer.byteLength(obj.ics)));
  // CR as a character reference: XML parsers turn a literal CRLF into LF, and the data is the GET's exact bytes.
  if (withData) set(props, NS.CALDAV, 'calendar-data', escapeXml(obj.ics).replaceAll('\r', '&#13;'));
  return props;
}

/** Reads `<D:prop>` (or allprop/propname) of a PROPFIND or REPORT body. */
export function propRequest(body: XmlElement | undefined): PropRequest {
  const prop = child(body, NS.DAV, 'prop');
  if (!prop) return 'all';
  // Each property once: every name asked is rendered for every resource, so 50,000 copies of
  // <C:calendar-data/> in one PROPFIND would have held each object's text 50,000 times.
  const asked = new Map<string, PropName>();
  for (const c of prop.children) asked.set(key(c.ns, c.name), { ns: c.ns, name: c.name });
  if (asked.size > MAX_PROPS) throw badRequest(`A request may ask for at most ${MAX_PROPS} properties.`);
  // Each property a resource lacks is echoed in its 404 propstat, for every resource answered: the
  // names' length, not only their number, bounds the answer (256 names of 3,900 characters in a
  // 3,900-character namespace were 2 MB an object, 4 GB of heap for 2,000 objects).
  let total = 0;
  for (const p of asked.values()) {
    if (p.name.length > MAX_NAME_LENGTH || p.ns.length > MAX_NAME_LENGTH) {
      throw badRequest(`A property's name and namespace may be at most ${MAX_NAME_LENGTH} characters long each.`);
    }
    total += p.name.length + p.ns.length;
  }
  if (total > MAX_NAMES_TOTAL) throw badRequest(`The properties' names and namespaces may hold at most ${MAX_NAMES_TOTAL} characters in all.`);
  return [...asked.values()];
}

/** Distinct properties one request may ask for (clients ask for a dozen or two). */
const MAX_PROPS = 256;
/** Longest property name or namespace asked for (registered ones are under 40 characters). */
const MAX_NAME_LENGTH = 256;
/** Their names and namespaces together (what iOS asks of a calendar home is about 2,000). */
const MAX_NAMES_TOTAL = 8_192;

/** A `<D:response>` for one resource: the asked properties it has (200) and lacks (404). */
export function propResponse(hrefOf: string, props: Props, request: PropRequest): string {
  if (request === 'all') return response(hrefOf, [...props.values()], []);
  const found: string[] = [];
  const missing: PropName[] = [];
  for (const p of request) {
    const v = props.get(key(p.ns, p.name));
    if (v !== undefined) found.push(v);
    else missing.push(p);
  }
  return response(hrefOf, found, missing);
}

export { calendarHref };
