/**
 * The reminder scheduler. Each room has one entry in a DueIndex: when its next reminder falls due
 * (or when to look again). A room is re-read only when that time comes or when it changed
 * (`rooms.onAnyCommit`), never by scanning every room on a timer. At the due time the room is read
 * fresh from storage and its due reminders recomputed, so a stale index (an edit made on another
 * instance) can only make us look too early, never send a reminder that no longer exists.
 *
 * Each look is remembered in notify_room_looks (room-looks.ts): its time, the room's log head then,
 * and the room's next due time. At start-up that table fills the index, and only rooms due by now,
 * changed since their last look (log head moved) or never looked at are read at once; the rest wait
 * for their due time or their next change, so start-up does not read every room.
 *
 * Missed while down: a reminder due while the server was down is sent when its room is looked at if
 * its occurrence has not started, and recorded as skipped (and counted) otherwise.
 *
 * A channel the member does not have (no push subscription, no verified email) when a reminder is
 * delivered is settled for that reminder: its key is recorded as skipped (not counted), once the
 * other channels are done with it. Without that its key stayed open, and every later look at the
 * room (each edit) sent that reminder through the dispatcher again — availability checks, claims,
 * ledger reads for every due reminder, one room at a time, delaying other rooms' reminders by
 * seconds. So a channel set up later carries only reminders that fall due after it was set up: it
 * never brings back a reminder already delivered on the member's other channels, or one that fell
 * due while they had none.
 *
 * Several instances (a shared database): each hears only the commits of rooms it has loaded, so each
 * surveys notify_room_looks every `resurveyMs` and takes up what others left: the due times of their
 * newer looks (every instance wakes for every reminder; the ledger lets one send), and rooms changed
 * or created that no instance looked at within a survey period (their instance died first). So an
 * instance that dies leaves no reminder behind for more than about one period.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { Storage } from '../storage/storage.js';
import { repeatEvery, type Clock } from './clock.js';
import type { Delivery, RetryVerdict } from './delivery.js';
import type { Dispatcher } from './dispatcher.js';
import { DueIndex, DueTimer } from './due-index.js';
import type { Ledger } from './ledger.js';
import type { NotifyMetrics } from './metrics.js';
import type { Preferences } from './preferences.js';
import type { RoomLooks } from './room-looks.js';
import type { RoomReader } from './room-reader.js';
import { MAX_LEAD_MS, reminderKey, type DueReminder } from './reminders.js';
import { settleDelay } from './settle.js';
import { reminderMessage } from './texts.js';

const DAY = 86_400_000;
/** How far ahead a look finds due reminders, and how long a room with nothing due waits for a look. */
const HORIZON_MS = DAY;
/** Name in notify_state: the time through which reminders have been looked at (shared by instances). */
const ALIVE = 'reminders_alive_at';

/** retryVerdict reuses its last read of a room for a member this long while the room is unchanged. */
const RETRY_READ_REUSE_MS = 60_000;

/** A reminder at the start itself (0 minutes before) stays useful for this long after it fell due. */
const ON_TIME_GRACE_MS = 60_000;

/** Useful until its event starts — or, when it is due at the start, for a minute after. */
function tooLate(r: DueReminder, now: number): boolean {
  return now > Math.max(r.startMs, r.dueMs + ON_TIME_GRACE_MS);
}

export interface SchedulerDeps {
  storage: Storage;
  ledger: Ledger;
  dispatcher: Dispatcher;
  prefs: Preferences;
  clock: Clock;
  metrics: NotifyMetrics;
  logger: Logger;
  /** Each room's last look and next due time, kept across restarts. */
  looks: RoomLooks;
  /** Reads rooms (in a worker for big rooms); shared with the agenda, closed by the module. */
  reader: RoomReader;
  /** A room found deleted (by another instance, or while down): forget what is kept about it. */
  onGone?(roomId: string): Promise<void>;
  /** How long after a commit a changed room is re-read (coalesces bursts of edits). */
  settleMs: number;
  /** A room that keeps changing is re-read at most once per this long (see settleDelay). */
  busyLookMs: number;
  /** With other instances possible (a shared database): how often their looks are taken up (see the file comment). */
  resurveyMs?: number;
}

export class ReminderScheduler {
  private readonly index = new DueIndex();
  /** Per room: reminders due after this time and not yet in the ledger are "missed" if their event started. */
  private readonly lookedAt = new Map<string, number>();
  private downSince: number | null = null;
  private readonly timer: DueTimer;
  private readonly dirty = new Map<string, () => void>();
  private running = Promise.resolve();
  private stopped = false;
  private aliveWritten = 0;
  private prunedAt = 0;
  private roomsToLookAtStart = 0;
  private stopResurvey: (() => void) | undefined;
  /** retryVerdict's last read (one: no more memory than a look's). */
  private retryRead: { roomId: string; userId: string; zone: string | null; head: number; at: number; reminders: DueReminder[] } | undefined;

  constructor(private readonly deps: SchedulerDeps) {
    this.timer = new DueTimer(this.index, deps.clock, () => this.enqueue(() => this.tick()));
  }

  /**
   * Reads when the last instance was alive and each room's last look; indexes the rooms unchanged
   * since with a next due time still ahead, and looks once (in the background) at the others.
   */
  async start(): Promise<void> {
    this.downSince = (await this.deps.ledger.getState(ALIVE)) ?? null;
    const now = this.deps.clock.now();
    const ids: string[] = [];
    for (const { roomId, look, head } of await this.deps.looks.survey()) {
      if (look === null || look.nextDue <= now || look.head !== head) {
        ids.push(roomId);
      } else {
        this.index.set(roomId, look.nextDue);
        // Reminders due after the last look and missed (started) by the time it comes are counted.
        this.lookedAt.set(roomId, look.lookedAt);
      }
    }
    this.roomsToLookAtStart = ids.length;
    this.timer.arm();
    this.enqueue(async () => {
      for (const roomId of ids) {
        if (this.stopped) return;
        await this.process(roomId);
        // A look on SQLite never waits for I/O; without this the whole pass (minutes with thousands of
        // rooms) would run as one chain of microtasks and the server would not even start listening.
        await nextTurn();
      }
    });
    const every = this.deps.resurveyMs;
    if (every !== undefined) this.stopResurvey = repeatEvery(this.deps.clock, every, () => this.enqueue(() => this.resurvey(every)));
  }

  /** A room changed: look at it again once the burst of edits settles. */
  changed(roomId: string): void {
    if (this.stopped || this.dirty.has(roomId)) return;
    const { clock, settleMs, busyLookMs } = this.deps;
    const cancel = clock.after(settleDelay(clock.now(), this.lookedAt.get(roomId), settleMs, busyLookMs), () => {
      this.dirty.delete(roomId);
      this.enqueue(() => this.process(roomId));
    });
    this.dirty.set(roomId, cancel);
  }

  /** Resolves when every queued look has finished and is saved (tests, shutdown). */
  async idle(): Promise<void> {
    await this.running;
    await this.deps.looks.flush();
  }

  get roomsIndexed(): number {
    return this.index.size;
  }

  /** How many rooms the start-up pass reads (due, changed or never looked at). */
  get startupLooks(): number {
    return this.roomsToLookAtStart;
  }

  /**
   * A reminder a channel keeps retrying on its own (see RetryCheck): the room is read as a look
   * reads it, for this member, and the reminder must still be there under the same key (its event
   * not deleted, its occurrence not moved or cancelled, the reminder not removed), due, and not too
   * late (tooLate, as a look). One whose lead changed to later waits for its new due time.
   */
  async retryVerdict(delivery: Delivery, channel: string): Promise<RetryVerdict> {
    const now = this.deps.clock.now();
    const { roomId, userId } = delivery;
    // An outbox pass retries a room's mails one after another (oldest first) after an SMTP outage:
    // one read serves them while the room is unchanged (its log head) and for a minute (so it reads
    // that much further ahead).
    const head = await this.deps.looks.head(roomId);
    // The member's zone, as a look passes it (it places all-day and floating reminders).
    const zones = await this.deps.prefs.zonesOf([userId]);
    const zone = zones[userId] ?? null;
    let memo = this.retryRead;
    const stale = !memo || memo.roomId !== roomId || memo.userId !== userId || memo.zone !== zone || memo.head !== head;
    if (!memo || stale || now < memo.at || now - memo.at > RETRY_READ_REUSE_MS) {
      // Occurrences that started earlier than this are too late whatever their reminder.
      const reminders = await this.deps.reader.read(roomId, {
        kind: 'reminders',
        members: [userId],
        zones,
        startsAfter: now - ON_TIME_GRACE_MS - 1,
        dueBy: now + HORIZON_MS + RETRY_READ_REUSE_MS,
      });
      memo = { roomId, userId, zone, head, at: now, reminders };
      this.retryRead = memo;
    }
    const r = memo.reminders.find((x) => reminderKey(roomId, x, channel) === delivery.key);
    if (!r) return { drop: 'its reminder is gone (event deleted or moved, or reminder removed)' };
    if (tooLate(r, now)) return { drop: 'too late: its event has started' };
    return r.dueMs > now ? { waitMs: r.dueMs - now } : { send: true };
  }

  /** A deleted room leaves the index. */
  forget(roomId: string): void {
    this.index.delete(roomId);
    this.lookedAt.delete(roomId);
    this.dirty.get(roomId)?.();
    this.dirty.delete(roomId);
  }

  async close(): Promise<void> {
    this.stopped = true;
    this.retryRead = undefined;
    this.timer.stop();
    this.stopResurvey?.();
    for (const cancel of this.dirty.values()) cancel();
    this.dirty.clear();
    await this.running;
    await this.deps.looks.flush();
  }

  private enqueue(work: () => Promise<void>): Promise<void> {
    // One look at a time: a look is a document read and a few ledger rows; serial keeps it cheap.
    this.running = this.running.then(work).catch((err) => this.deps.logger.error({ err }, 'reminder look failed'));
    return this.running;
  }


  private async tick(): Promise<void> {
    const now = this.deps.clock.now();
    try {
      for (const roomId of this.index.popDue(now)) {
        if (this.stopped) return;
        try {
          await this.process(roomId);
        } catch (err) {
          // A storage error mid-look (the ledger, a send's bookkeeping): this room is looked at
          // again in a minute, and the rooms after it still get their turn.
          this.deps.logger.error({ err, roomId }, 'reminder look failed; looking again in a minute');
          this.index.set(roomId, now + 60_000);
        }
      }
    } finally {
      // Popped entries are no longer timed: without this, one throw left reminders unscheduled.
      if (!this.stopped) this.timer.arm();
    }
  }

  /**
   * Takes up what other instances saved: a newer look's due time (kept if ours is earlier; an early
   * look costs a read, a late one a reminder), and a look at each room that changed (its head moved)
   * or was created with no instance looking at it within `every`.
   */
  private async resurvey(every: number): Promise<void> {
    const unlookedBefore = this.deps.clock.now() - every;
    if (this.stopped) return;
    for (const { roomId, look, head } of await this.deps.looks.survey()) {
      if (this.dirty.has(roomId)) continue;
      if (look === null) {
        if (!this.lookedAt.has(roomId)) this.changed(roomId);
        continue;
      }
      const ours = this.lookedAt.get(roomId) ?? -Infinity;
      if (look.lookedAt > ours) {
        this.index.set(roomId, Math.min(this.index.get(roomId) ?? Infinity, look.nextDue));
        this.lookedAt.set(roomId, look.lookedAt);
      }
      // Our own latest look may not be saved yet (looks are saved in batches).
      if (look.head !== head && Math.max(look.lookedAt, ours) < unlookedBefore) this.changed(roomId);
    }
    this.timer.arm();
  }

  /** Sends what is due in the room, records what was missed, and indexes its next due time. */
  private async process(roomId: string): Promise<void> {
    const { clock, ledger, metrics } = this.deps;
    const now = clock.now();
    const since = this.lookedAt.get(roomId) ?? this.downSince ?? now;
    let members: string[];
    let seen: { reminders: DueReminder[]; roomName: string } | null;
    let head: number;
    try {
      const record = await this.deps.storage.rooms.get(roomId);
      if (!record) {
        this.forget(roomId);
        await this.deps.onGone?.(roomId);
        return;
      }
      // Before the read: a commit landing during the look leaves a newer head, so the room counts as changed.
      head = await this.deps.looks.head(roomId);
      members = (await this.deps.storage.rooms.members(roomId)).map((m) => m.userId);
      const roomName = record.name;
      seen =
        members.length === 0
          ? null
          : {
              // Due by the horizon (the next look comes by then anyway), of occurrences that
              // started after the last look or are still on time (see tooLate): none older matter.
              reminders: await this.deps.reader.read(roomId, {
                kind: 'reminders',
                members,
                // All-day and floating events remind at their wall clock in each member's zone.
                zones: await this.deps.prefs.zonesOf(members),
                startsAfter: Math.min(since, now - ON_TIME_GRACE_MS) - 1,
                dueBy: now + HORIZON_MS,
              }),
              roomName,
            };
    } catch (err) {
      this.deps.logger.warn({ err, roomId }, 'room could not be read for reminders; looking again later');
      this.index.set(roomId, now + 60_000);
      this.timer.arm();
      return;
    }
    let next = now + HORIZON_MS;
    if (seen) {
      const due = seen.reminders.filter((r) => r.dueMs <= now);
      const keysOf = (r: DueReminder) => this.deps.dispatcher.channelNames.map((c) => reminderKey(roomId, r, c));
      const states = await ledger.states(due.flatMap(keysOf));
      // Keys of reminders delivered with nothing left to retry: those still not in the ledger are
      // channels the member does not have (see the file comment), settled after the loop.
      const delivered: string[] = [];
      for (const r of due) {
        const open = keysOf(r).filter((k) => {
          const s = states.get(k);
          return s === undefined || s.state === 'claimed';
        });
        if (open.length === 0) continue;
        if (tooLate(r, now)) {
          // Too late to be useful: count it once if it fell due since we last looked.
          if (r.dueMs > since) {
            let fresh = false;
            for (const k of open) if (!states.has(k) && (await ledger.skip(k, now))) fresh = true;
            if (fresh) metrics.skipped.inc();
          }
          continue;
        }
        if (!keysOf(r).some((k) => states.has(k))) metrics.due.inc();
        const zone = (await this.deps.prefs.zoneOf(r.userId)) ?? r.tz;
        const outcome = await this.deps.dispatcher.deliver(
          reminderMessage(roomId, seen.roomName, r, zone, now),
          (channel) => reminderKey(roomId, r, channel),
          r.dueMs,
        );
        if (outcome.retryAt !== null) next = Math.min(next, outcome.retryAt);
        else delivered.push(...open);
      }
      if (delivered.length > 0) {
        const after = await ledger.states(delivered);
        await ledger.skipAll(delivered.filter((k) => !after.has(k)), now);
      }
      for (const r of seen.reminders) if (r.dueMs > now) next = Math.min(next, r.dueMs);
    }
    this.lookedAt.set(roomId, now);
    const nextLook = Math.max(next, now + 1);
    this.index.set(roomId, nextLook);
    this.deps.looks.save(roomId, nextLook, now, head);
    await this.noteAlive(now);
    this.timer.arm();
  }

  /** At most once a minute: reminders due before this time have been looked at. Once a day: prune the ledger. */
  private async noteAlive(now: number): Promise<void> {
    if (now - this.aliveWritten < 60_000) return;
    this.aliveWritten = now;
    await this.deps.ledger.raiseState(ALIVE, now);
    if (now - this.prunedAt >= DAY) {
      this.prunedAt = now;
      // Twice the longest look-back (lead + horizon): no key older than that is ever asked for again.
      await this.deps.ledger.prune(now - 2 * (MAX_LEAD_MS + HORIZON_MS));
    }
  }
}
