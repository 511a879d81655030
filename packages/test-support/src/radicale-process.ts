import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { freePort } from './ports.js';
import { tempDir } from './test-server.js';

const RADICALE = '/usr/bin/radicale';

/** Whether Debian's radicale (the daemon and its python3 module) is on this machine. */
export function radicaleAvailable(): boolean {
  return existsSync(RADICALE) && spawnSync('/usr/bin/python3', ['-c', 'import radicale'], { stdio: 'ignore', timeout: 20_000 }).status === 0;
}

/**
 * A private Radicale (Debian's, the CalDAV reference server) for one test file: its own loopback
 * port, a temp storage folder, and HTTP Basic against a plain htpasswd file of the given users,
 * so that clients sign in exactly as they do against Kith. No system config file is read.
 */
export class RadicaleProcess {
  private child: ChildProcess | undefined;
  private constructor(
    readonly port: number,
    readonly dir: string,
    private readonly log: string,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  static async start(users: Record<string, string>): Promise<RadicaleProcess> {
    const dir = await tempDir('kith-radicale-');
    const htpasswd = path.join(dir, 'htpasswd');
    await fs.writeFile(htpasswd, Object.entries(users).map(([u, p]) => `${u}:${p}\n`).join(''));
    const radicale = new RadicaleProcess(await freePort(), dir, path.join(dir, 'radicale.log'));
    await radicale.spawn(htpasswd);
    return radicale;
  }

  private async spawn(htpasswd: string): Promise<void> {
    const log = await fs.open(this.log, 'a');
    // `--config ""`: no /etc/radicale/config, every setting from here.
    this.child = spawn(
      RADICALE,
      [
        ...['--config', ''],
        ...['--server-hosts', `127.0.0.1:${this.port}`],
        ...['--auth-type', 'htpasswd', '--auth-htpasswd-filename', htpasswd, '--auth-htpasswd-encryption', 'plain'],
        ...['--storage-filesystem-folder', path.join(this.dir, 'collections')],
        ...['--logging-level', 'warning'],
      ],
      { stdio: ['ignore', log.fd, log.fd] },
    );
    await log.close();
    const child = this.child;
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`radicale exited at start-up:\n${await fs.readFile(this.log, 'utf8')}`);
      try {
        const res = await fetch(this.url + '/.well-known/caldav', { redirect: 'manual' });
        await res.arrayBuffer();
        return;
      } catch {
        /* not listening yet */
      }
      if (Date.now() > deadline) throw new Error(`radicale did not answer on port ${this.port} within 15 s`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Stops the server and removes its storage. A second call does nothing. */
  async close(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child && child.exitCode === null && child.signalCode === null) {
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      });
    }
    await fs.rm(this.dir, { recursive: true, force: true });
  }
}
