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
 */
export interface LedgerState {
  v: 1;
  /** Yjs client id → the end clocks of its unacknowledged transactions, ascending. */
  clocks: Record<string, number[]>;
  /** Unacknowledged delete-only transactions. */
  deletes: number;
}

export class UnsavedLedger {
  private readonly clocks = new Map<number, number[]>();
  /** Ids (ascending) of unacknowledged delete-only transactions. */
  private deletes: number[] = [];
  private deleteSeq = 0;
  /** The highest stored clock the server reported per client, this session. */
  private readonly stored = new Map<number, number>();
  private changeListener: (() => void) | undefined;

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
      this.deletes.push(++this.deleteSeq);
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
    const keep = this.deletes.filter((d) => d > id);
    if (keep.length !== this.deletes.length) {
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

  toJSON(): LedgerState {
    const clocks: Record<string, number[]> = {};
    for (const [client, list] of this.clocks) clocks[String(client)] = list;
    return { v: 1, clocks, deletes: this.deletes.length };
  }

  /**
   * Restores a ledger saved by an earlier session. Clocks the document does not hold are dropped:
   * their update never reached the local store, so no server can ever acknowledge them.
   */
  restore(json: string | undefined, doc: Y.Doc): void {
    if (!json) return;
    let state: LedgerState;
    try {
      state = JSON.parse(json) as LedgerState;
    } catch {
      return;
    }
    if (state?.v !== 1) return;
    for (const [key, list] of Object.entries(state.clocks ?? {})) {
      const client = Number(key);
      if (!Number.isSafeInteger(client) || !Array.isArray(list)) continue;
      const have = Y.getState(doc.store, client);
      const keep = list.filter((c) => typeof c === 'number' && c <= have);
      if (keep.length) this.clocks.set(client, [...(this.clocks.get(client) ?? []), ...keep].sort((a, b) => a - b));
    }
    for (let i = 0; i < (state.deletes ?? 0); i++) this.deletes.push(++this.deleteSeq);
    this.changed();
  }

  private changed(): void {
    this.changeListener?.();
  }
}
