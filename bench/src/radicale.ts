/**
 * Debian's Radicale (/usr/bin/radicale), W8's CalDAV reference: its own process on a loopback
 * port, filesystem storage in the run's folder, HTTP Basic against a plain htpasswd file, no
 * system config file, warnings only in its log. Radicale's defaults otherwise (its item cache on).
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { readProc, type ProcSample } from './proc.js';
import { freePort, sleep } from './servers.js';

export const RADICALE_BIN = '/usr/bin/radicale';

export function radicaleVersion(): string | null {
  if (!fs.existsSync(RADICALE_BIN)) return null;
  const r = spawnSync(RADICALE_BIN, ['--version'], { encoding: 'utf8', timeout: 20_000 });
  return r.status === 0 ? r.stdout.trim() : null;
}

export interface RadicaleServer {
  pid: number;
  origin: string;
  logFile: string;
  proc(): ProcSample;
  stop(): Promise<void>;
}

export async function startRadicale(dir: string, users: Record<string, string>): Promise<RadicaleServer> {
  fs.mkdirSync(dir, { recursive: true });
  const htpasswd = path.join(dir, 'htpasswd');
  fs.writeFileSync(htpasswd, Object.entries(users).map(([u, p]) => `${u}:${p}\n`).join(''));
  const port = await freePort();
  const logFile = path.join(dir, 'radicale.log');
  const out = fs.openSync(logFile, 'a');
  const child = spawn(
    RADICALE_BIN,
    [
      ...['--config', ''],
      ...['--server-hosts', `127.0.0.1:${port}`],
      ...['--auth-type', 'htpasswd', '--auth-htpasswd-filename', htpasswd, '--auth-htpasswd-encryption', 'plain'],
      ...['--storage-filesystem-folder', path.join(dir, 'collections')],
      ...['--server-max-content-length', String(64 << 20)],
      ...['--logging-level', 'warning'],
    ],
    { stdio: ['ignore', out, out] },
  );
  fs.closeSync(out);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  process.once('exit', () => child.kill('SIGKILL'));
  const origin = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`radicale exited at start-up; see ${logFile}`);
    try {
      await (await fetch(origin + '/.well-known/caldav', { redirect: 'manual' })).arrayBuffer();
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`radicale did not answer within 30 s; see ${logFile}`);
      await sleep(50);
    }
  }
  return {
    pid: child.pid!,
    origin,
    logFile,
    proc: () => readProc(child.pid!),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
