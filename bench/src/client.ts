/**
 * A minimal y-websocket protocol client on a raw `ws` socket, used identically for all three
 * servers. It speaks:
 *   - the y-websocket framing (`varUint type, payload`) for Kith and the reference server;
 *   - Hocuspocus's framing, which is the same messages with a `varString documentName` in front of
 *     every frame, plus the Auth frame (`[doc][2 auth][0 token][varString token]`) that Hocuspocus
 *     requires before it handles anything else for a document. This is the framing
 *     `@hocuspocus/provider` 4.x writes (the provider also appends its version string to the Auth
 *     frame; that field is optional and omitted here).
 * The handshake is the stock one: on open the client sends SyncStep1 (its state vector), answers
 * the server's SyncStep1 with SyncStep2, and is synced when the server's SyncStep2 arrives.
 * Readers keep no Y.Doc (they only time deliveries); a client given a Y.Doc applies what it gets.
 */
import WebSocket from 'ws';
import * as Y from 'yjs';
import * as encoding from 'lib0/encoding';
import { benchNowMs } from './clock.js';

export interface ClientOptions {
  /** Bench-wide client number (used to ignore a writer's own echo). */
  id: number;
  url: string;
  /** Bytes every frame starts with (Hocuspocus: varString document name). */
  prefix: Uint8Array;
  /** Send Hocuspocus's Auth frame first, with this token. */
  authToken?: string;
  /** Apply sync answers and updates to this document (a "fresh client"). */
  doc?: Y.Doc;
  /** Also hand awareness frames (type 1) to the sink: W6 times presence deliveries. */
  sinkAwareness?: boolean;
}

/** Called for every sync update frame (type 0 / subtype 2) a client receives (and awareness frames, if asked). */
export type DeliverySink = (client: SyncClient, receivedAt: number, frame: Buffer, payloadAt: number) => void;

const EMPTY_UPDATE = new Uint8Array([0, 0]);

/**
 * Keep-alive, the same for every server: each open client sends an empty awareness update (no
 * client states, so nothing is stored or relayed) every 30 s, as a stock provider sends its
 * awareness renewal every 15 s. Hocuspocus closes a socket that sent nothing for 60 s
 * (`timeout`); Kith and the reference server ping from the server side instead.
 */
const KEEPALIVE_MS = 30_000;
const keepalive = new Map<SyncClient, number>();
let keepaliveTimer: NodeJS.Timeout | undefined;
function scheduleKeepalive(c: SyncClient): void {
  keepalive.set(c, performance.now() + KEEPALIVE_MS * (0.5 + Math.random() * 0.5));
  if (keepaliveTimer) return;
  keepaliveTimer = setInterval(() => {
    const now = performance.now();
    for (const [client, due] of keepalive) {
      if (!client.open) {
        if (client.closed) keepalive.delete(client);
        continue;
      }
      if (due > now) continue;
      client.send(client.keepaliveFrame);
      keepalive.set(client, now + KEEPALIVE_MS);
    }
    if (keepalive.size === 0) {
      clearInterval(keepaliveTimer);
      keepaliveTimer = undefined;
    }
  }, 1000);
  keepaliveTimer.unref();
}
const EMPTY_SV = new Uint8Array([0]);

function encodeFrame(prefix: Uint8Array, write: (e: encoding.Encoder) => void): Buffer {
  const e = encoding.createEncoder();
  encoding.writeUint8Array(e, prefix);
  write(e);
  const u = encoding.toUint8Array(e);
  return Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

function readVarUint(buf: Buffer, pos: number): { value: number; pos: number } {
  let value = 0;
  let mult = 1;
  for (;;) {
    const b = buf[pos++];
    if (b === undefined) throw new Error('truncated varUint');
    value += (b & 0x7f) * mult;
    if (b < 0x80) return { value, pos };
    mult *= 128;
  }
}

export class SyncClient {
  readonly id: number;
  readonly ws: WebSocket;
  readonly doc: Y.Doc | undefined;
  readonly prefix: Uint8Array;
  sink: DeliverySink | undefined;
  private readonly sinkAwareness: boolean;
  /** benchNowMs() when the connection was started (before the TCP connect). */
  readonly startedAt: number;
  openedAt = NaN;
  /** When the server's SyncStep2 (its sync answer) had fully arrived. */
  syncAnswerAt = NaN;
  /** Bytes of the sync answer: the SyncStep2 and any updates sent before it (a room served from its stored log). */
  syncAnswerBytes = 0;
  private updateBytesBeforeSync = 0;
  /** When the sync answer had been applied to `doc` (equals syncAnswerAt without a doc). */
  syncedAt = NaN;
  synced = false;
  closed = false;
  closeCode = 0;
  closeReason = '';
  error: Error | undefined;
  framesReceived = 0;
  bytesReceived = 0;
  /** `[prefix][1 awareness][varUint8Array [0]]`: an awareness update about no client. */
  readonly keepaliveFrame: Buffer;
  private readonly syncWaiters: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];

  constructor(options: ClientOptions, sink?: DeliverySink) {
    this.id = options.id;
    this.doc = options.doc;
    this.prefix = options.prefix;
    this.sink = sink;
    this.sinkAwareness = options.sinkAwareness ?? false;
    this.keepaliveFrame = encodeFrame(this.prefix, (e) => {
      encoding.writeVarUint(e, 1);
      encoding.writeVarUint8Array(e, new Uint8Array([0]));
    });
    this.startedAt = benchNowMs();
    const ws = new WebSocket(options.url, { perMessageDeflate: false });
    this.ws = ws;
    ws.binaryType = 'nodebuffer';
    ws.on('open', () => {
      this.openedAt = benchNowMs();
      if (options.authToken !== undefined) {
        const token = options.authToken;
        ws.send(
          encodeFrame(this.prefix, (e) => {
            encoding.writeVarUint(e, 2); // Auth
            encoding.writeVarUint(e, 0); // Token
            encoding.writeVarString(e, token);
          }),
        );
      }
      const sv = this.doc ? Y.encodeStateVector(this.doc) : EMPTY_SV;
      ws.send(
        encodeFrame(this.prefix, (e) => {
          encoding.writeVarUint(e, 0);
          encoding.writeVarUint(e, 0);
          encoding.writeVarUint8Array(e, sv);
        }),
      );
      scheduleKeepalive(this);
    });
    ws.on('message', this.onMessage);
    ws.on('error', (err) => {
      this.error = err;
      this.failWaiters(err);
    });
    ws.on('unexpected-response', (_req, res) => {
      const err = new Error(`upgrade refused: HTTP ${res.statusCode}`);
      this.error = err;
      res.resume();
      this.failWaiters(err);
      ws.terminate();
    });
    ws.on('close', (code, reason) => {
      this.closed = true;
      keepalive.delete(this);
      this.closeCode = code;
      this.closeReason = reason.toString();
      this.failWaiters(new Error(`socket closed (${code} ${this.closeReason}) before sync`));
    });
  }

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  send(frame: Buffer | Uint8Array): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(frame);
  }

  /** Resolves once the server's sync answer has arrived (and been applied, with a doc). */
  waitSynced(timeoutMs = 30_000): Promise<void> {
    if (this.synced) return Promise.resolve();
    if (this.error) return Promise.reject(this.error);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`client ${this.id}: no sync answer within ${timeoutMs} ms`)), timeoutMs);
      this.syncWaiters.push({
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
    });
  }

  close(): void {
    this.sink = undefined;
    keepalive.delete(this);
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.terminate();
  }

  private failWaiters(err: Error): void {
    if (this.synced) return;
    for (const w of this.syncWaiters.splice(0)) w.reject(err);
  }

  private readonly onMessage = (data: Buffer): void => {
    // The bench clock, so receipt times compare with send times stamped in another process.
    const t = benchNowMs();
    this.framesReceived++;
    this.bytesReceived += data.length;
    let pos = this.prefix.length;
    const type = data[pos++];
    if (type === 0 || type === 4) {
      // Sync (4 is Hocuspocus's SyncReply: the same payload).
      const sub = data[pos++];
      if (sub === 2) {
        if (!this.synced) this.updateBytesBeforeSync += data.length;
        this.sink?.(this, t, data, pos);
        if (this.doc) this.applyPayload(data, pos);
      } else if (sub === 0) {
        const r = readVarUint(data, pos);
        const sv = data.subarray(r.pos, r.pos + r.value);
        const update = this.doc ? Y.encodeStateAsUpdate(this.doc, sv) : EMPTY_UPDATE;
        this.send(
          encodeFrame(this.prefix, (e) => {
            encoding.writeVarUint(e, 0);
            encoding.writeVarUint(e, 1);
            encoding.writeVarUint8Array(e, update);
          }),
        );
      } else if (sub === 1) {
        if (!this.synced) {
          this.syncAnswerAt = t;
          this.syncAnswerBytes = this.updateBytesBeforeSync + data.length;
        }
        if (this.doc) this.applyPayload(data, pos);
        if (!this.synced) {
          this.syncedAt = benchNowMs();
          this.synced = true;
          for (const w of this.syncWaiters.splice(0)) w.resolve();
        }
      }
    } else if (type === 1) {
      if (this.sinkAwareness) this.sink?.(this, t, data, pos);
    } else if (type === 2 && this.prefix.length > 0) {
      // Hocuspocus auth answer: 1 = permission denied, 2 = authenticated.
      if (data[pos] === 1) {
        const err = new Error('hocuspocus: permission denied');
        this.error = err;
        this.failWaiters(err);
      }
    }
    // 1 awareness, 3 query awareness, 8 Hocuspocus sync status, 100 Kith durable ack: not needed.
  };

  private applyPayload(data: Buffer, pos: number): void {
    const r = readVarUint(data, pos);
    Y.applyUpdate(this.doc!, data.subarray(r.pos, r.pos + r.value), this);
  }
}

/**
 * Opens `count` clients with at most `concurrency` handshakes in flight, waiting for each to sync.
 * Returns them in order; throws if any fails (after closing the ones that opened).
 */
export async function connectMany(
  count: number,
  make: (i: number) => SyncClient,
  concurrency = 64,
  timeoutMs = 60_000,
): Promise<SyncClient[]> {
  const out: SyncClient[] = new Array(count);
  let next = 0;
  let failure: Error | undefined;
  const worker = async (): Promise<void> => {
    while (next < count && !failure) {
      const i = next++;
      const c = make(i);
      out[i] = c;
      try {
        await c.waitSynced(timeoutMs);
      } catch (err) {
        failure ??= new Error(`client ${i} of ${count}: ${(err as Error).message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  if (failure) {
    for (const c of out) c?.close();
    throw failure;
  }
  return out;
}
