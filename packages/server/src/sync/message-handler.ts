/*
 * One update's path through the server, in four files:
 *   message-handler.ts  socket frame → rate limit → decode → validation (`receiveUpdate`)
 *   room.ts             applied to the room's document, queued (`applyClientUpdate`)
 *   group-commit.ts     durable append of every dirty room's batch in one transaction (`commit`)
 *   room.ts             `committed`: broadcast to the other sockets, acks, waiting answers
 *   connection.ts       each other socket writes the frame, framed once (`sendShared`)
 */
import * as Y from 'yjs';
import * as decoding from 'lib0/decoding';
import type { RawData, WebSocket } from 'ws';
import type { Logger } from 'pino';
import { KithError } from '../errors/catalogue.js';
import type { Metrics } from '../ops/metrics.js';
import type { WriteHealth } from '../storage/write-health.js';
import { MAX_ACK_CLIENTS, type Connection, type ResyncState } from './connection.js';
import { ProtocolError, decodeClientMessage, encodeStoredBarrier, encodeSyncStep1, type ClientMessage } from '@kith/protocol';
import type { RoomRegistry } from './room-registry.js';
import type { SocketSupervisor } from './socket-supervisor.js';

/**
 * Client ids a sync step 1 may name. A room gets a client id per editing session, so a long-used
 * room has thousands; decoding 680,000 (one 2.7 MB frame) held the loop 0.8 s, and a viewer could
 * repeat it.
 */
export const MAX_SYNC_CLIENTS = 50_000;

/** How many entries a Yjs state vector holds, read before decoding it. */
function stateVectorSize(sv: Uint8Array): number {
  return decoding.readVarUint(decoding.createDecoder(sv));
}

/** An update with nothing in it (what every client answers our sync step 1 with when it has nothing new). */
const isEmptyUpdate = (u: Uint8Array): boolean => u.byteLength === 2 && u[0] === 0 && u[1] === 0;

export interface MessageHandlerDeps {
  registry: RoomRegistry<Connection>;
  supervisor: SocketSupervisor;
  metrics: Metrics;
  logger: Logger;
  /** Whether storage takes writes; updates are dropped (and asked for again later) while it does not. */
  writeHealth: WriteHealth;
  maxRoomBytes: number;
  /** The socket is gone: give back what it held. */
  onClosed(conn: Connection): void;
}

/**
 * Speaks the y-websocket protocol (plus Kith's messages 100–103) on open sync sockets: every
 * frame is checked (binary, rate limit, decodable, allowed for the socket's role) before it
 * reaches the room.
 */
export class MessageHandler {
  private readonly onSocketMessage: (this: WebSocket, data: RawData, isBinary: boolean) => void;
  private readonly onSocketError: (this: WebSocket, err: Error) => void;
  private readonly onSocketClose: (this: WebSocket) => void;

  constructor(private readonly deps: MessageHandlerDeps) {
    // Socket listeners are made once per server, not once per socket: each finds its connection
    // on the socket (`this`), which saves a few closures on every one of thousands of sockets.
    const handler = this;
    this.onSocketMessage = function (this: WebSocket, data: RawData, isBinary: boolean) {
      handler.onMessage(connectionOf(this), data, isBinary);
    };
    this.onSocketError = function (this: WebSocket, err: Error) {
      handler.deps.logger.debug({ err, roomId: connectionOf(this).room.roomId }, 'socket error');
    };
    this.onSocketClose = function (this: WebSocket) {
      handler.deps.onClosed(connectionOf(this));
    };
  }

  /** Starts handling a freshly opened socket's frames. */
  listen(ws: WebSocket, conn: Connection): void {
    (ws as SocketWithConnection)[CONNECTION] = conn;
    ws.on('message', this.onSocketMessage);
    ws.on('pong', onSocketPong);
    ws.on('error', this.onSocketError);
    ws.on('close', this.onSocketClose);
  }

  /** Writes work again: every socket whose updates were dropped is asked for what we lack. */
  askDroppedUpdates(): void {
    for (const room of this.deps.registry.rooms.values()) {
      for (const conn of room.peers) {
        if (conn.resync !== 'dropped') continue;
        conn.setResync('asked');
        conn.send(encodeSyncStep1(room.encodedStateVector()));
      }
    }
  }

  private onMessage(conn: Connection, data: RawData, isBinary: boolean): void {
    if (conn.closed) return;
    if (!isBinary) {
      conn.close('MALFORMED_MESSAGE', 'text frames are not part of the protocol');
      return;
    }
    if (!conn.allowMessage()) {
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
      if (conn.room.broken) this.deps.registry.dropIfBroken(conn.room, err);
      else this.rejectMalformed(conn, err);
    }
  }

  private handle(conn: Connection, message: ClientMessage): void {
    const room = conn.room;
    switch (message.kind) {
      case 'sync-step1': {
        const sv = message.stateVector;
        // One answer owed at a time: a socket is a member, so whatever is committed after the
        // answer it waits for reaches it anyway (a flood of step 1s cost a room encoding each).
        if (conn.syncAnswerOwed) return;
        if (stateVectorSize(sv) > MAX_SYNC_CLIENTS) throw new ProtocolError(`a state vector names more than ${MAX_SYNC_CLIENTS} clients`);
        Y.decodeStateVector(sv); // validates; throws on garbage
        conn.syncAnswerOwed = true;
        room.whenDurable(
          () => {
            const frames = conn.closed ? [] : room.syncAnswer(sv);
            return () => {
              conn.syncAnswerOwed = false;
              for (const frame of frames) conn.sendSplit(frame);
            };
          },
          () => (conn.syncAnswerOwed = false),
        );
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
        if (allowed) room.presence.apply(conn, allowed);
        return;
      }
      case 'query-awareness': {
        const awareness = room.presence.snapshot();
        if (awareness) conn.send(awareness);
        return;
      }
      case 'durable-subscribe': {
        if (stateVectorSize(message.stateVector) > MAX_ACK_CLIENTS) {
          throw new ProtocolError(`a durable-ack subscription names more than ${MAX_ACK_CLIENTS} clients`);
        }
        const sv = Y.decodeStateVector(message.stateVector);
        conn.subscribeDurableAcks();
        for (const client of sv.keys()) conn.noteAckClient(client);
        room.whenDurable(() => () => conn.send(room.ackFrame(conn)));
        return;
      }
      case 'stored-barrier': {
        const frame = encodeStoredBarrier(message.id);
        // Updates of this socket were dropped: the barrier waits until they were sent again.
        if (conn.resync) conn.holdBarrier(frame);
        else room.whenDurable(() => () => conn.send(frame));
        return;
      }
      case 'token':
        void this.deps.supervisor.refreshToken(conn, message.token);
        return;
    }
  }

  private receiveUpdate(conn: Connection, update: Uint8Array, kind: 'sync-step2' | 'update'): void {
    const { metrics, writeHealth } = this.deps;
    if (!conn.canWrite && !conn.resync) {
      // Read-only: neither applied nor broadcast, nor decoded (a viewer's 4 MB of delete ranges
      // held the loop 0.25 s). The socket stays open for reading. No permission-denied message:
      // stock y-websocket clients print it together with their URL, token included, to the
      // console. Kith clients know their role from message 103.
      if (!isEmptyUpdate(update)) metrics.updatesRejected.inc({ reason: 'read-only' });
      return;
    }
    // Decode fully before touching the document: most malformed updates stop here.
    const decoded = Y.decodeUpdate(update);
    const empty = decoded.structs.length === 0 && decoded.ds.clients.size === 0;
    let resynced = false;
    if (conn.resync) {
      if (kind === 'sync-step2' && conn.resync === 'asked' && writeHealth.writable) {
        // The answer to our sync step 1: it holds everything of this client's that we lack.
        conn.setResync(undefined);
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
      // Demoted while its updates were being asked for again: read-only as above.
      metrics.updatesRejected.inc({ reason: 'read-only' });
      return;
    }
    const room = conn.room;
    // Counting what is on its way to disk too: a burst in one tick (or during a slow commit) must not slip past.
    if (room.bytesWithUnstored + update.byteLength > this.deps.maxRoomBytes) {
      metrics.updatesRejected.inc({ reason: 'room-too-large' });
      conn.close('ROOM_TOO_LARGE');
      return;
    }
    // Memory, counted in structs (bytes do not bound it: struct-budget.ts). Over the process's
    // budget the socket is closed with 1013: the client keeps its edit and sends it again later.
    const refusal = room.structRefusal(decoded.structs.length);
    if (refusal) {
      metrics.updatesRejected.inc({ reason: refusal === 'ROOM_TOO_LARGE' ? 'room-too-large' : 'server-memory-full' });
      conn.close(refusal);
      return;
    }
    if (!writeHealth.writable) {
      this.dropUpdate(conn, 'dropped');
      return;
    }
    if (!room.applyClientUpdate(conn, update, decoded.structs)) {
      metrics.updatesRejected.inc({ reason: 'malformed' });
      conn.close('MALFORMED_MESSAGE', 'the update could not be applied');
      this.deps.registry.reloadBroken(room);
      return;
    }
    if (resynced) this.releaseBarriers(conn);
  }

  /**
   * Storage refuses writes: the update is neither applied nor acknowledged, and the socket stays
   * open for reading. Stock y-websocket clients keep the edit in their document; once writes work
   * again the server sends them a sync step 1 and they send it again (see askDroppedUpdates).
   */
  private dropUpdate(conn: Connection, state: ResyncState): void {
    this.deps.metrics.updatesRejected.inc({ reason: 'storage-unavailable' });
    conn.setResync(state);
  }

  private releaseBarriers(conn: Connection): void {
    const frames = conn.takeHeldBarriers();
    for (const frame of frames ?? []) conn.room.whenDurable(() => () => conn.send(frame));
  }

  private rejectMalformed(conn: Connection, err: unknown): void {
    this.deps.metrics.updatesRejected.inc({ reason: 'malformed' });
    this.deps.logger.debug(
      { roomId: conn.room.roomId, err: err instanceof ProtocolError ? err.message : String(err) },
      'malformed message; closing socket',
    );
    conn.close('MALFORMED_MESSAGE');
  }
}

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
