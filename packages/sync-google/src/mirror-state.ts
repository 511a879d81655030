/**
 * How a linked room and its Google calendar are seen side by side: the deterministic ids of parts in
 * Google and of events adopted from it, the room's events in canonical form, and Google's side of one
 * mapped part (`RemoteState`) folded together from the resources Google returns. Pure: no I/O.
 */
import { createHash } from 'node:crypto';
import type { calendar_v3 } from '@googleapis/calendar';
import { getEvent, listEvents } from '@kith/model';
import type * as Y from 'yjs';
import {
  base32hex,
  exceptionKey,
  googleMaster,
  googleOccurrence,
  googleUpdated,
  kithParts,
  MASTER_FIELDS,
  remoteCanon,
  same,
  type PartCanon,
  type RemoteException,
  type RemoteState,
} from './canon.js';
import type { MirrorRow } from './store.js';

export type GEvent = calendar_v3.Schema$Event;

/** Deterministic Google id of a part: base32hex(sha256(room:event:part:generation)), 26 characters. */
export function googleIdFor(roomId: string, kithId: string, part: string, generation: number): string {
  return base32hex(createHash('sha256').update(`${roomId}:${kithId}:${part}:${generation}`).digest(), 26);
}

/** Deterministic Kith id of an event adopted from Google, so a replayed adoption finds the event it made. */
export function adoptedKithId(calendarId: string, googleId: string): string {
  return `google-${base32hex(createHash('sha256').update(`${calendarId}\n${googleId}`).digest(), 26)}`;
}

export type Snapshot = Map<string, { parts: Map<string, PartCanon>; deleted: boolean }>;

/** The room's events (all, or some) in canonical form, read inside a room read. */
export function snapshot(doc: Y.Doc, ids: Set<string> | 'all', calTz: string, onError?: (err: unknown, eventId: string) => void): Snapshot {
  const out: Snapshot = new Map();
  const events = ids === 'all' ? listEvents(doc, { includeDeleted: true }) : [...ids].flatMap((id) => getEvent(doc, id) ?? []);
  for (const ev of events) {
    try {
      out.set(ev.id, { parts: kithParts(ev, calTz), deleted: ev.deleted !== null });
    } catch (err) {
      onError?.(err, ev.id);
    }
  }
  return out;
}

/** How many room events differ from Google's side as last seen (changes not sent yet). */
export function pendingEvents(snap: Snapshot, rows: MirrorRow[]): number {
  let count = 0;
  for (const [kithId, roomEvent] of snap) {
    const mine = rows.filter((r) => r.kithId === kithId && r.state !== 'foreign');
    const differs =
      [...roomEvent.parts].some(([part, ours]) => {
        const row = mine.find((r) => r.part === part && r.state !== 'gone') ?? mine.find((r) => r.part === part);
        if (!row || !row.remote || row.state === 'inserting') return true;
        const theirs = remoteCanon(row.remote);
        return !theirs || !same(ours, theirs);
      }) || mine.some((r) => (r.state === 'synced' || r.state === 'inserting') && !roomEvent.parts.has(r.part));
    if (differs) count += 1;
  }
  return count;
}

export function emptyRemote(id: string): RemoteState {
  return { id, etag: '', updated: 0, cancelled: false, master: null, ex: {} };
}

/** Folds a master resource (or its cancellation) into Google's side of a part. */
export function foldMaster(rs: RemoteState, item: GEvent, calTz: string): void {
  rs.etag = item.etag ?? rs.etag;
  if (item.status === 'cancelled') {
    rs.cancelled = true;
    return;
  }
  const master = googleMaster(item, calTz);
  if (!master) return;
  const updated = googleUpdated(item);
  // A field's time is when its value was first seen: fields this change left alone keep theirs.
  const previous = rs.master;
  const times: Record<string, number> = {};
  for (const field of MASTER_FIELDS) {
    const known = rs.times?.[field];
    times[field] = previous && known !== undefined && same(previous[field], master[field]) ? known : updated;
  }
  rs.times = times;
  rs.cancelled = false;
  rs.master = master;
  rs.updated = updated;
}

/** Folds one exception (a moved, edited or cancelled instance) into Google's side of a part. */
export function foldException(rs: RemoteState, item: GEvent, calTz: string): void {
  const key = exceptionKey(item, rs.master, calTz);
  if (!key || !item.id) return;
  const cancelled = item.status === 'cancelled';
  rs.ex[key] = {
    id: item.id,
    etag: item.etag ?? '',
    updated: googleUpdated(item),
    cancelled,
    values: cancelled ? null : googleOccurrence(item, calTz),
  };
}

/**
 * Google's side of a master resource, keeping the exceptions already known and, from `previous`, the times
 * of the fields this resource did not change.
 */
export function remoteOf(item: GEvent, calTz: string, keepEx: Record<string, RemoteException> = {}, previous?: RemoteState | null): RemoteState {
  const rs: RemoteState = { id: item.id!, etag: '', updated: 0, cancelled: false, master: previous?.master ?? null, ex: structuredClone(keepEx) };
  if (previous?.times) rs.times = { ...previous.times };
  foldMaster(rs, item, calTz);
  // A tombstone shows no fields: what it held before is not Google's side any more.
  if (rs.cancelled) rs.master = null;
  return rs;
}
