import * as Y from 'yjs';
import type { LocalPersistence, RoomStore } from './types.js';

interface Kept {
  updates: Uint8Array[];
  meta: Map<string, string>;
}

/**
 * Keeps rooms in memory: they survive closing and reopening a calendar (and, when the same
 * instance is passed to several clients, a new client) but not the process.
 */
export function memoryPersistence(): LocalPersistence {
  const rooms = new Map<string, Kept>();
  return {
    async open(name, doc) {
      let kept = rooms.get(name);
      if (!kept) rooms.set(name, (kept = { updates: [], meta: new Map() }));
      const store: RoomStore & { onUpdate: (u: Uint8Array, origin: unknown) => void } = {
        onUpdate: (update, origin) => {
          if (origin !== store) kept.updates.push(update);
        },
        getMeta: async (key) => kept.meta.get(key),
        setMeta: async (key, value) => {
          kept.meta.set(key, value);
        },
        updateMeta: async (key, update) => {
          const value = update(kept.meta.get(key));
          if (value === undefined) kept.meta.delete(key);
          else kept.meta.set(key, value);
        },
        flush: async () => {},
        close: async () => {
          doc.off('update', store.onUpdate);
        },
      };
      if (kept.updates.length > 0) {
        kept.updates = [Y.mergeUpdates(kept.updates)];
        Y.applyUpdate(doc, kept.updates[0]!, store);
      }
      doc.on('update', store.onUpdate);
      return store;
    },
    async remove(name) {
      rooms.delete(name);
    },
  };
}
