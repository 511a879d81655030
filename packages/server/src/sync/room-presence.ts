import type * as Y from 'yjs';
import { Awareness, applyAwarenessUpdate, encodeAwarenessUpdate, removeAwarenessStates } from 'y-protocols/awareness';
import { PresenceGuard, type PresenceDrop, type PresenceLimits } from './awareness-guard.js';
import { encodeAwareness } from '@kith/protocol';
import type { RoomPeer } from './room.js';
import { SharedFrame } from './wire.js';

/** Origin of changes that arrive from other instances (already stored or guarded by them). */
export const REMOTE_ORIGIN = Symbol('remote');

/**
 * A room's presence (y-protocols awareness): who is online and where, never stored. Changes go
 * to every peer of the room at once, and this instance's own to other instances too.
 */
export class RoomPresence<P extends RoomPeer = RoomPeer> {
  readonly awareness: Awareness;
  /** Who may change which presence client id; caps on presence (see PresenceGuard). */
  private readonly guard: PresenceGuard;
  /** Awareness changes made by this instance's clients, for fan-out to other instances. */
  private localOut: ((update: Uint8Array) => void) | undefined;

  constructor(
    doc: Y.Doc,
    private readonly peers: ReadonlySet<P>,
    limits: PresenceLimits,
  ) {
    this.awareness = new Awareness(doc);
    this.guard = new PresenceGuard(this.awareness, limits);
    // The server has no presence of its own.
    this.awareness.setLocalState(null);
    this.awareness.on('update', this.onUpdate);
  }

  /** Client ids with an owner (local sockets and other instances). */
  get size(): number {
    return this.guard.size;
  }

  /** The part of a socket's awareness update it may make (see PresenceGuard.filter). */
  filter(peer: P, update: Uint8Array, onDrop: (why: PresenceDrop, count: number) => void): Uint8Array | undefined {
    return this.guard.filter(peer, update, onDrop);
  }

  /** Applies an awareness update: from a socket, only what `filter` let through. */
  apply(origin: P | typeof REMOTE_ORIGIN, update: Uint8Array): void {
    applyAwarenessUpdate(this.awareness, update, origin);
  }

  /** Everyone online now, as one message for a socket that just joined or asked. */
  snapshot(): Uint8Array | undefined {
    const clients = [...this.awareness.getStates().keys()];
    return clients.length === 0 ? undefined : encodeAwareness(encodeAwarenessUpdate(this.awareness, clients));
  }

  /** Awareness changes of this instance's sockets go to `publish` too (fan-out to other instances). */
  publishLocal(publish: (update: Uint8Array) => void): void {
    this.localOut = publish;
  }

  /** A peer left: the states of the ids it held go with it. */
  leave(peer: P): void {
    const presence = this.guard.release(peer);
    if (presence.length > 0) {
      removeAwarenessStates(this.awareness, presence, null);
      this.guard.pruneClocks(Date.now());
    }
  }

  destroy(): void {
    this.localOut = undefined;
    this.awareness.off('update', this.onUpdate);
    // Awareness runs an interval timer; destroying it is what keeps unloaded rooms from leaking.
    this.awareness.destroy();
  }

  private readonly onUpdate = (
    { added, updated, removed }: { added: number[]; updated: number[]; removed: number[] },
    origin: unknown,
  ): void => {
    const changed = [...added, ...updated, ...removed];
    if (changed.length === 0) return;
    // Sockets' ids were claimed before their update was applied; other instances' are noted here.
    if (origin === REMOTE_ORIGIN) this.guard.noteOtherInstance([...added, ...updated], removed);
    else if (origin === 'timeout') this.guard.noteTimedOut(removed);
    const update = encodeAwarenessUpdate(this.awareness, changed);
    const frame = new SharedFrame(encodeAwareness(update));
    for (const peer of this.peers) peer.sendShared(frame);
    if (origin !== REMOTE_ORIGIN) this.localOut?.(update);
  };
}
