/**
 * The mirror as its own process: kith-server keeps the routes (worker off), and a separate worker reaches
 * rooms over kith-server's sync WebSocket as the linking user, following links through the shared state file.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEvent, getEvent, updateEvent } from '@kith/model';
import { googleIdFor } from '../src/runner.js';
import { startStandaloneWorker, type StandaloneWorker } from '../src/standalone.js';
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
