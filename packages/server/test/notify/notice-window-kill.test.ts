/**
 * A change-notice window survives a crash: the real kith-server binary is SIGKILLed while a window
 * holds a change (stored in notify_pending_changes), restarted on the same data dir, and the notice
 * still reaches the other member exactly once (a loopback webhook sink records each delivery key).
 * A second kill right after the notice went out must not send it again.
 */
import { createServer, type Server } from 'node:http';
import fs from 'node:fs/promises';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { apiClient } from '../helpers/api.js';
import { killAllServers, makeTempDir, PROCESS_JWT_SECRET, startServerProcess, type ServerProcess } from '../helpers/process.js';
import { waitFor } from '../helpers/yjs-clients.js';

/** Long enough that the kill (after the 1 s settle has stored the change) lands inside it. */
const WINDOW_MS = 6_000;

let dataDir: string | undefined;
let sink: Server | undefined;
afterEach(async () => {
  await killAllServers();
});
afterAll(async () => {
  await new Promise((r) => (sink ? sink.close(() => r(undefined)) : r(undefined)));
  if (dataDir) await fs.rm(dataDir, { recursive: true, force: true });
});

async function startSink(): Promise<{ url: string; received: Array<{ key: string; userId: string; body: string }> }> {
  const received: Array<{ key: string; userId: string; body: string }> = [];
  sink = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const d = JSON.parse(body) as { key: string; userId: string; body: string; kind: string };
      if (d.kind === 'changes') received.push({ key: String(req.headers['idempotency-key']), userId: d.userId, body: d.body });
      res.writeHead(200).end('{}');
    });
  });
  await new Promise<void>((r) => sink!.listen(0, '127.0.0.1', () => r()));
  return { url: `http://127.0.0.1:${(sink.address() as { port: number }).port}/hook`, received };
}

describe('change-notice windows across SIGKILL', () => {
  it('a change inside the window reaches the other member once after a kill and restart', async () => {
    dataDir = await makeTempDir('kith-notice-kill-');
    const { url: hook, received } = await startSink();
    const start = () =>
      startServerProcess(['--port', '0', '--data-dir', dataDir!, '--jwt-secret', PROCESS_JWT_SECRET, '--log-level', 'warn'], {
        env: { KITH_NOTIFY_WEBHOOK_URL: hook, KITH_NOTIFY_CHANGE_WINDOW_MS: String(WINDOW_MS) },
        timeoutMs: 60_000,
      });
    let server: ServerProcess = await start();
    let api = apiClient(server.url);
    const mum = await api.signUp('mum');
    const dad = await api.signUp('dad');
    const roomId = await api.createRoom(mum.token, 'Millers');
    await api.addMember(mum.token, roomId, dad.token, 'editor');

    const created = await api.request('POST', `/rooms/${roomId}/events`, {
      token: dad.token,
      body: { eventTitle: 'Ski trip', startTime: '2027-01-10T09:00', endTime: '2027-01-10T17:00', timeZone: 'Europe/Berlin' },
    });
    expect(created.status).toBe(201);
    const editedAt = Date.now();
    // The settle (1 s) stores the change in the window's table; kill as soon as it is there, well
    // before the window ends (read from the file, as a second connection: WAL lets it).
    const file = new BetterSqlite3(path.join(dataDir, 'kith.sqlite'), { readonly: true });
    try {
      await waitFor(() => (file.prepare('SELECT count(*) FROM notify_pending_changes').pluck().get() as number) > 0, WINDOW_MS, 'the change stored in its window');
    } finally {
      file.close();
    }
    await server.kill();
    expect(Date.now() - editedAt).toBeLessThan(WINDOW_MS);
    expect(received).toEqual([]);

    server = await start();
    api = apiClient(server.url);
    await waitFor(() => received.length >= 1, WINDOW_MS + 30_000, 'the change notice after restart');
    // Kill again right after it went out, restart: nothing is sent twice.
    await server.kill();
    server = await start();
    await new Promise((r) => setTimeout(r, 3_000));
    expect(received.map((r) => r.userId)).toEqual([mum.userId]);
    expect(received[0]!.body).toBe(`${dad.username} added Ski trip`);
    expect(received[0]!.key).toMatch(new RegExp(`^chg:${roomId}:\\d+-\\d+:${mum.userId}:webhook$`));
    await server.stop('SIGTERM');
  }, 180_000);
});
