/**
 * The CalDAV URL space, all under `/dav/`:
 *   /dav/                                    the root (a client's start after /.well-known/caldav)
 *   /dav/principals/<userId>/                the user's principal
 *   /dav/calendars/<userId>/                 their calendar home
 *   /dav/calendars/<userId>/<roomId>/        one calendar per room they belong to
 *   /dav/calendars/<userId>/<roomId>/<name>.ics  one object per UID, named by its UID (percent-encoded,
 *                                            `/` too) or by the name a client created it under (object-names.ts)
 */
export const DAV_ROOT = '/dav/';

export type DavPath =
  | { kind: 'root' }
  | { kind: 'principal'; userId: string }
  | { kind: 'home'; userId: string }
  | { kind: 'calendar'; userId: string; roomId: string }
  | { kind: 'object'; userId: string; roomId: string; name: string };

const SEGMENT = /^[A-Za-z0-9_-]{1,64}$/;

export const principalHref = (userId: string): string => `${DAV_ROOT}principals/${userId}/`;
export const homeHref = (userId: string): string => `${DAV_ROOT}calendars/${userId}/`;
export const calendarHref = (userId: string, roomId: string): string => `${homeHref(userId)}${roomId}/`;
export const objectHref = (userId: string, roomId: string, name: string): string =>
  `${calendarHref(userId, roomId)}${encodeURIComponent(name)}.ics`;

/** The resource a request path names, or undefined (answered 404). Query strings are ignored. */
export function parseDavPath(rawUrl: string): DavPath | undefined {
  let path = rawUrl.split('?')[0]!;
  // Clients send hrefs back as given, but some give the absolute URL.
  if (/^https?:\/\//i.test(path)) {
    try {
      path = new URL(path).pathname;
    } catch {
      return undefined;
    }
  }
  if (!path.startsWith(DAV_ROOT.slice(0, -1))) return undefined;
  const parts = path.slice(DAV_ROOT.length).split('/');
  if (parts.at(-1) === '') parts.pop();
  if (parts.length === 0) return { kind: 'root' };
  const [area, userId, roomId, name, ...extra] = parts;
  if (extra.length > 0 || userId === undefined || !SEGMENT.test(userId)) return undefined;
  if (area === 'principals') return roomId === undefined ? { kind: 'principal', userId } : undefined;
  if (area !== 'calendars') return undefined;
  if (roomId === undefined) return { kind: 'home', userId };
  if (!SEGMENT.test(roomId)) return undefined;
  if (name === undefined) return { kind: 'calendar', userId, roomId };
  if (!name.toLowerCase().endsWith('.ics') || name.length > 1200) return undefined;
  let stem: string;
  try {
    stem = decodeURIComponent(name.slice(0, -4));
  } catch {
    return undefined;
  }
  return stem.length > 0 ? { kind: 'object', userId, roomId, name: stem } : undefined;
}
