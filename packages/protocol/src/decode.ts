/**
 * Decoders of every message. `decodeClientMessage` / `decodeServerMessage` take a whole frame and
 * accept exactly one known message; the `read…` payload readers serve code that has read the type
 * already (y-websocket's message handlers).
 */
import * as decoding from 'lib0/decoding';
import {
  MESSAGE_AWARENESS,
  MESSAGE_KITH_DURABLE,
  MESSAGE_KITH_ROLE,
  MESSAGE_KITH_STORED_BARRIER,
  MESSAGE_KITH_TOKEN,
  MESSAGE_QUERY_AWARENESS,
  MESSAGE_SYNC,
  ProtocolError,
  SYNC_STEP1,
  SYNC_STEP2,
  SYNC_UPDATE,
  type ClientMessage,
  type ServerMessage,
  type SyncMessage,
} from './messages.js';
import { isRole, type Role } from './roles.js';

/** Decodes one client frame; throws ProtocolError for anything that is not exactly one known message. */
export function decodeClientMessage(frame: Uint8Array): ClientMessage {
  return decodeExactly(frame, (decoder, type): ClientMessage => {
    switch (type) {
      case MESSAGE_SYNC:
        return readSync(decoder);
      case MESSAGE_AWARENESS:
        return { kind: 'awareness', update: decoding.readVarUint8Array(decoder) };
      case MESSAGE_QUERY_AWARENESS:
        return { kind: 'query-awareness' };
      case MESSAGE_KITH_DURABLE:
        return { kind: 'durable-subscribe', stateVector: readDurable(decoder) };
      case MESSAGE_KITH_TOKEN:
        return { kind: 'token', token: readToken(decoder) };
      case MESSAGE_KITH_STORED_BARRIER:
        return { kind: 'stored-barrier', id: readStoredBarrier(decoder) };
      default:
        throw new ProtocolError(`unknown message type ${type}`);
    }
  });
}

/** Decodes one server frame; throws ProtocolError for anything that is not exactly one known message. */
export function decodeServerMessage(frame: Uint8Array): ServerMessage {
  return decodeExactly(frame, (decoder, type): ServerMessage => {
    switch (type) {
      case MESSAGE_SYNC:
        return readSync(decoder);
      case MESSAGE_AWARENESS:
        return { kind: 'awareness', update: decoding.readVarUint8Array(decoder) };
      case MESSAGE_KITH_DURABLE:
        return { kind: 'durable', stateVector: readDurable(decoder) };
      case MESSAGE_KITH_STORED_BARRIER:
        return { kind: 'stored-barrier', id: readStoredBarrier(decoder) };
      case MESSAGE_KITH_ROLE:
        return { kind: 'role', role: readRole(decoder) };
      default:
        throw new ProtocolError(`unknown message type ${type}`);
    }
  });
}

/** The payload of `[100, stateVector]` (either direction): a Yjs-encoded state vector. */
export function readDurable(decoder: decoding.Decoder): Uint8Array {
  return decoding.readVarUint8Array(decoder);
}

/** The payload of `[101, token]`. */
export function readToken(decoder: decoding.Decoder): string {
  return decoding.readVarString(decoder);
}

/** The payload of `[102, id]`. */
export function readStoredBarrier(decoder: decoding.Decoder): number {
  const id = decoding.readVarUint(decoder);
  if (!Number.isSafeInteger(id)) throw new ProtocolError('barrier id out of range');
  return id;
}

/** The payload of `[103, role]`; undefined for a role this version does not know. */
export function readRole(decoder: decoding.Decoder): Role | undefined {
  const role = decoding.readVarString(decoder);
  return isRole(role) ? role : undefined;
}

function readSync(decoder: decoding.Decoder): SyncMessage {
  const subtype = readVarUint(decoder);
  const payload = decoding.readVarUint8Array(decoder);
  if (subtype === SYNC_STEP1) return { kind: 'sync-step1', stateVector: payload };
  if (subtype === SYNC_STEP2) return { kind: 'sync-step2', update: payload };
  if (subtype === SYNC_UPDATE) return { kind: 'update', update: payload };
  throw new ProtocolError(`unknown sync message subtype ${subtype}`);
}

/** Runs `read` on the frame after its type; lib0's own errors become ProtocolErrors, and so do leftovers. */
function decodeExactly<T>(frame: Uint8Array, read: (decoder: decoding.Decoder, type: number) => T): T {
  const decoder = decoding.createDecoder(frame);
  let message: T;
  try {
    message = read(decoder, readVarUint(decoder));
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
