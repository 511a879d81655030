/**
 * The mirror as its own process: rooms are reached as a Yjs client of kith-server over its sync WebSocket
 * (the y-websocket protocol plus Kith's "saved on the server" acknowledgements, message 100), acting as the
 * user who linked each room. That process shares kith-server's data dir: the mirror's state file, and the
 * token-signing secret it uses to sign short-lived access tokens for those users (so it needs no password).
 *
 * kith-server then runs with the worker switched off (`installGoogleSync(..., { runWorker: false })`): it
 * keeps serving the routes (consent, callback, status, unlink) and this process picks up links as they
 * appear, change and go.
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  MESSAGE_KITH_DURABLE,
  MESSAGE_SYNC,
  encodeDurable,
  encodeSyncStep1,
  encodeToken,
  encodeUpdate,
  readDurable,
  type Role,
  type TokenSubject,
} from '@kith/protocol';
import { createSigner } from 'fast-jwt';
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import WebSocket from 'ws';
import * as syncProtocol from 'y-protocols/sync';
import * as Y from 'yjs';
import { Stopped } from './google.js';
import { RoomRefused, type GoogleSyncHost, type GoogleSyncOptions } from './options.js';
import { GoogleSyncWorker } from './worker.js';

const TOKEN_TTL_S = 3600;

/**
 * Answers to the sync upgrade that refuse the user the room for good: ROOM_ACCESS_DENIED (not a member: removed,
 * or the room was deleted) and a room that does not exist. A socket closed with 4403 or 4404 (MEMBERSHIP_REVOKED,
 * …) reconnects like any other, and the new upgrade's answer tells whether the room is still open to the user.
 */
const REFUSED_UPGRADES = new Set([403, 404, 410]);

/**
 * An HS256 access token as kith-server signs them (@kith/protocol's `TokenClaims`: `sub`, `username`,
 * `iat`, `exp`), signed with fast-jwt, the library kith-server's @fastify/jwt signs with.
 */
export function signAccessToken(secret: string, user: { userId: string; username: string }, ttlSeconds = TOKEN_TTL_S): string {
  const sign = createSigner({ key: secret, algorithm: 'HS256', expiresIn: ttlSeconds * 1000 });
  const subject: TokenSubject = { sub: user.userId, username: user.username };
  return sign(subject);
}

/** kith-server's signing secret: KITH_JWT_SECRET, or the `jwt-secret` file it keeps in its data dir. */
export function readJwtSecret(dataDir: string, configured?: string): string {
  if (configured) return configured;
  const secret = fs.readFileSync(path.join(dataDir, 'jwt-secret'), 'utf8').trim();
  if (secret.length < 32) throw new Error('the jwt-secret in the data dir is too short');
  return secret;
}

interface Watcher {
  onOpen?(doc: Y.Doc): void;
  onCommitted(doc: Y.Doc): void;
  onLost?(): void;
}

/**
 * One room replicated over a WebSocket, reconnecting with backoff, until closed or the server refuses the user
 * the room: then whatever waits for it is rejected (RoomRefused) and its watchers are told it is lost.
 */
class RemoteRoom {
  readonly doc = new Y.Doc();
  private ws: WebSocket | undefined;
  private closed = false;
  private attempt = 0;
  private synced = false;
  private readonly syncWaiters: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  private stored = 0;
  private readonly storedWaiters: Array<{ clock: number; resolve: () => void; reject: (e: Error) => void }> = [];
  readonly watchers = new Set<Watcher>();
  private refresh: NodeJS.Timeout | undefined;
  lastError: string | undefined;
  /** Set once the server refused the user this room: no more connections. */
  refused: RoomRefused | undefined;

  constructor(
    private readonly wsUrl: string,
    readonly roomId: string,
    private readonly token: () => string,
    private readonly onRefused: () => void,
  ) {
    this.doc.on('update', (update: Uint8Array, origin: unknown) => {
      if (origin === this) return;
      this.send(encodeUpdate(update));
    });
    this.connect();
  }

  private send(frame: Uint8Array): void {
    if (this.ws?.readyState !== WebSocket.OPEN) return;
    this.ws.send(frame);
  }

  private connect(): void {
    if (this.closed) return;
    let token: string;
    try {
      token = this.token();
    } catch (err) {
      // The room was unlinked meanwhile: no one to act as.
      this.refuse(new RoomRefused(this.roomId, (err as Error).message));
      return;
    }
    const ws = new WebSocket(`${this.wsUrl}/sync/${encodeURIComponent(this.roomId)}`, { headers: { authorization: `Bearer ${token}` } });
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    ws.on('open', () => {
      this.attempt = 0;
      this.send(encodeSyncStep1(Y.encodeStateVector(this.doc)));
      // "Tell me when my edits are stored."
      this.send(encodeDurable(Y.encodeStateVector(new Map([[this.doc.clientID, 0]]))));
      this.refresh = setInterval(() => this.send(encodeToken(this.token())), (TOKEN_TTL_S / 2) * 1000);
      this.refresh.unref();
    });
    ws.on('message', (data: ArrayBuffer) => this.onMessage(new Uint8Array(data)));
    let upgradeError: string | undefined;
    ws.on('unexpected-response', (_req, res) => {
      const status = res.statusCode ?? 0;
      upgradeError = `sync upgrade refused: ${status}`;
      if (REFUSED_UPGRADES.has(status)) this.refused = new RoomRefused(this.roomId, `the server refuses the linked user this room (${upgradeError})`);
      res.resume();
      // ws leaves a refused handshake to this listener: end it, so that 'close' follows (and a reconnect unless refused).
      ws.terminate();
    });
    ws.on('error', (err) => {
      this.lastError = upgradeError ?? err.message;
    });
    ws.on('close', (code, reason) => {
      if (this.refresh) clearInterval(this.refresh);
      if (this.closed) return;
      this.lastError = upgradeError ?? `closed ${code} ${reason.toString()}`;
      this.synced = false;
      if (this.refused) {
        this.refuse(this.refused);
        return;
      }
      const delay = Math.min(30_000, 200 * 2 ** this.attempt++);
      setTimeout(() => this.connect(), delay).unref();
    });
  }

  private onMessage(frame: Uint8Array): void {
    const d = decoding.createDecoder(frame);
    const type = decoding.readVarUint(d);
    if (type === MESSAGE_SYNC) {
      const reply = encoding.createEncoder();
      encoding.writeVarUint(reply, MESSAGE_SYNC);
      const kind = syncProtocol.readSyncMessage(d, reply, this.doc, this);
      if (encoding.length(reply) > 1) this.ws?.send(encoding.toUint8Array(reply));
      if (kind === syncProtocol.messageYjsSyncStep2 && !this.synced) {
        this.synced = true;
        for (const w of this.syncWaiters.splice(0)) w.resolve();
        for (const w of this.watchers) w.onOpen?.(this.doc);
      }
      if (kind !== syncProtocol.messageYjsSyncStep1) for (const w of this.watchers) w.onCommitted(this.doc);
    } else if (type === MESSAGE_KITH_DURABLE) {
      const sv = Y.decodeStateVector(readDurable(d));
      this.stored = Math.max(this.stored, sv.get(this.doc.clientID) ?? 0);
      for (let i = this.storedWaiters.length - 1; i >= 0; i--) {
        if (this.storedWaiters[i]!.clock <= this.stored) this.storedWaiters.splice(i, 1)[0]!.resolve();
      }
    }
  }

  ready(): Promise<void> {
    if (this.refused) return Promise.reject(this.refused);
    if (this.closed) return Promise.reject(new Stopped());
    if (this.synced) return Promise.resolve();
    return new Promise((resolve, reject) => this.syncWaiters.push({ resolve, reject }));
  }

  /** Resolves once everything this client wrote so far is stored by the server. */
  storedUpTo(): Promise<void> {
    const clock = Y.getState(this.doc.store, this.doc.clientID);
    if (clock <= this.stored) return Promise.resolve();
    if (this.refused) return Promise.reject(this.refused);
    if (this.closed) return Promise.reject(new Stopped());
    return new Promise((resolve, reject) => this.storedWaiters.push({ clock, resolve, reject }));
  }

  /** Rejects whatever waits for the room (it will never sync or store now). */
  private release(err: Error): void {
    for (const w of this.syncWaiters.splice(0)) w.reject(err);
    for (const w of this.storedWaiters.splice(0)) w.reject(err);
  }

  /** The server refused the user this room: no reconnecting; waiters and watchers learn it now. */
  private refuse(err: RoomRefused): void {
    this.refused = err;
    this.onRefused();
    this.close(err);
  }

  close(err: Error = new Stopped()): void {
    if (this.closed) return;
    this.closed = true;
    if (this.refresh) clearInterval(this.refresh);
    this.ws?.close();
    this.release(err);
    for (const w of this.watchers) w.onLost?.();
    this.doc.destroy();
  }
}

export interface RemoteHostOptions {
  /** kith-server's base URL, e.g. http://127.0.0.1:8080 */
  serverUrl: string;
  jwtSecret: string;
  /** Who acts in each room: the user who linked it. */
  actingUser(roomId: string): { userId: string; username: string } | undefined;
}

/** A GoogleSyncHost over kith-server's public interfaces (sync WebSocket and REST). */
export class RemoteHost implements GoogleSyncHost {
  private readonly rooms = new Map<string, RemoteRoom>();
  private readonly wsUrl: string;

  constructor(private readonly o: RemoteHostOptions) {
    this.wsUrl = o.serverUrl.replace(/^http/, 'ws').replace(/\/+$/, '');
  }

  private tokenFor(roomId: string): string {
    const user = this.o.actingUser(roomId);
    if (!user) throw new Error(`room ${roomId} is not linked`);
    return signAccessToken(this.o.jwtSecret, user);
  }

  private room(roomId: string): RemoteRoom {
    let r = this.rooms.get(roomId);
    if (!r) {
      r = new RemoteRoom(this.wsUrl, roomId, () => this.tokenFor(roomId), () => {
        // Refused: the next use tries again (once), as the room may have been linked again by a user it is open to.
        if (this.rooms.get(roomId)?.refused) this.rooms.delete(roomId);
      });
      if (!r.refused) this.rooms.set(roomId, r);
    }
    return r;
  }

  async editRoom<T>(roomId: string, edit: (doc: Y.Doc) => T): Promise<T> {
    const r = this.room(roomId);
    await r.ready();
    const result = edit(r.doc);
    await r.storedUpTo();
    return result;
  }

  async readRoom<T>(roomId: string, read: (doc: Y.Doc) => T): Promise<T> {
    const r = this.room(roomId);
    await r.ready();
    return read(r.doc);
  }

  async watchRoom(roomId: string, watcher: Watcher): Promise<() => void> {
    const r = this.room(roomId);
    await r.ready();
    r.watchers.add(watcher);
    watcher.onOpen?.(r.doc);
    return () => {
      r.watchers.delete(watcher);
      if (r.watchers.size === 0) {
        r.close();
        if (this.rooms.get(roomId) === r) this.rooms.delete(roomId);
      }
    };
  }

  private async roomInfo(roomId: string, userId: string): Promise<{ role?: Role; name?: string } | undefined> {
    const user = this.o.actingUser(roomId);
    if (!user || user.userId !== userId) return undefined;
    const res = await fetch(`${this.o.serverUrl.replace(/\/+$/, '')}/rooms/${encodeURIComponent(roomId)}`, {
      headers: { authorization: `Bearer ${signAccessToken(this.o.jwtSecret, user, 60)}` },
    });
    if (res.status === 404 || res.status === 401 || res.status === 403) return undefined;
    if (res.status !== 200) throw new Error(`GET /rooms/${roomId} answered ${res.status}`);
    return (await res.json()) as { role?: Role; name?: string };
  }

  async memberRole(roomId: string, userId: string): Promise<Role | undefined> {
    return (await this.roomInfo(roomId, userId))?.role;
  }

  async roomName(roomId: string): Promise<string | undefined> {
    const user = this.o.actingUser(roomId);
    return user ? (await this.roomInfo(roomId, user.userId))?.name : undefined;
  }

  close(): void {
    for (const r of this.rooms.values()) r.close();
    this.rooms.clear();
  }
}

export interface StandaloneOptions extends Omit<GoogleSyncOptions, 'verifyUser'> {
  serverUrl: string;
  /** Default: KITH_JWT_SECRET semantics — the `jwt-secret` file in `dataDir`. */
  jwtSecret?: string;
  /** How often the state file is checked for links made, changed or removed by kith-server (default 2 s). */
  linkPollMs?: number;
}

export interface StandaloneWorker {
  readonly worker: GoogleSyncWorker;
  close(): Promise<void>;
}

/** Runs the mirror worker against a kith-server over the network (the `kith-sync-google` process). */
export async function startStandaloneWorker(o: StandaloneOptions): Promise<StandaloneWorker> {
  const jwtSecret = readJwtSecret(o.dataDir, o.jwtSecret);
  let worker: GoogleSyncWorker | undefined;
  const host = new RemoteHost({
    serverUrl: o.serverUrl,
    jwtSecret,
    actingUser: (roomId) => {
      const link = worker?.store.link(roomId);
      return link?.username ? { userId: link.userId, username: link.username } : undefined;
    },
  });
  worker = new GoogleSyncWorker(host, { ...o, runWorker: true, linkPollMs: o.linkPollMs ?? 2_000 });
  await worker.start();
  return {
    worker,
    close: async () => {
      await worker!.close();
      host.close();
    },
  };
}
