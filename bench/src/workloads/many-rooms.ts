/**
 * W7 many rooms over time (Kith only: the anchors keep nothing when no client is connected):
 * `rooms` rooms, each holding a year of family events (~300), each opened once by a client (stock
 * sync: connect, sync answer, disconnect) and left. Figures: load p50/p99 (connect → sync answer
 * in), RSS per loaded room (after all were opened, per room the server still held), and RSS once
 * every room has unloaded, against the start.
 *
 * The rooms are seeded straight into the data dir's SQLite through Kith's own storage module, once,
 * and cached in bench/.cache (the data dir is copied for each run): rooms, owner membership and one
 * stored update per room holding the room header and its year, as the calendar module writes them.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as Y from 'yjs';
import { createEvent, initRoom } from '@kith/model';
import { openSqliteStorage, sqliteFileIn } from '@kith/server';
import { SyncClient } from '../client.js';
import { prng } from '../history.js';
import type { Logger } from '../log.js';
import { readRssByKind } from '../proc.js';
import type { Column, Figures, Target, WorkloadResult } from '../result.js';
import { collectGarbage, kithMetric, openSession, sleep, startServer, type RunningServer } from '../servers.js';
import { Samples, summarize } from '../stats.js';

export interface ManyRoomsSpec {
  rooms: number;
  eventsPerRoom: number;
  /** Clients connecting at once. */
  concurrency: number;
  cacheDir: string;
  targets?: Target[];
}

const COLUMNS: Column[] = [
  { key: 'rooms', label: 'rooms opened', format: 'int' },
  { key: 'failed', label: 'rooms that failed to open', format: 'int', better: 'lower' },
  { key: 'p50', label: 'load p50 ms', format: 'ms', better: 'lower' },
  { key: 'p99', label: 'load p99 ms', format: 'ms', better: 'lower' },
  { key: 'max', label: 'load max ms', format: 'ms', better: 'lower' },
  { key: 'answerKB', label: 'sync answer KB', format: 'kb' },
  { key: 'roomsPerS', label: 'rooms opened /s', format: 'num' },
  { key: 'startRssMB', label: 'RSS at start MB', format: 'mb' },
  { key: 'loadedAtEnd', label: 'rooms loaded after the last open', format: 'int' },
  { key: 'kbPerLoadedRoom', label: 'RSS KB per loaded room', format: 'kb', better: 'lower' },
  { key: 'afterRssMB', label: 'RSS after all unloaded MB', format: 'mb' },
  { key: 'afterRatio', label: 'after / start', format: 'num', better: 'lower' },
  { key: 'startHeapMB', label: 'JS heap at start MB', format: 'mb' },
  { key: 'afterHeapMB', label: 'JS heap after all unloaded MB', format: 'mb' },
  { key: 'unloadS', label: 'all unloaded after s', format: 'num' },
  { key: 'cpuMsPerLoad', label: 'server CPU ms per load', format: 'ms', better: 'lower' },
  { key: 'startupS', label: 'start-up pass s', format: 'num', better: 'lower' },
];

const TITLES = ['Dentist', 'Swimming', 'Piano lesson', 'Dinner at Grandma', 'School run', 'Football', 'Parents evening', 'Birthday party', 'Vet', 'Bin day'];
const MEMBERS = ['mum', 'dad', 'kid1', 'kid2'];

/** A year of a family's calendar: weekly activities (a fifth of the events) and one-off appointments. */
export function familyYear(events: number, seed: number): Uint8Array {
  const rnd = prng(seed);
  const doc = new Y.Doc();
  doc.clientID = 0x2000 + (seed % 4096);
  initRoom(doc, { name: 'Family', defaultTz: 'Europe/Berlin' });
  const yearStart = Date.parse('2026-01-01T00:00:00Z');
  const wall = (ms: number) => new Date(ms).toISOString().slice(0, 16);
  for (let i = 0; i < events; i++) {
    const day = Math.floor(rnd() * 365);
    const hour = 7 + Math.floor(rnd() * 13);
    const start = yearStart + day * 86_400_000 + hour * 3_600_000;
    createEvent(
      doc,
      {
        title: `${TITLES[Math.floor(rnd() * TITLES.length)]} ${i}`,
        start: wall(start),
        end: wall(start + (1 + Math.floor(rnd() * 3)) * 1_800_000),
        tz: 'Europe/Berlin',
        location: rnd() < 0.4 ? 'Main St 12' : undefined,
        participants: MEMBERS.filter(() => rnd() < 0.5),
        rrule: i % 5 === 0 ? 'FREQ=WEEKLY;COUNT=20' : null,
        reminders: rnd() < 0.5 ? [{ minutesBefore: 30 }] : [],
      },
      { actor: MEMBERS[i % MEMBERS.length]!, now: new Date(yearStart).toISOString() },
    );
  }
  const update = Y.encodeStateAsUpdate(doc);
  doc.destroy();
  return update;
}

const TEMPLATES = 8;

/** The seeded data dir (cached): returns it and the room ids. */
async function seeded(spec: ManyRoomsSpec, log: Logger): Promise<{ dataDir: string; rooms: string[] }> {
  // v2: seeded in schema version 7 (a server started on an older seed would migrate it before the start reading).
  const dir = path.join(spec.cacheDir, `w7-${spec.rooms}x${spec.eventsPerRoom}-v2`);
  const done = path.join(dir, 'rooms.json');
  if (fs.existsSync(done)) return { dataDir: path.join(dir, 'server', 'data'), rooms: JSON.parse(fs.readFileSync(done, 'utf8')) as string[] };
  fs.rmSync(dir, { recursive: true, force: true });
  const t0 = performance.now();
  // Kith makes its schema and the bench user (and its secrets) in the data dir; the rooms go in behind it.
  const server = await startServer('kith', { dir: path.join(dir, 'server') });
  try {
    await openSession(server);
  } finally {
    await server.stop();
  }
  const templates = Array.from({ length: TEMPLATES }, (_, i) => familyYear(spec.eventsPerRoom, 1000 + i));
  const storage = openSqliteStorage({ file: sqliteFileIn(path.join(dir, 'server', 'data')), synchronous: 'normal' });
  const rooms: string[] = [];
  try {
    const user = await storage.users.findByUsername('benchuser');
    if (!user) throw new Error('bench user missing after sign-up');
    const now = Date.now();
    for (let i = 0; i < spec.rooms; i += 500) {
      const batch: string[] = [];
      for (let k = i; k < Math.min(spec.rooms, i + 500); k++) {
        const roomId = `w7r${k.toString(36).padStart(6, '0')}${'x'.repeat(13)}`;
        await storage.rooms.create({ roomId, name: `Family ${k}`, createdBy: user.userId, createdAt: now });
        batch.push(roomId);
      }
      await storage.docs.append(batch.map((roomId, j) => ({ roomId, data: templates[(i + j) % TEMPLATES]! })));
      rooms.push(...batch);
    }
  } finally {
    await storage.close();
  }
  fs.writeFileSync(done, JSON.stringify(rooms));
  log(`  seeded ${spec.rooms} rooms × ${spec.eventsPerRoom} events (${(templates[0]!.byteLength / 1024).toFixed(0)} KB each) in ${((performance.now() - t0) / 1000).toFixed(0)} s → ${dir}`);
  return { dataDir: path.join(dir, 'server', 'data'), rooms };
}

/**
 * Waits until the server has finished its start-up work and let go of what it loaded: the reminder
 * scheduler reads every room once at start (and each room stays loaded for the unload grace). Quiet
 * = no room loaded and under 0.1 s of CPU over 2 s. Returns the seconds it took.
 */
async function startupQuiet(server: RunningServer, timeoutMs: number): Promise<number> {
  const t0 = performance.now();
  let cpu = server.proc().cpuSeconds;
  while (performance.now() - t0 < timeoutMs) {
    await sleep(2000);
    const now = server.proc().cpuSeconds;
    const busy = now - cpu > 0.1;
    cpu = now;
    if (!busy && (await kithMetric(server, 'kith_rooms_loaded')) === 0) return (performance.now() - t0) / 1000;
  }
  throw new Error(`the server was still busy (start-up pass) ${timeoutMs / 1000} s after it started`);
}

async function rssSettled(server: RunningServer, log: Logger, when: string): Promise<{ rss: number; heap: number }> {
  const m = await collectGarbage(server);
  await sleep(500);
  const rss = server.proc().rssBytes;
  const mb = (n: number) => `${(n / 2 ** 20).toFixed(1)} MB`;
  const by = readRssByKind(server.pid);
  const kb = (n: number) => mb(n * 1024);
  log(
    `  ${when}: RSS ${mb(rss)} (main malloc arena ${kb(by.heapKB)}, anonymous ${kb(by.anonKB)}, files ${kb(by.fileKB)}); ` +
      `V8 heap ${mb(m.heapUsed)} used of ${mb(m.heapTotal)} committed; external ${mb(m.external)} (array buffers ${mb(m.arrayBuffers)})`,
  );
  return { rss, heap: m.heapUsed };
}

export async function runManyRooms(spec: ManyRoomsSpec, runDir: string, log: Logger): Promise<WorkloadResult> {
  const started = performance.now();
  const notes: string[] = [];
  const { dataDir, rooms } = await seeded(spec, log);
  const dir = path.join(runDir, 'W7-kith');
  fs.mkdirSync(dir, { recursive: true });
  fs.cpSync(dataDir, path.join(dir, 'data'), { recursive: true });
  const server = await startServer('kith', { dir, inspect: true });
  try {
    const startupS = await startupQuiet(server, Math.max(180_000, rooms.length * 1000));
    // Signed in after the start-up work: at 20,000 rooms it outlasts an access token (15 min).
    const session = await openSession(server);
    log(`  start-up work (reminder pass over every room, then unload) done after ${startupS.toFixed(0)} s`);
    const { rss: startRss, heap: startHeap } = await rssSettled(server, log, 'at start');
    const cpu0 = server.proc().cpuSeconds;
    const lat = new Samples(rooms.length);
    let answerBytes = 0;
    let next = 0;
    let failed = 0;
    const reasons = new Map<string, number>();
    const t0 = performance.now();
    const worker = async () => {
      while (next < rooms.length) {
        const room = rooms[next++]!;
        const c = new SyncClient({ id: -1, url: server.socketUrl(room, session.token), prefix: server.framePrefix(room) });
        try {
          await c.waitSynced(30_000);
          lat.push(c.syncAnswerAt - c.startedAt);
          answerBytes += c.syncAnswerBytes;
        } catch (err) {
          failed++;
          // Why, by kind (the room id and client number vary): a refusal, a close code, or a real timeout.
          const why = (err instanceof Error ? err.message : String(err)).replace(/client -?\d+: /, '').replace(/[0-9a-f]{16,}/gi, '<id>').slice(0, 160);
          reasons.set(why, (reasons.get(why) ?? 0) + 1);
        } finally {
          c.close();
        }
      }
    };
    await Promise.all(Array.from({ length: spec.concurrency }, worker));
    const openS = (performance.now() - t0) / 1000;
    const cpu = server.proc().cpuSeconds - cpu0;
    const { rss: openedRss } = await rssSettled(server, log, 'every room opened');
    const loadedAtEnd = await kithMetric(server, 'kith_rooms_loaded');
    log(`  opened ${rooms.length - failed} rooms in ${openS.toFixed(0)} s; ${loadedAtEnd} still loaded, RSS ${(openedRss / 2 ** 20).toFixed(0)} MB`);
    // Rooms unload once their last socket is gone: at once when only read from their stored bytes, else after the grace (30 s by default).
    const u0 = performance.now();
    let loaded = loadedAtEnd;
    while (loaded > 0 && performance.now() - u0 < 120_000) {
      await sleep(1000);
      loaded = await kithMetric(server, 'kith_rooms_loaded');
    }
    const unloadS = (performance.now() - u0) / 1000;
    if (loaded > 0) notes.push(`${loaded} rooms were still loaded 120 s after the last client left: Kith did not unload them.`);
    await sleep(2000);
    const { rss: afterRss, heap: afterHeap } = await rssSettled(server, log, 'every room unloaded');
    const s = summarize(lat);
    const figures: Figures = {
      rooms: rooms.length - failed,
      failed,
      p50: s.p50,
      p99: s.p99,
      max: s.max,
      answerKB: rooms.length - failed > 0 ? answerBytes / (rooms.length - failed) / 1024 : null,
      roomsPerS: Number(((rooms.length - failed) / openS).toFixed(0)),
      startRssMB: startRss / 2 ** 20,
      loadedAtEnd,
      kbPerLoadedRoom: loadedAtEnd > 0 ? (openedRss - startRss) / loadedAtEnd / 1024 : null,
      openedRssMB: openedRss / 2 ** 20,
      afterRssMB: afterRss / 2 ** 20,
      // Not a pass when rooms failed to open: memory would come back from loads that never happened.
      afterRatio: failed > 0 ? null : Number((afterRss / startRss).toFixed(3)),
      startHeapMB: startHeap / 2 ** 20,
      afterHeapMB: afterHeap / 2 ** 20,
      unloadS: Number(unloadS.toFixed(0)),
      cpuMsPerLoad: rooms.length - failed > 0 ? (cpu / (rooms.length - failed)) * 1000 : null,
      startupS: Number(startupS.toFixed(0)),
    };
    if (failed > 0) {
      const top = [...reasons].sort((a, b) => b[1] - a[1]).slice(0, 5).map(([why, n]) => `${n}× "${why}"`);
      notes.push(`${failed} rooms failed to open: ${top.join('; ')}.`);
    }
    notes.push(
      `Before anything is measured the server is left to finish its start-up work: the reminder scheduler reads every room once at start (the "start-up pass": ${startupS.toFixed(0)} s here, until it was idle with no room loaded).`,
      `Kith unloads a room that was only read from its stored bytes (no write, no server read built its document) as its last socket leaves; a built room stays for the 30 s grace. "Rooms loaded after the last open" counts what was still held when the last client had left, and "RSS KB per loaded room" is shown only when some were.`,
      `${spec.concurrency} clients connect at a time; each sends SyncStep1 with an empty state vector, is timed to the last byte of the sync answer, and disconnects. RSS is read after a forced full GC (inspector) at the start, once every room was opened (per room still loaded then), and once every room had unloaded. The anchors are not run: they keep no storage, so a room they do not hold in memory has nothing to load.`,
    );
    return {
      id: 'W7',
      title: `W7 many rooms over time, ${rooms.length.toLocaleString('en-US')} rooms (Kith)`,
      description: `${rooms.length.toLocaleString('en-US')} rooms, each a year of family events (${spec.eventsPerRoom} events, a fifth weekly series; one stored update per room), each opened once by a client (connect, sync, disconnect) and left.`,
      params: { rooms: rooms.length, eventsPerRoom: spec.eventsPerRoom, concurrency: spec.concurrency },
      columns: COLUMNS,
      servers: { kith: figures },
      curves: { kith: s.curve },
      targets: spec.targets,
      notes,
      wallSeconds: (performance.now() - started) / 1000,
    };
  } finally {
    await server.stop();
  }
}
