/**
 * The y-websocket wire protocol, plus two opt-in Kith extensions. Pure encode/decode, no I/O.
 *
 * Every frame is `varUint messageType` followed by its payload:
 *   0 sync            varUint subtype (0 step 1: varUint8Array stateVector,
 *                                      1 step 2: varUint8Array update, 2 update: varUint8Array update)
 *   1 awareness       varUint8Array awarenessUpdate
 *   2 auth            varUint subtype (0 permission denied: varString reason)   [server → client]
 *   3 query awareness (no payload)
 * Kith extensions; stock clients never send them, and the server sends them only to a client
 * that asked, so stock y-websocket clients are unaffected:
 * 100 durable         client → server: varUint8Array stateVector — "tell me what of this is stored";
 *                     server → client: varUint8Array stateVector — "stored on disk up to these clocks".
 *                     The server answers at once, then again after every commit of an update from
 *                     this client.
 * 101 token           client → server: varString accessToken — a refreshed token for this socket
 *                     (same user), so the socket survives the old token's expiry.
 * 102 stored barrier  client → server: varUint id; the server answers [102, id] once everything it
 *                     received on this socket before it is on disk (covers edits that move no
 *                     clock, e.g. pure deletions, which a state vector cannot acknowledge).
 * 103 role            server → client: varString role (owner, editor, viewer) — sent to a socket
 *                     that has sent 100, at once and whenever its role changes, so a client knows
 *                     when its writes would be dropped.
 * (No permission-denied message [2, 0, reason] is ever sent: stock clients print it to the console
 * together with their URL, which carries the access token.)
 */
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';

export const MESSAGE_SYNC = 0;
export const MESSAGE_AWARENESS = 1;
export const MESSAGE_AUTH = 2;
export const MESSAGE_QUERY_AWARENESS = 3;
export const MESSAGE_KITH_DURABLE = 100;
export const MESSAGE_KITH_TOKEN = 101;
export const MESSAGE_KITH_STORED_BARRIER = 102;
export const MESSAGE_KITH_ROLE = 103;

export const SYNC_STEP1 = 0;
export const SYNC_STEP2 = 1;
export const SYNC_UPDATE = 2;

export type ClientMessage =
  | { kind: 'sync-step1'; stateVector: Uint8Array }
  | { kind: 'sync-step2'; update: Uint8Array }
  | { kind: 'update'; update: Uint8Array }
  | { kind: 'awareness'; update: Uint8Array }
  | { kind: 'query-awareness' }
  | { kind: 'durable-subscribe'; stateVector: Uint8Array }
  | { kind: 'token'; token: string }
  | { kind: 'stored-barrier'; id: number };

export class ProtocolError extends Error {
  override name = 'ProtocolError';
}

/** Decodes one client frame; throws ProtocolError for anything that is not exactly one known message. */
export function decodeClientMessage(frame: Uint8Array): ClientMessage {
  const decoder = decoding.createDecoder(frame);
  let message: ClientMessage;
  try {
    const type = readVarUint(decoder);
    switch (type) {
      case MESSAGE_SYNC: {
        const subtype = readVarUint(decoder);
        const payload = decoding.readVarUint8Array(decoder);
        if (subtype === SYNC_STEP1) message = { kind: 'sync-step1', stateVector: payload };
        else if (subtype === SYNC_STEP2) message = { kind: 'sync-step2', update: payload };
        else if (subtype === SYNC_UPDATE) message = { kind: 'update', update: payload };
        else throw new ProtocolError(`unknown sync message subtype ${subtype}`);
        break;
      }
      case MESSAGE_AWARENESS:
        message = { kind: 'awareness', update: decoding.readVarUint8Array(decoder) };
        break;
      case MESSAGE_QUERY_AWARENESS:
        message = { kind: 'query-awareness' };
        break;
      case MESSAGE_KITH_DURABLE:
        message = { kind: 'durable-subscribe', stateVector: decoding.readVarUint8Array(decoder) };
        break;
      case MESSAGE_KITH_TOKEN:
        message = { kind: 'token', token: decoding.readVarString(decoder) };
        break;
      case MESSAGE_KITH_STORED_BARRIER: {
        const id = decoding.readVarUint(decoder);
        if (!Number.isSafeInteger(id)) throw new ProtocolError('barrier id out of range');
        message = { kind: 'stored-barrier', id };
        break;
      }
      default:
        throw new ProtocolError(`unknown message type ${type}`);
    }
  } catch (err) {
    if (err instanceof ProtocolError) throw err;
    throw new ProtocolError(`truncated or malformed frame (${(err as Error).message})`);
  }
  if (decoding.hasContent(decoder)) throw new ProtocolError('trailing bytes after the message');
  return message;
}

/** lib0's readVarUint accepts over-long encodings silently; message types must be small. */
function readVarUint(decoder: decoding.Decoder): number {
  const n = decoding.readVarUint(decoder);
  if (!Number.isSafeInteger(n) || n > 0xffff) throw new ProtocolError('varint out of range');
  return n;
}

const frame = (write: (e: encoding.Encoder) => void): Uint8Array => {
  const e = encoding.createEncoder();
  write(e);
  return encoding.toUint8Array(e);
};

export const encodeSyncStep1 = (stateVector: Uint8Array): Uint8Array =>
  frame((e) => {
    encoding.writeVarUint(e, MESSAGE_SYNC);
    encoding.writeVarUint(e, SYNC_STEP1);
    encoding.writeVarUint8Array(e, stateVector);
  });

export const encodeSyncStep2 = (update: Uint8Array): Uint8Array =>
  frame((e) => {
    encoding.writeVarUint(e, MESSAGE_SYNC);
    encoding.writeVarUint(e, SYNC_STEP2);
    encoding.writeVarUint8Array(e, update);
  });

export const encodeUpdate = (update: Uint8Array): Uint8Array =>
  frame((e) => {
    encoding.writeVarUint(e, MESSAGE_SYNC);
    encoding.writeVarUint(e, SYNC_UPDATE);
    encoding.writeVarUint8Array(e, update);
  });

export const encodeAwareness = (awarenessUpdate: Uint8Array): Uint8Array =>
  frame((e) => {
    encoding.writeVarUint(e, MESSAGE_AWARENESS);
    encoding.writeVarUint8Array(e, awarenessUpdate);
  });

export const encodeQueryAwareness = (): Uint8Array => frame((e) => encoding.writeVarUint(e, MESSAGE_QUERY_AWARENESS));

export const encodePermissionDenied = (reason: string): Uint8Array =>
  frame((e) => {
    encoding.writeVarUint(e, MESSAGE_AUTH);
    encoding.writeVarUint(e, 0);
    encoding.writeVarString(e, reason);
  });

export const encodeDurable = (stateVector: Uint8Array): Uint8Array =>
  frame((e) => {
    encoding.writeVarUint(e, MESSAGE_KITH_DURABLE);
    encoding.writeVarUint8Array(e, stateVector);
  });

export const encodeToken = (token: string): Uint8Array =>
  frame((e) => {
    encoding.writeVarUint(e, MESSAGE_KITH_TOKEN);
    encoding.writeVarString(e, token);
  });

export const encodeStoredBarrier = (id: number): Uint8Array =>
  frame((e) => {
    encoding.writeVarUint(e, MESSAGE_KITH_STORED_BARRIER);
    encoding.writeVarUint(e, id);
  });

export const encodeRole = (role: string): Uint8Array =>
  frame((e) => {
    encoding.writeVarUint(e, MESSAGE_KITH_ROLE);
    encoding.writeVarString(e, role);
  });

/** Decodes a server → client durable frame (used by clients and tests). */
export function decodeDurable(frame: Uint8Array): Uint8Array | undefined {
  const d = decoding.createDecoder(frame);
  if (decoding.readVarUint(d) !== MESSAGE_KITH_DURABLE) return undefined;
  return decoding.readVarUint8Array(d);
}
