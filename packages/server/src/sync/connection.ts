import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import { ERRORS, type ErrorCode } from '../errors/catalogue.js';
import type { Role } from '../storage/storage.js';
import type { KeptAlive } from './ping-slices.js';
import { encodeRole, type SplitMessage } from '@kith/protocol';
import type { Room, RoomPeer } from './room.js';
import { TokenBucket } from './token-bucket.js';
import { rawSocketOf, splitBinaryFrame, type SharedFrame } from './wire.js';

/**
 * Client ids a socket's durable acks report on: those it subscribed with and those of the updates
 * it sent. A client asks about its own few recent ids; unbounded, each ack re-encoded them all
 * (680,000 ids: 0.8–3 s a frame).
 */
export const MAX_ACK_CLIENTS = 256;

/** Past this much unsent data a client is too slow to keep up; it is closed and resyncs later. */
const MAX_BUFFERED_BYTES = 16 * 1024 * 1024;

/**
 * Why a socket's updates are being dropped: 'dropped' while storage refuses writes, then 'asked'
 * once the server sent a sync step 1 that makes the client send them again.
 */
export type ResyncState = 'dropped' | 'asked';

/** One sync WebSocket: one user in one room. Its state changes only through its own methods. */
export class Connection implements RoomPeer, KeptAlive {
  private currentRole: Role;
  /** Access token expiry, ms since the epoch. */
  private expiresAt: number;
  private durableAcks = false;
  /**
   * Yjs client ids this socket wrote for, whose stored clocks it is owed an ack of; and awareness
   * client ids it controls, removed when it closes. Created on first use: most sockets of a big
   * server are idle readers, and every byte per socket counts there.
   */
  private acks: Set<number> | undefined;
  private presenceIds: Set<number> | undefined;
  /** Pong seen since the last ping (set by the ping slices and the pong listener). */
  alive = true;
  /**
   * A sync answer is owed to this socket and not yet sent: more sync step 1s meanwhile are
   * dropped (each would hold its own encoding of the room until the commit it waits for).
   */
  syncAnswerOwed = false;
  private isClosed = false;
  /** Until the answer to the resync, its other updates are dropped too and its stored barriers held. */
  private resyncState: ResyncState | undefined;
  private heldBarriers: Uint8Array[] | undefined;
  private readonly bucket: TokenBucket;
  /** The TCP socket under `socket`, for broadcasts framed once (see `sendShared`). */
  private readonly raw: Socket | undefined;

  constructor(
    readonly socket: WebSocket,
    readonly room: Room<Connection>,
    readonly userId: string,
    readonly username: string,
    role: Role,
    tokenExpiresAt: number,
    rate: { perSecond: number; burst: number },
    private readonly onClosedByServer: (code: ErrorCode) => void,
    /** The client's address its socket slot was counted under (see SocketQuota). */
    readonly address: string,
    /** Which tick of the ping interval pings this socket. */
    readonly pingSlice: number,
  ) {
    this.currentRole = role;
    this.expiresAt = tokenExpiresAt;
    this.bucket = new TokenBucket(rate.perSecond, rate.burst);
    this.raw = rawSocketOf(socket);
  }

  get role(): Role {
    return this.currentRole;
  }

  get canWrite(): boolean {
    return this.currentRole !== 'viewer';
  }

  /** A new role (membership change, token refresh); Kith clients that asked for acks are told. */
  setRole(role: Role): void {
    if (this.currentRole === role) return;
    this.currentRole = role;
    if (this.durableAcks) this.send(encodeRole(role));
  }

  get tokenExpiresAt(): number {
    return this.expiresAt;
  }

  /** A refreshed token moves the expiry; the socket stays open. (The socket supervisor sweeps expiries.) */
  setTokenExpiry(expiresAt: number): void {
    this.expiresAt = expiresAt;
  }

  /** Asked for durable acknowledgements (message 100). */
  get wantsDurableAcks(): boolean {
    return this.durableAcks;
  }

  /** Message 100: from now on acks are owed; the first time, the client is told its role (103). */
  subscribeDurableAcks(): void {
    if (!this.durableAcks) this.send(encodeRole(this.currentRole));
    this.durableAcks = true;
  }

  get ackClients(): ReadonlySet<number> | undefined {
    return this.acks;
  }

  noteAckClient(client: number): void {
    const acks = (this.acks ??= new Set());
    if (acks.has(client)) return;
    // Bounded (every ack frame encodes them all): the oldest noted goes first.
    if (acks.size >= MAX_ACK_CLIENTS) acks.delete(acks.values().next().value as number);
    acks.add(client);
  }

  get presenceCount(): number {
    return this.presenceIds?.size ?? 0;
  }

  holdPresence(client: number): void {
    (this.presenceIds ??= new Set()).add(client);
  }

  dropPresence(client: number): void {
    this.presenceIds?.delete(client);
  }

  releasePresence(): number[] {
    const mine = this.presenceIds;
    if (!mine || mine.size === 0) return [];
    const ids = [...mine];
    mine.clear();
    return ids;
  }

  /** Spends one message of the socket's rate limit; false when it is over it. */
  allowMessage(): boolean {
    return this.bucket.take();
  }

  /** Set while updates of this socket are dropped because storage refused writes (see ResyncState). */
  get resync(): ResyncState | undefined {
    return this.resyncState;
  }

  setResync(state: ResyncState | undefined): void {
    this.resyncState = state;
  }

  /** A stored barrier that must wait until this socket's dropped updates were sent again. */
  holdBarrier(frame: Uint8Array): void {
    (this.heldBarriers ??= []).push(frame);
  }

  takeHeldBarriers(): Uint8Array[] | undefined {
    const frames = this.heldBarriers;
    this.heldBarriers = undefined;
    return frames;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** The socket is gone (its close event): nothing more is sent on it. */
  socketClosed(): void {
    this.isClosed = true;
  }

  send(frame: Uint8Array): void {
    if (this.isClosed || this.socket.readyState !== this.socket.OPEN) return;
    if (this.closedIfBehind(this.socket.bufferedAmount)) return;
    this.socket.send(frame);
  }

  /**
   * Sends a broadcast: the frame's bytes, framed once for every socket of the room, in one write.
   * (Fan-out to hundreds of sockets is the server's hottest loop; this is its floor.)
   */
  sendShared(frame: SharedFrame): void {
    if (this.isClosed || this.socket.readyState !== this.socket.OPEN) return;
    const raw = this.raw;
    if (!raw) {
      this.send(frame.message);
      return;
    }
    if (this.closedIfBehind(raw.writableLength)) return;
    raw.write(frame.wire);
  }

  /**
   * Sends a message given as its head and a large payload (a stored snapshot, say) without joining
   * them: the payload is written to the socket as it is, in the same writev as the frame's header.
   */
  sendSplit(message: SplitMessage): void {
    if (this.isClosed || this.socket.readyState !== this.socket.OPEN) return;
    const raw = this.raw;
    if (!raw) {
      this.send(Buffer.concat([message.head, message.payload]));
      return;
    }
    if (this.closedIfBehind(raw.writableLength)) return;
    const [first, payload] = splitBinaryFrame(message.head, message.payload);
    raw.cork();
    raw.write(first);
    raw.write(payload);
    raw.uncork();
  }

  /** Closes a client with this much unsent data: it is too slow to keep up and resyncs later. */
  private closedIfBehind(unsentBytes: number): boolean {
    if (unsentBytes <= MAX_BUFFERED_BYTES) return false;
    this.close('RATE_LIMITED', 'The connection cannot keep up; reconnect to resync.');
    return true;
  }

  /** Closes with the catalogue's close code; the reason is the stable error code. */
  close(code: ErrorCode, _detail?: string): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.onClosedByServer(code);
    // WebSocket close reasons are at most 123 bytes: the code string always fits.
    this.socket.close(ERRORS[code].closeCode, code);
    // A peer that never answers the close handshake is cut off.
    setTimeout(() => this.socket.terminate(), 2_000).unref();
  }
}
