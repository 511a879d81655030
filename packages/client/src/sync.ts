/**
 * One room's sync socket: a stock y-websocket `WebsocketProvider` plus what Kith adds on top —
 * durable acknowledgements (extension 100), token refresh on the open socket (101), my role in the
 * room as the server announces it (103), and a reading
 * of close codes and refused upgrades that never turns into an endless reconnect loop.
 */
import {
  CLOSE_CODES,
  MESSAGE_AUTH,
  MESSAGE_KITH_DURABLE,
  MESSAGE_KITH_ROLE,
  MESSAGE_SYNC,
  SYNC_STEP1,
  SYNC_STEP2,
  TERMINAL_CLOSES,
  encodeDurable,
  encodeSyncStep1,
  encodeToken,
  readDurable,
  readRole,
  type Role,
} from '@kith/protocol';
import * as decoding from 'lib0/decoding';
import type * as encoding from 'lib0/encoding';
import * as authProtocol from 'y-protocols/auth';
import type { Awareness } from 'y-protocols/awareness';
import { WebsocketProvider } from 'y-websocket';
import * as Y from 'yjs';
import { Emitter } from './emitter.js';
import { KithSyncError } from './errors.js';
import type { UnsavedLedger } from './unsaved.js';

/** A WebSocket constructor: the browser's, or the `ws` package's in Node (no cast needed). */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => object;

export type SyncStatus = 'offline' | 'connecting' | 'syncing' | 'synced' | 'saved';

/** Why the calendar stopped trying to connect. */
export interface StopInfo {
  /** The server's error code, e.g. `MEMBERSHIP_REVOKED`, `REFRESH_TOKEN_REUSED`. */
  code: string;
  /** The WebSocket close code, when a close told us (not for refused upgrades or failed refreshes). */
  closeCode?: number;
}

/** What the sync socket needs from the client's session. */
export interface SyncHost {
  /** The current access token, if signed in. */
  token(): string | undefined;
  /** True when the current token has expired by the local clock. */
  tokenExpired(): boolean;
  /** Refreshes unless `staleToken` was already replaced: 'auth' means the session is over. */
  refresh(staleToken: string | undefined): Promise<'ok' | 'auth' | 'offline'>;
  /** Asks the REST API whether we may still open this room (refreshing the token if needed). */
  checkAccess(roomId: string): Promise<'ok' | 'revoked' | 'auth' | 'offline'>;
  /**
   * The room's whole state as one Yjs update, fetched compressed over HTTP; undefined when it
   * cannot be had (the socket then sends it). Used once, when the local copy is empty.
   */
  fetchState?(roomId: string): Promise<Uint8Array | undefined>;
}

export interface SyncOptions {
  url: string;
  roomId: string;
  doc: Y.Doc;
  awareness: Awareness;
  ledger: UnsavedLedger;
  host: SyncHost;
  WebSocket: WebSocketConstructor;
  maxBackoffMs: number;
  crossTab: boolean;
}

interface SyncEvents {
  /** Something that the status depends on changed. */
  change: () => void;
  'auth-required': (info: StopInfo) => void;
  'access-revoked': (info: StopInfo) => void;
  error: (err: KithSyncError) => void;
  /** The server told this socket my role in the room (on connect and whenever it changes). */
  role: (role: Role) => void;
}

type SyncHandler = (
  encoder: encoding.Encoder,
  decoder: decoding.Decoder,
  provider: WebsocketProvider,
  emitSynced: boolean,
  messageType: number,
) => void;

/** The transaction origin of the room state applied by `seed`. */
const SEED_ORIGIN = Symbol('kith-room-state');

export class SyncConnection extends Emitter<SyncEvents> {
  readonly provider: WebsocketProvider;
  /** A durable acknowledgement arrived on the current socket. */
  ackReceived = false;
  /** Why we stopped connecting; undefined while we (want to) connect. */
  stopped: 'manual' | 'auth' | 'revoked' | 'error' | 'closed' | undefined = 'manual';
  /** Sockets created so far (attempts), for diagnostics and tests. */
  attempts = 0;

  private opened = false;
  /** We answered the server's sync step 1 on this socket, so it holds everything we had then. */
  private repliedStep1 = false;
  /** Our sync step 1 frames on this socket not yet answered; each entry: delete id it covers. */
  private probes: Array<number | null> = [];
  private probeScheduled = false;
  private socketToken: string | undefined;
  private refusedStreak = 0;
  private authCloses = 0;
  private rateLimitCloses = 0;
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  /** The room's state over HTTP: tried once; `seeding` while it is on its way. */
  private seedTried = false;
  private seeding = false;

  constructor(private readonly o: SyncOptions) {
    super();
    this.provider = new WebsocketProvider(o.url, o.roomId, o.doc, {
      connect: false,
      awareness: o.awareness,
      params: {},
      WebSocketPolyfill: o.WebSocket as never,
      maxBackoffTime: o.maxBackoffMs,
      disableBc: !o.crossTab,
      shouldReconnect: (event) => this.shouldReconnect(event),
    });
    const p = this.provider;
    p.messageHandlers[MESSAGE_KITH_DURABLE] = (_encoder, decoder, _provider, emitSynced) => {
      const stored = Y.decodeStateVector(readDurable(decoder));
      if (!emitSynced) return; // never over BroadcastChannel; ignore if it ever came that way
      this.o.ledger.acknowledge(stored);
      this.ackReceived = true;
      this.emit('change');
    };
    p.messageHandlers[MESSAGE_KITH_ROLE] = (_encoder, decoder, _provider, emitSynced) => {
      const role = readRole(decoder);
      if (!emitSynced || role === undefined) return; // only from the server; ignore roles we do not know
      this.emit('role', role);
    };
    // Stock y-websocket logs a permission denial with the socket URL, which carries the access
    // token. The only denial the server sends is READ_ONLY to a viewer, which `role` already tells.
    p.messageHandlers[MESSAGE_AUTH] = (_encoder, decoder) => {
      authProtocol.readAuthMessage(decoder, o.doc, () => undefined);
    };
    const syncHandler = p.messageHandlers[MESSAGE_SYNC] as SyncHandler;
    p.messageHandlers[MESSAGE_SYNC] = ((encoder, decoder, provider, emitSynced, messageType) => {
      const subtype = emitSynced ? decoding.peekVarUint(decoder) : -1;
      syncHandler(encoder, decoder, provider, emitSynced, messageType);
      if (subtype === SYNC_STEP2) {
        // The server answers step 1 in order and only from stored state: whatever we sent before
        // the step 1 this answers is stored now.
        const covers = this.probes.shift();
        if (covers !== undefined && covers !== null) this.o.ledger.acknowledgeDeletes(covers);
        this.emit('change');
      } else if (subtype === SYNC_STEP1) {
        // y-websocket sends our step 2 answer right after this handler returns; probe after it.
        const ws = provider.ws;
        queueMicrotask(() => {
          if (provider.ws !== ws) return;
          this.repliedStep1 = true;
          this.probe();
        });
      }
    }) satisfies SyncHandler;

    p.on('status', ({ status }) => {
      if (status === 'connecting') {
        this.attempts++;
        this.opened = false;
        this.socketToken = p.params.token;
      } else if (status === 'connected') {
        this.opened = true;
        this.refusedStreak = 0;
        this.ackReceived = false;
        this.repliedStep1 = false;
        // y-websocket sends its sync step 1 right after this event: the first step 2 answers it.
        this.probes = [null];
        this.send(encodeDurable(Y.encodeStateVector(this.o.ledger.clientsToAsk(this.o.doc))));
        // The server keeps the clock of a presence that left and drops it at that clock as an echo
        // (y-websocket resends it unchanged): renewing it now shows me to the others at once, not
        // at the next renewal up to 15 s later.
        const presence = this.o.awareness.getLocalState();
        if (presence !== null) this.o.awareness.setLocalState(presence);
        const token = this.o.host.token();
        if (token && token !== this.socketToken) this.sendToken(token);
      } else {
        this.resetSocketState();
      }
      this.emit('change');
    });
    p.on('sync', (synced: boolean) => {
      if (synced) {
        this.authCloses = 0;
        this.rateLimitCloses = 0;
      }
      this.emit('change');
    });
    p.on('connection-close', (event: CloseEvent | null) => {
      const neverOpened = !this.opened;
      this.resetSocketState();
      this.opened = false;
      if (event && neverOpened && this.stopped === undefined) this.onRefused();
      this.emit('change');
    });
  }

  get status(): SyncStatus {
    const p = this.provider;
    if (!p.wsconnected) return p.wsconnecting || this.seeding ? 'connecting' : 'offline';
    if (!p.synced) return 'syncing';
    if (!this.ackReceived || this.o.ledger.count > 0) return 'synced';
    return 'saved';
  }

  /** Starts (or resumes) connecting. */
  connect(): void {
    if (this.stopped === 'closed') return;
    this.stopped = undefined;
    const token = this.o.host.token();
    if (!token) {
      this.stop('auth', { code: 'NOT_LOGGED_IN' });
      return;
    }
    if (this.seeding) return;
    if (!this.seedTried && this.o.host.fetchState && this.o.doc.store.clients.size === 0) {
      this.seed(this.o.host.fetchState);
      return;
    }
    if (this.o.host.tokenExpired()) {
      // A socket with this token would be refused: refresh first (offline: try anyway).
      void this.o.host.refresh(token).then((outcome) => {
        if (this.stopped !== undefined) return;
        if (outcome === 'auth') this.stop('auth', { code: 'TOKEN_EXPIRED' });
        else this.resume();
      });
      return;
    }
    this.setToken(token);
    this.provider.connect();
    this.emit('change');
  }

  /** Stops connecting (the calendar keeps working offline). */
  disconnect(): void {
    if (this.stopped === undefined) this.stopped = 'manual';
    this.clearTimers();
    this.provider.disconnect();
    this.emit('change');
  }

  /** A new access token: used by the next socket, and sent over the open one (extension 101). */
  setToken(token: string): void {
    this.provider.params = { ...this.provider.params, token };
    if (this.provider.wsconnected && token !== this.socketToken) this.sendToken(token);
  }

  /** The session is over: stop and tell the app. */
  authRequired(code: string): void {
    if (this.stopped === 'closed' || this.stopped === 'auth') return;
    this.stop('auth', { code });
  }

  /** A local transaction that only deleted: ask the server to confirm it once stored. */
  onLocalDelete(): void {
    if (this.probeScheduled) return;
    this.probeScheduled = true;
    queueMicrotask(() => {
      this.probeScheduled = false;
      this.probe();
    });
  }

  destroy(): void {
    this.stopped = 'closed';
    this.clearTimers();
    this.provider.destroy();
    this.removeAll();
  }

  private sendToken(token: string): void {
    this.socketToken = token;
    this.send(encodeToken(token));
  }

  private send(frame: Uint8Array): void {
    const ws = this.provider.ws;
    if (ws && this.provider.wsconnected && ws.readyState === 1) ws.send(frame);
  }

  /** Sends a sync step 1 that, once answered, confirms the delete-only edits made so far. */
  private probe(): void {
    const ledger = this.o.ledger;
    if (!this.repliedStep1 || !this.provider.wsconnected || !ledger.hasPendingDeletes) return;
    const covers = ledger.lastDeleteId;
    if (this.probes.includes(covers)) return;
    this.probes.push(covers);
    this.send(encodeSyncStep1(Y.encodeStateVector(this.o.doc)));
  }

  private resetSocketState(): void {
    this.ackReceived = false;
    this.repliedStep1 = false;
    this.probes = [];
  }

  private stop(kind: 'auth' | 'revoked' | 'error', info: StopInfo, err?: KithSyncError): void {
    this.stopped = kind;
    this.clearTimers();
    this.provider.disconnect();
    this.emit('change');
    if (kind === 'auth') this.emit('auth-required', info);
    else if (kind === 'revoked') this.emit('access-revoked', info);
    else this.emit('error', err ?? new KithSyncError(info.code, info.closeCode ?? 0));
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  private clearTimers(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  /**
   * An empty local copy (a new device) is filled from the room's compressed state over HTTP
   * before the socket opens: the socket's sync step 2 then carries only what changed since,
   * instead of the whole room in one uncompressed frame. Any failure just connects as usual.
   */
  private seed(fetchState: (roomId: string) => Promise<Uint8Array | undefined>): void {
    this.seedTried = true;
    this.seeding = true;
    this.emit('change');
    void fetchState(this.o.roomId)
      .then((update) => {
        // Not the provider's origin: it is not sent back (the socket is not open yet anyway).
        if (update && this.stopped !== 'closed') Y.applyUpdate(this.o.doc, update, SEED_ORIGIN);
      })
      .catch(() => undefined)
      .finally(() => {
        this.seeding = false;
        if (this.stopped === undefined) this.connect();
        else this.emit('change');
      });
  }

  private resume(): void {
    if (this.stopped !== undefined) return;
    const token = this.o.host.token();
    if (token) this.setToken(token);
    this.provider.connect();
  }

  /** Called by y-websocket for every close the server initiated; false stops its reconnecting. */
  private shouldReconnect(event: CloseEvent): boolean {
    const code = event.code;
    const reason = event.reason || '';
    if (this.stopped !== undefined) return false;
    if (code === CLOSE_CODES.UNAUTHORIZED) {
      // One refresh, then reconnect; a second 4401 before the socket synced again means the
      // refreshed token is refused too: stop instead of looping.
      if (++this.authCloses > 1) {
        queueMicrotask(() => this.stop('auth', { code: reason || 'UNAUTHENTICATED', closeCode: code }));
        return false;
      }
      const stale = this.socketToken;
      void this.o.host.refresh(stale).then((outcome) => {
        if (this.stopped !== undefined) return;
        if (outcome === 'auth') this.stop('auth', { code: reason || 'TOKEN_EXPIRED', closeCode: code });
        else this.resume();
      });
      return false;
    }
    if (code === CLOSE_CODES.FORBIDDEN) {
      queueMicrotask(() => this.stop('revoked', { code: reason || 'MEMBERSHIP_REVOKED', closeCode: code }));
      return false;
    }
    const terminal = TERMINAL_CLOSES[code];
    if (terminal !== undefined) {
      const info = { code: reason || terminal, closeCode: code };
      queueMicrotask(() => this.stop('error', info, new KithSyncError(info.code, code)));
      return false;
    }
    if (code === CLOSE_CODES.TOO_MANY_REQUESTS) {
      // Rate limited: back off longer than y-websocket would (its backoff resets after a sync).
      const delay = Math.min(30_000, 1000 * 2 ** this.rateLimitCloses++);
      this.later(delay, () => this.resume());
      return false;
    }
    // 1001 SHUTTING_DOWN, 1013 ROOM_UNAVAILABLE, 1011, 1006 (network), …: reconnect with backoff.
    return true;
  }

  /**
   * The socket closed before it opened: the server is unreachable, or it refused the upgrade
   * (401/403/503 — browsers do not say which). Ask the REST API when the streak reaches 1 with a
   * locally expired token, then at 2, 4, 8, … failures: a refusal for auth or membership stops.
   */
  private onRefused(): void {
    this.refusedStreak++;
    const n = this.refusedStreak;
    const powerOfTwo = (n & (n - 1)) === 0;
    if (!(powerOfTwo && n >= 2) && !(n === 1 && this.o.host.tokenExpired())) return;
    void this.o.host.checkAccess(this.o.roomId).then((outcome) => {
      if (this.stopped !== undefined) return;
      if (outcome === 'revoked') this.stop('revoked', { code: 'ROOM_ACCESS_DENIED' });
      else if (outcome === 'auth') this.stop('auth', { code: 'UNAUTHENTICATED' });
      else {
        const token = this.o.host.token();
        if (token) this.setToken(token);
      }
    });
  }
}
