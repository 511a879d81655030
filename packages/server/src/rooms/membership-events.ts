import { EventEmitter } from 'node:events';
import type { Role } from '../storage/storage.js';

/** A membership changed: `role` is the new role, or null when the member was removed. */
export interface MembershipChange {
  roomId: string;
  userId: string;
  role: Role | null;
}

/** A room just created over the room API. */
export interface CreatedRoom {
  roomId: string;
  name: string;
}

/**
 * In-process bus from the room API: membership changes to open sockets, so that a removal or a
 * lowered role reaches the member's sockets at once; new rooms to the modules that set them up;
 * deleted rooms and deleted users to the modules that keep rows (or grants) about them.
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

  private readonly creators = new Set<(room: CreatedRoom) => Promise<void>>();

  /** Work that belongs to a new room (the calendar writes its document's header); awaited before the 201. */
  onRoomCreated(listener: (room: CreatedRoom) => Promise<void>): () => void {
    this.creators.add(listener);
    return () => this.creators.delete(listener);
  }

  async roomCreated(room: CreatedRoom): Promise<void> {
    for (const listener of this.creators) await listener(room);
  }

  private readonly deleters = new Set<(roomId: string) => Promise<void>>();

  /** Work that goes with a deleted room (a module's own rows about it). */
  onRoomDeleted(listener: (roomId: string) => Promise<void>): () => void {
    this.deleters.add(listener);
    return () => this.deleters.delete(listener);
  }

  async roomDeleted(roomId: string): Promise<void> {
    for (const listener of this.deleters) await listener(roomId);
  }

  private readonly userDeleters = new Set<(userId: string) => Promise<void>>();

  /** Work that goes with a deleted account (what a module holds for that user: their grants, their rows). */
  onUserDeleted(listener: (userId: string) => Promise<void>): () => void {
    this.userDeleters.add(listener);
    return () => this.userDeleters.delete(listener);
  }

  async userDeleted(userId: string): Promise<void> {
    for (const listener of this.userDeleters) await listener(userId);
  }
}
