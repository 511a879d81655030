/**
 * The sync socket's messages: the y-websocket protocol plus Kith's four opt-in extensions.
 *
 * Every frame is `varUint messageType` followed by its payload:
 *   0 sync            varUint subtype (0 step 1: varUint8Array stateVector,
 *                                      1 step 2: varUint8Array update, 2 update: varUint8Array update)
 *   1 awareness       varUint8Array awarenessUpdate
 *   2 auth            (y-protocols' permission denied; kith-server never sends it: stock clients print it
 *                     to the console with their URL, which carries the access token)
 *   3 query awareness (no payload)
 * Kith extensions; stock clients never send them, and the server sends them only to a client that
 * asked, so stock y-websocket clients are unaffected:
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
 *
 * State vectors and updates are Yjs encodings carried as opaque bytes, so this package needs no Yjs.
 */
import type { Role } from './roles.js';

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

/** The sync messages (type 0), the same in both directions. */
export type SyncMessage =
  | { kind: 'sync-step1'; stateVector: Uint8Array }
  | { kind: 'sync-step2'; update: Uint8Array }
  | { kind: 'update'; update: Uint8Array };

/** What a client may send. */
export type ClientMessage =
  | SyncMessage
  | { kind: 'awareness'; update: Uint8Array }
  | { kind: 'query-awareness' }
  | { kind: 'durable-subscribe'; stateVector: Uint8Array }
  | { kind: 'token'; token: string }
  | { kind: 'stored-barrier'; id: number };

/** What kith-server sends. */
export type ServerMessage =
  | SyncMessage
  | { kind: 'awareness'; update: Uint8Array }
  | { kind: 'durable'; stateVector: Uint8Array }
  | { kind: 'stored-barrier'; id: number }
  /** `role` is undefined for a role this version does not know: ignore it, as clients do. */
  | { kind: 'role'; role: Role | undefined };

/** A frame that is not exactly one known message. */
export class ProtocolError extends Error {
  override name = 'ProtocolError';
}
