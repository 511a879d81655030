import type * as Y from 'yjs';

/**
 * One room's local copy. Opening it applies everything stored to the document; from then on it
 * stores every update of the document that it did not apply itself.
 */
export interface RoomStore {
  /** Reads a small value kept beside the document (the client keeps its unsaved-edit ledger here). */
  getMeta(key: string): Promise<string | undefined>;
  setMeta(key: string, value: string): Promise<void>;
  /**
   * Optional: replaces the value of `key` by `update(current)` (undefined: removes it) in one
   * atomic step, so that sessions sharing the store (tabs of one browser) never overwrite each
   * other's part of a shared value. Without it the client reads with getMeta and writes with
   * setMeta, which is only safe when one session at a time uses the store.
   */
  updateMeta?(key: string, update: (current: string | undefined) => string | undefined): Promise<void>;
  /** Resolves once every update and meta write made so far is stored. */
  flush(): Promise<void>;
  /** Flushes, stops listening to the document and releases the store. */
  close(): Promise<void>;
}

/** Where rooms are kept on this device: IndexedDB, memory, files (Node), or your own. */
export interface LocalPersistence {
  /** Opens (creating if needed) the store called `name` and loads it into `doc`. */
  open(name: string, doc: Y.Doc): Promise<RoomStore>;
  /** Deletes the store called `name` (it must not be open). */
  remove(name: string): Promise<void>;
}
