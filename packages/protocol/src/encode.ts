/** Encoders of every message, for whichever side sends it (see messages.ts for the layout). */
import * as encoding from 'lib0/encoding';
import {
  MESSAGE_AWARENESS,
  MESSAGE_KITH_DURABLE,
  MESSAGE_KITH_ROLE,
  MESSAGE_KITH_STORED_BARRIER,
  MESSAGE_KITH_TOKEN,
  MESSAGE_QUERY_AWARENESS,
  MESSAGE_SYNC,
  SYNC_STEP1,
  SYNC_STEP2,
  SYNC_UPDATE,
} from './messages.js';
import type { Role } from './roles.js';

const frame = (write: (e: encoding.Encoder) => void): Uint8Array => {
  const e = encoding.createEncoder();
  write(e);
  return encoding.toUint8Array(e);
};

const syncFrame = (subtype: number, payload: Uint8Array): Uint8Array =>
  frame((e) => {
    encoding.writeVarUint(e, MESSAGE_SYNC);
    encoding.writeVarUint(e, subtype);
    encoding.writeVarUint8Array(e, payload);
  });

/**
 * A sync message as its leading bytes (`[0, subtype, varUint length]`) and its update, not joined:
 * a server writes a large stored update to the socket as it is instead of copying it into a frame.
 * `head` followed by `payload` is exactly the message `syncFrame` would build.
 */
export interface SplitMessage {
  head: Uint8Array;
  payload: Uint8Array;
}

const splitSyncFrame = (subtype: number, payload: Uint8Array): SplitMessage => ({
  head: frame((e) => {
    encoding.writeVarUint(e, MESSAGE_SYNC);
    encoding.writeVarUint(e, subtype);
    encoding.writeVarUint(e, payload.byteLength);
  }),
  payload,
});

/** `encodeSyncStep2`, split (see SplitMessage). */
export const splitSyncStep2 = (update: Uint8Array): SplitMessage => splitSyncFrame(SYNC_STEP2, update);

/** `encodeUpdate`, split (see SplitMessage). */
export const splitUpdate = (update: Uint8Array): SplitMessage => splitSyncFrame(SYNC_UPDATE, update);

/** `[0, 0, stateVector]`, both ways; a client's also serves as a probe: its answer means "stored". */
export const encodeSyncStep1 = (stateVector: Uint8Array): Uint8Array => syncFrame(SYNC_STEP1, stateVector);

/** `[0, 1, update]`, both ways: the answer to a step 1. */
export const encodeSyncStep2 = (update: Uint8Array): Uint8Array => syncFrame(SYNC_STEP2, update);

/** `[0, 2, update]`, both ways. */
export const encodeUpdate = (update: Uint8Array): Uint8Array => syncFrame(SYNC_UPDATE, update);

/** `[1, awarenessUpdate]`, both ways. */
export const encodeAwareness = (awarenessUpdate: Uint8Array): Uint8Array =>
  frame((e) => {
    encoding.writeVarUint(e, MESSAGE_AWARENESS);
    encoding.writeVarUint8Array(e, awarenessUpdate);
  });

/** `[3]`, client → server: "send me everyone's presence". */
export const encodeQueryAwareness = (): Uint8Array => frame((e) => encoding.writeVarUint(e, MESSAGE_QUERY_AWARENESS));

/** `[100, stateVector]`: a client's durable subscription, or the server's "stored up to" answer. */
export const encodeDurable = (stateVector: Uint8Array): Uint8Array =>
  frame((e) => {
    encoding.writeVarUint(e, MESSAGE_KITH_DURABLE);
    encoding.writeVarUint8Array(e, stateVector);
  });

/** `[101, token]`, client → server: a refreshed access token for the open socket. */
export const encodeToken = (token: string): Uint8Array =>
  frame((e) => {
    encoding.writeVarUint(e, MESSAGE_KITH_TOKEN);
    encoding.writeVarString(e, token);
  });

/** `[102, id]`: a client's barrier, and the server's answer once what came before it is stored. */
export const encodeStoredBarrier = (id: number): Uint8Array =>
  frame((e) => {
    encoding.writeVarUint(e, MESSAGE_KITH_STORED_BARRIER);
    encoding.writeVarUint(e, id);
  });

/** `[103, role]`, server → client. */
export const encodeRole = (role: Role): Uint8Array =>
  frame((e) => {
    encoding.writeVarUint(e, MESSAGE_KITH_ROLE);
    encoding.writeVarString(e, role);
  });
