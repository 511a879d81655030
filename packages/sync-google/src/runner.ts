/**
 * The mirror of one linked room: import (Google → room) then export (room → Google), one cycle at a time.
 *
 * Durability without an outbox of its own: the room's document is durable (kith-server stores every edit
 * before anyone sees it) and each mirror row holds Google's side as last seen. What is pending for Google is
 * exactly where the room differs from those rows, so a worker that dies anywhere finds it again by comparing
 * the two. Order of writes makes every crash point safe:
 * - an insert's id is derived from (room, event, part, generation) and stored before the request is sent, so a
 *   retried insert gets 409 and the event is adopted, never duplicated;
 * - an import writes the room first and the row after, and saves the sync token only after every page was
 *   applied; a crash in between replays the same pages, which now merge to "no change";
 * - an export writes Google first and the row after; a crash in between leaves the row's etag stale, the next
 *   import sees our own write as a change equal to what the room holds, and nothing is written again.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { calendar_v3 } from '@googleapis/calendar';
import { getEvent, listEvents, observeEvents, restoreEvent, deleteEvent, deleteFollowing, ModelError, type OpContext } from '@kith/model';
import type * as Y from 'yjs';
import {
  base32hex,
  defaultsFor,
  exceptionKey,
  googleMaster,
  googleOccurrence,
  googleUpdated,
  kithParts,
  masterBody,
  masterPatch,
  merge3,
  occurrenceBody,
  privateProps,
  PROP,
  remoteCanon,
  same,
  stableJson,
  type Identity,
  type PartCanon,
  type RemoteException,
  type RemoteState,
} from './canon.js';
import { createFromCanon, applyPart } from './kith-apply.js';
import { Caller, classify, GoogleFailure, Life, Stopped, TokenBucket, type GoogleClients } from './google.js';
import { SYNC_ORIGIN, type GoogleSyncHost, type ResolvedOptions } from './options.js';
import type { Secrets } from './secrets.js';
import type { LinkRow, MirrorRow, StateStore } from './store.js';

type GEvent = calendar_v3.Schema$Event;

export interface RunnerContext {
  host: GoogleSyncHost;
  options: ResolvedOptions;
  store: StateStore;
  secrets: Secrets;
  life: Life;
  caller: Caller;
  bucket(userId: string): TokenBucket;
  clients(link: LinkRow): GoogleClients;
}

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

interface Entry {
  row: MirrorRow;
  rs: RemoteState;
  prev: RemoteState | null;
  /** Merge base when it is not Google's previous side (taking Google's normalised form of our own write). */
  base?: PartCanon;
}

type Step = 'done' | 'again' | 'reread';

/** The cycle found a reason to pause the link (recorded on it); nothing to retry. */
class LinkPaused extends Error {}

/** What one part's export sent last, to tell a normalising Google from a real change. */
interface ExportMemo {
  lastMaster?: string;
  lastOccurrence?: string;
}

const MAX_GENERATION = 8;

export class LinkRunner {
  private readonly dirty = new Set<string>();
  private fullScan = true;
  private needImport = true;
  private running: Promise<void> | null = null;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private unwatch: (() => void) | undefined;
  private stopped = false;
  private failures = 0;
  /** Backoff after a failed cycle: nothing runs before this time. */
  private notBefore = 0;
  private requested = 0;
  private completed = 0;
  private readonly waiters: Array<{ gen: number; resolve: () => void }> = [];
  /** Occurrence writes Google cannot take (no such instance); retried when the wanted values change. */
  private readonly unpatchable = new Set<string>();
  /** Counters for tests and the status route. */
  readonly counters = { cycles: 0, failedCycles: 0, imported: 0, exported: 0 };

  constructor(
    private readonly ctx: RunnerContext,
    readonly roomId: string,
  ) {}

  private get options(): ResolvedOptions {
    return this.ctx.options;
  }

  private get opCtx(): OpContext {
    return { actor: this.options.actor, origin: SYNC_ORIGIN };
  }

  // ---------------------------------------------------------------------------------------------- lifecycle

  async start(): Promise<void> {
    await this.watch();
    this.pollTimer = setInterval(() => {
      this.needImport = true;
      this.fullScan = true;
      this.kick(0);
    }, this.options.pollIntervalMs);
    this.pollTimer.unref();
    this.kick(0);
  }

  private async watch(): Promise<void> {
    let unobserve: (() => void) | undefined;
    const unwatch = await this.ctx.host.watchRoom(this.roomId, {
      onOpen: (doc: Y.Doc) => {
        unobserve = observeEvents(doc, (change) => {
          if (change.origin === SYNC_ORIGIN) return;
          for (const id of change.ids) this.dirty.add(id);
        });
      },
      onCommitted: () => {
        if (this.dirty.size > 0) this.kick();
      },
      onLost: () => {
        unobserve?.();
        this.unwatch = undefined;
        this.fullScan = true;
        if (this.stopped || this.ctx.life.dead) return;
        setTimeout(() => {
          if (!this.stopped && !this.ctx.life.dead) this.watch().catch((err) => this.options.logger.warn({ err, roomId: this.roomId }, 'rewatch failed'));
        }, 100).unref();
      },
    });
    this.unwatch = () => {
      unobserve?.();
      unwatch();
    };
    if (this.stopped) this.unwatch();
  }

  /** Stops timers and watching; a cycle in flight finishes (or dies with the worker's life). */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.timer = undefined;
    this.unwatch?.();
    this.unwatch = undefined;
    for (const waiter of this.waiters.splice(0)) waiter.resolve();
  }

  /** A cycle is running right now. */
  get busy(): boolean {
    return this.running !== null;
  }

  /** Resolves once everything in flight is done. */
  async idle(): Promise<void> {
    while (this.running) await this.running.catch(() => undefined);
  }

  /** A Google push said the calendar changed. */
  onPush(): void {
    this.needImport = true;
    this.kick();
  }

  /** Runs a full cycle (import, full export scan) and resolves after one started now has completed. */
  syncNow(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.requested += 1;
    const gen = this.requested;
    this.needImport = true;
    this.fullScan = true;
    const done = new Promise<void>((resolve) => this.waiters.push({ gen, resolve }));
    this.kick(0);
    return done;
  }

  private kick(delay = this.options.debounceMs): void {
    if (this.stopped || this.ctx.life.dead) return;
    delay = Math.max(delay, this.notBefore - this.options.now());
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer) {
      if (delay > 0) return;
      clearTimeout(this.timer);
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.run().finally(() => {
        this.running = null;
        if (this.again || this.hasWork()) {
          this.again = false;
          this.kick();
        }
      });
    }, delay);
  }

  private hasWork(): boolean {
    return this.needImport || this.fullScan || this.dirty.size > 0;
  }

  private resolveWaiters(upTo: number): void {
    this.completed = Math.max(this.completed, upTo);
    for (let index = this.waiters.length - 1; index >= 0; index--) {
      if (this.waiters[index]!.gen <= this.completed) this.waiters.splice(index, 1)[0]!.resolve();
    }
  }

  private async run(): Promise<void> {
    const target = this.requested;
    this.counters.cycles += 1;
    try {
      await this.cycle();
      this.failures = 0;
      this.notBefore = 0;
      this.resolveWaiters(target);
    } catch (err) {
      if (err instanceof Stopped || this.ctx.life.dead) return;
      if (err instanceof LinkPaused) {
        this.resolveWaiters(target);
        return;
      }
      this.counters.failedCycles += 1;
      await this.onCycleFailure(err, target);
    }
  }

  private async onCycleFailure(err: unknown, target: number): Promise<void> {
    const { store, options } = this.ctx;
    const now = options.now();
    // Every Google call surfaces as a GoogleFailure; anything else is a bug or a room that cannot be read.
    const failure = err instanceof GoogleFailure ? err : null;
    const message = failure ? `${failure.status ?? failure.reason ?? ''} ${failure.message}`.trim() : String((err as Error)?.message ?? err);
    if (failure?.kind === 'invalid_grant') {
      options.logger.warn({ roomId: this.roomId }, 'google grant refused; link needs re-authorisation');
      store.updateLink(this.roomId, { status: 'needs_reauth', statusReason: failure.reason ?? 'invalid_grant', lastError: message, lastErrorAt: now }, now);
      this.resolveWaiters(target);
      return;
    }
    if (failure?.kind === 'quota') {
      store.updateLink(this.roomId, { pausedUntil: now + options.quotaPauseMs, lastError: message, lastErrorAt: now }, now);
      this.resolveWaiters(target);
      this.schedule(options.quotaPauseMs, false);
      return;
    }
    if (!failure) options.logger.error({ err, roomId: this.roomId }, 'google sync cycle failed; will retry');
    else if (failure.kind === 'status') options.logger.warn({ roomId: this.roomId, status: failure.status, reason: failure.reason, message: failure.message }, 'google refused a request; will retry');
    else options.logger.debug({ roomId: this.roomId, status: failure.status, reason: failure.reason }, 'google sync cycle failed; will retry');
    store.updateLink(this.roomId, { lastError: message, lastErrorAt: now }, now);
    this.failures += 1;
    this.schedule(this.ctx.caller.backoff(Math.min(this.failures, 6)) + options.debounceMs);
  }

  private schedule(ms: number, block = true): void {
    if (block) this.notBefore = this.options.now() + ms;
    setTimeout(() => this.kick(0), ms).unref();
  }

  // ---------------------------------------------------------------------------------------------- a cycle

  private async cycle(): Promise<void> {
    const { store, host, life, options } = this.ctx;
    life.check();
    const link = store.link(this.roomId);
    if (!link || link.status !== 'active') {
      this.resolveWaiters(this.requested);
      return;
    }
    if (link.pausedUntil && link.pausedUntil > options.now()) {
      this.resolveWaiters(this.requested);
      this.schedule(link.pausedUntil - options.now(), false);
      return;
    }
    const role = await host.memberRole(this.roomId, link.userId);
    life.check();
    if (role !== 'owner' && role !== 'editor') {
      store.updateLink(this.roomId, { status: 'paused', statusReason: 'LINKED_USER_CANNOT_EDIT' }, options.now());
      return;
    }
    const google = this.ctx.clients(link);
    if (this.needImport) {
      this.needImport = false;
      try {
        await this.importChanges(link, google);
      } catch (err) {
        this.needImport = true;
        throw err;
      }
    }
    for (let pass = 0; pass < 10 && (this.fullScan || this.dirty.size > 0); pass++) {
      const all = this.fullScan;
      const ids = new Set(this.dirty);
      this.fullScan = false;
      this.dirty.clear();
      try {
        await this.exportChanges(link, google, all ? 'all' : ids);
      } catch (err) {
        if (all) this.fullScan = true;
        for (const id of ids) this.dirty.add(id);
        throw err;
      }
    }
    await this.maintainChannel(link, google);
    life.check();
    store.updateLink(this.roomId, { lastSyncAt: options.now(), lastError: null, lastErrorAt: null, pausedUntil: null }, options.now());
  }

  private call<T>(link: LinkRow, google: GoogleClients, what: string, fn: () => Promise<T>): Promise<T> {
    return this.ctx.caller.call(this.ctx.bucket(link.userId), what, fn, google.auth);
  }

  // ---------------------------------------------------------------------------------------------- import

  private async importChanges(link: LinkRow, google: GoogleClients): Promise<void> {
    const { store, life, options } = this.ctx;
    let syncToken = link.syncToken;
    const items: GEvent[] = [];
    let pageToken: string | undefined;
    let nextSyncToken: string | undefined;
    for (;;) {
      let res;
      try {
        res = await this.call(link, google, 'events.list', () =>
          google.api.events.list({
            calendarId: link.calendarId,
            showDeleted: true,
            singleEvents: false,
            maxResults: 250,
            ...(syncToken ? { syncToken } : {}),
            ...(pageToken ? { pageToken } : {}),
          }),
        );
      } catch (err) {
        const failure = classify(err);
        if (failure.status === 404) {
          // The calendar is gone (deleted in Google): stop, and let an owner link the room again (new calendar).
          options.logger.warn({ roomId: this.roomId }, 'the linked Google calendar no longer exists; link paused');
          store.updateLink(this.roomId, { status: 'paused', statusReason: 'CALENDAR_NOT_FOUND', lastError: failure.message, lastErrorAt: options.now() }, options.now());
          throw new LinkPaused();
        }
        if (failure.status === 410 && syncToken) {
          // The token expired: list everything again and merge by id (nothing is deleted for being absent).
          options.logger.info({ roomId: this.roomId }, 'sync token expired; full resync');
          syncToken = null;
          pageToken = undefined;
          items.length = 0;
          store.updateLink(this.roomId, { syncToken: null }, options.now());
          continue;
        }
        throw failure;
      }
      items.push(...(res.data.items ?? []));
      pageToken = res.data.nextPageToken ?? undefined;
      if (!pageToken) {
        nextSyncToken = res.data.nextSyncToken ?? undefined;
        break;
      }
    }
    await this.applyRemote(link, items);
    life.check();
    if (nextSyncToken) store.updateLink(this.roomId, { syncToken: nextSyncToken }, options.now());
  }

  private emptyRemote(id: string): RemoteState {
    return { id, etag: '', updated: 0, cancelled: false, master: null, ex: {} };
  }

  /** Folds Google resources into the rows they belong to, then merges each touched part with the room. */
  private async applyRemote(link: LinkRow, items: GEvent[]): Promise<void> {
    if (items.length === 0) return;
    const { store } = this.ctx;
    const rows = store.mirrorRows(this.roomId);
    const byGoogle = new Map(rows.map((r) => [r.googleId, r]));
    const touched = new Map<string, Entry>();
    const duplicates: GEvent[] = [];
    const entryFor = (googleId: string): Entry | undefined => {
      const hit = touched.get(googleId);
      if (hit) return hit;
      const row = byGoogle.get(googleId);
      if (!row) return undefined;
      const entry = { row, rs: structuredClone(row.remote) ?? this.emptyRemote(googleId), prev: row.remote };
      touched.set(googleId, entry);
      return entry;
    };

    for (const item of items) {
      if (!item.id || item.recurringEventId) continue;
      const claimed = privateProps(item)[PROP.kithId];
      const known = byGoogle.get(item.id);
      if (known && claimed && claimed !== known.kithId && item.status !== 'cancelled') {
        this.options.logger.warn({ roomId: this.roomId, googleId: item.id }, 'Google event claims another Kith event than its mapping; ignored');
        continue;
      }
      let entry = entryFor(item.id);
      if (!entry) {
        const props = privateProps(item);
        const ours = props[PROP.room] === this.roomId && typeof props[PROP.kithId] === 'string' && props[PROP.kithId] !== '';
        let row: MirrorRow;
        if (ours) {
          const kithId = props[PROP.kithId]!;
          const part = props[PROP.part] ?? '';
          const other = rows.find((r) => r.kithId === kithId && r.part === part && r.state !== 'gone' && r.googleId !== item.id);
          if (other) {
            if (item.status !== 'cancelled') duplicates.push(item);
            continue;
          }
          row = { roomId: this.roomId, googleId: item.id, kithId, part, generation: -1, state: 'synced', remote: null, failedLocal: null, error: null, updatedAt: 0 };
        } else {
          if (item.status === 'cancelled') continue;
          row = {
            roomId: this.roomId,
            googleId: item.id,
            kithId: adoptedKithId(link.calendarId, item.id),
            part: '',
            generation: -1,
            state: 'synced',
            remote: null,
            failedLocal: null,
            error: null,
            updatedAt: 0,
          };
        }
        entry = { row, rs: this.emptyRemote(item.id), prev: null };
        touched.set(item.id, entry);
        byGoogle.set(item.id, row);
      }
      this.foldMaster(entry.rs, item, link.calendarTz);
    }
    for (const item of items) {
      if (!item.id || !item.recurringEventId) continue;
      const entry = entryFor(item.recurringEventId);
      if (!entry) continue;
      this.foldException(entry.rs, item, link.calendarTz);
    }
    this.counters.imported += touched.size;
    await this.absorb(link, [...touched.values()]);
    for (const dup of duplicates) {
      // Two Google events claim the same Kith part (an id collision Google failed to detect): keep the mapped one.
      this.ctx.options.logger.warn({ roomId: this.roomId, googleId: dup.id }, 'duplicate Google event of a mapped part; deleting it');
      const google = this.ctx.clients(link);
      await this.call(link, google, 'events.delete', () =>
        google.api.events.delete({ calendarId: link.calendarId, eventId: dup.id!, sendUpdates: 'none' }),
      ).catch((err) => {
        const failure = classify(err);
        if (failure.status !== 404 && failure.status !== 410) throw failure;
      });
    }
  }

  private foldMaster(rs: RemoteState, item: GEvent, calTz: string): void {
    rs.etag = item.etag ?? rs.etag;
    if (item.status === 'cancelled') {
      rs.cancelled = true;
      return;
    }
    const master = googleMaster(item, calTz);
    if (!master) return;
    rs.cancelled = false;
    rs.master = master;
    rs.updated = googleUpdated(item);
  }

  private foldException(rs: RemoteState, item: GEvent, calTz: string): void {
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
   * Merges Google's new side of each entry with the room (room first, rows after), and marks the events whose
   * merged form still differs from Google for export.
   */
  private async absorb(link: LinkRow, entries: Entry[]): Promise<void> {
    if (entries.length === 0) return;
    const { host, store, life, options } = this.ctx;
    const outcomes = await host.editRoom(this.roomId, (doc) => {
      life.check();
      return entries.map((entry) => this.reconcile(doc, entry, link));
    });
    life.check();
    store.transaction(() => {
      entries.forEach((entry, index) => {
        const out = outcomes[index]!;
        const remoteChanged = !same(entry.prev, entry.rs);
        store.putMirror(
          {
            ...entry.row,
            state: out.foreign ? 'foreign' : entry.rs.cancelled ? 'gone' : 'synced',
            generation: entry.row.generation < 0 ? 0 : entry.row.generation,
            remote: entry.rs,
            failedLocal: remoteChanged ? null : entry.row.failedLocal,
            error: out.errors.length > 0 ? out.errors.join('; ').slice(0, 1000) : remoteChanged ? null : entry.row.error,
          },
          options.now(),
        );
      });
    });
    entries.forEach((entry, index) => {
      if (outcomes[index]!.needsExport) this.dirty.add(entry.row.kithId);
    });
  }

  /**
   * One part's three-way merge, inside the room edit: `ours` is the room's side, `theirs` Google's side now,
   * `base` Google's side as last seen (or the merge base an entry names).
   */
  private reconcile(doc: Y.Doc, entry: Entry, link: LinkRow): { needsExport: boolean; foreign: boolean; errors: string[] } {
    const calTz = link.calendarTz;
    const id = entry.row.kithId;
    const part = entry.row.part;
    const theirs = remoteCanon(entry.rs);
    const base = entry.base ?? (entry.prev ? remoteCanon(entry.prev) : null);
    let ev = getEvent(doc, id);
    const ok = { needsExport: false, foreign: false, errors: [] as string[] };
    try {
      if (!ev) {
        if (!theirs) return ok;
        if (part !== '') return { ...ok, foreign: true, errors: [`series part of an event that is not in the room`] };
        // Created in Google (or a mapped event purged from the room): adopt it.
        return { ...ok, errors: createFromCanon(doc, id, theirs, this.opCtx) };
      }
      if (ev.deleted !== null) {
        const deletedAt = Date.parse(ev.deleted.at);
        const remoteUpdated = Math.max(entry.rs.updated, ...Object.values(entry.rs.ex).map((exception) => exception.updated));
        if (theirs && base && !same(theirs, base) && remoteUpdated > deletedAt) {
          // Edited in Google after it was deleted here: the later edit wins, the event comes back.
          restoreEvent(doc, id, this.opCtx);
          ev = getEvent(doc, id)!;
        } else {
          return { ...ok, needsExport: entry.row.state !== 'gone' || !entry.rs.cancelled };
        }
      }
      const ours = kithParts(ev, calTz).get(part) ?? null;
      if (!theirs) {
        // Deleted in Google.
        if (!ours) return ok;
        if (base && same(ours, base)) {
          if (part !== '') deleteFollowing(doc, id, part, this.opCtx);
          else if (ev.segments.length === 0) deleteEvent(doc, id, this.opCtx);
          else return { ...ok, needsExport: true };
          return ok;
        }
        // Edited here since Google last showed it: the edit wins and the event is re-created there.
        return { ...ok, needsExport: true };
      }
      if (!ours) return { ...ok, needsExport: true };
      const mergeBase = base ?? theirs;
      const localTime = Date.parse(ev.updatedAt) || 0;
      const remoteTime = Math.max(entry.rs.updated, ...Object.values(entry.rs.ex).map((exception) => exception.updated));
      const merged = merge3(mergeBase, ours, theirs, localTime > remoteTime);
      let errors: string[] = [];
      if (!same(merged, ours)) errors = applyPart(doc, id, part, merged, calTz, this.opCtx);
      const remoteMoved = !base || !same(theirs, base);
      return { needsExport: !same(merged, theirs) && (remoteMoved || !same(ours, base)), foreign: false, errors };
    } catch (err) {
      if (err instanceof ModelError) return { needsExport: false, foreign: !ev, errors: [`${err.code}: ${err.message}`] };
      throw err;
    }
  }

  // ---------------------------------------------------------------------------------------------- export

  private readonly onReadError = (err: unknown, eventId: string): void => {
    this.options.logger.warn({ err, roomId: this.roomId, eventId }, 'event cannot be read for export; skipped');
  };

  private async readPart(link: LinkRow, kithId: string, part: string): Promise<PartCanon | null> {
    const snap = await this.ctx.host.readRoom(this.roomId, (doc) => snapshot(doc, new Set([kithId]), link.calendarTz, this.onReadError));
    this.ctx.life.check();
    return snap.get(kithId)?.parts.get(part) ?? null;
  }

  private async exportChanges(link: LinkRow, google: GoogleClients, ids: Set<string> | 'all'): Promise<void> {
    const { host, store, life } = this.ctx;
    const snap = await host.readRoom(this.roomId, (doc) => snapshot(doc, ids, link.calendarTz, this.onReadError));
    life.check();
    const rows = store.mirrorRows(this.roomId);
    const kithIds = ids === 'all' ? new Set([...snap.keys(), ...rows.map((r) => r.kithId)]) : ids;
    for (const kithId of [...kithIds].sort()) {
      const roomEvent = snap.get(kithId);
      // Never delete in Google for an event the room does not hold at all (purged, or adoption pending).
      if (!roomEvent) continue;
      for (const [part, ours] of roomEvent.parts) await this.exportPart(link, google, kithId, part, ours);
      for (const row of store.mirrorByKithId(this.roomId, kithId)) {
        if (roomEvent.parts.has(row.part)) continue;
        if (row.state === 'synced' || row.state === 'inserting') await this.deletePart(link, google, row);
      }
    }
  }

  private currentRow(kithId: string, part: string): MirrorRow | undefined {
    const rows = this.ctx.store.mirrorByKithId(this.roomId, kithId).filter((r) => r.part === part && r.state !== 'foreign');
    return rows.find((r) => r.state !== 'gone') ?? rows.sort((a, b) => b.generation - a.generation)[0];
  }

  private async exportPart(link: LinkRow, google: GoogleClients, kithId: string, part: string, local: PartCanon): Promise<void> {
    let ours: PartCanon | null = local;
    const memo: ExportMemo = {};
    for (let round = 0; round < 200; round++) {
      if (!ours) {
        const row = this.currentRow(kithId, part);
        if (row && (row.state === 'synced' || row.state === 'inserting')) await this.deletePart(link, google, row);
        return;
      }
      const step = await this.exportStep(link, google, kithId, part, ours, memo);
      if (step === 'done') return;
      if (step === 'reread') {
        // Google changed under us: what we sent last says nothing about normalisation any more.
        delete memo.lastMaster;
        delete memo.lastOccurrence;
        ours = await this.readPart(link, kithId, part);
      }
    }
    this.options.logger.warn({ roomId: this.roomId, kithId, part }, 'export did not settle; will retry next cycle');
  }

  private save(row: MirrorRow, patch: Partial<MirrorRow>): MirrorRow {
    const next = { ...row, ...patch };
    this.ctx.life.check();
    this.ctx.store.putMirror(next, this.options.now());
    return next;
  }

  private fail(row: MirrorRow, ours: PartCanon, failure: GoogleFailure): Step {
    this.options.logger.warn({ roomId: this.roomId, kithId: row.kithId, status: failure.status, reason: failure.reason, message: failure.message }, 'Google refused an event; it stays unsynced until it changes');
    this.save(row, { failedLocal: stableJson(ours), error: `${failure.status ?? ''} ${failure.reason ?? ''} ${failure.message}`.trim().slice(0, 1000) });
    return 'done';
  }

  private identity(row: MirrorRow): Identity {
    return { kithId: row.kithId, roomId: this.roomId, part: row.part };
  }

  private async getEvent(link: LinkRow, google: GoogleClients, eventId: string): Promise<GEvent | null> {
    try {
      const res = await this.call(link, google, 'events.get', () => google.api.events.get({ calendarId: link.calendarId, eventId }));
      return res.data;
    } catch (err) {
      const failure = classify(err);
      if (failure.status === 404) return null;
      throw failure;
    }
  }

  private remoteOf(item: GEvent, calTz: string, keepEx: Record<string, RemoteException> = {}): RemoteState {
    const rs: RemoteState = { id: item.id!, etag: '', updated: 0, cancelled: false, master: null, ex: structuredClone(keepEx) };
    this.foldMaster(rs, item, calTz);
    return rs;
  }

  /** Google changed under us (412 and friends): fetch, merge with the room, and go again. */
  private async refetch(link: LinkRow, google: GoogleClients, row: MirrorRow, exceptionKey?: string): Promise<Step> {
    const rs = structuredClone(row.remote) ?? this.emptyRemote(row.googleId);
    if (exceptionKey !== undefined) {
      const exception = rs.ex[exceptionKey];
      const got = exception ? await this.getEvent(link, google, exception.id) : null;
      if (got) this.foldException(rs, got, link.calendarTz);
      else delete rs.ex[exceptionKey];
    } else {
      const got = await this.getEvent(link, google, row.googleId);
      if (!got) return this.bumpGeneration(row);
      this.foldMaster(rs, got, link.calendarTz);
    }
    await this.absorb(link, [{ row, rs, prev: row.remote }]);
    return 'reread';
  }

  private bumpGeneration(row: MirrorRow): Step {
    const { store } = this.ctx;
    const generation = row.generation + 1;
    if (generation > MAX_GENERATION) {
      this.save(row, { error: 'no usable Google id after several generations' });
      return 'done';
    }
    this.ctx.life.check();
    store.transaction(() => {
      // The old id is not (or no longer) ours in Google: forget it, so a later import cannot confuse the two.
      store.deleteMirror(this.roomId, row.googleId);
      this.newRow(row.kithId, row.part, generation);
    });
    return 'again';
  }

  /** A new mapping row at the first generation from `from` whose id no other mapping uses. */
  private newRow(kithId: string, part: string, from: number): MirrorRow {
    let generation = from;
    let googleId = googleIdFor(this.roomId, kithId, part, generation);
    while (this.ctx.store.mirrorByGoogleId(this.roomId, googleId)) {
      generation += 1;
      googleId = googleIdFor(this.roomId, kithId, part, generation);
    }
    const row: MirrorRow = { roomId: this.roomId, googleId, kithId, part, generation, state: 'inserting', remote: null, failedLocal: null, error: null, updatedAt: 0 };
    this.ctx.life.check();
    this.ctx.store.putMirror(row, this.options.now());
    return row;
  }

  private async exportStep(link: LinkRow, google: GoogleClients, kithId: string, part: string, ours: PartCanon, memo: ExportMemo): Promise<Step> {
    const calTz = link.calendarTz;
    let row = this.currentRow(kithId, part);
    if (!row) {
      // The id is chosen and stored before the insert is sent: a retry after any failure reuses it.
      this.newRow(kithId, part, 0);
      return 'again';
    }
    if (row.failedLocal !== null && row.failedLocal === stableJson(ours)) return 'done';

    if (row.state === 'inserting' || !row.remote) {
      try {
        const res = await this.call(link, google, 'events.insert', () =>
          google.api.events.insert({ calendarId: link.calendarId, sendUpdates: 'none', requestBody: { ...masterBody(ours, this.identity(row!)), id: row!.googleId } }),
        );
        this.counters.exported += 1;
        this.save(row, { state: 'synced', remote: this.remoteOf(res.data, calTz), failedLocal: null, error: null });
        return 'again';
      } catch (err) {
        const failure = classify(err);
        if (failure.status === 409) {
          // Already there: ours from an earlier attempt (adopt it), or someone else's (next generation).
          const got = await this.getEvent(link, google, row.googleId);
          const props = got ? privateProps(got) : {};
          if (got && props[PROP.kithId] === kithId && props[PROP.room] === this.roomId && (props[PROP.part] ?? '') === part) {
            this.save(row, { state: got.status === 'cancelled' ? 'gone' : 'synced', remote: this.remoteOf(got, calTz) });
            return 'again';
          }
          return this.bumpGeneration(row);
        }
        if (failure.kind === 'status') return this.fail(row, ours, failure);
        throw failure;
      }
    }

    const rs = row.remote;
    if (rs.cancelled || !rs.master) {
      // Deleted in Google but alive here: bring it back under the same id.
      return this.patchMaster(link, google, row, ours, { ...masterBody(ours, this.identity(row), true), status: 'confirmed' });
    }
    const theirs = remoteCanon(rs);
    if (theirs && same(ours, theirs)) {
      if (row.failedLocal !== null) this.save(row, { failedLocal: null, error: null });
      return 'done';
    }

    // Master fields. EXDATE lines for every cancelled key except those already cancelled as exceptions.
    const exLines = ours.exdates.filter((occKey) => !rs.ex[occKey]?.cancelled || rs.master!.exdates.includes(occKey));
    const patch = masterPatch(ours, rs.master, exLines, this.identity(row));
    if (patch) {
      const sig = stableJson(patch);
      if (memo.lastMaster !== sig) {
        memo.lastMaster = sig;
        return this.patchMaster(link, google, row, ours, patch);
      }
      // The same write again: Google keeps its own form of it. Take that form into the room (series fields
      // only; occurrences and cancellations keep the room's side), so the two agree and nothing loops.
      if (theirs) {
        const base: PartCanon = { ...ours, exdates: theirs.exdates, rdates: theirs.rdates, ov: theirs.ov };
        await this.absorb(link, [{ row, rs, prev: rs, base }]);
      }
      return 'done';
    }

    // Occurrences.
    const keys = new Set([...Object.keys(ours.ov), ...Object.keys(rs.ex)]);
    for (const occKey of [...keys].sort()) {
      const exception = rs.ex[occKey];
      if (ours.exdates.includes(occKey)) {
        if (exception && !exception.cancelled) return this.deleteException(link, google, row, ours, occKey, exception);
        continue;
      }
      const want = ours.ov[occKey] ?? null;
      const target = want ?? defaultsFor(ours, occKey);
      if (exception && !exception.cancelled && exception.values && same(exception.values, target)) continue;
      if (!exception && !want) continue;
      const sig = `${occKey}|${stableJson(target)}`;
      if (memo.lastOccurrence === sig) continue;
      memo.lastOccurrence = sig;
      let inst: RemoteException | null = exception ?? null;
      if (!inst) {
        const unpatchableKey = `${row.googleId}|${occKey}|${stableJson(target)}`;
        if (this.unpatchable.has(unpatchableKey)) continue;
        inst = await this.findInstance(link, google, row, ours, occKey);
        if (!inst) {
          this.unpatchable.add(unpatchableKey);
          this.options.logger.warn({ roomId: this.roomId, kithId, occurrence: occKey }, 'Google has no such occurrence; the override stays local');
          continue;
        }
        if (!inst.cancelled && inst.values && same(inst.values, target)) {
          this.save(row, { remote: { ...rs, ex: { ...rs.ex, [occKey]: inst } } });
          return 'again';
        }
      }
      return this.patchException(link, google, row, ours, occKey, inst, target);
    }

    // What is left cannot be written (an occurrence Google does not have): it stays in the room as it is.
    return 'done';
  }

  private async patchMaster(link: LinkRow, google: GoogleClients, row: MirrorRow, ours: PartCanon, body: GEvent): Promise<Step> {
    const rs = row.remote!;
    try {
      const res = await this.call(link, google, 'events.patch', () =>
        google.api.events.patch(
          { calendarId: link.calendarId, eventId: row.googleId, sendUpdates: 'none', requestBody: body },
          rs.etag ? { headers: { 'If-Match': rs.etag } } : {},
        ),
      );
      this.counters.exported += 1;
      this.save(row, { state: 'synced', remote: this.remoteOf(res.data, link.calendarTz, rs.ex), failedLocal: null, error: null });
      return 'again';
    } catch (err) {
      const failure = classify(err);
      if (failure.status === 412 || failure.status === 410) return this.refetch(link, google, row);
      if (failure.status === 404) return this.bumpGeneration(row);
      if (failure.kind === 'status') return this.fail(row, ours, failure);
      throw failure;
    }
  }

  private async findInstance(link: LinkRow, google: GoogleClients, row: MirrorRow, ours: PartCanon, key: string): Promise<RemoteException | null> {
    const defaults = defaultsFor(ours, key);
    const center = defaults.time.allDay ? Date.parse(`${key}T00:00:00Z`) : defaults.time.start;
    const day = 86_400_000;
    const res = await this.call(link, google, 'events.instances', () =>
      google.api.events.instances({
        calendarId: link.calendarId,
        eventId: row.googleId,
        timeMin: new Date(center - 2 * day).toISOString(),
        timeMax: new Date(center + 3 * day).toISOString(),
        showDeleted: true,
        maxResults: 50,
      }),
    );
    const master = row.remote?.master ?? null;
    for (const item of res.data.items ?? []) {
      if (!item.id || exceptionKey(item, master, link.calendarTz) !== key) continue;
      const cancelled = item.status === 'cancelled';
      return { id: item.id, etag: item.etag ?? '', updated: googleUpdated(item), cancelled, values: cancelled ? null : googleOccurrence(item, link.calendarTz) };
    }
    return null;
  }

  private async patchException(
    link: LinkRow,
    google: GoogleClients,
    row: MirrorRow,
    ours: PartCanon,
    key: string,
    inst: RemoteException,
    target: ReturnType<typeof defaultsFor>,
  ): Promise<Step> {
    const rs = row.remote!;
    try {
      const res = await this.call(link, google, 'events.patch', () =>
        google.api.events.patch(
          { calendarId: link.calendarId, eventId: inst.id, sendUpdates: 'none', requestBody: occurrenceBody(target, this.identity(row), inst.cancelled) },
          inst.etag ? { headers: { 'If-Match': inst.etag } } : {},
        ),
      );
      this.counters.exported += 1;
      const next = structuredClone(rs);
      const cancelled = res.data.status === 'cancelled';
      next.ex[key] = {
        id: res.data.id ?? inst.id,
        etag: res.data.etag ?? '',
        updated: googleUpdated(res.data),
        cancelled,
        values: cancelled ? null : googleOccurrence(res.data, link.calendarTz),
      };
      this.save(row, { remote: next });
      return 'again';
    } catch (err) {
      const failure = classify(err);
      if (failure.status === 412 || failure.status === 410) {
        if (!rs.ex[key]) {
          this.save(row, { remote: { ...rs, ex: { ...rs.ex, [key]: inst } } });
          return this.refetch(link, google, { ...row, remote: { ...rs, ex: { ...rs.ex, [key]: inst } } }, key);
        }
        return this.refetch(link, google, row, key);
      }
      if (failure.status === 404) {
        const next = structuredClone(rs);
        delete next.ex[key];
        this.save(row, { remote: next });
        return 'again';
      }
      if (failure.kind === 'status') return this.fail(row, ours, failure);
      throw failure;
    }
  }

  private async deleteException(link: LinkRow, google: GoogleClients, row: MirrorRow, ours: PartCanon, key: string, exception: RemoteException): Promise<Step> {
    const rs = row.remote!;
    try {
      await this.call(link, google, 'events.delete', () =>
        google.api.events.delete({ calendarId: link.calendarId, eventId: exception.id, sendUpdates: 'none' }, exception.etag ? { headers: { 'If-Match': exception.etag } } : {}),
      );
      this.counters.exported += 1;
    } catch (err) {
      const failure = classify(err);
      if (failure.status === 412) return this.refetch(link, google, row, key);
      if (failure.status !== 404 && failure.status !== 410) {
        if (failure.kind === 'status') return this.fail(row, ours, failure);
        throw failure;
      }
    }
    this.save(row, { remote: { ...rs, ex: { ...rs.ex, [key]: { ...exception, cancelled: true, values: null } } } });
    return 'again';
  }

  private async deletePart(link: LinkRow, google: GoogleClients, row: MirrorRow): Promise<void> {
    const rs = row.remote;
    try {
      await this.call(link, google, 'events.delete', () =>
        google.api.events.delete(
          { calendarId: link.calendarId, eventId: row.googleId, sendUpdates: 'none' },
          rs?.etag && row.state === 'synced' ? { headers: { 'If-Match': rs.etag } } : {},
        ),
      );
      this.counters.exported += 1;
    } catch (err) {
      const failure = classify(err);
      if (failure.status === 412) {
        await this.refetch(link, google, row);
        return;
      }
      if (failure.status !== 404 && failure.status !== 410) {
        if (failure.kind === 'status') {
          this.save(row, { error: `delete refused: ${failure.message}`.slice(0, 1000) });
          return;
        }
        throw failure;
      }
    }
    this.save(row, { state: 'gone', remote: rs ? { ...rs, cancelled: true } : null });
  }

  // ---------------------------------------------------------------------------------------------- push channel

  private async maintainChannel(link: LinkRow, google: GoogleClients): Promise<void> {
    const { options, store, secrets, life } = this.ctx;
    if (!options.webhookBaseUrl) return;
    const now = options.now();
    const fresh = store.link(this.roomId) ?? link;
    if (fresh.channelId && (fresh.channelExpiration ?? 0) - now > options.channelRenewBeforeMs) return;
    const id = randomUUID();
    try {
      const res = await this.call(link, google, 'events.watch', () =>
        google.api.events.watch({
          calendarId: link.calendarId,
          requestBody: {
            id,
            type: 'web_hook',
            address: `${options.webhookBaseUrl}/google/push`,
            token: secrets.channelToken(id),
            expiration: String(now + options.channelTtlMs),
          },
        }),
      );
      life.check();
      store.updateLink(
        this.roomId,
        { channelId: id, channelResourceId: res.data.resourceId ?? null, channelExpiration: Number(res.data.expiration) || now + options.channelTtlMs },
        now,
      );
    } catch (err) {
      if (err instanceof Stopped) throw err;
      // Push is an optimisation: polling keeps working without it.
      options.logger.warn({ roomId: this.roomId, err: classify(err).message }, 'could not open a Google push channel; polling only');
      return;
    }
    if (fresh.channelId && fresh.channelResourceId) {
      const old = { id: fresh.channelId, resourceId: fresh.channelResourceId };
      await this.call(link, google, 'channels.stop', () => google.api.channels.stop({ requestBody: old })).catch(() => undefined);
    }
  }
}
