/**
 * Notifications: reminders that reach people when Kith is closed, change notices and comments.
 * This file composes the module; one concern a file beside it:
 * - reminders.ts (which reminders fall due when) → scheduler.ts (per-room next-due index) →
 *   dispatcher.ts (claim → send → mark, through ledger.ts) → the channels (push, email: channels/).
 * - room-changes.ts (what changed, by whom) → notices.ts (one batched notice per room and window).
 * - agenda.ts (the daily agenda: one index entry per member who chose one).
 * - room-reader.ts: the rooms those looks read (look-at.ts), big ones in a worker.
 * - preferences.ts + routes.ts (settings, comments REST), metrics.ts, clock.ts (injectable time).
 */
import type { KithModule } from '../modules/module.js';
import type { ModuleContext } from '../modules/module.js';
import { DailyAgenda } from './agenda.js';
import { systemClock, type Clock } from './clock.js';
import { changesRetryCheck, retryCheck } from './delivery.js';
import { Dispatcher, type AnyChannel } from './dispatcher.js';
import { Ledger } from './ledger.js';
import { NotifyMetrics } from './metrics.js';
import { NOTIFY_CHANNEL_MIGRATIONS } from './channels/migrations.js';
import { NOTIFY_CORE_MIGRATIONS, NOTIFY_LOOK_MIGRATIONS, NOTIFY_PENDING_KEY_MIGRATIONS, NOTIFY_PENDING_MIGRATIONS } from './migrations.js';
import { ChangeNotices } from './notices.js';
import { Preferences } from './preferences.js';
import { notifyRoutes } from './routes.js';
import { OFF_LOOP_BYTES, ROOM_READ_LIMITS, RoomReader } from './room-reader.js';
import { RoomLooks } from './room-looks.js';
import { ReminderScheduler } from './scheduler.js';

export interface NotifyOptions {
  /** The channels to send on (push and email come from notify/channels; tests pass their own). */
  channels?: (ctx: ModuleContext) => AnyChannel[] | Promise<AnyChannel[]>;
  /** How long change notices gather before one goes out (default 5 min). */
  changeWindowMs?: number;
  /** A changed room is re-read this long after its last commit burst starts (default 1 s). */
  settleMs?: number;
  /**
   * A room that keeps changing is re-read at most once per this long (default 10 × settleMs): each
   * look reads the whole room, and a room edited every second would otherwise be read every second.
   */
  busyLookMs?: number;
  /** How long a claim holds a delivery before another instance may retry it (default 2 min). */
  leaseMs?: number;
  /** Wait before a failed send is retried (default 1 min). */
  retryMs?: number;
  /** A daily agenda later than this after its time (downtime) is skipped and counted (default 2 h). */
  agendaLateMs?: number;
  /**
   * With a shared database (PostgreSQL: other instances may run): how often each instance takes up
   * the rooms other instances looked at or left unlooked (default 1 min; see scheduler.ts).
   */
  resurveyMs?: number;
  /** A room whose stored bytes exceed this is read for reminders and agendas in a worker (default OFF_LOOP_BYTES). */
  offLoopLookBytes?: number;
  clock?: Clock;
  /** Reached by tests: the running parts. */
  onInstalled?(parts: NotifyParts): void;
}

export interface NotifyParts {
  scheduler: ReminderScheduler;
  notices: ChangeNotices;
  agenda: DailyAgenda;
  ledger: Ledger;
  metrics: NotifyMetrics;
}

export { NOTIFY_CORE_MIGRATIONS } from './migrations.js';
export type { Channel, Delivery, SendOutcome } from './delivery.js';
export type { AnyChannel } from './dispatcher.js';
export { ManualClock, systemClock, type Clock } from './clock.js';
export { webhookChannel } from './webhook-channel.js';

export function notifyModule(options: NotifyOptions = {}): KithModule {
  return {
    name: 'notify',
    // One module, its sets of tables: the core's (ledger, preferences), the channels' (push
    // subscriptions, addresses, outbox), then the core's later ones (pending change notices, room looks);
    // always all, in this order, so the versions never depend on the options.
    migrations: {
      sqlite: [
        ...NOTIFY_CORE_MIGRATIONS.sqlite,
        ...NOTIFY_CHANNEL_MIGRATIONS.sqlite,
        ...NOTIFY_PENDING_MIGRATIONS.sqlite,
        ...NOTIFY_LOOK_MIGRATIONS.sqlite,
        ...NOTIFY_PENDING_KEY_MIGRATIONS.sqlite,
      ],
      postgres: [
        ...NOTIFY_CORE_MIGRATIONS.postgres,
        ...NOTIFY_CHANNEL_MIGRATIONS.postgres,
        ...NOTIFY_PENDING_MIGRATIONS.postgres,
        ...NOTIFY_LOOK_MIGRATIONS.postgres,
        ...NOTIFY_PENDING_KEY_MIGRATIONS.postgres,
      ],
    },
    async install(ctx) {
      const clock = options.clock ?? systemClock;
      const settleMs = options.settleMs ?? 1_000;
      const busyLookMs = options.busyLookMs ?? settleMs * 10;
      // One instance alone on its SQLite file hears every commit itself: nothing to take up from others.
      const resurveyMs = ctx.config.databaseUrl === undefined ? undefined : (options.resurveyMs ?? 60_000);
      const ledger = new Ledger(ctx.sql);
      const looks = new RoomLooks(ctx.sql, ctx.componentLogger('reminders'));
      const metrics = new NotifyMetrics(ctx.metrics.registry);
      const prefs = new Preferences(ctx.sql);
      const channels = (await options.channels?.(ctx)) ?? [];
      const dispatcher = new Dispatcher({
        ledger,
        channels,
        clock,
        metrics,
        logger: ctx.logger,
        holder: `${process.pid}-${Math.random().toString(36).slice(2)}`,
        leaseMs: options.leaseMs ?? 120_000,
        retryMs: options.retryMs ?? 60_000,
      });
      const reader = new RoomReader({ rooms: ctx.rooms, storage: ctx.storage, metrics }, { offLoopBytes: options.offLoopLookBytes ?? OFF_LOOP_BYTES, limits: ROOM_READ_LIMITS });
      const notices = new ChangeNotices({
        rooms: ctx.rooms,
        storage: ctx.storage,
        dispatcher,
        prefs,
        sql: ctx.sql,
        clock,
        logger: ctx.componentLogger('notices'),
        reader,
        windowMs: options.changeWindowMs ?? 300_000,
        settleMs,
        busyLookMs,
        resurveyMs,
      });
      const scheduler = new ReminderScheduler({
        storage: ctx.storage,
        ledger,
        dispatcher,
        prefs,
        clock,
        metrics,
        logger: ctx.componentLogger('reminders'),
        settleMs,
        busyLookMs,
        looks,
        reader,
        onGone: (roomId) => forgetRoom(roomId),
        resurveyMs,
      });
      // A deleted room's rows (pending changes, room preferences, ledger keys, last look) and index entries go with it.
      const forgetRoom = async (roomId: string) => {
        scheduler.forget(roomId);
        await looks.forget(roomId);
        await notices.forget(roomId);
        await prefs.forgetRoom(roomId);
        await ledger.forgetRoom(roomId);
      };
      const stopDeleted = ctx.members.onRoomDeleted(forgetRoom);
      const agenda = new DailyAgenda({
        sql: ctx.sql,
        storage: ctx.storage,
        reader,
        ledger,
        dispatcher,
        clock,
        metrics,
        logger: ctx.componentLogger('agenda'),
        lateMs: options.agendaLateMs ?? 2 * 3_600_000,
        resurveyMs,
      });
      // A channel that retries on its own (email) asks the checks the first send passed again.
      const retries = retryCheck({
        reminder: (delivery, channel) => scheduler.retryVerdict(delivery, channel),
        changes: changesRetryCheck({ prefs, rooms: ctx.rooms, clock }),
        agenda: (delivery) => agenda.retryVerdict(delivery),
      });
      for (const channel of channels) channel.checkRetriesWith?.(retries);
      const stopCommits = ctx.rooms.onAnyCommit((roomId, local) => {
        scheduler.changed(roomId);
        notices.changed(roomId, local);
      });
      const stopCreated = ctx.members.onRoomCreated(async (room) => {
        notices.prime(room.roomId, null);
        // Looked at (and so given a row in notify_room_looks) now, not on the next start-up.
        scheduler.changed(room.roomId);
      });
      // Each loaded room is pictured as stored, before the first change reaches it.
      const stopOpened = ctx.rooms.onAnyOpen((roomId, doc) => notices.prime(roomId, doc));
      const stopUnloaded = ctx.rooms.onAnyUnload((roomId) => notices.unloaded(roomId));
      await ctx.app.register(notifyRoutes, {
        auth: ctx.auth,
        rooms: ctx.rooms,
        storage: ctx.storage,
        prefs,
        now: () => clock.now(),
        settingsChanged: (userId: string) => {
          agenda.refresh(userId);
          // The member's zone places their all-day and floating reminders: their rooms are looked at again.
          ctx.storage.rooms.listForUser(userId).then(
            (rooms) => rooms.forEach((r) => scheduler.changed(r.roomId)),
            (err: unknown) => ctx.logger.warn({ err, userId }, 'rooms of a member whose settings changed could not be listed'),
          );
        },
      });
      await scheduler.start();
      await notices.start();
      await agenda.start();
      options.onInstalled?.({ scheduler, notices, agenda, ledger, metrics });
      return {
        async close() {
          stopCommits();
          stopCreated();
          stopOpened();
          stopUnloaded();
          stopDeleted();
          await scheduler.close();
          await agenda.close();
          await reader.close();
          await notices.close();
        },
      };
    },
  };
}
