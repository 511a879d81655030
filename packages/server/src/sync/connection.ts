import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import { ERRORS, type ErrorCode } from '../errors/catalogue.js';
import type { Role } from '../storage/storage.js';
import type { Room } from './room.js';
import { TokenBucket } from './token-bucket.js';
import { rawSocketOf, type SharedFrame } from './wire.js';

/** Past this much unsent data a client is too slow to keep up; it is closed and resyncs later. */
const MAX_BUFFERED_BYTES = 16 * 1024 * 1024;

/** One sync WebSocket: one user in one room. */
export class Connection {
  role: Role;
  /** Access token expiry, ms since the epoch. */
  tokenExpiresAt: number;
  /** Asked for durable acknowledgements (message 100). */
  wantsDurableAcks = false;
  /**
   * Yjs client ids this socket wrote for, whose stored clocks it is owed an ack of; and awareness
   * client ids it controls, removed when it closes. Created on first use: most sockets of a big
   * server are idle readers, and every byte per socket counts there.
   */
  ackClients: Set<number> | undefined;
  awarenessClients: Set<number> | undefined;
  /** Pong seen since the last ping. */
  alive = true;
  /** Which tick of the ping interval pings this socket. */
  pingSlice = 0;
  closed = false;
  /**
   * Set when updates of this socket were dropped because storage refused writes: 'dropped' until
   * writes work again, then 'asked' once the server sent a sync step 1 that makes the client send
   * them again. Until that answer, its other updates are dropped too and its stored barriers held.
   */
  resync: 'dropped' | 'asked' | undefined;
  heldBarriers: Uint8Array[] | undefined;
  readonly bucket: TokenBucket;
  /** The TCP socket under `socket`, for broadcasts framed once (see `sendShared`). */
  private readonly raw: Socket | undefined;

  constructor(
    readonly socket: WebSocket,
    readonly room: Room,
    readonly userId: string,
    role: Role,
    tokenExpiresAt: number,
    rate: { perSecond: number; burst: number },
    private readonly onClosedByServer: (code: ErrorCode) => void,
    /** The client's address its socket slot was counted under (see SocketQuota). */
    readonly address: string,
  ) {
    this.role = role;
    this.tokenExpiresAt = tokenExpiresAt;
    this.bucket = new TokenBucket(rate.perSecond, rate.burst);
    this.raw = rawSocketOf(socket);
  }

  noteAckClient(client: number): void {
    (this.ackClients ??= new Set()).add(client);
  }

  get canWrite(): boolean {
    return this.role !== 'viewer';
  }

  send(frame: Uint8Array): void {
    if (this.closed || this.socket.readyState !== this.socket.OPEN) return;
    if (this.socket.bufferedAmount > MAX_BUFFERED_BYTES) {
      this.close('RATE_LIMITED', 'The connection cannot keep up; reconnect to resync.');
      return;
    }
    this.socket.send(frame);
  }

  /**
   * Sends a broadcast: the frame's bytes, framed once for every socket of the room, in one write.
   * (Fan-out to hundreds of sockets is the server's hottest loop; this is its floor.)
   */
  sendShared(frame: SharedFrame): void {
    if (this.closed || this.socket.readyState !== this.socket.OPEN) return;
    const raw = this.raw;
    if (!raw) {
      this.send(frame.message);
      return;
    }
    if (raw.writableLength > MAX_BUFFERED_BYTES) {
      this.close('RATE_LIMITED', 'The connection cannot keep up; reconnect to resync.');
      return;
    }
    raw.write(frame.wire);
  }

  /** A refreshed token moves the expiry; the socket stays open. (The sync server sweeps expiries.) */
  setTokenExpiry(expiresAt: number): void {
    this.tokenExpiresAt = expiresAt;
  }

  /** Closes with the catalogue's close code; the reason is the stable error code. */
  close(code: ErrorCode, _detail?: string): void {
    if (this.closed) return;
    this.closed = true;
    this.onClosedByServer(code);
    // WebSocket close reasons are at most 123 bytes: the code string always fits.
    this.socket.close(ERRORS[code].closeCode, code);
    // A peer that never answers the close handshake is cut off.
    setTimeout(() => this.socket.terminate(), 2_000).unref();
  }
}
