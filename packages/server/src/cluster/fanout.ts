import type { MembershipChange } from '../rooms/membership-events.js';

/** What arrives from other instances for one room. */
export interface RoomFanoutHandlers {
  /** A stored update another instance committed, with its per-room log position. */
  onUpdate(seq: number, update: Uint8Array): void;
  /** An awareness (presence) update from a client of another instance. */
  onAwareness(update: Uint8Array): void;
}

/**
 * Cross-instance fan-out. The durable log stays the source of truth: fan-out only makes
 * delivery prompt, and an instance that missed messages catches up from the log by sequence.
 */
export interface Fanout {
  /** True while messages flow; when false, rooms poll the log instead. */
  readonly healthy: boolean;
  /** False when `healthy` can never become false (one instance alone): nothing to poll for. */
  readonly canFail: boolean;
  joinRoom(roomId: string, handlers: RoomFanoutHandlers): void;
  leaveRoom(roomId: string): void;
  publishUpdate(roomId: string, seq: number, update: Uint8Array): void;
  publishAwareness(roomId: string, update: Uint8Array): void;
  publishMembership(change: MembershipChange): void;
  onMembership(listener: (change: MembershipChange) => void): void;
  /** Called after the fan-out was down and is back: messages may have been lost meanwhile. */
  onResumed(listener: () => void): void;
  close(): Promise<void>;
}

/** One instance alone: nothing to fan out to. */
export class LocalFanout implements Fanout {
  readonly healthy = true;
  readonly canFail = false;
  joinRoom(): void {}
  leaveRoom(): void {}
  publishUpdate(): void {}
  publishAwareness(): void {}
  publishMembership(): void {}
  onMembership(): void {}
  onResumed(): void {}
  async close(): Promise<void> {}
}
