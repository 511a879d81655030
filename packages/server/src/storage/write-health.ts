import type { Logger } from 'pino';
import type { Metrics } from '../ops/metrics.js';
import type { Storage } from './storage.js';

/**
 * Whether storage takes writes. A failed commit (a full disk, a lost database) marks it
 * unwritable: edits are then refused at once (503 STORAGE_UNAVAILABLE) instead of being applied in
 * memory and failing one by one, and /readyz answers 503. A probe write retried in the background
 * notices when writes work again (space freed) and ends that state by itself.
 */
export class WriteHealth {
  private failure: { since: number; reason: string } | undefined;
  private probeTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly recoveredListeners = new Set<() => void>();

  constructor(
    private readonly storage: Pick<Storage, 'probeWrite'>,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
    private readonly probeIntervalMs = 1000,
  ) {
    metrics.storageWritable.set(1);
  }

  get writable(): boolean {
    return this.failure === undefined;
  }

  /** Why writes fail, for /readyz (undefined while they work). */
  get reason(): string | undefined {
    if (!this.failure) return undefined;
    return `Storage refuses writes since ${new Date(this.failure.since).toISOString()}: ${this.failure.reason}`;
  }

  commitFailed(err: unknown): void {
    this.metrics.commitFailures.inc();
    if (this.failure) {
      this.failure.reason = describe(err);
      return;
    }
    this.failure = { since: Date.now(), reason: describe(err) };
    this.metrics.storageWritable.set(0);
    this.logger.error({ err }, 'storage refuses writes; edits are refused until a probe write succeeds');
    this.armProbe();
  }

  commitSucceeded(): void {
    if (this.failure) this.recovered();
  }

  /** Called each time writes work again after failing. Returns an unsubscribe function. */
  onRecovered(listener: () => void): () => void {
    this.recoveredListeners.add(listener);
    return () => this.recoveredListeners.delete(listener);
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.probeTimer);
  }

  private armProbe(): void {
    if (this.closed || this.probeTimer) return;
    this.probeTimer = setTimeout(() => void this.probe(), this.probeIntervalMs);
    this.probeTimer.unref();
  }

  private async probe(): Promise<void> {
    this.probeTimer = undefined;
    if (!this.failure || this.closed) return;
    try {
      await this.storage.probeWrite();
    } catch (err) {
      if (this.failure) this.failure.reason = describe(err);
      this.armProbe();
      return;
    }
    if (this.failure) this.recovered();
  }

  private recovered(): void {
    const since = this.failure!.since;
    this.failure = undefined;
    clearTimeout(this.probeTimer);
    this.probeTimer = undefined;
    this.metrics.storageWritable.set(1);
    this.logger.warn({ failedForMs: Date.now() - since }, 'storage takes writes again');
    for (const listener of this.recoveredListeners) listener();
  }
}

function describe(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown };
  const message = typeof e?.message === 'string' ? e.message : String(err);
  return typeof e?.code === 'string' && !message.includes(e.code) ? `${e.code}: ${message}` : message;
}
