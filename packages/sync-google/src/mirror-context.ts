/** What the import and the export of one link share with the runner that drives their cycles. */
import type { OpContext } from '@kith/model';
import type { Caller, CallOptions, GoogleClients, Life, TokenBucket } from './google.js';
import { SYNC_ORIGIN, type GoogleSyncHost, type ResolvedOptions } from './options.js';
import type { Secrets } from './secrets.js';
import type { LinkRow, StateStore } from './store.js';

/** What a link's runner needs from the worker that owns it. */
export interface RunnerContext {
  host: GoogleSyncHost;
  options: ResolvedOptions;
  store: StateStore;
  secrets: Secrets;
  life: Life;
  caller: Caller;
  bucket(userId: string): TokenBucket;
  clients(link: LinkRow): GoogleClients;
}

/** The runner's side, as the import and the export of its room see it. */
export interface MirrorTools {
  readonly ctx: RunnerContext;
  readonly roomId: string;
  /** Counters for tests and the status route. */
  readonly counters: { imported: number; exported: number };
  /** When a person last changed a field of a part in the room (`ov:<occKey>` for an occurrence), if known. */
  fieldTime(kithId: string, part: string, field: string): number | undefined;
  /** The event differs from Google: export it in this cycle (or the next). */
  markDirty(kithId: string): void;
  /** One Google call under the link user's rate limit, with retries. */
  call<T>(link: LinkRow, google: GoogleClients, what: string, fn: () => Promise<T>, opts?: CallOptions): Promise<T>;
}

/** Writes to the room are made as the mirror, so its own observers can tell them from people's edits. */
export function mirrorOpContext(options: ResolvedOptions): OpContext {
  return { actor: options.actor, origin: SYNC_ORIGIN };
}

/** What an export step asks of the loop around it: stop, go again, or read the room again first. */
export type Step = 'done' | 'again' | 'reread';

/** The cycle found a reason to pause the link (recorded on it); nothing to retry. */
export class LinkPaused extends Error {}
