import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import * as Y from 'yjs';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { verifyAccessToken } from '../auth/access-tokens.js';
import type { KithConfig } from '../config/config.js';
import { KithError, type ErrorCode } from '../errors/catalogue.js';
import type { Metrics } from '../ops/metrics.js';
import { redactUrl } from '../ops/logger.js';
import type { MembershipChange, MembershipEvents } from '../rooms/membership-events.js';
import type { Storage } from '../storage/storage.js';
import type { WriteHealth } from '../storage/write-health.js';
import { randomUUID } from 'node:crypto';
import { LocalFanout, type Fanout } from '../cluster/fanout.js';
import { Compactor } from './compaction.js';
import { Connection } from './connection.js';
import { GroupCommit } from './group-commit.js';
import {
  ProtocolError,
  decodeClientMessage,
  encodeRole,
  encodeStoredBarrier,
  encodeSyncStep1,
  type ClientMessage,
} from '@kith/protocol';
import { REMOTE_ORIGIN, type Room, type RoomBatch } from './room.js';
import { RoomRegistry } from './room-registry.js';
import { addressResolver, type AddressResolver } from './client-address.js';
import { PingSlices } from './ping-slices.js';
import { SocketQuota } from './socket-quota.js';
import { parseSyncRequest, refuseUpgrade } from './upgrade.js';

export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

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
 * The sync endpoint: authenticates WebSocket upgrades at `/sync/:roomId`, speaks the y-websocket
 * protocol on them, stores every update before releasing it, and keeps memberships, token expiry
 * and limits enforced on open sockets.
 */
export class SyncServer {
  readonly registry: RoomRegistry;
  readonly compactor: Compactor;
  private readonly commits: GroupCommit;
  private readonly wss: WebSocketServer;
  private readonly logger: Logger;
  private accepting = true;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly pings: PingSlices;
  /** Open sockets per user and per client address, shared with the live JSON socket. */
  readonly quota: SocketQuota;
  /** The client's address of an upgrade request (proxy-resolved under --trust-proxy). */
  readonly addressOf: AddressResolver;
  private expiryTimer: NodeJS.Timeout | undefined;
  /** When `expiryTimer` fires (Infinity: not armed). */
  private expiryAt = Infinity;
  private readonly unsubscribe: () => void;
  private readonly unsubscribeHealth: () => void;
  private readonly fanout: Fanout;
  private readonly onSocketMessage: (this: WebSocket, data: RawData, isBinary: boolean) => void;
  private readonly onSocketError: (this: WebSocket, err: Error) => void;
  private readonly onSocketClose: (this: WebSocket) => void;
  /** Names this instance as a lease holder. */
  readonly instanceId = randomUUID();

  constructor(private readonly deps: SyncServerDeps) {
    const { config, storage, metrics } = deps;
    this.logger = deps.logger.child({ component: 'sync' });
    this.fanout = deps.fanout ?? new LocalFanout();
    // Socket listeners are made once per server, not once per socket: each finds its connection
    // on the socket (`this`), which saves a few closures on every one of thousands of sockets.
    const server = this;
    this.onSocketMessage = function (this: WebSocket, data: RawData, isBinary: boolean) {
      server.onMessage(connectionOf(this), data, isBinary);
    };
    this.onSocketError = function (this: WebSocket, err: Error) {
      server.logger.debug({ err, roomId: connectionOf(this).room.roomId }, 'socket error');
    };
    this.onSocketClose = function (this: WebSocket) {
      server.closed(connectionOf(this));
    };
    this.commits = new GroupCommit(
      storage,
      metrics,
      this.logger,
      deps.writeHealth,
      (batch, seq) => this.afterCommit(batch, seq),
      (room) => this.reloadBrokenRoom(room, 'STORAGE_UNAVAILABLE'),
    );
    this.unsubscribeHealth = deps.writeHealth.onRecovered(() => this.askDroppedUpdates());
    this.registry = new RoomRegistry(storage, this.commits, metrics, this.logger, config.sync.unloadGraceMs, config.limits, {
      loaded: (room) => this.followRoom(room),
      unloaded: (room) => this.fanout.leaveRoom(room.roomId),
    });
    this.fanout.onMembership((change) => this.applyMembershipChange(change));
    this.fanout.onResumed(() => {
      for (const room of this.registry.rooms.values()) this.scheduleCatchUp(room, 0);
    });
    // While fan-out is down, rooms in use poll the log head, so other instances' edits still arrive.
    if (this.fanout.canFail) this.timers.push(setInterval(() => void this.pollHeads(), 1000));
    this.compactor = new Compactor(storage, metrics, this.logger);
    this.quota = new SocketQuota(config.limits);
    this.addressOf = addressResolver(config.trustProxy);
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: config.limits.maxMessageBytes,
      perMessageDeflate: false,
      clientTracking: false,
    });
    this.unsubscribe = deps.membership.subscribe((change) => {
      this.applyMembershipChange(change);
      this.fanout.publishMembership(change);
    });
    this.pings = new PingSlices(config.sync.pingIntervalMs, (visit) => {
      for (const room of this.registry.rooms.values()) for (const conn of room.connections) visit(conn, conn.socket);
    });
    this.timers.push(setInterval(() => void this.recheckMemberships(), config.sync.membershipCheckMs));
    for (const t of this.timers) t.unref();
  }

  private readonly otherUpgrades = new Map<string, UpgradeHandler>();

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
    for (const room of this.registry.rooms.values()) n += room.connections.size;
    return n;
  }

  /** Stops taking sockets, stores everything pending, and closes every socket with 1001. */
  async close(): Promise<void> {
    this.accepting = false;
    for (const t of this.timers) clearInterval(t);
    this.pings.stop();
    clearTimeout(this.expiryTimer);
    this.unsubscribe();
    this.unsubscribeHealth();
    await this.commits.drain();
    for (const room of [...this.registry.rooms.values()]) {
      for (const conn of [...room.connections]) conn.close('SHUTTING_DOWN');
      this.registry.unload(room);
    }
    await this.compactor.close();
    await this.fanout.close();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  /** A room entered memory: follow what other instances store in it. */
  private followRoom(room: Room): void {
    this.fanout.joinRoom(room.roomId, {
      onUpdate: (seq, update) => this.onRemoteUpdate(room, seq, update),
      onAwareness: (update) => {
        try {
          room.applyAwareness(REMOTE_ORIGIN, update);
        } catch (err) {
          this.logger.warn({ err, roomId: room.roomId }, 'bad awareness update from another instance');
        }
      },
    });
    room.onLocalAwareness = (update) => this.fanout.publishAwareness(room.roomId, update);
    // Anything stored between our load and our subscription would otherwise wait for the next gap.
    if (!(this.fanout instanceof LocalFanout)) this.scheduleCatchUp(room, 50, true);
  }

  private onRemoteUpdate(room: Room, seq: number, update: Uint8Array): void {
    if (room.broken || this.registry.rooms.get(room.roomId) !== room || room.hasSeq(seq)) return;
    try {
      // Applied at once even past a gap (Yjs keeps what lacks its dependencies pending); the gap
      // itself is filled from the log.
      room.applyStored([update], seq === room.headSeq + 1 ? seq : undefined);
    } catch (err) {
      this.logger.error({ err, roomId: room.roomId }, 'an update from another instance failed to apply');
      this.reloadBrokenRoom(room);
      return;
    }
    if (room.noteSeq(seq)) this.scheduleCatchUp(room);
  }

  /** Reads what this room's document lacks from the log, after a short wait for stragglers. */
  private scheduleCatchUp(room: Room, delayMs = 100, checkHead = false): void {
    if (room.catchUpTimer) return;
    room.catchUpTimer = setTimeout(() => {
      room.catchUpTimer = undefined;
      void this.catchUp(room, checkHead);
    }, delayMs);
    room.catchUpTimer.unref();
  }

  private async catchUp(room: Room, checkHead = false): Promise<void> {
    if (room.catchingUp) {
      room.catchUpAgain = true;
      return;
    }
    room.catchingUp = true;
    try {
      do {
        room.catchUpAgain = false;
        if (checkHead && (await this.deps.storage.docs.head(room.roomId)) <= room.headSeq) return;
        const stored = await this.deps.storage.docs.load(room.roomId, room.headSeq);
        if (room.broken || this.registry.rooms.get(room.roomId) !== room) return;
        const parts = stored.updates.map((u) => u.data);
        if (stored.snapshot) parts.unshift(stored.snapshot);
        const last = stored.updates.at(-1)?.seq ?? stored.snapshotSeq;
        if (parts.length > 0 && last > room.headSeq) {
          room.applyStored(parts, last);
          this.deps.metrics.catchUps.inc();
        }
      } while (room.catchUpAgain);
    } catch (err) {
      this.logger.warn({ err, roomId: room.roomId }, 'catching up from the log failed; will retry');
      this.scheduleCatchUp(room, 1000);
    } finally {
      room.catchingUp = false;
    }
  }

  private async pollHeads(): Promise<void> {
    if (this.fanout.healthy) return;
    for (const room of this.registry.rooms.values()) {
      if (room.connections.size > 0) this.scheduleCatchUp(room, 0, true);
    }
  }

  /**
   * Edits a room's document on the server (REST, the live JSON socket, importers). The edit is
   * stored and broadcast like a client's; the promise resolves once it is on disk.
   */
  async editRoom<T>(roomId: string, edit: (doc: Y.Doc) => T): Promise<T> {
    // While commits fail, refuse before touching the document (an edit applied but never stored
    // would have to be thrown away with the whole room).
    if (!this.deps.writeHealth.writable) throw new KithError('STORAGE_UNAVAILABLE');
    const room = await this.registry.acquire(roomId);
    try {
      if (room.stored.bytes >= this.deps.config.limits.maxRoomBytes) throw new KithError('ROOM_TOO_LARGE');
      const result = room.applyServerEdit(edit);
      await room.durable();
      return result;
    } catch (err) {
      this.dropIfBroken(room, err);
      throw err;
    } finally {
      this.registry.release(room);
    }
  }

  /** Reads a room's document as it is on disk (what any client would be served). */
  async readRoom<T>(roomId: string, read: (doc: Y.Doc) => T): Promise<T> {
    const room = await this.registry.acquire(roomId);
    try {
      return await new Promise<T>((resolve, reject) =>
        room.whenDurable(() => {
          try {
            const result = read(room.doc);
            return () => resolve(result);
          } catch (err) {
            return () => reject(err);
          }
        }, reject),
      );
    } catch (err) {
      this.dropIfBroken(room, err);
      throw err;
    } finally {
      this.registry.release(room);
    }
  }

  /**
   * Keeps a room loaded and calls `onCommitted(doc)` after each commit of it (its changes are on
   * disk and were broadcast), including updates stored by other instances. `onOpen(doc)` runs on
   * the loaded document first — e.g. to attach observers that note which calendar events changed.
   * If the room is dropped from memory (a reload after a failure, or shutdown), `onLost` is called
   * and the watch ends: watch again to follow the reloaded room. Returns a function that stops watching.
   */
  async watchRoom(
    roomId: string,
    watcher: { onOpen?(doc: Y.Doc): void; onCommitted(doc: Y.Doc): void; onLost?(): void },
  ): Promise<() => void> {
    const room = await this.registry.acquire(roomId);
    let stopped = false;
    const listener = () => watcher.onCommitted(room.doc);
    const lost = () => {
      stopped = true;
      watcher.onLost?.();
    };
    room.committedListeners.add(listener);
    room.lostListeners.add(lost);
    watcher.onOpen?.(room.doc);
    return () => {
      if (stopped) return;
      stopped = true;
      room.committedListeners.delete(listener);
      room.lostListeners.delete(lost);
      this.registry.release(room);
    };
  }

  private async handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', () => socket.destroy());
    let room: Room | undefined;
    // Quota slots taken for this socket: given back on refusal, or when the socket closes.
    let slots: { userId: string; address: string } | undefined;
    try {
      if (!this.accepting) throw new KithError('SHUTTING_DOWN');
      const { roomId, token } = parseSyncRequest(req);
      const claims = verifyAccessToken(this.deps.app, token);
      slots = this.takeSlots(claims.userId, this.addressOf(req));
      const member = await this.deps.storage.rooms.member(roomId, claims.userId);
      if (!member) throw new KithError('ROOM_ACCESS_DENIED');
      room = await this.registry.acquire(roomId);
      if (socket.destroyed) throw new KithError('INTERNAL', 'client went away');
      const acquired = room;
      const taken = slots;
      let upgraded = false;
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        upgraded = true;
        this.registry.release(acquired);
        if (!this.accepting || acquired.broken) {
          this.releaseSlots(taken.userId, taken.address);
          ws.close(acquired.broken ? 1013 : 1001, acquired.broken ? 'ROOM_UNAVAILABLE' : 'SHUTTING_DOWN');
          return;
        }
        this.open(ws, acquired, claims.userId, member.role, claims.exp * 1000, taken.address);
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

  private open(
    ws: WebSocket,
    room: Room,
    userId: string,
    role: Connection['role'],
    expiresAt: number,
    address: string,
  ): void {
    const { limits } = this.deps.config;
    const conn = new Connection(
      ws,
      room,
      userId,
      role,
      expiresAt,
      { perSecond: limits.updatesPerSecond, burst: limits.updatesBurst },
      (code) => this.deps.metrics.socketsClosed.inc({ code }),
      address,
    );
    conn.pingSlice = this.pings.assign();
    this.watchExpiry(expiresAt);
    room.connections.add(conn);
    this.registry.cancelUnload(room);
    this.deps.metrics.connections.inc();

    // Shared listeners (no closures per socket): each finds its connection on the socket.
    (ws as SocketWithConnection)[CONNECTION] = conn;
    ws.on('message', this.onSocketMessage);
    ws.on('pong', onSocketPong);
    ws.on('error', this.onSocketError);
    ws.on('close', this.onSocketClose);

    // Start the sync: our state vector, so the client sends what we lack; then who is online.
    conn.send(encodeSyncStep1(room.encodedStateVector()));
    const awareness = room.awarenessSnapshot();
    if (awareness) conn.send(awareness);
  }

  private onMessage(conn: Connection, data: RawData, isBinary: boolean): void {
    if (conn.closed) return;
    if (!isBinary) {
      conn.close('MALFORMED_MESSAGE', 'text frames are not part of the protocol');
      return;
    }
    if (!conn.bucket.take()) {
      conn.close('RATE_LIMITED');
      return;
    }
    const frame = toUint8Array(data);
    let message: ClientMessage;
    try {
      message = decodeClientMessage(frame);
    } catch (err) {
      this.rejectMalformed(conn, err);
      return;
    }
    try {
      this.handle(conn, message);
    } catch (err) {
      // The room's own stored data failed to apply (not the client's message): refuse the room.
      if (conn.room.broken) this.dropIfBroken(conn.room, err);
      else this.rejectMalformed(conn, err);
    }
  }

  private handle(conn: Connection, message: ClientMessage): void {
    const room = conn.room;
    switch (message.kind) {
      case 'sync-step1': {
        const sv = message.stateVector;
        Y.decodeStateVector(sv); // validates; throws on garbage
        room.whenDurable(() => {
          const frames = room.syncAnswer(sv);
          return () => {
            for (const frame of frames) conn.send(frame);
          };
        });
        return;
      }
      case 'sync-step2':
      case 'update':
        this.receiveUpdate(conn, message.update, message.kind);
        return;
      case 'awareness': {
        const { metrics } = this.deps;
        let allowed: Uint8Array | undefined;
        try {
          allowed = room.presence.filter(conn, message.update, (reason, n) => metrics.updatesRejected.inc({ reason }, n));
        } catch (err) {
          if (!(err instanceof KithError)) throw err; // undecodable: malformed, as any other frame
          metrics.updatesRejected.inc({ reason: 'presence-too-large' });
          conn.close(err.code);
          return;
        }
        if (allowed) room.applyAwareness(conn, allowed);
        return;
      }
      case 'query-awareness': {
        const awareness = room.awarenessSnapshot();
        if (awareness) conn.send(awareness);
        return;
      }
      case 'durable-subscribe': {
        const sv = Y.decodeStateVector(message.stateVector);
        if (!conn.wantsDurableAcks) conn.send(encodeRole(conn.role));
        conn.wantsDurableAcks = true;
        for (const client of sv.keys()) conn.noteAckClient(client);
        room.whenDurable(() => () => conn.send(room.ackFrame(conn)));
        return;
      }
      case 'stored-barrier': {
        const frame = encodeStoredBarrier(message.id);
        // Updates of this socket were dropped: the barrier waits until they were sent again.
        if (conn.resync) (conn.heldBarriers ??= []).push(frame);
        else room.whenDurable(() => () => conn.send(frame));
        return;
      }
      case 'token':
        void this.refreshToken(conn, message.token);
        return;
    }
  }

  private receiveUpdate(conn: Connection, update: Uint8Array, kind: 'sync-step2' | 'update'): void {
    const { metrics, config, writeHealth } = this.deps;
    // Decode fully before touching the document: most malformed updates stop here.
    const decoded = Y.decodeUpdate(update);
    const empty = decoded.structs.length === 0 && decoded.ds.clients.size === 0;
    let resynced = false;
    if (conn.resync) {
      if (kind === 'sync-step2' && conn.resync === 'asked' && writeHealth.writable) {
        // The answer to our sync step 1: it holds everything of this client's that we lack.
        conn.resync = undefined;
        resynced = true;
      } else {
        if (!empty) this.dropUpdate(conn, kind === 'sync-step2' ? 'dropped' : conn.resync);
        return;
      }
    }
    // Every client answers our sync step 1 with an update, empty when it has nothing new: no write.
    if (empty) {
      if (resynced) this.releaseBarriers(conn);
      return;
    }
    if (!conn.canWrite) {
      // Read-only: neither applied nor broadcast. The socket stays open for reading.
      // No permission-denied message: stock y-websocket clients print it together with their URL,
      // token included, to the console. Kith clients know their role from message 103.
      metrics.updatesRejected.inc({ reason: 'read-only' });
      return;
    }
    const room = conn.room;
    if (room.stored.bytes + update.byteLength > config.limits.maxRoomBytes) {
      metrics.updatesRejected.inc({ reason: 'room-too-large' });
      conn.close('ROOM_TOO_LARGE');
      return;
    }
    if (!writeHealth.writable) {
      this.dropUpdate(conn, 'dropped');
      return;
    }
    const clients = new Set<number>();
    for (const s of decoded.structs) clients.add(s.id.client);
    if (!room.applyClientUpdate(conn, update, clients)) {
      metrics.updatesRejected.inc({ reason: 'malformed' });
      conn.close('MALFORMED_MESSAGE', 'the update could not be applied');
      this.reloadBrokenRoom(room);
      return;
    }
    if (resynced) this.releaseBarriers(conn);
  }

  /**
   * Storage refuses writes: the update is neither applied nor acknowledged, and the socket stays
   * open for reading. Stock y-websocket clients keep the edit in their document; once writes work
   * again the server sends them a sync step 1 and they send it again (see askDroppedUpdates).
   */
  private dropUpdate(conn: Connection, state: 'dropped' | 'asked'): void {
    this.deps.metrics.updatesRejected.inc({ reason: 'storage-unavailable' });
    conn.resync = state;
  }

  /** Writes work again: every socket whose updates were dropped is asked for what we lack. */
  private askDroppedUpdates(): void {
    for (const room of this.registry.rooms.values()) {
      for (const conn of room.connections) {
        if (conn.resync !== 'dropped') continue;
        conn.resync = 'asked';
        conn.send(encodeSyncStep1(room.encodedStateVector()));
      }
    }
  }

  private releaseBarriers(conn: Connection): void {
    const frames = conn.heldBarriers;
    conn.heldBarriers = undefined;
    for (const frame of frames ?? []) conn.room.whenDurable(() => () => conn.send(frame));
  }

  private rejectMalformed(conn: Connection, err: unknown): void {
    this.deps.metrics.updatesRejected.inc({ reason: 'malformed' });
    this.logger.debug(
      { roomId: conn.room.roomId, err: err instanceof ProtocolError ? err.message : String(err) },
      'malformed message; closing socket',
    );
    conn.close('MALFORMED_MESSAGE');
  }

  /** After an error: a room whose stored data failed to apply is logged and dropped (503 until it loads). */
  private dropIfBroken(room: Room, err: unknown): void {
    if (!room.broken || this.registry.rooms.get(room.roomId) !== room) return;
    const cause = (err as { cause?: unknown } | null)?.cause ?? err;
    this.logger.error({ err: cause, roomId: room.roomId }, 'stored room data failed to apply; refusing the room');
    this.reloadBrokenRoom(room);
  }

  /**
   * The in-memory document cannot be trusted (Yjs threw mid-update, or a commit failed). What is
   * on disk is intact, so the room is dropped from memory; its clients reconnect and load it again,
   * and resend anything of theirs that was not stored.
   */
  private reloadBrokenRoom(room: Room, code: 'ROOM_UNAVAILABLE' | 'STORAGE_UNAVAILABLE' = 'ROOM_UNAVAILABLE'): void {
    this.logger.warn({ roomId: room.roomId, code }, 'room state untrusted; reloading it from storage');
    for (const conn of [...room.connections]) if (!conn.closed) conn.close(code);
    this.registry.unload(room, new KithError(code));
  }

  private afterCommit(batch: RoomBatch, seq: number): void {
    const room = batch.room;
    this.fanout.publishUpdate(room.roomId, seq, batch.update);
    if (room.aheadSeqs.size > 0) this.scheduleCatchUp(room);
    const { compactAfterUpdates, compactAfterBytes } = this.deps.config.sync;
    if (room.compacting || (room.stored.logCount < compactAfterUpdates && room.stored.logBytes < compactAfterBytes)) {
      return;
    }
    room.compacting = true;
    void this.compactRoom(room.roomId)
      .then(async (outcome) => {
        if (outcome !== 'compacted') return;
        const stats = await this.deps.storage.docs.stats(room.roomId);
        room.stored = { bytes: stats.logBytes + stats.snapshotBytes, logBytes: stats.logBytes, logCount: stats.logCount };
      })
      .catch((err) => this.logger.error({ err, roomId: room.roomId }, 'compaction failed; will retry later'))
      .finally(() => {
        room.compacting = false;
      });
  }

  /**
   * Compacts a room's stored log, once across all instances: whoever holds the room's lease does
   * it (the lease expires by itself if its holder dies), and the swap is conditional besides.
   */
  async compactRoom(roomId: string): Promise<'compacted' | 'leased-elsewhere' | 'nothing-to-do' | 'lost-race'> {
    // The lease only matters when other instances share the storage. Alone (SQLite), a lease left
    // by a process killed mid-compaction would only block the restarted one until it expired.
    const shared = this.deps.config.databaseUrl !== undefined;
    const lease = `compact:${roomId}`;
    if (shared && !(await this.deps.storage.leases.tryAcquire(lease, this.instanceId, COMPACTION_LEASE_MS))) {
      this.deps.metrics.compactions.inc({ outcome: 'leased-elsewhere' });
      return 'leased-elsewhere';
    }
    try {
      const result = await this.compactor.compact(roomId);
      if (result.updatesFolded === 0) return 'nothing-to-do';
      return result.compacted ? 'compacted' : 'lost-race';
    } finally {
      if (shared) await this.deps.storage.leases.release(lease, this.instanceId).catch(() => undefined);
    }
  }

  private async refreshToken(conn: Connection, token: string): Promise<void> {
    try {
      const claims = verifyAccessToken(this.deps.app, token);
      if (claims.userId !== conn.userId) {
        conn.close('TOKEN_USER_MISMATCH');
        return;
      }
      const member = await this.deps.storage.rooms.member(conn.room.roomId, conn.userId);
      if (!member) {
        conn.close('MEMBERSHIP_REVOKED');
        return;
      }
      this.setRole(conn, member.role);
      conn.setTokenExpiry(claims.exp * 1000);
    } catch (err) {
      conn.close(err instanceof KithError ? err.code : 'UNAUTHENTICATED');
    }
  }

  private applyMembershipChange(change: MembershipChange): void {
    const room = this.registry.rooms.get(change.roomId);
    if (!room) return;
    for (const conn of room.connections) {
      if (conn.userId !== change.userId) continue;
      if (change.role === null) conn.close('MEMBERSHIP_REVOKED');
      else this.setRole(conn, change.role);
    }
  }

  /** Safety net for membership changes this process did not see (e.g. made by another instance). */
  private async recheckMemberships(): Promise<void> {
    for (const room of this.registry.rooms.values()) {
      if (room.connections.size === 0) continue;
      try {
        const members = new Map((await this.deps.storage.rooms.members(room.roomId)).map((m) => [m.userId, m.role]));
        for (const conn of room.connections) {
          const role = members.get(conn.userId);
          if (role === undefined) conn.close('MEMBERSHIP_REVOKED');
          else this.setRole(conn, role);
        }
      } catch (err) {
        this.logger.warn({ err, roomId: room.roomId }, 'membership re-check failed');
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
    for (const room of this.registry.rooms.values()) {
      for (const conn of room.connections) {
        if (conn.tokenExpiresAt <= now) conn.close('TOKEN_EXPIRED');
        else next = Math.min(next, conn.tokenExpiresAt);
      }
    }
    this.armExpiry(next);
  }

  private closed(conn: Connection): void {
    conn.closed = true;
    this.releaseSlots(conn.userId, conn.address);
    conn.room.removeConnection(conn);
    this.deps.metrics.connections.dec();
    this.registry.maybeScheduleUnload(conn.room);
  }

  private setRole(conn: Connection, role: Connection['role']): void {
    if (conn.role === role) return;
    conn.role = role;
    if (conn.wantsDurableAcks) conn.send(encodeRole(role));
  }
}

/** The longest the expiry timer waits before sweeping (and re-arming) anyway. */
const MAX_EXPIRY_WAIT_MS = 3_600_000;

/** Long enough for a big room's merge; short enough that a dead holder's lease frees up soon. */
const COMPACTION_LEASE_MS = 30_000;

const CONNECTION = Symbol('kith connection');
type SocketWithConnection = WebSocket & { [CONNECTION]: Connection };

const connectionOf = (ws: WebSocket): Connection => (ws as SocketWithConnection)[CONNECTION];

function onSocketPong(this: WebSocket): void {
  connectionOf(this).alive = true;
}

function toUint8Array(data: RawData): Uint8Array {
  if (data instanceof Buffer) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (Array.isArray(data)) return new Uint8Array(Buffer.concat(data));
  return new Uint8Array(data);
}
