/**
 * Spawns the real kith-server binary (`packages/kith-server/dist/cli.js`, built by `tsc`) as a child process.
 * Every child is tracked, so a test file can kill whatever is still running in afterEach/afterAll
 * (and the test process kills stragglers on exit): no test leaves a server behind, pass or fail.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import * as Y from 'yjs';
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import * as syncProtocol from 'y-protocols/sync';

/** The built binary; KITH_SERVER_CLI points the process tests at another build (e.g. a deliberately broken one). */
export const CLI_PATH = process.env.KITH_SERVER_CLI
  ? path.resolve(process.env.KITH_SERVER_CLI)
  : fileURLToPath(new URL('../../../kith-server/dist/cli.js', import.meta.url));

/** A fixed secret (≥ 32 chars), so that access tokens stay valid across restarts of a data dir. */
export const PROCESS_JWT_SECRET = 'kith-process-test-secret-0123456789abcdefghijklmnop';

/** Environment variables the binary reads; stripped from the inherited environment so tests are hermetic. */
const CONFIG_ENV = /^(PORT|HOST|LOG_LEVEL|KITH_.*)$/;

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ServerProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** `http://127.0.0.1:PORT` as printed by the binary. */
  readonly url: string;
  /** Base of the sync endpoint: `ws://127.0.0.1:PORT/sync` (the room id is appended by clients). */
  readonly wsUrl: string;
  readonly port: number;
  /** The line the binary printed when it started listening. */
  readonly banner: string;
  stdout(): string;
  stderr(): string;
  /** Resolves when the process has exited (never rejects). */
  readonly exited: Promise<Exit>;
  /** SIGKILL, then wait for the exit. */
  kill(): Promise<Exit>;
  /** Sends `signal` and waits for the exit, SIGKILLing after `timeoutMs` (then the promise rejects). */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<Exit>;
}

const live = new Set<ChildProcess>();

function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** SIGKILLs every child this helper started that is still running, and waits for them to go. */
export async function killAllServers(): Promise<void> {
  const running = [...live].filter(isRunning);
  await Promise.all(
    running.map(
      (child) =>
        new Promise<void>((resolve) => {
          child.once('exit', () => resolve());
          child.kill('SIGKILL');
          if (!isRunning(child)) resolve();
        }),
    ),
  );
  live.clear();
}

process.on('exit', () => {
  for (const child of live) if (isRunning(child)) child.kill('SIGKILL');
});

function childEnv(env: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!CONFIG_ENV.test(k)) out[k] = v;
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete out[k];
    else out[k] = v;
  }
  return out;
}

function assertBuilt(): void {
  if (!existsSync(CLI_PATH)) {
    throw new Error(`${CLI_PATH} is missing: build first (npx tsc -p packages/server/tsconfig.json)`);
  }
}

export function makeTempDir(prefix = 'kith-proc-'): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), prefix));
}

export interface StartOptions {
  /** Extra environment (undefined deletes a variable). PORT/HOST/LOG_LEVEL/KITH_* are not inherited. */
  env?: Record<string, string | undefined>;
  /** How long to wait for the "listening on" line. */
  timeoutMs?: number;
  cwd?: string;
}

const BANNER = /kith-server listening on (http:\/\/\S+)/;

/**
 * Starts `node packages/kith-server/dist/cli.js ...args` and resolves once it prints its URL. Rejects (after killing
 * the child) if it exits or stays silent first.
 */
export function startServerProcess(args: string[], options: StartOptions = {}): Promise<ServerProcess> {
  assertBuilt();
  const child = spawn(process.execPath, [CLI_PATH, ...args], {
    env: childEnv(options.env ?? {}),
    cwd: options.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (err += c));
  const exited = new Promise<Exit>((resolve) => {
    child.once('exit', (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
    });
  });
  // A spawn failure emits 'error' (and maybe no 'exit'); surface it as an exit.
  child.once('error', (e) => {
    err += `spawn error: ${e.message}\n`;
  });

  const kill = async (): Promise<Exit> => {
    if (isRunning(child)) child.kill('SIGKILL');
    return exited;
  };
  const stop = async (signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 10_000): Promise<Exit> => {
    if (isRunning(child)) child.kill(signal);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`kith-server (pid ${child.pid}) did not exit within ${timeoutMs} ms of ${signal}`));
      }, timeoutMs);
    });
    try {
      return await Promise.race([exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  };

  const timeoutMs = options.timeoutMs ?? 20_000;
  return new Promise<ServerProcess>((resolve, reject) => {
    let done = false;
    const fail = (why: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      void kill().then(() => reject(new Error(`${why}\nstdout:\n${out}\nstderr:\n${err}`)));
    };
    const onData = () => {
      const m = BANNER.exec(out);
      if (!m || done) return;
      done = true;
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      const url = m[1]!;
      const banner = out.split('\n').find((l) => BANNER.test(l)) ?? '';
      resolve({
        child,
        pid: child.pid!,
        url,
        wsUrl: `${url.replace(/^http/, 'ws')}/sync`,
        port: Number(new URL(url).port),
        banner,
        stdout: () => out,
        stderr: () => err,
        exited,
        kill,
        stop,
      });
    };
    const timer = setTimeout(() => fail(`kith-server did not print its URL within ${timeoutMs} ms`), timeoutMs);
    child.stdout!.on('data', onData);
    void exited.then(({ code, signal }) => fail(`kith-server exited early (code ${code}, signal ${signal})`));
  });
}

export interface RunResult extends Exit {
  stdout: string;
  stderr: string;
}

/** Runs the binary to completion (for --help and bad flags); SIGKILLs it after `timeoutMs`. */
export function runCli(
  args: string[],
  options: { env?: Record<string, string | undefined>; timeoutMs?: number; cwd?: string } = {},
): Promise<RunResult> {
  assertBuilt();
  const child = spawn(process.execPath, [CLI_PATH, ...args], {
    env: childEnv(options.env ?? {}),
    cwd: options.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`kith-server ${args.join(' ')} still running after ${options.timeoutMs ?? 10_000} ms`));
    }, options.timeoutMs ?? 10_000);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    // 'close' (not 'exit') so that all output has been read.
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      live.delete(child);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/**
 * A minimal y-websocket client on a raw `ws` socket: the stock client's sync logic (y-protocols'
 * readSyncMessage), without a provider's reconnect machinery. `onChange` runs synchronously after
 * every server frame applied to the document, so a test can act the instant content arrives.
 */
export class RawSyncClient {
  readonly doc: Y.Doc;
  synced = false;
  onChange: (() => void) | undefined;
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(
    readonly ws: WebSocket,
    doc: Y.Doc,
  ) {
    this.doc = doc;
    this.closed = new Promise((resolve) => {
      ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() }));
    });
    ws.on('message', (data: Buffer) => this.receive(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)));
    doc.on('update', (update: Uint8Array, origin: unknown) => {
      if (origin === this || ws.readyState !== ws.OPEN) return;
      const e = encoding.createEncoder();
      encoding.writeVarUint(e, 0);
      syncProtocol.writeUpdate(e, update);
      ws.send(encoding.toUint8Array(e));
    });
  }

  /** Opens `wsUrl/roomId?token=…`; handlers are attached before the socket opens, so no frame is missed. */
  static connect(wsUrl: string, roomId: string, token: string, doc = new Y.Doc()): Promise<RawSyncClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`${wsUrl}/${roomId}?token=${encodeURIComponent(token)}`);
      ws.binaryType = 'nodebuffer';
      const client = new RawSyncClient(ws, doc);
      ws.once('open', () => {
        const e = encoding.createEncoder();
        encoding.writeVarUint(e, 0);
        syncProtocol.writeSyncStep1(e, doc);
        ws.send(encoding.toUint8Array(e));
        resolve(client);
      });
      ws.once('unexpected-response', (_req, res) => {
        reject(Object.assign(new Error(`sync upgrade refused: HTTP ${res.statusCode}`), { status: res.statusCode }));
        res.resume();
      });
      ws.once('error', reject);
    });
  }

  private receive(frame: Uint8Array): void {
    const decoder = decoding.createDecoder(frame);
    if (decoding.readVarUint(decoder) !== 0) return; // awareness and extensions are not needed here
    const reply = encoding.createEncoder();
    encoding.writeVarUint(reply, 0);
    const type = syncProtocol.readSyncMessage(decoder, reply, this.doc, this);
    if (type === syncProtocol.messageYjsSyncStep2) this.synced = true;
    if (encoding.length(reply) > 1 && this.ws.readyState === this.ws.OPEN) this.ws.send(encoding.toUint8Array(reply));
    if (type !== syncProtocol.messageYjsSyncStep1) this.onChange?.();
  }

  async waitSynced(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.synced) {
      if (Date.now() > deadline) throw new Error('raw sync client: timed out waiting for sync step 2');
      await new Promise((r) => setTimeout(r, 2));
    }
  }

  close(): void {
    this.onChange = undefined;
    if (this.ws.readyState === this.ws.CONNECTING || this.ws.readyState === this.ws.OPEN) this.ws.terminate();
  }
}
