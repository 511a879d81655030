/**
 * Watches of (room, user) while a member's role is read from storage. A read that started before
 * a membership change may resolve after the change was told, with the role from before it:
 * applied then, it would undo the change (on PostgreSQL the read takes a real round trip; a
 * demoted member's write accepted, a removed member's socket opened or subscribed). A change told
 * during the watch is newer than anything such a read can be trusted to have seen, so it wins:
 * `roleAfter(read)` is the latest change's role when one came in, else the read's. Only pairs
 * being read have an entry, dropped when its last watch ends, so the map holds no more than the
 * reads in flight. Used by the sync sockets (SocketSupervisor) and the /live socket.
 */
import type { Role } from '../storage/storage.js';

export interface MembershipWatch {
  /** The role set by the latest change told since the watch started (null: removed); undefined when none came. */
  latest(): Role | null | undefined;
  /** The role to go by after a member read that started with the watch: the latest change's, or the read's. */
  roleAfter(read: { role: Role } | undefined): Role | null;
  /** Idempotent: call once the role is applied or the request refused. */
  end(): void;
}

interface Watched {
  /** Watches open on this pair. */
  watches: number;
  /** The change count when the latest change for this pair came in (0: none while watched). */
  changedAt: number;
  role: Role | null;
}

export class MembershipWatches {
  /** Counts changes told; a watch notes it when it starts. */
  private changeCount = 0;
  private readonly watched = new Map<string, Watched>();

  /** A membership change was told: call before the sockets are told of it. */
  changed(roomId: string, userId: string, role: Role | null): void {
    this.changeCount++;
    const entry = this.watched.get(watchKey(roomId, userId));
    if (entry) {
      entry.changedAt = this.changeCount;
      entry.role = role;
    }
  }

  watch(roomId: string, userId: string): MembershipWatch {
    const key = watchKey(roomId, userId);
    let entry = this.watched.get(key);
    if (!entry) this.watched.set(key, (entry = { watches: 0, changedAt: 0, role: null }));
    const watched = entry;
    watched.watches++;
    const since = this.changeCount;
    let ended = false;
    return {
      latest: () => (watched.changedAt > since ? watched.role : undefined),
      roleAfter: (read) => (watched.changedAt > since ? watched.role : (read?.role ?? null)),
      end: () => {
        if (ended) return;
        ended = true;
        if (--watched.watches === 0 && this.watched.get(key) === watched) this.watched.delete(key);
      },
    };
  }

  /** Pairs being watched now (for tests: empty once every read is done). */
  get size(): number {
    return this.watched.size;
  }
}

const watchKey = (roomId: string, userId: string): string => JSON.stringify([roomId, userId]);
