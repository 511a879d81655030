/**
 * A room's calendar on this device: the Y.Doc (kept in a local store, synced with the server),
 * the event model bound to it with the signed-in user as actor, undo/redo of my own edits,
 * presence, and the sync status.
 */
import * as model from '@kith/model';
import { isRole, type Role } from '@kith/protocol';
import type {
  CalendarEvent,
  DoubleBooking,
  EventInput,
  EventPatch,
  EventsChange,
  MemberId,
  Occurrence,
  OccurrenceField,
  OccurrencePage,
  OccurrencePatch,
  OpContext,
  PageOptions,
  ReminderDefaults,
  SeriesPatch,
  ViewWindow,
} from '@kith/model';
import { Awareness } from 'y-protocols/awareness';
import * as Y from 'yjs';
import { Emitter } from './emitter.js';
import type { KithSyncError } from './errors.js';
import type { LocalPersistence, RoomStore } from './persistence/types.js';
import type { User } from './session.js';
import { SyncConnection, type StopInfo, type SyncHost, type SyncStatus, type WebSocketConstructor } from './sync.js';
import { UnsavedLedger } from './unsaved.js';

export interface CalendarOptions {
  /** Connect to the server right away (default true); `calendar.connect()` later otherwise. */
  connect?: boolean;
  /** The zone occurrences are shown in when a query names none (default: this device's zone). */
  timeZone?: string;
  /** Edits closer together than this many ms undo as one step (default 0: every operation is its own step). */
  undoCaptureMs?: number;
}

export interface StatusInfo {
  status: SyncStatus;
  /** Local edit transactions the server has not yet confirmed as stored. */
  unsavedEdits: number;
}

/** Someone with this calendar open. */
export interface PresenceEntry {
  /** The Yjs awareness client id (one per open calendar: a user may appear more than once). */
  clientId: number;
  userId: string;
  username: string;
  /** The day they look at, "YYYY-MM-DD", or null. */
  viewing: string | null;
  /** This is me, on this device. */
  self: boolean;
}

export interface CalendarEvents {
  /** The status or the count of unsaved edits changed. */
  status: (info: StatusInfo) => void;
  /** Events changed (created, edited, trashed, restored, purged) — mine or from others. */
  change: (change: EventsChange) => void;
  /** The session is over (the refresh token was refused): sign in again, then `connect()`. */
  'auth-required': (info: StopInfo) => void;
  /** I may no longer open this room (removed, or the room is gone). The local copy stays. */
  'access-revoked': (info: StopInfo) => void;
  /** The server closed the socket for a reason reconnecting cannot fix (e.g. ROOM_TOO_LARGE). */
  error: (err: KithSyncError) => void;
  /** The undo or redo stack changed. */
  history: (info: { canUndo: boolean; canRedo: boolean }) => void;
  /** The server told me my role in this room, and it differs from what `role` said before. */
  role: (role: Role) => void;
}

/** A view window; `timeZone` defaults to the calendar's. */
export type WindowInput = Omit<ViewWindow, 'timeZone'> & { timeZone?: string };

interface OpenArgs extends CalendarOptions {
  roomId: string;
  user: User;
  storeName: string;
  persistence: LocalPersistence;
  syncUrl: string;
  WebSocket: WebSocketConstructor;
  host: SyncHost;
  maxBackoffMs: number;
  crossTab: boolean;
  onClose: (cal: Calendar) => void;
}

const LEDGER_KEY = 'kith.unsaved';

/** Each calendar's socket, for the client that opened it (token changes, sign-out): not for apps. */
const connections = new WeakMap<Calendar, SyncConnection>();

/** The sync connection behind a calendar; `@kith/client` does not export it. */
export function syncConnectionOf(calendar: Calendar): SyncConnection {
  const sync = connections.get(calendar);
  if (!sync) throw new Error(`calendar ${calendar.roomId} has no sync connection`);
  return sync;
}
const ROLE_KEY = 'kith.role';

/** The transaction origin of my edits through this calendar: what undo/redo tracks. */
export class LocalOrigin {
  constructor(readonly roomId: string) {}
}

export class Calendar {
  readonly roomId: string;
  readonly doc: Y.Doc;
  readonly awareness: Awareness;
  readonly undoManager: Y.UndoManager;
  /** Pass as the origin of your own `doc.transact` calls to make them undoable (or use `transact`). */
  readonly origin: LocalOrigin;
  readonly user: User;
  readonly timeZone: string;
  private readonly sync: SyncConnection;

  private readonly events = new Emitter<CalendarEvents>();
  private readonly ledger: UnsavedLedger;
  private readonly cleanups: Array<() => void> = [];
  private lastStatus: StatusInfo | undefined;
  private closing: Promise<void> | undefined;
  private isClosed = false;
  private ledgerWrite: Promise<void> = Promise.resolve();
  private ledgerDirty = false;
  private currentRole: Role | null;

  private constructor(
    args: OpenArgs,
    doc: Y.Doc,
    private readonly store: RoomStore,
    ledger: UnsavedLedger,
    private readonly onClosed: (cal: Calendar) => void,
    storedRole: Role | null,
  ) {
    this.roomId = args.roomId;
    this.currentRole = storedRole;
    this.user = args.user;
    this.doc = doc;
    this.ledger = ledger;
    this.origin = new LocalOrigin(args.roomId);
    this.timeZone = args.timeZone ?? Intl.DateTimeFormat().resolvedOptions().timeZone ?? 'UTC';
    this.awareness = new Awareness(doc);
    this.awareness.setLocalState({ user: { userId: args.user.userId, username: args.user.username }, viewing: null });
    this.undoManager = new Y.UndoManager(doc, {
      trackedOrigins: new Set([this.origin]),
      captureTimeout: args.undoCaptureMs ?? 0,
    });
    this.sync = new SyncConnection({
      url: args.syncUrl,
      roomId: args.roomId,
      doc,
      awareness: this.awareness,
      ledger,
      host: args.host,
      WebSocket: args.WebSocket,
      maxBackoffMs: args.maxBackoffMs,
      crossTab: args.crossTab,
    });
    connections.set(this, this.sync);

    // Every local transaction that changed something is an edit to be saved: mine through the
    // model, raw ones on the doc, and undo/redo. Updates from the server or the store are not.
    const afterTransaction = (tr: Y.Transaction) => {
      if (!tr.local) return;
      if (this.ledger.record(tr) === 'delete') this.sync.onLocalDelete();
    };
    doc.on('afterTransaction', afterTransaction);
    this.cleanups.push(() => doc.off('afterTransaction', afterTransaction));
    ledger.onChange(() => {
      this.persistLedger();
      this.emitStatus();
    });
    // Drop the stored sections of sessions this one adopted (a closed tab's, a reload's).
    if (ledger.needsWrite) this.persistLedger();
    this.cleanups.push(this.sync.on('change', () => this.emitStatus()));
    this.cleanups.push(this.sync.on('auth-required', (i) => this.events.emit('auth-required', i)));
    this.cleanups.push(this.sync.on('access-revoked', (i) => this.events.emit('access-revoked', i)));
    this.cleanups.push(this.sync.on('error', (e) => this.events.emit('error', e)));
    this.cleanups.push(this.sync.on('role', (role) => this.onRole(role)));
    this.cleanups.push(model.observeEvents(doc, (change) => this.events.emit('change', change)));
    const history = () => this.events.emit('history', { canUndo: this.canUndo(), canRedo: this.canRedo() });
    for (const ev of ['stack-item-added', 'stack-item-popped', 'stack-cleared'] as const) {
      this.undoManager.on(ev, history);
      this.cleanups.push(() => this.undoManager.off(ev, history));
    }
    this.lastStatus = this.statusInfo();
  }

  /** @internal Loads the local copy and the unsaved-edit ledger; does not connect. */
  static async open(args: OpenArgs): Promise<Calendar> {
    const doc = new Y.Doc();
    let store: RoomStore;
    try {
      store = await args.persistence.open(args.storeName, doc);
    } catch (err) {
      doc.destroy();
      throw err;
    }
    try {
      const ledger = new UnsavedLedger();
      ledger.restore(await store.getMeta(LEDGER_KEY), doc);
      const role = await store.getMeta(ROLE_KEY);
      return new Calendar(args, doc, store, ledger, args.onClose, isRole(role) ? role : null);
    } catch (err) {
      await store.close().catch(() => undefined);
      doc.destroy();
      throw err;
    }
  }

  // ---------------------------------------------------------------- status and events

  on<K extends keyof CalendarEvents>(event: K, listener: CalendarEvents[K]): () => void {
    return this.events.on(event, listener);
  }

  get status(): SyncStatus {
    return this.sync.status;
  }

  get unsavedEdits(): number {
    return this.ledger.count;
  }

  /**
   * My role in this room as the server last told this device (kept in the local store, so it is
   * known offline too); null until the server has said it once. A viewer's edits stay local: the
   * server drops them.
   */
  get role(): Role | null {
    return this.currentRole;
  }

  private onRole(role: Role): void {
    if (this.isClosed || role === this.currentRole) return;
    this.currentRole = role;
    const write = () => this.store.setMeta(ROLE_KEY, role);
    this.ledgerWrite = this.ledgerWrite.then(write).catch(() => undefined);
    this.events.emit('role', role);
  }

  /** Resolves when the status is `saved` (every local edit stored on the server). */
  whenSaved(timeoutMs?: number): Promise<void> {
    return this.when(() => this.status === 'saved', timeoutMs, 'saved');
  }

  /** Resolves when the status is `synced` or `saved`. */
  whenSynced(timeoutMs?: number): Promise<void> {
    return this.when(() => this.status === 'synced' || this.status === 'saved', timeoutMs, 'synced');
  }

  private when(check: () => boolean, timeoutMs: number | undefined, what: string): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const off = this.on('status', () => {
        if (!check()) return;
        off();
        if (timer) clearTimeout(timer);
        resolve();
      });
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          off();
          reject(new Error(`calendar ${this.roomId} not ${what} after ${timeoutMs} ms (status ${this.status})`));
        }, timeoutMs);
      }
    });
  }

  private statusInfo(): StatusInfo {
    return { status: this.status, unsavedEdits: this.unsavedEdits };
  }

  private emitStatus(): void {
    if (this.isClosed) return;
    const now = this.statusInfo();
    if (this.lastStatus && now.status === this.lastStatus.status && now.unsavedEdits === this.lastStatus.unsavedEdits) return;
    this.lastStatus = now;
    this.events.emit('status', now);
  }

  private persistLedger(): void {
    if (this.ledgerDirty) return;
    this.ledgerDirty = true;
    queueMicrotask(() => {
      this.ledgerDirty = false;
      // Other sessions (tabs) share the stored ledger: replace only this session's part of it,
      // atomically when the store can (see UnsavedLedger.merge).
      const write = async () => {
        const store = this.store;
        if (store.updateMeta) await store.updateMeta(LEDGER_KEY, (current) => this.ledger.merge(current));
        else await store.setMeta(LEDGER_KEY, this.ledger.merge(await store.getMeta(LEDGER_KEY)) ?? '');
        this.ledger.written();
      };
      this.ledgerWrite = this.ledgerWrite.then(write).catch(() => undefined);
    });
  }

  // ---------------------------------------------------------------- connection

  /** Connects (or reconnects after `disconnect`, `auth-required` and a new login, …). */
  connect(): void {
    this.sync.connect();
  }

  /** Goes offline on purpose; edits keep working and are kept locally. */
  disconnect(): void {
    this.sync.disconnect();
  }

  /** Closes the calendar: stores what is pending locally, closes the socket, frees the document. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.isClosed = true;
      this.awareness.setLocalState(null);
      this.sync.destroy();
      for (const c of this.cleanups.splice(0)) c();
      this.undoManager.destroy();
      this.awareness.destroy();
      await new Promise<void>((r) => queueMicrotask(r));
      await this.ledgerWrite;
      try {
        await this.store.close();
      } finally {
        this.doc.destroy();
        this.events.removeAll();
        this.onClosed(this);
      }
    })();
    return this.closing;
  }

  // ---------------------------------------------------------------- edits

  private get ctx(): OpContext {
    return { actor: this.user.userId, origin: this.origin };
  }

  /** Runs `fn` as one undoable local transaction (for edits outside the model). */
  transact<T>(fn: (doc: Y.Doc) => T): T {
    let out!: T;
    this.doc.transact(() => {
      out = fn(this.doc);
    }, this.origin);
    return out;
  }

  /** Writes the room's header (name, default zone); safe to call more than once. */
  initRoom(info: { name?: string; defaultTz?: string } = {}): void {
    this.transact(() => model.initRoom(this.doc, info));
  }

  /** Creates an event; returns its id. */
  createEvent(input: EventInput): string {
    return model.createEvent(this.doc, input, this.ctx);
  }

  /** Changes an event (for a series: every occurrence, "edit all"). */
  updateEvent(id: string, patch: EventPatch): void {
    model.updateEvent(this.doc, id, patch, this.ctx);
  }

  /** "Edit all" of a series; the same as `updateEvent`. */
  editAll(id: string, patch: EventPatch): void {
    model.editAll(this.doc, id, patch, this.ctx);
  }

  /** Moves an event to a new start, keeping its duration. */
  moveEvent(id: string, to: { start: string; tz?: string | null }): void {
    model.moveEvent(this.doc, id, to, this.ctx);
  }

  /** Moves an event to the trash (restorable). */
  deleteEvent(id: string): void {
    model.deleteEvent(this.doc, id, this.ctx);
  }

  restoreEvent(id: string): void {
    model.restoreEvent(this.doc, id, this.ctx);
  }

  /** Deletes trashed events for good; returns their ids. */
  purgeTrash(opts: { olderThanDays?: number } = {}): string[] {
    return model.purgeTrash(this.doc, { ...opts, origin: this.origin });
  }

  /** Edits one occurrence of a series ("this event"). */
  editOccurrence(id: string, occKey: string, patch: OccurrencePatch): void {
    model.editOccurrence(this.doc, id, occKey, patch, this.ctx);
  }

  cancelOccurrence(id: string, occKey: string): void {
    model.cancelOccurrence(this.doc, id, occKey, this.ctx);
  }

  resetOccurrence(id: string, occKey: string, fields?: readonly OccurrenceField[]): void {
    if (fields) model.resetOccurrence(this.doc, id, occKey, this.ctx, fields);
    else model.resetOccurrence(this.doc, id, occKey, this.ctx);
  }

  restoreOccurrence(id: string, occKey: string): void {
    model.restoreOccurrence(this.doc, id, occKey, this.ctx);
  }

  /** "This and following": changes the series from this occurrence on. */
  editFollowing(id: string, occKey: string, patch: SeriesPatch): void {
    model.editFollowing(this.doc, id, occKey, patch, this.ctx);
  }

  /** "Delete this and following". */
  deleteFollowing(id: string, occKey: string): void {
    model.deleteFollowing(this.doc, id, occKey, this.ctx);
  }

  // ---------------------------------------------------------------- queries

  getEvent(id: string): CalendarEvent | null {
    return model.getEvent(this.doc, id);
  }

  listEvents(opts: { includeDeleted?: boolean } = {}): CalendarEvent[] {
    return model.listEvents(this.doc, opts);
  }

  listTrash(): CalendarEvent[] {
    return model.listTrash(this.doc);
  }

  /**
   * The occurrences in a window, sorted by start: at most `limit` (default and largest 10,000, the
   * model's PAGE_LIMITS.max), so one odd document cannot make a view build millions. Events that
   * cannot be expanded (say, a zone this device does not know) are left out; `queryOccurrences`
   * lists them, and pages past the limit.
   */
  occurrences(window: WindowInput, opts: { limit?: number } = {}): Occurrence[] {
    return model.queryOccurrences(this.doc, this.window(window), { limit: opts.limit ?? model.PAGE_LIMITS.max }).occurrences;
  }

  /** One page of occurrences (`limit`, default 1,000), the `next` cursor and the events skipped, with why. */
  queryOccurrences(window: WindowInput, opts: PageOptions = {}): OccurrencePage {
    return model.queryOccurrences(this.doc, this.window(window), opts);
  }

  /** The occurrences of one event in a window. */
  occurrencesOf(id: string, window: WindowInput): Occurrence[] {
    const ev = this.getEvent(id);
    return ev ? model.occurrencesOf(ev, this.window(window)) : [];
  }

  /** Events whose texts contain every word of `query`, ignoring case and accents; trashed ones only when asked. */
  search(query: string, opts: { includeDeleted?: boolean } = {}): CalendarEvent[] {
    return model.searchEvents(this.doc, query, opts);
  }

  /** Overlapping occurrences of one member (default: me) in a window. */
  doubleBookings(window: WindowInput, member: MemberId = this.user.userId): DoubleBooking[] {
    return model.doubleBookings(this.doc, member, this.window(window));
  }

  /**
   * My (or `member`'s) default reminders in this room: they remind of every occurrence the member
   * is in that no reminder of its event reaches them for (set through the server's REST API,
   * PUT /rooms/:roomId/reminder-defaults, which viewers may use too).
   */
  reminderDefaults(member: MemberId = this.user.userId): ReminderDefaults {
    return model.getReminderDefaults(this.doc, member);
  }

  private window(w: WindowInput): ViewWindow {
    return { from: w.from, to: w.to, timeZone: w.timeZone ?? this.timeZone };
  }

  // ---------------------------------------------------------------- undo

  /** Undoes my last edit on this device; other people's edits are never undone. */
  undo(): boolean {
    return this.undoManager.undo() !== null;
  }

  redo(): boolean {
    return this.undoManager.redo() !== null;
  }

  canUndo(): boolean {
    return this.undoManager.canUndo();
  }

  canRedo(): boolean {
    return this.undoManager.canRedo();
  }

  // ---------------------------------------------------------------- presence

  /** Tells the others which day I look at ("YYYY-MM-DD", a Date in this device's zone, or null). */
  setViewing(date: string | Date | null): void {
    let day: string | null = null;
    if (date instanceof Date) {
      const y = date.getFullYear();
      const m = String(date.getMonth() + 1).padStart(2, '0');
      const d = String(date.getDate()).padStart(2, '0');
      day = `${y}-${m}-${d}`;
    } else if (typeof date === 'string') {
      if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) throw new TypeError(`setViewing: expected YYYY-MM-DD, got "${date}"`);
      day = date;
    }
    this.awareness.setLocalStateField('viewing', day);
  }

  /** Everyone with this calendar open right now (me included, `self: true`). */
  get presence(): PresenceEntry[] {
    const out: PresenceEntry[] = [];
    for (const [clientId, state] of this.awareness.getStates()) {
      const user = (state as { user?: { userId?: unknown; username?: unknown } }).user;
      if (typeof user?.userId !== 'string' || typeof user.username !== 'string') continue;
      const viewing = (state as { viewing?: unknown }).viewing;
      out.push({
        clientId,
        userId: user.userId,
        username: user.username,
        viewing: typeof viewing === 'string' ? viewing : null,
        self: clientId === this.awareness.clientID,
      });
    }
    return out.sort((a, b) => a.username.localeCompare(b.username) || a.clientId - b.clientId);
  }

  /** Calls `listener` with the presence list now and whenever it changes; returns the unsubscribe. */
  onPresence(listener: (presence: PresenceEntry[]) => void): () => void {
    const handler = () => listener(this.presence);
    this.awareness.on('change', handler);
    handler();
    return () => this.awareness.off('change', handler);
  }
}
