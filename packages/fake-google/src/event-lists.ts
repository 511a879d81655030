/**
 * `events.list` and `events.instances`: filters, ordering, expansion of series into instances, incremental
 * lists since a sync token, and pages that a page token resumes (Google may answer short or empty pages).
 */
import { randomBytes } from 'node:crypto';
import { type Calendar, type JsonObject, type StoredEvent, timeKey, type TimeValue } from './calendar-data.js';
import { errors } from './errors.js';
import type { EventRenderer } from './event-render.js';
import { QueryReader } from './query-reader.js';
import { exceptionsOf, instanceId, instanceTimes, instant, occurrences, type SeriesExpansion, spanOf } from './series.js';
import { readSyncToken, syncToken } from './sync-tokens.js';
import { dateString, instantOf, parseDate, parseDateTime } from './time.js';

export interface ListResult {
  items: JsonObject[];
  nextPageToken?: string;
  nextSyncToken?: string;
}

type Row = { type: 'event'; id: string } | { type: 'instance'; masterId: string; original: TimeValue };

interface PageState {
  calendarId: string;
  rows: Row[];
  offset: number;
  syncSeq: number | null;
  showDeleted: boolean;
  incremental: boolean;
  updatedMin: boolean;
  timeZone: string | undefined;
  maxResults: number;
  forInstances: boolean;
}

const SYNC_TOKEN_FORBIDDEN = [
  'iCalUID',
  'orderBy',
  'privateExtendedProperty',
  'sharedExtendedProperty',
  'q',
  'timeMin',
  'timeMax',
  'updatedMin',
] as const;
const MAX_PAGE_STATES = 2000;

export interface ListOptions extends SeriesExpansion {
  random: () => number;
  /** How far `updatedMin` may reach back before 410 `updatedMinTooLongAgo`. */
  updatedMinMaxAgeMs: number;
  /** When true, list pages are randomly short or empty (Google may do this), still with a nextPageToken. */
  shortPages: boolean;
}

export class EventLists {
  private readonly pages = new Map<string, PageState>();

  constructor(
    private readonly opts: ListOptions,
    private readonly render: EventRenderer,
  ) {}

  reset(): void {
    this.pages.clear();
  }

  listEvents(cal: Calendar, query: JsonObject): ListResult {
    const q = new QueryReader(query);
    const pageToken = q.string('pageToken');
    if (pageToken !== undefined) return this.nextPage(cal, pageToken, false);

    const syncToken = q.string('syncToken');
    const timeZone = q.timeZone();
    const maxResults = q.maxResults(250);
    const singleEvents = q.bool('singleEvents') ?? false;
    const orderBy = q.string('orderBy');
    if (orderBy !== undefined && orderBy !== 'startTime' && orderBy !== 'updated') {
      throw errors.invalidParameter('orderBy');
    }
    let rows: Row[];
    let showDeleted: boolean;
    let updatedMinGiven = false;
    if (syncToken !== undefined) {
      for (const p of SYNC_TOKEN_FORBIDDEN) {
        if (query[p] !== undefined) {
          throw errors.badRequest(`Invalid combination of parameters: syncToken and ${p}.`, 'invalid', 'global', {
            type: 'parameter',
            name: p,
          });
        }
      }
      if (q.bool('showDeleted') === false) {
        throw errors.badRequest('Invalid combination of parameters: syncToken and showDeleted=false.', 'invalid', 'global', {
          type: 'parameter',
          name: 'showDeleted',
        });
      }
      const since = readSyncToken(cal, syncToken);
      showDeleted = true;
      const changed = [...cal.events.values()].filter((e) => e.changeSeq > since).sort((a, b) => a.changeSeq - b.changeSeq);
      rows = [];
      for (const ev of changed) {
        if (singleEvents && ev.recurrence && ev.status !== 'cancelled') rows.push(...this.instanceRows(cal, ev));
        else rows.push({ type: 'event', id: ev.id });
      }
    } else {
      if (orderBy === 'startTime' && !singleEvents) {
        throw errors.badRequest('The requested ordering is not available for the particular query.', 'badRequest', 'global', {
          type: 'parameter',
          name: 'orderBy',
        });
      }
      const timeMin = q.instant('timeMin');
      const timeMax = q.instant('timeMax');
      if (timeMin !== undefined && timeMax !== undefined && timeMax <= timeMin) throw errors.timeRangeEmpty('timeMax');
      const updatedMin = q.instant('updatedMin');
      if (updatedMin !== undefined && this.opts.now() - updatedMin > this.opts.updatedMinMaxAgeMs) {
        throw errors.updatedMinTooLongAgo();
      }
      updatedMinGiven = updatedMin !== undefined;
      showDeleted = (q.bool('showDeleted') ?? false) || updatedMinGiven;
      const text = q.string('q')?.toLowerCase();
      const iCalUID = q.string('iCalUID');
      const priv = q.propertyFilters('privateExtendedProperty');
      const shared = q.propertyFilters('sharedExtendedProperty');
      const keep = (ev: StoredEvent, master?: StoredEvent): boolean => {
        const src = master ?? ev;
        if (updatedMin !== undefined && ev.updated < updatedMin) return false;
        if (iCalUID !== undefined && ev.iCalUID !== iCalUID) return false;
        if (text && !['summary', 'description', 'location'].some((k) => String(src.fields[k] ?? '').toLowerCase().includes(text))) {
          return false;
        }
        const ext = (src.fields.extendedProperties ?? {}) as { private?: JsonObject; shared?: JsonObject };
        if (!priv.every(([k, val]) => ext.private?.[k] === val)) return false;
        if (!shared.every(([k, val]) => ext.shared?.[k] === val)) return false;
        return true;
      };
      const overlaps = (s: TimeValue, e: TimeValue): boolean => {
        const [sMs, eMs] = spanOf(cal, s, e);
        return (timeMin === undefined || eMs > timeMin) && (timeMax === undefined || sMs < timeMax);
      };
      rows = [];
      const sortKeys = new Map<Row, [number, string]>();
      const push = (row: Row, startMs: number, updated: number, id: string): void => {
        rows.push(row);
        sortKeys.set(row, [orderBy === 'updated' ? updated : startMs, id]);
      };
      for (const ev of cal.events.values()) {
        if (ev.status === 'cancelled' && !showDeleted) continue;
        const master = ev.recurringEventId ? cal.events.get(ev.recurringEventId) : undefined;
        if (!keep(ev, master)) continue;
        if (ev.recurrence && ev.status !== 'cancelled') {
          if (singleEvents) {
            const exceptions = exceptionsOf(cal, ev.id);
            for (const original of occurrences(cal, ev, this.opts, timeMin, timeMax)) {
              if (exceptions.has(timeKey(original))) continue;
              push({ type: 'instance', masterId: ev.id, original }, instant(cal, original), ev.updated, ev.id);
            }
          } else if (timeMin === undefined && timeMax === undefined) {
            push({ type: 'event', id: ev.id }, instant(cal, ev.start), ev.updated, ev.id);
          } else if (occurrences(cal, ev, this.opts, timeMin, timeMax).length > 0) {
            push({ type: 'event', id: ev.id }, instant(cal, ev.start), ev.updated, ev.id);
          }
          continue;
        }
        if (ev.recurringEventId && master && master.status === 'cancelled' && ev.status !== 'cancelled') continue;
        const span = ev.status === 'cancelled' && ev.originalStart ? instanceTimes(master ?? ev, ev.originalStart) : ev;
        if (!overlaps(span.start, span.end)) continue;
        push({ type: 'event', id: ev.id }, instant(cal, ev.start), ev.updated, ev.id);
      }
      if (orderBy !== undefined) {
        rows.sort((a, b) => {
          const [ka, ia] = sortKeys.get(a)!;
          const [kb, ib] = sortKeys.get(b)!;
          return ka - kb || (ia < ib ? -1 : ia > ib ? 1 : 0);
        });
      }
    }
    const state: PageState = {
      calendarId: cal.id,
      rows,
      offset: 0,
      syncSeq: orderBy !== undefined ? null : cal.seq,
      showDeleted,
      incremental: syncToken !== undefined,
      updatedMin: updatedMinGiven,
      timeZone,
      maxResults,
      forInstances: false,
    };
    return this.page(cal, state);
  }

  private instanceRows(cal: Calendar, master: StoredEvent): Row[] {
    const exceptions = exceptionsOf(cal, master.id);
    return occurrences(cal, master, this.opts)
      .filter((o) => !exceptions.has(timeKey(o)))
      .map((original) => ({ type: 'instance', masterId: master.id, original }));
  }

  listInstances(cal: Calendar, eventId: string, query: JsonObject): ListResult {
    const q = new QueryReader(query);
    const pageToken = q.string('pageToken');
    if (pageToken !== undefined) return this.nextPage(cal, pageToken, true);
    const master = cal.events.get(eventId);
    if (!master) throw errors.notFound();
    if (master.status === 'cancelled') throw errors.deleted();
    const timeZone = q.timeZone();
    const maxResults = q.maxResults(250);
    const showDeleted = q.bool('showDeleted') ?? false;
    const timeMin = q.instant('timeMin');
    const timeMax = q.instant('timeMax');
    if (timeMin !== undefined && timeMax !== undefined && timeMax <= timeMin) throw errors.timeRangeEmpty('timeMax');
    const originalStart = q.string('originalStart');
    let originalFilter: string | undefined;
    if (originalStart !== undefined) {
      const p = parseDateTime(originalStart);
      const d = parseDate(originalStart);
      if (p && p.offsetMin !== null) originalFilter = `t${instantOf(p, undefined)}`;
      else if (d) originalFilter = `d${dateString(d)}`;
      else throw errors.invalidParameter('originalStart');
    }
    let rows: Row[];
    if (!master.recurrence) {
      rows = [{ type: 'event', id: master.id }];
    } else {
      const exceptions = exceptionsOf(cal, master.id);
      rows = [];
      for (const original of occurrences(cal, master, this.opts, timeMin, timeMax)) {
        const ex = exceptions.get(timeKey(original));
        rows.push(ex ? { type: 'event', id: ex.id } : { type: 'instance', masterId: master.id, original });
      }
      // Exceptions moved into the window from outside it.
      for (const ex of exceptions.values()) {
        if (ex.status === 'cancelled') continue;
        if (rows.some((r) => r.type === 'event' && r.id === ex.id)) continue;
        const [s, e] = spanOf(cal, ex.start, ex.end);
        if ((timeMin === undefined || e > timeMin) && (timeMax === undefined || s < timeMax)) {
          rows.push({ type: 'event', id: ex.id });
        }
      }
    }
    if (originalFilter !== undefined) {
      rows = rows.filter((r) => {
        const orig = r.type === 'instance' ? r.original : cal.events.get(r.id)?.originalStart ?? cal.events.get(r.id)?.start;
        return orig !== undefined && timeKey(orig) === originalFilter;
      });
    }
    return this.page(cal, {
      calendarId: cal.id,
      rows,
      offset: 0,
      syncSeq: null,
      showDeleted,
      incremental: false,
      updatedMin: false,
      timeZone,
      maxResults,
      forInstances: true,
    });
  }

  private nextPage(cal: Calendar, pageToken: string, forInstances: boolean): ListResult {
    const state = this.pages.get(pageToken);
    if (!state || state.calendarId !== cal.id || state.forInstances !== forInstances) {
      throw errors.invalidParameter('pageToken', 'Invalid page token value.');
    }
    return this.page(cal, state);
  }

  private page(cal: Calendar, state: PageState): ListResult {
    let size = state.maxResults;
    if (this.opts.shortPages && state.rows.length - state.offset > 1) {
      size = Math.floor(this.opts.random() * (state.maxResults + 1));
    }
    const slice = state.rows.slice(state.offset, state.offset + size);
    const items: JsonObject[] = [];
    for (const row of slice) {
      const rendered = this.renderRow(cal, row, state);
      if (rendered) items.push(rendered);
    }
    const offset = state.offset + slice.length;
    const result: ListResult = { items };
    if (offset < state.rows.length) {
      const token = `P${randomBytes(18).toString('base64url')}`;
      this.pages.set(token, { ...state, offset });
      if (this.pages.size > MAX_PAGE_STATES) {
        const oldest = this.pages.keys().next().value;
        if (oldest !== undefined) this.pages.delete(oldest);
      }
      result.nextPageToken = token;
    } else if (state.syncSeq !== null) {
      result.nextSyncToken = syncToken(cal, state.syncSeq);
    }
    return result;
  }

  private renderRow(cal: Calendar, row: Row, state: PageState): JsonObject | null {
    const includeDeleted = state.showDeleted || state.incremental || state.updatedMin;
    if (row.type === 'event') {
      const ev = cal.events.get(row.id);
      if (!ev) return null;
      if (ev.status === 'cancelled') {
        if (!includeDeleted) return null;
        return this.render.renderTombstone(cal, ev, state.timeZone);
      }
      return this.render.renderEvent(cal, ev, state.timeZone);
    }
    const master = cal.events.get(row.masterId);
    if (!master || master.status === 'cancelled') return null;
    const id = instanceId(cal, master.id, row.original);
    const ex = cal.events.get(id);
    if (ex) {
      if (ex.status === 'cancelled') return includeDeleted ? this.render.renderTombstone(cal, ex, state.timeZone) : null;
      return this.render.renderEvent(cal, ex, state.timeZone);
    }
    return this.render.renderInstance(cal, master, row.original, state.timeZone);
  }
}
