import type { Logger } from 'pino';
import type { Metrics } from '../ops/metrics.js';
import type { Storage } from '../storage/storage.js';
import type { WriteHealth } from '../storage/write-health.js';
import { KithError } from '../errors/catalogue.js';
import type { CommitScheduler, Room, RoomBatch, RoomPeer } from './room.js';

/**
 * Group commit: every room's pending updates of one event-loop tick are stored in a single
 * transaction, then released to clients. One commit (one fsync) per tick keeps throughput
 * high while every update is on disk before anyone else sees it.
 */
export class GroupCommit<P extends RoomPeer = RoomPeer> implements CommitScheduler {
  private readonly dirty = new Set<Room<P>>();
  private scheduled = false;
  private running: Promise<void> | undefined;

  constructor(
    private readonly storage: Storage,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
    private readonly health: WriteHealth,
    private readonly onCommitted: (batch: RoomBatch<P>, seq: number) => void,
    private readonly onFailed: (room: Room<P>) => void,
  ) {}

  schedule(room: Room<P>): void {
    this.dirty.add(room);
    if (!this.scheduled && !this.running) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  }

  /** Resolves once everything scheduled so far is committed (used at shutdown). */
  async drain(): Promise<void> {
    while (this.running || this.scheduled || this.dirty.size > 0) {
      if (this.running) await this.running;
      else await this.flush();
    }
  }

  private readonly flush = async (): Promise<void> => {
    this.scheduled = false;
    if (this.running) return;
    const batches: RoomBatch<P>[] = [];
    for (const room of this.dirty) {
      const batch = room.takeBatch();
      if (batch) batches.push(batch);
    }
    this.dirty.clear();
    if (batches.length === 0) return;
    this.running = this.commit(batches);
    await this.running;
  };

  private async commit(batches: RoomBatch<P>[]): Promise<void> {
    const started = performance.now();
    let seqs: number[];
    try {
      seqs = await this.storage.docs.append(batches.map((b) => ({ roomId: b.room.roomId, data: b.update })));
    } catch (err) {
      this.logger.error({ err, rooms: batches.length }, 'storing updates failed; affected rooms will reload');
      this.health.commitFailed(err);
      // Nothing of the batch was acknowledged; whoever waits for it is told now (503).
      const failure = new KithError('STORAGE_UNAVAILABLE');
      for (const b of batches) {
        b.room.commitFailed(failure);
        this.onFailed(b.room);
      }
      this.finish();
      return;
    }
    this.health.commitSucceeded();
    this.metrics.persistLatency.observe((performance.now() - started) / 1000);
    let updates = 0;
    try {
      batches.forEach((b, i) => {
        updates += b.updateCount;
        try {
          b.room.committed(b, b.update.byteLength, seqs[i]!);
          this.onCommitted(b, seqs[i]!);
        } catch (err) {
          // A listener of this room (a module's watcher) threw: the batch is stored; the other
          // rooms' batches are still released, and commits go on.
          this.logger.error({ err, roomId: b.room.roomId }, 'after-commit work of a room failed');
        }
      });
      this.metrics.persistBatchSize.observe(updates);
      this.metrics.updates.inc(updates);
    } finally {
      this.finish();
    }
  }

  private finish(): void {
    this.running = undefined;
    if (this.dirty.size > 0 && !this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  }
}
