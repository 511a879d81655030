/**
 * How far a loaded room's document follows the room's stored log. `head` is the position it holds
 * everything up to; positions seen beyond it (our own commits, or other instances' via fan-out)
 * wait in `ahead` until the gap below them is filled from the log.
 */
export class LogPosition {
  private headSeq = 0;
  private readonly ahead = new Set<number>();

  get head(): number {
    return this.headSeq;
  }

  /** Positions beyond `head` are in the document while one below them is missing. */
  get hasGap(): boolean {
    return this.ahead.size > 0;
  }

  /** The document was loaded from the log up to `head`. */
  loaded(head: number): void {
    this.headSeq = head;
  }

  /** Notes that position `seq` is in the document; true when a gap remains below it. */
  note(seq: number): boolean {
    if (seq <= this.headSeq) return this.ahead.size > 0;
    this.ahead.add(seq);
    while (this.ahead.delete(this.headSeq + 1)) this.headSeq += 1;
    return this.ahead.size > 0;
  }

  /** True when position `seq` is already in the document. */
  has(seq: number): boolean {
    return seq <= this.headSeq || this.ahead.has(seq);
  }

  /** Everything up to `seq` is in the document (read back from the log). */
  reached(seq: number): void {
    this.headSeq = Math.max(this.headSeq, seq);
    for (const s of this.ahead) if (s <= this.headSeq) this.ahead.delete(s);
    while (this.ahead.delete(this.headSeq + 1)) this.headSeq += 1;
  }
}
