import * as Y from 'yjs';
import { KithError } from '../errors/catalogue.js';
import { splitSyncStep2, splitUpdate, type SplitMessage } from '@kith/protocol';

/**
 * A room's Y.Doc as loaded from storage, with the clocks of what is on disk. It captures the
 * effective updates each change produces (what is new, for storing and broadcasting), and it can
 * be served from the stored bytes without being built (see `lazy`).
 */
export class StoredDocument {
  /** The Y.Doc object; its content may not be loaded yet (use `doc` for that). */
  readonly ydoc = new Y.Doc({ gc: true });
  /**
   * Stored content not yet applied to the document. A room whose snapshot came with its state
   * vector is served from these bytes: a fresh client gets them as they are, so connecting to a
   * big room costs a read and a write, not a document build (a 3 MB snapshot: ~0.5 s). The
   * document is built the first time something needs it (see `doc`).
   */
  private lazy: { snapshot: Uint8Array; tail: Uint8Array[] } | undefined;
  /** Set when the stored bytes failed to apply on a lazy build. */
  private unreadable = false;
  /** Clocks of what is on disk, per Yjs client. */
  private durable: Map<number, number> = new Map();
  /** Effective updates produced by the transaction being applied right now. */
  private captured: Uint8Array[] = [];
  /** Called once when the document holds the stored content and nothing else yet (see `whenBuilt`). */
  private builtListeners: Array<(doc: Y.Doc) => void> = [];

  /**
   * Listens only between startCapture and endCapture: while nothing listens, Yjs skips encoding
   * each transaction's update, which a client update on the fast path (see applyClient) does not need.
   */
  private readonly capture = (update: Uint8Array): void => {
    this.captured.push(update);
  };

  /**
   * The document, with everything stored applied. Built on first use when it was loaded lazily;
   * if the stored bytes then fail to apply, it is `unreadable` from then on and this throws.
   */
  get doc(): Y.Doc {
    const lazy = this.lazy;
    if (lazy) {
      this.lazy = undefined;
      try {
        applyAll(this.ydoc, [lazy.snapshot, ...lazy.tail]);
      } catch (err) {
        // Stored bytes that do not apply: the room is refused (503), as a load that fails is.
        this.unreadable = true;
        throw Object.assign(new KithError('ROOM_UNAVAILABLE', 'The room’s stored data could not be read.'), { cause: err });
      } finally {
        this.captured = [];
      }
      this.tellBuilt();
    }
    return this.ydoc;
  }

  /**
   * Calls `listener` with the document as stored, before any change reaches it: now when it is
   * built already and unchanged since, else when it is built. Lets a reader take a first picture
   * without building a lazy document itself.
   */
  whenBuilt(listener: (doc: Y.Doc) => void): void {
    if (this.lazy === undefined) listener(this.ydoc);
    else this.builtListeners.push(listener);
  }

  private tellBuilt(): void {
    const listeners = this.builtListeners;
    this.builtListeners = [];
    for (const listener of listeners) listener(this.ydoc);
  }

  /** False while it is served from stored bytes without being built (see `lazy`). */
  get built(): boolean {
    return this.lazy === undefined;
  }

  get failedToBuild(): boolean {
    return this.unreadable;
  }

  /** Loads stored content; throws if it cannot be applied (the room is then never served). */
  load(updates: Uint8Array[]): void {
    applyAll(this.ydoc, updates);
    this.captured = [];
    this.durable = this.stateVector();
  }

  /** The document's clock per Yjs client, read from its store (no encode and decode per commit). */
  stateVector(): Map<number, number> {
    const store = this.doc.store;
    const sv = new Map<number, number>();
    for (const client of store.clients.keys()) sv.set(client, Y.getState(store, client));
    return sv;
  }

  /**
   * Loads a snapshot whose state vector was stored with it, and the log after it, without building
   * the document. The log entries are parsed (so garbage is refused here, as by `load`) to extend
   * the state vector. Returns false, having loaded nothing, when that cannot be done exactly (an
   * entry that does not follow on from what precedes it); then use `load`.
   */
  loadLazily(snapshot: Uint8Array, snapshotStateVector: Uint8Array, tail: Uint8Array[]): boolean {
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
    this.durable = sv;
    return true;
  }

  /** The state vector the server announces in its sync step 1 (without building a lazy document). */
  encodedStateVector(): Uint8Array {
    return this.lazy ? Y.encodeStateVector(this.durable) : Y.encodeStateVector(this.ydoc);
  }

  /**
   * Frames answering a client's sync step 1 with what it lacks; call it for a durable state. A
   * client that holds nothing yet is answered from the stored bytes of a lazy document: the log
   * entries as updates first, then the snapshot as the step 2 that completes its sync.
   */
  syncAnswer(clientStateVector: Uint8Array): SplitMessage[] {
    const lazy = this.lazy;
    // Split: a stored snapshot (hundreds of KB) goes to the socket as read, not copied into a frame.
    if (lazy && [...Y.decodeStateVector(clientStateVector).values()].every((clock) => clock === 0)) {
      return [...lazy.tail.map(splitUpdate), splitSyncStep2(lazy.snapshot)];
    }
    return [splitSyncStep2(Y.encodeStateAsUpdate(this.doc, clientStateVector))];
  }

  /** Starts collecting the effective updates of what is applied next (see `endCapture`). */
  startCapture(): void {
    this.captured = [];
    this.ydoc.on('update', this.capture);
  }

  /** The effective updates since `startCapture`: empty when nothing was new. */
  endCapture(): Uint8Array[] {
    this.ydoc.off('update', this.capture);
    const captured = this.captured;
    this.captured = [];
    return captured;
  }

  /**
   * Applies a client's update (its decoded `structs` from Y.decodeUpdate) and returns what of it is
   * new, to be stored and broadcast; throws if Yjs does. Fast path: when the update continues each
   * of its clients exactly where the document stands (no gap, nothing already here) and nothing
   * waits in the document for missing parts, all of it is new, so its own bytes are stored as they
   * came and Yjs need not encode the change again. Otherwise Yjs reports what actually changed.
   */
  applyClient(update: Uint8Array, structs: readonly DecodedStruct[], origin: unknown): Uint8Array[] {
    const doc = this.doc;
    if (continuesDocument(doc, structs)) {
      Y.applyUpdate(doc, update, origin);
      // Continuing its clients' clocks is not enough to integrate: it may build on another client's part not here yet.
      checkHeldBack(doc);
      return [update];
    }
    this.startCapture();
    try {
      Y.applyUpdate(doc, update, origin);
      checkHeldBack(doc);
      return this.endCapture();
    } catch (err) {
      // The caller marks the room broken; what was captured is dropped with it.
      this.endCapture();
      throw err;
    }
  }

  /** The current clock of one Yjs client in the document. */
  clock(client: number): number {
    return Y.getState(this.doc.store, client);
  }

  /** The stored clock of one Yjs client. */
  durableClock(client: number): number {
    return this.durable.get(client) ?? 0;
  }

  /** These clocks are on disk now. Merged, never replaced: others' stored updates may be ahead. */
  noteDurable(stateVector: Map<number, number>): void {
    for (const [client, clock] of stateVector) {
      if ((this.durable.get(client) ?? 0) < clock) this.durable.set(client, clock);
    }
  }

  destroy(): void {
    this.lazy = undefined;
    this.ydoc.destroy();
  }
}

/**
 * Bytes of held-back parts a room's document may keep: updates Yjs cannot integrate yet (they
 * build on structs the server has not received) wait in the document. Legitimately that is an
 * edit or two racing another tab's over a second socket; a client sending gaps on purpose would
 * otherwise grow it without bound, make Yjs re-merge all of it on every later update, and have it
 * served in sync answers (Y.encodeStateAsUpdate includes it) though it is stored nowhere.
 */
export const HELD_BACK_LIMIT = 64 * 1024;

/** Throws when the document holds more than HELD_BACK_LIMIT bytes it could not integrate. */
function checkHeldBack(doc: Y.Doc): void {
  const held = (doc.store.pendingStructs?.update.byteLength ?? 0) + (doc.store.pendingDs?.byteLength ?? 0);
  if (held > HELD_BACK_LIMIT) throw new Error(`${held} bytes of updates wait for parts the server does not have`);
}

/** A struct as Y.decodeUpdate returns it (Item, GC or Skip). */
export interface DecodedStruct {
  readonly id: { readonly client: number; readonly clock: number };
  readonly length: number;
}

/**
 * True when `structs` (non-empty) form one gap-free run per client, each starting at the
 * document's current clock of that client, with no Skip, and the document holds no pending
 * structs or deletions: applying it then integrates every struct, so the update is all new.
 */
function continuesDocument(doc: Y.Doc, structs: readonly DecodedStruct[]): boolean {
  if (structs.length === 0) return false; // deletions only: let Yjs say whether any is new
  const store = doc.store;
  if (store.pendingStructs !== null || store.pendingDs !== null) return false;
  let client = -1;
  let next = 0;
  const seen = new Set<number>();
  for (const s of structs) {
    if (s instanceof Y.Skip) return false;
    if (s.id.client !== client) {
      client = s.id.client;
      if (seen.has(client)) return false;
      seen.add(client);
      if (s.id.clock !== Y.getState(store, client)) return false;
    } else if (s.id.clock !== next) {
      return false;
    }
    next = s.id.clock + s.length;
  }
  return true;
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
