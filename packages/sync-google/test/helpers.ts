/**
 * Test rig: a real kith-server (in-process, own data dir), the fake Google, and the mirror worker built
 * against the running server (its SyncServer as host). The Google routes are mounted on a small Fastify app
 * of ours on a second port, authenticating users through kith-server's `GET /users/me`.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { calendarModule, defaultConfig, startKithServer, type KithServer } from '@kith/server';
import Fastify, { type FastifyInstance } from 'fastify';
import * as Y from 'yjs';
import { listEvents, type CalendarEvent } from '@kith/model';
import { startFakeGoogle, type FakeGoogle } from '@kith/fake-google';
import { freePort } from '@kith/test-support';
import { registerGoogleRoutes } from '../src/routes.js';
import { GoogleSyncWorker } from '../src/worker.js';
import { kithParts, remoteCanon, stableJson, type PartCanon, type RemoteState, googleMaster, exceptionKey, googleOccurrence } from '../src/canon.js';
import type { Role } from '@kith/protocol';
import type { GoogleSyncHost, GoogleSyncOptions } from '../src/options.js';

export const CLIENT_ID = 'kith-test.apps.googleusercontent.com';
export const CLIENT_SECRET = 'kith-test-secret';
export const GOOGLE_USER = 'family@kith.example';

export interface Api {
  request<T = any>(method: string, path: string, opts?: { token?: string; body?: unknown; headers?: Record<string, string> }): Promise<{ status: number; body: T; headers: Headers }>;
}

export function api(baseUrl: string): Api {
  return {
    async request(method, p, opts = {}) {
      const headers: Record<string, string> = { ...opts.headers };
      if (opts.token) headers.authorization = `Bearer ${opts.token}`;
      let body: string | undefined;
      if (opts.body !== undefined) {
        headers['content-type'] = 'application/json';
        body = JSON.stringify(opts.body);
      }
      const res = await fetch(baseUrl + p, { method, headers, body, redirect: 'manual' });
      const text = await res.text();
      let parsed: any = text;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        /* not JSON */
      }
      return { status: res.status, body: parsed, headers: res.headers };
    },
  };
}

export interface Rig {
  dir: string;
  kith: KithServer;
  kithApi: Api;
  fake: FakeGoogle;
  /** Our app with the Google routes. */
  app: FastifyInstance;
  appUrl: string;
  appApi: Api;
  host: GoogleSyncHost;
  options: GoogleSyncOptions;
  worker: GoogleSyncWorker;
  /** Added to the worker's clock (the fake keeps real time): lets a test jump ahead. */
  clock: { offset: number };
  /** Starts a new worker on the same data dir (after kill/close). */
  restartWorker(): Promise<GoogleSyncWorker>;
  signUp(prefix?: string): Promise<{ userId: string; username: string; token: string }>;
  createRoom(token: string, name?: string): Promise<string>;
  close(): Promise<void>;
}

export function hostOf(kith: KithServer): GoogleSyncHost {
  return {
    editRoom: (roomId, edit) => kith.sync.editRoom(roomId, edit),
    readRoom: (roomId, read) => kith.sync.readRoom(roomId, read),
    watchRoom: (roomId, w) => kith.sync.watchRoom(roomId, w),
    memberRole: async (roomId, userId) => (await kith.storage.rooms.member(roomId, userId))?.role as Role | undefined,
    roomName: async (roomId) => (await kith.storage.rooms.get(roomId))?.name,
  };
}

export async function startRig(opts: { worker?: Partial<GoogleSyncOptions>; fake?: Parameters<typeof startFakeGoogle>[0]; configured?: boolean } = {}): Promise<Rig> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kith-sync-google-'));
  const kith = await startKithServer(
    defaultConfig({
      port: 0,
      dataDir: path.join(dir, 'kith'),
      logLevel: 'silent',
      jwtSecret: 'test-secret-test-secret-test-secret-0123',
      limits: { loginPerMinute: 1000 } as never,
      sync: { unloadGraceMs: 60_000 } as never,
    }),
    { modules: [calendarModule()] },
  );
  const kithApi = api(kith.url);
  const fake = await startFakeGoogle({ defaultUser: GOOGLE_USER, defaultTimeZone: 'UTC', ...opts.fake });
  const port = await freePort();
  const appUrl = `http://127.0.0.1:${port}`;
  const host = hostOf(kith);
  const configured = opts.configured ?? true;
  const clock = { offset: 0 };
  const options: GoogleSyncOptions = {
    ...(configured ? { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUrl: `${appUrl}/google/callback` } : {}),
    apiRootUrl: fake.rootUrl,
    oauthBaseUrl: fake.url,
    dataDir: path.join(dir, 'kith'),
    verifyUser: async (request) => {
      const auth = request.headers.authorization;
      if (!auth) return null;
      const res = await fetch(`${kith.url}/users/me`, { headers: { authorization: auth } });
      if (res.status !== 200) return null;
      return (await res.json()) as { userId: string; username: string };
    },
    pollIntervalMs: 60_000,
    debounceMs: 10,
    requestsPerSecond: 500,
    requestBurst: 500,
    backoffBaseMs: 5,
    backoffMaxMs: 60,
    maxAttempts: 8,
    quotaPauseMs: 300,
    now: () => Date.now() + clock.offset,
    ...opts.worker,
  };
  const app = Fastify({ logger: false });
  // Without credentials there is no worker at all (nothing is created in the data dir).
  let worker = configured ? new GoogleSyncWorker(host, options) : (null as unknown as GoogleSyncWorker);
  // The routes reach the worker through a stable proxy, so tests can replace the worker underneath.
  const proxy = new Proxy({} as GoogleSyncWorker, {
    get: (_t, prop) => {
      const v = (worker as any)[prop];
      return typeof v === 'function' ? v.bind(worker) : v;
    },
  });
  await registerGoogleRoutes(app, configured ? proxy : null);
  await app.listen({ port, host: '127.0.0.1' });
  if (configured) await worker.start();
  const appApi = api(appUrl);
  let counter = 0;
  const rig: Rig = {
    dir,
    kith,
    kithApi,
    fake,
    app,
    appUrl,
    appApi,
    host,
    options,
    clock,
    get worker() {
      return worker;
    },
    async restartWorker() {
      worker = new GoogleSyncWorker(host, options);
      await worker.start();
      return worker;
    },
    async signUp(prefix = 'u') {
      const username = `${prefix}${Date.now().toString(36)}${(counter++).toString(36)}`.slice(0, 32);
      const password = 'correct horse battery';
      const reg = await kithApi.request('POST', '/users/register', { body: { username, password } });
      if (reg.status !== 201) throw new Error(`register: ${reg.status}`);
      const login = await kithApi.request('POST', '/users/login', { body: { username, password } });
      if (login.status !== 200) throw new Error(`login: ${login.status}`);
      return { userId: reg.body.userId, username, token: login.body.token };
    },
    async createRoom(token, name = 'Family') {
      const res = await kithApi.request('POST', '/rooms', { token, body: { name } });
      if (res.status !== 201) throw new Error(`room: ${res.status}`);
      return res.body.roomId;
    },
    async close() {
      await worker?.close().catch(() => undefined);
      await app.close();
      await kith.close();
      await fake.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  return rig;
}

/** The browser leg: follow the consent URL to the fake, then deliver its redirect to our callback. */
export async function consent(url: string): Promise<URL> {
  const res = await fetch(url, { redirect: 'manual' });
  if (res.status !== 302) throw new Error(`consent answered ${res.status}`);
  return new URL(res.headers.get('location')!);
}

/** The `name=value` pair a response's Set-Cookie sets (what a browser sends back), or '' when none. */
export function cookieFrom(headers: Headers): string {
  return (headers.get('set-cookie') ?? '').split(';')[0]!.trim();
}

/** Links a room through the real OAuth flow (one browser: the auth-url cookie goes to the callback). */
export async function linkRoom(rig: Rig, token: string, roomId: string): Promise<{ calendarId: string }> {
  const auth = await rig.appApi.request('GET', `/google/auth-url?roomId=${encodeURIComponent(roomId)}`, { token });
  if (auth.status !== 200) throw new Error(`auth-url: ${auth.status} ${JSON.stringify(auth.body)}`);
  const back = await consent(auth.body.url);
  const cb = await fetch(back.toString(), { headers: { cookie: cookieFrom(auth.headers) } });
  const body = (await cb.json()) as any;
  if (cb.status !== 200) throw new Error(`callback: ${cb.status} ${JSON.stringify(body)}`);
  return body;
}

/** A room with an owner, linked to a fresh calendar. */
export async function linkedRoom(rig: Rig, name = 'Family'): Promise<{ token: string; userId: string; roomId: string; calendarId: string }> {
  const u = await rig.signUp();
  const roomId = await rig.createRoom(u.token, name);
  const { calendarId } = await linkRoom(rig, u.token, roomId);
  return { token: u.token, userId: u.userId, roomId, calendarId };
}

/** Edits a room as a member's device would (not the mirror's origin). */
export function edit<T>(rig: Rig, roomId: string, fn: (doc: Y.Doc) => T): Promise<T> {
  return rig.kith.sync.editRoom(roomId, fn);
}

export function events(rig: Rig, roomId: string, opts: { includeDeleted?: boolean } = {}): Promise<CalendarEvent[]> {
  return rig.kith.sync.readRoom(roomId, (doc) => listEvents(doc, opts));
}

export const me = { actor: 'tester' };

/**
 * Both sides in canonical form, for convergence checks: the room's live events (one entry per exported part)
 * and the Google calendar's live masters with their exceptions.
 */
export async function bothSides(rig: Rig, roomId: string, calendarId: string, calTz = 'UTC'): Promise<{ room: Map<string, string>; google: Map<string, string>; googleIds: string[] }> {
  const room = new Map<string, string>();
  for (const ev of await events(rig, roomId)) {
    for (const [part, canon] of kithParts(ev, calTz)) room.set(`${ev.id}|${part}`, stableJson(canon));
  }
  const all = rig.fake.events(calendarId) as any[];
  const masters = all.filter((e) => !e.recurringEventId && e.status !== 'cancelled');
  const google = new Map<string, string>();
  const googleIds: string[] = [];
  const rows = new Map(rig.worker.store.mirrorRows(roomId).map((r) => [r.googleId, r]));
  for (const m of masters) {
    const master = googleMaster(m, calTz)!;
    const rs: RemoteState = { id: m.id, etag: m.etag, updated: 0, cancelled: false, master, ex: {} };
    for (const x of all.filter((e) => e.recurringEventId === m.id)) {
      const k = exceptionKey(x, master, calTz);
      if (!k) continue;
      rs.ex[k] = { id: x.id, etag: x.etag, updated: 0, cancelled: x.status === 'cancelled', values: x.status === 'cancelled' ? null : googleOccurrence(x, calTz) };
    }
    const row = rows.get(m.id);
    const key = row ? `${row.kithId}|${row.part}` : `?${m.id}`;
    googleIds.push(key);
    google.set(key, stableJson(remoteCanon(rs) as PartCanon));
  }
  return { room, google, googleIds };
}

/** Differences between the two sides: keys only on one side, and keys whose forms differ. */
export async function diff(rig: Rig, roomId: string, calendarId: string, calTz = 'UTC'): Promise<{ onlyRoom: string[]; onlyGoogle: string[]; differ: string[]; duplicates: number }> {
  const { room, google, googleIds } = await bothSides(rig, roomId, calendarId, calTz);
  const onlyRoom = [...room.keys()].filter((k) => !google.has(k));
  const onlyGoogle = [...google.keys()].filter((k) => !room.has(k));
  const differ = [...room.keys()].filter((k) => google.has(k) && google.get(k) !== room.get(k));
  const duplicates = googleIds.length - new Set(googleIds).size;
  return { onlyRoom, onlyGoogle, differ, duplicates };
}

/** Google writes by the API (what the worker sent), summed over the event and calendar routes. */
export function googleWrites(fake: FakeGoogle): number {
  const w = fake.stats().writes;
  return Object.entries(w)
    .filter(([k]) => k.startsWith('events.'))
    .reduce((n, [, v]) => n + v, 0);
}
