/**
 * W3 idle: memory of many idle sockets. One server at a time (memory must be its own): after a
 * baseline, one socket per room connects and writes one small edit (so no room is empty), then
 * the remaining sockets connect and sync; RSS is read once it has settled at each step.
 */
import fs from 'node:fs';
import path from 'node:path';
import { connectMany, SyncClient } from '../client.js';
import { EditWriter, nowMicros, stamp } from '../edits.js';
import type { Logger } from '../log.js';
import { monotonicMicros, writeWindow } from '../profile.js';
import type { Column, Figures, Target, WorkloadResult } from '../result.js';
import { collectGarbage, openSession, SERVER_LABEL, sleep, startServer, type RunningServer, type ServerKind } from '../servers.js';

export interface IdleSpec {
  rooms: number;
  socketsPerRoom: number;
  targets?: Target[];
  cpuProfileDir?: string;
  /** Take a heap snapshot of Kith at the end (written into this folder). */
  heapSnapshotDir?: string;
}

const COLUMNS: Column[] = [
  { key: 'sockets', label: 'sockets', format: 'int' },
  { key: 'kbPerSocket', label: 'KB per idle socket', format: 'kb', better: 'lower' },
  { key: 'kbPerRoom', label: 'KB per room (all its sockets)', format: 'kb', better: 'lower' },
  { key: 'kbPerExtraSocket', label: 'KB per extra socket in a room', format: 'kb', better: 'lower' },
  { key: 'kbPerRoomFirstSocket', label: 'KB per room with 1 socket', format: 'kb', better: 'lower' },
  { key: 'kbPerSocketNoGc', label: 'KB per socket without the forced GC', format: 'kb', better: 'lower' },
  { key: 'baselineMB', label: 'baseline RSS MB', format: 'mb' },
  { key: 'rssMB', label: 'RSS MB at the end', format: 'mb', better: 'lower' },
  { key: 'connectSeconds', label: 'connect+sync all, s', format: 's', better: 'lower' },
];

/** RSS once it stops moving: three samples 500 ms apart within 0.5 %, or after `maxMs`. */
async function settle(server: RunningServer, maxMs: number): Promise<number> {
  const deadline = performance.now() + maxMs;
  let last = server.proc().rssBytes;
  let stable = 0;
  while (performance.now() < deadline) {
    await sleep(500);
    const now = server.proc().rssBytes;
    stable = Math.abs(now - last) <= last * 0.005 ? stable + 1 : 0;
    last = now;
    if (stable >= 2) break;
  }
  return last;
}

/**
 * RSS as it is (settled), then RSS of live memory: a full GC forced in the server through the
 * inspector (the same for every server), then settled again.
 */
export async function settledRss(server: RunningServer, maxMs = 10_000): Promise<{ asIs: number; afterGc: number }> {
  const asIs = await settle(server, maxMs);
  await collectGarbage(server);
  const afterGc = await settle(server, maxMs);
  return { asIs, afterGc };
}

export async function runIdle(spec: IdleSpec, order: readonly ServerKind[], runDir: string, log: Logger): Promise<WorkloadResult> {
  const started = performance.now();
  const figures: Partial<Record<ServerKind, Figures>> = {};
  const notes: string[] = [];
  let clientIds = 0;
  for (const kind of order) {
    const server = await startServer(kind, {
      dir: path.join(runDir, `W3-${kind}`),
      cpuProfile: spec.cpuProfileDir && kind === 'kith' ? { dir: spec.cpuProfileDir, name: 'W3-kith.cpuprofile' } : undefined,
      heapSnapshotDir: spec.heapSnapshotDir && kind === 'kith' ? spec.heapSnapshotDir : undefined,
      inspect: true,
    });
    let clients: SyncClient[] = [];
    try {
      const session = await openSession(server);
      const rooms = await session.rooms(spec.rooms, 'W3');
      await sleep(1000);
      const r0 = await settledRss(server);
      const rss0 = r0.afterGc;
      const profiling = Boolean(spec.heapSnapshotDir && kind === 'kith');
      if (profiling) await takeHeapSnapshot(server, spec.heapSnapshotDir!, 'W3-baseline', log);
      const windowStart = monotonicMicros();
      const t0 = performance.now();
      const make = (roomIdx: number) => {
        const room = rooms[roomIdx]!;
        return new SyncClient({
          id: clientIds++,
          url: server.socketUrl(room, session.token),
          prefix: server.framePrefix(room),
          authToken: server.authFrame ? 'bench' : undefined,
        });
      };
      const first = await connectMany(spec.rooms, (i) => make(i));
      clients = first;
      // One small edit per room, so that every room holds a little content.
      first.forEach((c, i) => {
        const w = new EditWriter(c.prefix, 'seed');
        const e = w.prepare(i);
        stamp(e, nowMicros());
        c.send(e.frame);
        w.destroy();
      });
      await sleep(1000);
      const rss1 = (await settledRss(server)).afterGc;
      const extra = spec.socketsPerRoom - 1;
      const more = await connectMany(spec.rooms * extra, (i) => make(i % spec.rooms));
      clients = [...first, ...more];
      const connectSeconds = (performance.now() - t0) / 1000;
      await sleep(1000);
      const r2 = await settledRss(server);
      const rss2 = r2.afterGc;
      const sockets = spec.rooms * spec.socketsPerRoom;
      const closed = clients.filter((c) => c.closed).length;
      if (closed > 0) notes.push(`${SERVER_LABEL[kind]}: ${closed} sockets were closed before the measurement ended; its figures are not valid.`);
      if (spec.cpuProfileDir && kind === 'kith') writeWindow(spec.cpuProfileDir, 'W3-kith.cpuprofile', { startUs: windowStart, endUs: monotonicMicros() });
      if (profiling) await takeHeapSnapshot(server, spec.heapSnapshotDir!, 'W3-end', log);
      figures[kind] = {
        sockets,
        rooms: spec.rooms,
        kbPerSocket: (rss2 - rss0) / sockets / 1024,
        kbPerRoom: (rss2 - rss0) / spec.rooms / 1024,
        kbPerExtraSocket: extra > 0 ? (rss2 - rss1) / (spec.rooms * extra) / 1024 : null,
        kbPerRoomFirstSocket: (rss1 - rss0) / spec.rooms / 1024,
        kbPerSocketNoGc: (r2.asIs - r0.afterGc) / sockets / 1024,
        baselineMB: rss0 / 2 ** 20,
        rssMB: rss2 / 2 ** 20,
        connectSeconds,
        socketsClosed: closed,
      };
      log(`  ${SERVER_LABEL[kind]}: ${sockets} idle sockets, ${(((rss2 - rss0) / sockets) / 1024).toFixed(1)} KB each`);
    } finally {
      for (const c of clients) c.close();
      await server.stop();
    }
  }
  notes.push(
    'RSS is VmRSS of the server process after a forced full GC (inspector HeapProfiler.collectGarbage, every server alike; servers run with --inspect=127.0.0.1:0 in W3 only), read once it has settled (3 readings 500 ms apart within 0.5 %); the column "without the forced GC" uses the final reading taken just before that GC (noisier: it depends on when each server last collected). Per socket = (RSS with all sockets − baseline after start-up and room creation) / sockets; per room = the same over rooms.',
  );
  return {
    id: 'W3',
    title: 'W3 idle sockets',
    description: `${spec.rooms * spec.socketsPerRoom} idle sockets over ${spec.rooms} rooms (${spec.socketsPerRoom} per room) after the initial sync; each room holds one small edit.`,
    params: { rooms: spec.rooms, socketsPerRoom: spec.socketsPerRoom },
    columns: COLUMNS,
    servers: figures,
    targets: spec.targets,
    notes,
    wallSeconds: (performance.now() - started) / 1000,
  };
}

async function takeHeapSnapshot(server: RunningServer, dir: string, name: string, log: Logger): Promise<string | undefined> {
  const before = new Set(fs.readdirSync(dir));
  process.kill(server.pid, 'SIGUSR2');
  const deadline = Date.now() + 120_000;
  let lastSize = -1;
  while (Date.now() < deadline) {
    await sleep(500);
    const file = fs.readdirSync(dir).find((f) => f.endsWith('.heapsnapshot') && !before.has(f));
    if (!file) continue;
    const size = fs.statSync(path.join(dir, file)).size;
    if (size > 0 && size === lastSize) {
      const target = path.join(dir, `${name}.heapsnapshot`);
      fs.renameSync(path.join(dir, file), target);
      log(`  heap snapshot: ${target} (${(size / 2 ** 20).toFixed(0)} MB)`);
      return target;
    }
    lastSize = size;
  }
  log('  heap snapshot: timed out');
  return undefined;
}
