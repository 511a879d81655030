/**
 * The `kith-server` binary as an operator meets it: flags, environment, the URL it prints, the
 * generated JWT secret, and graceful shutdown on SIGTERM. Every test runs `node packages/kith-server/dist/cli.js`.
 */
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { freePort } from '@kith/test-support';
import { apiClient } from './helpers/api.js';
import {
  PROCESS_JWT_SECRET,
  RawSyncClient,
  killAllServers,
  makeTempDir,
  runCli,
  startServerProcess,
} from './helpers/process.js';
import { connectProvider, waitForSynced } from './helpers/yjs-clients.js';

/** SIGTERM-right-after-a-write rounds (raise it to hunt for shutdown races). */
const SIGTERM_ROUNDS = Number(process.env.SIGTERM_ROUNDS ?? 5);

const dirs: string[] = [];
const cleanups: Array<() => void> = [];

async function tempDir(): Promise<string> {
  const d = await makeTempDir('kith-cli-');
  dirs.push(d);
  return d;
}

afterEach(async () => {
  for (const c of cleanups.splice(0)) c();
  await killAllServers();
});
afterAll(async () => {
  await killAllServers();
  await Promise.all(dirs.map((d) => fs.rm(d, { recursive: true, force: true })));
});

/** Resolves true if a TCP connection to host:port is accepted. */
function canConnect(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, host);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

describe('kith-server --help', () => {
  it('prints usage listing --port, --host and --data-dir (with their env vars) and exits 0', async () => {
    const r = await runCli(['--help']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^Usage: kith-server \[options\]$/m);
    for (const flag of ['--port', '--host', '--data-dir', '--sqlite-sync', '--jwt-secret', '--help']) {
      expect(r.stdout).toContain(flag);
    }
    for (const env of ['PORT', 'HOST', 'KITH_DATA_DIR']) expect(r.stdout).toMatch(new RegExp(`env ${env}\\b`));
    // -h is the same thing
    const short = await runCli(['-h']);
    expect(short.code).toBe(0);
    expect(short.stdout).toBe(r.stdout);
  });
});

describe('kith-server refuses bad configuration with exit code 2', () => {
  const cases: Array<{ what: string; args: string[]; env?: Record<string, string>; message: RegExp }> = [
    { what: 'a non-numeric --port', args: ['--port', 'abc'], message: /--port must be an integer >= 0, got "abc"/ },
    { what: 'a --port above 65535', args: ['--port', '70000'], message: /--port must be at most 65535/ },
    { what: 'an unknown --sqlite-sync mode', args: ['--sqlite-sync', 'maybe'], message: /--sqlite-sync must be full or normal, got "maybe"/ },
    { what: 'an unknown flag', args: ['--bogus'], message: /Unknown option '--bogus'/ },
    { what: 'a flag without its value', args: ['--data-dir'], message: /'--data-dir <value>' argument missing/ },
    { what: 'a stray positional argument', args: ['serve'], message: /Unexpected argument 'serve'/ },
    { what: 'an unknown --log-level', args: ['--log-level', 'loud'], message: /--log-level must be .*got "loud"/ },
    { what: 'a --jwt-secret shorter than 32 characters', args: ['--jwt-secret', 'short'], message: /--jwt-secret must be at least 32 characters/ },
    { what: 'a bad PORT from the environment, naming the variable', args: [], env: { PORT: 'eighty' }, message: /PORT must be an integer >= 0, got "eighty"/ },
    { what: 'a bad KITH_SQLITE_SYNC from the environment', args: [], env: { KITH_SQLITE_SYNC: 'sometimes' }, message: /KITH_SQLITE_SYNC must be full or normal, got "sometimes"/ },
  ];
  for (const c of cases) {
    it(`rejects ${c.what} with a clear message on stderr`, async () => {
      const dataDir = await tempDir();
      // --data-dir first, so that the case "--data-dir without a value" is the last word.
      const r = await runCli(['--data-dir', dataDir, ...c.args], { env: c.env });
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/^kith-server: /);
      expect(r.stderr).toMatch(c.message);
      expect(r.stderr).toContain('kith-server --help');
      expect(r.stderr).not.toMatch(/\n\s+at /); // a message, not a stack trace
    });
  }

  it('exits 1 with a one-line reason when the port is already taken', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    cleanups.push(() => blocker.close());
    const port = (blocker.address() as net.AddressInfo).port;
    const r = await runCli(['--port', String(port), '--data-dir', await tempDir(), '--log-level', 'silent']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`kith-server: cannot listen on 127\\.0\\.0\\.1:${port}: address already in use`));
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('kith-server startup', () => {
  it('prints the URL it listens on, and serves the API there', async () => {
    const dataDir = await tempDir();
    const s = await startServerProcess(['--port', '0', '--data-dir', dataDir, '--log-level', 'warn']);
    expect(s.banner).toBe(`kith-server listening on http://127.0.0.1:${s.port} (data in ${dataDir})`);
    expect(s.port).toBeGreaterThan(0);
    const res = await fetch(`${s.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await s.stop('SIGTERM')).toEqual({ code: 0, signal: null });
  });

  it('honours PORT, HOST and KITH_DATA_DIR from the environment, and flags win over them', async () => {
    const port = await freePort();
    const dataDir = path.join(await tempDir(), 'nested', 'data'); // created on demand
    const s = await startServerProcess(['--log-level', 'warn'], {
      env: { PORT: String(port), HOST: '127.0.0.2', KITH_DATA_DIR: dataDir },
    });
    expect(s.url).toBe(`http://127.0.0.2:${port}`);
    expect(s.banner).toContain(`(data in ${dataDir})`);
    expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
    expect(await canConnect(port, '127.0.0.1')).toBe(false); // bound to HOST only
    await expect(fs.stat(path.join(dataDir, 'kith.sqlite'))).resolves.toBeTruthy();
    // A data dir the server creates is private to its user (it holds password hashes and the secret).
    expect((await fs.stat(dataDir)).mode & 0o777).toBe(0o700);
    await s.stop('SIGTERM');

    // --port on the command line beats PORT in the environment.
    const s2 = await startServerProcess(['--port', '0', '--log-level', 'warn'], {
      env: { PORT: String(port), KITH_DATA_DIR: dataDir },
    });
    expect(s2.port).not.toBe(port);
    expect(s2.banner).toContain(`(data in ${dataDir})`);
    await s2.stop('SIGTERM');
  });

  it('generates the JWT secret once into the data dir (mode 0600) and reuses it, so tokens survive a restart', async () => {
    const dataDir = await tempDir();
    const args = ['--port', '0', '--data-dir', dataDir, '--log-level', 'warn'];
    const s1 = await startServerProcess(args);
    const secretFile = path.join(dataDir, 'jwt-secret');
    const st = await fs.stat(secretFile);
    expect(st.mode & 0o777).toBe(0o600);
    const secret = (await fs.readFile(secretFile, 'utf8')).trim();
    expect(secret.length).toBeGreaterThanOrEqual(32);
    const api1 = apiClient(s1.url);
    const alice = await api1.signUp('alice');
    const roomId = await api1.createRoom(alice.token);
    expect(await s1.stop('SIGTERM')).toEqual({ code: 0, signal: null });

    const s2 = await startServerProcess(args);
    expect((await fs.readFile(secretFile, 'utf8')).trim()).toBe(secret);
    expect((await fs.stat(secretFile)).mode & 0o777).toBe(0o600);
    const api2 = apiClient(s2.url);
    // The access token issued by run 1 is accepted by run 2, over HTTP and on the sync socket.
    const rooms = await api2.request('GET', '/rooms', { token: alice.token });
    expect(rooms.status).toBe(200);
    expect(JSON.stringify(rooms.body)).toContain(roomId);
    const raw = await RawSyncClient.connect(s2.wsUrl, roomId, alice.token);
    cleanups.push(() => raw.close());
    await raw.waitSynced();
    // A token signed with another secret is refused.
    const s3 = await startServerProcess(['--port', '0', '--data-dir', await tempDir(), '--log-level', 'warn']);
    expect((await apiClient(s3.url).request('GET', '/rooms', { token: alice.token })).status).toBe(401);
  });
});

describe('kith-server on SIGTERM', () => {
  it('closes sync sockets with 1001, exits 0, and an update sent just before the signal is on disk after restart', async () => {
    const dataDir = await tempDir();
    const args = ['--port', '0', '--data-dir', dataDir, '--jwt-secret', PROCESS_JWT_SECRET, '--log-level', 'warn'];
    let s = await startServerProcess(args);
    const api = apiClient(s.url);
    const alice = await api.signUp('alice');
    const roomId = await api.createRoom(alice.token);

    // Each round: a stock provider and a raw client are connected; the raw client writes and the
    // signal follows at once, before the server can have answered anything.
    const rounds = SIGTERM_ROUNDS;
    for (let round = 0; round < rounds; round++) {
      const { provider } = connectProvider(s.wsUrl, roomId, alice.token);
      cleanups.push(() => provider.destroy());
      const providerClose = new Promise<number>((resolve) => {
        provider.once('connection-close', (event) => resolve(event?.code ?? -1));
      });
      await waitForSynced(provider);
      const raw = await RawSyncClient.connect(s.wsUrl, roomId, alice.token);
      cleanups.push(() => raw.close());
      await raw.waitSynced();

      raw.doc.getMap('events').set(`before-sigterm-${round}`, `value-${round}`);
      s.child.kill('SIGTERM');

      expect(await raw.closed).toEqual({ code: 1001, reason: 'SHUTTING_DOWN' });
      expect(await providerClose).toBe(1001);
      // The process finishes its shutdown by itself (a second signal would mean "exit now").
      expect(await s.exited).toEqual({ code: 0, signal: null });
      provider.destroy();
      raw.close();

      s = await startServerProcess(args);
      const check = await RawSyncClient.connect(s.wsUrl, roomId, alice.token);
      cleanups.push(() => check.close());
      await check.waitSynced();
      for (let r = 0; r <= round; r++) {
        expect(check.doc.getMap('events').get(`before-sigterm-${r}`), `round ${r}`).toBe(`value-${r}`);
      }
      check.close();
    }
    await s.stop('SIGTERM');
  }, 20_000 + SIGTERM_ROUNDS * 5_000);

  it('stops accepting connections at once while it drains, and exits 0 on SIGINT too', async () => {
    const dataDir = await tempDir();
    const s = await startServerProcess(['--port', '0', '--data-dir', dataDir, '--jwt-secret', PROCESS_JWT_SECRET, '--log-level', 'warn']);
    const api = apiClient(s.url);
    const alice = await api.signUp('alice');
    const roomId = await api.createRoom(alice.token);
    // A sync client that never answers the close handshake keeps the server draining for a while.
    const stubborn = await RawSyncClient.connect(s.wsUrl, roomId, alice.token);
    cleanups.push(() => stubborn.close());
    await stubborn.waitSynced();
    // Stop reading: the server's close frame is never seen, so never answered.
    (stubborn.ws as unknown as { _socket: net.Socket })._socket.pause();

    s.child.kill('SIGINT');
    const deadline = Date.now() + 2000;
    let refused = false;
    while (!refused && Date.now() < deadline) {
      refused = !(await canConnect(s.port));
      if (!refused) await new Promise((r) => setTimeout(r, 5));
    }
    expect(refused, 'new connections are refused during shutdown').toBe(true);
    expect(s.child.exitCode, 'still draining when the port is closed').toBeNull();
    expect(await s.exited).toEqual({ code: 0, signal: null });
  });

  it('exits at once with code 1 on a second signal during the drain, with updates already stored', async () => {
    const dataDir = await tempDir();
    const args = ['--port', '0', '--data-dir', dataDir, '--jwt-secret', PROCESS_JWT_SECRET, '--log-level', 'warn'];
    let s = await startServerProcess(args);
    const api = apiClient(s.url);
    const alice = await api.signUp('alice');
    const roomId = await api.createRoom(alice.token);
    const writer = await RawSyncClient.connect(s.wsUrl, roomId, alice.token);
    cleanups.push(() => writer.close());
    await writer.waitSynced();
    writer.doc.getMap('events').set('stored', 'yes');
    const reader = await RawSyncClient.connect(s.wsUrl, roomId, alice.token);
    cleanups.push(() => reader.close());
    await reader.waitSynced();
    expect(reader.doc.getMap('events').get('stored')).toBe('yes');
    // The writer stops reading, so the drain waits for it (up to the server's 2 s close timeout).
    (writer.ws as unknown as { _socket: net.Socket })._socket.pause();

    s.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 100));
    expect(s.child.exitCode, 'still draining').toBeNull();
    s.child.kill('SIGTERM');
    // Code 1 is the forced exit: the graceful path would have waited out the writer and exited 0.
    expect(await s.exited).toEqual({ code: 1, signal: null });

    s = await startServerProcess(args);
    const check = await RawSyncClient.connect(s.wsUrl, roomId, alice.token);
    cleanups.push(() => check.close());
    await check.waitSynced();
    expect(check.doc.getMap('events').get('stored')).toBe('yes');
    await s.stop('SIGTERM');
  });

  it('does not let a stalled HTTP client hold the shutdown beyond --shutdown-grace-ms', async () => {
    const dataDir = await tempDir();
    const s = await startServerProcess(['--port', '0', '--data-dir', dataDir, '--log-level', 'warn', '--shutdown-grace-ms', '500']);
    // Half a request: headers never finished, so the connection is not idle and never completes.
    const stalled = net.connect(s.port, '127.0.0.1');
    cleanups.push(() => stalled.destroy());
    await new Promise((r) => stalled.once('connect', r));
    stalled.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
    await new Promise((r) => setTimeout(r, 50));
    const t0 = performance.now();
    expect(await s.stop('SIGTERM', 8_000)).toEqual({ code: 0, signal: null });
    expect(performance.now() - t0).toBeLessThan(5_000);
  });
});
