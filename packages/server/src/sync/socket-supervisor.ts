import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { verifyAccessToken } from '../auth/access-tokens.js';
import type { Fanout } from '../cluster/fanout.js';
import { KithError } from '../errors/catalogue.js';
import type { MembershipChange, MembershipEvents } from '../rooms/membership-events.js';
import { MembershipWatches, type MembershipWatch } from '../rooms/membership-watches.js';
import type { MemberRecord, Storage } from '../storage/storage.js';
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
  /** Membership changes told while a role is read (see `watchMembership`). */
  readonly memberships = new MembershipWatches();

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

  /** Watches (room, user) while its role is read from storage: see membership-watches.ts. */
  watchMembership(roomId: string, userId: string): MembershipWatch {
    return this.memberships.watch(roomId, userId);
  }

  stop(): void {
    clearInterval(this.recheckTimer);
    this.pings.stop();
    clearTimeout(this.expiryTimer);
    this.unsubscribe();
  }

  private applyMembershipChange(change: MembershipChange): void {
    this.memberships.changed(change.roomId, change.userId, change.role);
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

/** The longest the expiry timer waits before sweeping (and re-arming) anyway. */
const MAX_EXPIRY_WAIT_MS = 3_600_000;
