/**
 * Change notices: when someone else adds, moves, cancels or deletes an event (or comments on one),
 * the other members get one batched notice per room per window — never for their own edits, as
 * their per-room preference says, and not during their quiet hours (it waits for them to end).
 * Many changes by one person (an import, the Google mirror) read as one summary line.
 *
 * Batches live in memory: a crash inside a window loses that window's notices (they are news, not
 * reminders). The notice of a flushed batch goes through the ledger like everything else.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type * as Y from 'yjs';
import type { Storage } from '../storage/storage.js';
import type { RoomApi } from '../sync/room-api.js';
import type { Clock } from './clock.js';
import type { Dispatcher } from './dispatcher.js';
import type { Preferences } from './preferences.js';
import { roomZone } from './reminders.js';
import { diffRooms, printRoom, withNextStarts, type RoomChange, type RoomPrint } from './room-changes.js';
import { settleDelay } from './settle.js';
import { formatDay, formatTime } from './texts.js';

export interface NoticeDeps {
  rooms: RoomApi;
  storage: Storage;
  dispatcher: Dispatcher;
  prefs: Preferences;
  clock: Clock;
  logger: Logger;
  /** How long changes gather before one notice goes out. */
  windowMs: number;
  settleMs: number;
  /** A room that keeps changing is looked at most once per this long (see settleDelay). */
  busyLookMs: number;
}

/** More changes than this by one person read as counts ("Dad: 150 added"). */
const DETAIL_PER_ACTOR = 3;

export class ChangeNotices {
  private readonly prints = new Map<string, RoomPrint>();
  /** When each room was last looked at (paces looks at rooms that keep changing). */
  private readonly lookedAt = new Map<string, number>();
  private readonly pending = new Map<string, { changes: RoomChange[]; zone: string; cancel: () => void }>();
  /** Rooms to look at again; `local` once any of the commits was stored by this instance. */
  private readonly dirty = new Map<string, { cancel: () => void; local: boolean }>();
  private readonly held = new Set<() => void>();
  private running = Promise.resolve();
  private stopped = false;

  constructor(private readonly deps: NoticeDeps) {}

  /** Records a room as it is now (start-up, a new room), so that its next change can be told apart. */
  prime(roomId: string, doc: Y.Doc | null): void {
    if (this.prints.has(roomId)) return;
    this.prints.set(roomId, doc ? printRoom(doc) : { events: new Map(), comments: new Map() });
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
        this.enqueue(() => this.look(roomId, entry.local));
      }),
    };
    this.dirty.set(roomId, entry);
  }

  idle(): Promise<void> {
    return this.running;
  }

  async close(): Promise<void> {
    this.stopped = true;
    for (const d of this.dirty.values()) d.cancel();
    for (const p of this.pending.values()) p.cancel();
    for (const cancel of this.held) cancel();
    await this.running;
  }

  private enqueue(work: () => Promise<void>): void {
    this.running = this.running.then(work).catch((err) => this.deps.logger.error({ err }, 'change notice failed'));
  }

  private async look(roomId: string, tell: boolean): Promise<void> {
    const now = this.deps.clock.now();
    this.lookedAt.set(roomId, now);
    const before = this.prints.get(roomId);
    const seen = await this.deps.rooms.read(roomId, (doc) => {
      const print = printRoom(doc);
      // A first look at a room made elsewhere has nothing to compare with; changes another instance stored are its to tell.
      const changes = before && tell ? withNextStarts(doc, diffRooms(before, print), now) : [];
      return { print, changes, zone: roomZone(doc) };
    });
    this.prints.set(roomId, seen.print);
    const { changes } = seen;
    if (changes.length === 0) return;
    const batch = this.pending.get(roomId);
    if (batch) {
      batch.changes.push(...changes);
      return;
    }
    const cancel = this.deps.clock.after(this.deps.windowMs, () => {
      const done = this.pending.get(roomId);
      this.pending.delete(roomId);
      if (done) this.enqueue(() => this.flush(roomId, done.changes, done.zone, randomUUID()));
    });
    this.pending.set(roomId, { changes, zone: seen.zone, cancel });
  }

  /** One notice per member who did not make every change, as they chose; waits out quiet hours. */
  private async flush(roomId: string, changes: RoomChange[], zone: string, batchId: string): Promise<void> {
    const members = await this.deps.storage.rooms.members(roomId);
    const names = new Map(members.map((m) => [m.userId, m.username]));
    const roomName = (await this.deps.storage.rooms.get(roomId))?.name ?? '';
    for (const member of members) {
      if (this.stopped) return;
      await this.notifyMember(roomId, roomName, member.userId, changes, names, zone, batchId);
    }
  }

  private async notifyMember(
    roomId: string,
    roomName: string,
    userId: string,
    changes: RoomChange[],
    names: Map<string, string>,
    zone: string,
    batchId: string,
  ): Promise<void> {
    const { prefs, clock } = this.deps;
    const pref = await prefs.changesPref(userId, roomId);
    if (pref === 'none') return;
    const mine = changes.filter((c) => {
      if (c.actor === userId) return false;
      // Comments reach the event's participants (everyone when it names none); the rest follow the preference.
      if (c.kind === 'commented') return c.participants.length === 0 || c.participants.includes(userId);
      return pref === 'all' || c.participants.includes(userId);
    });
    if (mine.length === 0) return;
    const memberZone = (await prefs.zoneOf(userId)) ?? zone;
    const quietUntil = await prefs.quietUntil(userId, clock.now(), memberZone);
    if (quietUntil !== null) {
      const cancel = clock.after(quietUntil - clock.now(), () => {
        this.held.delete(cancel);
        this.enqueue(() => this.notifyMember(roomId, roomName, userId, changes, names, zone, batchId));
      });
      this.held.add(cancel);
      return;
    }
    const lines = summarize(mine, names, memberZone);
    await this.deps.dispatcher.deliver(
      {
        userId,
        roomId,
        kind: 'changes',
        title: roomName ? `Changes in ${roomName}` : 'Calendar changes',
        body: lines.join(' · '),
        url: mine.length === 1 ? `/#/rooms/${encodeURIComponent(roomId)}/events/${encodeURIComponent(mine[0]!.eventId)}` : `/#/rooms/${encodeURIComponent(roomId)}`,
        tag: `chg:${roomId}`,
      },
      (channel) => `chg:${roomId}:${batchId}:${userId}:${channel}`,
    );
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

/** "Mum moved Dentist to Thu 3 Dec 16:00 · Dad: 150 added, 2 moved". */
export function summarize(changes: RoomChange[], names: Map<string, string>, zone: string): string[] {
  const byActor = new Map<string, RoomChange[]>();
  for (const c of changes) byActor.set(c.actor, [...(byActor.get(c.actor) ?? []), c]);
  const lines: string[] = [];
  for (const [actor, list] of byActor) {
    const who = names.get(actor) ?? 'Someone';
    // The last change per event and kind is what the reader needs.
    const last = new Map<string, RoomChange>();
    for (const c of list) last.set(c.kind === 'commented' ? `${c.eventId}|${last.size}` : `${c.eventId}|${c.kind}`, c);
    const items = [...last.values()];
    if (items.length > DETAIL_PER_ACTOR) {
      const counts = new Map<string, number>();
      for (const c of items) counts.set(c.kind, (counts.get(c.kind) ?? 0) + 1);
      lines.push(`${who}: ${[...counts].map(([k, n]) => `${n} ${k}`).join(', ')}`);
      continue;
    }
    for (const c of items) {
      const when = c.start !== null ? ` to ${formatDay(c.start, zone)} ${formatTime(c.start, zone)}` : '';
      if (c.kind === 'commented') lines.push(`${who} commented on ${c.title}: “${(c.text ?? '').slice(0, 140)}”`);
      else lines.push(`${who} ${VERBS[c.kind]} ${c.title}${c.kind === 'moved' ? when : ''}`);
    }
  }
  return lines;
}
