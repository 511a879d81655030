/**
 * The daily agenda: at the time a member chose ("07:30", in their zone), one message per channel
 * listing today's occurrences in each of their rooms that has any ("Today for Millers: 09:00
 * Dentist"). Nothing is sent on a day with nothing in it.
 *
 * One entry per member in a DueIndex (never a scan per minute): the next local date's chosen time,
 * computed with Temporal in the member's zone, so 07:30 stays 07:30 on both sides of a DST change.
 * Exactly once per (member, local date, channel) through the ledger (`agenda:<user>:<date>:<channel>`).
 * After downtime, today's agenda is still sent if it is at most `lateMs` late; later it is recorded
 * as skipped and counted (an agenda at noon is no longer "the day ahead").
 *
 * Several instances (a shared database): every instance plans every member and the ledger lets one
 * send. Settings are changed through one instance, so the others read the settings changed since
 * their last look every `resurveyMs` and plan those members again: an agenda chosen on an instance
 * that then died is still sent.
 */
import type { Logger } from 'pino';
import { Temporal } from 'temporal-polyfill';
import type { Storage } from '../storage/storage.js';
import type { ModuleSql } from '../storage/module-tables.js';
import { repeatEvery, type Clock } from './clock.js';
import type { Delivery, RetryVerdict } from './delivery.js';
import type { Dispatcher } from './dispatcher.js';
import { DueIndex, DueTimer } from './due-index.js';
import type { Ledger } from './ledger.js';
import type { NotifyMetrics } from './metrics.js';
import type { RoomReader } from './room-reader.js';
import { formatTime } from './texts.js';

/** Occurrences listed per room; more read as "and N more". */
const PER_ROOM = 8;

export interface AgendaDeps {
  sql: ModuleSql;
  storage: Storage;
  /** Reads each room's day (in a worker for big rooms). */
  reader: RoomReader;
  ledger: Ledger;
  dispatcher: Dispatcher;
  clock: Clock;
  metrics: NotifyMetrics;
  logger: Logger;
  /** An agenda later than this after its time is skipped (default 2 h). */
  lateMs: number;
  /** With other instances possible (a shared database): how often settings they changed are read. */
  resurveyMs?: number;
}

/** Settings changed this long before the newest one seen are read again (instances' clocks differ a little). */
const CLOCK_SKEW_MS = 60_000;

interface AgendaPref {
  time: string;
  zone: string;
  updatedAt: number;
}

/** A notify_prefs row as the agenda reads it. */
interface PrefRow {
  agenda_time: string | null;
  time_zone: string | null;
  updated_at: number | string;
}

/** The member's agenda setting in a row, or null when they chose none. */
function agendaPrefOf(row: PrefRow | undefined): AgendaPref | null {
  return row?.agenda_time ? { time: row.agenda_time, zone: row.time_zone ?? 'UTC', updatedAt: Number(row.updated_at) } : null;
}

/** One planned send: the member's local date, the instant its chosen time falls on, and when to try. */
interface Plan {
  date: string;
  /** The agenda's time that day (agendaInstant of the date and the member's setting). */
  due: number;
  /** When to send: `due`, or later for a retry. */
  at: number;
  /** A retry of a send that was on time: tried until `lateMs` after `due`, then given up. */
  retry: boolean;
}

/** The instant `time` ("HH:MM") falls on at `date` in `zone` (a time in a DST gap moves forward, as Temporal's "compatible"). */
export function agendaInstant(date: string, time: string, zone: string): number {
  return Temporal.PlainDate.from(date).toZonedDateTime({ timeZone: zone, plainTime: Temporal.PlainTime.from(time) }).epochMilliseconds;
}

function localDate(ms: number, zone: string): string {
  return Temporal.Instant.fromEpochMilliseconds(ms).toZonedDateTimeISO(zone).toPlainDate().toString();
}

const nextDate = (date: string) => Temporal.PlainDate.from(date).add({ days: 1 }).toString();

export const agendaKey = (userId: string, date: string, channel: string) => `agenda:${userId}:${date}:${channel}`;

/** Whether `plan` was made from this setting (its date's chosen time is the plan's). */
const plannedFor = (plan: Plan, pref: AgendaPref): boolean => agendaInstant(plan.date, pref.time, pref.zone) === plan.due;

export class DailyAgenda {
  private readonly index = new DueIndex();
  private readonly plans = new Map<string, Plan>();
  private readonly timer: DueTimer;
  private running = Promise.resolve();
  private stopped = false;
  /** The newest settings change read (notify_prefs.updated_at). */
  private seenUpdatedAt = -Infinity;
  private stopResurvey: (() => void) | undefined;

  constructor(private readonly deps: AgendaDeps) {
    this.timer = new DueTimer(this.index, deps.clock, () => this.enqueue(() => this.tick()));
  }

  /** Plans every member who chose an agenda; today's is included when it fell due while we were down. */
  async start(): Promise<void> {
    const rows = await this.deps.sql.all<PrefRow & { user_id: string }>(
      'SELECT user_id, agenda_time, time_zone, updated_at FROM notify_prefs WHERE agenda_time IS NOT NULL',
    );
    for (const r of rows) {
      this.plan(r.user_id, agendaPrefOf(r)!, true);
      this.seenUpdatedAt = Math.max(this.seenUpdatedAt, Number(r.updated_at));
    }
    this.timer.arm();
    const every = this.deps.resurveyMs;
    if (every !== undefined) this.stopResurvey = repeatEvery(this.deps.clock, every, () => this.enqueue(() => this.readChangedSettings()));
  }

  /** Plans again the members whose settings changed (on another instance) since the last read, if their plan differs. */
  private async readChangedSettings(): Promise<void> {
    if (this.stopped) return;
    const rows = await this.deps.sql.all<PrefRow & { user_id: string }>(
      'SELECT user_id, agenda_time, time_zone, updated_at FROM notify_prefs WHERE updated_at > ?',
      [this.seenUpdatedAt === -Infinity ? 0 : this.seenUpdatedAt - CLOCK_SKEW_MS],
    );
    for (const r of rows) {
      this.seenUpdatedAt = Math.max(this.seenUpdatedAt, Number(r.updated_at));
      const pref = agendaPrefOf(r);
      if (!pref) {
        this.forget(r.user_id);
        continue;
      }
      const plan = this.plans.get(r.user_id);
      // Unchanged: the plan stays (a retry in progress with it).
      if (!plan || !plannedFor(plan, pref)) this.plan(r.user_id, pref, false);
    }
    this.timer.arm();
  }

  /**
   * The member's settings changed (on this instance): plan from their new time, from now on, unless
   * the plan is still the one for this setting. Every PUT calls this, whatever it changed, and
   * planning afresh would drop today's agenda while it waits for a retry (its time has passed, so
   * a new plan is tomorrow's); a change that moves its instant (time, zone) or removes it still does.
   */
  refresh(userId: string): void {
    this.enqueue(async () => {
      const pref = await this.prefOf(userId);
      const plan = this.plans.get(userId);
      if (!pref) this.forget(userId);
      else if (!plan || !plannedFor(plan, pref)) this.plan(userId, pref, false);
      this.timer.arm();
    });
  }

  /**
   * An agenda a channel keeps retrying on its own (see RetryCheck), by what its send checked: the
   * member still wants one, and it is not more than `lateMs` after its time (from the setting now: a
   * time moved later today waits for it). The day's list is as it was composed.
   */
  async retryVerdict(delivery: Delivery): Promise<RetryVerdict> {
    const date = /:(\d{4}-\d{2}-\d{2}):[^:]*$/.exec(delivery.key)?.[1];
    if (date === undefined) return { drop: 'not an agenda key' };
    const pref = await this.prefOf(delivery.userId);
    if (!pref) return { drop: 'the member turned the daily agenda off' };
    const now = this.deps.clock.now();
    const due = agendaInstant(date, pref.time, pref.zone);
    if (now - due > this.deps.lateMs) return { drop: 'too late: past the agenda’s late limit' };
    return due > now ? { waitMs: due - now } : { send: true };
  }

  get membersIndexed(): number {
    return this.index.size;
  }

  idle(): Promise<void> {
    return this.running;
  }

  async close(): Promise<void> {
    this.stopped = true;
    this.timer.stop();
    this.stopResurvey?.();
    await this.running;
  }

  private forget(userId: string): void {
    this.index.delete(userId);
    this.plans.delete(userId);
  }

  private plan(userId: string, pref: AgendaPref, startingUp: boolean): void {
    const now = this.deps.clock.now();
    const today = localDate(now, pref.zone);
    const todayAt = agendaInstant(today, pref.time, pref.zone);
    // Today's time already passed: it is ours to catch up only if it fell due after the setting was made (downtime).
    const catchUp = startingUp && todayAt <= now && todayAt > pref.updatedAt;
    const date = todayAt > now || catchUp ? today : nextDate(today);
    const due = agendaInstant(date, pref.time, pref.zone);
    this.setPlan(userId, { date, due, at: due, retry: false });
  }

  private setPlan(userId: string, plan: Plan): void {
    this.plans.set(userId, plan);
    this.index.set(userId, plan.at);
  }

  private async prefOf(userId: string): Promise<AgendaPref | null> {
    const row = await this.deps.sql.get<PrefRow>('SELECT agenda_time, time_zone, updated_at FROM notify_prefs WHERE user_id = ?', [userId]);
    return agendaPrefOf(row);
  }

  private enqueue(work: () => Promise<void>): Promise<void> {
    this.running = this.running.then(work).catch((err) => this.deps.logger.error({ err }, 'daily agenda failed'));
    return this.running;
  }


  private async tick(): Promise<void> {
    const now = this.deps.clock.now();
    try {
      for (const userId of this.index.popDue(now)) {
        if (this.stopped) return;
        const plan = this.plans.get(userId);
        if (!plan) continue;
        try {
          await this.fire(userId, plan);
        } catch (err) {
          // A storage error mid-send: this member's agenda is tried again in a minute; the others still go.
          this.deps.logger.error({ err }, 'daily agenda failed; trying again in a minute');
          this.setPlan(userId, { ...plan, at: now + 60_000, retry: true });
        }
      }
    } finally {
      if (!this.stopped) this.timer.arm();
    }
  }

  private async fire(userId: string, plan: Plan): Promise<void> {
    const { clock, ledger, dispatcher, metrics } = this.deps;
    const pref = await this.prefOf(userId);
    if (!pref) return this.forget(userId);
    // Changed on another instance since this was planned: plan again from the stored setting.
    if (!plannedFor(plan, pref)) return this.plan(userId, pref, false);
    const now = clock.now();
    const next = () => {
      const date = nextDate(plan.date);
      const due = agendaInstant(date, pref.time, pref.zone);
      this.setPlan(userId, { date, due, at: due, retry: false });
    };
    if (now - plan.due > this.deps.lateMs) {
      // Late after downtime: recorded as skipped. A retry this late (a channel failing all morning)
      // is given up: an agenda at noon is no longer the day ahead, and tomorrow's must not wait.
      if (plan.retry) this.deps.logger.warn({ date: plan.date }, 'daily agenda given up: still failing after its late limit');
      let fresh = false;
      for (const channel of dispatcher.channelNames) if (await ledger.skip(agendaKey(userId, plan.date, channel), now)) fresh = true;
      if (fresh) metrics.agendaSkipped.inc();
      return next();
    }
    let message: Omit<Delivery, 'key'> | null;
    try {
      message = await this.compose(userId, plan.date, pref.zone);
    } catch (err) {
      this.deps.logger.warn({ err }, 'agenda could not be read; trying again in a minute');
      return this.setPlan(userId, { ...plan, at: now + 60_000, retry: true });
    }
    if (!message) return next();
    const outcome = await dispatcher.deliver(message, (channel) => agendaKey(userId, plan.date, channel));
    if (outcome.retryAt !== null) this.setPlan(userId, { ...plan, at: Math.max(outcome.retryAt, now + 1), retry: true });
    else next();
  }

  /** "Today for Millers" with each room's occurrences of the member's local day, or null when the day is empty. */
  private async compose(userId: string, date: string, zone: string): Promise<Omit<Delivery, 'key'> | null> {
    const from = agendaInstant(date, '00:00', zone);
    const to = agendaInstant(nextDate(date), '00:00', zone);
    const sections: Array<{ roomId: string; name: string; lines: string[] }> = [];
    for (const room of await this.deps.storage.rooms.listForUser(userId)) {
      const occs = await this.deps.reader.read(room.roomId, {
        kind: 'occurrences',
        window: { from: new Date(from).toISOString(), to: new Date(to).toISOString(), timeZone: zone },
      });
      if (occs.length === 0) continue;
      const lines = occs
        .slice(0, PER_ROOM)
        .map((o) => (o.allDay ? `all day ${o.title}` : `${Date.parse(o.startInstant) < from ? 'until ' + formatTime(Date.parse(o.endInstant), zone) : formatTime(Date.parse(o.startInstant), zone)} ${o.title}`));
      if (occs.length > PER_ROOM) lines.push(`and ${occs.length - PER_ROOM} more`);
      sections.push({ roomId: room.roomId, name: room.name, lines });
    }
    if (sections.length === 0) return null;
    const first = sections[0]!;
    return {
      userId,
      roomId: first.roomId,
      kind: 'agenda',
      title: `Today for ${sections.map((s) => s.name || 'your calendar').join(', ')}`,
      body: sections.map((s) => `${s.name || 'Your calendar'}: ${s.lines.join(', ')}`).join('\n'),
      url: sections.length === 1 ? `/#/rooms/${encodeURIComponent(first.roomId)}` : '/#/',
      tag: `agenda:${date}`,
    };
  }
}
