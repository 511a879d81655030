/**
 * A process of the load generator (forked by GeneratorPool). It holds client sockets, times every
 * delivery on the shared bench clock at receipt, and sends (edit id, latency) pairs to the bench
 * process in batches, so the bench process's own read loop is not in the latencies. W2's clients
 * also write: the bench process plans who writes which edit when, this process prepares and sends.
 */
import * as encoding from 'lib0/encoding';
import { connectMany, SyncClient } from './client.js';
import { benchNowMs } from './clock.js';
import { EditWriter, MARKER, markerText, nowMicros, stamp, type PreparedEdit } from './edits.js';
import type { EditPlan, PresenceSlice, WorkerCommand, WorkerReport } from './gen-pool.js';
import { runSchedule } from './load.js';

const clients: SyncClient[] = [];
/** W6 presence clients: their group and index, awareness client id and clock. */
const presence = new Map<SyncClient, { group: number; index: number; awarenessId: number; clock: number }>();
/** The slice each group is sending now (to skip a client's own echo). */
const slices = new Map<number, PresenceSlice>();
let ids: number[] = [];
let lat: number[] = [];
/** W2 writing clients by id, with the device that makes their edits. */
const writers = new Map<number, { client: SyncClient; writer: EditWriter }>();
/** Who wrote each edit sent from here: a client's own echo is not a delivery. */
const writtenBy = new Map<number, number>();
/** The plan prepared for the next `send`. */
let prepared: { plan: EditPlan; edits: Array<{ client: SyncClient; edit: PreparedEdit }> } | undefined;

function report(msg: WorkerReport): void {
  process.send!(msg);
}

// Batches every 10 ms: the bench process only needs them to count deliveries (drain) and to pool the
// latency samples; the latency itself was fixed at receipt.
const flushTimer = setInterval(() => {
  if (ids.length === 0) return;
  report({ type: 'deliveries', ids, lat });
  ids = [];
  lat = [];
}, 10);

function sink(_client: SyncClient, receivedAt: number, frame: Buffer, payloadAt: number): void {
  const text = frame.toString('latin1', payloadAt);
  MARKER.lastIndex = 0;
  let m: RegExpExecArray | null;
  const mine = presence.get(_client);
  const slice = mine && slices.get(mine.group);
  while ((m = MARKER.exec(text))) {
    const id = Number(m[1]);
    // A presence client's own state, echoed back by the server (every server relays to all).
    if (slice && id >= slice.base && (id - slice.base) % slice.total === mine.index) continue;
    if (writtenBy.get(id) === _client.id) continue; // a writer's own edit, echoed back
    ids.push(id);
    lat.push(receivedAt - Number(m[2]) / 1000);
  }
}

/**
 * A cursor-and-selection-sized awareness state (about what y-prosemirror's cursor plugin keeps:
 * a user, a colour and two relative positions), carrying the marker. `[prefix][1][varUint8Array update]`.
 */
function presenceFrame(c: SyncClient, awarenessId: number, clock: number, editId: number, sentMicros: number, at: number): Buffer {
  const state = JSON.stringify({
    user: { name: `Member ${awarenessId % 1000}`, color: '#d1495b' },
    cursor: {
      anchor: { type: { client: awarenessId, clock: 3 }, tname: null, item: { client: awarenessId, clock: 100 + at }, assoc: 0 },
      head: { type: { client: awarenessId, clock: 3 }, tname: null, item: { client: awarenessId, clock: 104 + at }, assoc: 0 },
    },
    m: markerText(editId, sentMicros),
  });
  const u = encoding.createEncoder();
  encoding.writeVarUint(u, 1);
  encoding.writeVarUint(u, awarenessId);
  encoding.writeVarUint(u, clock);
  encoding.writeVarString(u, state);
  const e = encoding.createEncoder();
  encoding.writeUint8Array(e, c.prefix);
  encoding.writeVarUint(e, 1);
  encoding.writeVarUint8Array(e, encoding.toUint8Array(u));
  const out = encoding.toUint8Array(e);
  return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
}

async function sendPresence(slice: PresenceSlice): Promise<void> {
  slices.set(slice.group, slice);
  const mine = [...presence.entries()].filter(([, p]) => p.group === slice.group).sort((a, b) => a[1].index - b[1].index);
  const n = mine.length * slice.rounds;
  // Send j: round k = floor(j / mine.length) of this worker's client j % mine.length, due at (k + index / total) / hz.
  await runSchedule(
    n,
    (j) => ((Math.floor(j / mine.length) + mine[j % mine.length]![1].index / slice.total) / slice.hz) * 1000,
    (j) => {
      const k = Math.floor(j / mine.length);
      const [client, p] = mine[j % mine.length]!;
      const id = slice.base + k * slice.total + p.index;
      client.send(presenceFrame(client, p.awarenessId, ++p.clock, id, nowMicros(), k));
    },
  );
}

function prepare(plan: EditPlan): void {
  const edits = plan.clientIds.map((clientId, k) => {
    const w = writers.get(clientId);
    if (!w) throw new Error(`client ${clientId} is not a writer here`);
    writtenBy.set(plan.editIds[k]!, clientId);
    return { client: w.client, edit: w.writer.prepare(plan.editIds[k]!) };
  });
  prepared = { plan, edits };
}

/** Sends the prepared plan from `startAtMs` (bench clock); returns each edit's send time. */
async function sendPlanned(startAtMs: number): Promise<{ editIds: number[]; sentAtMs: number[] }> {
  const p = prepared;
  if (!p) throw new Error('send without a plan');
  prepared = undefined;
  const wait = startAtMs - benchNowMs();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  const sentAtMs = new Array<number>(p.edits.length);
  await runSchedule(
    p.edits.length,
    (k) => p.plan.offsetsMs[k]!,
    (k) => {
      const { client, edit } = p.edits[k]!;
      const t = nowMicros();
      stamp(edit, t);
      sentAtMs[k] = t / 1000;
      client.send(edit.frame);
    },
  );
  return { editIds: p.plan.editIds, sentAtMs };
}

process.on('message', (cmd: WorkerCommand) => {
  void (async () => {
    try {
      if (cmd.type === 'connect') {
        const opened = await connectMany(cmd.clients.length, (i) => {
          const c = cmd.clients[i]!;
          return new SyncClient({ id: c.id, url: c.url, prefix: Uint8Array.from(c.prefix), authToken: c.authToken, sinkAwareness: c.presence !== undefined }, sink);
        });
        opened.forEach((client, i) => {
          const { presence: p, writerKey } = cmd.clients[i]!;
          if (p) presence.set(client, { ...p, awarenessId: 1_000_000 + client.id, clock: 0 });
          if (writerKey !== undefined) writers.set(client.id, { client, writer: new EditWriter(client.prefix, writerKey) });
        });
        clients.push(...opened);
        report({ type: 'connected', seq: cmd.seq, closed: 0 });
      } else if (cmd.type === 'presence') {
        await sendPresence(cmd);
        report({ type: 'connected', seq: cmd.seq, closed: 0 });
      } else if (cmd.type === 'plan') {
        prepare(cmd);
        report({ type: 'connected', seq: cmd.seq, closed: 0 });
      } else if (cmd.type === 'send') {
        report({ type: 'sent', seq: cmd.seq, ...(await sendPlanned(cmd.startAtMs)) });
      } else if (cmd.type === 'count-closed') {
        report({ type: 'connected', seq: cmd.seq, closed: clients.filter((c) => c.closed).length });
      } else if (cmd.type === 'close') {
        for (const c of clients.splice(0)) c.close();
        for (const w of writers.values()) w.writer.destroy();
        writers.clear();
        presence.clear();
        clearInterval(flushTimer);
        report({ type: 'connected', seq: cmd.seq, closed: 0 });
        process.disconnect();
      }
    } catch (err) {
      report({ type: 'error', seq: cmd.seq, message: (err as Error).stack ?? String(err) });
    }
  })();
});
process.on('disconnect', () => process.exit(0));
