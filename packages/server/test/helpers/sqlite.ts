import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openStorage } from '../../src/storage/open-storage.js';
import type { Storage } from '../../src/storage/storage.js';

/**
 * A SQLite storage in a fresh temp data dir, opened the way the server opens it (synchronous
 * NORMAL: tests need no crash durability); `cleanup` closes it and removes the dir.
 */
export async function openTestSqliteStorage(prefix = 'kith-storage-'): Promise<{ storage: Storage; cleanup: () => Promise<void> }> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const storage = await openStorage({ dataDir, sqliteSynchronous: 'normal' });
  return {
    storage,
    cleanup: async () => {
      await storage.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
