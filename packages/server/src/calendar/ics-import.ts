/**
 * ICS import: VEVENTs of an uploaded iCalendar file (parsed with ical.js) become room events.
 *
 * - De-duplicated by UID: an event's id is derived from its UID (`ics-…`), so importing the same
 *   file again updates the events it created instead of adding copies; events whose data did not
 *   change are not written at all.
 * - Zones: ical.js registers no zones (a TZID it cannot resolve would silently become floating), so
 *   times are read as wall clocks and their TZID is mapped to an IANA zone here: IANA names,
 *   vendor-prefixed names, Windows names (Outlook/Exchange) and the file's VTIMEZONE
 *   X-LIC-LOCATION. A TZID none of those explain is converted to UTC through the file's own
 *   VTIMEZONE; with no VTIMEZONE either the event is refused (never silently floating).
 * - Recurrence: RRULE, EXDATE, RDATE; RECURRENCE-ID components become per-occurrence overrides or,
 *   with STATUS:CANCELLED, cancellations. A cancelled master deletes the event on a file's
 *   re-import; a CalDAV PUT stores it (RFC 4791 §5.3.2: a PUT stores the resource), as an ordinary
 *   event since the model has no status.
 * - The file is the truth for what it describes: re-importing replaces the series' rule, dates and
 *   overrides; participants (which ICS cannot express as room members) are kept.
 * - An event in the room's trash is left there by a file import; a CalDAV PUT of its UID brings it
 *   back with the PUT's content (the resource did not exist, so the PUT creates it).
 * - Each UID is first planned from the file alone (times converted, overrides validated on a probe
 *   document), then applied to the room. Planning pauses between values and overrides, so a PUT,
 *   applied on the main thread, can let other requests run while it plans (planImport).
 * - VALARMs of the master are reminders for everyone (ics-alarms.ts); a CalDAV PUT maps them to
 *   the user's own reminders instead (source `caldav`). VALARMs of overrides are not read.
 */
import ICAL from 'ical.js';
import { Temporal } from 'temporal-polyfill';
import * as Y from 'yjs';
import { setImmediate as nextTurn } from 'node:timers/promises';
import {
  cancelOccurrence,
  createEvent,
  ROOT,
  deleteEvent,
  editOccurrence,
  getEvent,
  LIMITS,
  ModelError,
  restoreEvent,
  updateEvent,
  type CalendarEvent,
  type EventInput,
  type OccurrencePatch,
  type OpContext,
} from '@kith/model';
import { KithError } from '../errors/catalogue.js';
import { sha256 } from '../ids.js';
import { fromModelError } from './errors.js';
import type { ParsedImport } from './ics-parse.js';

export { countComponents, parseIcs, type ParsedImport } from './ics-parse.js';
import { dateValues, ImportError, keyIn, readProp, text, timingOf, wallText, type FileZones } from './ics-times.js';
import { exportRule } from './ics-export.js';
import { alarmBasis, mergeReminders, readAlarms, type AlarmsRead, type AlarmSource } from './ics-alarms.js';
import { isUtcZone } from './zones.js';

export interface ImportIssue {
  uid: string | null;
  code: string;
  message: string;
}

export interface ImportResult {
  imported: number;
  updated: number;
  unchanged: number;
  skipped: number;
  errors: ImportIssue[];
}

/** At most this many issues are listed (the counts stay exact). */
const MAX_ISSUES = 100;


interface Desired {
  uid: string;
  id: string;
  input: EventInput;
  cancelledMaster: boolean;
  cancelled: string[];
  overrides: Array<{ key: string; patch: OccurrencePatch }>;
  alarms: AlarmsRead;
}

export function eventIdForUid(uid: string): string {
  return `ics-${sha256(uid).slice(0, 32)}`;
}

function isCancelled(comp: ICAL.Component): boolean {
  const s = comp.getFirstPropertyValue('status');
  return typeof s === 'string' && s.toUpperCase() === 'CANCELLED';
}

/** A UID the model can store: bounded, without control characters (else the feed names the event by its id). */
function storableUid(uid: string): string | null {
  // eslint-disable-next-line no-control-regex
  return uid.length <= LIMITS.uid && !/[\u0000-\u001F\u007F]/.test(uid) ? uid : null;
}

/**
 * What the VEVENTs of one UID describe, from the file alone. The event's id and stored UID depend
 * on the room (an `<id>@kith` UID names a Kith event): set when the plan is applied. Yields after
 * each value and override it converts.
 */
function* describe(master: ICAL.Component, uid: string, overrides: ICAL.Component[], zones: FileZones, calZone: string | null): Generator<void, { desired: Desired; issues: ImportIssue[] }> {
  const issues: ImportIssue[] = [];
  const rrules = master.getAllProperties('rrule');
  const recurring = rrules.length > 0 || master.getAllProperties('rdate').length > 0;
  // UTC times of a single event are shown in the calendar's own zone when the file names one; a
  // series keeps UTC (its rule repeats at a fixed UTC time).
  const timing = timingOf(master, zones, !recurring && calZone ? calZone : 'UTC');
  const input: EventInput = {
    id: eventIdForUid(uid),
    uid: storableUid(uid),
    title: text(master, 'summary', LIMITS.title),
    description: text(master, 'description', LIMITS.description),
    location: text(master, 'location', LIMITS.location),
    start: timing.start,
    end: timing.end,
    tz: timing.tz,
    endTz: timing.endTz,
    rrule: null,
    exdates: [],
    rdates: [],
  };
  const category = master.getFirstProperty('categories')?.getFirstValue();
  input.category = typeof category === 'string' && category.length > 0 ? category.slice(0, LIMITS.category) : null;
  const color = master.getFirstPropertyValue('color');
  input.color = typeof color === 'string' && color.length > 0 ? color.slice(0, LIMITS.color) : null;
  if (rrules.length > 1) issues.push({ uid, code: 'INVALID_RECURRENCE', message: 'only the first of several RRULEs was imported' });
  const rule = rrules[0]?.getFirstValue();
  // UNTIL in the form the feed writes it (UTC for zoned series, a date for all-day ones), so a
  // round trip through the feed reads back the same rule.
  if (rule instanceof ICAL.Recur) input.rrule = exportRule(rule.toString(), timing.allDay ? { kind: 'date' } : timing.tz === null ? { kind: 'floating' } : { kind: 'utc', tz: timing.tz });
  const seriesTz = timing.allDay ? null : timing.tz;
  input.exdates = yield* dateValues(master, 'exdate', zones, seriesTz);
  input.rdates = yield* dateValues(master, 'rdate', zones, seriesTz);

  let alarms: AlarmsRead;
  try {
    alarms = readAlarms(master, alarmBasis(timing));
  } catch {
    alarms = { alarms: [], dropped: master.getAllSubcomponents('valarm').length };
  }
  const desired: Desired = { uid, id: input.id!, input, cancelledMaster: isCancelled(master), cancelled: [], overrides: [], alarms };
  for (const comp of overrides) {
    yield;
    try {
      const rid = readProp(comp, 'recurrence-id', zones);
      if (!rid) continue;
      const key = keyIn(rid, seriesTz);
      if (isCancelled(comp)) {
        desired.cancelled.push(key);
        continue;
      }
      const t = timingOf(comp, zones, seriesTz ?? 'UTC');
      const patch: OccurrencePatch = {};
      if (comp.getFirstProperty('summary')) patch.title = text(comp, 'summary', LIMITS.title);
      if (comp.getFirstProperty('description')) patch.description = text(comp, 'description', LIMITS.description);
      if (comp.getFirstProperty('location')) patch.location = text(comp, 'location', LIMITS.location);
      if (t.allDay === timing.allDay) {
        // Times of the override, in the series' zone (the model keeps one zone per series).
        const inSeries = (wall: string, from: string | null): string =>
          timing.allDay || from === seriesTz || from === null || seriesTz === null
            ? wall
            : wallText(Temporal.PlainDateTime.from(wall).toZonedDateTime(from, { disambiguation: 'compatible' }).withTimeZone(seriesTz).toPlainDateTime());
        patch.start = inSeries(t.start, t.tz);
        patch.end = inSeries(t.end, t.endTz ?? t.tz);
      } else {
        // The model keeps one kind (all-day or timed) per series: said, never silently dropped.
        issues.push({
          uid,
          code: 'UNSUPPORTED_OVERRIDE',
          message: `the occurrence of ${key} was made ${t.allDay ? 'all-day' : 'timed'} in a ${timing.allDay ? 'all-day' : 'timed'} series; its time was not changed`,
        });
      }
      desired.overrides.push({ key, patch });
    } catch (err) {
      issues.push(issueOf(uid, err));
    }
  }
  keepFirstOverrides(desired, issues);
  return { desired, issues };
}

/**
 * A series keeps at most LIMITS.overrides changed or cancelled occurrences (the model reads no
 * more, and one CalDAV object holds no more): the first ones by date are imported, the rest said.
 */
function keepFirstOverrides(desired: Desired, issues: ImportIssue[]): void {
  const keys = [...new Set([...desired.cancelled, ...desired.overrides.map((o) => o.key)])].sort();
  if (keys.length <= LIMITS.overrides) return;
  const kept = new Set(keys.slice(0, LIMITS.overrides));
  desired.cancelled = desired.cancelled.filter((k) => kept.has(k));
  desired.overrides = desired.overrides.filter((o) => kept.has(o.key));
  issues.push({
    uid: desired.uid,
    code: 'TOO_MANY_ITEMS',
    message: `${keys.length - kept.size} changed or cancelled occurrences after ${keys[LIMITS.overrides - 1]} were not imported: a series keeps at most ${LIMITS.overrides}`,
  });
}

function issueOf(uid: string | null, err: unknown): ImportIssue {
  if (err instanceof ImportError) return { uid, code: err.code, message: err.message };
  if (err instanceof ModelError) {
    const e = fromModelError(err);
    return { uid, code: e.code, message: e.message };
  }
  if (err instanceof KithError) return { uid, code: err.code, message: err.message };
  // Anything else is ours (e.g. a TypeError): its message is not for the client.
  return { uid, code: 'INVALID_ICALENDAR', message: 'this event could not be read' };
}

// ---------------------------------------------------------------------------------------------
// Applying

/** The parts of an event an import controls, for telling whether a re-import changes anything. */
function comparable(ev: CalendarEvent): unknown {
  // The feed writes a cancelled occurrence as an EXDATE: the two are the same to a calendar.
  const cancelled = Object.keys(ev.overrides).filter((k) => ev.overrides[k]!.cancelled === true);
  const overrides = Object.fromEntries(Object.entries(ev.overrides).filter(([, ov]) => ov.cancelled !== true));
  return {
    title: ev.title,
    description: ev.description,
    location: ev.location,
    allDay: ev.allDay,
    start: ev.start,
    duration: ev.duration,
    tz: ev.allDay ? null : ev.tz !== null && isUtcZone(ev.tz) ? 'UTC' : ev.tz, // Etc/GMT is written (and read back) as UTC
    endTz: ev.endTz,
    rrule: ev.rrule,
    exdates: [...new Set([...ev.exdates, ...cancelled])].sort(),
    rdates: ev.rdates,
    overrides,
    segments: ev.segments,
    uid: ev.uid,
    color: ev.color,
    category: ev.category,
    reminders: ev.reminders.map((r) => [r.id, r.minutesBefore, r.for]),
  };
}

/** An event's `ov` map (schema.ts: per-occurrence overrides as flat `"occKey|field"` keys). */
function ovMapOf(doc: Y.Doc, id: string): Y.Map<unknown> {
  const ov = (doc.getMap(ROOT.events).get(id) as Y.Map<unknown>).get('ov');
  if (!(ov instanceof Y.Map)) throw new ImportError('INTERNAL', 'the event has no override map');
  return ov as Y.Map<unknown>;
}

/** Probe documents are replaced after this many overrides: deleted keys stay in a Y.Map and slow reads. */
const PROBE_REUSE = 100;

/**
 * The override entries of a series, each validated by the model on a probe copy of the bare
 * series. The model reads the whole event for every occurrence edit, so applying thousands of
 * RECURRENCE-IDs one by one to the same event costs quadratic time (3,000 took 24 s); on the
 * probe each edit sees only its own entries, which are then collected and cleared.
 */
function* overrideEntries(d: Desired, ctx: OpContext): Generator<void, { entries: Array<[string, unknown]>; issues: ImportIssue[] }> {
  const entries: Array<[string, unknown]> = [];
  const issues: ImportIssue[] = [];
  if (d.cancelled.length === 0 && d.overrides.length === 0) return { entries, issues };
  let probe: Y.Doc | undefined;
  let used = 0;
  const edits: Array<(doc: Y.Doc) => void> = [
    ...d.cancelled.map((key) => (doc: Y.Doc) => cancelOccurrence(doc, d.id, key, ctx)),
    ...d.overrides.map(({ key, patch }) => (doc: Y.Doc) => editOccurrence(doc, d.id, key, patch, ctx)),
  ];
  try {
    for (const edit of edits) {
      if (probe === undefined || used++ >= PROBE_REUSE) {
        probe?.destroy();
        probe = new Y.Doc();
        createEvent(probe, d.input, ctx);
        used = 1;
      }
      try {
        edit(probe);
      } catch (err) {
        issues.push(issueOf(d.uid, err));
      }
      const ov = ovMapOf(probe, d.id);
      for (const entry of ov.entries()) entries.push(entry);
      ov.clear();
      yield;
    }
  } finally {
    probe?.destroy();
  }
  return { entries, issues };
}

/**
 * Writes the desired event and its validated override entries, field by field: only values that
 * differ from the stored event are written (the model's writes skip equal values), so a concurrent
 * edit of another field by another client (a title changed offline while a phone moves the time
 * over CalDAV) survives the merge. An event split into "this and following" parts is first made a
 * plain series again: the file describes only the first part's rule.
 */
function write(doc: Y.Doc, d: Desired, entries: Array<[string, unknown]>, existing: CalendarEvent | null, ctx: OpContext): void {
  if (existing) {
    if (existing.rrule !== null && existing.segments.length > 0) updateEvent(doc, d.id, { rrule: null }, ctx);
    const { id: _id, ...patch } = d.input;
    updateEvent(doc, d.id, patch, ctx);
  } else {
    createEvent(doc, d.input, ctx);
  }
  // The file's overrides replace the stored ones: entries it no longer has go, changed ones are set.
  const ov = ovMapOf(doc, d.id);
  const want = new Map(entries);
  for (const key of [...ov.keys()]) if (!want.has(key)) ov.delete(key);
  for (const [key, value] of want) put(ov, key, value);
}

/** Sets a map entry only when its value differs (an equal write would still win over a concurrent edit). */
function put(map: Y.Map<unknown>, key: string, value: unknown): void {
  if (!map.has(key) || JSON.stringify(map.get(key)) !== JSON.stringify(value)) map.set(key, value);
}

/**
 * Events (plus their overrides) written per transaction. Each transaction is one Yjs update that
 * the main thread applies to the live room in one go, so this bounds how long that takes
 * (250 plain events: ~140 kB, ~30 ms); an import of any size is a handful of updates rather
 * than one per event (thousands of updates merged cost superlinear time).
 */
export const CHUNK_WEIGHT = 250;

/** One UID's VEVENTs as planned from the file: what to store, or why it cannot be. */
type Planned =
  | {
      uid: string;
      early: ImportIssue[];
      desired: Desired;
      issues: ImportIssue[];
      entries: Array<[string, unknown]>;
      overrideIssues: ImportIssue[];
      /** The model refused the event itself while its overrides were built: reported where it would be written. */
      entriesFailed?: ImportIssue;
    }
  | { uid: string; early: ImportIssue[]; failed: ImportIssue };

/** Plans one UID's VEVENTs from the file alone (no room needed), pausing between values and overrides. */
function* planGroup(group: ParsedImport['events'][number], parsed: ParsedImport, ctx: OpContext): Generator<void, Planned | null> {
  let overrides = group.overrides;
  let master = group.master;
  if (master === null) {
    // Occurrences of a series the file does not hold (e.g. one invitation): each stands alone.
    master = overrides[0] ?? null;
    overrides = [];
    if (master === null) return null;
  }
  const early: ImportIssue[] = [];
  const duplicates = overrides.filter((o) => !o.getFirstProperty('recurrence-id'));
  if (duplicates.length > 0) early.push({ uid: group.uid, code: 'VALIDATION_FAILED', message: 'the UID has several VEVENTs without RECURRENCE-ID; the first was imported' });
  overrides = overrides.filter((o) => o.getFirstProperty('recurrence-id'));
  const uid = group.master === null ? `${group.uid}#${master.getFirstProperty('recurrence-id')?.toICALString() ?? ''}` : group.uid;
  let described: { desired: Desired; issues: ImportIssue[] };
  try {
    described = yield* describe(master, uid, overrides, parsed.zones, parsed.calZone);
  } catch (err) {
    return { uid, early, failed: issueOf(uid, err) };
  }
  try {
    const { entries, issues: overrideIssues } = yield* overrideEntries(described.desired, ctx);
    return { uid, early, ...described, entries, overrideIssues };
  } catch (err) {
    // A file's cancelled master is still deleted, a trashed event still skipped, as before.
    return { uid, early, ...described, entries: [], overrideIssues: [], entriesFailed: issueOf(uid, err) };
  }
}

/** Runs planning steps to the end at once (the import worker has a thread of its own). */
function finish<T>(steps: Generator<void, T>): T {
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/** Planning time between turns of the event loop, for a PUT planned on the main thread. */
export const PLAN_SLICE_MS = 10;

/** A parsed file planned for applyPlanned: each UID's event and overrides, converted and validated. */
export interface PlannedImport {
  parsed: ParsedImport;
  groups: Array<Planned | null>;
}

/**
 * Plans a parsed file off the room, giving the event loop a turn every PLAN_SLICE_MS: an object of
 * 998 overrides or 2,000 EXDATE/RDATE values takes from 0.2 to over 1 s to plan, which must not
 * hold up every other room (a CalDAV PUT is applied on the main thread).
 */
export async function planImport(parsed: ParsedImport, actor: string): Promise<PlannedImport> {
  const ctx: OpContext = { actor };
  const groups: Array<Planned | null> = [];
  for (const group of parsed.events) {
    const steps = planGroup(group, parsed, ctx);
    let until = performance.now() + PLAN_SLICE_MS;
    for (let step = steps.next(); ; step = steps.next()) {
      if (step.done) {
        groups.push(step.value);
        break;
      }
      if (performance.now() >= until) {
        await nextTurn();
        until = performance.now() + PLAN_SLICE_MS;
      }
    }
  }
  return { parsed, groups };
}

/**
 * Applies a parsed file to a document, CHUNK_WEIGHT events per transaction. Runs in the import
 * worker, on that worker's copy of the room.
 */
export function applyImport(doc: Y.Doc, parsed: ParsedImport, actor: string, source: AlarmSource = { kind: 'file' }): ImportResult {
  const ctx: OpContext = { actor };
  return applyGroups(doc, parsed, (i) => finish(planGroup(parsed.events[i]!, parsed, ctx)), ctx, source);
}

/** Applies a planned file (planImport) to a document, as applyImport does. */
export function applyPlanned(doc: Y.Doc, planned: PlannedImport, actor: string, source: AlarmSource = { kind: 'file' }): ImportResult {
  return applyGroups(doc, planned.parsed, (i) => planned.groups[i] ?? null, { actor }, source);
}

function applyGroups(doc: Y.Doc, parsed: ParsedImport, planOf: (i: number) => Planned | null, ctx: OpContext, source: AlarmSource): ImportResult {
  const result: ImportResult = { imported: 0, updated: 0, unchanged: 0, skipped: 0, errors: [] };
  const report = (issues: ImportIssue[]) => {
    for (const i of issues) if (result.errors.length < MAX_ISSUES) result.errors.push(i);
  };
  report(parsed.issues);
  // Changed events are built here first: invalid data never reaches the room, and an unchanged
  // event is not rewritten. One scratch document for the whole import (a Y.Doc per event costs
  // random ids and allocations).
  const scratch = new Y.Doc();
  const groups = parsed.events;
  let next = 0;
  try {
    while (next < groups.length) {
      doc.transact(() => {
        let weight = 0;
        while (next < groups.length && weight < CHUNK_WEIGHT) {
          const group = groups[next]!;
          weight += 1 + group.overrides.length;
          applyGroup(doc, scratch, planOf(next++), ctx, source, result, report);
        }
      });
    }
  } finally {
    scratch.destroy();
  }
  return result;
}

const KITH_UID = /^(.+?)(?:_(\d{4}-\d{2}-\d{2}))?@kith$/;

/** The room's own event a `<eventId>@kith` (or segment `<eventId>_<splitKey>@kith`) UID names, if it exists. */
function ownEvent(doc: Y.Doc, uid: string): { id: string; segment: boolean } | null {
  const m = KITH_UID.exec(uid);
  if (!m) return null;
  const ev = getEvent(doc, m[1]!);
  if (ev === null) return null;
  return { id: ev.id, segment: m[2] !== undefined };
}

function applyGroup(
  doc: Y.Doc,
  scratch: Y.Doc,
  planned: Planned | null,
  ctx: OpContext,
  source: AlarmSource,
  result: ImportResult,
  report: (issues: ImportIssue[]) => void,
): void {
  if (planned === null) return;
  report(planned.early);
  const { uid } = planned;
  try {
    const own = ownEvent(doc, uid);
    if (own?.segment) {
      report([{ uid, code: 'UNSUPPORTED_OVERRIDE', message: 'a "this and following" part of a Kith series is not re-imported; edit it in Kith' }]);
      result.skipped++;
      return;
    }
    if ('failed' in planned) {
      report([planned.failed]);
      return;
    }
    const { desired, issues, entries, overrideIssues } = planned;
    desired.id = own?.id ?? eventIdForUid(uid);
    desired.input.id = desired.id;
    // An event made in Kith keeps having no UID of its own (the feed names it `<id>@kith`).
    desired.input.uid = own ? (getEvent(doc, own.id)?.uid ?? null) : storableUid(uid);
    const existing = getEvent(doc, desired.id);
    const fromFile = source.kind === 'file';
    if (desired.cancelledMaster && fromFile) {
      if (existing && existing.deleted === null) {
        deleteEvent(doc, desired.id, ctx);
        result.updated++;
      } else {
        result.skipped++;
      }
      return;
    }
    const trashed = existing !== null && existing.deleted !== null;
    if (trashed && fromFile) {
      result.skipped++; // in the trash: a restore brings it back, an import does not
      return;
    }
    // Reminders: the file's alarms merged with the stored ones (kept as they are when null).
    const current = existing?.reminders ?? [];
    const merged = mergeReminders(desired.id, current, desired.alarms, source);
    desired.input.reminders = merged.reminders ?? current.map((r) => ({ id: r.id, minutesBefore: r.minutesBefore, for: r.for }));
    const droppedAlarms = desired.alarms.dropped + merged.dropped;
    if (droppedAlarms > 0) {
      issues.push({
        uid,
        code: 'REMINDER_DROPPED',
        message: `${droppedAlarms} VALARM${droppedAlarms === 1 ? ' was' : 's were'} not imported: a reminder fires 0 to ${LIMITS.reminderMinutes} minutes before the start, at most ${LIMITS.reminders} per event`,
      });
    }
    if (planned.entriesFailed) {
      report([planned.entriesFailed]);
      return;
    }
    if (existing === null) {
      // createEvent validates before it writes: a refused event leaves nothing behind.
      write(doc, desired, entries, null, ctx);
      result.imported++;
    } else {
      write(scratch, desired, entries, null, ctx);
      const want = getEvent(scratch, desired.id);
      if (!want) throw new ImportError('INTERNAL', 'the event could not be built');
      const same = JSON.stringify(comparable(existing)) === JSON.stringify(comparable(want));
      if (trashed) {
        // A PUT of a trashed event's UID: that resource did not exist, so the PUT creates it
        // (RFC 4791 §5.3.2). The same event comes back (its comments and participants with it)
        // with the PUT's content, leaving the trash as a restore does.
        restoreEvent(doc, desired.id, ctx);
        if (!same) write(doc, desired, entries, existing, ctx);
        result.imported++;
      } else if (same) {
        result.unchanged++;
      } else {
        write(doc, desired, entries, existing, ctx);
        result.updated++;
      }
    }
    report([...issues, ...overrideIssues]);
  } catch (err) {
    report([issueOf(uid, err)]);
  }
}
