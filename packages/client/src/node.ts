/**
 * @kith/client/node — everything in `@kith/client`, plus a file-based store of rooms for Node.
 * `createKithClient` here also takes `persistence: { file: dir }`.
 */
import { createKithClient as createCore, type KithClient, type KithClientOptions } from './client.js';
import { filePersistence, type FilePersistenceOptions } from './persistence/file.js';
import type { LocalPersistence } from './persistence/types.js';

export * from './index.js';
export { filePersistence, type FilePersistenceOptions } from './persistence/file.js';

export interface NodeKithClientOptions extends Omit<KithClientOptions, 'persistence'> {
  persistence?: KithClientOptions['persistence'] | ({ file: string } & FilePersistenceOptions);
}

/** `createKithClient` that also accepts `persistence: { file: dir, fsync? }`. */
export function createKithClient(options: NodeKithClientOptions): KithClient {
  const p = options.persistence;
  const persistence: 'indexeddb' | 'memory' | LocalPersistence | undefined =
    p && typeof p === 'object' && 'file' in p ? filePersistence(p.file, { fsync: p.fsync ?? false }) : p;
  return createCore({ ...options, persistence });
}
