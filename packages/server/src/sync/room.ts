import * as Y from 'yjs';
import { Awareness, applyAwarenessUpdate, encodeAwarenessUpdate, removeAwarenessStates } from 'y-protocols/awareness';
import { PresenceGuard, type PresenceLimits } from './awareness-guard.js';
import type { Connection } from './connection.js';
import { encodeAwareness, encodeDurable, encodeSyncStep2, encodeUpdate } from '@kith/protocol';
import { SharedFrame } from './wire.js';
import { KithError } from '../errors/catalogue.js';

/** A send prepared now (from the document as it is) and performed once what it shows is on disk. */
type PreparedSend = () => void;
type Preparer = () => PreparedSend;
/** Told when what it waited for will never be on disk (the commit failed, or the room was dropped). */
type FailedCallback = (err: Error) => void;

/** Origin of changes that arrive from other instances (already stored by them). */
export const REMOTE_ORIGIN = Symbol('remote');

/** Updates taken out of a room for one commit, and what to do once it is on disk. */
export interface RoomBatch {
  room: Room;
  update: Uint8Array;
  updateCount: number;
  /** The state vector the room will have on disk once this batch commits. */
  durableStateVector: Map<number, number>;
  /** When one socket wrote every update in the batch, it need not be sent its own update back. */
  soleOrigin: Connection | undefined;
  sends: PreparedSend[];
  /** Waiters to tell if this commit fails (their sends above are then never performed). */
  failed: FailedCallback[];
  ackTo: Set<Connection>;
}

/** Where a room asks for its pending updates to be committed (the group-commit scheduler). */
export interface CommitScheduler {
  schedule(room: Room): void;
}

export interface StoredSize {
  bytes: number;
  logCount: number;
  logBytes: number;
}

/**
 * One loaded room: its Y.Doc and awareness, its sockets, and the updates waiting to be stored.
 * Invariant: nothing reaches another client before it is on disk. Client updates are applied to
 * the document at once (to validate and deduplicate them) but broadcast, acknowledged and served
 * in sync answers only after the commit that stores them.
 */
export class Room {
  private readonly ydoc = new Y.Doc({ gc: true });
  readonly awareness = new Awareness(this.ydoc);
  /** Who may change which presence client id; caps on presence (see PresenceGuard). */
  readonly presence: PresenceGuard;
  /**
   * Stored content not yet applied to the document. A room whose snapshot came with its state
   * vector is served from these bytes: a fresh client gets them as they are, so connecting to a
   * big room costs a read and a write, not a document build (a 3 MB snapshot: ~0.5 s). The
   * document is built the first time something needs it (see `doc`).
   */
  private lazy: { snapshot: Uint8Array; tail: Uint8Array[] } | undefined;
  readonly connections = new Set<Connection>();
  /** Upgrades in progress that will become connections; they also keep the room loaded. */
  holds = 0;
  /** Clocks of what is on disk, per Yjs client. */
  durableStateVector: Map<number, number>;
  stored: StoredSize;
  compacting = false;
  unloadTimer: NodeJS.Timeout | undefined;
  /** Set when the in-memory document can no longer be trusted; the room must be reloaded. */
  broken = false;
  /**
   * The room's log position this document holds everything up to. Positions seen beyond it (our
   * own commits, or other instances' via fan-out) wait in `aheadSeqs` until the gap is filled.
   */
  headSeq = 0;
  readonly aheadSeqs = new Set<number>();
  /** A catch-up from the log is running / is wanted again after it. */
  catchingUp = false;
  catchUpAgain = false;
  catchUpTimer: NodeJS.Timeout | undefined;
  /** Awareness changes made by this instance's clients, for fan-out to other instances. */
  onLocalAwareness: ((update: Uint8Array) => void) | undefined;

  /** Called after each commit of this room, once its updates are on disk and broadcast. */
  readonly committedListeners = new Set<() => void>();
  /** Called when the room is dropped from memory while watched (reload after a failure, shutdown). */
  readonly lostListeners = new Set<() => void>();
  private pending: Uint8Array[] = [];
  private pendingOrigins = new Set<Connection>();
  private waiting: Array<{ prepare: Preparer; failed: FailedCallback | undefined }> = [];
  private pendingAcks = new Set<Connection>();
  private inflight: RoomBatch | undefined;
  /** Effective updates produced by the transaction being applied right now. */
  private captured: Uint8Array[] = [];

  constructor(
    readonly roomId: string,
    stored: StoredSize,
    private readonly scheduler: CommitScheduler,
    presenceLimits: PresenceLimits,
  ) {
    this.presence = new PresenceGuard(this.awareness, presenceLimits);
    this.stored = stored;
    this.durableStateVector = new Map();
    // The server has no presence of its own.
    this.awareness.setLocalState(null);
    this.ydoc.on('update', (update: Uint8Array) => this.captured.push(update));
    this.awareness.on('update', this.onAwarenessUpdate);
  }

  /**
   * The room's document, with everything stored applied. Built on first use when the room was
   * loaded lazily; if the stored bytes then fail to apply, the room is marked broken.
   */
  get doc(): Y.Doc {
    const lazy = this.lazy;
    if (lazy) {
      this.lazy = undefined;
      try {
        applyAll(this.ydoc, [lazy.snapshot, ...lazy.tail]);
      } catch (err) {
        // Stored bytes that do not apply: the room is refused (503), as a load that fails is.
        this.broken = true;
        throw Object.assign(new KithError('ROOM_UNAVAILABLE', 'The room’s stored data could not be read.'), { cause: err });
      } finally {
        this.captured = [];
      }
    }
    return this.ydoc;
  }

  /** False while the room is served from stored bytes without its document (see `lazy`). */
  get documentBuilt(): boolean {
    return this.lazy === undefined;
  }

  /** Loads stored content; throws if it cannot be applied (the room is then never served). */
  loadStored(updates: Uint8Array[], headSeq: number): void {
    applyAll(this.ydoc, updates);
    this.captured = [];
    this.durableStateVector = Y.decodeStateVector(Y.encodeStateVector(this.ydoc));
    this.headSeq = headSeq;
  }

  /**
   * Loads a snapshot whose state vector was stored with it, and the log after it, without building
   * the document. The log entries are parsed (so garbage is refused here, as by `loadStored`) to
   * extend the state vector. Returns false, having loaded nothing, when that cannot be done
   * exactly (an entry that does not follow on from what precedes it); then use `loadStored`.
   */
  loadStoredLazily(snapshot: Uint8Array, snapshotStateVector: Uint8Array, tail: Uint8Array[], headSeq: number): boolean {
    const sv = Y.decodeStateVector(snapshotStateVector);
    for (const update of tail) {
      const { from, to } = Y.parseUpdateMeta(update);
      for (const [client, end] of to) {
        const have = sv.get(client) ?? 0;
        if ((from.get(client) ?? 0) > have) return false;
        if (end > have) sv.set(client, end);
      }
    }
    this.lazy = { snapshot, tail };
    this.durableStateVector = sv;
    this.headSeq = headSeq;
    return true;
  }

  /** The state vector the server announces in its sync step 1 (without building a lazy document). */
  encodedStateVector(): Uint8Array {
    return this.lazy ? Y.encodeStateVector(this.durableStateVector) : Y.encodeStateVector(this.ydoc);
  }

  /**
   * Frames answering a client's sync step 1 with what it lacks; call it for a durable state (from
   * `whenDurable`). A client that holds nothing yet is answered from the stored bytes of a lazy
   * room: the log entries as updates first, then the snapshot as the step 2 that completes its sync.
   */
  syncAnswer(clientStateVector: Uint8Array): Uint8Array[] {
    const lazy = this.lazy;
    if (lazy && [...Y.decodeStateVector(clientStateVector).values()].every((clock) => clock === 0)) {
      return [...lazy.tail.map(encodeUpdate), encodeSyncStep2(lazy.snapshot)];
    }
    return [encodeSyncStep2(Y.encodeStateAsUpdate(this.doc, clientStateVector))];
  }

  /** Notes that log position `seq` is in this document; true when a gap remains below it. */
  noteSeq(seq: number): boolean {
    if (seq <= this.headSeq) return this.aheadSeqs.size > 0;
    this.aheadSeqs.add(seq);
    while (this.aheadSeqs.delete(this.headSeq + 1)) this.headSeq += 1;
    return this.aheadSeqs.size > 0;
  }

  /** True when position `seq` is already in this document. */
  hasSeq(seq: number): boolean {
    return seq <= this.headSeq || this.aheadSeqs.has(seq);
  }

  /**
   * Applies updates that are already stored (by another instance, or read back from the log):
   * nothing to write, but local clients get them and durable acks cover them.
   */
  applyStored(updates: Uint8Array[], throughSeq?: number): void {
    this.captured = [];
    let changed: Uint8Array[];
    try {
      applyAll(this.doc, updates, REMOTE_ORIGIN);
    } finally {
      changed = this.captured;
      this.captured = [];
    }
    if (throughSeq !== undefined) {
      this.headSeq = Math.max(this.headSeq, throughSeq);
      for (const s of this.aheadSeqs) if (s <= this.headSeq) this.aheadSeqs.delete(s);
      while (this.aheadSeqs.delete(this.headSeq + 1)) this.headSeq += 1;
    }
    if (changed.length === 0) return; // all of it was here already
    const update = changed.length === 1 ? changed[0]! : Y.mergeUpdates(changed);
    for (const [client, clock] of Y.decodeStateVector(Y.encodeStateVectorFromUpdate(update))) {
      if ((this.durableStateVector.get(client) ?? 0) < clock) this.durableStateVector.set(client, clock);
    }
    // Local clients get what actually changed, once, whatever the number of stored pieces.
    const frame = new SharedFrame(encodeUpdate(update));
    for (const conn of this.connections) conn.sendShared(frame);
    for (const listener of this.committedListeners) listener();
  }

  get idle(): boolean {
    return this.connections.size === 0 && this.holds === 0;
  }

  get hasUnstoredWork(): boolean {
    return this.pending.length > 0 || this.inflight !== undefined || this.waiting.length > 0;
  }

  /**
   * Applies a client's update. Returns false if Yjs threw while integrating it: the document may
   * then hold part of it, so the room is marked broken and must be reloaded from disk.
   */
  applyClientUpdate(conn: Connection, update: Uint8Array, clients: Iterable<number>): boolean {
    this.captured = [];
    try {
      Y.applyUpdate(this.doc, update, conn);
    } catch {
      this.captured = [];
      this.broken = true;
      return false;
    }
    const effective = this.captured;
    this.captured = [];
    if (effective.length > 0) {
      this.pending.push(...effective);
      this.pendingOrigins.add(conn);
    }
    if (conn.wantsDurableAcks) {
      for (const c of clients) conn.noteAckClient(c);
      this.pendingAcks.add(conn);
    }
    if (effective.length > 0 || conn.wantsDurableAcks) this.scheduler.schedule(this);
    return true;
  }

  /**
   * Runs a server-side edit (REST, the live JSON socket, importers) as one more writer: what it
   * changes is stored and broadcast like a client's update. Returns the function's result.
   */
  applyServerEdit<T>(edit: (doc: Y.Doc) => T): T {
    this.captured = [];
    try {
      return edit(this.doc);
    } finally {
      // Whatever the edit wrote (even before throwing) is valid CRDT data and must be stored.
      const effective = this.captured;
      this.captured = [];
      if (effective.length > 0) {
        this.pending.push(...effective);
        this.scheduler.schedule(this);
      }
    }
  }

  /**
   * Resolves once everything in the document now is on disk; rejects (STORAGE_UNAVAILABLE or
   * ROOM_UNAVAILABLE) if that will not happen, so that no caller waits forever on a failed commit.
   */
  durable(): Promise<void> {
    return new Promise((resolve, reject) => this.whenDurable(() => resolve, reject));
  }

  /**
   * Runs `prepare` against a document state that is (or will be, once committed) entirely on disk.
   * `failed` is called instead of the prepared send if that state never reaches the disk.
   */
  whenDurable(prepare: Preparer, failed?: FailedCallback): void {
    if (this.pending.length > 0) {
      this.waiting.push({ prepare, failed });
    } else if (this.inflight) {
      this.inflight.sends.push(prepare());
      if (failed) this.inflight.failed.push(failed);
    } else {
      prepare()();
    }
  }

  /** The durable-acknowledgement frame for one socket: stored clocks of the clients it asked about. */
  ackFrame(conn: Connection): Uint8Array {
    const sv = new Map<number, number>();
    for (const client of conn.ackClients ?? []) sv.set(client, this.durableStateVector.get(client) ?? 0);
    return encodeDurable(Y.encodeStateVector(sv));
  }

  /** Moves everything pending into a batch for the scheduler to commit; undefined if nothing to store. */
  takeBatch(): RoomBatch | undefined {
    if (this.inflight) return undefined;
    const acks = this.pendingAcks;
    this.pendingAcks = new Set();
    if (this.pending.length === 0) {
      // Nothing to write: whoever waits for an ack gets it now.
      for (const conn of acks) conn.send(this.ackFrame(conn));
      return undefined;
    }
    const updates = this.pending;
    const origins = this.pendingOrigins;
    this.pending = [];
    this.pendingOrigins = new Set();
    const batch: RoomBatch = {
      room: this,
      update: updates.length === 1 ? updates[0]! : Y.mergeUpdates(updates),
      updateCount: updates.length,
      durableStateVector: Y.decodeStateVector(Y.encodeStateVector(this.doc)),
      soleOrigin: origins.size === 1 ? [...origins][0] : undefined,
      sends: [],
      failed: [],
      ackTo: acks,
    };
    // Answers owed to sockets are computed from the state being committed now.
    const waiting = this.waiting;
    this.waiting = [];
    for (const { prepare, failed } of waiting) {
      batch.sends.push(prepare());
      if (failed) batch.failed.push(failed);
    }
    this.inflight = batch;
    return batch;
  }

  /** The batch is on disk at log position `seq`: broadcast it, send what waited for it, acknowledge. */
  committed(batch: RoomBatch, storedBytes: number, seq: number): void {
    this.inflight = undefined;
    this.noteSeq(seq);
    // Merge rather than replace: stored updates from other instances may have arrived meanwhile.
    for (const [client, clock] of batch.durableStateVector) {
      if ((this.durableStateVector.get(client) ?? 0) < clock) this.durableStateVector.set(client, clock);
    }
    this.stored.bytes += storedBytes;
    this.stored.logBytes += storedBytes;
    this.stored.logCount += 1;
    const frame = new SharedFrame(encodeUpdate(batch.update));
    for (const conn of this.connections) if (conn !== batch.soleOrigin) conn.sendShared(frame);
    for (const send of batch.sends) send();
    for (const conn of batch.ackTo) conn.send(this.ackFrame(conn));
    for (const listener of this.committedListeners) listener();
    if (this.pending.length > 0 || this.pendingAcks.size > 0 || this.waiting.length > 0) this.scheduler.schedule(this);
  }

  /**
   * The commit failed: nothing of it may be served, and whoever waited for it is told. The caller
   * closes the sockets and unloads the room.
   */
  commitFailed(err: Error): void {
    const batch = this.inflight;
    this.inflight = undefined;
    this.broken = true;
    for (const failed of batch?.failed ?? []) failed(err);
  }

  /** Applies an awareness update: from a socket, only what `presence.filter` let through. */
  applyAwareness(conn: Connection | typeof REMOTE_ORIGIN, update: Uint8Array): void {
    applyAwarenessUpdate(this.awareness, update, conn);
  }

  awarenessSnapshot(): Uint8Array | undefined {
    const clients = [...this.awareness.getStates().keys()];
    return clients.length === 0 ? undefined : encodeAwareness(encodeAwarenessUpdate(this.awareness, clients));
  }

  removeConnection(conn: Connection): void {
    this.connections.delete(conn);
    this.pendingAcks.delete(conn);
    const presence = this.presence.release(conn);
    if (presence.length > 0) {
      removeAwarenessStates(this.awareness, presence, null);
      this.presence.pruneClocks(Date.now());
    }
  }

  /** Drops the room; whoever still waits for pending edits to be stored gets `err`. */
  destroy(err: Error = new KithError('ROOM_UNAVAILABLE')): void {
    if (this.unloadTimer) clearTimeout(this.unloadTimer);
    this.unloadTimer = undefined;
    if (this.catchUpTimer) clearTimeout(this.catchUpTimer);
    this.catchUpTimer = undefined;
    this.onLocalAwareness = undefined;
    this.awareness.off('update', this.onAwarenessUpdate);
    // Awareness runs an interval timer; destroying it is what keeps unloaded rooms from leaking.
    this.awareness.destroy();
    this.lazy = undefined;
    this.ydoc.destroy();
    this.pending = [];
    const waiting = this.waiting;
    this.waiting = [];
    for (const { failed } of waiting) failed?.(err);
    this.pendingAcks.clear();
    this.committedListeners.clear();
    const lost = [...this.lostListeners];
    this.lostListeners.clear();
    for (const listener of lost) listener();
  }

  private readonly onAwarenessUpdate = (
    { added, updated, removed }: { added: number[]; updated: number[]; removed: number[] },
    origin: unknown,
  ): void => {
    const changed = [...added, ...updated, ...removed];
    if (changed.length === 0) return;
    // Sockets' ids were claimed before their update was applied; other instances' are noted here.
    if (origin === REMOTE_ORIGIN) this.presence.noteOtherInstance([...added, ...updated], removed);
    else if (origin === 'timeout') this.presence.noteTimedOut(removed);
    const update = encodeAwarenessUpdate(this.awareness, changed);
    const frame = new SharedFrame(encodeAwareness(update));
    for (const conn of this.connections) conn.sendShared(frame);
    if (origin !== REMOTE_ORIGIN) this.onLocalAwareness?.(update);
  };
}

/**
 * Applies many stored updates in one transaction. Much faster than one Y.mergeUpdates over all of
 * them, which grows worse than linearly with the number of updates (50,000 log rows: minutes
 * merged, about a second applied).
 */
export function applyAll(doc: Y.Doc, updates: Uint8Array[], origin?: unknown): void {
  if (updates.length === 0) return;
  if (updates.length === 1) {
    Y.applyUpdate(doc, updates[0]!, origin);
    return;
  }
  doc.transact(() => {
    for (const u of updates) Y.applyUpdate(doc, u, origin);
  }, origin);
}
