/**
 * Reading a room as stored (`DocStore.load` / `loadOffLoop`): its bytes in the order they apply,
 * and the check that no row is missing before anything is served or folded from them.
 */
import type { Logger } from 'pino';
import { KithError } from '../errors/catalogue.js';
import type { StoredDoc } from './storage.js';

/** A room's stored bytes in the order they apply: the snapshot, if any, then the log. */
export function storedUpdates(stored: StoredDoc): Uint8Array[] {
  const log = stored.updates.map((u) => u.data);
  return stored.snapshot ? [stored.snapshot, ...log] : log;
}

/**
 * Throws when the rows loaded do not add up to the stored head: a position skipped, or a head
 * beyond the last position read. Rows are then missing (a partial restore, a hand-edited
 * database), and serving what is left would show clients a room without them, as if synced.
 */
export function checkComplete(stored: StoredDoc): void {
  let through = stored.snapshotSeq;
  for (const u of stored.updates) {
    if (u.seq !== through + 1) {
      throw new Error(`stored room data is incomplete: log position ${through + 1} is missing (next found: ${u.seq})`);
    }
    through = u.seq;
  }
  if (through !== stored.head) {
    throw new Error(
      `stored room data is incomplete: its head is ${stored.head} but the snapshot and log reach only position ${through}`,
    );
  }
}

/** `storedUpdates` of a room whose rows are all there (throws as `checkComplete` does otherwise). */
export function completeUpdates(stored: StoredDoc): Uint8Array[] {
  checkComplete(stored);
  return storedUpdates(stored);
}

/**
 * `completeUpdates` for a request that serves the room: rows missing are logged (as `refused`,
 * with the cause) and answered ROOM_UNAVAILABLE, the same as a room that fails to load.
 */
export function servableUpdates(stored: StoredDoc, roomId: string, logger: Pick<Logger, 'error'>, refused: string): Uint8Array[] {
  try {
    return completeUpdates(stored);
  } catch (err) {
    logger.error({ err, roomId }, refused);
    throw new KithError('ROOM_UNAVAILABLE');
  }
}
