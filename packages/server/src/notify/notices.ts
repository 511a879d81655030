/**
 * Change notices: when someone else adds, moves, cancels or deletes an event (or comments on one),
 * the other members get one batched notice per room per window — never for their own edits, as
 * their per-room preference says, and not during their quiet hours (it waits for them to end).
 * Many changes by one person (an import, the Google mirror) read as one summary line.
 *
 * The changes of an open window are rows in notify_pending_changes, so a crash inside the window
 * loses nothing: at start-up the windows found there are flushed when they end (at once if they
 * already have). A window holds one row per event, kind and author (a later change replaces it) and
 * at most MAX_WINDOW_ROWS of them, then counts (see storeChanges). A flushed batch is named by its window end and first row, so a flush run again
 * after a crash sends under the same ledger keys: once per member and channel. A batch's rows go
 * once every member was handled. A member in quiet hours, or a send a channel asked to retry, keeps
 * them: the batch is flushed again then (after a restart too), and the ledger lets through only the
 * sends still missing. A batch still not out a day after its window is given up (logged).
 *
 * Several instances (a shared database): only the instance that stored a change tells of it; one that
 * dies leaves its windows' rows behind, so every `resurveyMs` each instance takes up the rooms whose
 * rows are past their window's end by more than that and that it has no window for (the ledger
 * keys stay the batch's, so a batch its owner also flushes still reaches each member once).
 *
 * Comments: an edit or delete never sends a notice of its own. Inside the window it follows the
 * pending notice (the edited text is the one sent; a deleted comment is dropped from it); once the
 * notice went out, nothing more is sent.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Logger } from 'pino';
import * as Y from 'yjs';
import type { ModuleSql } from '../storage/module-tables.js';
import type { Storage } from '../storage/storage.js';
import type { RoomApi } from '../sync/room-api.js';
import { repeatEvery, type Clock } from './clock.js';
import type { Dispatcher } from './dispatcher.js';
import type { Preferences } from './preferences.js';
import type { RoomReader } from './room-reader.js';
import { roomZone } from './reminders.js';
import { ChangeTracker } from './change-tracker.js';
import { addParts, commentEdits, detailKey, diffRooms, emptyPrint, patchPrint, printRoom, roomIds, validZone, withNextStarts, type RoomChange, type RoomPrint } from './room-changes.js';
import { settleDelay } from './settle.js';
import { formatDay, formatTime } from './texts.js';

export interface NoticeDeps {
  rooms: RoomApi;
  storage: Storage;
  dispatcher: Dispatcher;
  prefs: Preferences;
  /** The module's tables (notify_pending_changes). */
  sql: ModuleSql;
  clock: Clock;
  logger: Logger;
  /** Reads a big room's picture in a worker (see `prime`). */
  reader: RoomReader;
  /** How long changes gather before one notice goes out. */
  windowMs: number;
  settleMs: number;
  /** A room that keeps changing is looked at most once per this long (see settleDelay). */
  busyLookMs: number;
  /** With other instances possible (a shared database): how often windows they left are taken up. */
  resurveyMs?: number;
}

/**
 * Events and comments a look reads per turn of the event loop (each ~30–40 µs: about 10 ms a
 * slice). A look after an import of 5,000 events, or at a room of 5,000 loaded again, read them all
 * in one piece and held the loop 237–251 ms (319–333 ms reading the whole room).
 */
export const PRINT_SLICE = 250;

/** More changes than this by one person read as counts ("Dad: 150 added"). */
const DETAIL_PER_ACTOR = 3;
/** A notice has at most this many lines: past them, the remaining authors' changes are counted on one "Others: …" line. */
const MAX_LINES = 8;
/**
 * Rows one window keeps (a change per event, kind and author, and each comment); past this, changes
 * are counted in one row per kind and author. Renaming 300 events every 10 s kept a row per change
 * and look: 7,500 rows (99.6 MB) in one 5-minute window, and a flush that loaded them all.
 */
export const MAX_WINDOW_ROWS = 500;
/** What a notice shows of a comment (and so what a row keeps of it). */
const COMMENT_SHOWN = 140;
/** Stands for participants none of whom is a member: the change names someone, so it is not everyone's. */
const NO_MEMBER = '';
/** Quiet hours are shorter than a day: a batch older than this is stale news (or a channel that never recovers). */
const GIVE_UP_AFTER_MS = 24 * 3600_000;

export class ChangeNotices {
  /** Each loaded room as last looked at (dropped when it unloads: it is pictured again when it loads). */
  private readonly prints = new Map<string, RoomPrint>();
  /** Big loaded rooms as they were before their first change, as bytes: pictured in a worker at their look. */
  private readonly states = new Map<string, Uint8Array>();
  private readonly tracker = new ChangeTracker();
  /** Rooms with an open window on this instance: when it ends (its rows are in notify_pending_changes). */
  private readonly windows = new Map<string, { end: number; cancel: () => void }>();
  /** When each room was last looked at (paces looks at rooms that keep changing). */
  private readonly lookedAt = new Map<string, number>();
  /** Rooms to look at again; `local` once any of the commits was stored by this instance. */
  private readonly dirty = new Map<string, { cancel: () => void; local: boolean }>();
  /** Rooms whose look is queued or running (their picture must outlive an unload until then). */
  private readonly looking = new Set<string>();
  private running = Promise.resolve();
  private stopped = false;
  private stopResurvey: (() => void) | undefined;

  constructor(private readonly deps: NoticeDeps) {}

  /** Picks up the windows a previous run (or another instance) left open; each is flushed when it ends. */
  async start(): Promise<void> {
    await this.takeUpWindows(Infinity);
    const every = this.deps.resurveyMs;
    if (every !== undefined) {
      this.stopResurvey = repeatEvery(this.deps.clock, every, () => this.enqueue(() => this.takeUpWindows(this.deps.clock.now() - every)));
    }
  }

  /** Opens a window here for each room with rows whose window ended before `endedBefore` (Infinity: every room). */
  private async takeUpWindows(endedBefore: number): Promise<void> {
    if (this.stopped) return;
    const rows = await this.deps.sql.all<{ room_id: string; w: number | string }>(
      'SELECT room_id, MIN(window_end) AS w FROM notify_pending_changes GROUP BY room_id',
    );
    for (const r of rows) if (Number(r.w) < endedBefore && !this.windows.has(r.room_id)) this.openWindow(r.room_id, Number(r.w));
  }

  /**
   * Pictures a room as it is before its next change, so that the change can be told apart: a new
   * room at once (empty); a loaded room just before its first transaction, so a room loaded only
   * to be read (a reminder look, a feed, a CalDAV sync) is never pictured. That runs inside the
   * first change's transaction, so a big room (one RoomReader reads in its worker) is kept as
   * bytes, to be pictured in the worker at its look: at 5,000 events the first edit after a load
   * spent 31–95 ms on it, against 82–316 ms reading every event.
   */
  prime(roomId: string, doc: Y.Doc | null): void {
    if (this.prints.has(roomId) || this.states.has(roomId)) return;
    if (!doc) {
      this.prints.set(roomId, emptyPrint());
      return;
    }
    doc.once('beforeTransaction', () => {
      if (this.prints.has(roomId) || this.states.has(roomId)) return;
      try {
        if (this.deps.reader.readsOffLoop(this.deps.rooms.storedBytes(roomId) ?? 0)) this.states.set(roomId, Y.encodeStateAsUpdate(doc));
        else this.prints.set(roomId, printRoom(doc));
      } catch (err) {
        // Never fail the transaction over it (this runs inside Yjs's transact): the change is then not told.
        this.deps.logger.warn({ err, roomId }, 'room could not be pictured for change notices');
      }
    });
  }

  /**
   * The room left memory. Its picture goes with it (one per loaded room, not per room ever seen);
   * `prime` takes a new one when it loads again, before its first change. A
   * change still waiting for its look keeps the picture to compare with.
   */
  unloaded(roomId: string): void {
    if (this.dirty.has(roomId) || this.looking.has(roomId)) return;
    this.prints.delete(roomId);
    this.states.delete(roomId);
  }

  /**
   * A room changed. Only the instance that stored a change tells people of it; other instances
   * (`local` false) just keep their picture of the room current, so several instances send one notice.
   */
  changed(roomId: string, local: boolean): void {
    if (this.stopped) return;
    const pending = this.dirty.get(roomId);
    if (pending) {
      pending.local ||= local;
      return;
    }
    const { clock, settleMs, busyLookMs } = this.deps;
    const entry = {
      local,
      cancel: clock.after(settleDelay(clock.now(), this.lookedAt.get(roomId), settleMs, busyLookMs), () => {
        this.dirty.delete(roomId);
        this.looking.add(roomId);
        this.enqueue(() => this.look(roomId, entry.local).finally(() => this.looking.delete(roomId)));
      }),
    };
    this.dirty.set(roomId, entry);
  }

  idle(): Promise<void> {
    return this.running;
  }

  /** How many rooms' pictures are kept (one per loaded room, plus rooms waiting for a look). */
  get picturedRooms(): number {
    return this.prints.size + this.states.size;
  }

  /** A deleted room: its open window and pending changes go, unsent. */
  async forget(roomId: string): Promise<void> {
    this.prints.delete(roomId);
    this.states.delete(roomId);
    this.looking.delete(roomId);
    this.lookedAt.delete(roomId);
    this.dirty.get(roomId)?.cancel();
    this.dirty.delete(roomId);
    this.windows.get(roomId)?.cancel();
    this.windows.delete(roomId);
    await this.deps.sql.run('DELETE FROM notify_pending_changes WHERE room_id = ?', [roomId]);
  }

  async close(): Promise<void> {
    this.stopped = true;
    this.stopResurvey?.();
    for (const d of this.dirty.values()) d.cancel();
    for (const w of this.windows.values()) w.cancel();
    await this.running;
  }

  private enqueue(work: () => Promise<void>): Promise<void> {
    this.running = this.running.then(work).catch((err) => this.deps.logger.error({ err }, 'change notice failed'));
    return this.running;
  }

  private async look(roomId: string, tell: boolean): Promise<void> {
    const now = this.deps.clock.now();
    this.lookedAt.set(roomId, now);
    const seen = await this.compare(roomId, now, tell);
    this.prints.set(roomId, seen.print);
    if (seen.parts.before) await this.followCommentEdits(roomId, seen.parts.before, seen.parts.after);
    const { changes } = seen;
    if (changes.length === 0) return;
    const { sql } = this.deps;
    const members = new Set((await this.deps.storage.rooms.members(roomId)).map((m) => m.userId));
    const rows = changes.map((c) => toStored(c, members));
    const end = await sql.transaction(async (tx) => {
      // Join the room's open window (this instance's, another's, or one left by a crash), else open
      // one. A batch whose window ended (waiting out someone's quiet hours) is closed: news waits apart.
      const open = await tx.get<{ w: number | string | null }>(
        'SELECT MIN(window_end) AS w FROM notify_pending_changes WHERE room_id = ? AND window_end > ?',
        [roomId, now],
      );
      const windowEnd = open?.w !== null && open?.w !== undefined ? Number(open.w) : now + this.deps.windowMs;
      await storeChanges(tx, roomId, windowEnd, seen.zone, rows);
      return windowEnd;
    });
    this.openWindow(roomId, end);
  }

  /**
   * The room against its picture: the new picture, the old and new prints of what changed, and the
   * changes to tell. Reads only what the transactions touched when this document was followed since
   * the last look, else the whole room; in slices of PRINT_SLICE, a turn of the event loop each
   * (edits arriving in between are touched again, for the next look, which then finds their slice
   * already current).
   */
  private async compare(roomId: string, now: number, tell: boolean): Promise<{ print: RoomPrint; parts: { before: RoomPrint | undefined; after: RoomPrint }; changes: RoomChange[]; zone: string }> {
    const { rooms } = this.deps;
    const before = this.prints.get(roomId) ?? (await this.pictureState(roomId));
    let print = before ?? emptyPrint();
    const touchedParts = { before: emptyPrint(), after: emptyPrint() };
    let whole = false;
    const readSlice = (doc: Y.Doc, slice: { events: string[]; comments: string[] }) => addParts(touchedParts, patchPrint(doc, print, slice));
    // A whole-room read compares the old picture (if any) with the new one. A first look at a room
    // made elsewhere has nothing to compare with; changes another instance stored are its to tell.
    const finish = (doc: Y.Doc) => {
      const parts = whole ? { before, after: print } : touchedParts;
      const changes = parts.before && tell ? withNextStarts(doc, diffRooms(parts.before, parts.after), now, DETAIL_PER_ACTOR) : [];
      return { print, parts, changes, zone: validZone(roomZone(doc)) };
    };
    const plan = await rooms.read(roomId, (doc) => {
      const touched = this.tracker.take(doc);
      whole = !before || touched.all;
      if (whole) print = emptyPrint();
      const ids = whole ? roomIds(doc) : { events: [...touched.events], comments: [...touched.comments] };
      // Most looks (an edit or a few) fit one slice: read and compared at once.
      if (ids.events.length + ids.comments.length <= PRINT_SLICE) {
        readSlice(doc, ids);
        return { done: true as const, result: finish(doc) };
      }
      return { done: false as const, ids };
    });
    if (plan.done) return plan.result;
    const slices = [
      ...sliced(plan.ids.events, PRINT_SLICE).map((events) => ({ events, comments: [] })),
      ...sliced(plan.ids.comments, PRINT_SLICE).map((comments) => ({ events: [], comments })),
    ];
    for (const slice of slices) {
      await nextTurn();
      await rooms.read(roomId, (doc) => readSlice(doc, slice));
    }
    await nextTurn();
    return rooms.read(roomId, finish);
  }

  /** A big room's picture kept as bytes (see `prime`), read in the worker; undefined when there is none. */
  private async pictureState(roomId: string): Promise<RoomPrint | undefined> {
    const state = this.states.get(roomId);
    if (!state) return undefined;
    // Taken first: the bytes are moved to the worker, and a room whose picture failed is looked at as never pictured.
    this.states.delete(roomId);
    return this.deps.reader.readState(state, { kind: 'print' });
  }

  /** An edited comment still waiting in a window is sent as edited; a deleted one is not sent. */
  private async followCommentEdits(roomId: string, before: RoomPrint, after: RoomPrint): Promise<void> {
    const { edited, removed } = commentEdits(before, after);
    const { sql } = this.deps;
    const rewrite = async (commentId: string, change: (c: RoomChange) => RoomChange) => {
      const rows = await sql.all<{ seq: number | string; change: string }>('SELECT seq, change FROM notify_pending_changes WHERE room_id = ? AND comment_id = ?', [
        roomId,
        commentId,
      ]);
      for (const r of rows) {
        await sql.run('UPDATE notify_pending_changes SET change = ? WHERE seq = ?', [JSON.stringify(change(JSON.parse(r.change) as RoomChange)), r.seq]);
      }
    };
    // A deleted comment's row is withdrawn, not deleted: it may be the first row of a batch some
    // were already told of, which names the batch's ledger keys (deleted, the batch was sent again).
    for (const commentId of removed) await rewrite(commentId, (c) => ({ ...c, text: undefined, withdrawn: true }));
    for (const [commentId, text] of edited) await rewrite(commentId, (c) => ({ ...c, text: text.slice(0, COMMENT_SHOWN) }));
  }

  /** Flushes the room at `end`; an earlier end replaces a later one (a new window while a batch waits out quiet hours). */
  private openWindow(roomId: string, end: number): void {
    if (this.stopped) return;
    const open = this.windows.get(roomId);
    if (open && open.end <= end) return;
    open?.cancel();
    const cancel = this.deps.clock.after(Math.max(0, end - this.deps.clock.now()), () => {
      this.windows.delete(roomId);
      this.enqueue(async () => {
        try {
          await this.flush(roomId, end);
        } catch (err) {
          // A storage error mid-flush: its rows are still there, so the window opens again in a
          // minute (without this, nothing flushed them before the room's next change or a restart).
          this.deps.logger.error({ err, roomId }, 'change notice flush failed; trying again in a minute');
          this.openWindow(roomId, this.deps.clock.now() + 60_000);
        }
      });
    });
    this.windows.set(roomId, { end, cancel });
  }

  /**
   * Sends the room's batches whose window ended (each window its own batch), then forgets those
   * every member was handled for. Rows of a later window stay and get a flush of their own; so do
   * batches someone is still owed (quiet hours, a send to retry).
   */
  private async flush(roomId: string, end: number): Promise<void> {
    const { sql, clock } = this.deps;
    // One batch (window) in memory at a time; each holds at most MAX_WINDOW_ROWS rows (and a few counts).
    const windows = await sql.all<{ w: number | string }>(
      'SELECT DISTINCT window_end AS w FROM notify_pending_changes WHERE room_id = ? AND window_end <= ? ORDER BY window_end',
      [roomId, end],
    );
    let again: number | null = null;
    for (const { w } of windows) {
      const windowEnd = Number(w);
      const batch = await sql.all<{ seq: number | string; zone: string; change: string }>(
        'SELECT seq, zone, change FROM notify_pending_changes WHERE room_id = ? AND window_end = ? ORDER BY seq',
        [roomId, windowEnd],
      );
      if (batch.length === 0) continue;
      const first = batch[0]!;
      const lastSeq = Number(batch.at(-1)!.seq);
      // Named by what it holds, the same after a crash: a second flush of it finds its ledger keys taken.
      const batchId = `${windowEnd}-${Number(first.seq)}`;
      const changes = batch.map((r) => JSON.parse(r.change) as RoomChange).filter((c) => !c.withdrawn);
      const owed = await this.tellMembers(roomId, changes, validZone(first.zone), batchId);
      if (owed === 'stopped') return;
      if (owed !== null && clock.now() - windowEnd < GIVE_UP_AFTER_MS) {
        again = again === null ? owed : Math.min(again, owed);
        continue;
      }
      if (owed !== null) this.deps.logger.warn({ roomId, batchId }, 'change notice still not delivered to everyone a day after its window; given up');
      await sql.run('DELETE FROM notify_pending_changes WHERE room_id = ? AND window_end = ? AND seq <= ?', [roomId, windowEnd, lastSeq]);
    }
    const later = await sql.get<{ w: number | string | null }>('SELECT MIN(window_end) AS w FROM notify_pending_changes WHERE room_id = ? AND window_end > ?', [
      roomId,
      end,
    ]);
    if (later?.w !== null && later?.w !== undefined) this.openWindow(roomId, Number(later.w));
    if (again !== null) this.openWindow(roomId, Math.max(again, clock.now() + 1));
  }

  /**
   * One notice per member who did not make every change, as they chose. Returns when the batch
   * must be flushed again for someone (quiet hours, a send to retry), null when everyone was
   * handled, 'stopped' when the module stopped midway.
   */
  private async tellMembers(roomId: string, changes: RoomChange[], zone: string, batchId: string): Promise<number | null | 'stopped'> {
    const members = await this.deps.storage.rooms.members(roomId);
    const names = new Map(members.map((m) => [m.userId, m.username]));
    const roomName = (await this.deps.storage.rooms.get(roomId))?.name ?? '';
    let again: number | null = null;
    for (const member of members) {
      if (this.stopped) return 'stopped';
      let owed: number | null;
      try {
        owed = await this.notifyMember(roomId, roomName, member.userId, changes, names, zone, batchId);
      } catch (err) {
        // One member's failure never holds back the others' notices: theirs is tried again in a minute
        // (the ledger lets through only the sends still missing), until the batch is given up.
        this.deps.logger.error({ err, roomId, userId: member.userId }, 'change notice to a member failed; trying again in a minute');
        owed = this.deps.clock.now() + 60_000;
      }
      if (owed !== null) again = again === null ? owed : Math.min(again, owed);
    }
    return again;
  }

  private async notifyMember(
    roomId: string,
    roomName: string,
    userId: string,
    changes: RoomChange[],
    names: Map<string, string>,
    zone: string,
    batchId: string,
  ): Promise<number | null> {
    const { prefs, clock } = this.deps;
    const pref = await prefs.changesPref(userId, roomId);
    if (pref === 'none') return null;
    const forMember = (p: 'all' | 'participant') =>
      changes.filter((c) => {
        if (c.actor === userId) return false;
        // Comments reach the event's participants (everyone when it names none); the rest follow the preference.
        if (c.kind === 'commented') return c.participants.length === 0 || c.participants.includes(userId);
        return p === 'all' || c.participants.includes(userId);
      });
    const mine = forMember(pref);
    if (mine.length === 0) return null;
    const memberZone = validZone((await prefs.zoneOf(userId)) ?? zone);
    const quietUntil = await prefs.quietUntil(userId, clock.now(), memberZone);
    if (quietUntil !== null) return quietUntil;
    const text = (list: RoomChange[]) => ({
      body: summarize(list, names, memberZone).join(' · '),
      url: list.length === 1 && list[0]!.count === undefined ? `/#/rooms/${encodeURIComponent(roomId)}/events/${encodeURIComponent(list[0]!.eventId)}` : `/#/rooms/${encodeURIComponent(roomId)}`,
    });
    // Composed under 'all' with changes the member takes no part in: what it would say under
    // 'participant' goes with it, for a retry after the member switched (delivery.ts).
    const narrower = pref === 'all' ? forMember('participant') : mine;
    const { retryAt } = await this.deps.dispatcher.deliver(
      {
        userId,
        roomId,
        kind: 'changes',
        title: roomName ? `Changes in ${roomName}` : 'Calendar changes',
        ...text(mine),
        ...(narrower.length < mine.length ? { asParticipant: narrower.length === 0 ? null : text(narrower) } : {}),
        tag: `chg:${roomId}`,
      },
      (channel) => `chg:${roomId}:${batchId}:${userId}:${channel}`,
    );
    return retryAt;
  }
}

const VERBS: Record<RoomChange['kind'], string> = {
  added: 'added',
  moved: 'moved',
  changed: 'changed',
  cancelled: 'cancelled an occurrence of',
  deleted: 'deleted',
  commented: 'commented on',
};

/**
 * "Mum moved Dentist to Thu 3 Dec 16:00 · Dad: 150 added, 2 moved". Authors who are not members are
 * one "Someone" (the author is what the client wrote), and at most MAX_LINES lines are written: the
 * last authors' changes are counted as "Others".
 */
export function summarize(changes: RoomChange[], names: Map<string, string>, zone: string): string[] {
  const byActor = new Map<string, RoomChange[]>();
  for (const c of changes) {
    const actor = names.has(c.actor) ? c.actor : NO_MEMBER;
    const list = byActor.get(actor);
    if (list) list.push(c);
    else byActor.set(actor, [c]);
  }
  const lines: string[] = [];
  const others = new Map<string, number>();
  let left = byActor.size;
  for (const [actor, list] of byActor) {
    left--;
    const who = names.get(actor) ?? 'Someone';
    // The last change per event and kind is what the reader needs.
    const last = new Map<string, RoomChange>();
    for (const c of list) last.set(c.kind === 'commented' ? `${c.eventId}|${last.size}` : detailKey(c), c);
    const items = [...last.values()];
    // The last line is kept for the others while authors are left (or some are counted there already).
    const room = MAX_LINES - lines.length - (left > 0 || others.size > 0 ? 1 : 0);
    const oneByOne = items.length <= DETAIL_PER_ACTOR && items.every((c) => c.count === undefined);
    if (oneByOne && items.length <= room) {
      for (const c of items) {
        const when = c.start !== null ? ` to ${formatDay(c.start, zone)} ${formatTime(c.start, zone)}` : '';
        if (c.kind === 'commented') lines.push(`${who} commented on ${c.title}: “${(c.text ?? '').slice(0, COMMENT_SHOWN)}”`);
        else lines.push(`${who} ${VERBS[c.kind]} ${c.title}${c.kind === 'moved' ? when : ''}`);
      }
      continue;
    }
    const counts = new Map<string, number>();
    for (const c of items) counts.set(c.kind, (counts.get(c.kind) ?? 0) + (c.count ?? 1));
    if (room > 0) {
      lines.push(`${who}: ${countWords(counts)}`);
      continue;
    }
    for (const [k, n] of counts) others.set(k, (others.get(k) ?? 0) + n);
  }
  if (others.size > 0) lines.push(`Others: ${countWords(others)}`);
  return lines;
}

const countWords = (counts: Map<string, number>): string => [...counts].map(([k, n]) => `${n} ${k}`).join(', ');

/** A stored change: what a notice needs of it and no more (see toStored), and its key in the window. */
interface StoredChange {
  change: RoomChange;
  /** The row's key: one row per window holds the last change of one event, kind and author (see rowKey). */
  key: string;
}

/**
 * A row's key (notify_pending_changes.change_key): [author, kind, event] for a change, each comment
 * its own ([author, kind, "c:" + its id]), and [author, kind] for the count past the window's cap.
 */
const rowKey = (actor: string, kind: RoomChange['kind'], item?: string): string => JSON.stringify(item === undefined ? [actor, kind] : [actor, kind, item]);
const keyParts = (key: string): string[] => JSON.parse(key) as string[];

/**
 * What a row keeps of a change, bounded: authors who are not members are one (nobody a notice goes
 * to, and told as "Someone" anyway), participants are the members among them (a raw client can name
 * a hundred ids of 128 characters), a comment its shown text.
 */
function toStored(c: RoomChange, members: Set<string>): StoredChange {
  const actor = members.has(c.actor) ? c.actor : NO_MEMBER;
  const named = c.participants.filter((p) => members.has(p));
  const participants = named.length === 0 && c.participants.length > 0 ? [NO_MEMBER] : named;
  const change: RoomChange = { ...c, actor, participants, ...(c.text !== undefined ? { text: c.text.slice(0, COMMENT_SHOWN) } : {}) };
  return { change, key: rowKey(actor, c.kind, c.kind === 'commented' ? `c:${c.commentId ?? ''}` : c.eventId) };
}

/** Participants of two changes merged into one row; for comments none means everyone's, which stays. */
function mergedParticipants(kind: RoomChange['kind'], a: string[], b: string[]): string[] {
  if (kind === 'commented' && (a.length === 0 || b.length === 0)) return [];
  return [...new Set([...a, ...b])];
}

const INSERT_ROW = 'INSERT INTO notify_pending_changes (room_id, window_end, zone, comment_id, change, change_key) VALUES (?, ?, ?, ?, ?, ?)';

/**
 * Adds a look's changes to a window's rows. A change to an event that already has a row of its kind
 * and author replaces it (the last change, its participants added to the row's). Past MAX_WINDOW_ROWS
 * rows, changes are counted in one row per author and kind, but for an author with fewer rows than a
 * notice shows one by one (authors are members, or one "someone": at most DETAIL_PER_ACTOR more rows
 * each), so a member's few changes after someone's import are still told one by one.
 */
async function storeChanges(tx: ModuleSql, roomId: string, windowEnd: number, zone: string, changes: StoredChange[]): Promise<void> {
  const rows = await tx.all<{ seq: number | string; change_key: string | null }>(
    'SELECT seq, change_key FROM notify_pending_changes WHERE room_id = ? AND window_end = ?',
    [roomId, windowEnd],
  );
  const seqOf = new Map<string, number>();
  /** Per author: rows of single changes, and whether some of theirs are counted. */
  const authors = new Map<string, { rows: number; counted: boolean }>();
  const authorOf = (actor: string) => authors.get(actor) ?? authors.set(actor, { rows: 0, counted: false }).get(actor)!;
  for (const r of rows) {
    if (r.change_key === null) continue; // stored before keys: counted in the cap only
    seqOf.set(r.change_key, Number(r.seq));
    const [actor = NO_MEMBER, , item] = keyParts(r.change_key);
    if (item === undefined) authorOf(actor).counted = true;
    else authorOf(actor).rows++;
  }
  let count = rows.length;
  const merge = async (seq: number, c: RoomChange, counted: boolean) => {
    const was = await tx.get<{ change: string }>('SELECT change FROM notify_pending_changes WHERE seq = ?', [seq]);
    const old = was ? (JSON.parse(was.change) as RoomChange) : undefined;
    const merged: RoomChange = { ...c, participants: mergedParticipants(c.kind, old?.participants ?? c.participants, c.participants) };
    if (counted) merged.count = (old?.count ?? 0) + (c.count ?? 1);
    await tx.run('UPDATE notify_pending_changes SET change = ? WHERE seq = ?', [JSON.stringify(merged), seq]);
  };
  // Changes past the cap, counted in memory first: one write per count row, not per change.
  const overflow = new Map<string, RoomChange>();
  for (const { change: c, key } of changes) {
    const seq = seqOf.get(key);
    if (seq !== undefined) {
      await merge(seq, c, false);
      continue;
    }
    const author = authorOf(c.actor);
    if (count < MAX_WINDOW_ROWS || (!author.counted && author.rows < DETAIL_PER_ACTOR)) {
      count++;
      author.rows++;
      await tx.run(INSERT_ROW, [roomId, windowEnd, zone, c.commentId ?? null, JSON.stringify(c), key]);
      continue;
    }
    author.counted = true;
    const countKey = rowKey(c.actor, c.kind);
    const sum = overflow.get(countKey);
    overflow.set(countKey, {
      kind: c.kind,
      actor: c.actor,
      eventId: '',
      title: '',
      participants: mergedParticipants(c.kind, sum?.participants ?? c.participants, c.participants),
      start: null,
      tz: '',
      count: (sum?.count ?? 0) + 1,
    });
  }
  for (const [countKey, c] of overflow) {
    const seq = seqOf.get(countKey);
    if (seq === undefined) await tx.run(INSERT_ROW, [roomId, windowEnd, zone, null, JSON.stringify(c), countKey]);
    else await merge(seq, c, true);
  }
}

/** `items` in runs of at most `size`. */
function sliced<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
