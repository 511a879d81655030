/** The mapping rows of one room's parts: which one maps a part now, new rows with fresh Google ids, writes. */
import type { RunnerContext, Step } from './mirror-context.js';
import { googleIdFor } from './mirror-state.js';
import type { ResolvedOptions } from './options.js';
import type { MirrorRow } from './store.js';

const MAX_GENERATION = 8;

export class MirrorRows {
  constructor(
    private readonly ctx: RunnerContext,
    private readonly roomId: string,
  ) {}

  private get options(): ResolvedOptions {
    return this.ctx.options;
  }

  /** The row that maps a part now: the live one, else the newest gone one. */
  currentRow(kithId: string, part: string): MirrorRow | undefined {
    const rows = this.ctx.store.mirrorByKithId(this.roomId, kithId).filter((r) => r.part === part && r.state !== 'foreign');
    return rows.find((r) => r.state !== 'gone') ?? rows.sort((a, b) => b.generation - a.generation)[0];
  }

  /** A new mapping row at the first generation from `from` whose id no other mapping uses. */
  newRow(kithId: string, part: string, from: number): MirrorRow {
    let generation = from;
    let googleId = googleIdFor(this.roomId, kithId, part, generation);
    while (this.ctx.store.mirrorByGoogleId(this.roomId, googleId)) {
      generation += 1;
      googleId = googleIdFor(this.roomId, kithId, part, generation);
    }
    const row: MirrorRow = { roomId: this.roomId, googleId, kithId, part, generation, state: 'inserting', remote: null, failedLocal: null, error: null, updatedAt: 0 };
    this.ctx.life.check();
    this.ctx.store.putMirror(row, this.options.now());
    return row;
  }

  /** The part's Google id is unusable (someone else's, or gone for good): map it to the next generation. */
  bumpGeneration(row: MirrorRow): Step {
    const { store } = this.ctx;
    const generation = row.generation + 1;
    if (generation > MAX_GENERATION) {
      this.save(row, { error: 'no usable Google id after several generations' });
      return 'done';
    }
    this.ctx.life.check();
    store.transaction(() => {
      // The old id is not (or no longer) ours in Google: forget it, so a later import cannot confuse the two.
      store.deleteMirror(this.roomId, row.googleId);
      this.newRow(row.kithId, row.part, generation);
    });
    return 'again';
  }

  /** Writes a row with `patch` applied and returns it. */
  save(row: MirrorRow, patch: Partial<MirrorRow>): MirrorRow {
    const next = { ...row, ...patch };
    this.ctx.life.check();
    this.ctx.store.putMirror(next, this.options.now());
    return next;
  }
}
