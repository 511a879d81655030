import WebSocket from 'ws';
import * as Y from 'yjs';
import * as encoding from 'lib0/encoding';
import * as decoding from 'lib0/decoding';
import { protocol } from '../../src/index.js';
import { nextClose, rawSocket, waitFor } from './yjs-clients.js';

/**
 * A minimal y-websocket client built from the protocol module, for tests that need to see or
 * shape individual frames (durable acks, token refresh, malformed input).
 */
export class RawClient {
  readonly doc = new Y.Doc();
  readonly frames: Uint8Array[] = [];
  /** Latest durable acknowledgement, as a state vector. */
  durable = new Map<number, number>();
  synced = false;
  /** Stored-barrier ids answered (102), roles announced (103), permission-denied reasons (2/0). */
  readonly barriers: number[] = [];
  readonly roles: string[] = [];
  readonly denied: string[] = [];
  closed: Promise<{ code: number; reason: string }>;

  private constructor(readonly ws: WebSocket) {
    this.closed = nextClose(ws, 600_000);
    ws.on('message', (data: Buffer) => this.onFrame(new Uint8Array(data)));
    this.doc.on('update', (update: Uint8Array, origin: unknown) => {
      if (origin !== this) this.send(protocol.encodeUpdate(update));
    });
  }

  static async connect(url: string, headers: Record<string, string> = {}): Promise<RawClient> {
    const ws = await rawSocket(url, headers);
    const c = new RawClient(ws);
    c.send(protocol.encodeSyncStep1(Y.encodeStateVector(c.doc)));
    return c;
  }

  send(frame: Uint8Array): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(frame);
  }

  /** Asks for durable acks about every client in our document, and always about our own id. */
  subscribeDurable(): void {
    const sv = Y.decodeStateVector(Y.encodeStateVector(this.doc));
    if (!sv.has(this.doc.clientID)) sv.set(this.doc.clientID, 0);
    this.send(protocol.encodeDurable(Y.encodeStateVector(sv)));
  }

  /** True when the server has acknowledged storing everything this client's doc holds of its own. */
  get allSaved(): boolean {
    const mine = Y.decodeStateVector(Y.encodeStateVector(this.doc)).get(this.doc.clientID) ?? 0;
    return (this.durable.get(this.doc.clientID) ?? 0) >= mine;
  }

  async waitSynced(): Promise<void> {
    await waitFor(() => this.synced, 5000, 'raw client sync');
  }

  close(): void {
    this.ws.close();
  }

  private onFrame(frame: Uint8Array): void {
    this.frames.push(frame);
    const d = decoding.createDecoder(frame);
    const type = decoding.readVarUint(d);
    if (type === protocol.MESSAGE_SYNC) {
      const sub = decoding.readVarUint(d);
      const payload = decoding.readVarUint8Array(d);
      if (sub === protocol.SYNC_STEP1) {
        this.send(protocol.encodeSyncStep2(Y.encodeStateAsUpdate(this.doc, payload)));
      } else {
        Y.applyUpdate(this.doc, payload, this);
        if (sub === protocol.SYNC_STEP2) this.synced = true;
      }
    } else if (type === protocol.MESSAGE_KITH_STORED_BARRIER) {
      this.barriers.push(decoding.readVarUint(d));
    } else if (type === protocol.MESSAGE_KITH_ROLE) {
      this.roles.push(decoding.readVarString(d));
    } else if (type === protocol.MESSAGE_AUTH) {
      decoding.readVarUint(d);
      this.denied.push(decoding.readVarString(d));
    } else if (type === protocol.MESSAGE_KITH_DURABLE) {
      const sv = Y.decodeStateVector(decoding.readVarUint8Array(d));
      for (const [client, clock] of sv) this.durable.set(client, Math.max(clock, this.durable.get(client) ?? 0));
    }
  }
}

export function frame(write: (e: encoding.Encoder) => void): Uint8Array {
  const e = encoding.createEncoder();
  write(e);
  return encoding.toUint8Array(e);
}
