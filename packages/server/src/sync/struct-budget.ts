/**
 * Memory held by rooms' documents, counted in Yjs structs. Bytes do not bound it: a struct costs
 * the heap ~470 bytes whatever its size on disk, so an update made of tiny map keys grows the heap
 * ~28 times its own size (a 64 MB room held 2.5 GB, and a second one ran the process out of
 * memory). Each built document's structs are counted (`structCount`: one look per Yjs client)
 * against a per-room cap and a budget for the whole process; a write that would pass either is
 * refused (ROOM_TOO_LARGE, SERVER_MEMORY_FULL), and the budget frees as rooms unload.
 */
import { getHeapStatistics } from 'node:v8';
import type * as Y from 'yjs';

/** What one struct costs the heap, measured (a 5,000-event room: 115,000 structs, 479 bytes each). */
export const HEAP_BYTES_PER_STRUCT = 480;

/** Structs one room's document may hold: ~470 MB of heap; a 5,000-event calendar has ~115,000. */
export const DEFAULT_MAX_ROOM_STRUCTS = 1_000_000;

/** Structs all loaded rooms may hold: half of V8's heap limit (4.3 GB by default: ~4.5 million). */
export function defaultMaxLoadedStructs(): number {
  return Math.floor((getHeapStatistics().heap_size_limit * 0.5) / HEAP_BYTES_PER_STRUCT);
}

/** The structs a document holds (items and GC ranges, every client). */
export function structCount(doc: Y.Doc): number {
  let n = 0;
  for (const structs of doc.store.clients.values()) n += structs.length;
  return n;
}

/** Why a write that adds structs is refused, if it is. */
export type StructRefusal = 'ROOM_TOO_LARGE' | 'SERVER_MEMORY_FULL';

export class StructBudget {
  /** Structs held by every room's built document. */
  used = 0;

  constructor(
    readonly maxLoaded: number = defaultMaxLoadedStructs(),
    readonly maxPerRoom: number = DEFAULT_MAX_ROOM_STRUCTS,
  ) {}

  /** Whether a room holding `held` structs may take `adding` more. */
  refusal(held: number, adding: number): StructRefusal | undefined {
    if (held + adding > this.maxPerRoom) return 'ROOM_TOO_LARGE';
    if (this.used + adding > this.maxLoaded) return 'SERVER_MEMORY_FULL';
    return undefined;
  }
}
