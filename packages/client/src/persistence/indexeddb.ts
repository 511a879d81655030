import * as idbUtil from 'lib0/indexeddb';
import { IndexeddbPersistence, clearDocument } from 'y-indexeddb';
import type { LocalPersistence, RoomStore } from './types.js';

/**
 * Keeps every room in its own IndexedDB database through y-indexeddb (browsers; in Node, with an
 * IndexedDB implementation such as fake-indexeddb installed as the global `indexedDB`).
 */
export function indexedDbPersistence(): LocalPersistence {
  return {
    async open(name, doc) {
      if (typeof indexedDB === 'undefined') throw new Error('IndexedDB is not available here');
      // y-indexeddb never settles whenSynced when the database cannot be opened (site data blocked,
      // a sandboxed frame): the calendar would never open. Open it here first (with y-indexeddb's
      // stores, for a new room) so that this rejects instead.
      (await idbUtil.openDB(name, (db) => idbUtil.createStores(db, [['updates', { autoIncrement: true }], ['custom']]))).close();
      const idb = new IndexeddbPersistence(name, doc);
      await idb.whenSynced;
      /** A read-write transaction over both stores completes after every earlier write to them. */
      const flush = (): Promise<void> =>
        new Promise((resolve, reject) => {
          const db = idb.db;
          if (!db) return resolve();
          const tx = db.transaction(['updates', 'custom'], 'readwrite');
          tx.oncomplete = () => resolve();
          tx.onerror = () => reject(tx.error);
          tx.onabort = () => reject(tx.error);
        });
      const store: RoomStore = {
        getMeta: async (key) => {
          const v: unknown = await idb.get(key);
          return typeof v === 'string' ? v : undefined;
        },
        setMeta: async (key, value) => {
          await idb.set(key, value);
        },
        // Tabs of one browser share the database: read and write in one transaction, so that no
        // other tab writes in between. It spans the updates store too, so it commits after every
        // update this tab stored before (the ledger never names an edit the store lacks).
        updateMeta: (key, update) =>
          new Promise<void>((resolve, reject) => {
            const db = idb.db;
            if (!db) return reject(new Error('the local store is closed'));
            const tx = db.transaction(['updates', 'custom'], 'readwrite');
            const custom = tx.objectStore('custom');
            const read = custom.get(key);
            read.onsuccess = () => {
              let value: string | undefined;
              try {
                value = update(typeof read.result === 'string' ? read.result : undefined);
              } catch (err) {
                tx.abort();
                return reject(err);
              }
              if (value === undefined) custom.delete(key);
              else custom.put(value, key);
            };
            tx.oncomplete = () => resolve();
            tx.onerror = () => reject(tx.error);
            tx.onabort = () => reject(tx.error);
          }),
        flush,
        close: async () => {
          await flush();
          await idb.destroy();
        },
      };
      return store;
    },
    async remove(name) {
      await clearDocument(name);
    },
  };
}
