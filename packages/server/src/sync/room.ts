import * as Y from 'yjs';
import type { Awareness } from 'y-protocols/awareness';
import type { PresenceHolder, PresenceLimits } from './awareness-guard.js';
import { encodeDurable, encodeUpdate, type SplitMessage } from '@kith/protocol';
import { REMOTE_ORIGIN, RoomPresence } from './room-presence.js';
import { LogPosition } from './log-position.js';
import { StoredDocument, applyAll, type DecodedStruct } from './stored-document.js';
import { SharedFrame } from './wire.js';
import { StructBudget, structCount, type StructRefusal } from './struct-budget.js';
import { KithError, type ErrorCode } from '../errors/catalogue.js';

/** A send prepared now (from the document as it is) and performed once what it shows is on disk. */
type PreparedSend = () => void;
type Preparer = () => PreparedSend;
/** Told when what it waited for will never be on disk (the commit failed, or the room was dropped). */
type FailedCallback = (err: Error) => void;

/**
 * What a room needs of a socket in it (the sync server's Connection): frames out, durable-ack
 * bookkeeping, its presence ids, and a way to shut it out when the room must reload.
 */
export interface RoomPeer extends PresenceHolder {
  /** Asked for durable acknowledgements (message 100). */
  readonly wantsDurableAcks: boolean;
  /** Yjs client ids whose stored clocks it is owed in its acks. */
  readonly ackClients: ReadonlySet<number> | undefined;
  noteAckClient(client: number): void;
  send(frame: Uint8Array): void;
  /** A broadcast, framed once for every peer (see SharedFrame). */
  sendShared(frame: SharedFrame): void;
  close(code: ErrorCode): void;
}

/** Updates taken out of a room for one commit, and what to do once it is on disk. */
export interface RoomBatch<P extends RoomPeer = RoomPeer> {
  room: Room<P>;
  update: Uint8Array;
  updateCount: number;
  /** The state vector the room will have on disk once this batch commits. */
  durableStateVector: Map<number, number>;
  /** When one socket wrote every update in the batch, it need not be sent its own update back. */
  soleOrigin: P | undefined;
  sends: PreparedSend[];
  /** Waiters to tell if this commit fails (their sends above are then never performed). */
  failed: FailedCallback[];
  ackTo: Set<P>;
}

/** Where a room asks for its pending updates to be committed (the group-commit scheduler). */
export interface CommitScheduler {
  schedule(room: Room<RoomPeer>): void;
}

export interface StoredSize {
  bytes: number;
  logCount: number;
  logBytes: number;
}

/** A pending update's origin that is no socket of the room (see Room.pendingOrigins). */
const OTHER_WRITER = Symbol('other writer');

/**
 * One loaded room: its Y.Doc and awareness, its sockets, and the updates waiting to be stored.
 * Invariant: nothing reaches another client before it is on disk. Client updates are applied to
 * the document at once (to validate and deduplicate them) but broadcast, acknowledged and served
 * in sync answers only after the commit that stores them.
 */
export class Room<P extends RoomPeer = RoomPeer> {
  private readonly document = new StoredDocument();
  /** Who is online (awareness), guarded per socket; sent to peers as it changes. */
  readonly presence: RoomPresence<P>;
  private readonly members = new Set<P>();
  /** Upgrades in progress (and server-side users) that keep the room loaded; see RoomRegistry. */
  private holdCount = 0;
  private storedSize: StoredSize;
  /** Set by the Compactor while it compacts this room (one compaction per room at a time). */
  compacting = false;
  /** Yjs threw on a client's update, or a commit failed (see `broken`). */
  private isBroken = false;
  /** How far this document follows the room's stored log (read by the ClusterFollower). */
  readonly position = new LogPosition();

  /**
   * Called after each commit of this room, once its updates are on disk and broadcast; `local` is
   * false for updates another instance stored (applied from the log or the fan-out).
   */
  private readonly committedListeners = new Set<(local: boolean) => void>();
  /** Called when the room is dropped from memory while watched (reload after a failure, shutdown). */
  private readonly lostListeners = new Set<() => void>();
  private pending: Uint8Array[] = [];
  /**
   * Who the pending updates came from. The one socket they all came from is spared their
   * broadcast (it has them): OTHER_WRITER marks bytes it does not have (a server edit, or others'
   * held-back structs its update let Yjs apply), so that it gets the batch too.
   */
  private pendingOrigins = new Set<P | typeof OTHER_WRITER>();
  /** Yjs clients whose clocks the pending updates advance; 'all' when that is not known exactly. */
  private pendingClients: Set<number> | 'all' = new Set();
  private pendingBytes = 0;
  private waiting: Array<{ prepare: Preparer; failed: FailedCallback | undefined }> = [];
  private pendingAcks = new Set<P>();
  private inflight: RoomBatch<P> | undefined;
  /** Called once the batch in flight has landed or failed (see whenNothingInFlight). */
  private inflightWaiters: Array<() => void> = [];
  /** Structs the built document holds, as counted against `structBudget`. */
  private structs = 0;

  constructor(
    readonly roomId: string,
    stored: StoredSize,
    private readonly scheduler: CommitScheduler,
    presenceLimits: PresenceLimits,
    /** The process's budget of structs in memory, shared by every room (see struct-budget.ts). */
    readonly structBudget: StructBudget = new StructBudget(Infinity, Infinity),
  ) {
    this.presence = new RoomPresence(this.document.ydoc, this.members, presenceLimits);
    this.storedSize = stored;
  }

  /** The sockets in the room. */
  get peers(): ReadonlySet<P> {
    return this.members;
  }

  addPeer(peer: P): void {
    this.members.add(peer);
  }

  /** A peer left: it is owed nothing more, and its presence goes with it. */
  removePeer(peer: P): void {
    this.members.delete(peer);
    this.pendingAcks.delete(peer);
    this.presence.leave(peer);
  }

  /** Someone other than a socket keeps the room loaded until `unhold` (see RoomRegistry). */
  hold(): void {
    this.holdCount += 1;
  }

  unhold(): void {
    this.holdCount = Math.max(0, this.holdCount - 1);
  }

  /** How much of the room is on disk (updated by commits here and by the Compactor). */
  get stored(): Readonly<StoredSize> {
    return this.storedSize;
  }

  /** The stored bytes plus what is on its way to disk (pending and in flight): what the room limit counts. */
  get bytesWithUnstored(): number {
    return this.storedSize.bytes + this.pendingBytes + (this.inflight?.update.byteLength ?? 0);
  }

  /** The stored size as read back from storage after a compaction. */
  restat(size: StoredSize): void {
    this.storedSize = size;
  }

  /** Set when the in-memory document can no longer be trusted; the room must be reloaded. */
  get broken(): boolean {
    return this.isBroken || this.document.failedToBuild;
  }

  get awareness(): Awareness {
    return this.presence.awareness;
  }

  /** Calls `listener` with the document as stored, before any change reaches it (see StoredDocument.whenBuilt). */
  whenBuilt(listener: (doc: Y.Doc) => void): void {
    this.document.whenBuilt(listener);
  }

  /**
   * Calls `committed` after each commit of this room (and each stored update from elsewhere), and
   * `lost` once if the room is dropped from memory. Returns a function that stops both.
   */
  watch(committed: (local: boolean) => void, lost: () => void): () => void {
    this.committedListeners.add(committed);
    this.lostListeners.add(lost);
    return () => {
      this.committedListeners.delete(committed);
      this.lostListeners.delete(lost);
    };
  }

  /**
   * The room's document, with everything stored applied. Built on first use when the room was
   * loaded lazily; if the stored bytes then fail to apply, the room is broken.
   */
  get doc(): Y.Doc {
    return this.document.doc;
  }

  /** False while the room is served from stored bytes without its document (see StoredDocument). */
  get documentBuilt(): boolean {
    return this.document.built;
  }

  /** Loads stored content; throws if it cannot be applied (the room is then never served). */
  loadStored(updates: Uint8Array[], headSeq: number): void {
    this.document.load(updates);
    this.position.loaded(headSeq);
    this.recountStructs();
  }

  /** Why a write adding `adding` structs is refused (see StructBudget), if it is. */
  structRefusal(adding: number): StructRefusal | undefined {
    return this.structBudget.refusal(this.structs, adding);
  }

  /** Counts the built document's structs again, moving the budget by the difference. */
  private recountStructs(): void {
    if (!this.document.built) return;
    const n = structCount(this.document.ydoc);
    this.structBudget.used += n - this.structs;
    this.structs = n;
  }

  /** Loads without building the document, when that can be done exactly (see StoredDocument.loadLazily). */
  loadStoredLazily(snapshot: Uint8Array, snapshotStateVector: Uint8Array, tail: Uint8Array[], headSeq: number): boolean {
    if (!this.document.loadLazily(snapshot, snapshotStateVector, tail)) return false;
    this.position.loaded(headSeq);
    this.document.whenBuilt(() => this.recountStructs());
    return true;
  }

  /** The state vector the server announces in its sync step 1. */
  encodedStateVector(): Uint8Array {
    return this.document.encodedStateVector();
  }

  /** Frames answering a client's sync step 1; call it for a durable state (from `whenDurable`). */
  syncAnswer(clientStateVector: Uint8Array): SplitMessage[] {
    return this.document.syncAnswer(clientStateVector);
  }

  /**
   * Applies updates that are already stored (by another instance, or read back from the log):
   * nothing to write, but local clients get them and durable acks cover them.
   */
  applyStored(updates: Uint8Array[], throughSeq?: number): void {
    this.document.startCapture();
    let changed: Uint8Array[];
    try {
      applyAll(this.doc, updates, REMOTE_ORIGIN);
    } finally {
      changed = this.document.endCapture();
      this.recountStructs();
    }
    if (throughSeq !== undefined) this.position.reached(throughSeq);
    if (changed.length === 0) return; // all of it was here already
    const update = changed.length === 1 ? changed[0]! : Y.mergeUpdates(changed);
    this.document.noteDurable(Y.decodeStateVector(Y.encodeStateVectorFromUpdate(update)));
    // Local clients get what actually changed, once, whatever the number of stored pieces.
    const frame = new SharedFrame(encodeUpdate(update));
    for (const conn of this.members) conn.sendShared(frame);
    for (const listener of this.committedListeners) listener(false);
  }

  get idle(): boolean {
    return this.members.size === 0 && this.holdCount === 0;
  }

  get hasUnstoredWork(): boolean {
    return this.pending.length > 0 || this.inflight !== undefined || this.waiting.length > 0;
  }

  /**
   * Applies a client's update. Returns false if Yjs threw while integrating it: the document may
   * then hold part of it, so the room is marked broken and must be reloaded from disk.
   */
  applyClientUpdate(conn: P, update: Uint8Array, structs: readonly DecodedStruct[]): boolean {
    let effective: Uint8Array[];
    try {
      effective = this.document.applyClient(update, structs, conn);
    } catch {
      this.isBroken = true;
      return false;
    } finally {
      this.recountStructs();
    }
    if (effective.length > 0) {
      this.queue(effective, conn);
      // The fast path stores the update as it came: its own structs' clients are all it advances.
      if (effective[0] !== update) {
        this.pendingClients = 'all';
        this.pendingOrigins.add(OTHER_WRITER);
      } else if (this.pendingClients !== 'all') for (const s of structs) this.pendingClients.add(s.id.client);
    }
    if (conn.wantsDurableAcks) {
      for (const s of structs) conn.noteAckClient(s.id.client);
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
    this.document.startCapture();
    try {
      return edit(this.doc);
    } finally {
      // Whatever the edit wrote (even before throwing) is valid CRDT data and must be stored.
      const effective = this.document.endCapture();
      this.recountStructs();
      if (effective.length > 0) {
        this.queue(effective, OTHER_WRITER);
        this.pendingClients = 'all';
        this.scheduler.schedule(this);
      }
    }
  }

  /** Queues what an edit changed for the next commit, noting where it came from (see pendingOrigins). */
  private queue(effective: Uint8Array[], origin: P | typeof OTHER_WRITER): void {
    this.pending.push(...effective);
    for (const u of effective) this.pendingBytes += u.byteLength;
    this.pendingOrigins.add(origin);
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
  ackFrame(conn: P): Uint8Array {
    const sv = new Map<number, number>();
    for (const client of conn.ackClients ?? []) sv.set(client, this.document.durableClock(client));
    return encodeDurable(Y.encodeStateVector(sv));
  }

  /** Moves everything pending into a batch for the scheduler to commit; undefined if nothing to store. */
  takeBatch(): RoomBatch<P> | undefined {
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
    const clients = this.pendingClients;
    this.pending = [];
    this.pendingBytes = 0;
    this.pendingOrigins = new Set();
    this.pendingClients = new Set();
    const batch: RoomBatch<P> = {
      room: this,
      update: updates.length === 1 ? updates[0]! : Y.mergeUpdates(updates),
      updateCount: updates.length,
      durableStateVector: clients === 'all' ? this.document.stateVector() : this.clocksOf(clients),
      soleOrigin: origins.size === 1 && !origins.has(OTHER_WRITER) ? ([...origins][0] as P) : undefined,
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

  /** The document's current clocks of these clients (cheaper than its whole state vector). */
  private clocksOf(clients: Set<number>): Map<number, number> {
    const sv = new Map<number, number>();
    for (const client of clients) sv.set(client, this.document.clock(client));
    return sv;
  }

  /** The batch is on disk at log position `seq`: broadcast it, send what waited for it, acknowledge. */
  committed(batch: RoomBatch<P>, storedBytes: number, seq: number): void {
    this.inflight = undefined;
    this.inflightLanded();
    this.position.note(seq);
    // Merge rather than replace: stored updates from other instances may have arrived meanwhile.
    this.document.noteDurable(batch.durableStateVector);
    this.storedSize.bytes += storedBytes;
    this.storedSize.logBytes += storedBytes;
    this.storedSize.logCount += 1;
    const frame = new SharedFrame(encodeUpdate(batch.update));
    for (const conn of this.members) if (conn !== batch.soleOrigin) conn.sendShared(frame);
    for (const send of batch.sends) send();
    for (const conn of batch.ackTo) conn.send(this.ackFrame(conn));
    if (this.pending.length > 0 || this.pendingAcks.size > 0 || this.waiting.length > 0) this.scheduler.schedule(this);
    // Last, and each on its own: a listener that throws (reported by the caller) skips no other.
    let failure: unknown;
    for (const listener of this.committedListeners) {
      try {
        listener(true);
      } catch (err) {
        failure ??= err;
      }
    }
    if (failure !== undefined) throw failure;
  }

  /**
   * The commit failed: nothing of it may be served, and whoever waited for it is told. The caller
   * closes the sockets and unloads the room.
   */
  commitFailed(err: Error): void {
    const batch = this.inflight;
    this.inflight = undefined;
    this.inflightLanded();
    this.isBroken = true;
    for (const failed of batch?.failed ?? []) failed(err);
  }

  /**
   * Resolves once no batch of this room is on its way to disk. A room dropped with a commit in
   * flight (reloaded after a failure) is loaded again only after it: the commit may still land,
   * and a load before it would serve the room without an edit already acknowledged.
   */
  whenNothingInFlight(): Promise<void> {
    if (!this.inflight) return Promise.resolve();
    return new Promise((resolve) => this.inflightWaiters.push(resolve));
  }

  private inflightLanded(): void {
    const waiters = this.inflightWaiters;
    this.inflightWaiters = [];
    for (const resolve of waiters) resolve();
  }

  /** Drops the room; whoever still waits for pending edits to be stored gets `err`. */
  destroy(err: Error = new KithError('ROOM_UNAVAILABLE')): void {
    // Never served again: a socket whose upgrade held the room while it was dropped is refused.
    this.isBroken = true;
    this.structBudget.used -= this.structs;
    this.structs = 0;
    this.presence.destroy();
    this.document.destroy();
    this.pending = [];
    this.pendingBytes = 0;
    this.pendingClients = new Set();
    const waiting = this.waiting;
    this.waiting = [];
    for (const { failed } of waiting) failed?.(err);
    this.pendingAcks.clear();
    this.committedListeners.clear();
    const lost = [...this.lostListeners];
    this.lostListeners.clear();
    for (const listener of lost) listener();
  }
}
