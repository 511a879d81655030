/**
 * The three servers under test, each started as its own OS process on loopback. The bench process
 * (the load generator) never runs server code in-process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as encoding from 'lib0/encoding';
import { readProc, type ProcSample } from './proc.js';

/** Radicale is W8's CalDAV reference only (bench/src/radicale.ts); the sync workloads run the other three. */
export type ServerKind = 'kith' | 'hocuspocus' | 'ywebsocket' | 'ywebsocket3' | 'radicale';
export const ALL_SERVERS: readonly ServerKind[] = ['kith', 'hocuspocus', 'ywebsocket', 'ywebsocket3'];
/** Every server a result table may hold, in table order. */
export const REPORTED_SERVERS: readonly ServerKind[] = [...ALL_SERVERS, 'radicale'];

export const SERVER_LABEL: Record<ServerKind, string> = {
  kith: 'Kith',
  hocuspocus: 'Hocuspocus',
  ywebsocket: 'y-websocket ref',
  ywebsocket3: 'y-websocket v3 server',
  radicale: 'Radicale',
};

const here = path.dirname(fileURLToPath(import.meta.url));
export const BENCH_DIR = path.resolve(here, '..');
export const REPO_DIR = path.resolve(BENCH_DIR, '..');
export const KITH_CLI = path.join(REPO_DIR, 'packages/kith-server/dist/cli.js');
const HOCUSPOCUS_ENTRY = path.join(here, 'hocuspocus-server.js');

function resolvePackageFile(pkg: string, file: string): string {
  // The bench package's own node_modules (pnpm links every dependency there).
  return path.join(BENCH_DIR, 'node_modules', pkg, file);
}
export const YWEBSOCKET_SERVER = resolvePackageFile('y-websocket', 'bin/server.cjs');
/**
 * The y-websocket v3 line's server, split out of the client package. Pinned to 0.1.1: the newer 0.1.5
 * depends on the Yjs 14 prerelease (@y/protocols, yjs ^14.0.0-7), while y-websocket 3.x clients and every
 * other server here speak Yjs 13 (0.1.1 has yjs ^13.5.6 as its peer).
 */
export const YWEBSOCKET3_SERVER = resolvePackageFile('@y/websocket-server', 'src/server.js');

/** Every child this process started; SIGKILLed on exit so no server outlives a run. */
const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export interface StartOptions {
  /** Folder for this server's data and log (reused across restarts, e.g. for W4). */
  dir: string;
  /** Write a V8 CPU profile into this folder (node --cpu-prof), named `name`. */
  cpuProfile?: { dir: string; name: string };
  /** Write a heap snapshot on SIGUSR2 into `dir` (node --heapsnapshot-signal). */
  heapSnapshotDir?: string;
  /** Open the inspector on a loopback port, so the bench can force a full GC (`collectGarbage`). */
  inspect?: boolean;
  /** Extra environment for Kith (e.g. DATABASE_URL and REDIS_URL for its PostgreSQL storage). */
  env?: Record<string, string>;
}

export interface RunningServer {
  readonly kind: ServerKind;
  readonly pid: number;
  readonly port: number;
  readonly httpUrl: string;
  readonly dir: string;
  readonly logFile: string;
  /** The WebSocket URL a client opens for `room`. */
  socketUrl(room: string, token: string | undefined): string;
  /** Bytes every frame starts with: Hocuspocus addresses each frame to a document by name. */
  framePrefix(room: string): Uint8Array;
  /** Hocuspocus wants an Auth frame per document before anything else. */
  readonly authFrame: boolean;
  proc(): ProcSample;
  /** SIGTERM and wait (the server stores what it must, and --cpu-prof writes its profile); SIGKILL after 20 s. */
  stop(): Promise<void>;
  /** SIGKILL and wait. */
  kill(): Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const EMPTY = new Uint8Array(0);

function varStringPrefix(room: string): Uint8Array {
  const e = encoding.createEncoder();
  encoding.writeVarString(e, room);
  return encoding.toUint8Array(e);
}

/**
 * The environment every shipped way of starting kith-server sets (the Dockerfile, the systemd unit in
 * docs/deploy.md, `pnpm start`): glibc's mmap threshold fixed at 128 KB (docs/deploy.md, "Memory").
 */
export const KITH_SHIPPED_ENV: Readonly<Record<string, string>> = { MALLOC_MMAP_THRESHOLD_: '131072' };

function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    // The anchors run with the allocator's defaults, whatever the bench itself was started with.
    if (/^(PORT|HOST|LOG_LEVEL|KITH_.*|YPERSISTENCE|GC|CALLBACK_.*|NODE_OPTIONS|MALLOC_.*|GLIBC_TUNABLES)$/.test(k)) continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

export async function startServer(kind: ServerKind, options: StartOptions): Promise<RunningServer> {
  fs.mkdirSync(options.dir, { recursive: true });
  const port = await freePort();
  const logFile = path.join(options.dir, `${kind}.log`);
  const out = fs.openSync(logFile, 'a');
  const nodeFlags: string[] = [];
  if (options.cpuProfile) {
    fs.mkdirSync(options.cpuProfile.dir, { recursive: true });
    nodeFlags.push('--cpu-prof', `--cpu-prof-dir=${options.cpuProfile.dir}`, `--cpu-prof-name=${options.cpuProfile.name}`);
  }
  if (options.inspect) nodeFlags.push('--inspect=127.0.0.1:0');
  if (options.heapSnapshotDir) {
    fs.mkdirSync(options.heapSnapshotDir, { recursive: true });
    nodeFlags.push('--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${options.heapSnapshotDir}`);
  }
  let args: string[];
  let env: NodeJS.ProcessEnv;
  let ready: string;
  switch (kind) {
    case 'kith':
      if (!fs.existsSync(KITH_CLI)) throw new Error(`${KITH_CLI} is missing: build the server first`);
      // Everything as shipped (durability: --sqlite-sync full is the default; KITH_SHIPPED_ENV); only where to listen and store,
      // and no socket or presence caps: the workloads open thousands of sockets as one user from one address.
      args = [
        KITH_CLI,
        ...['--host', '127.0.0.1', '--port', String(port), '--data-dir', path.join(options.dir, 'data')],
        ...['--sockets-per-user', '1000000', '--sockets-per-ip', '1000000'],
        // W6 puts 300 presence clients in one room (the default cap is 128 per room).
        ...['--presence-per-room', '100000'],
      ];
      env = childEnv({ ...KITH_SHIPPED_ENV, ...options.env });
      ready = '/healthz';
      break;
    case 'hocuspocus':
      args = [HOCUSPOCUS_ENTRY];
      env = childEnv({ PORT: String(port), HOCUSPOCUS_DB: path.join(options.dir, 'hocuspocus.sqlite') });
      ready = '/';
      break;
    case 'ywebsocket':
      // The stock server script of y-websocket@2.1.0 (bin/server.cjs → bin/utils.cjs setupWSConnection),
      // without persistence (YPERSISTENCE unset).
      args = [YWEBSOCKET_SERVER];
      env = childEnv({ HOST: '127.0.0.1', PORT: String(port) });
      ready = '/';
      break;
    case 'ywebsocket3':
      // The stock bin of @y/websocket-server (src/server.js → src/utils.js setupWSConnection), memory only.
      args = [YWEBSOCKET3_SERVER];
      env = childEnv({ HOST: '127.0.0.1', PORT: String(port) });
      ready = '/';
      break;
    case 'radicale':
      throw new Error('Radicale is not a Node server: start it with startRadicale (bench/src/radicale.ts)');
  }
  const child = spawn(process.execPath, [...nodeFlags, ...args], {
    cwd: options.dir,
    env,
    stdio: ['ignore', out, out],
  });
  fs.closeSync(out);
  children.add(child);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    });
  });
  const httpUrl = `http://127.0.0.1:${port}`;
  await waitReady(httpUrl + ready, exited, logFile);
  const pid = child.pid!;
  const server: RunningServer = {
    kind,
    pid,
    port,
    httpUrl,
    dir: options.dir,
    logFile,
    authFrame: kind === 'hocuspocus',
    socketUrl(room, token) {
      if (kind === 'kith') return `ws://127.0.0.1:${port}/sync/${room}?token=${encodeURIComponent(token ?? '')}`;
      if (kind === 'ywebsocket' || kind === 'ywebsocket3') return `ws://127.0.0.1:${port}/${room}`;
      return `ws://127.0.0.1:${port}/`;
    },
    framePrefix(room) {
      return kind === 'hocuspocus' ? varStringPrefix(room) : EMPTY;
    },
    proc: () => readProc(pid),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    },
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await exited;
    },
    exited,
  };
  return server;
}

async function waitReady(url: string, exited: Promise<unknown>, logFile: string): Promise<void> {
  let gone = false;
  void exited.then(() => (gone = true));
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (gone) throw new Error(`server exited during start-up; see ${logFile}:\n${tail(logFile)}`);
    try {
      const res = await fetch(url);
      await res.arrayBuffer();
      if (res.ok) return;
    } catch {
      /* not listening yet */
    }
    await sleep(50);
  }
  throw new Error(`server did not answer ${url} within 30 s; see ${logFile}:\n${tail(logFile)}`);
}

function tail(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-20).join('\n');
  } catch {
    return '';
  }
}

/**
 * Forces a full garbage collection in a server started with `inspect`, through the inspector
 * protocol (HeapProfiler.collectGarbage), so that memory readings count live memory only.
 */
export async function collectGarbage(server: RunningServer): Promise<NodeJS.MemoryUsage> {
  const m = /Debugger listening on (ws:\/\/\S+)/.exec(fs.readFileSync(server.logFile, 'utf8'));
  if (!m) throw new Error(`${server.kind} was not started with the inspector`);
  const { default: WebSocket } = await import('ws');
  const ws = new WebSocket(m[1]!, { perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  let id = 0;
  const call = (method: string, params?: Record<string, unknown>) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const my = ++id;
      const onMessage = (data: Buffer) => {
        const msg = JSON.parse(data.toString()) as { id?: number; error?: { message: string }; result?: Record<string, unknown> };
        if (msg.id !== my) return;
        ws.off('message', onMessage);
        if (msg.error) reject(new Error(msg.error.message));
        else resolve(msg.result ?? {});
      };
      ws.on('message', onMessage);
      ws.send(JSON.stringify({ id: my, method, params }));
    });
  try {
    await call('HeapProfiler.enable');
    await call('HeapProfiler.collectGarbage');
    await call('HeapProfiler.collectGarbage');
    await call('HeapProfiler.disable');
    // Where RSS sits once the collection is done: V8's heap (used, committed) and external (ArrayBuffer) memory.
    const usage = await call('Runtime.evaluate', { expression: 'JSON.stringify(process.memoryUsage())', returnByValue: true });
    return JSON.parse(String((usage.result as { value?: unknown } | undefined)?.value)) as NodeJS.MemoryUsage;
  } finally {
    ws.close();
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * What a workload needs from a server before clients connect: room names (Kith's are created
 * through its rooms API and owned by one bench user) and the token clients present.
 */
export interface Session {
  server: RunningServer;
  token: string | undefined;
  /** Names of `count` rooms for this server (created on Kith). */
  rooms(count: number, prefix?: string): Promise<string[]>;
}

const BENCH_USER = 'benchuser';
const BENCH_PASSWORD = 'bench-password-correct-horse';

async function api(base: string, method: string, p: string, body?: unknown, token?: string): Promise<any> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(base + p, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  const parsed = text ? JSON.parse(text) : undefined;
  return { status: res.status, body: parsed };
}

/** Opens a session: on Kith registers (once per data dir) and logs in the bench user. */
export async function openSession(server: RunningServer, knownToken?: string): Promise<Session> {
  let token: string | undefined;
  if (server.kind === 'kith') {
    if (knownToken) {
      token = knownToken;
    } else {
      const reg = await api(server.httpUrl, 'POST', '/users/register', { username: BENCH_USER, password: BENCH_PASSWORD });
      if (reg.status !== 201 && reg.status !== 409) throw new Error(`kith register: ${reg.status} ${JSON.stringify(reg.body)}`);
      const login = await api(server.httpUrl, 'POST', '/users/login', { username: BENCH_USER, password: BENCH_PASSWORD });
      if (login.status !== 200) throw new Error(`kith login: ${login.status} ${JSON.stringify(login.body)}`);
      token = login.body.token as string;
    }
  }
  let nextName = 0;
  return {
    server,
    token,
    async rooms(count, prefix = 'room') {
      if (server.kind !== 'kith') {
        return Array.from({ length: count }, () => `${prefix}-${nextName++}`);
      }
      const out: string[] = new Array(count);
      let i = 0;
      const worker = async () => {
        while (i < count) {
          const k = i++;
          const res = await api(server.httpUrl, 'POST', '/rooms', { name: `${prefix} ${k}` }, token);
          if (res.status !== 201) throw new Error(`kith create room: ${res.status} ${JSON.stringify(res.body)}`);
          out[k] = res.body.roomId as string;
        }
      };
      await Promise.all(Array.from({ length: Math.min(8, count) }, worker));
      return out;
    },
  };
}

/** Reads one counter or gauge from Kith's /metrics (sum over label sets matching `labels`). */
export async function kithMetric(server: RunningServer, name: string, labels: Record<string, string> = {}): Promise<number> {
  const res = await fetch(server.httpUrl + '/metrics');
  const text = await res.text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const lbl = m[2] ?? '';
    if (Object.entries(labels).every(([k, v]) => lbl.includes(`${k}="${v}"`))) sum += Number(m[3]);
  }
  return sum;
}
