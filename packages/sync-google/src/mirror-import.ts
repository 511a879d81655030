/**
 * The import of one link (Google → room): the changes Google lists since the last sync token are folded
 * into the mapped parts they belong to, then merged three ways with the room, room first and rows after.
 */
import type * as Y from 'yjs';
import { deleteEvent, deleteFollowing, getEvent, ModelError, restoreEvent, type OpContext } from '@kith/model';
import { kithParts, merge3, privateProps, PROP, remoteCanon, same, type PartCanon, type RemoteState } from './canon.js';
import { applyPart, createFromCanon } from './kith-apply.js';
import { classify, type GoogleClients } from './google.js';
import { LinkPaused, mirrorOpContext, type MirrorTools, type RunnerContext } from './mirror-context.js';
import { adoptedKithId, emptyRemote, foldException, foldMaster, googleIdFor, type GEvent } from './mirror-state.js';
import type { ResolvedOptions } from './options.js';
import type { LinkRow, MirrorRow } from './store.js';

/** One mapped part whose Google side changed: the row, Google's side now, and as last seen. */
export interface Entry {
  row: MirrorRow;
  rs: RemoteState;
  prev: RemoteState | null;
  /** Merge base when it is not Google's previous side (taking Google's normalised form of our own write). */
  base?: PartCanon;
  /** Deleted in Google as part of a mass deletion an owner chose to undo: the room's event is kept (and re-sent). */
  keepLocal?: boolean;
}

export class MirrorImport {
  constructor(private readonly tools: MirrorTools) {}

  private get ctx(): RunnerContext {
    return this.tools.ctx;
  }

  private get roomId(): string {
    return this.tools.roomId;
  }

  private get options(): ResolvedOptions {
    return this.tools.ctx.options;
  }

  private get opCtx(): OpContext {
    return mirrorOpContext(this.options);
  }

  private call<T>(link: LinkRow, google: GoogleClients, what: string, fn: () => Promise<T>): Promise<T> {
    return this.tools.call(link, google, what, fn);
  }

  async importChanges(link: LinkRow, google: GoogleClients): Promise<void> {
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

  /** Folds Google resources into the rows they belong to, then merges each touched part with the room. */
  private async applyRemote(link: LinkRow, items: GEvent[]): Promise<void> {
    if (items.length === 0) return;
    const { store } = this.ctx;
    const rows = store.mirrorRows(this.roomId);
    const byGoogle = new Map(rows.map((r) => [r.googleId, r]));
    const touched = new Map<string, Entry>();
    const duplicates: GEvent[] = [];
    const reclaim: string[] = []; // copies adopted as events of their own, whose identity Google must forget
    const entryFor = (googleId: string): Entry | undefined => {
      const hit = touched.get(googleId);
      if (hit) return hit;
      const row = byGoogle.get(googleId);
      if (!row) return undefined;
      const entry: Entry = { row, rs: structuredClone(row.remote) ?? emptyRemote(googleId), prev: row.remote };
      // Our insert whose answer was lost, listed before its retry: what it sent is the merge base.
      if (row.state === 'inserting' && row.sent) entry.base = JSON.parse(row.sent) as PartCanon;
      touched.set(googleId, entry);
      return entry;
    };

    for (const item of items) {
      if (!item.id || item.recurringEventId) continue;
      const claimed = privateProps(item)[PROP.kithId];
      const known = byGoogle.get(item.id);
      if (known && claimed && claimed !== known.kithId && item.status !== 'cancelled') {
        if (known.kithId !== adoptedKithId(link.calendarId, item.id)) {
          this.options.logger.warn({ roomId: this.roomId, googleId: item.id }, 'Google event claims another Kith event than its mapping; ignored');
          continue;
        }
        reclaim.push(item.id); // an adopted copy whose identity rewrite has not reached Google yet
      }
      let entry = entryFor(item.id);
      if (!entry) {
        const props = privateProps(item);
        const ours = props[PROP.room] === this.roomId && typeof props[PROP.kithId] === 'string' && props[PROP.kithId] !== '';
        const kithId = props[PROP.kithId] ?? '';
        const part = props[PROP.part] ?? '';
        const other = ours ? rows.find((r) => r.kithId === kithId && r.part === part && r.state !== 'gone' && r.googleId !== item.id) : undefined;
        if (other && item.status === 'cancelled') continue;
        if (other && isOwnGoogleId(rows, this.roomId, kithId, part, item.id)) {
          // Two of our own ids claim one part (an older generation restored in Google, say): the mapped one stays.
          duplicates.push(item);
          continue;
        }
        let row: MirrorRow;
        if (ours && !other) {
          row = { roomId: this.roomId, googleId: item.id, kithId, part, generation: -1, state: 'synced', remote: null, failedLocal: null, error: null, updatedAt: 0 };
        } else {
          if (item.status === 'cancelled') continue;
          // Created in Google, or a copy made there of a mapped event (a "this and following" split, a
          // duplicate) under an id of Google's choosing: an event of its own, which must stop claiming the original.
          if (claimed) reclaim.push(item.id);
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
        entry = { row, rs: emptyRemote(item.id), prev: null };
        touched.set(item.id, entry);
        byGoogle.set(item.id, row);
      }
      foldMaster(entry.rs, item, link.calendarTz);
    }
    for (const item of items) {
      if (!item.id || !item.recurringEventId) continue;
      const entry = entryFor(item.recurringEventId);
      if (!entry) continue;
      foldException(entry.rs, item, link.calendarTz);
    }
    this.holdMassDeletion(link, [...touched.values()]);
    this.tools.counters.imported += touched.size;
    await this.absorb(link, [...touched.values()]);
    if (link.massDelete) this.ctx.store.updateLink(this.roomId, { massDelete: null }, this.ctx.options.now());
    for (const googleId of reclaim) {
      // Written after the adoption is stored: if this fails, the next listing finds the row and writes it again.
      const row = byGoogle.get(googleId)!;
      const google = this.ctx.clients(link);
      await this.call(link, google, 'events.patch', () =>
        google.api.events.patch({
          calendarId: link.calendarId,
          eventId: googleId,
          sendUpdates: 'none',
          requestBody: { extendedProperties: { private: { [PROP.kithId]: row.kithId, [PROP.room]: this.roomId, [PROP.part]: row.part } } },
        }),
      );
    }
    for (const dup of duplicates) {
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

  /**
   * Someone emptied the calendar (or most of it): rather than deleting that many family events, hold the link
   * until an owner decides. Nothing of this listing is applied and its sync token is not kept, so the owner's
   * answer replays it: `apply` deletes in the room as usual, `restore` keeps the room's events (the export then
   * brings them back in Google).
   */
  private holdMassDeletion(link: LinkRow, entries: Entry[]): void {
    const deletions = entries.filter((entry) => entry.row.state === 'synced' && entry.prev && !entry.prev.cancelled && entry.rs.cancelled);
    if (deletions.length <= this.options.massDeleteLimit) return;
    if (link.massDelete === 'apply') return;
    if (link.massDelete === 'restore') {
      for (const entry of deletions) entry.keepLocal = true;
      return;
    }
    const { store, options } = this.ctx;
    const message = `Google deleted ${deletions.length} of this room's events at once (more than ${options.massDeleteLimit}); an owner must apply or undo the deletion`;
    options.logger.warn({ roomId: this.roomId, deletions: deletions.length }, 'mass deletion in Google; link held for an owner');
    store.updateLink(this.roomId, { status: 'awaiting_confirmation', statusReason: 'MASS_DELETE_IN_GOOGLE', lastError: message, lastErrorAt: options.now() }, options.now());
    throw new LinkPaused();
  }

  /**
   * Merges Google's new side of each entry with the room (room first, rows after), and marks the events whose
   * merged form still differs from Google for export.
   */
  async absorb(link: LinkRow, entries: Entry[]): Promise<void> {
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
      if (outcomes[index]!.needsExport) this.tools.markDirty(entry.row.kithId);
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
    let base = entry.base ?? (entry.prev ? remoteCanon(entry.prev) : null);
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
        // Restored from Google's trash (a tombstone that is confirmed again): a change like any other.
        const restoredInGoogle = Boolean(entry.prev?.cancelled) && !entry.rs.cancelled;
        if (theirs && ((base && !same(theirs, base)) || restoredInGoogle) && remoteUpdated > deletedAt) {
          // Edited or restored in Google after it was deleted here: the later change wins, the event comes back.
          restoreEvent(doc, id, this.opCtx);
          ev = getEvent(doc, id)!;
          // What the tombstone last showed is the base: edits made with the restore are Google's changes.
          if (!base && entry.prev?.master) base = remoteCanon({ ...entry.prev, cancelled: false });
        } else {
          return { ...ok, needsExport: entry.row.state !== 'gone' || !entry.rs.cancelled };
        }
      }
      const ours = kithParts(ev, calTz).get(part) ?? null;
      if (!theirs) {
        // Deleted in Google.
        if (!ours) return ok;
        if (entry.keepLocal) return { ...ok, needsExport: true };
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
      // A field changed on both sides goes to the side that changed that field last: the room's time from the
      // mirror's observer (else the event's last edit), Google's from when the value was first seen.
      const lastEdit = Date.parse(ev.updatedAt) || 0;
      const rs = entry.rs;
      const merged = merge3(mergeBase, ours, theirs, (field) => {
        const localTime = this.tools.fieldTime(id, part, field) ?? lastEdit;
        const remoteTime = field.startsWith('ov:') ? (rs.ex[field.slice(3)]?.updated ?? rs.updated) : (rs.times?.[field] ?? rs.updated);
        return localTime > remoteTime;
      });
      let errors: string[] = [];
      if (!same(merged, ours)) errors = applyPart(doc, id, part, merged, calTz, this.opCtx);
      const remoteMoved = !base || !same(theirs, base);
      return { needsExport: !same(merged, theirs) && (remoteMoved || !same(ours, base)), foreign: false, errors };
    } catch (err) {
      if (err instanceof ModelError) return { needsExport: false, foreign: !ev, errors: [`${err.code}: ${err.message}`] };
      throw err;
    }
  }
}

/** Whether `googleId` is one this room's mirror derives for the part (at any generation it has reached, or the next). */
function isOwnGoogleId(rows: MirrorRow[], roomId: string, kithId: string, part: string, googleId: string): boolean {
  const generations = rows.filter((r) => r.kithId === kithId && r.part === part).map((r) => r.generation);
  const last = Math.max(0, ...generations) + 1;
  for (let generation = 0; generation <= last; generation++) {
    if (googleIdFor(roomId, kithId, part, generation) === googleId) return true;
  }
  return false;
}
