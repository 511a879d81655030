import { EventEmitter } from 'node:events';
import type { Role } from '../storage/storage.js';

/** A membership changed: `role` is the new role, or null when the member was removed. */
export interface MembershipChange {
  roomId: string;
  userId: string;
  role: Role | null;
}

/**
 * In-process bus from the room API to open sync sockets, so that a removal or a lowered role
 * reaches the member's sockets at once.
 */
export class MembershipEvents {
  private readonly emitter = new EventEmitter().setMaxListeners(0);

  publish(change: MembershipChange): void {
    this.emitter.emit('change', change);
  }

  subscribe(listener: (change: MembershipChange) => void): () => void {
    this.emitter.on('change', listener);
    return () => this.emitter.off('change', listener);
  }
}
