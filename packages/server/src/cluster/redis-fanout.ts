import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { MembershipChange } from '../rooms/membership-events.js';
import type { Fanout, RoomFanoutHandlers } from './fanout.js';

const ROOM_PREFIX = 'kith:room:';
const MEMBERSHIP_CHANNEL = 'kith:membership';
const KIND_UPDATE = 1;
const KIND_AWARENESS = 2;
/** instance id (8 bytes) + kind (1) + seq (8, big-endian) */
const HEADER = 17;

/**
 * Fan-out over Redis pub/sub: one channel per room (each instance subscribes only to the rooms
 * it has loaded, so an instance handles only its own rooms' traffic) and one for membership.
 * A publish is one Redis hop with the stored update itself — no resync round trips. Pub/sub may
 * drop messages (disconnects, restarts): instances detect gaps by sequence and read the log.
 * While Redis is down every instance keeps serving its own clients.
 */
export class RedisFanout implements Fanout {
  readonly canFail = true;
  private readonly instanceId = randomBytes(8);
  private readonly pub: Redis;
  private readonly sub: Redis;
  private readonly rooms = new Map<string, RoomFanoutHandlers>();
  private readonly membershipListeners: Array<(c: MembershipChange) => void> = [];
  private readonly resumedListeners: Array<() => void> = [];
  private wasDown = false;
  private closed = false;

  constructor(
    url: string,
    private readonly logger: Logger,
  ) {
    const options = {
      lazyConnect: false,
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false,
      retryStrategy: (times: number) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
    };
    this.pub = new Redis(url, options);
    this.sub = new Redis(url, { ...options, enableOfflineQueue: true });
    for (const [name, client] of [
      ['publisher', this.pub],
      ['subscriber', this.sub],
    ] as const) {
      client.on('error', (err: Error) => this.logger.warn({ err: err.message, client: name }, 'redis error'));
      client.on('close', () => {
        if (!this.closed) this.wasDown = true;
      });
    }
    // ioredis re-subscribes to every channel by itself after reconnecting.
    this.sub.on('ready', () => {
      if (this.wasDown && !this.closed) {
        this.wasDown = false;
        this.logger.info('redis is back; rooms catch up from the log');
        for (const l of this.resumedListeners) l();
      }
    });
    void this.sub.subscribe(MEMBERSHIP_CHANNEL).catch(() => undefined);
    this.sub.on('messageBuffer', (channel: Buffer, message: Buffer) => this.onMessage(channel.toString(), message));
  }

  get healthy(): boolean {
    return this.pub.status === 'ready' && this.sub.status === 'ready';
  }

  /** Resolves once both connections are up (or rejects after `timeoutMs`). */
  async ready(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.healthy) {
      if (Date.now() > deadline) throw new Error('Redis is not reachable');
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  joinRoom(roomId: string, handlers: RoomFanoutHandlers): void {
    this.rooms.set(roomId, handlers);
    void this.sub.subscribe(ROOM_PREFIX + roomId).catch((err: Error) =>
      this.logger.warn({ err: err.message, roomId }, 'redis subscribe failed; the room polls the log'),
    );
  }

  leaveRoom(roomId: string): void {
    this.rooms.delete(roomId);
    void this.sub.unsubscribe(ROOM_PREFIX + roomId).catch(() => undefined);
  }

  publishUpdate(roomId: string, seq: number, update: Uint8Array): void {
    this.publish(ROOM_PREFIX + roomId, KIND_UPDATE, seq, update);
  }

  publishAwareness(roomId: string, update: Uint8Array): void {
    this.publish(ROOM_PREFIX + roomId, KIND_AWARENESS, 0, update);
  }

  publishMembership(change: MembershipChange): void {
    if (!this.healthy) return;
    this.pub.publish(MEMBERSHIP_CHANNEL, JSON.stringify(change)).catch(() => undefined);
  }

  onMembership(listener: (change: MembershipChange) => void): void {
    this.membershipListeners.push(listener);
  }

  onResumed(listener: () => void): void {
    this.resumedListeners.push(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.rooms.clear();
    this.pub.disconnect();
    this.sub.disconnect();
  }

  private publish(channel: string, kind: number, seq: number, payload: Uint8Array): void {
    // Never queue while Redis is down: the log is the catch-up path, and a backlog would only grow.
    if (this.pub.status !== 'ready') return;
    const msg = Buffer.allocUnsafe(HEADER + payload.byteLength);
    this.instanceId.copy(msg, 0);
    msg.writeUInt8(kind, 8);
    msg.writeBigUInt64BE(BigInt(seq), 9);
    msg.set(payload, HEADER);
    this.pub.publish(channel, msg).catch((err: Error) => {
      this.wasDown = true;
      this.logger.debug({ err: err.message }, 'redis publish failed');
    });
  }

  private onMessage(channel: string, message: Buffer): void {
    if (channel === MEMBERSHIP_CHANNEL) {
      let change: MembershipChange;
      try {
        change = JSON.parse(message.toString()) as MembershipChange;
      } catch {
        return;
      }
      for (const l of this.membershipListeners) l(change);
      return;
    }
    if (!channel.startsWith(ROOM_PREFIX) || message.byteLength < HEADER) return;
    if (message.subarray(0, 8).equals(this.instanceId)) return; // our own
    const handlers = this.rooms.get(channel.slice(ROOM_PREFIX.length));
    if (!handlers) return;
    const kind = message.readUInt8(8);
    const payload = new Uint8Array(message.buffer, message.byteOffset + HEADER, message.byteLength - HEADER);
    if (kind === KIND_UPDATE) handlers.onUpdate(Number(message.readBigUInt64BE(9)), payload);
    else if (kind === KIND_AWARENESS) handlers.onAwareness(payload);
  }
}
