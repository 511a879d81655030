/**
 * Writing Google's side into a room: turns the difference between what a part shows in Kith and what it
 * should show into @kith/model operations (never raw Y.Map writes), tagged with the mirror's origin.
 */
import {
  createEvent,
  editFollowing,
  editOccurrence,
  getEvent,
  ModelError,
  resetOccurrence,
  restoreOccurrence,
  updateEvent,
  type CalendarEvent,
  type EventPatch,
  type OccurrencePatch,
  type OpContext,
} from '@kith/model';
import type * as Y from 'yjs';
import { kithParts, msToWall, same, type Fields, type PartCanon, type Time } from './canon.js';
import { kithColor } from './colors.js';

function timeInput(t: Time): { start: string; end: string; tz: string | null; endTz: string | null } {
  if (t.allDay) return { start: t.start, end: t.end, tz: null, endTz: null };
  return { start: msToWall(t.start, t.tz), end: msToWall(t.end, t.endTz), tz: t.tz, endTz: t.endTz === t.tz ? null : t.endTz };
}

/** An occurrence's values; its colour only when it differs from the series' (`seriesColorId`), else it inherits. */
function occurrenceInput(v: Fields, seriesColorId?: string): OccurrencePatch {
  const t = timeInput(v.time);
  const color = v.colorId !== seriesColorId ? { color: kithColor(v.colorId) } : {};
  return { title: v.title, description: v.description, location: v.location, participants: v.participants, ...color, start: t.start, end: t.end };
}

/** Collects model errors instead of aborting: one odd value must not stop the rest of an import. */
function attempt(errors: string[], what: string, fn: () => void): void {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof ModelError)) throw err;
    errors.push(`${what}: ${err.code} ${err.message}`);
  }
}

/** Creates a Kith event for a Google event first seen in Google (adoption). Throws ModelError if it cannot. */
export function createFromCanon(doc: Y.Doc, kithId: string, want: PartCanon, ctx: OpContext): string[] {
  const errors: string[] = [];
  createEvent(
    doc,
    {
      id: kithId,
      title: want.title,
      description: want.description,
      location: want.location,
      ...timeInput(want.time),
      participants: want.participants,
      color: kithColor(want.colorId),
      rrule: want.rrule,
      exdates: want.exdates,
      rdates: want.rdates,
    },
    ctx,
  );
  for (const [k, v] of Object.entries(want.ov)) {
    attempt(errors, `occurrence ${k}`, () => editOccurrence(doc, kithId, k, occurrenceInput(v, want.colorId), ctx));
  }
  return errors;
}

function partOf(doc: Y.Doc, id: string, part: string, calTz: string): { ev: CalendarEvent; have: PartCanon } | null {
  const ev = getEvent(doc, id);
  if (!ev || ev.deleted !== null) return null;
  const have = kithParts(ev, calTz).get(part);
  return have ? { ev, have } : null;
}

/**
 * Makes part `part` of event `id` show `want`, changing only what differs. Returns the problems met (values
 * the model refuses are left as they are; the export then writes Kith's value back to Google).
 */
export function applyPart(doc: Y.Doc, id: string, part: string, want: PartCanon, calTz: string, ctx: OpContext): string[] {
  const errors: string[] = [];
  let cur = partOf(doc, id, part, calTz);
  if (!cur) return [`event ${id} part "${part}" is not in the room`];

  // 1. Series fields and timing.
  {
    const { ev, have } = cur;
    const patch: EventPatch = {};
    if (want.title !== have.title) patch.title = want.title;
    if (want.description !== have.description) patch.description = want.description;
    if (want.location !== have.location) patch.location = want.location;
    if (!same(want.participants, have.participants)) patch.participants = want.participants;
    // Only when Google's colour differs from the one Kith's colour shows as: Kith keeps its own shade otherwise.
    if (want.colorId !== have.colorId) patch.color = kithColor(want.colorId);
    if (!same(want.time, have.time)) Object.assign(patch, timeInput(want.time));
    // Rules of split series carry the UNTIL/COUNT the export wrote; only a plain series takes a rule from Google.
    const ruleEditable = part === '' && ev.segments.length === 0;
    if (ruleEditable && want.rrule !== have.rrule) patch.rrule = want.rrule;
    if (Object.keys(patch).length > 0) {
      if (part === '') {
        attempt(errors, 'event', () => updateEvent(doc, id, patch, ctx));
      } else {
        const { rrule: _r, ...seriesPatch } = patch;
        attempt(errors, `series from ${part}`, () => editFollowing(doc, id, part, seriesPatch, ctx));
      }
    }
  }

  // 2. Cancelled occurrences and extra dates.
  cur = partOf(doc, id, part, calTz);
  if (!cur) return errors;
  {
    const { ev, have } = cur;
    const exdates = new Set(ev.exdates);
    const rdates = new Set(ev.rdates);
    for (const k of want.exdates) if (!have.exdates.includes(k)) exdates.add(k);
    for (const k of have.exdates) {
      if (want.exdates.includes(k)) continue;
      exdates.delete(k);
      if (ev.overrides[k]?.cancelled) attempt(errors, `restore ${k}`, () => restoreOccurrence(doc, id, k, ctx));
    }
    for (const k of want.rdates) rdates.add(k);
    for (const k of have.rdates) if (!want.rdates.includes(k)) rdates.delete(k);
    const patch: EventPatch = {};
    if (!same([...exdates].sort(), ev.exdates)) patch.exdates = [...exdates].sort();
    if (!same([...rdates].sort(), ev.rdates)) patch.rdates = [...rdates].sort();
    if (Object.keys(patch).length > 0) attempt(errors, 'dates', () => updateEvent(doc, id, patch, ctx));
  }

  // 3. Occurrences that differ from the series.
  cur = partOf(doc, id, part, calTz);
  if (!cur) return errors;
  {
    const { ev, have } = cur;
    const keys = new Set([...Object.keys(want.ov), ...Object.keys(have.ov)]);
    for (const k of [...keys].sort()) {
      if (want.exdates.includes(k)) continue;
      const w = want.ov[k];
      if (same(w ?? null, have.ov[k] ?? null)) continue;
      if (w) {
        attempt(errors, `occurrence ${k}`, () => editOccurrence(doc, id, k, occurrenceInput(w, want.colorId), ctx));
        // The occurrence shows the series' colour again: drop a colour of its own.
        if (w.colorId === want.colorId && ev.overrides[k]?.color !== undefined) {
          attempt(errors, `occurrence ${k}`, () => resetOccurrence(doc, id, k, ctx, ['color']));
        }
      } else {
        attempt(errors, `occurrence ${k}`, () =>
          resetOccurrence(doc, id, k, ctx, ['title', 'description', 'location', 'start', 'duration', 'participants', 'color']),
        );
      }
    }
  }
  return errors;
}
