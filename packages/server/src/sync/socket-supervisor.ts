import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { verifyAccessToken } from '../auth/access-tokens.js';
import type { Fanout } from '../cluster/fanout.js';
import { KithError } from '../errors/catalogue.js';
import type { MembershipChange, MembershipEvents } from '../rooms/membership-events.js';
import type { MemberRecord, Role, Storage } from '../storage/storage.js';
import type { Connection } from './connection.js';
import { PingSlices } from './ping-slices.js';
import type { RoomRegistry } from './room-registry.js';

export interface SocketSupervisorDeps {
  app: FastifyInstance;
  registry: RoomRegistry<Connection>;
  storage: Storage;
  membership: MembershipEvents;
  fanout: Fanout;
  logger: Logger;
  pingIntervalMs: number;
  membershipCheckMs: number;
}

/**
 * Keeps open sync sockets entitled and alive: applies membership changes (from this process,
 * other instances, and a periodic re-check), token refreshes and expiries, and keep-alive pings.
 */
export class SocketSupervisor {
  private readonly pings: PingSlices;
  private readonly recheckTimer: NodeJS.Timeout;
  private expiryTimer: NodeJS.Timeout | undefined;
  /** When `expiryTimer` fires (Infinity: not armed). */
  private expiryAt = Infinity;
  private readonly unsubscribe: () => void;
  /** Counts membership changes seen; a watch notes it when it starts (see `watchMembership`). */
  private changeCount = 0;
  /**
   * (room, user) pairs whose role is being read from storage right now, with the latest change
   * seen for each. Only pairs being read have an entry: it goes when its last watch ends, so the
   * map holds no more than the reads in flight (bounded by the sockets open and opening).
   */
  private readonly watched = new Map<string, WatchedMembership>();

  constructor(private readonly deps: SocketSupervisorDeps) {
    const { registry, fanout } = deps;
    fanout.onMembership((change) => this.applyMembershipChange(change));
    this.unsubscribe = deps.membership.subscribe((change) => {
      this.applyMembershipChange(change);
      fanout.publishMembership(change);
    });
    this.pings = new PingSlices(deps.pingIntervalMs, (visit) => {
      for (const room of registry.rooms.values()) for (const conn of room.peers) visit(conn, conn.socket);
    });
    this.recheckTimer = setInterval(() => void this.recheckMemberships(), deps.membershipCheckMs);
    this.recheckTimer.unref();
  }

  /** The ping tick a new socket is pinged on. */
  nextPingSlice(): number {
    return this.pings.assign();
  }

  /** A socket opened: its token expiry is watched. */
  admit(conn: Connection): void {
    this.watchExpiry(conn.tokenExpiresAt);
  }

  /** Message 102: a fresh token for the same user moves the expiry and re-reads the role. */
  async refreshToken(conn: Connection, token: string): Promise<void> {
    try {
      const claims = verifyAccessToken(this.deps.app, token);
      if (claims.userId !== conn.userId) {
        conn.close('TOKEN_USER_MISMATCH');
        return;
      }
      const watch = this.watchMembership(conn.room.roomId, conn.userId);
      let member: MemberRecord | undefined;
      try {
        member = await this.deps.storage.rooms.member(conn.room.roomId, conn.userId);
      } finally {
        watch.end();
      }
      const role = watch.roleAfter(member);
      if (role === null) {
        conn.close('MEMBERSHIP_REVOKED');
        return;
      }
      conn.setRole(role);
      conn.setTokenExpiry(claims.exp * 1000);
    } catch (err) {
      conn.close(err instanceof KithError ? err.code : 'UNAUTHENTICATED');
    }
  }

  /**
   * Watches (room, user) while its role is read from storage. A read that started before a
   * membership change may resolve after the change was applied, with the role from before it:
   * applied then, it would undo a demotion or a removal (on PostgreSQL the read takes a real
   * round trip, and a token refresh or an opening socket lands in that window). A change seen
   * during the watch is newer than anything such a read can be trusted to have seen, so it wins:
   * `roleAfter(read)` is the latest change's role when one came in, else the read's.
   * `end()` (idempotent) once the role is applied or the socket refused.
   */
  watchMembership(roomId: string, userId: string): MembershipWatch {
    const key = watchKey(roomId, userId);
    let entry = this.watched.get(key);
    if (!entry) {
      entry = { watches: 0, changedAt: 0, role: null };
      this.watched.set(key, entry);
    }
    const watched = entry;
    watched.watches++;
    const since = this.changeCount;
    let ended = false;
    return {
      latest: () => (watched.changedAt > since ? watched.role : undefined),
      roleAfter: (read) => (watched.changedAt > since ? watched.role : (read?.role ?? null)),
      end: () => {
        if (ended) return;
        ended = true;
        if (--watched.watches === 0 && this.watched.get(key) === watched) this.watched.delete(key);
      },
    };
  }

  stop(): void {
    clearInterval(this.recheckTimer);
    this.pings.stop();
    clearTimeout(this.expiryTimer);
    this.unsubscribe();
  }

  private applyMembershipChange(change: MembershipChange): void {
    this.changeCount++;
    const watched = this.watched.get(watchKey(change.roomId, change.userId));
    if (watched) {
      watched.changedAt = this.changeCount;
      watched.role = change.role;
    }
    const room = this.deps.registry.rooms.get(change.roomId);
    if (!room) return;
    for (const conn of room.peers) {
      if (conn.userId !== change.userId) continue;
      if (change.role === null) conn.close('MEMBERSHIP_REVOKED');
      else conn.setRole(change.role);
    }
  }

  /** Safety net for membership changes this process did not see (e.g. made by another instance). */
  private async recheckMemberships(): Promise<void> {
    for (const room of this.deps.registry.rooms.values()) {
      if (room.peers.size === 0) continue;
      // The sockets open now; one that opens during the read read its role itself, maybe later.
      const peers = [...room.peers];
      const watches = new Map<string, MembershipWatch>();
      for (const conn of peers) if (!watches.has(conn.userId)) watches.set(conn.userId, this.watchMembership(room.roomId, conn.userId));
      try {
        const members = new Map((await this.deps.storage.rooms.members(room.roomId)).map((m) => [m.userId, m]));
        for (const conn of peers) {
          if (conn.closed || !room.peers.has(conn)) continue;
          const role = watches.get(conn.userId)!.roleAfter(members.get(conn.userId));
          if (role === null) conn.close('MEMBERSHIP_REVOKED');
          else conn.setRole(role);
        }
      } catch (err) {
        this.deps.logger.warn({ err, roomId: room.roomId }, 'membership re-check failed');
      } finally {
        for (const watch of watches.values()) watch.end();
      }
    }
  }

  /**
   * Token expiries are swept by one timer armed for the soonest of them, rather than a timer per
   * socket or a sweep on a fixed tick (which would wake an idle server several times a second).
   * A refresh only moves an expiry later, so the timer may fire early; the sweep then re-arms.
   */
  private watchExpiry(at: number): void {
    if (at < this.expiryAt) this.armExpiry(at);
  }

  private armExpiry(at: number): void {
    clearTimeout(this.expiryTimer);
    this.expiryTimer = undefined;
    this.expiryAt = at;
    if (at === Infinity) return;
    // Capped: setTimeout fires at once for delays beyond 2^31 - 1 ms.
    this.expiryTimer = setTimeout(() => this.closeExpired(), Math.min(Math.max(0, at - Date.now()), MAX_EXPIRY_WAIT_MS));
    this.expiryTimer.unref();
  }

  private closeExpired(): void {
    const now = Date.now();
    let next = Infinity;
    for (const room of this.deps.registry.rooms.values()) {
      for (const conn of room.peers) {
        if (conn.tokenExpiresAt <= now) conn.close('TOKEN_EXPIRED');
        else next = Math.min(next, conn.tokenExpiresAt);
      }
    }
    this.armExpiry(next);
  }
}

/** See `SocketSupervisor.watchMembership`. */
export interface MembershipWatch {
  /** The role set by the latest membership change since the watch started (null: removed); undefined when none came. */
  latest(): Role | null | undefined;
  /** The role to apply after a read of the member that started with the watch: the latest change's, or the read's. */
  roleAfter(read: { role: Role } | undefined): Role | null;
  end(): void;
}

interface WatchedMembership {
  /** Watches open on this pair. */
  watches: number;
  /** `changeCount` when the latest change for this pair came in (0: none while watched). */
  changedAt: number;
  role: Role | null;
}

const watchKey = (roomId: string, userId: string): string => JSON.stringify([roomId, userId]);

/** The longest the expiry timer waits before sweeping (and re-arming) anyway. */
const MAX_EXPIRY_WAIT_MS = 3_600_000;
