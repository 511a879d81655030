import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import type { Awareness } from 'y-protocols/awareness';
import { KithError } from '../errors/catalogue.js';

export interface PresenceLimits {
  /** Largest state of one client, in JSON bytes. */
  maxPresenceBytes: number;
  /** Client ids one socket may introduce. */
  presencePerSocket: number;
  /** Client ids one room holds. */
  presencePerRoom: number;
}

/** What the guard needs of a socket: whose it is, and the presence ids it holds (kept on it). */
export interface PresenceHolder {
  readonly userId: string;
  /** The signed-in user's name, as their access token gives it. */
  readonly username: string;
  readonly presenceCount: number;
  holdPresence(client: number): void;
  dropPresence(client: number): void;
  /** Gives up every id it holds and returns them. */
  releasePresence(): number[];
}

/** An awareness update may list this many times a room's cap of ids (several instances' states, removals). */
const MAX_ENTRIES_PER_ROOM_CAP = 4;

/** Who introduced a presence client id: one of this instance's sockets, or another instance. */
type Owner = PresenceHolder | typeof OTHER_INSTANCE;
const OTHER_INSTANCE = 'other-instance';

/** Why entries of a socket's awareness update were dropped. */
export type PresenceDrop = 'presence-not-owned' | 'presence-over-cap' | 'presence-not-self';

/**
 * Presence (y-protocols awareness) of one room, guarded: each client id belongs to the socket
 * that introduced it, and only that socket may change or remove it; ids per socket and per room
 * are capped, and so is the size of a state. Stock y-websocket clients echo every awareness
 * update they receive back to the server, so entries for ids a socket does not own are routine:
 * they are dropped silently, as are new ids over a cap. A state naming someone else as its user
 * (`user.userId` or `user.username` other than the socket's: Kith's client shows who is online from
 * them) is dropped too. An oversized state is not something any client sends by accident: it
 * closes the socket (PRESENCE_TOO_LARGE).
 */
export class PresenceGuard {
  private readonly owners = new Map<number, Owner>();

  constructor(
    private readonly awareness: Awareness,
    private readonly limits: PresenceLimits,
  ) {}

  /** Client ids with an owner (local sockets and other instances). */
  get size(): number {
    return this.owners.size;
  }

  /**
   * The part of a socket's awareness update it may make: the same bytes when all of it, a
   * re-encoded update when some entries are dropped (`onDrop` is told why and how many, once per
   * reason), undefined when none.
   * Throws PRESENCE_TOO_LARGE for an oversized state, and on undecodable input.
   */
  filter(conn: PresenceHolder, update: Uint8Array, onDrop: (why: PresenceDrop, count: number) => void): Uint8Array | undefined {
    const d = decoding.createDecoder(update);
    const count = decoding.readVarUint(d);
    // More entries than any room holds (a stock client echoes at most every state it was sent,
    // and other instances' are counted too): dropped whole, unread (570,000 entries held the loop 0.4 s).
    if (count > MAX_ENTRIES_PER_ROOM_CAP * this.limits.presencePerRoom) {
      onDrop('presence-over-cap', count);
      return undefined;
    }
    const entries: { client: number; clock: number; state: Uint8Array }[] = [];
    for (let i = 0; i < count; i++) {
      const client = decoding.readVarUint(d);
      const clock = decoding.readVarUint(d);
      // The state stays as its UTF-8 bytes: its size is checked before anything parses it.
      const state = decoding.readVarUint8Array(d);
      if (state.byteLength > this.limits.maxPresenceBytes) throw new KithError('PRESENCE_TOO_LARGE');
      entries.push({ client, clock, state });
    }
    let notOwned = 0;
    let overCap = 0;
    let notSelf = 0;
    const kept = entries.filter((e) => {
      const why = this.claim(conn, e.client, e.clock, e.state);
      if (why === 'presence-not-owned') notOwned++;
      else if (why === 'presence-over-cap') overCap++;
      else if (why === 'presence-not-self') notSelf++;
      return why === undefined;
    });
    if (notOwned > 0) onDrop('presence-not-owned', notOwned);
    if (overCap > 0) onDrop('presence-over-cap', overCap);
    if (notSelf > 0) onDrop('presence-not-self', notSelf);
    if (kept.length === entries.length) return update;
    if (kept.length === 0) return undefined;
    const e = encoding.createEncoder();
    encoding.writeVarUint(e, kept.length);
    for (const { client, clock, state } of kept) {
      encoding.writeVarUint(e, client);
      encoding.writeVarUint(e, clock);
      encoding.writeVarUint8Array(e, state);
    }
    return encoding.toUint8Array(e);
  }

  /**
   * Whether `conn` may write this entry (taking the id if it is new to the room), or why not. An
   * echo of others' presence (routine, see above) is told apart before the state is read.
   */
  private claim(conn: PresenceHolder, client: number, clock: number, state: Uint8Array): PresenceDrop | undefined {
    const owner = this.owners.get(client);
    if (owner !== conn) {
      if (owner !== undefined && (owner === OTHER_INSTANCE || owner.userId !== conn.userId)) return 'presence-not-owned';
      const known = this.awareness.meta.get(client);
      // An echo of a state the room already has (or had, for a client that left): not a new claim.
      if (known && clock <= known.clock) return 'presence-not-owned';
      // The server's own id (it has no presence) is nobody's.
      if (client === this.awareness.clientID) return 'presence-not-owned';
    }
    if (!speaksAsItself(conn, state)) return 'presence-not-self';
    if (owner === conn) return undefined;
    if (owner === undefined) {
      if (conn.presenceCount >= this.limits.presencePerSocket) return 'presence-over-cap';
      if (this.owners.size >= this.limits.presencePerRoom) return 'presence-over-cap';
    } else {
      // The same user's newer socket (a reconnect before the old socket was found dead) takes it over.
      owner.dropPresence(client);
    }
    this.owners.set(client, conn);
    conn.holdPresence(client);
    return undefined;
  }

  /** Another instance changed these ids (it guarded them): they are its now, or free once removed. */
  noteOtherInstance(changed: number[], removed: number[]): void {
    for (const client of changed) {
      const owner = this.owners.get(client);
      if (owner !== undefined && owner !== OTHER_INSTANCE) owner.dropPresence(client);
      this.owners.set(client, OTHER_INSTANCE);
    }
    for (const client of removed) if (this.owners.get(client) === OTHER_INSTANCE) this.owners.delete(client);
  }

  /** States that timed out (30 s without renewal): another instance's ids are freed (it may be gone). */
  noteTimedOut(removed: number[]): void {
    for (const client of removed) if (this.owners.get(client) === OTHER_INSTANCE) this.owners.delete(client);
  }

  /** A socket closed: its ids are freed. Returns the ones whose states must now be removed. */
  release(conn: PresenceHolder): number[] {
    const ids = conn.releasePresence();
    for (const client of ids) this.owners.delete(client);
    return ids;
  }

  /**
   * y-protocols keeps a clock for every client id it ever saw, so fresh ids from reconnecting
   * clients would pile up for as long as the room is loaded. Clocks of ids nobody owns and that
   * have been quiet for a while are forgotten (a late echo of them can no longer be mistaken for
   * news; if one comes, it is a new claim like any other).
   */
  pruneClocks(now: number): void {
    const meta = this.awareness.meta;
    if (meta.size <= 2 * this.limits.presencePerRoom) return;
    for (const [client, m] of meta) {
      if (client === this.awareness.clientID || this.owners.has(client) || this.awareness.states.has(client)) continue;
      if (now - m.lastUpdated >= QUIET_MS) meta.delete(client);
    }
  }
}

/** How long an unowned client id's clock is kept (y-protocols' outdated timeout). */
const QUIET_MS = 30_000;

const utf8 = new TextDecoder();

/**
 * Whether a state names no one but the socket's own user: its `user.userId` and `user.username`,
 * when present, are the socket's. Other fields (a stock client's `user.name`, cursors) are the
 * clients' own. A state that is no JSON is left to the awareness decoder, which refuses it.
 */
function speaksAsItself(conn: PresenceHolder, state: Uint8Array): boolean {
  let parsed: unknown;
  try {
    parsed = JSON.parse(utf8.decode(state));
  } catch {
    return true;
  }
  if (parsed === null || typeof parsed !== 'object' || !('user' in parsed)) return true;
  const user = (parsed as { user: unknown }).user;
  if (user === null || typeof user !== 'object') return true;
  const { userId, username } = user as { userId?: unknown; username?: unknown };
  return (userId === undefined || userId === conn.userId) && (username === undefined || username === conn.username);
}
