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
 *
 * This file schedules cycles (debounce, backoff, pushes, polls), runs one, and keeps the push channel open;
 * mirror-import.ts and mirror-export.ts (with mirror-rows.ts and mirror-fetch.ts) do the two directions,
 * over the shared view of both sides in mirror-state.ts.
 */
import { randomUUID } from 'node:crypto';
import { listEvents, observeEvents } from '@kith/model';
import type * as Y from 'yjs';
import { classify, GoogleFailure, Stopped, type CallOptions, type GoogleClients } from './google.js';
import { FieldClock } from './field-clock.js';
import { LinkPaused, type MirrorTools, type RunnerContext } from './mirror-context.js';
import { MirrorExport } from './mirror-export.js';
import { MirrorImport } from './mirror-import.js';
import { RoomRefused, SYNC_ORIGIN, type ResolvedOptions } from './options.js';
import type { LinkRow } from './store.js';

// Kept importable from here: the worker, the package index and the tests name them by this module.
export { adoptedKithId, googleIdFor, pendingEvents, snapshot, type Snapshot } from './mirror-state.js';
export type { RunnerContext } from './mirror-context.js';

export class LinkRunner {
  private readonly dirty = new Set<string>();
  private fullScan = true;
  private needImport = true;
  private running: Promise<void> | null = null;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private unwatch: (() => void) | undefined;
  /** A watch being set up (start, after the room was lost, or by a cycle that found it not watched). */
  private watching: Promise<void> | null = null;
  private stopped = false;
  private failures = 0;
  /**
   * Failed cycles in a row that ended on a 401 surviving the refreshes of `Caller.call`: Google takes the refresh
   * token but not the access it gives, and at the second such cycle the link needs re-authorisation.
   */
  private unauthorized = 0;
  /** Backoff after a failed cycle: nothing runs before this time. */
  private notBefore = 0;
  /**
   * The last cycle found the link not active (needs re-authorisation, paused, held for an owner, quota pause):
   * its pending work waits for a wake-up (a room edit, push, poll, syncNow, the pause's end) instead of running
   * the cycle again at once, which went round every debounce for as long as the link stayed that way.
   */
  private parked = false;
  private requested = 0;
  private completed = 0;
  private readonly waiters: Array<{ gen: number; resolve: () => void }> = [];
  /** Events Google refused with a 5xx or a network error: retried on their own backoff, not in line. */
  private readonly retry = new Map<string, NodeJS.Timeout>();
  /** Refusals in a row per event (so its backoff grows), until an export of it succeeds. */
  private readonly retryCounts = new Map<string, number>();
  /** Counters for tests and the status route. */
  readonly counters = { cycles: 0, failedCycles: 0, imported: 0, exported: 0 };
  private readonly mirrorImport: MirrorImport;
  private readonly mirrorExport: MirrorExport;
  /** When people changed each field of the room's events (settles conflicts field by field). */
  private readonly clock = new FieldClock();

  constructor(
    private readonly ctx: RunnerContext,
    readonly roomId: string,
  ) {
    const tools: MirrorTools = {
      ctx,
      roomId,
      counters: this.counters,
      markDirty: (kithId) => this.dirty.add(kithId),
      fieldTime: (kithId, part, field) => this.clock.time(kithId, part, field),
      call: (link, google, what, fn, opts) => this.call(link, google, what, fn, opts),
    };
    this.mirrorImport = new MirrorImport(tools);
    this.mirrorExport = new MirrorExport(tools, this.mirrorImport);
  }

  private get options(): ResolvedOptions {
    return this.ctx.options;
  }

  // ---------------------------------------------------------------------------------------------- lifecycle

  async start(): Promise<void> {
    try {
      await this.ensureWatching();
    } catch (err) {
      // The server refuses the linking user the room (standalone worker): the cycle below looks at why and pauses.
      if (!(err instanceof RoomRefused)) throw err;
    }
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
        const tz = this.ctx.store.link(this.roomId)?.calendarTz ?? this.options.defaultTimeZone;
        this.clock.see(doc, listEvents(doc, { includeDeleted: true }).map((ev) => ev.id), tz);
        unobserve = observeEvents(doc, (change) => {
          const mine = change.origin === SYNC_ORIGIN;
          this.clock.see(doc, change.ids, tz, mine ? undefined : this.options.now());
          if (mine) return;
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
          if (this.stopped || this.ctx.life.dead) return;
          this.ensureWatching().catch((err) => {
            if (err instanceof RoomRefused) this.kick(0);
            else this.options.logger.warn({ err, roomId: this.roomId }, 'rewatch failed');
          });
        }, 100).unref();
      },
    });
    this.unwatch = () => {
      unobserve?.();
      unwatch();
    };
    if (this.stopped) this.unwatch();
  }

  /** Watches the room unless it is watched already (or being set up to be). */
  private ensureWatching(): Promise<void> {
    if (this.unwatch || this.stopped) return Promise.resolve();
    this.watching ??= this.watch().finally(() => {
      this.watching = null;
    });
    return this.watching;
  }

  /** Stops timers and watching; a cycle in flight finishes (or dies with the worker's life). */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.timer = undefined;
    for (const timer of this.retry.values()) clearTimeout(timer);
    this.retry.clear();
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
    return !this.parked && (this.needImport || this.fullScan || this.dirty.size > 0);
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
    this.parked = false;
    try {
      await this.cycle();
      this.failures = 0;
      this.unauthorized = 0;
      this.notBefore = 0;
      // "Synced" means every change reached Google: not while some event waits for its retry.
      if (this.retry.size === 0) this.resolveWaiters(target);
    } catch (err) {
      if (err instanceof Stopped || this.ctx.life.dead) return;
      if (err instanceof LinkPaused) {
        this.parked = true;
        this.resolveWaiters(target);
        return;
      }
      if (err instanceof RoomRefused) {
        this.pauseRefused(err);
        this.parked = true;
        this.resolveWaiters(target);
        return;
      }
      this.counters.failedCycles += 1;
      await this.onCycleFailure(err, target);
    }
  }

  /**
   * The server refuses the linking user the room for good (standalone worker: removed from it, or the room is
   * gone): paused as when they can no longer edit it, until an owner links again. Reconnecting cannot help.
   */
  private pauseRefused(err: RoomRefused): void {
    const { store, options } = this.ctx;
    const now = options.now();
    if (store.link(this.roomId)?.status !== 'active') return;
    options.logger.warn({ roomId: this.roomId, err: err.message }, 'the server refuses the linking user this room; link paused');
    store.updateLink(this.roomId, { status: 'paused', statusReason: 'LINKED_USER_CANNOT_EDIT', lastError: err.message, lastErrorAt: now }, now);
  }

  private async onCycleFailure(err: unknown, target: number): Promise<void> {
    const { store, options } = this.ctx;
    const now = options.now();
    // The link's tokens were erased while the cycle ran (the user who linked it was deleted, and their grant
    // revoked): the failure is not the link's to record. The next cycle finds the link stopped.
    if (this.tokensErased()) {
      this.unauthorized = 0;
      return;
    }
    // Every Google call surfaces as a GoogleFailure; anything else is a bug or a room that cannot be read.
    const failure = err instanceof GoogleFailure ? err : null;
    const message = failure ? `${failure.status ?? failure.reason ?? ''} ${failure.message}`.trim() : String((err as Error)?.message ?? err);
    // A 401 after a refresh Google granted, in two cycles running (once may be chance): the access is gone, as
    // with invalid_grant. The research notes' failure table: "401: refresh once, then treat as the next row".
    this.unauthorized = failure?.status === 401 ? this.unauthorized + 1 : 0;
    if (failure?.kind === 'invalid_grant' || this.unauthorized >= 2) {
      options.logger.warn({ roomId: this.roomId, status: failure?.status, reason: failure?.reason }, 'google grant refused; link needs re-authorisation');
      const reason = failure?.kind === 'invalid_grant' ? (failure.reason ?? 'invalid_grant') : (failure?.reason ?? 'unauthorized');
      store.updateLink(this.roomId, { status: 'needs_reauth', statusReason: reason, lastError: message, lastErrorAt: now }, now);
      this.unauthorized = 0;
      this.parked = true;
      this.resolveWaiters(target);
      return;
    }
    if (failure?.kind === 'quota') {
      store.updateLink(this.roomId, { pausedUntil: now + options.quotaPauseMs, lastError: message, lastErrorAt: now }, now);
      this.parked = true;
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
      this.parked = true;
      this.resolveWaiters(this.requested);
      return;
    }
    if (link.pausedUntil && link.pausedUntil > options.now()) {
      this.parked = true;
      this.resolveWaiters(this.requested);
      this.schedule(link.pausedUntil - options.now(), false);
      return;
    }
    const role = await host.memberRole(this.roomId, link.userId);
    life.check();
    if (role !== 'owner' && role !== 'editor') {
      store.updateLink(this.roomId, { status: 'paused', statusReason: 'LINKED_USER_CANNOT_EDIT' }, options.now());
      this.parked = true;
      return;
    }
    // Not watched when the room was refused to the user who linked it before (standalone worker), or was lost.
    await this.ensureWatching();
    life.check();
    const google = this.ctx.clients(link);
    await this.importIfAsked(link, google);
    // Export in bounded batches and list Google's changes (pushed or polled) between them: neither direction
    // waits for the other to finish. Continuations of a batch do not count as passes; re-exports do.
    for (let pass = 0; pass < 10 && !this.stopped && !this.tokensErased() && (this.fullScan || this.dirty.size > 0); ) {
      const all = this.fullScan;
      const ids = new Set(this.dirty);
      this.fullScan = false;
      this.dirty.clear();
      let outcome;
      try {
        outcome = await this.mirrorExport.exportChanges(link, google, all ? 'all' : ids, this.retry);
      } catch (err) {
        if (all) this.fullScan = true;
        for (const id of ids) this.dirty.add(id);
        throw err;
      }
      for (const id of outcome.rest) this.dirty.add(id);
      for (const id of outcome.settled) this.forgetRetry(id);
      for (const { kithId, failure } of outcome.failed) this.retryLater(kithId, failure);
      if (outcome.rest.length === 0) pass += 1;
      await this.importIfAsked(link, google);
    }
    // Stopped, or the tokens were erased meanwhile (the user who linked the room was deleted): no channel is made
    // with them, and the link's state is not this cycle's to record.
    if (this.stopped || this.tokensErased()) return;
    await this.maintainChannel(link, google);
    life.check();
    const settled = this.retry.size === 0 ? { lastError: null, lastErrorAt: null } : {};
    store.updateLink(this.roomId, { lastSyncAt: options.now(), ...settled, pausedUntil: null }, options.now());
  }

  /**
   * The link's tokens were erased (the user who linked it deleted their account) or it is gone: a cycle under way
   * (in a separate worker, which is not stopped but learns it from the state file) sends nothing more with them.
   */
  private tokensErased(): boolean {
    return !this.ctx.store.link(this.roomId)?.tokens;
  }

  private async importIfAsked(link: LinkRow, google: GoogleClients): Promise<void> {
    if (!this.needImport) return;
    this.needImport = false;
    try {
      await this.mirrorImport.importChanges(link, google);
    } catch (err) {
      this.needImport = true;
      throw err;
    }
  }

  /** One event Google refused for now: retry it alone after its own backoff, the rest goes on. */
  private retryLater(kithId: string, failure: GoogleFailure): void {
    const { options, store } = this.ctx;
    clearTimeout(this.retry.get(kithId));
    const failures = (this.retryCounts.get(kithId) ?? 0) + 1;
    this.retryCounts.set(kithId, failures);
    const delay = this.ctx.caller.backoff(Math.min(failures - 1, 6)) + options.debounceMs;
    const timer = setTimeout(() => {
      if (this.retry.get(kithId) !== timer) return;
      this.retry.delete(kithId);
      this.dirty.add(kithId);
      this.kick(0);
    }, delay);
    timer.unref();
    this.retry.set(kithId, timer);
    const now = options.now();
    options.logger.debug({ roomId: this.roomId, kithId, status: failure.status, reason: failure.reason, failures }, 'google refused an event for now; retrying it later');
    store.updateLink(this.roomId, { lastError: `${failure.status ?? failure.reason ?? ''} ${failure.message}`.trim(), lastErrorAt: now }, now);
  }

  private forgetRetry(kithId: string): void {
    this.retryCounts.delete(kithId);
  }

  private call<T>(link: LinkRow, google: GoogleClients, what: string, fn: () => Promise<T>, opts?: CallOptions): Promise<T> {
    return this.ctx.caller.call(this.ctx.bucket(link.userId), what, fn, google.auth, opts);
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
    // Google pushes only what changes after the channel exists: a change made between this cycle's
    // import and now would otherwise wait for the next poll (minutes), so import once more.
    if (!fresh.channelId) this.needImport = true;
    if (fresh.channelId && fresh.channelResourceId) {
      const old = { id: fresh.channelId, resourceId: fresh.channelResourceId };
      await this.call(link, google, 'channels.stop', () => google.api.channels.stop({ requestBody: old })).catch(() => undefined);
    }
  }
}
