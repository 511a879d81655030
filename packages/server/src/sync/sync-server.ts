import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type * as Y from 'yjs';
import { WebSocketServer, type WebSocket } from 'ws';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { verifyAccessToken } from '../auth/access-tokens.js';
import type { KithConfig } from '../config/config.js';
import { ERRORS, KithError, type ErrorCode } from '../errors/catalogue.js';
import type { Metrics } from '../ops/metrics.js';
import { redactUrl } from '../ops/logger.js';
import type { MembershipEvents } from '../rooms/membership-events.js';
import type { Role, Storage } from '../storage/storage.js';
import type { WriteHealth } from '../storage/write-health.js';
import { randomUUID } from 'node:crypto';
import { LocalFanout, type Fanout } from '../cluster/fanout.js';
import { ClusterFollower } from './cluster-follower.js';
import { Compactor, type CompactionOutcome } from './compaction.js';
import { Connection } from './connection.js';
import { GroupCommit } from './group-commit.js';
import { MessageHandler } from './message-handler.js';
import { encodeSyncStep1 } from '@kith/protocol';
import type { Room } from './room.js';
import { LoadedRooms, type ReadOptions, type RoomWatcher } from './room-api.js';
import { RoomRegistry } from './room-registry.js';
import { addressResolver, type AddressResolver } from './client-address.js';
import { SocketSupervisor } from './socket-supervisor.js';
import type { MembershipWatch } from '../rooms/membership-watches.js';
import { SocketQuota } from './socket-quota.js';
import { parseSyncRequest, refuseUpgrade, type UpgradeHandler } from './upgrade.js';


export interface SyncServerDeps {
  app: FastifyInstance;
  /** Cross-instance fan-out (Redis); one instance alone by default. */
  fanout?: Fanout;
  config: KithConfig;
  storage: Storage;
  metrics: Metrics;
  membership: MembershipEvents;
  logger: Logger;
  /** Whether storage takes writes; edits are refused while it does not. */
  writeHealth: WriteHealth;
}

/**
 * The sync endpoint: authenticates WebSocket upgrades at `/sync/:roomId` and opens them into
 * rooms; composes the parts that do the rest. An update's path starts in message-handler.ts
 * (see the comment at its top): message-handler → room → group-commit → connection.
 * - cluster-follower.ts: other instances' updates and presence, catch-up from the log
 * - socket-supervisor.ts: membership changes, token expiry, pings
 * - compaction.ts: when and how a room's log is folded into its snapshot
 * - room-api.ts: read, edit and watch rooms from server-side code
 */
export class SyncServer {
  readonly registry: RoomRegistry<Connection>;
  readonly compactor: Compactor;
  /** Server-side access to rooms (REST, the live JSON socket, importers, Google). */
  readonly rooms: LoadedRooms;
  /** Open sockets per user and per client address, shared with the live JSON socket. */
  readonly quota: SocketQuota;
  /** The client's address of an upgrade request (proxy-resolved under --trust-proxy). */
  readonly addressOf: AddressResolver;
  /** Names this instance as a lease holder. */
  readonly instanceId = randomUUID();
  private readonly commits: GroupCommit<Connection>;
  private readonly follower: ClusterFollower;
  private readonly supervisor: SocketSupervisor;
  private readonly messages: MessageHandler;
  private readonly wss: WebSocketServer;
  private readonly logger: Logger;
  private accepting = true;
  private readonly unsubscribeHealth: () => void;
  private readonly otherUpgrades = new Map<string, UpgradeHandler>();

  constructor(private readonly deps: SyncServerDeps) {
    const { config, storage, metrics } = deps;
    this.logger = deps.logger.child({ component: 'sync' });
    const fanout = deps.fanout ?? new LocalFanout();
    this.commits = new GroupCommit<Connection>(
      storage,
      metrics,
      this.logger,
      deps.writeHealth,
      (batch, seq) => {
        this.follower.afterCommit(batch, seq);
        this.compactor.afterCommit(batch.room);
      },
      (room) => this.registry.reloadBroken(room, 'STORAGE_UNAVAILABLE'),
    );
    this.registry = new RoomRegistry<Connection>(storage, this.commits, metrics, this.logger, config.sync.unloadGraceMs, config.limits, {
      loaded: (room) => {
        this.follower.follow(room);
        // Not a hold: the room still unloads when idle; the watch ends with it.
        room.watch((local) => this.rooms.roomCommitted(room.roomId, local), () => undefined);
        room.whenBuilt((doc) => this.rooms.roomOpened(room.roomId, doc));
      },
      unloaded: (room) => {
        this.follower.unfollow(room);
        this.rooms.roomUnloaded(room.roomId);
      },
    });
    this.follower = new ClusterFollower(fanout, this.registry, storage, metrics, this.logger);
    this.compactor = new Compactor(storage, metrics, this.logger, config.sync, this.instanceId);
    this.rooms = new LoadedRooms(this.registry, deps.writeHealth, config.limits.maxRoomBytes);
    this.quota = new SocketQuota(config.limits);
    this.addressOf = addressResolver(config.trustProxy);
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: config.limits.maxMessageBytes,
      perMessageDeflate: false,
      clientTracking: false,
    });
    this.supervisor = new SocketSupervisor({
      app: deps.app,
      registry: this.registry,
      storage,
      membership: deps.membership,
      fanout,
      logger: this.logger,
      pingIntervalMs: config.sync.pingIntervalMs,
      membershipCheckMs: config.sync.membershipCheckMs,
    });
    this.messages = new MessageHandler({
      registry: this.registry,
      supervisor: this.supervisor,
      metrics,
      logger: this.logger,
      writeHealth: deps.writeHealth,
      maxRoomBytes: config.limits.maxRoomBytes,
      onClosed: (conn) => this.closed(conn),
    });
    this.unsubscribeHealth = deps.writeHealth.onRecovered(() => this.messages.askDroppedUpdates());
  }

  /** Routes WebSocket upgrades: `/sync/…` here, other registered paths to their handlers. */
  attach(server: Server): void {
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      const other = this.otherUpgrades.get(path);
      if (other) other(req, socket, head);
      else void this.handleUpgrade(req, socket, head);
    });
  }

  /** Serves WebSocket upgrades at one exact path (e.g. the live JSON socket at `/live`). */
  registerUpgrade(path: string, handler: UpgradeHandler): void {
    this.otherUpgrades.set(path, handler);
  }

  get connectionCount(): number {
    let n = 0;
    for (const room of this.registry.rooms.values()) n += room.peers.size;
    return n;
  }

  /** See RoomApi.edit. */
  editRoom<T>(roomId: string, edit: (doc: Y.Doc) => T): Promise<T> {
    return this.rooms.edit(roomId, edit);
  }

  /** See RoomApi.read. */
  readRoom<T>(roomId: string, read: (doc: Y.Doc) => T, options?: ReadOptions): Promise<T> {
    return this.rooms.read(roomId, read, options);
  }

  /** See RoomApi.watch. */
  watchRoom(roomId: string, watcher: RoomWatcher): Promise<() => void> {
    return this.rooms.watch(roomId, watcher);
  }

  /** See Compactor.compactRoom. */
  compactRoom(roomId: string): Promise<CompactionOutcome> {
    return this.compactor.compactRoom(roomId);
  }

  /** Stops taking sockets, stores everything pending, and closes every socket with 1001. */
  async close(): Promise<void> {
    this.accepting = false;
    this.follower.stopPolling();
    this.supervisor.stop();
    this.unsubscribeHealth();
    await this.commits.drain();
    for (const room of [...this.registry.rooms.values()]) {
      for (const conn of [...room.peers]) conn.close('SHUTTING_DOWN');
      this.registry.unload(room);
    }
    await this.compactor.close();
    await this.follower.close();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  private async handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', () => socket.destroy());
    let room: Room<Connection> | undefined;
    // Quota slots taken for this socket: given back on refusal, or when the socket closes.
    let slots: { userId: string; address: string } | undefined;
    // Membership changes for this room and user until the socket is among the room's peers (after
    // which they reach it there): a change that comes in while a member read is in flight is newer
    // than what that read may return. Started after the slots, so bounded by them.
    let watch: MembershipWatch | undefined;
    try {
      if (!this.accepting) throw new KithError('SHUTTING_DOWN');
      const { roomId, token } = parseSyncRequest(req);
      const claims = verifyAccessToken(this.deps.app, token);
      slots = this.takeSlots(claims.userId, this.addressOf(req));
      watch = this.supervisor.watchMembership(roomId, claims.userId);
      const changes = watch;
      // Checked before loading (a stranger must not load rooms) and again after: a removal or role
      // change while the room loaded went to its sockets, and this one was not among them yet.
      if (changes.roleAfter(await this.deps.storage.rooms.member(roomId, claims.userId)) === null) throw new KithError('ROOM_ACCESS_DENIED');
      room = await this.registry.acquire(roomId);
      const member = await this.deps.storage.rooms.member(roomId, claims.userId);
      const role = changes.roleAfter(member);
      if (role === null) throw new KithError('ROOM_ACCESS_DENIED');
      if (socket.destroyed) throw new KithError('INTERNAL', 'client went away');
      const acquired = room;
      const taken = slots;
      let upgraded = false;
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        upgraded = true;
        this.registry.release(acquired);
        // Called back at once (no async handshake steps here); read again all the same.
        const latest = changes.latest();
        const roleNow = latest === undefined ? role : latest;
        if (!this.accepting || acquired.broken || roleNow === null) {
          this.releaseSlots(taken.userId, taken.address);
          const code: ErrorCode = roleNow === null ? 'MEMBERSHIP_REVOKED' : acquired.broken ? 'ROOM_UNAVAILABLE' : 'SHUTTING_DOWN';
          ws.close(ERRORS[code].closeCode, code);
          return;
        }
        this.open(ws, acquired, claims, roleNow, claims.exp * 1000, taken.address);
      });
      // ws answers a bad handshake (e.g. no Sec-WebSocket-Key) itself, synchronously, without
      // calling back: the room hold and the slots would otherwise never be given back.
      if (!upgraded) {
        this.registry.release(acquired);
        this.releaseSlots(taken.userId, taken.address);
      }
    } catch (err) {
      if (room) this.registry.release(room);
      if (slots) this.releaseSlots(slots.userId, slots.address);
      const code = refuseUpgrade(socket, err);
      if (code === 'INTERNAL' && !(err instanceof KithError)) {
        this.logger.error({ err, url: redactUrl(req.url ?? '') }, 'sync upgrade failed');
      } else {
        this.logger.debug({ code, url: redactUrl(req.url ?? '') }, 'sync upgrade refused');
      }
    } finally {
      watch?.end();
    }
  }

  /** Takes a socket slot for the user and for the address, or neither (throws TOO_MANY_SOCKETS). */
  private takeSlots(userId: string, address: string): { userId: string; address: string } {
    this.quota.takeUser(userId);
    try {
      this.quota.takeAddress(address);
    } catch (err) {
      this.quota.releaseUser(userId);
      throw err;
    }
    return { userId, address };
  }

  private releaseSlots(userId: string, address: string): void {
    this.quota.releaseUser(userId);
    this.quota.releaseAddress(address);
  }

  private open(ws: WebSocket, room: Room<Connection>, user: { userId: string; username: string }, role: Role, expiresAt: number, address: string): void {
    const { limits } = this.deps.config;
    const conn = new Connection(
      ws,
      room,
      user.userId,
      user.username,
      role,
      expiresAt,
      { perSecond: limits.updatesPerSecond, burst: limits.updatesBurst },
      (code) => this.deps.metrics.socketsClosed.inc({ code }),
      address,
      this.supervisor.nextPingSlice(),
    );
    this.supervisor.admit(conn);
    room.addPeer(conn);
    this.registry.cancelUnload(room);
    this.deps.metrics.connections.inc();
    this.messages.listen(ws, conn);

    // Start the sync: our state vector, so the client sends what we lack; then who is online.
    conn.send(encodeSyncStep1(room.encodedStateVector()));
    const awareness = room.presence.snapshot();
    if (awareness) conn.send(awareness);
  }

  private closed(conn: Connection): void {
    conn.socketClosed();
    this.releaseSlots(conn.userId, conn.address);
    conn.room.removePeer(conn);
    this.deps.metrics.connections.dec();
    this.registry.peerLeft(conn.room);
  }
}
