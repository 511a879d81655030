/**
 * Drives the stock clients as child processes, each under a time limit, with the password passed
 * in the environment (never in argv, where `ps` would show it).
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from '@kith/test-support';
import { CALENDAR_NAME, type DavTarget } from './targets.js';
import { PYTHON, VDIRSYNCER } from './tools.js';

const CLIENT_SCRIPT = fileURLToPath(new URL('./clients/caldav_client.py', import.meta.url));
const MOVE_SCRIPT = fileURLToPath(new URL('./clients/move_event.py', import.meta.url));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[], env: Record<string, string>, timeoutMs: number): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, args, { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', LANG: 'C.UTF-8', ...env }, timeout: timeoutMs, maxBuffer: 8 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** What each step of clients/caldav_client.py saw (a step that raised holds `{error}`). */
export type CaldavScenario = Record<string, unknown>;

/** Runs the python3-caldav scenario against `target` (the password travels as CALDAV_PASSWORD). */
export async function runPythonCaldav(target: DavTarget): Promise<CaldavScenario> {
  const r = await run(PYTHON, [CLIENT_SCRIPT, target.davUrl, target.username, '-', CALENDAR_NAME], { CALDAV_PASSWORD: target.password }, 120_000);
  if (r.code !== 0) throw new Error(`caldav_client.py against ${target.name} exited ${r.code}:\n${r.stderr.slice(-3000)}`);
  return JSON.parse(r.stdout) as CaldavScenario;
}

/** A phone moving event `uid` to [start, end) (UTC stamps) with python3-caldav; returns the title it saved. */
export async function moveWithPythonCaldav(target: DavTarget, uid: string, start: string, end: string): Promise<string> {
  const r = await run(PYTHON, [MOVE_SCRIPT, target.davUrl, target.username, CALENDAR_NAME, uid, start, end], { CALDAV_PASSWORD: target.password }, 60_000);
  if (r.code !== 0) throw new Error(`move_event.py against ${target.name} exited ${r.code}:\n${r.stderr.slice(-3000)}`);
  return r.stdout.trim();
}

/**
 * vdirsyncer pairing the server's calendars (discovered from the server's origin, through
 * `/.well-known/caldav`) with a local folder of .ics files, one sub-folder per calendar.
 */
export class Vdirsyncer {
  private constructor(
    readonly dir: string,
    private readonly target: DavTarget,
  ) {}

  /** The folder of the "Family" calendar's .ics files (after discover). */
  collectionDir = '';

  static async create(target: DavTarget): Promise<Vdirsyncer> {
    const v = new Vdirsyncer(await tempDir('kith-vdirsyncer-'), target);
    await fs.mkdir(path.join(v.dir, 'local'));
    await v.writeConfig('null');
    return v;
  }

  /** `conflict`: vdirsyncer's conflict_resolution, `null` (report conflicts) or `"a wins"` / `"b wins"`. */
  async writeConfig(conflict: 'null' | '"a wins"' | '"b wins"'): Promise<void> {
    const q = (s: string) => JSON.stringify(s);
    await fs.writeFile(
      path.join(this.dir, 'config'),
      [
        '[general]',
        `status_path = ${q(path.join(this.dir, 'status') + '/')}`,
        '',
        '[pair family]',
        'a = "family_local"',
        'b = "family_remote"',
        'collections = ["from b"]',
        `conflict_resolution = ${conflict}`,
        '',
        '[storage family_local]',
        'type = "filesystem"',
        `path = ${q(path.join(this.dir, 'local') + '/')}`,
        'fileext = ".ics"',
        '',
        '[storage family_remote]',
        'type = "caldav"',
        `url = ${q(this.target.origin + '/')}`,
        `username = ${q(this.target.username)}`,
        'password.fetch = ["command", "printenv", "VDIRSYNCER_PASSWORD"]',
        '',
      ].join('\n'),
    );
  }

  private exec(args: string[], stdin = ''): Promise<Run> {
    const cmd = stdin ? `yes | ${VDIRSYNCER} -c "$VDIRSYNCER_CONFIG" ${args.join(' ')}` : `${VDIRSYNCER} -c "$VDIRSYNCER_CONFIG" ${args.join(' ')} < /dev/null`;
    return run('/bin/sh', ['-c', cmd], { VDIRSYNCER_PASSWORD: this.target.password, VDIRSYNCER_CONFIG: path.join(this.dir, 'config') }, 120_000);
  }

  /** `vdirsyncer discover`, answering yes to creating the local folders; returns the output. */
  async discover(): Promise<Run> {
    const r = await this.exec(['discover'], 'y');
    const local = path.join(this.dir, 'local');
    const folders = await fs.readdir(local);
    if (folders.length === 1) this.collectionDir = path.join(local, folders[0]!);
    return r;
  }

  sync(): Promise<Run> {
    return this.exec(['sync']);
  }

  /** The local calendar's files: name → content. */
  async files(): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const f of (await fs.readdir(this.collectionDir)).sort()) if (f.endsWith('.ics')) out.set(f, await fs.readFile(path.join(this.collectionDir, f), 'utf8'));
    return out;
  }

  /** Titles of the local files' events (the first SUMMARY of each file), sorted. */
  async titles(): Promise<string[]> {
    return [...(await this.files()).values()].map((ics) => /^SUMMARY(?:;[^:]*)?:(.*?)\r?$/m.exec(ics.replace(/\r?\n[ \t]/g, ''))?.[1] ?? '').sort();
  }

  /** Edits the local file whose event is titled `from` (as a user's editor would), keeping everything else. */
  async renameLocally(from: string, to: string): Promise<void> {
    for (const [name, ics] of await this.files()) {
      if (new RegExp(`^SUMMARY(;[^:]*)?:${from.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\r?$`, 'm').test(ics)) {
        await fs.writeFile(path.join(this.collectionDir, name), ics.replace(/^SUMMARY(;[^:]*)?:.*?(\r?)$/m, `SUMMARY:${to}$2`));
        return;
      }
    }
    throw new Error(`no local file with an event titled ${from}`);
  }

  /** Adds a new local event file. */
  async addLocally(uid: string, title: string, start: string): Promise<void> {
    const ics = ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//Kith interop vdirsyncer//EN', 'BEGIN:VEVENT', `UID:${uid}`, 'DTSTAMP:20260201T000000Z', `DTSTART:${start}`, 'DURATION:PT1H', `SUMMARY:${title}`, 'END:VEVENT', 'END:VCALENDAR', ''].join('\r\n');
    await fs.writeFile(path.join(this.collectionDir, `${uid.replace(/[^\w.-]/g, '_')}.ics`), ics);
  }

  async close(): Promise<void> {
    await fs.rm(this.dir, { recursive: true, force: true });
  }
}
