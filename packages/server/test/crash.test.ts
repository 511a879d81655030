/**
 * Crash safety of the real binary: an update that a second client has received is on disk, so it
 * survives the server being SIGKILLed the instant that client sees it.
 *
 * Each trial runs against one data dir that lives across all trials: writer A and reader B join
 * the same room, A writes a unique value (and a few extra values right behind it, so that later
 * batches are pending or being committed at the moment of the kill), and B's observer SIGKILLs the
 * server synchronously, in the very callback where the value arrives. The server is restarted and
 * a fresh client checks that every trial value so far, and everything else B had received, is there.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { apiClient } from './helpers/api.js';
import {
  PROCESS_JWT_SECRET,
  RawSyncClient,
  killAllServers,
  makeTempDir,
  startServerProcess,
  type ServerProcess,
} from './helpers/process.js';
import { connectProvider, waitFor, waitForSynced } from './helpers/yjs-clients.js';

const TRIALS = Number(process.env.CRASH_TRIALS ?? 50);

/** Server configurations cycled through the trials (each restart picks the next one). */
const MODES = [
  { name: 'full', args: [] as string[] }, // ship default: --sqlite-sync full
  { name: 'normal', args: ['--sqlite-sync', 'normal'] },
  { name: 'full+compaction', args: ['--compact-after-updates', '2'] },
];

/** Which client implementation plays writer A and reader B, cycled through the trials. */
const CLIENT_KINDS = [
  { writer: 'provider', reader: 'provider' },
  { writer: 'raw', reader: 'raw' },
  { writer: 'provider', reader: 'raw' },
  { writer: 'raw', reader: 'provider' },
] as const;

type Kind = 'provider' | 'raw';

interface Client {
  doc: Y.Doc;
  close(): void;
}

async function connect(kind: Kind, wsUrl: string, roomId: string, token: string): Promise<Client> {
  if (kind === 'provider') {
    const { doc, provider } = connectProvider(wsUrl, roomId, token);
    try {
      await waitForSynced(provider);
    } catch (err) {
      provider.destroy();
      throw err;
    }
    return { doc, close: () => provider.destroy() };
  }
  const raw = await RawSyncClient.connect(wsUrl, roomId, token);
  try {
    await raw.waitSynced();
  } catch (err) {
    raw.close();
    throw err;
  }
  return { doc: raw.doc, close: () => raw.close() };
}

let dataDir: string | undefined;
const openClients = new Set<Client>();

afterEach(async () => {
  for (const c of openClients) c.close();
  openClients.clear();
  await killAllServers();
});
afterAll(async () => {
  await killAllServers();
  if (dataDir) await fs.rm(dataDir, { recursive: true, force: true });
});

function start(mode: (typeof MODES)[number]): Promise<ServerProcess> {
  return startServerProcess([
    '--port', '0',
    '--data-dir', dataDir!,
    '--jwt-secret', PROCESS_JWT_SECRET,
    '--log-level', 'warn',
    ...mode.args,
  ]);
}

describe('crash safety of kith-server under SIGKILL', () => {
  it(`an update a second client has received survives SIGKILL and restart (${TRIALS} trials on one data dir)`, async () => {
    dataDir = await makeTempDir('kith-crash-');
    const started = performance.now();
    let server = await start(MODES[0]!);

    // Users and room are created once; tokens stay valid across restarts (fixed JWT secret).
    const api = apiClient(server.url);
    const alice = await api.signUp('alice');
    const bob = await api.signUp('bob');
    const roomId = await api.createRoom(alice.token, 'Crash test');
    await api.addMember(alice.token, roomId, bob.token, 'editor');

    /** key → value of everything that must survive: each trial value, and every value B had received. */
    const mustSurvive = new Map<string, string>();
    /** Highest clock per Yjs client that B had received before a kill. */
    const observedClocks = new Map<number, number>();
    const stats = { extrasWritten: 0, extrasSeenByReader: 0, restartMs: 0, kills: 0, verified: 0 };
    const trialsByMode = new Map<string, number>();

    /** A fresh client (no local state) must find everything in `mustSurvive` on the server. */
    const verify = async (kind: Kind, afterTrial: number) => {
      const fresh = await connect(kind, server.wsUrl, roomId, bob.token);
      openClients.add(fresh);
      const events = fresh.doc.getMap<string>('events');
      const missing = [...mustSurvive].filter(([k, v]) => events.get(k) !== v).map(([k]) => k);
      expect(missing, `after trial ${afterTrial}: values lost by the crash`).toEqual([]);
      const sv = Y.decodeStateVector(Y.encodeStateVector(fresh.doc));
      for (const [client, clock] of observedClocks) {
        expect(sv.get(client) ?? 0, `after trial ${afterTrial}: clock of Yjs client ${client}`).toBeGreaterThanOrEqual(clock);
      }
      stats.verified += 1;
      fresh.close();
      openClients.delete(fresh);
    };

    for (let trial = 0; trial < TRIALS; trial++) {
      const mode = MODES[trial % MODES.length]!;
      trialsByMode.set(mode.name, (trialsByMode.get(mode.name) ?? 0) + 1);
      const kinds = CLIENT_KINDS[trial % CLIENT_KINDS.length]!;
      const a = await connect(kinds.writer, server.wsUrl, roomId, alice.token);
      openClients.add(a);
      const b = await connect(kinds.reader, server.wsUrl, roomId, bob.token);
      openClients.add(b);

      const key = `trial-${trial}`;
      const value = `${key}-${Math.random().toString(36).slice(2)}`;
      const bEvents = b.doc.getMap<string>('events');
      let killed = false;
      bEvents.observe(() => {
        if (killed || bEvents.get(key) !== value) return;
        // B has just received the value: kill the server right now, in this very callback.
        server.child.kill('SIGKILL');
        killed = true;
        stats.kills += 1;
        for (const [k, v] of bEvents) mustSurvive.set(k, v);
        for (const [client, clock] of Y.decodeStateVector(Y.encodeStateVector(b.doc))) {
          observedClocks.set(client, Math.max(clock, observedClocks.get(client) ?? 0));
        }
      });

      const aEvents = a.doc.getMap<string>('events');
      aEvents.set(key, value);
      mustSurvive.set(key, value);
      // A few more updates right behind it, one per tick, racing the kill: at the moment of the
      // kill some are pending or being committed. They may be lost only if B never saw them.
      // (0–3 of them; the count cycles independently of the client kinds and server modes.)
      const extras = Math.floor(trial / CLIENT_KINDS.length) % 4;
      for (let j = 0; j < extras && !killed; j++) {
        await new Promise((r) => setImmediate(r));
        if (killed) break;
        aEvents.set(`${key}-extra-${j}`, `${value}-extra-${j}`);
        stats.extrasWritten += 1;
      }

      await waitFor(() => killed, 5000, `reader to receive ${key}`);
      const exit = await server.exited;
      expect(exit.signal).toBe('SIGKILL');
      a.close();
      b.close();
      openClients.delete(a);
      openClients.delete(b);
      stats.extrasSeenByReader += [...mustSurvive.keys()].filter((k) => k.startsWith(`${key}-extra-`)).length;

      const restartStarted = performance.now();
      server = await start(MODES[(trial + 1) % MODES.length]!);
      stats.restartMs += performance.now() - restartStarted;
      await verify(trial % 2 === 0 ? 'provider' : 'raw', trial);
    }

    // Finally: a room whose log has been folded into a snapshot survives a kill too. A fresh room,
    // because a compaction interrupted by one of the kills above may leave its room's compaction
    // lease held (by the dead process) for a while.
    await server.kill();
    server = await start(MODES[2]!); // compacts after 2 logged updates
    const api2 = apiClient(server.url);
    const compactedRoom = await api2.createRoom(alice.token, 'Compacted');
    const writer = await connect('provider', server.wsUrl, compactedRoom, alice.token);
    openClients.add(writer);
    for (let i = 0; i < 3; i++) {
      // One commit each (updates of one tick share a commit), so the log reaches the threshold.
      writer.doc.getMap<string>('events').set(`compacted-${i}`, `value-${i}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const deadline = Date.now() + 10_000;
    let metrics = '';
    while (!/kith_compactions_total\{outcome="done"\} [1-9]/.test((metrics = (await api2.request('GET', '/metrics')).body))) {
      if (Date.now() > deadline) {
        throw new Error(`no compaction finished within 10 s:\n${metrics.split('\n').filter((l) => l.includes('compaction')).join('\n')}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    await server.kill();
    writer.close();
    openClients.delete(writer);
    server = await start(MODES[0]!);
    await verify('provider', TRIALS);
    const check = await connect('raw', server.wsUrl, compactedRoom, alice.token);
    openClients.add(check);
    for (let i = 0; i < 3; i++) expect(check.doc.getMap<string>('events').get(`compacted-${i}`)).toBe(`value-${i}`);
    check.close();
    openClients.delete(check);
    await server.stop('SIGTERM');

    // The database file itself is sound after all those kills.
    const db = new Database(path.join(dataDir, 'kith.sqlite'));
    try {
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
      expect(db.prepare('SELECT count(*) FROM doc_snapshots').pluck().get()).toBeGreaterThanOrEqual(1);
    } finally {
      db.close();
    }

    const totalMs = performance.now() - started;
    expect(stats.kills).toBe(TRIALS);
    console.log(
      `crash safety: ${TRIALS} SIGKILL trials (+1 after compaction), ${stats.verified} restarts verified, ` +
        `${mustSurvive.size} values all present (${stats.extrasSeenByReader}/${stats.extrasWritten} racing extras seen by reader), ` +
        `modes ${[...trialsByMode].map(([m, n]) => `${m}×${n}`).join(' ')}, ` +
        `avg restart ${(stats.restartMs / TRIALS).toFixed(0)} ms, total ${(totalMs / 1000).toFixed(1)} s`,
    );
  }, 300_000); // ~40 s on an idle 2-core machine; restarts slow down a lot under load
});
