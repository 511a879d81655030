/**
 * W4 cold room: a room whose stored history holds `events` events written as
 * `events × updatesPerEvent` updates. A fresh client (empty Y.Doc) connects and is timed from the
 * connect call to its document holding the room ("synced"), and to the last byte of the server's
 * sync answer ("server share"). Cold = the server was just started, so the room loads from
 * storage; warm = a second fresh client while the room is loaded. Load from storage ≈ cold share −
 * warm share.
 *
 * How each server's storage is prepared:
 *   - Kith: the room is created through its API, then the history is appended to its update log
 *     through Kith's own storage module (one log row per update, exactly as 50,000 separate
 *     commits would leave it). "After compaction" replaces the log with one snapshot through the
 *     same module's `compact()`, using the snapshot Kith's compaction worker computes (a gc'd
 *     Y.Doc's encodeStateAsUpdate, stored with its state vector as the worker stores it); Kith's own compactor is not timed here (see the notes).
 *   - Hocuspocus: a client sends the whole history in its sync answer and Hocuspocus stores the
 *     document itself (extension-sqlite stores full snapshots, so it has no before/after).
 *   - y-websocket ref: no persistence; the room is seeded by a client that stays connected, so
 *     only warm figures exist.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as Y from 'yjs';
import { openSqliteStorage, sqliteFileIn } from '@kith/server';
import { SyncClient } from '../client.js';
import { loadHistory, type History } from '../history.js';
import type { Logger } from '../log.js';
import type { Column, Figures, Target, WorkloadResult } from '../result.js';
import { openSession, SERVER_LABEL, sleep, startServer, type RunningServer, type ServerKind } from '../servers.js';
import { median } from '../stats.js';

export interface ColdSpec {
  events: number;
  updatesPerEvent: number;
  reps: number;
  /** Give up on one fresh connect after this long (the server is then killed). */
  connectTimeoutMs: number;
  cacheDir: string;
  targets?: Target[];
}

interface Connect {
  syncedMs: number;
  shareMs: number;
  answerBytes: number;
  events: number;
  timedOut: boolean;
}

const COLUMNS: Column[] = [
  { key: 'coldSyncedBefore', label: 'cold, before compaction: connect→synced ms', format: 'ms', better: 'lower' },
  { key: 'coldShareBefore', label: 'cold, before: server share ms', format: 'ms', better: 'lower' },
  { key: 'coldSyncedAfter', label: 'cold, after compaction: connect→synced ms', format: 'ms', better: 'lower' },
  { key: 'coldShareAfter', label: 'cold, after: server share ms', format: 'ms', better: 'lower' },
  { key: 'warmSynced', label: 'warm: connect→synced ms', format: 'ms', better: 'lower' },
  { key: 'warmShare', label: 'warm: server share ms', format: 'ms', better: 'lower' },
  { key: 'loadMsBefore', label: 'load from storage ms, before', format: 'ms', better: 'lower' },
  { key: 'loadMsAfter', label: 'load from storage ms, after', format: 'ms', better: 'lower' },
  { key: 'answerKB', label: 'sync answer KB', format: 'kb' },
  { key: 'storedKBBefore', label: 'SQLite files KB, before', format: 'kb' },
  { key: 'storedKBAfter', label: 'SQLite files KB, after', format: 'kb' },
];

const ROOM = 'w4-calendar';

async function freshConnect(server: RunningServer, room: string, token: string | undefined, timeoutMs: number): Promise<{ result: Connect; client: SyncClient }> {
  const doc = new Y.Doc();
  const client = new SyncClient({
    id: -1,
    url: server.socketUrl(room, token),
    prefix: server.framePrefix(room),
    authToken: server.authFrame ? 'bench' : undefined,
    doc,
  });
  try {
    await client.waitSynced(timeoutMs);
  } catch (err) {
    if (!/no sync answer/.test((err as Error).message)) throw err;
    return { result: { syncedMs: NaN, shareMs: NaN, answerBytes: 0, events: 0, timedOut: true }, client };
  }
  return {
    result: {
      syncedMs: client.syncedAt - client.startedAt,
      shareMs: client.syncAnswerAt - client.startedAt,
      answerBytes: client.syncAnswerBytes,
      events: doc.getMap('events').size,
      timedOut: false,
    },
    client,
  };
}

function dirBytes(dir: string, match: RegExp): number {
  let n = 0;
  for (const f of fs.readdirSync(dir)) if (match.test(f)) n += fs.statSync(path.join(dir, f)).size;
  return n;
}

export async function runCold(spec: ColdSpec, order: readonly ServerKind[], runDir: string, log: Logger): Promise<WorkloadResult> {
  const started = performance.now();
  const notes: string[] = [];
  const history = loadHistory(spec.cacheDir, spec.events, spec.updatesPerEvent);
  log(`  history: ${history.updates.length} updates, ${(history.updates.reduce((n, u) => n + u.byteLength, 0) / 1024).toFixed(0)} KB; snapshot ${(history.snapshot.byteLength / 1024).toFixed(0)} KB`);
  const dirs = Object.fromEntries(order.map((k) => [k, path.join(runDir, `W4-${k}`)])) as Record<ServerKind, string>;
  const prep: Partial<Record<ServerKind, { room: string; token?: string; refServer?: RunningServer; seeder?: SyncClient }>> = {};
  const m: Record<string, Partial<Record<ServerKind, Connect[]>>> = { coldBefore: {}, coldAfter: {}, warmBefore: {}, warmAfter: {} };
  const push = (phase: string, kind: ServerKind, c: Connect) => ((m[phase]![kind] ??= []).push(c));
  const sizes: Partial<Record<ServerKind, { before?: number; after?: number }>> = {};
  const skipColdBefore = new Set<ServerKind>();

  try {
    // Prepare every server's stored room.
    for (const kind of order) {
      if (kind === 'kith') prep.kith = await prepareKith(dirs.kith, history);
      if (kind === 'hocuspocus') prep.hocuspocus = await prepareHocuspocus(dirs.hocuspocus, history, log);
      if (kind === 'ywebsocket' || kind === 'ywebsocket3') prep[kind] = await prepareRef(kind, dirs[kind], history);
    }
    sizes.kith = { before: dirs.kith ? safeBytes(path.join(dirs.kith, 'data'), /kith\.sqlite/) : undefined };
    sizes.hocuspocus = { before: safeBytes(dirs.hocuspocus, /hocuspocus\.sqlite/) };
    sizes.hocuspocus.after = sizes.hocuspocus.before;

    const measure = async (kind: ServerKind, phase: 'Before' | 'After'): Promise<void> => {
      const p = prep[kind]!;
      if (kind === 'ywebsocket' || kind === 'ywebsocket3') {
        // In memory only: both connects are warm.
        for (let i = 0; i < 2; i++) {
          const { result, client } = await freshConnect(p.refServer!, p.room, undefined, spec.connectTimeoutMs);
          client.close();
          push(`warm${phase}`, kind, result);
        }
        return;
      }
      if (kind === 'kith' && phase === 'Before' && skipColdBefore.has('kith')) return;
      const server = await startServer(kind, { dir: dirs[kind] });
      try {
        const cold = await freshConnect(server, p.room, p.token, spec.connectTimeoutMs);
        push(`cold${phase}`, kind, cold.result);
        if (cold.result.timedOut) {
          cold.client.close();
          skipColdBefore.add(kind);
          notes.push(`${SERVER_LABEL[kind]} ${phase.toLowerCase()} compaction: a cold connect got no sync answer within ${spec.connectTimeoutMs / 1000} s; the server was killed and the measurement not repeated.`);
          await server.kill();
          return;
        }
        const warm = await freshConnect(server, p.room, p.token, spec.connectTimeoutMs);
        push(`warm${phase}`, kind, warm.result);
        cold.client.close();
        warm.client.close();
      } finally {
        await server.stop();
      }
    };

    for (const phase of ['Before', 'After'] as const) {
      if (phase === 'After' && prep.kith) {
        const t = performance.now();
        await compactKith(dirs.kith, prep.kith.room, history);
        sizes.kith!.after = safeBytes(path.join(dirs.kith, 'data'), /kith\.sqlite/);
        log(`  Kith: log replaced by one snapshot (${((performance.now() - t) / 1000).toFixed(1)} s)`);
      }
      for (let rep = 0; rep < spec.reps; rep++) {
        const rotated = order.map((_, i) => order[(i + rep) % order.length]!);
        for (const kind of rotated) await measure(kind, phase);
      }
      log(`  ${phase.toLowerCase()} compaction: done`);
    }
  } finally {
    for (const kind of ['ywebsocket', 'ywebsocket3'] as const) {
      prep[kind]?.seeder?.close();
      await prep[kind]?.refServer?.stop();
    }
  }

  const figures: Partial<Record<ServerKind, Figures>> = {};
  const med = (phase: string, kind: ServerKind, key: keyof Connect): number | null => {
    const xs = (m[phase]![kind] ?? []).map((c) => (c.timedOut ? Infinity : (c[key] as number)));
    if (xs.length === 0) return null;
    if (xs.some((x) => x === Infinity)) return Infinity;
    return median(xs);
  };
  for (const kind of order) {
    const warmSynced = med('warmAfter', kind, 'syncedMs');
    const warmShare = med('warmAfter', kind, 'shareMs');
    const coldShareBefore = med('coldBefore', kind, 'shareMs');
    const coldShareAfter = med('coldAfter', kind, 'shareMs');
    const warmShareBefore = med('warmBefore', kind, 'shareMs');
    const all = Object.values(m).flatMap((ph) => ph[kind] ?? []).filter((c) => !c.timedOut);
    const wrong = all.filter((c) => c.events !== history.events).length;
    if (wrong > 0) notes.push(`${SERVER_LABEL[kind]}: ${wrong} fresh clients did not receive all ${history.events} events.`);
    const diff = (a: number | null, b: number | null) => (a === null || b === null ? null : a === Infinity ? Infinity : Math.max(0, a - b));
    figures[kind] = {
      coldSyncedBefore: med('coldBefore', kind, 'syncedMs'),
      coldShareBefore,
      coldSyncedAfter: med('coldAfter', kind, 'syncedMs'),
      coldShareAfter,
      warmSynced,
      warmShare,
      loadMsBefore: diff(coldShareBefore, warmShareBefore),
      loadMsAfter: diff(coldShareAfter, warmShare),
      answerKB: all.length ? median(all.map((c) => c.answerBytes)) / 1024 : null,
      storedKBBefore: sizes[kind]?.before !== undefined ? sizes[kind]!.before! / 1024 : null,
      storedKBAfter: sizes[kind]?.after !== undefined ? sizes[kind]!.after! / 1024 : null,
      connects: all.length,
      wrongContent: wrong,
    };
  }
  notes.push(
    `Medians of ${spec.reps} connects per cell. Hocuspocus stores one full snapshot, so its "before" and "after" are the same data measured twice. The y-websocket reference server has no storage: only warm figures.`,
    'Kith "after compaction" is stored by the bench through Kith\'s storage module (Storage.docs.compact) with the snapshot and state vector its compaction worker would compute and store; Kith\'s own compactor (the same computation, in a worker thread) is not timed here. A room compacted this way is served from the stored snapshot without building its document, so the "after" share is mostly reading and writing the bytes.',
  );
  return {
    id: 'W4',
    title: 'W4 cold room',
    description: `A room holding ${history.events} events written as ${history.updates.length} updates; a fresh client connects (cold: the server was just started).`,
    params: { events: spec.events, updatesPerEvent: spec.updatesPerEvent, reps: spec.reps, connectTimeoutMs: spec.connectTimeoutMs },
    columns: COLUMNS,
    servers: figures,
    targets: spec.targets,
    notes,
    wallSeconds: (performance.now() - started) / 1000,
  };
}

function safeBytes(dir: string, match: RegExp): number | undefined {
  try {
    return dirBytes(dir, match);
  } catch {
    return undefined;
  }
}

async function prepareKith(dir: string, history: History): Promise<{ room: string; token: string }> {
  const server = await startServer('kith', { dir });
  let room: string;
  let token: string;
  try {
    const session = await openSession(server);
    [room] = (await session.rooms(1, 'W4')) as [string];
    token = session.token!;
  } finally {
    await server.stop();
  }
  const storage = openSqliteStorage({ file: sqliteFileIn(path.join(dir, 'data')) });
  try {
    // A new room already holds what the calendar module wrote at creation (its header).
    const before = (await storage.docs.stats(room)).logCount;
    for (let i = 0; i < history.updates.length; i += 1000) {
      await storage.docs.append(history.updates.slice(i, i + 1000).map((data) => ({ roomId: room, data })));
    }
    const stats = await storage.docs.stats(room);
    const expected = before + history.updates.length;
    if (stats.logCount !== expected) throw new Error(`kith log holds ${stats.logCount} rows, expected ${expected}`);
  } finally {
    await storage.close();
  }
  return { room, token };
}

/** The snapshot Kith's compaction worker produces: the log applied to a gc'd Y.Doc, re-encoded. */
async function compactKith(dir: string, room: string, history: History): Promise<void> {
  const storage = openSqliteStorage({ file: sqliteFileIn(path.join(dir, 'data')) });
  try {
    const stored = await storage.docs.load(room);
    const doc = new Y.Doc({ gc: true });
    doc.transact(() => {
      if (stored.snapshot) Y.applyUpdate(doc, stored.snapshot);
      for (const u of stored.updates) Y.applyUpdate(doc, u.data);
    });
    const snapshot = Y.encodeStateAsUpdate(doc);
    const stateVector = Y.encodeStateVector(doc);
    doc.destroy();
    const last = stored.updates.at(-1);
    if (!last) throw new Error('nothing to compact');
    const ok = await storage.docs.compact(room, snapshot, stored.snapshotSeq, last.seq, stateVector);
    if (!ok) throw new Error('kith storage refused the compaction');
    const stats = await storage.docs.stats(room);
    if (stats.logCount !== 0) throw new Error(`log still holds ${stats.logCount} rows after compaction`);
    void history;
  } finally {
    await storage.close();
  }
}

function seededDoc(history: History): Y.Doc {
  const doc = new Y.Doc();
  Y.applyUpdate(doc, history.snapshot);
  return doc;
}

async function prepareHocuspocus(dir: string, history: History, log: Logger): Promise<{ room: string }> {
  const server = await startServer('hocuspocus', { dir });
  try {
    const seeder = new SyncClient({ id: -2, url: server.socketUrl(ROOM, undefined), prefix: server.framePrefix(ROOM), authToken: 'bench', doc: seededDoc(history) });
    await seeder.waitSynced(60_000);
    await sleep(1500);
    seeder.close();
    await sleep(1500);
  } finally {
    await server.stop();
  }
  const bytes = safeBytes(dir, /hocuspocus\.sqlite/) ?? 0;
  if (bytes < history.snapshot.byteLength / 2) throw new Error(`hocuspocus stored only ${bytes} bytes`);
  log(`  Hocuspocus: stored ${(bytes / 1024).toFixed(0)} KB`);
  return { room: ROOM };
}

async function prepareRef(kind: 'ywebsocket' | 'ywebsocket3', dir: string, history: History): Promise<{ room: string; refServer: RunningServer; seeder: SyncClient }> {
  const server = await startServer(kind, { dir });
  const seeder = new SyncClient({ id: -3, url: server.socketUrl(ROOM, undefined), prefix: server.framePrefix(ROOM), doc: seededDoc(history) });
  await seeder.waitSynced(60_000);
  await sleep(1500);
  return { room: ROOM, refServer: server, seeder };
}
