/**
 * The app's one Kith client (same origin as the page: kith-server serves both), and the small
 * things it keeps in localStorage so that it starts offline: the rooms I am in and their members.
 * Calendar data itself lives in IndexedDB, kept by @kith/client.
 */
import { createKithClient, KithApiError, LocalStorageTokenStore, type Member, type RoomSummary } from '@kith/client';
import { canonicalZone, deviceZone, isKnownZone } from './zones.js';

const tokens = new LocalStorageTokenStore();
export const kith = createKithClient({ baseUrl: location.origin, tokenStore: tokens });

/**
 * Sends an .ics file to the room's import (the client library's requests are JSON only): with
 * the session's token, refreshed once and retried when the server says it expired.
 */
export async function postCalendarFile<T>(path: string, ics: string): Promise<T> {
  const send = (token: string | undefined) =>
    fetch(location.origin + path, {
      method: 'POST',
      headers: { 'content-type': 'text/calendar', accept: 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: ics,
    });
  let token = tokens.get()?.token;
  let res: Response;
  try {
    res = await send(token);
    if (res.status === 401) {
      token = (await kith.refresh(token)).token;
      res = await send(token);
    }
  } catch (err) {
    if (err instanceof KithApiError) throw err;
    throw new KithApiError(0, 'NETWORK_ERROR', 'Cannot reach the server.');
  }
  const data = (await res.json().catch(() => undefined)) as { error?: { code?: string; message?: string } } | undefined;
  if (!res.ok) throw new KithApiError(res.status, data?.error?.code ?? 'UNEXPECTED_RESPONSE', data?.error?.message ?? `HTTP ${res.status}`);
  return data as T;
}

const key = (...parts: string[]) => ['kith.app', ...parts].join('.');

function read<T>(k: string): T | undefined {
  try {
    const raw = localStorage.getItem(k);
    return raw ? (JSON.parse(raw) as T) : undefined;
  } catch {
    return undefined;
  }
}

function write(k: string, value: unknown): void {
  try {
    if (value === undefined) localStorage.removeItem(k);
    else localStorage.setItem(k, JSON.stringify(value));
  } catch {
    /* storage full or disabled: the app still works, it just starts slower offline */
  }
}

export const cache = {
  rooms: (userId: string) => read<RoomSummary[]>(key('rooms', userId)) ?? [],
  setRooms: (userId: string, rooms: RoomSummary[]) => write(key('rooms', userId), rooms),
  members: (roomId: string) => read<Member[]>(key('members', roomId)) ?? [],
  setMembers: (roomId: string, members: Member[]) => write(key('members', roomId), members),
  lastRoom: (userId: string) => read<string>(key('last-room', userId)),
  setLastRoom: (userId: string, roomId: string | undefined) => write(key('last-room', userId), roomId),
  view: () => read<string>(key('view')),
  /** The zone this device shows calendars in (chosen in Settings; this device's own by default). */
  displayZone: (): string => {
    const z = read<string>(key('display-zone'));
    return z && isKnownZone(z) ? canonicalZone(z) : deviceZone();
  },
  setDisplayZone: (zone: string) => write(key('display-zone'), zone),
  setView: (view: string) => write(key('view'), view),
};

/** The invite code of a `/invite/:code` link, if the page was opened with one. */
export function inviteCodeFromLocation(): string | undefined {
  const m = /^\/invite\/([^/?#]+)\/?$/.exec(location.pathname);
  return m ? decodeURIComponent(m[1]!) : undefined;
}

/** A sentence a person can act on, for any error from the client library or the network. */
export function describeError(err: unknown): string {
  if (err instanceof KithApiError) {
    switch (err.code) {
      case 'INVALID_CREDENTIALS':
        return 'Wrong username or password.';
      case 'USERNAME_TAKEN':
        return 'That username is taken. Pick another one, or sign in if it is yours.';
      case 'RATE_LIMITED':
        return `Too many attempts. Try again in ${err.retryAfter ?? 60} seconds.`;
      case 'NETWORK_ERROR':
        return 'Cannot reach the server. Check your connection and try again.';
      case 'INVITE_EXPIRED':
        return 'This invite link has expired. Ask for a new one.';
      case 'INVITE_USED_UP':
        return 'This invite link has already been used. Ask for a new one.';
      case 'INVITE_NOT_FOUND':
        return 'This invite link is not valid. Check that you copied all of it, or ask for a new one.';
      case 'INVITE_REVOKED':
        return 'This invite link has been withdrawn. Ask for a new one.';
      case 'REMOVED_FROM_ROOM':
        return 'You were removed from this calendar. Only a new invite from its owner lets you back in.';
      case 'INVITE_REQUIRED':
        return 'New accounts need an invite link on this server. Open the link you were sent, then create your account.';
      case 'REGISTRATION_CLOSED':
        return 'This server does not accept new accounts.';
      case 'PUBLIC_URL_REQUIRED':
        return 'The server cannot make links yet: its operator must set its public address (--public-url).';
      case 'ROOM_NOT_FOUND':
        return 'You are no longer a member of this calendar.';
      case 'FORBIDDEN':
      case 'READ_ONLY':
        return 'Your role in this calendar does not allow that.';
      case 'LAST_OWNER':
        return 'A calendar must keep at least one owner.';
      case 'IMPORT_TOO_LARGE':
      case 'PAYLOAD_TOO_LARGE':
        return err.message || 'The file is too large to import at once. Split it.';
      case 'VALIDATION_FAILED':
        return err.message && err.message !== 'The request is invalid.' ? err.message : 'Please check what you entered.';
      case 'NOT_LOGGED_IN':
      case 'TOKEN_EXPIRED':
      case 'UNAUTHENTICATED':
        return 'Your session has ended. Please sign in again.';
      default:
        return err.message || `Something went wrong (${err.code}).`;
    }
  }
  if (err instanceof Error) return err.message;
  return String(err);
}
