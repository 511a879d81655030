/**
 * One bounded page of `GET /rooms/:roomId/events`: at most `limit` occurrences and at most
 * MAX_PAGE_BYTES of them as JSON, in start order, with the cursor of the next page and the events
 * the model had to skip. The model already bounds every value it reads (titles, participants, …),
 * so one occurrence is at most a few tens of KiB and a page at most MAX_PAGE_BYTES plus one of them.
 */
import { cursorAfter, inYears, ModelError, queryOccurrences, type ModelErrorCode, type ViewWindow } from '@kith/model';
import type * as Y from 'yjs';
import { KithError } from '../errors/catalogue.js';
import { occurrenceView, type OccurrenceView } from './api-events.js';
import { fromModelError } from './errors.js';

export const PAGE = {
  /** Occurrences per page when the query names no limit, and the most it may ask for. */
  defaultLimit: 500,
  maxLimit: 1_000,
  /** JSON bytes of the occurrences of one page; a page always holds at least one occurrence. */
  maxBytes: 1024 * 1024,
} as const;

export interface SkippedView {
  eventId: string;
  code: string;
  message: string;
}

export interface OccurrencePageView {
  occurrences: OccurrenceView[];
  /** Cursor of the next page, null after the last. */
  next: string | null;
  skipped: SkippedView[];
  skippedCount: number;
}

/** The `limit` query parameter: a whole number from 1 to PAGE.maxLimit. */
export function pageLimit(raw: string | undefined): number {
  if (raw === undefined) return PAGE.defaultLimit;
  const n = /^\d{1,7}$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= 1 && n <= PAGE.maxLimit)) {
    throw new KithError('VALIDATION_FAILED', `limit must be a whole number from 1 to ${PAGE.maxLimit}, got "${raw.slice(0, 20)}"`);
  }
  return n;
}

/** A skipped event with the API's code and field names (`timeZone`, `startTime`, `recurrence`). */
function skippedView(s: { eventId: string; code: string; message: string; field?: string }): SkippedView {
  const e = fromModelError(new ModelError(s.code as ModelErrorCode, s.message, s.field));
  return { eventId: s.eventId, code: e.code, message: e.message };
}

/** As many skipped events as the model lists. */
const MAX_SKIPPED_LISTED = 100;

/** Whether every time of a view can be written: the model keeps each occurrence in range, but a viewer's far zone can still move one across 9999-12-31. */
const writable = (v: OccurrenceView): boolean =>
  [v.startTime, v.endTime, v.localStartTime, v.localEndTime, v.originalStart].every((t) => inYears(t));

export function occurrencePage(doc: Y.Doc, window: ViewWindow, limit: number, cursor: string | undefined): OccurrencePageView {
  const page = queryOccurrences(doc, window, { limit, cursor: cursor ?? null });
  const skipped = page.skipped.map(skippedView);
  let skippedCount = page.skippedCount;
  const outside = new Set<string>();
  const views: OccurrenceView[] = [];
  let bytes = 0;
  let next = page.next;
  for (const [i, occ] of page.occurrences.entries()) {
    const view = occurrenceView(occ, window.timeZone);
    if (!writable(view)) {
      if (!outside.has(occ.eventId)) {
        outside.add(occ.eventId);
        skippedCount++;
        const message = `startTime: an occurrence falls outside the years 0001 to 9999 in ${window.timeZone}`;
        if (skipped.length < MAX_SKIPPED_LISTED) skipped.push({ eventId: occ.eventId, code: 'INVALID_DATE', message });
      }
      continue;
    }
    const size = Buffer.byteLength(JSON.stringify(view)) + 1;
    if (views.length > 0 && bytes + size > PAGE.maxBytes) {
      // Cut short by size: the next page starts right after the last occurrence sent (or left out).
      next = cursorAfter(page.occurrences[i - 1]!);
      break;
    }
    views.push(view);
    bytes += size;
  }
  return { occurrences: views, next, skipped, skippedCount };
}
