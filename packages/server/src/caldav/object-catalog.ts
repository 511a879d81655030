/**
 * A room's events as CalDAV objects (one per UID, see eventObjects), with their ETags, kept per
 * instance and updated incrementally: each cached room is watched, and a Yjs observer notes which
 * events changed (by any client, on any instance: every instance's copy of a watched room
 * receives every commit). A request re-exports only those, so a sync after one change does not
 * re-export a 5,000-event room. Each refresh also reports which UIDs it rendered again, for the
 * sync index (sync-index.ts), and a request can wait for the copy's next commit (an instance whose
 * copy is behind the one the index was last recorded from waits for it to catch up).
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import * as Y from 'yjs';
import { Counter, type Registry } from 'prom-client';
import { getEvent, observeEvents, ROOT, type CalendarEvent, type Reminder } from '@kith/model';
import { sha256 } from '../ids.js';
import { eventObjects } from '../calendar/ics-export.js';
import { MAX_OBJECT_COMPONENTS } from './objects.js';
import { inSlices } from './slices.js';
import { occurrenceIndex } from './time-range.js';
import type { RoomApi } from '../modules/module.js';

export interface DavObject {
  uid: string;
  eventId: string;
  /** A strong ETag, quoted: the hash of the exact bytes GET answers. */
  etag: string;
  ics: string;
  /**
   * When the event can happen, for ruling it out of a time-range query without expanding it: its
   * wall-clock start and end read as UTC (ms), `to` null for a series (unbounded). Wall clocks are
   * within 14 hours of UTC, so a query widens its range by a day before comparing.
   */
  span: { from: number; to: number | null };
  /** A one-off event's or finite series' occurrences (time-range.ts), computed once here so a query needs no expansion. */
  occurrences: Float64Array | null;
  /** Reminders for named members, each added to their own view (user-view.ts); the title names them. */
  personal: Reminder[];
  title: string;
}

/** Events rendered per turn of the event loop while a room is first rendered (about 50–150 ms). */
const WARM_SLICE = 100;
/** Changed events a request's read renders at once; more are rendered in slices first (ObjectCatalog.catchUp). */
const CATCH_UP_FROM = 20;
/** Rounds of slices a request renders changes in before it renders what is left at once (a room edited meanwhile). */
const CATCH_UP_ROUNDS = 3;

/**
 * Overrides an event may have and be rendered: no more than one calendar object can hold, as a PUT
 * stores it (MAX_OBJECT_COMPONENTS components: the series and one per override). Only a raw Yjs
 * client writes more; written out they cost seconds per change (20,000 made a 6.4 MB object and a
 * 9–15 s render), and no client could PUT the object back. Such an event is left out of CalDAV
 * (counted in kith_caldav_events_left_out_total) rather than rendered without some overrides,
 * which a client's next PUT of it would store as the event, dropping the rest.
 */
const MAX_OVERRIDES = MAX_OBJECT_COMPONENTS - 1;
/** Stored override fields (`ov["occKey|field"]`) beyond which an event is left out unread: no override has this many fields. */
const MAX_OVERRIDE_FIELDS = MAX_OVERRIDES * 16;

/** What changed since the sync index last took it: every UID ('all') or these. */
export type PendingUids = 'all' | Set<string>;

/** Counts of rendering work (a home listing must not render every room: see Calendars.version). */
export interface CatalogMetrics {
  /** Rooms rendered from scratch (first use, or again after being let go). */
  roomsRendered: Counter;
  /** Events rendered into objects (a room's first rendering and each change). */
  eventsRendered: Counter;
  /** Renderings that left an event out for holding more overrides than a calendar object can (MAX_OVERRIDES). */
  eventsLeftOut: Counter;
}

export function catalogMetrics(registry: Registry): CatalogMetrics {
  return {
    roomsRendered: new Counter({ name: 'kith_caldav_rooms_rendered_total', help: 'Rooms whose CalDAV objects were rendered from scratch', registers: [registry] }),
    eventsRendered: new Counter({ name: 'kith_caldav_events_rendered_total', help: 'Events rendered into CalDAV objects', registers: [registry] }),
    eventsLeftOut: new Counter({
      name: 'kith_caldav_events_left_out_total',
      help: 'Renderings of an event left out of CalDAV for holding more overrides than a calendar object can',
      registers: [registry],
    }),
  };
}

class CachedRoom {
  readonly byEvent = new Map<string, DavObject[]>();
  readonly byUid = new Map<string, DavObject>();
  dirty: 'all' | Set<string> = 'all';
  pending: PendingUids = 'all';
  stop: () => void = () => undefined;
  lost = false;
  lastUsed = Date.now();
  /** Commits of the room seen (its own and other instances'), and who waits for the next one. */
  commits = 0;
  private readonly waiters = new Set<() => void>();
  /** The commit count at which a wait for a newer copy last ran out (not waited for again). */
  private stalledAt = -1;

  /** Set while a request renders changes in slices (ObjectCatalog.catchUp); others wait for it. */
  catchingUp: Promise<void> | null = null;

  constructor(
    private readonly rendered: (events: number) => void = () => undefined,
    private readonly leftOut: () => void = () => undefined,
  ) {}

  committed(): void {
    this.commits += 1;
    this.wake();
  }

  wake(): void {
    for (const w of [...this.waiters]) w();
  }

  /**
   * Resolves true once the copy is newer than at commit count `seen` (a commit since, or the room
   * let go: a reload is newer), false after `ms`, at once when a wait from this same state ran out.
   */
  newer(seen: number, ms: number): Promise<boolean> {
    if (this.lost || this.commits !== seen) return Promise.resolve(true);
    if (ms <= 0 || this.stalledAt === seen) return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = (result: boolean) => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        if (!result) this.stalledAt = seen;
        resolve(result);
      };
      const wake = () => done(true);
      const timer = setTimeout(() => done(false), ms);
      this.waiters.add(wake);
    });
  }

  markDirty(ids: readonly string[]): void {
    if (this.dirty === 'all') return;
    for (const id of ids) this.dirty.add(id);
  }

  private note(uid: string): void {
    if (this.pending !== 'all') this.pending.add(uid);
  }

  /**
   * Every UID of a rendered event is noted, changed ETag or not: the index may hold another
   * instance's rendering of an older or newer state of it, which this copy's must replace.
   */
  private setEvent(eventId: string, objects: DavObject[]): void {
    const old = this.byEvent.get(eventId) ?? [];
    for (const o of old) {
      if (this.byUid.get(o.uid) === o && !objects.some((n) => n.uid === o.uid)) {
        this.byUid.delete(o.uid);
        this.note(o.uid);
      }
    }
    for (const o of objects) {
      this.note(o.uid);
      this.byUid.set(o.uid, o);
    }
    if (objects.length > 0) this.byEvent.set(eventId, objects);
    else this.byEvent.delete(eventId);
  }

  /** Brings the objects up to date with `doc` (the watched room, as on disk). */
  refresh(doc: Y.Doc): void {
    if (this.dirty === 'all') {
      this.dirty = new Set();
      const ids = [...doc.getMap(ROOT.events).keys()];
      this.render(doc, ids);
      const seen = new Set(ids);
      for (const id of [...this.byEvent.keys()]) if (!seen.has(id)) this.setEvent(id, []);
      return;
    }
    const ids = this.dirty;
    this.dirty = new Set();
    this.render(doc, ids);
  }

  /** Renders these events again (a removed or trashed one, or one with too many overrides, has no objects). */
  render(doc: Y.Doc, ids: Iterable<string>): void {
    let n = 0;
    for (const id of ids) {
      const ev = tooManyOverrides(doc, id) ? 'too many' : getEvent(doc, id);
      if (ev === 'too many' || (ev !== null && ev.deleted === null && Object.keys(ev.overrides).length > MAX_OVERRIDES)) {
        this.leftOut();
        this.setEvent(id, []);
      } else {
        this.setEvent(id, ev === null || ev.deleted !== null ? [] : objectsOf(ev));
      }
      n += 1;
    }
    this.rendered(n);
  }

  /** Renders these of the changed events (each no longer marked changed: the document is as of now). */
  renderDirty(doc: Y.Doc, ids: readonly string[]): void {
    if (this.dirty === 'all') return;
    const dirty = this.dirty;
    const still = ids.filter((id) => dirty.has(id));
    this.render(doc, still);
    for (const id of still) dirty.delete(id);
  }

  takePending(): PendingUids {
    const p = this.pending;
    this.pending = new Set();
    return p;
  }
}

/**
 * Whether the stored event has more overrides than an object holds: told from the override map's
 * size when it has more fields than MAX_OVERRIDES overrides could (left out unread), else from its
 * keys (`occKey|field`). The model reads only the first MAX_OVERRIDES, so the event it returns
 * cannot tell.
 */
function tooManyOverrides(doc: Y.Doc, id: string): boolean {
  const ev = doc.getMap(ROOT.events).get(id);
  const ov = ev instanceof Y.Map ? ev.get('ov') : undefined;
  if (!(ov instanceof Y.Map) || ov.size <= MAX_OVERRIDES) return false;
  if (ov.size > MAX_OVERRIDE_FIELDS) return true;
  const keys = new Set<string>();
  for (const field of ov.keys()) {
    const bar = field.indexOf('|');
    keys.add(bar < 0 ? field : field.slice(0, bar));
    if (keys.size > MAX_OVERRIDES) return true;
  }
  return false;
}

/** An event's objects with ETags; none for an event the feed could not write either (left out, as there). */
function objectsOf(ev: CalendarEvent): DavObject[] {
  try {
    const span = spanOf(ev);
    const rendered = eventObjects(ev);
    const occurrences = rendered.length > 0 ? occurrenceIndex(ev, span) : null;
    return rendered.map(({ uid, ics, personal, title }) => ({ uid, eventId: ev.id, ics, etag: `"${sha256(ics).slice(0, 32)}"`, span, occurrences, personal, title }));
  } catch {
    return [];
  }
}

const wallMs = (wall: string): number => Date.parse(wall.length === 10 ? `${wall}T00:00:00Z` : `${wall}Z`);

function spanOf(ev: CalendarEvent): DavObject['span'] {
  const from = wallMs(ev.start);
  const series = ev.rrule !== null || ev.rdates.length > 0;
  // An override may move an occurrence anywhere: a series' span starts at the earliest of them.
  const moved = Object.values(ev.overrides)
    .map((ov) => (typeof ov.start === 'string' ? wallMs(ov.start) : NaN))
    .filter((ms) => Number.isFinite(ms));
  const start = Math.min(from, ...moved);
  if (!Number.isFinite(start)) return { from: -Infinity, to: null };
  const to = series ? null : wallMs(ev.end);
  return { from: start, to: to === null || !Number.isFinite(to) ? null : to };
}

/** A room's objects at one moment (valid only inside the read or edit that gave it). */
export interface RoomObjects {
  byUid: ReadonlyMap<string, DavObject>;
  doc: Y.Doc;
  /** The UIDs rendered since the sync index last took them ('all' after a (re)load); taking clears them. */
  takePending(): PendingUids;
  /** Hands back UIDs taken but not recorded ('all': everything is recorded again, after a failure). */
  giveBack(taken: PendingUids): void;
  /**
   * Resolves true once the room's copy is newer than at this moment (a commit reached it), false
   * after `ms` (at once if a wait from this same moment already ran out). Usable after the read.
   */
  newer(ms: number): Promise<boolean>;
}

export class ObjectCatalog {
  private readonly rooms = new Map<string, Promise<CachedRoom>>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly roomApi: RoomApi,
    /** Rooms kept (watched, their objects in memory) at once; the least recently used is let go. */
    private readonly maxRooms = 16,
    /** A room no CalDAV request used for this long is let go (a watched room stays loaded). */
    private readonly idleMs = 10 * 60_000,
    private readonly metrics?: CatalogMetrics,
  ) {
    this.sweeper = setInterval(() => this.sweep(), Math.min(idleMs, 60_000));
    this.sweeper.unref();
  }

  private sweep(now = Date.now()): void {
    for (const [roomId, entry] of this.rooms) {
      void entry.then(
        (room) => {
          if (now - room.lastUsed < this.idleMs || this.rooms.get(roomId) !== entry) return;
          this.rooms.delete(roomId);
          room.stop();
        },
        () => undefined,
      );
    }
  }

  /**
   * Runs `fn` on the room's up-to-date objects, synchronously inside the room's read (the document
   * is as it is on disk and does not change while `fn` runs).
   */
  async read<T>(roomId: string, fn: (objects: RoomObjects) => T): Promise<T> {
    const room = await this.cached(roomId);
    await this.catchUp(roomId, room);
    return this.roomApi.read(roomId, (doc) => fn(this.view(room, doc)));
  }

  /**
   * Edits the room (stored before the promise resolves), `fn` seeing its objects as they are just
   * before. Throwing before changing the document changes nothing.
   */
  async edit<T>(roomId: string, fn: (objects: RoomObjects) => T): Promise<T> {
    const room = await this.cached(roomId);
    await this.catchUp(roomId, room);
    return this.roomApi.edit(roomId, (doc) => fn(this.view(room, doc)), 'caldav');
  }

  /**
   * Renders the room's changed events in slices of about 20 ms (slices.ts) when more than
   * CATCH_UP_FROM changed: one edit of every event of a 2,000-event room made the next request's
   * read render them all at once (2 s with every other request waiting). Other requests wait for
   * it. An event stays marked changed until it is rendered, so a read never sees it stale; what
   * changes meanwhile is rendered in the next round, and after CATCH_UP_ROUNDS the request's own
   * read renders what is left. A failed read leaves the rest to that read too.
   */
  private async catchUp(roomId: string, room: CachedRoom): Promise<void> {
    while (room.catchingUp) await room.catchingUp;
    const large = () => !room.lost && room.dirty !== 'all' && room.dirty.size > CATCH_UP_FROM;
    if (!large()) return;
    const run = async () => {
      for (let round = 0; round < CATCH_UP_ROUNDS && large(); round++) {
        await inSlices<string, Y.Doc>(
          [...(room.dirty as Set<string>)],
          (slice) =>
            this.roomApi.read(roomId, (doc) => {
              if (room.lost) throw new Error('the room was let go'); // its next reader loads it afresh
              slice(doc);
            }),
          (id, doc) => room.renderDirty(doc, [id]),
        );
      }
    };
    room.catchingUp = run()
      .catch(() => undefined)
      .finally(() => {
        room.catchingUp = null;
      });
    await room.catchingUp;
  }

  private view(room: CachedRoom, doc: Y.Doc): RoomObjects {
    room.lastUsed = Date.now();
    room.refresh(doc);
    const commits = room.commits;
    return {
      byUid: room.byUid,
      doc,
      takePending: () => room.takePending(),
      giveBack: (taken) => {
        if (taken === 'all' || room.pending === 'all') room.pending = 'all';
        else for (const uid of taken) room.pending.add(uid);
      },
      newer: (ms) => room.newer(commits, ms),
    };
  }

  /** Whether the room's objects are kept here (a snapshot of it renders only what changed). */
  has(roomId: string): boolean {
    return this.rooms.has(roomId);
  }

  private async cached(roomId: string): Promise<CachedRoom> {
    const hit = this.rooms.get(roomId);
    if (hit) {
      const room = await hit;
      if (!room.lost) {
        // Most recently used last.
        this.rooms.delete(roomId);
        this.rooms.set(roomId, hit);
        return room;
      }
      if (this.rooms.get(roomId) === hit) this.rooms.delete(roomId);
    }
    const loading = this.watch(roomId);
    this.rooms.set(roomId, loading);
    loading.catch(() => {
      if (this.rooms.get(roomId) === loading) this.rooms.delete(roomId);
    });
    while (this.rooms.size > this.maxRooms) {
      const [oldest, entry] = this.rooms.entries().next().value as [string, Promise<CachedRoom>];
      this.rooms.delete(oldest);
      void entry.then((r) => r.stop(), () => undefined);
    }
    return loading;
  }

  private async watch(roomId: string): Promise<CachedRoom> {
    const room = new CachedRoom(
      (n) => this.metrics?.eventsRendered.inc(n),
      () => this.metrics?.eventsLeftOut.inc(),
    );
    this.metrics?.roomsRendered.inc();
    let unobserve: () => void = () => undefined;
    const unwatch = await this.roomApi.watch(roomId, {
      onOpen: (doc) => {
        unobserve = observeEvents(doc, (change) => room.markDirty(change.ids));
      },
      onCommitted: () => room.committed(),
      onLost: () => {
        room.lost = true;
        unobserve();
        room.wake();
      },
    });
    room.stop = () => {
      room.lost = true;
      unobserve();
      unwatch();
      room.wake();
    };
    try {
      await this.warm(roomId, room);
    } catch (err) {
      room.stop();
      throw err;
    }
    return room;
  }

  /**
   * The first rendering of a room, in slices between which the event loop runs (a 5,000-event
   * room takes seconds, which must not stall every socket of the server). Changes made meanwhile
   * are noted by the observer, attached first, and rendered by the next request's refresh.
   */
  private async warm(roomId: string, room: CachedRoom): Promise<void> {
    const ids = await this.roomApi.read(roomId, (doc) => {
      room.dirty = new Set();
      return [...doc.getMap(ROOT.events).keys()];
    });
    for (let i = 0; i < ids.length && !room.lost; i += WARM_SLICE) {
      const slice = ids.slice(i, i + WARM_SLICE);
      await this.roomApi.read(roomId, (doc) => room.render(doc, slice));
      await nextTurn();
    }
  }

  close(): void {
    clearInterval(this.sweeper);
    for (const entry of this.rooms.values()) void entry.then((r) => r.stop(), () => undefined);
    this.rooms.clear();
  }
}
