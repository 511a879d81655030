import * as Y from 'yjs';

/**
 * The ledger of this device's edits to one room that the server has not yet confirmed as stored.
 *
 * An edit transaction that created content advanced one of our own Yjs client clocks; it is
 * saved once the server's durable acknowledgement (extension 100) reports a stored clock at least
 * the clock the transaction ended at. A transaction that only deleted content advances no clock,
 * so no state vector can acknowledge it; it is saved once the server answers a sync step 1 that
 * we sent after it (the server answers step 1 only from stored state, in order, and step 2 frames
 * are sent for nothing else). The ledger survives reloads through the room's local store, so
 * edits made offline in an earlier session (under another client id) still count.
 *
 * Several sessions (tabs of one browser, calendars over one memory store) may share the store.
 * The stored ledger therefore keeps one section per session, and a session only ever replaces its
 * own section, inside one atomic read-modify-write of the store ({@link UnsavedLedger.merge}):
 *
 *  - opening a calendar adopts every section it finds (edits of closed tabs, and of live ones:
 *    the device's unsaved edits), deduplicated by identity (client and clock; an id per delete);
 *  - its first write drops the sections it adopted whole and that nobody rewrote since, so a tab
 *    that closed (or crashed) without cleaning up leaves nothing behind after the next open, and
 *    a live tab whose section was dropped rewrites it on its next change;
 *  - every write prunes, from all sections, what this session knows the server has stored, so a
 *    copy adopted by another session does not outlive its acknowledgement.
 */
export interface LedgerSection {
  /** Writes of this section by its session; a dropped section is only dropped if unchanged. */
  n: number;
  /** When it was last written (ms since the epoch). */
  at: number;
  /** Yjs client id → the end clocks of its unacknowledged transactions, ascending. */
  clocks: Record<string, number[]>;
  /** Ids of unacknowledged delete-only transactions. */
  deletes: string[];
}

export interface LedgerState {
  v: 2;
  /** Session id → its section. */
  sessions: Record<string, LedgerSection>;
}

/** The stored form of version 1: one ledger, last writer wins. */
interface LedgerStateV1 {
  v: 1;
  clocks: Record<string, number[]>;
  deletes: number;
}

/**
 * A section holding clocks this device's store does not hold (their update never reached it) is
 * kept for a live session still writing them, and dropped once nobody has written it this long.
 */
export const STALE_SECTION_MS = 10 * 60_000;

const LEGACY = 'v1';

function parse(json: string | undefined): LedgerState {
  const empty: LedgerState = { v: 2, sessions: {} };
  if (!json) return empty;
  let state: LedgerState | LedgerStateV1;
  try {
    state = JSON.parse(json) as LedgerState | LedgerStateV1;
  } catch {
    return empty;
  }
  if (typeof state !== 'object' || state === null) return empty;
  if (state.v === 1) {
    const deletes: string[] = [];
    for (let i = 0; i < (Number.isSafeInteger(state.deletes) ? Math.min(state.deletes, 100_000) : 0); i++) deletes.push(`${LEGACY}.${i}`);
    return { v: 2, sessions: { [LEGACY]: { n: 0, at: 0, clocks: state.clocks ?? {}, deletes } } };
  }
  if (state.v !== 2 || typeof state.sessions !== 'object' || state.sessions === null) return empty;
  const sessions: Record<string, LedgerSection> = {};
  for (const [id, sec] of Object.entries(state.sessions)) {
    if (typeof sec !== 'object' || sec === null) continue;
    sessions[id] = {
      n: typeof sec.n === 'number' ? sec.n : 0,
      at: typeof sec.at === 'number' ? sec.at : 0,
      clocks: typeof sec.clocks === 'object' && sec.clocks !== null ? sec.clocks : {},
      deletes: Array.isArray(sec.deletes) ? sec.deletes.filter((d): d is string => typeof d === 'string') : [],
    };
  }
  return { v: 2, sessions };
}

function randomId(): string {
  const bytes = new Uint8Array(8);
  globalThis.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export class UnsavedLedger {
  /** This session's id in the stored ledger. */
  readonly sessionId: string;
  private readonly clocks = new Map<number, number[]>();
  /** Unacknowledged delete-only transactions, by ascending local sequence number. */
  private deletes: Array<{ seq: number; id: string }> = [];
  private deleteSeq = 0;
  /** The highest stored clock the server reported per client, this session. */
  private readonly stored = new Map<number, number>();
  /** Ids of deletes acknowledged since the last stored write (pruned from every section). */
  private ackedDeletes = new Set<string>();
  /** Sections adopted on restore (their `n`), and whether whole: dropped by the first write. */
  private adopted = new Map<string, { n: number; whole: boolean; at: number }>();
  private writes = 0;
  /** The acknowledged delete ids the last merge pruned (cleared from ackedDeletes once written). */
  private merged: string[] = [];
  private changeListener: (() => void) | undefined;

  constructor(sessionId: string = randomId()) {
    this.sessionId = sessionId;
  }

  onChange(listener: () => void): void {
    this.changeListener = listener;
  }

  get count(): number {
    let n = this.deletes.length;
    for (const list of this.clocks.values()) n += list.length;
    return n;
  }

  get hasPendingDeletes(): boolean {
    return this.deletes.length > 0;
  }

  /** The id of the newest delete-only transaction recorded so far (a probe sent now covers up to it). */
  get lastDeleteId(): number {
    return this.deleteSeq;
  }

  /** Whether the stored ledger has sections to drop or prune (true after adopting any). */
  get needsWrite(): boolean {
    return this.adopted.size > 0;
  }

  /** Records a local transaction; returns what it was. */
  record(tr: Y.Transaction): 'insert' | 'delete' | 'none' {
    let advanced = false;
    for (const [client, clock] of tr.afterState) {
      if (clock > (tr.beforeState.get(client) ?? 0)) {
        advanced = true;
        if (clock <= (this.stored.get(client) ?? 0)) continue;
        let list = this.clocks.get(client);
        if (!list) this.clocks.set(client, (list = []));
        list.push(clock);
      }
    }
    if (advanced) {
      this.changed();
      return 'insert';
    }
    if (tr.deleteSet.clients.size > 0) {
      const seq = ++this.deleteSeq;
      this.deletes.push({ seq, id: `${this.sessionId}.${seq}` });
      this.changed();
      return 'delete';
    }
    return 'none';
  }

  /** Applies a durable acknowledgement: stored clocks per client. */
  acknowledge(stored: Map<number, number>): void {
    let changed = false;
    for (const [client, clock] of stored) {
      if (clock > (this.stored.get(client) ?? 0)) this.stored.set(client, clock);
      const list = this.clocks.get(client);
      if (!list) continue;
      const keep = list.filter((c) => c > clock);
      if (keep.length !== list.length) {
        changed = true;
        if (keep.length === 0) this.clocks.delete(client);
        else this.clocks.set(client, keep);
      }
    }
    if (changed) this.changed();
  }

  /** Delete-only transactions with id ≤ `id` are stored. */
  acknowledgeDeletes(id: number): void {
    const keep = this.deletes.filter((d) => d.seq > id);
    if (keep.length !== this.deletes.length) {
      for (const d of this.deletes) if (d.seq <= id) this.ackedDeletes.add(d.id);
      this.deletes = keep;
      this.changed();
    }
  }

  /** The clients to ask the server about: every one with unsaved clocks, and our own. */
  clientsToAsk(doc: Y.Doc): Map<number, number> {
    const sv = new Map<number, number>();
    for (const client of [...this.clocks.keys(), doc.clientID]) sv.set(client, Y.getState(doc.store, client));
    return sv;
  }

  private ownSection(): LedgerSection | null {
    if (this.count === 0) return null;
    const clocks: Record<string, number[]> = {};
    for (const [client, list] of this.clocks) clocks[String(client)] = list;
    return { n: ++this.writes, at: Date.now(), clocks, deletes: this.deletes.map((d) => d.id) };
  }

  /**
   * The stored ledger after this session's write, given what the store holds now (`current`):
   * this session's section replaced, adopted sections dropped when unchanged, and what this
   * session knows stored pruned from the others. Undefined: nothing left to store. Call it inside
   * one atomic read-modify-write of the store, then {@link written} once that is stored.
   */
  merge(current: string | undefined, now = Date.now()): string | undefined {
    const state = parse(current);
    this.merged = [...this.ackedDeletes];
    const out: Record<string, LedgerSection> = {};
    for (const [id, sec] of Object.entries(state.sessions)) {
      if (id === this.sessionId) continue;
      const seen = this.adopted.get(id);
      if (seen && seen.n === sec.n && seen.at === sec.at && (seen.whole || now - sec.at > STALE_SECTION_MS)) continue;
      const clocks: Record<string, number[]> = {};
      let left = 0;
      for (const [key, list] of Object.entries(sec.clocks)) {
        if (!Array.isArray(list)) continue;
        const done = this.stored.get(Number(key)) ?? 0;
        const keep = list.filter((c) => typeof c === 'number' && c > done);
        if (keep.length) clocks[key] = keep;
        left += keep.length;
      }
      const deletes = sec.deletes.filter((d) => !this.ackedDeletes.has(d));
      left += deletes.length;
      if (left > 0) out[id] = { ...sec, clocks, deletes };
    }
    const own = this.ownSection();
    if (own) out[this.sessionId] = own;
    if (Object.keys(out).length === 0) return undefined;
    return JSON.stringify({ v: 2, sessions: out } satisfies LedgerState);
  }

  /** The result of the last {@link merge} is stored. */
  written(): void {
    for (const id of this.merged) this.ackedDeletes.delete(id);
    this.merged = [];
    this.adopted.clear();
  }

  /**
   * Adopts the ledger saved by earlier or concurrent sessions (every section). Clocks the
   * document does not hold are dropped: their update never reached the local store, so no server
   * can ever acknowledge them.
   */
  restore(json: string | undefined, doc: Y.Doc): void {
    const state = parse(json);
    const have = new Set<string>(this.deletes.map((d) => d.id));
    for (const [id, sec] of Object.entries(state.sessions)) {
      let whole = true;
      for (const [key, list] of Object.entries(sec.clocks)) {
        const client = Number(key);
        if (!Number.isSafeInteger(client) || !Array.isArray(list)) continue;
        const held = Y.getState(doc.store, client);
        const mine = new Set(this.clocks.get(client) ?? []);
        for (const c of list) {
          if (typeof c !== 'number') continue;
          if (c > held) whole = false;
          else mine.add(c);
        }
        if (mine.size) this.clocks.set(client, [...mine].sort((a, b) => a - b));
      }
      for (const d of sec.deletes) {
        if (have.has(d)) continue;
        have.add(d);
        this.deletes.push({ seq: ++this.deleteSeq, id: d });
      }
      this.adopted.set(id, { n: sec.n, at: sec.at, whole });
    }
    this.changed();
  }

  private changed(): void {
    this.changeListener?.();
  }
}
