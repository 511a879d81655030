/** Load-generator plumbing shared by the workloads: pacing sends and timing deliveries. */
import { MARKER, type EditLedger } from './edits.js';
import type { DeliverySink } from './client.js';
import { Samples } from './stats.js';
import { sleep } from './servers.js';

/**
 * Calls `send(k)` for k = 0..n-1 at `offsetMs(k)` after the start (offsets must not decrease).
 * Sends that fall due together go out in the same turn of the event loop, as they would from a
 * busy machine. Resolves after the last send.
 */
export function runSchedule(n: number, offsetMs: (k: number) => number, send: (k: number) => void): Promise<number> {
  return new Promise((resolve) => {
    const start = performance.now();
    let k = 0;
    const loop = (): void => {
      const now = performance.now() - start;
      while (k < n && offsetMs(k) <= now) send(k++);
      if (k >= n) {
        resolve(performance.now() - start);
        return;
      }
      const wait = offsetMs(k) - (performance.now() - start);
      setTimeout(loop, Math.max(0, Math.min(wait, 20)));
    };
    loop();
  });
}

/** Times every delivery against the send time embedded in the edit, and counts it in the ledger. */
export class DeliveryMeter {
  readonly series: Samples[];

  constructor(
    readonly ledger: EditLedger,
    seriesCount: number,
  ) {
    this.series = Array.from({ length: seriesCount }, () => new Samples(4096));
  }

  readonly sink: DeliverySink = (client, receivedAt, frame, payloadAt) => {
    const text = frame.toString('latin1', payloadAt);
    const ledger = this.ledger;
    MARKER.lastIndex = 0;
    let m: RegExpExecArray | null;
    while ((m = MARKER.exec(text))) {
      const id = Number(m[1]);
      if (id >= ledger.count || ledger.writer[id] === client.id) continue; // the writer's own echo
      ledger.received[id]!++;
      const s = ledger.series[id]!;
      if (s === 255) continue;
      this.series[s]!.push(receivedAt - Number(m[2]) / 1000);
    }
  };

  /** Counts a delivery timed elsewhere (a reader worker process): `latencyMs` was taken at receipt. */
  record(id: number, latencyMs: number): void {
    const ledger = this.ledger;
    if (id >= ledger.count) return;
    ledger.received[id]!++;
    const s = ledger.series[id]!;
    if (s !== 255) this.series[s]!.push(latencyMs);
  }

  /** Waits until every delivery owed by edits in [from, to) has arrived, or `timeoutMs` passed. */
  async drain(from: number, to: number, timeoutMs: number): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    let k = from;
    for (;;) {
      while (k < to && this.ledger.received[k]! >= this.ledger.expected[k]!) k++;
      if (k >= to) return true;
      if (performance.now() > deadline) return false;
      await sleep(5);
    }
  }
}
