/**
 * The edit every workload sends, and how a receiver finds it again.
 *
 * An edit is one Yjs update that sets a key of a Y.Map to a short string carrying a marker:
 * `~E<editId>@<sentAt µs, 12 digits>~`. The update is generated ahead of time with a placeholder
 * timestamp (Yjs stores the string verbatim, so the bytes can be patched in place), and the real
 * send time is written into the frame just before it goes out. Receivers scan the raw frame for
 * markers: that works whatever a server does to the update (relay it, merge several into one,
 * prefix it with a document name), and costs the load generator almost nothing per delivery.
 */
import * as Y from 'yjs';
import * as encoding from 'lib0/encoding';
import { benchNowMs } from './clock.js';

export const TS_DIGITS = 12;
const PLACEHOLDER = '0'.repeat(TS_DIGITS);
export const MARKER = /~E(\d+)@(\d{12})~/g;

/** Microseconds on the bench clock (system-wide monotonic, shared with reader workers), as used in markers. */
export const nowMicros = (): number => Math.round(benchNowMs() * 1000);

export function markerText(editId: number, sentMicros?: number): string {
  const ts = sentMicros === undefined ? PLACEHOLDER : String(Math.max(0, Math.round(sentMicros))).padStart(TS_DIGITS, '0');
  if (ts.length !== TS_DIGITS) throw new RangeError('timestamp does not fit the marker');
  return `~E${editId}@${ts}~`;
}

/** Every marker in `text`: edit id and embedded send time (µs). */
export function parseMarkers(text: string): Array<{ editId: number; sentMicros: number }> {
  const out: Array<{ editId: number; sentMicros: number }> = [];
  MARKER.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = MARKER.exec(text))) out.push({ editId: Number(m[1]), sentMicros: Number(m[2]) });
  return out;
}

export interface PreparedEdit {
  editId: number;
  /** The complete WebSocket frame (document prefix, sync/update header, update). */
  frame: Buffer;
  /** Where the 12 timestamp digits start inside `frame`. */
  tsOffset: number;
}

/** Writes the send time into a prepared frame. */
export function stamp(edit: PreparedEdit, sentMicros: number): void {
  const ts = String(sentMicros).padStart(TS_DIGITS, '0');
  edit.frame.write(ts, edit.tsOffset, TS_DIGITS, 'latin1');
}

/** Encodes `[prefix][0 sync][2 update][varUint8Array update]`. */
export function updateFrame(prefix: Uint8Array, update: Uint8Array): Buffer {
  const e = encoding.createEncoder();
  encoding.writeUint8Array(e, prefix);
  encoding.writeVarUint(e, 0);
  encoding.writeVarUint(e, 2);
  encoding.writeVarUint8Array(e, update);
  const u = encoding.toUint8Array(e);
  return Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

/**
 * One writing device: a Y.Doc of its own (never attached to a socket, so the sync handshake never
 * re-sends its history) that produces edits to one key of the shared `bench` map.
 */
export class EditWriter {
  private readonly doc: Y.Doc;
  private readonly map: Y.Map<string>;
  private captured: Uint8Array | undefined;

  constructor(
    private readonly prefix: Uint8Array,
    readonly key: string,
    /** Extra characters after the marker, so the edit is about the size of a calendar field change. */
    private readonly padding = ' Dentist, Tue 10:30',
  ) {
    this.doc = new Y.Doc();
    this.map = this.doc.getMap('bench');
    this.doc.on('update', (u: Uint8Array) => {
      this.captured = u;
    });
  }

  prepare(editId: number): PreparedEdit {
    this.captured = undefined;
    this.map.set(this.key, markerText(editId) + this.padding);
    const update = this.captured as Uint8Array | undefined;
    if (!update) throw new Error('Yjs produced no update');
    const frame = updateFrame(this.prefix, update);
    const needle = `@${PLACEHOLDER}~`;
    const at = frame.indexOf(needle, 0, 'latin1');
    if (at < 0) throw new Error('marker not found in the encoded update');
    return { editId, frame, tsOffset: at + 1 };
  }

  destroy(): void {
    this.doc.destroy();
  }
}

/**
 * Bookkeeping for every edit of a workload: who wrote it, how many deliveries it owes, how many
 * arrived, and which measurement it belongs to.
 */
export class EditLedger {
  readonly writer: Int32Array;
  readonly expected: Uint16Array;
  readonly received: Uint16Array;
  /** Index of the latency series the edit counts in; 255 = not measured (warm-up). */
  readonly series: Uint8Array;
  readonly sentAt: Float64Array;
  count = 0;

  constructor(readonly capacity: number) {
    this.writer = new Int32Array(capacity);
    this.expected = new Uint16Array(capacity);
    this.received = new Uint16Array(capacity);
    this.series = new Uint8Array(capacity);
    this.sentAt = new Float64Array(capacity).fill(NaN);
  }

  /** Reserves an edit id. */
  add(writerClientId: number, expectedDeliveries: number, series: number): number {
    if (this.count >= this.capacity) throw new Error(`edit ledger full (${this.capacity})`);
    const id = this.count++;
    this.writer[id] = writerClientId;
    this.expected[id] = expectedDeliveries;
    this.series[id] = series;
    return id;
  }

  /** Deliveries owed but not (yet) received, and extra ones, over edits that were sent. */
  tally(filter: (id: number) => boolean = () => true): { sent: number; expected: number; received: number; lost: number; duplicates: number } {
    let sent = 0;
    let expected = 0;
    let received = 0;
    let lost = 0;
    let duplicates = 0;
    for (let id = 0; id < this.count; id++) {
      if (Number.isNaN(this.sentAt[id]) || !filter(id)) continue;
      sent++;
      const e = this.expected[id]!;
      const r = this.received[id]!;
      expected += e;
      received += Math.min(e, r);
      if (r < e) lost += e - r;
      if (r > e) duplicates += r - e;
    }
    return { sent, expected, received, lost, duplicates };
  }
}
