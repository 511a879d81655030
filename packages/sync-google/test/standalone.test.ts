/**
 * The mirror as its own process: kith-server keeps the routes (worker off), and a separate worker reaches
 * rooms over kith-server's sync WebSocket as the linking user, following links through the shared state file.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEvent, getEvent, updateEvent } from '@kith/model';
import { googleIdFor } from '../src/runner.js';
import { RemoteHost, startStandaloneWorker, type StandaloneWorker } from '../src/standalone.js';
import { CLIENT_ID, CLIENT_SECRET, diff, edit, linkRoom, me, startRig, type Rig } from './helpers.js';

const pkg = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const JWT_SECRET = 'test-secret-test-secret-test-secret-0123';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(what: string, check: () => Promise<boolean> | boolean, ms = 8_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** Compiles the package unless dist/ is newer than every source file. */
function buildIfStale(): void {
  const newest = (dir: string): number =>
    fs.readdirSync(dir, { withFileTypes: true }).reduce((m, e) => {
      const p = path.join(dir, e.name);
      return Math.max(m, e.isDirectory() ? newest(p) : fs.statSync(p).mtimeMs);
    }, 0);
  const cli = path.join(pkg, 'dist/cli.js');
  if (fs.existsSync(cli) && fs.statSync(cli).mtimeMs >= newest(path.join(pkg, 'src'))) return;
  execFileSync(process.execPath, [path.resolve(pkg, '../../node_modules/typescript/bin/tsc'), '-p', path.join(pkg, 'tsconfig.json')], { stdio: 'pipe' });
}

let rig: Rig;
beforeAll(async () => {
  rig = await startRig({ worker: { runWorker: false } });
});
afterAll(async () => {
  await rig?.close();
});

describe('separate worker process', () => {
  it('mirrors rooms linked through kith-server, both ways, acting over the sync socket; and stops when unlinked', async () => {
    let standalone: StandaloneWorker | undefined;
    try {
      standalone = await startStandaloneWorker({ ...rig.options, serverUrl: rig.kith.url, jwtSecret: JWT_SECRET, linkPollMs: 50 });
      const u = await rig.signUp();
      const roomId = await rig.createRoom(u.token, 'Remote');
      const { calendarId } = await linkRoom(rig, u.token, roomId);
      // kith-server's side did not start mirroring itself.
      expect(rig.worker.runner(roomId)).toBeUndefined();

      const id = await edit(rig, roomId, (doc) => createEvent(doc, { title: 'Over the wire', start: '2027-07-01T09:00', end: '2027-07-01T10:00', tz: 'Europe/Oslo' }, me));
      await until('the event in Google', () => Boolean(rig.fake.event(calendarId, googleIdFor(roomId, id, '', 0))));

      const gid = googleIdFor(roomId, id, '', 0);
      rig.fake.ui.patchEvent(calendarId, gid, { summary: 'Renamed in Google' });
      await standalone.worker.syncNow(roomId);
      const ev = await rig.kith.sync.readRoom(roomId, (doc) => getEvent(doc, id)!);
      expect(ev.title).toBe('Renamed in Google');
      // Written as the user who linked the room, stored by kith-server like any client's edit.
      expect(ev.updatedBy).toBe('google');
      expect(await diff(rig, roomId, calendarId)).toEqual({ onlyRoom: [], onlyGoogle: [], differ: [], duplicates: 0 });

      const status = await rig.appApi.request('GET', `/rooms/${roomId}/google`, { token: u.token });
      expect(status.body).toMatchObject({ status: 'active', pendingChanges: 0 });
      expect(status.body.lastSyncAt).not.toBeNull();

      expect((await rig.appApi.request('DELETE', `/rooms/${roomId}/google`, { token: u.token })).status).toBe(204);
      await until('the worker to let go of the room', () => standalone!.worker.runner(roomId) === undefined);
      const writes = JSON.stringify(rig.fake.stats().writes);
      await edit(rig, roomId, (doc) => updateEvent(doc, id, { title: 'After unlink' }, me));
      await sleep(200);
      expect(JSON.stringify(rig.fake.stats().writes)).toBe(writes);
    } finally {
      await standalone?.close();
    }
  });

  it('runs as the kith-sync-google binary and exits cleanly on SIGTERM', async () => {
    buildIfStale();
    const u = await rig.signUp();
    const roomId = await rig.createRoom(u.token, 'Binary');
    const { calendarId } = await linkRoom(rig, u.token, roomId);
    let child: ChildProcess | undefined;
    try {
      child = spawn(process.execPath, [path.join(pkg, 'dist/cli.js'), '--server', rig.kith.url, '--data-dir', rig.options.dataDir, '--log-level', 'warn'], {
        env: {
          ...process.env,
          KITH_JWT_SECRET: JWT_SECRET,
          GOOGLE_CLIENT_ID: CLIENT_ID,
          GOOGLE_CLIENT_SECRET: CLIENT_SECRET,
          GOOGLE_REDIRECT_URL: rig.options.redirectUrl,
          GOOGLE_API_ROOT_URL: rig.fake.rootUrl,
          GOOGLE_OAUTH_BASE_URL: rig.fake.url,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr!.on('data', (d) => (stderr += d));
      const id = await edit(rig, roomId, (doc) => createEvent(doc, { title: 'From the binary', start: '2027-07-02', end: '2027-07-03' }, me));
      await until('the event in Google', () => Boolean(rig.fake.event(calendarId, googleIdFor(roomId, id, '', 0))), 15_000).catch((err) => {
        throw new Error(`${(err as Error).message}\n${stderr}`);
      });
      const exit = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      expect(await exit).toBe(0);
    } finally {
      if (child && child.exitCode === null) child.kill('SIGKILL');
    }
  });
});

describe('a room the server refuses the linked user', () => {
  /** Sync upgrades asked for a room from now on (each is one connection attempt). */
  function countUpgrades(roomId: string): { readonly n: number; stop(): void } {
    let n = 0;
    const server = rig.kith.app.server;
    const onUpgrade = (req: { url?: string }) => {
      if (req.url?.startsWith(`/sync/${roomId}`)) n += 1;
    };
    server.on('upgrade', onUpgrade);
    return {
      get n() {
        return n;
      },
      stop: () => void server.off('upgrade', onUpgrade),
    };
  }
  const within = <T>(ms: number, p: Promise<T>, what: string): Promise<T> =>
    Promise.race([p, sleep(ms).then(() => Promise.reject(new Error(`${what} did not finish within ${ms} ms`)))]);

  it('pauses the link at a restart and while running, reconnects no more, releases waiting cycles, and resumes when an owner links again', async () => {
    const [a, b, c] = [await rig.signUp('a'), await rig.signUp('b'), await rig.signUp('c')];
    const roomId = await rig.createRoom(a.token, 'Refused');
    for (const m of [b, c]) {
      const inv = await rig.kithApi.request('POST', `/rooms/${roomId}/invites`, { token: a.token, body: { role: 'owner' } });
      expect((await rig.kithApi.request('POST', `/invites/${inv.body.code}/accept`, { token: m.token })).status).toBe(200);
    }
    const start = () => startStandaloneWorker({ ...rig.options, serverUrl: rig.kith.url, jwtSecret: JWT_SECRET, linkPollMs: 50 });
    let standalone: StandaloneWorker | undefined = await start();
    const upgrades = countUpgrades(roomId);
    try {
      const { calendarId } = await linkRoom(rig, a.token, roomId);
      const first = await edit(rig, roomId, (doc) => createEvent(doc, { title: 'Before', start: '2027-09-01', end: '2027-09-02' }, me));
      await until('the event in Google', () => Boolean(rig.fake.event(calendarId, googleIdFor(roomId, first, '', 0))));
      await within(5_000, standalone.close(), 'closing the worker');
      standalone = undefined;

      // While the worker is down, b removes a (who linked the room) from it. The restarted worker is refused a's socket.
      expect((await rig.kithApi.request('DELETE', `/rooms/${roomId}/members/${a.userId}`, { token: b.token })).status).toBe(204);
      standalone = await start();
      // The old code waited for the room to sync for good: the link stayed active and this never finished.
      await within(5_000, standalone.worker.syncNow(roomId), 'a sync of the refused room');
      expect((await standalone.worker.status(roomId))!).toMatchObject({ status: 'paused', reason: 'LINKED_USER_CANNOT_EDIT' });
      const tried = upgrades.n;
      await sleep(1_000);
      expect(upgrades.n).toBe(tried);

      // b links again: the worker follows, now acting as b.
      await linkRoom(rig, b.token, roomId);
      const second = await edit(rig, roomId, (doc) => createEvent(doc, { title: 'After b linked', start: '2027-09-03', end: '2027-09-04' }, me));
      await until('the event in Google', () => Boolean(rig.fake.event(calendarId, googleIdFor(roomId, second, '', 0))));
      expect((await standalone.worker.status(roomId))!).toMatchObject({ status: 'active', linkedBy: b.userId });

      // c removes b while the worker runs: the server closes b's socket, and the link pauses at once (not at the next poll).
      expect((await rig.kithApi.request('DELETE', `/rooms/${roomId}/members/${b.userId}`, { token: c.token })).status).toBe(204);
      await until('the link to pause', () => standalone!.worker.store.link(roomId)?.status === 'paused', 5_000);
      expect(standalone.worker.store.link(roomId)!.statusReason).toBe('LINKED_USER_CANNOT_EDIT');
      await within(5_000, standalone.worker.syncNow(roomId), 'a sync of the refused room');
      const triedAgain = upgrades.n;
      await sleep(1_000);
      expect(upgrades.n).toBe(triedAgain);
      await within(5_000, standalone.close(), 'closing the worker');
      standalone = undefined;
    } finally {
      upgrades.stop();
      await standalone?.close();
    }
  });

  it('retries with backoff while the server answers its upgrades with errors, and closing releases what waits for the room', async () => {
    let attempts = 0;
    const server = http.createServer((_req, res) => res.writeHead(404).end());
    server.on('upgrade', (_req, socket) => {
      attempts += 1;
      socket.end('HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const host = new RemoteHost({
      serverUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      jwtSecret: JWT_SECRET,
      actingUser: () => ({ userId: 'u1', username: 'someone' }),
    });
    try {
      const read = host.readRoom('down', () => 'read');
      let settled = false;
      read.then(() => (settled = true), () => (settled = true));
      // 200 ms, 400 ms, 800 ms…: the old code waited for good after the first answer.
      await until('a few attempts', () => attempts >= 3, 5_000);
      expect(settled).toBe(false);
      host.close();
      await expect(within(1_000, read, 'the read')).rejects.toThrow(/stopped|closed/);
    } finally {
      host.close();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
