/**
 * Node only: keeps each room in a folder as an append-only file of length-prefixed Yjs updates
 * (`<name>.updates`: 4-byte little-endian length, then the update), folded into one update when
 * opened, plus a small `<name>.meta.json` written atomically. A torn last record (a crash while
 * appending) is ignored and dropped by the next compaction.
 */
import { mkdir, open, readFile, rename, rm, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import * as Y from 'yjs';
import type { LocalPersistence, RoomStore } from './types.js';

export interface FilePersistenceOptions {
  /** fsync every append and rewrite (survives power loss; slower). Default false. */
  fsync?: boolean;
}

/** Paths open in this process: two writers on one file would corrupt it. */
const openPaths = new Set<string>();

function fileBase(dir: string, name: string): string {
  return path.join(dir, encodeURIComponent(name).replace(/\*/g, '%2A'));
}

function readRecords(buf: Uint8Array): { updates: Uint8Array[]; torn: boolean } {
  const updates: Uint8Array[] = [];
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let at = 0;
  while (at + 4 <= buf.byteLength) {
    const len = view.getUint32(at, true);
    if (at + 4 + len > buf.byteLength) break;
    updates.push(buf.subarray(at + 4, at + 4 + len));
    at += 4 + len;
  }
  return { updates, torn: at !== buf.byteLength };
}

function record(update: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + update.byteLength);
  new DataView(out.buffer).setUint32(0, update.byteLength, true);
  out.set(update, 4);
  return out;
}

async function writeAtomically(file: string, data: Uint8Array | string, fsync: boolean): Promise<void> {
  const tmp = `${file}.tmp`;
  const h = await open(tmp, 'w');
  try {
    await h.writeFile(data);
    if (fsync) await h.sync();
  } finally {
    await h.close();
  }
  await rename(tmp, file);
  if (fsync) await syncDir(path.dirname(file));
}

async function syncDir(dir: string): Promise<void> {
  let h: FileHandle | undefined;
  try {
    h = await open(dir, 'r');
    await h.sync();
  } catch {
    // Not every platform can fsync a directory.
  } finally {
    await h?.close();
  }
}

async function readOptional(file: string): Promise<Uint8Array | undefined> {
  try {
    return new Uint8Array(await readFile(file));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** A file-based store of rooms under `dir` (created if missing). */
export function filePersistence(dir: string, options: FilePersistenceOptions = {}): LocalPersistence {
  const fsync = options.fsync ?? false;
  return {
    async open(name, doc) {
      await mkdir(dir, { recursive: true });
      const base = fileBase(dir, name);
      const updatesFile = `${base}.updates`;
      const metaFile = `${base}.meta.json`;
      if (openPaths.has(updatesFile)) throw new Error(`The local store "${name}" is already open in this process`);
      openPaths.add(updatesFile);
      try {
        const meta = new Map<string, string>();
        const metaRaw = await readOptional(metaFile);
        if (metaRaw) {
          try {
            for (const [k, v] of Object.entries(JSON.parse(new TextDecoder().decode(metaRaw)) as Record<string, unknown>)) {
              if (typeof v === 'string') meta.set(k, v);
            }
          } catch {
            // A damaged meta file only loses the unsaved-edit ledger, never content.
          }
        }
        const raw = await readOptional(updatesFile);
        let pending: Promise<void> = Promise.resolve();
        let failure: unknown;
        const writeMeta = async (): Promise<void> => {
          const json = JSON.stringify(Object.fromEntries(meta));
          const write = (pending = pending.then(() => writeAtomically(metaFile, json, fsync)));
          await write;
        };
        const store: RoomStore & { onUpdate?: (u: Uint8Array, origin: unknown) => void } = {
          getMeta: async (key) => meta.get(key),
          setMeta: async (key, value) => {
            meta.set(key, value);
            await writeMeta();
          },
          // One process holds the store (openPaths): a synchronous read-modify-write is atomic.
          updateMeta: async (key, update) => {
            const value = update(meta.get(key));
            if (value === undefined) meta.delete(key);
            else meta.set(key, value);
            await writeMeta();
          },
          flush: async () => {
            await pending;
            if (failure) throw failure;
          },
          close: async () => {
            if (store.onUpdate) doc.off('update', store.onUpdate);
            try {
              await pending.catch(() => undefined);
              await handle.close();
            } finally {
              openPaths.delete(updatesFile);
            }
            if (failure) throw failure;
          },
        };
        if (raw) {
          const { updates, torn } = readRecords(raw);
          if (updates.length > 0) Y.applyUpdate(doc, Y.mergeUpdates(updates), store);
          // Compact: one record with the whole state replaces the log.
          if (updates.length > 1 || torn) await writeAtomically(updatesFile, record(Y.encodeStateAsUpdate(doc)), fsync);
        }
        const handle = await open(updatesFile, 'a');
        store.onUpdate = (update, origin) => {
          if (origin === store) return;
          const rec = record(update);
          pending = pending
            .then(async () => {
              await handle.write(rec);
              if (fsync) await handle.datasync();
            })
            .catch((err: unknown) => {
              failure ??= err;
            });
        };
        doc.on('update', store.onUpdate);
        return store;
      } catch (err) {
        openPaths.delete(updatesFile);
        throw err;
      }
    },
    async remove(name) {
      const base = fileBase(dir, name);
      if (openPaths.has(`${base}.updates`)) throw new Error(`The local store "${name}" is open`);
      await rm(`${base}.updates`, { force: true });
      await rm(`${base}.meta.json`, { force: true });
    },
  };
}
