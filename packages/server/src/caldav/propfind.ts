/** PROPFIND (RFC 4918 §9.1) on the root, a principal, the calendar home, a calendar or an object. */
import type { AuthenticatedUser } from '../modules/module.js';
import type { Calendars } from './calendars.js';
import { DavError, notFound } from './dav-errors.js';
import { calendarHref, homeHref, objectHref, principalHref, DAV_ROOT, type DavPath } from './paths.js';
import { viewOf } from './user-view.js';
import {
  calendarProps,
  homeProps,
  objectProps,
  principalProps,
  propRequest,
  propResponse,
  rootProps,
  type PropRequest,
} from './properties.js';
import { davPre } from './dav-errors.js';
import { document, key, NS, type XmlElement } from './xml.js';

/**
 * Depth 0 or 1. No Depth header is read as 0: RFC 4918 says infinity, which is refused anyway,
 * and clients that leave it out (discovery probes) want the resource itself.
 */
export function depthOf(header: string | string[] | undefined): 0 | 1 {
  const v = (Array.isArray(header) ? header[0] : header)?.trim().toLowerCase();
  if (v === undefined || v === '' || v === '0') return 0;
  if (v === '1') return 1;
  if (v === 'infinity') {
    throw new DavError('DEPTH_NOT_SUPPORTED', 'PROPFIND with Depth: infinity is not supported; use 0 or 1.', davPre('propfind-finite-depth'));
  }
  throw new DavError('VALIDATION_FAILED', 'Depth must be 0, 1 or infinity.');
}

const versionProps = new Set([key(NS.CS, 'getctag'), key(NS.DAV, 'sync-token')]);

const wantsData = (request: PropRequest): boolean =>
  request !== 'all' && request.some((p) => key(p.ns, p.name) === key(NS.CALDAV, 'calendar-data'));

export async function propfind(
  calendars: Calendars,
  user: AuthenticatedUser,
  path: DavPath,
  depth: 0 | 1,
  body: XmlElement | undefined,
): Promise<string> {
  if (body && !(body.ns === NS.DAV && body.name === 'propfind')) throw new DavError('VALIDATION_FAILED', 'The body must be a DAV:propfind.');
  const request = propRequest(body);
  const out: string[] = [];
  switch (path.kind) {
    case 'root':
      out.push(propResponse(DAV_ROOT, rootProps(user.userId), request));
      if (depth === 1) out.push(propResponse(principalHref(user.userId), principalProps(user.userId, user.username), request));
      break;
    case 'principal':
      if (path.userId !== user.userId) throw notFound();
      out.push(propResponse(principalHref(user.userId), principalProps(user.userId, user.username), request));
      break;
    case 'home': {
      if (path.userId !== user.userId) throw notFound();
      out.push(propResponse(homeHref(user.userId), homeProps(user.userId), request));
      if (depth === 1) {
        // Only when the ctag or token is asked for: a room's version costs reading its state (and
        // rendering it when it changed since it was last recorded: Calendars.version).
        const versioned = request === 'all' || request.some((p) => versionProps.has(key(p.ns, p.name)));
        for (const room of await calendars.list(user)) {
          const version = versioned ? await calendars.version(room.roomId) : 0;
          const props = calendarProps(user.userId, room, version);
          if (!versioned) for (const k of versionProps) props.delete(k);
          out.push(propResponse(calendarHref(user.userId, room.roomId), props, request));
        }
      }
      break;
    }
    case 'calendar': {
      const room = await calendars.open(user, path.userId, path.roomId);
      const { objects, version, names } = await calendars.snapshot(room.roomId);
      out.push(propResponse(calendarHref(user.userId, room.roomId), calendarProps(user.userId, room, version), request));
      if (depth === 1) {
        const data = wantsData(request);
        for (const obj of objects.values()) out.push(propResponse(objectHref(user.userId, room.roomId, names.nameOf(obj.uid)), objectProps(viewOf(obj, user.userId), data), request));
      }
      break;
    }
    case 'object': {
      const room = await calendars.open(user, path.userId, path.roomId);
      const { objects, names } = await calendars.snapshot(room.roomId);
      const uid = names.uidOf(path.name);
      const obj = uid === undefined ? undefined : objects.get(uid);
      if (!obj) throw notFound();
      out.push(propResponse(objectHref(user.userId, room.roomId, path.name), objectProps(viewOf(obj, user.userId), wantsData(request)), request));
      break;
    }
  }
  return document(NS.DAV, 'multistatus', out.join(''));
}
