/**
 * A real kith-server (SQLite in a temp dir, loopback HTTP) with the calendar and notify modules, a
 * controllable clock, and a channel that records what it is given (the test's stand-in for push
 * and email, which are outside this half of the module).
 */
import { createServer } from 'node:http';
import * as Y from 'yjs';
import {
  calendarModule,
  defaultConfig,
  ManualClock,
  notifyModule,
  startKithServer,
  type AnyChannel,
  type Delivery,
  type KithModule,
  type KithServer,
  type ModuleContext,
  type NotifyOptions,
  type NotifyParts,
} from '../../src/index.js';
import { apiClient } from '../helpers/api.js';
import { makeTempDir, PROCESS_JWT_SECRET, startServerProcess, type ServerProcess } from '../helpers/process.js';
import { makeDataDir, TEST_JWT_SECRET } from '../helpers/server.js';

export class RecordingChannel implements AnyChannel {
  readonly deliveries: Delivery[] = [];
  constructor(readonly name = 'push') {}
  async available(): Promise<boolean> {
    return true;
  }
  async send(delivery: Delivery): Promise<'sent'> {
    this.deliveries.push(delivery);
    return 'sent';
  }
}

/** A webhook receiver on loopback (the webhook channel's target): the Idempotency-Key of each delivery that `keep` accepts. */
export async function startWebhookSink(keep: (key: string) => boolean): Promise<{ url: string; keys: string[]; close(): Promise<void> }> {
  const keys: string[] = [];
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const key = String(req.headers['idempotency-key']);
      if (keep(key)) keys.push(key);
      res.writeHead(200).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`,
    keys,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** A kith-server process on a (shared) PostgreSQL database, sending notifications to the webhook `hook`; `env` adds settings. */
export async function startNotifyProcess(databaseUrl: string, hook: string, env: Record<string, string>): Promise<ServerProcess> {
  return startServerProcess(['--port', '0', '--data-dir', await makeTempDir(), '--log-level', 'warn'], {
    env: { DATABASE_URL: databaseUrl, KITH_JWT_SECRET: PROCESS_JWT_SECRET, KITH_LOGIN_PER_MINUTE: '1000', KITH_NOTIFY_WEBHOOK_URL: hook, ...env },
    timeoutMs: 60_000,
  });
}

export interface NotifyHarness {
  server: KithServer;
  parts: NotifyParts;
  rooms: ModuleContext['rooms'];
  dataDir: string;
  /** Waits until queued notify work is done. */
  settle(): Promise<void>;
  /** Lets commits reach the module, then moves the clock by `ms` (firing settle and window timers). */
  pass(ms: number): Promise<void>;
}

export async function startNotifyServer(opts: {
  clock: ManualClock;
  channel: AnyChannel;
  dataDir?: string;
  notify?: Partial<NotifyOptions>;
  /** More modules, installed after notify (e.g. the account module, which deletes rooms). */
  modules?: KithModule[];
  /** How long an idle room stays in memory (the server's default, 30 s, unless given). */
  unloadGraceMs?: number;
  /** Store in this PostgreSQL database (shared by several servers) instead of SQLite in `dataDir`. */
  databaseUrl?: string;
  /** Sees the room API before notify is installed (to count the reads of its start-up pass). */
  onRooms?(rooms: ModuleContext['rooms']): void;
}): Promise<NotifyHarness> {
  const dataDir = opts.dataDir ?? (await makeDataDir());
  let parts: NotifyParts | undefined;
  let rooms: ModuleContext['rooms'] | undefined;
  const probe: KithModule = {
    name: 'probe',
    async install(ctx) {
      rooms = ctx.rooms;
      opts.onRooms?.(ctx.rooms);
      return { close: async () => undefined };
    },
  };
  const server = await startKithServer(
    (() => {
      const base = defaultConfig();
      return defaultConfig({
        port: 0,
        host: '127.0.0.1',
        dataDir,
        databaseUrl: opts.databaseUrl,
        logLevel: 'silent',
        jwtSecret: TEST_JWT_SECRET,
        limits: { ...base.limits, loginPerMinute: 1000, loginPerAccountPerMinute: 10_000 },
        sync: { ...base.sync, unloadGraceMs: opts.unloadGraceMs ?? base.sync.unloadGraceMs },
      });
    })(),
    {
      modules: [
        calendarModule(),
        probe,
        notifyModule({ clock: opts.clock, channels: () => [opts.channel], settleMs: 10, onInstalled: (p) => (parts = p), ...opts.notify }),
        ...(opts.modules ?? []),
      ],
    },
  );
  const settle = async () => {
    for (let i = 0; i < 3; i++) {
      await parts!.scheduler.idle();
      await parts!.notices.idle();
      await parts!.agenda.idle();
      await new Promise((r) => setImmediate(r));
    }
  };
  const pass = async (ms: number) => {
    await new Promise((r) => setTimeout(r, 30));
    await opts.clock.advanceTo(opts.clock.now() + ms, settle);
  };
  return { server, parts: parts!, rooms: rooms!, dataDir, settle, pass };
}

export type { Y };

/** The server's count of rooms in memory (kith_rooms_loaded on /metrics). */
export async function roomsLoaded(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = /^kith_rooms_loaded (\d+)$/m.exec(text);
  if (!m) throw new Error('kith_rooms_loaded missing from /metrics');
  return Number(m[1]);
}

/** Waits (real time: rooms unload on timers, not on the test's clock) until no room is in memory. */
export async function untilNoRoomLoaded(url: string, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while ((await roomsLoaded(url)) > 0) {
    if (Date.now() > until) throw new Error(`rooms still loaded after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * A notify server (clock at `start`) with the Millers' room: mum (owner), dad (editor), kid (viewer).
 * `pass(ms)` is the server's (see NotifyHarness).
 */
export async function startMillers(opts: { start?: string; notify?: Partial<NotifyOptions>; unloadGraceMs?: number } = {}) {
  const clock = new ManualClock(Date.parse(opts.start ?? '2026-06-01T09:00:00Z'));
  const channel = new RecordingChannel();
  const h = await startNotifyServer({ clock, channel, notify: opts.notify, unloadGraceMs: opts.unloadGraceMs });
  const api = apiClient(h.server.url);
  const mum = await api.signUp('mum');
  const dad = await api.signUp('dad');
  const kid = await api.signUp('kid');
  const roomId = await api.createRoom(mum.token, 'Millers');
  await api.addMember(mum.token, roomId, dad.token, 'editor');
  await api.addMember(mum.token, roomId, kid.token, 'viewer');
  return { clock, channel, h, api, mum, dad, kid, roomId, pass: h.pass };
}
