/**
 * The two Kith extensions of the y-websocket protocol, from the client's side. They mirror the
 * server's `sync/protocol.ts` (the client must not depend on the server package):
 *
 * 100 durable  client → server: varUint8Array stateVector — "tell me what of these clients is stored";
 *              server → client: varUint8Array stateVector — stored clocks, again after every commit
 *              that holds an update from this socket.
 * 101 token    client → server: varString accessToken — a refreshed token for the open socket.
 * 103 role     server → client: varString role (owner, editor, viewer) — sent to a socket that sent
 *              100, at once and whenever the role changes.
 */
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import * as Y from 'yjs';

export const MESSAGE_SYNC = 0;
export const MESSAGE_AUTH = 2;
export const SYNC_STEP1 = 0;
export const SYNC_STEP2 = 1;
export const MESSAGE_KITH_DURABLE = 100;
export const MESSAGE_KITH_TOKEN = 101;
export const MESSAGE_KITH_ROLE = 103;

/** A member's role in a room, as the server names it. */
export type Role = 'owner' | 'editor' | 'viewer';

const ROLES: ReadonlySet<string> = new Set<Role>(['owner', 'editor', 'viewer']);

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && ROLES.has(value);
}

/** `[100, stateVector]`: ask which clocks of these clients the server has stored. */
export function encodeDurableRequest(stateVector: Map<number, number>): Uint8Array {
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, MESSAGE_KITH_DURABLE);
  encoding.writeVarUint8Array(e, Y.encodeStateVector(stateVector));
  return encoding.toUint8Array(e);
}

/** Reads the payload of a server's `[100, stateVector]` (the type has been read already). */
export function readDurableAck(decoder: decoding.Decoder): Map<number, number> {
  return Y.decodeStateVector(decoding.readVarUint8Array(decoder));
}

/** `[101, token]`: a refreshed access token for an open socket. */
export function encodeTokenMessage(token: string): Uint8Array {
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, MESSAGE_KITH_TOKEN);
  encoding.writeVarString(e, token);
  return encoding.toUint8Array(e);
}

/** `[0, 0, stateVector]`: sync step 1. */
export function encodeSyncStep1(doc: Y.Doc): Uint8Array {
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, MESSAGE_SYNC);
  encoding.writeVarUint(e, SYNC_STEP1);
  encoding.writeVarUint8Array(e, Y.encodeStateVector(doc));
  return encoding.toUint8Array(e);
}

/** Reads the payload of a server's `[103, role]` (the type has been read already); undefined for an unknown role. */
export function readRole(decoder: decoding.Decoder): Role | undefined {
  const role = decoding.readVarString(decoder);
  return isRole(role) ? role : undefined;
}
