import type { Logger } from 'pino';
import type { Metrics } from '../ops/metrics.js';
import type { Storage } from '../storage/storage.js';
import { JobThread } from '../util/job-thread.js';
import { workerScript } from '../util/worker-script.js';
import type { Room } from './room.js';
import { completeUpdates } from '../storage/stored-doc.js';

/** What the worker returns: the merged snapshot and its state vector. */
export interface MergedSnapshot {
  snapshot: Uint8Array;
  stateVector: Uint8Array;
}

/** When a room's log is folded into its snapshot: after this many updates or bytes since the last fold. */
export interface CompactionPolicy {
  compactAfterUpdates: number;
  compactAfterBytes: number;
}

export type CompactionOutcome = 'compacted' | 'leased-elsewhere' | 'nothing-to-do' | 'lost-race';

/** Long enough for a big room's merge; short enough that a dead holder's lease frees up soon. */
const COMPACTION_LEASE_MS = 30_000;

export interface CompactionResult {
  compacted: boolean;
  updatesFolded: number;
  bytesBefore: number;
  bytesAfter: number;
}

/**
 * Folds a room's log into its snapshot, when its log has grown enough (`afterCommit`) or when
 * asked (`compactRoom`). It reads what is on disk (never the in-memory document, so an unsaved or
 * broken state can never be stored over real data), merges in a worker thread, and swaps the
 * snapshot in only if no other compaction got there first.
 */
export class Compactor {
  private readonly merger: JobThread<MergedSnapshot>;

  constructor(
    private readonly storage: Storage,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
    private readonly policy: CompactionPolicy,
    /** Names this instance as a lease holder. */
    private readonly instanceId: string,
  ) {
    this.merger = new JobThread(workerScript(import.meta.url, './compaction-worker.js', '../../dist/sync/compaction-worker.js'), {
      name: 'compaction',
      onCrash: (err) => this.logger.error({ err }, 'compaction worker crashed'),
    });
  }

  /** A commit of `room` is on disk: compacts it in the background once its log is long enough. */
  afterCommit(room: Room): void {
    const { compactAfterUpdates, compactAfterBytes } = this.policy;
    if (room.compacting || (room.stored.logCount < compactAfterUpdates && room.stored.logBytes < compactAfterBytes)) {
      return;
    }
    room.compacting = true;
    void this.compactRoom(room.roomId)
      .then(async (outcome) => {
        if (outcome !== 'compacted') return;
        const stats = await this.storage.docs.stats(room.roomId);
        room.restat({ bytes: stats.logBytes + stats.snapshotBytes, logBytes: stats.logBytes, logCount: stats.logCount });
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
  async compactRoom(roomId: string): Promise<CompactionOutcome> {
    // The lease only matters when other instances share the storage. Alone (SQLite), a lease left
    // by a process killed mid-compaction would only block the restarted one until it expired.
    const shared = this.storage.shared;
    const lease = `compact:${roomId}`;
    if (shared && !(await this.storage.leases.tryAcquire(lease, this.instanceId, COMPACTION_LEASE_MS))) {
      this.metrics.compactions.inc({ outcome: 'leased-elsewhere' });
      return 'leased-elsewhere';
    }
    try {
      const result = await this.compact(roomId);
      if (result.updatesFolded === 0) return 'nothing-to-do';
      return result.compacted ? 'compacted' : 'lost-race';
    } finally {
      if (shared) await this.storage.leases.release(lease, this.instanceId).catch(() => undefined);
    }
  }

  async compact(roomId: string): Promise<CompactionResult> {
    const stored = await this.storage.docs.loadOffLoop(roomId);
    const last = stored.updates.at(-1);
    const bytesBefore =
      (stored.snapshot?.byteLength ?? 0) + stored.updates.reduce((n, u) => n + u.data.byteLength, 0);
    if (!last) return { compacted: false, updatesFolded: 0, bytesBefore, bytesAfter: bytesBefore };
    const started = performance.now();
    let snapshot: Uint8Array;
    let stateVector: Uint8Array;
    try {
      // Rows missing (a partial restore) are refused, not folded: a snapshot of what is left would
      // make the room look whole and bury the gap that refuses it to clients now.
      ({ snapshot, stateVector } = await this.merge(completeUpdates(stored)));
    } catch (err) {
      this.metrics.compactions.inc({ outcome: 'failed' });
      throw err;
    }
    const compacted = await this.storage.docs.compact(roomId, snapshot, stored.snapshotSeq, last.seq, stateVector);
    this.metrics.compactions.inc({ outcome: compacted ? 'done' : 'lost-race' });
    this.logger.debug(
      { roomId, updates: stored.updates.length, bytesBefore, bytesAfter: snapshot.byteLength, ms: performance.now() - started },
      compacted ? 'room compacted' : 'room compaction skipped: another one got there first',
    );
    return { compacted, updatesFolded: stored.updates.length, bytesBefore, bytesAfter: snapshot.byteLength };
  }

  close(): Promise<void> {
    return this.merger.close();
  }

  /** The merge in the worker; the stored bytes are moved to it, not copied (they are not read again here). */
  private merge(updates: Uint8Array[]): Promise<MergedSnapshot> {
    return this.merger.run({ updates }, updates);
  }
}
