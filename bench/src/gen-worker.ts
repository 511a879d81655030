/**
 * A reader process of the load generator (forked by GeneratorPool). It holds reader sockets only,
 * times every delivery on the shared bench clock at receipt, and sends (edit id, latency) pairs to
 * the bench process in batches, so the bench process's own read loop is not in the latencies.
 */
import { connectMany, SyncClient } from './client.js';
import { MARKER } from './edits.js';
import type { WorkerCommand, WorkerReport } from './gen-pool.js';

const clients: SyncClient[] = [];
let ids: number[] = [];
let lat: number[] = [];

function report(msg: WorkerReport): void {
  process.send!(msg);
}

// Batches every 10 ms: the bench process only needs them to count deliveries (drain) and to pool the
// latency samples; the latency itself was fixed at receipt.
const flushTimer = setInterval(() => {
  if (ids.length === 0) return;
  report({ type: 'deliveries', ids, lat });
  ids = [];
  lat = [];
}, 10);

function sink(_client: SyncClient, receivedAt: number, frame: Buffer, payloadAt: number): void {
  const text = frame.toString('latin1', payloadAt);
  MARKER.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = MARKER.exec(text))) {
    ids.push(Number(m[1]));
    lat.push(receivedAt - Number(m[2]) / 1000);
  }
}

process.on('message', (cmd: WorkerCommand) => {
  void (async () => {
    try {
      if (cmd.type === 'connect') {
        const opened = await connectMany(cmd.clients.length, (i) => {
          const c = cmd.clients[i]!;
          return new SyncClient({ id: c.id, url: c.url, prefix: Uint8Array.from(c.prefix), authToken: c.authToken }, sink);
        });
        clients.push(...opened);
        report({ type: 'connected', seq: cmd.seq, closed: 0 });
      } else if (cmd.type === 'count-closed') {
        report({ type: 'connected', seq: cmd.seq, closed: clients.filter((c) => c.closed).length });
      } else if (cmd.type === 'close') {
        for (const c of clients.splice(0)) c.close();
        clearInterval(flushTimer);
        report({ type: 'connected', seq: cmd.seq, closed: 0 });
        process.disconnect();
      }
    } catch (err) {
      report({ type: 'error', seq: cmd.seq, message: (err as Error).stack ?? String(err) });
    }
  })();
});
process.on('disconnect', () => process.exit(0));
