/**
 * Writes validated fields into an event map. Only values that differ are written, and sets are
 * updated member by member, so an edit touches as little shared state as possible and concurrent
 * edits to other fields or members survive the merge.
 */
import * as Y from 'yjs';
import { F } from './schema.js';
import type { EventMap } from './schema.js';
import type { Temporal } from './time.js';
import type { OpContext, StoredFields } from './types.js';

/** Stored values are JSON-like, so JSON equality is value equality. */
export function sameValue(a: unknown, b: unknown): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}

/** Sets a key unless it already holds an equal value. */
export function put(map: Y.Map<unknown>, key: string, value: unknown): void {
  if (!map.has(key) || !sameValue(map.get(key), value)) map.set(key, value);
}

/**
 * A nested type of an event. Events are created with all of them; creating one later would race
 * with another device doing the same (one side's entries would be lost), so it only happens for
 * maps written by something other than this package.
 */
export function nestedMap(ev: EventMap, key: string): Y.Map<unknown> {
  const cur = ev.get(key);
  if (cur instanceof Y.Map) return cur as Y.Map<unknown>;
  const fresh = new Y.Map<unknown>();
  ev.set(key, fresh);
  return fresh;
}

const isHigh = (c: number): boolean => c >= 0xd800 && c <= 0xdbff;
const isLow = (c: number): boolean => c >= 0xdc00 && c <= 0xdfff;

/** Replaces text by splicing only the changed middle, so concurrent edits elsewhere in it survive. */
function setText(t: Y.Text, value: string): void {
  const old = t.toString();
  if (old === value) return;
  let head = 0;
  while (head < old.length && head < value.length && old[head] === value[head]) head++;
  let tail = 0;
  while (tail < old.length - head && tail < value.length - head && old[old.length - 1 - tail] === value[value.length - 1 - tail]) tail++;
  // Never cut between the two halves of a surrogate pair (emoji): step the cut outwards.
  if (head > 0 && isHigh(old.charCodeAt(head - 1))) head--;
  if (tail > 0 && isLow(old.charCodeAt(old.length - tail))) tail--;
  if (old.length - head - tail > 0) t.delete(head, old.length - head - tail);
  if (value.length - head - tail > 0) t.insert(head, value.slice(head, value.length - tail));
}

/** Makes a Y.Map<key, true> hold exactly `keys`, adding and removing members one by one. */
function setKeys(map: Y.Map<unknown>, keys: readonly string[]): void {
  const want = new Set(keys);
  for (const k of [...map.keys()]) if (!want.has(k)) map.delete(k);
  for (const k of want) if (map.get(k) !== true) map.set(k, true);
}

export function writeFields(ev: EventMap, f: StoredFields): void {
  for (const key of ['title', 'location', 'start', 'duration', 'tz', 'endTz', 'color', 'category', 'rrule', 'uid'] as const) {
    const v = f[key];
    if (v !== undefined) put(ev, F[key], v);
  }
  if (f.description !== undefined) {
    const cur = ev.get(F.description);
    if (cur instanceof Y.Text) setText(cur, f.description);
    else put(ev, F.description, f.description);
  }
  if (f.participants !== undefined) setKeys(nestedMap(ev, F.who), f.participants);
  if (f.exdates !== undefined) setKeys(nestedMap(ev, F.exdates), f.exdates);
  if (f.rdates !== undefined) setKeys(nestedMap(ev, F.rdates), f.rdates);
  if (f.reminders !== undefined) {
    const alerts = nestedMap(ev, F.alerts);
    const want = new Map(f.reminders.map((r) => [r.id, { before: r.minutesBefore, for: r.for }]));
    for (const k of [...alerts.keys()]) if (!want.has(k)) alerts.delete(k);
    for (const [k, v] of want) put(alerts, k, v);
  }
}

/** A new event map with every nested type in place (see nested()). */
export function newEventMap(): EventMap {
  const ev = new Y.Map<unknown>();
  ev.set(F.description, new Y.Text());
  for (const key of [F.who, F.alerts, F.exdates, F.rdates, F.ov, F.segs]) ev.set(key, new Y.Map<unknown>());
  return ev;
}

export function touch(ev: EventMap, ctx: OpContext, now: Temporal.Instant): void {
  ev.set(F.updatedBy, ctx.actor);
  ev.set(F.updatedAt, now.toString());
}

/**
 * Moves per-occurrence state (overrides, EXDATEs, RDATEs) keyed in [from, until) by `days`, when
 * the occurrences they belong to moved to other dates. Entries are read first and written after,
 * so a shift onto keys that are themselves moving cannot clobber anything.
 */
const DATE_KEY = /^\d{4}-\d{2}-\d{2}$/;

export function rekeyDates(ev: EventMap, from: string | null, until: string | null, days: number, shift: (key: string, days: number) => string): void {
  if (days === 0) return;
  // Keys that are not dates (written by something else) are left alone rather than failing midway.
  const inRange = (key: string): boolean =>
    DATE_KEY.test(key) && (from === null || key >= from) && (until === null || key < until);
  const ov = nestedMap(ev, F.ov);
  const moves: Array<[string, string, unknown]> = [];
  for (const [flat, value] of ov.entries()) {
    const at = flat.indexOf('|');
    const key = flat.slice(0, at);
    if (at > 0 && inRange(key)) moves.push([flat, `${shift(key, days)}${flat.slice(at)}`, value]);
  }
  for (const [oldKey] of moves) ov.delete(oldKey);
  for (const [, newKey, value] of moves) ov.set(newKey, value);
  for (const name of [F.exdates, F.rdates]) {
    const set = nestedMap(ev, name);
    const keys = [...set.keys()].filter(inRange);
    for (const k of keys) set.delete(k);
    for (const k of keys) set.set(shift(k, days), true);
  }
}
