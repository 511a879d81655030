/**
 * The mirror worker: one runner per linked room, the shared per-user rate limits, the links' OAuth clients,
 * linking and unlinking, and the retry queue of revocations.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { calendar_v3 } from '@googleapis/calendar';
import type { Credentials } from 'google-auth-library';
import { ROOT } from '@kith/model';
import { Caller, classify, GoogleFailure, googleClients, Life, Stopped, TokenBucket, type GoogleClients } from './google.js';
import { grantLookup, revocableGrant, type GrantLookup } from './grants.js';
import { isConfigured, resolveOptions, type GoogleSyncHost, type GoogleSyncOptions, type ResolvedOptions } from './options.js';
import { LinkRunner, pendingEvents, snapshot } from './runner.js';
import { loadMasterKey, Secrets } from './secrets.js';
import { StateStore, type LinkRow, type LinkStatus, type MassDeleteDecision } from './store.js';

export interface LinkStatusView {
  roomId: string;
  linked: true;
  status: LinkStatus;
  /**
   * True when the link holds no working grant: Google refused it, or the user who linked the room deleted their
   * account (reason `LINKED_USER_DELETED`). An owner must link again (GET /google/auth-url).
   */
  needsReauth: boolean;
  reason: string | null;
  calendarId: string;
  calendarTimeZone: string;
  linkedBy: string;
  linkedAt: string;
  lastSyncAt: string | null;
  lastError: string | null;
  lastErrorAt: string | null;
  pausedUntil: string | null;
  /** Room events whose changes have not reached Google yet. */
  pendingChanges: number;
  /** Events Google refused (kept in the room; retried when they change). */
  failedEvents: number;
  push: { active: boolean; expiresAt: string | null };
}

export interface GoogleEventView {
  id: string;
  kithEventId: string | null;
  status: string;
  title: string;
  description: string;
  location: string;
  allDay: boolean;
  start: string;
  end: string;
  timeZone: string | null;
  recurringEventId: string | null;
  updated: string | null;
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/**
 * Status reason (with `needs_reauth`) of a link whose linking user deleted their Kith account: its tokens were
 * erased and its grant revoked, so it stays stopped until an owner links the room again.
 */
export const LINKED_USER_DELETED = 'LINKED_USER_DELETED';

export class GoogleSyncWorker {
  readonly o: ResolvedOptions;
  readonly store: StateStore;
  readonly secrets: Secrets;
  readonly life = new Life();
  readonly caller: Caller;
  private readonly runners = new Map<string, LinkRunner>();
  private readonly starting = new Map<string, Promise<void>>();
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly clientCache = new Map<string, { tokens: string; clients: GoogleClients }>();
  private revocationTimer: NodeJS.Timeout | undefined;
  private revoking: Promise<void> | null = null;
  private linkTimer: NodeJS.Timeout | undefined;
  /** What each link looked like at the last poll (status, grant, calendar). */
  private readonly linkSeen = new Map<string, string>();
  private closed = false;

  constructor(
    readonly host: GoogleSyncHost,
    options: GoogleSyncOptions,
  ) {
    this.o = resolveOptions(options);
    this.secrets = new Secrets(loadMasterKey(this.o.dataDir, this.o.tokenKey));
    this.store = StateStore.inDataDir(this.o.dataDir);
    this.caller = new Caller(this.o, this.life);
  }

  get configured(): boolean {
    return isConfigured(this.o);
  }

  /** Starts a runner for every linked room. */
  async start(): Promise<void> {
    if (!this.configured) return;
    if (this.o.runWorker) {
      for (const link of this.store.links()) this.startRunnerLater(link.roomId, 0);
      if (this.o.linkPollMs) {
        this.linkTimer = setInterval(() => this.pollLinks(), this.o.linkPollMs);
        this.linkTimer.unref();
      }
    }
    this.revocationTimer = setInterval(() => void this.retryRevocations(), 60_000);
    this.revocationTimer.unref();
  }

  /** Graceful stop: no new cycles; waits for the ones in flight (bounded), then closes the state file. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.revocationTimer) clearInterval(this.revocationTimer);
    if (this.linkTimer) clearInterval(this.linkTimer);
    for (const r of this.runners.values()) r.stop();
    await Promise.race([
      Promise.all([...this.runners.values()].map((r) => r.idle())),
      new Promise((resolve) => setTimeout(resolve, 10_000).unref()),
    ]);
    this.life.kill();
    this.runners.clear();
    this.store.close();
  }

  /**
   * Abrupt stop, as if the process died: every step in flight is abandoned where it is (a request already
   * sent may still reach Google), nothing more is written anywhere. For crash tests.
   */
  kill(): void {
    if (this.closed) return;
    this.closed = true;
    this.life.kill();
    if (this.revocationTimer) clearInterval(this.revocationTimer);
    if (this.linkTimer) clearInterval(this.linkTimer);
    for (const r of this.runners.values()) r.stop();
    this.runners.clear();
    this.store.close();
  }

  bucket(userId: string): TokenBucket {
    let b = this.buckets.get(userId);
    if (!b) {
      b = new TokenBucket(this.o.requestsPerSecond, this.o.requestBurst, this.o.now);
      this.buckets.set(userId, b);
    }
    return b;
  }

  credentialsOf(link: LinkRow): Credentials {
    if (!link.tokens) {
      throw new GoogleFailure('invalid_grant', undefined, LINKED_USER_DELETED, 'the link holds no Google tokens (the user who linked it deleted their account)');
    }
    return JSON.parse(this.secrets.decrypt(link.tokens, link.roomId)) as Credentials;
  }

  /** The OAuth/Calendar client pair of a link, rebuilt when its stored tokens were replaced (re-authorisation). */
  clients(link: LinkRow): GoogleClients {
    const cached = this.clientCache.get(link.roomId);
    if (cached && cached.tokens === link.tokens) return cached.clients;
    let current = this.credentialsOf(link);
    const entry = {
      tokens: link.tokens,
      clients: googleClients(this.o, current, (fresh) => {
        // Refresh answers carry no refresh_token: merge, keep the stored one.
        current = { ...current, ...Object.fromEntries(Object.entries(fresh).filter(([, v]) => v !== undefined && v !== null)) };
        if (this.life.dead || !this.store.isOpen) return;
        const sealed = this.secrets.encrypt(JSON.stringify(current), link.roomId);
        // Not over tokens that replaced these (the room was linked again) or erased them (the user was deleted).
        if (this.store.refreshTokens(link.roomId, entry.tokens, sealed, this.o.now())) entry.tokens = sealed;
      }),
    };
    this.clientCache.set(link.roomId, entry);
    return entry.clients;
  }

  private ctx() {
    return {
      host: this.host,
      options: this.o,
      store: this.store,
      secrets: this.secrets,
      life: this.life,
      caller: this.caller,
      bucket: (userId: string) => this.bucket(userId),
      clients: (link: LinkRow) => this.clients(link),
    };
  }

  async ensureRunner(roomId: string): Promise<void> {
    if (this.closed || !this.o.runWorker || this.runners.has(roomId)) return;
    const pending = this.starting.get(roomId);
    if (pending) return pending;
    const p = (async () => {
      const runner = new LinkRunner(this.ctx(), roomId);
      try {
        await runner.start();
      } catch (err) {
        runner.stop();
        throw err;
      }
      if (this.closed) runner.stop();
      else this.runners.set(roomId, runner);
    })().finally(() => this.starting.delete(roomId));
    this.starting.set(roomId, p);
    return p;
  }

  /** Another process (kith-server's routes) links, re-authorises and unlinks rooms: follow the state file. */
  private pollLinks(): void {
    if (this.closed || !this.store.isOpen) return;
    const links = new Map(this.store.links().map((l) => [l.roomId, l]));
    for (const roomId of [...this.runners.keys()]) {
      if (!links.has(roomId)) {
        this.stopRunner(roomId);
        this.linkSeen.delete(roomId);
      }
    }
    for (const [roomId, link] of links) {
      const seen = `${link.status}|${link.tokens}|${link.calendarId}|${link.userId}`;
      const before = this.linkSeen.get(roomId);
      this.linkSeen.set(roomId, seen);
      const pushed = `push:${link.pushedAt ?? 0}`;
      const pushedBefore = this.linkSeen.get(`${roomId}#push`);
      this.linkSeen.set(`${roomId}#push`, pushed);
      const runner = this.runners.get(roomId);
      if (!runner) this.startRunnerLater(roomId, 0);
      else if (before !== undefined && before !== seen) void runner.syncNow();
      else if (pushedBefore !== undefined && pushedBefore !== pushed) runner.onPush();
    }
  }

  /** Starts a runner in the background, retrying (with backoff) while the room cannot be opened. */
  private startRunnerLater(roomId: string, attempt: number): void {
    this.ensureRunner(roomId).catch((err) => {
      if (this.closed) return;
      this.o.logger.warn({ err, roomId, attempt }, 'could not start mirroring a room; will retry');
      setTimeout(() => this.startRunnerLater(roomId, attempt + 1), Math.min(60_000, 500 * 2 ** attempt)).unref();
    });
  }

  private stopRunner(roomId: string): void {
    this.runners.get(roomId)?.stop();
    this.runners.delete(roomId);
    this.clientCache.delete(roomId);
  }

  /** Some room's cycle is running (for crash tests: a kill now interrupts real work). */
  get busy(): boolean {
    return [...this.runners.values()].some((r) => r.busy);
  }

  runner(roomId: string): LinkRunner | undefined {
    return this.runners.get(roomId);
  }

  /**
   * An owner's answer to a mass deletion that holds the link: `apply` carries it out on the other side too,
   * `restore` brings the events back where they were deleted (Google, or the room). False when the link is not
   * waiting for one.
   */
  decideMassDelete(roomId: string, decision: MassDeleteDecision): boolean {
    const link = this.store.link(roomId);
    if (!link || link.status !== 'awaiting_confirmation') return false;
    this.store.updateLink(roomId, { status: 'active', statusReason: null, lastError: null, lastErrorAt: null, massDelete: decision }, this.o.now());
    void this.runners.get(roomId)?.syncNow();
    return true;
  }

  /** Runs a full sync of a room now and resolves when it completed (or the link is not active). */
  async syncNow(roomId: string): Promise<void> {
    await this.ensureRunner(roomId);
    await this.runners.get(roomId)?.syncNow();
  }

  // ---------------------------------------------------------------------------------------------- status

  async status(roomId: string): Promise<LinkStatusView | null> {
    const link = this.store.link(roomId);
    if (!link) return null;
    const rows = this.store.mirrorRows(roomId);
    let pending = 0;
    try {
      const snap = await this.host.readRoom(roomId, (doc) => snapshot(doc, 'all', link.calendarTz));
      pending = pendingEvents(snap, this.store.mirrorRows(roomId));
    } catch {
      pending = 0;
    }
    const now = this.o.now();
    return {
      roomId,
      linked: true,
      status: link.status,
      needsReauth: link.status === 'needs_reauth',
      reason: link.statusReason,
      calendarId: link.calendarId,
      calendarTimeZone: link.calendarTz,
      linkedBy: link.userId,
      linkedAt: new Date(link.createdAt).toISOString(),
      lastSyncAt: iso(link.lastSyncAt),
      lastError: link.lastError,
      lastErrorAt: iso(link.lastErrorAt),
      pausedUntil: link.pausedUntil && link.pausedUntil > now ? iso(link.pausedUntil) : null,
      pendingChanges: pending,
      failedEvents: rows.filter((r) => r.failedLocal !== null || r.state === 'foreign').length,
      push: { active: Boolean(link.channelId && (link.channelExpiration ?? 0) > now), expiresAt: iso(link.channelExpiration) },
    };
  }

  // ---------------------------------------------------------------------------------------------- linking

  /**
   * Links a room (or re-authorises its link) with freshly granted tokens: creates the room's dedicated
   * calendar unless the link already has one this grant can reach, then starts mirroring. `grantKey` names the
   * grant of the new tokens (see grants.ts); a grant they replace is revoked when no other link holds it.
   */
  async completeLink(args: {
    roomId: string;
    userId: string;
    username: string | null;
    tokens: Credentials;
    scope: string;
    grantKey?: string | null;
  }): Promise<LinkStatusView> {
    const { roomId, userId, username, tokens, scope } = args;
    const grantKey = args.grantKey ?? null;
    const now = this.o.now();
    const sealed = this.secrets.encrypt(JSON.stringify(tokens), roomId);
    const existing = this.store.link(roomId);
    const tempLink: LinkRow = {
      roomId,
      userId,
      username,
      calendarId: existing?.calendarId ?? '',
      calendarTz: existing?.calendarTz ?? this.o.defaultTimeZone,
      tokens: sealed,
      scope,
      status: 'active',
      statusReason: null,
      syncToken: null,
      channelId: null,
      channelResourceId: null,
      channelExpiration: null,
      lastSyncAt: null,
      lastError: null,
      lastErrorAt: null,
      pausedUntil: null,
      pushedAt: null,
      grantKey,
      massDelete: null,
      createdAt: now,
      updatedAt: now,
    };
    const g = googleClients(this.o, tokens, () => undefined);
    const bucket = this.bucket(userId);
    if (existing) {
      const reachable = await this.caller
        .call(bucket, 'calendars.get', () => g.api.calendars.get({ calendarId: existing.calendarId }), g.auth)
        .then(() => true)
        .catch((err) => {
          const f = classify(err);
          if (f.status === 404 || f.status === 403) return false;
          throw f;
        });
      this.stopRunner(roomId);
      if (reachable) {
        this.store.updateLink(
          roomId,
          { userId, username, tokens: sealed, scope, grantKey, status: 'active', statusReason: null, lastError: null, lastErrorAt: null, pausedUntil: null },
          now,
        );
      } else {
        // Another Google account (or the calendar was deleted): a new calendar, every event exported again.
        const cal = await this.createCalendar(g, bucket, roomId, existing.calendarTz);
        this.store.transaction(() => {
          this.store.clearMirror(roomId);
          this.store.updateLink(
            roomId,
            {
              userId,
              username,
              tokens: sealed,
              scope,
              grantKey,
              calendarId: cal.id!,
              calendarTz: cal.timeZone ?? existing.calendarTz,
              status: 'active',
              statusReason: null,
              syncToken: null,
              channelId: null,
              channelResourceId: null,
              channelExpiration: null,
              lastError: null,
              lastErrorAt: null,
              pausedUntil: null,
            },
            now,
          );
        });
      }
      await this.revokeReplaced(existing, grantKey);
    } else {
      const { docName, tz } = await this.host.readRoom(roomId, (doc) => {
        const room = doc.getMap<unknown>(ROOT.room);
        return { docName: room.get('name'), tz: room.get('defaultTz') };
      });
      const name = (await this.host.roomName?.(roomId)) ?? (typeof docName === 'string' ? docName : undefined);
      const timeZone = typeof tz === 'string' && tz ? tz : this.o.defaultTimeZone;
      const cal = await this.createCalendar(g, bucket, roomId, timeZone, name);
      this.store.transaction(() => {
        // Rows a previous link of this room may have left (written by a worker still finishing a cycle).
        this.store.clearMirror(roomId);
        this.store.insertLink({ ...tempLink, calendarId: cal.id!, calendarTz: cal.timeZone ?? timeZone }, now);
      });
    }
    if (this.o.runWorker) await this.ensureRunner(roomId);
    return (await this.status(roomId))!;
  }

  /**
   * The link's tokens were replaced by another grant's (an owner linked the room again with another Google account,
   * e.g. after the user who linked it left or deleted their account): the old grant is revoked unless another link
   * holds it. Only when both grants are known to differ: revoking the grant the new tokens belong to would end them.
   */
  private async revokeReplaced(old: LinkRow, grantKey: string | null): Promise<void> {
    // Erased tokens (the linking user deleted their account) were revoked then, as far as no other link held them.
    if (!grantKey || !old.tokens) return;
    const oldCreds = this.credentialsOf(old);
    // The old tokens no longer belong to any link: their client must not write what it refreshes into the row.
    const lookup: GrantLookup = {
      ...grantLookup(this),
      clientOf: (l) => (l.roomId === old.roomId ? googleClients(this.o, oldCreds, () => undefined).auth : this.clients(l).auth),
      remember: (roomId, key) => {
        if (roomId !== old.roomId) this.store.updateLink(roomId, { grantKey: key }, this.o.now());
      },
    };
    try {
      const grant = await revocableGrant(lookup, old);
      const token = oldCreds.refresh_token ?? oldCreds.access_token;
      if (!grant.revoke || !grant.grantKey || grant.grantKey === grantKey || !token) return;
      this.store.queueRevocation(old.roomId, this.secrets.encrypt(token, `revoke:${old.roomId}`), this.o.now(), grant.grantKey);
      await this.retryRevocations();
    } catch (err) {
      this.o.logger.warn({ roomId: old.roomId, err: (err as Error)?.message }, 'could not revoke the grant a new link replaced');
    }
  }

  private async createCalendar(
    g: GoogleClients,
    bucket: TokenBucket,
    roomId: string,
    timeZone: string,
    roomName?: string,
  ): Promise<calendar_v3.Schema$Calendar> {
    // A POST is not idempotent: the marker lets a retry after a lost answer find the calendar it made.
    const marker = `kith:${roomId}:${randomBytes(6).toString('hex')}`;
    const requestBody = {
      summary: roomName ? `Kith: ${roomName}` : 'Kith',
      description: `Mirrored from a Kith room. Changes made here appear in the room. (${marker})`,
      timeZone,
    };
    for (let attempt = 0; ; attempt++) {
      try {
        const res = await this.caller.call(bucket, 'calendars.insert', () => g.api.calendars.insert({ requestBody }), g.auth);
        return res.data;
      } catch (err) {
        const f = classify(err);
        if (f.kind !== 'transient' || attempt >= 2) throw f;
        const list = await this.caller
          .call(bucket, 'calendarList.list', () => g.api.calendarList.list({ maxResults: 250 }), g.auth)
          .catch(() => null);
        const made = list?.data.items?.find((c) => c.description?.includes(marker));
        if (made?.id) return { id: made.id, timeZone: made.timeZone ?? timeZone };
      }
    }
  }

  /**
   * Unlinks a room: stops mirroring, forgets the mapping and revokes the grant (retried later if Google is down),
   * unless another link holds the same grant: then its tokens are only forgotten here.
   */
  async unlink(roomId: string, opts: { deleteCalendar?: boolean } = {}): Promise<boolean> {
    if (!this.store.link(roomId)) return false;
    const runner = this.runners.get(roomId);
    this.stopRunner(roomId);
    await runner?.idle();
    // Read again: the link may have changed while its last cycle finished (its linking user deleted their account).
    const link = this.store.link(roomId);
    if (!link) return true;
    if (!link.tokens) {
      // Its tokens were erased, its channel stopped and its grant revoked when the user who linked it was deleted:
      // only the rows are left (and the calendar, in that user's Google account, is out of reach).
      this.store.deleteLink(roomId, null, this.o.now());
      return true;
    }
    const creds = this.credentialsOf(link);
    const grant = await revocableGrant(grantLookup(this), link);
    const token = grant.revoke ? (creds.refresh_token ?? creds.access_token ?? null) : null;
    const g = googleClients(this.o, creds, () => undefined);
    const bucket = this.bucket(link.userId);
    if (link.channelId && link.channelResourceId) {
      await this.caller
        .call(bucket, 'channels.stop', () => g.api.channels.stop({ requestBody: { id: link.channelId!, resourceId: link.channelResourceId! } }), g.auth)
        .catch(() => undefined);
    }
    if (opts.deleteCalendar) {
      await this.caller.call(bucket, 'calendars.delete', () => g.api.calendars.delete({ calendarId: link.calendarId }), g.auth).catch(() => undefined);
    }
    const sealedToken = token ? this.secrets.encrypt(token, `revoke:${roomId}`) : null;
    this.store.deleteLink(roomId, sealedToken, this.o.now(), grant.grantKey);
    await this.retryRevocations();
    return true;
  }

  /**
   * A Kith user deleted their account: every link they made stops using their Google grant at once. Before the
   * first await (so before this resolves, whatever Google does) each such link is set to `needs_reauth` with reason
   * `LINKED_USER_DELETED`, its tokens, grant key and push channel are erased from the state file, and its runner
   * stops; their consent requests under way are forgotten. Then, with the tokens still in memory, each grant is
   * queued for revocation unless a link of another user holds it (or might: see `revocableGrant`), the push
   * channels are stopped, and the revocations are sent; one Google refuses stays queued and is retried like an
   * unlink's. The room's owners see the link needing a new link; linking again works as for a refused grant.
   * Resolves with the rooms whose links stopped, once Google answered.
   */
  async userDeleted(userId: string): Promise<string[]> {
    if (this.closed || !this.store.isOpen) return [];
    const now = this.o.now();
    const message = 'The user who linked this room deleted their Kith account; an owner must link the room again.';
    const stopped = this.store.transaction(() => {
      const found: Array<{ link: LinkRow; creds: Credentials | null }> = [];
      for (const link of this.store.links()) {
        if (link.userId !== userId || !link.tokens) continue;
        let creds: Credentials | null = null;
        try {
          creds = this.credentialsOf(link);
        } catch (err) {
          // Unreadable (another token key): nothing to revoke with; the tokens are erased all the same.
          this.o.logger.warn({ roomId: link.roomId, err: (err as Error)?.message }, 'could not read the tokens of a deleted user\'s link');
        }
        this.store.updateLink(
          link.roomId,
          {
            status: 'needs_reauth',
            statusReason: LINKED_USER_DELETED,
            tokens: '',
            grantKey: null,
            channelId: null,
            channelResourceId: null,
            channelExpiration: null,
            lastError: message,
            lastErrorAt: now,
            pausedUntil: null,
            massDelete: null,
          },
          now,
        );
        found.push({ link, creds });
      }
      this.store.dropOAuthStatesOf(userId);
      return found;
    });
    for (const { link } of stopped) this.stopRunner(link.roomId);
    if (stopped.length === 0) return [];
    this.o.logger.info({ rooms: stopped.length }, 'the user who linked these rooms deleted their account; links stopped, tokens erased');
    // Which grants to revoke, decided (and queued) before anything is sent: one revocation per grant.
    const queued = new Set<string>();
    for (const { link, creds } of stopped) {
      const token = creds?.refresh_token ?? creds?.access_token;
      if (!creds || !token) continue;
      // The erased row no longer has the tokens: this link's grant is asked with the ones in memory.
      const lookup: GrantLookup = {
        ...grantLookup(this),
        clientOf: (l) => (l.roomId === link.roomId ? googleClients(this.o, creds, () => undefined).auth : this.clients(l).auth),
        remember: (roomId, key) => {
          if (roomId !== link.roomId) this.store.updateLink(roomId, { grantKey: key }, this.o.now());
        },
      };
      try {
        const grant = await revocableGrant(lookup, link);
        if (!grant.revoke || (grant.grantKey && queued.has(grant.grantKey)) || !this.store.isOpen) continue;
        if (grant.grantKey) queued.add(grant.grantKey);
        this.store.queueRevocation(link.roomId, this.secrets.encrypt(token, `revoke:${link.roomId}`), this.o.now(), grant.grantKey);
      } catch (err) {
        this.o.logger.warn({ roomId: link.roomId, err: (err as Error)?.message }, 'could not tell whether a deleted user\'s grant is held elsewhere; not revoked');
      }
    }
    // The push channels were made with the grant: stopped while it still works (once; nothing waits on them).
    await Promise.all(
      stopped.map(async ({ link, creds }) => {
        if (!creds || !link.channelId || !link.channelResourceId) return;
        const g = googleClients(this.o, creds, () => undefined);
        await this.caller
          .call(
            this.bucket(link.userId),
            'channels.stop',
            () => g.api.channels.stop({ requestBody: { id: link.channelId!, resourceId: link.channelResourceId! } }),
            g.auth,
            { transientAttempts: 1 },
          )
          .catch(() => undefined);
      }),
    );
    await this.retryRevocations();
    return stopped.map(({ link }) => link.roomId);
  }

  /** Revokes grants of unlinked rooms; failures are retried with backoff (up to a day apart). */
  async retryRevocations(): Promise<void> {
    // One pass at a time: the minute timer and an unlink must not send (and count) the same revocation twice.
    while (this.revoking) await this.revoking;
    this.revoking = this.revokeDue().finally(() => {
      this.revoking = null;
    });
    return this.revoking;
  }

  private async revokeDue(): Promise<void> {
    if (this.life.dead || !this.store.isOpen) return;
    for (const r of this.store.dueRevocations(this.o.now())) {
      let token: string;
      try {
        token = this.secrets.decrypt(r.token, `revoke:${r.roomId}`);
      } catch {
        this.store.revocationDone(r.id);
        continue;
      }
      try {
        const client = googleClients(this.o, {}, () => undefined).auth;
        await client.revokeToken(token);
        if (this.store.isOpen) this.store.revocationDone(r.id);
      } catch (err) {
        const f = classify(err);
        if (!this.store.isOpen) return;
        // 400 invalid_token: already revoked or expired; nothing left to do.
        if (f.status === 400) this.store.revocationDone(r.id);
        else this.store.revocationFailed(r.id, this.o.now() + Math.min(86_400_000, 60_000 * 2 ** r.attempts));
      }
    }
  }

  // ---------------------------------------------------------------------------------------------- events (read)

  /** Events of the room's calendar in a window, as Google has them (what `GET /google/events` answers). */
  async listGoogleEvents(roomId: string, timeMin: string, timeMax: string): Promise<{ calendarId: string; timeZone: string; events: GoogleEventView[] }> {
    const link = this.store.link(roomId);
    if (!link) throw new GoogleFailure('status', 404, 'notLinked', 'room is not linked');
    if (link.status === 'needs_reauth') throw new GoogleFailure('invalid_grant', undefined, 'invalid_grant', 'link needs re-authorisation');
    const g = this.clients(link);
    const rows = new Map(this.store.mirrorRows(roomId).map((r) => [r.googleId, r.kithId]));
    const events: GoogleEventView[] = [];
    let pageToken: string | undefined;
    do {
      const res = await this.caller.call(
        this.bucket(link.userId),
        'events.list',
        () =>
          g.api.events.list({
            calendarId: link.calendarId,
            timeMin,
            timeMax,
            singleEvents: true,
            orderBy: 'startTime',
            maxResults: 250,
            ...(pageToken ? { pageToken } : {}),
          }),
        g.auth,
      );
      for (const e of res.data.items ?? []) {
        if (!e.id || e.status === 'cancelled') continue;
        const allDay = Boolean(e.start?.date);
        const master = e.recurringEventId ?? e.id;
        events.push({
          id: e.id,
          kithEventId: rows.get(master) ?? (e.extendedProperties?.private?.famcalId as string | undefined) ?? null,
          status: e.status ?? 'confirmed',
          title: (e.summary ?? '').slice(0, 1024),
          description: (e.description ?? '').slice(0, 8192),
          location: (e.location ?? '').slice(0, 1024),
          allDay,
          start: (allDay ? e.start?.date : e.start?.dateTime) ?? '',
          end: (allDay ? e.end?.date : e.end?.dateTime) ?? '',
          timeZone: e.start?.timeZone ?? null,
          recurringEventId: e.recurringEventId ?? null,
          updated: e.updated ?? null,
        });
      }
      pageToken = res.data.nextPageToken ?? undefined;
    } while (pageToken && events.length < 2500);
    return { calendarId: link.calendarId, timeZone: link.calendarTz, events };
  }

  // ---------------------------------------------------------------------------------------------- push

  /** A push notification (headers of the POST to /google/push). Returns false when it is not ours. */
  onPush(headers: Record<string, string | string[] | undefined>): boolean {
    const h = (name: string): string => {
      const v = headers[name];
      return Array.isArray(v) ? (v[0] ?? '') : (v ?? '');
    };
    const channelId = h('x-goog-channel-id');
    const token = h('x-goog-channel-token');
    const state = h('x-goog-resource-state');
    if (!channelId || this.closed) return false;
    const want = Buffer.from(this.secrets.channelToken(channelId));
    const got = Buffer.from(token);
    if (want.length !== got.length || !timingSafeEqual(want, got)) return false;
    const link = this.store.linkByChannel(channelId);
    if (!link) return false;
    if (state === 'sync') return true;
    const runner = this.runners.get(link.roomId);
    if (runner) runner.onPush();
    // The rooms are mirrored by another process: leave it a note in the shared state file.
    else if (!this.o.runWorker) this.store.updateLink(link.roomId, { pushedAt: this.o.now() }, this.o.now());
    return true;
  }

  isStopped(err: unknown): boolean {
    return err instanceof Stopped;
  }
}

/** Starts the worker alone (no HTTP routes): for tests, and for hosts that mount the routes elsewhere. */
export async function startGoogleSyncWorker(args: { host: GoogleSyncHost; options: GoogleSyncOptions }): Promise<GoogleSyncWorker> {
  const worker = new GoogleSyncWorker(args.host, args.options);
  await worker.start();
  return worker;
}
