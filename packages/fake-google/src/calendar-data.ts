/** The stored shapes of calendars and events, and the JSON helpers the fake's modules share. */

export type JsonObject = Record<string, unknown>;

export type TimeValue =
  | { kind: 'date'; date: string; timeZone?: string }
  | { kind: 'dateTime'; ms: number; timeZone?: string };

export type EventStatus = 'confirmed' | 'tentative' | 'cancelled';

export interface StoredEvent {
  id: string;
  status: EventStatus;
  start: TimeValue;
  end: TimeValue;
  recurrence?: string[];
  recurringEventId?: string;
  originalStart?: TimeValue;
  /** Client-writable fields other than the ones above (summary, description, extendedProperties, …). */
  fields: JsonObject;
  etag: string;
  created: number;
  updated: number;
  sequence: number;
  iCalUID: string;
  creatorEmail: string;
  /** The calendar's change number at this event's last write (drives sync tokens). */
  changeSeq: number;
}

export interface Calendar {
  id: string;
  ownerEmail: string;
  primary: boolean;
  summary: string;
  description?: string;
  location?: string;
  timeZone: string;
  etag: string;
  /** OAuth client that created it (for the `calendar.app.created` scope). */
  createdByClient?: string;
  deleted: boolean;
  /** Change number, bumped by every event write. */
  seq: number;
  /** Bumped to invalidate every sync token issued so far. */
  syncEpoch: number;
  lastUpdated: number;
  events: Map<string, StoredEvent>;
  /** Instance id → its series and original start, filled in as instances are handed out. */
  instances: Map<string, { masterId: string; original: TimeValue }>;
}

const BASE32HEX = '0123456789abcdefghijklmnopqrstuv';

export function isPlainObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function clone<T>(v: T): T {
  return v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T);
}

/** Patch semantics: objects merge recursively, arrays and scalars replace, `null` removes the key. */
export function mergePatch(target: JsonObject, patch: JsonObject): JsonObject {
  const out: JsonObject = { ...target };
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else if (isPlainObject(v)) out[k] = mergePatch(isPlainObject(out[k]) ? (out[k] as JsonObject) : {}, v);
    else out[k] = clone(v);
  }
  return out;
}

export function base32hexId(bytes: Buffer, length = 26): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5 && out.length < length) {
      out += BASE32HEX[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return out;
}

/** A time's identity (an all-day date or an instant), to compare starts and match exceptions to occurrences. */
export function timeKey(t: TimeValue): string {
  return t.kind === 'date' ? `d${t.date}` : `t${t.ms}`;
}
