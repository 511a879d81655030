/**
 * W4's stored history: a calendar room of `events` events written as `events × updatesPerEvent`
 * separate Yjs updates by four devices, in the room layout of @kith/model (an `events` map of
 * per-event maps with a Y.Text description and a `who` map). Deterministic (seeded), and cached
 * on disk because generating 50,000 transactions takes a few seconds.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as Y from 'yjs';

const DEVICES = [0x1001, 0x1002, 0x1003, 0x1004];
const TITLES = ['Dentist', 'Swimming', 'Piano lesson', 'Dinner at Grandma', 'School run', 'Football', 'Parents evening', 'Flight to Lisbon'];
const PLACES = ['Main St 12', 'Sports hall', 'Home', 'Town library', 'Airport T2', 'Community centre'];
const ZONES = ['Europe/Berlin', 'Europe/Lisbon', 'America/New_York', null];

/** A small seeded PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface History {
  updates: Uint8Array[];
  /** The final state as one update (what a full-snapshot store such as Hocuspocus's holds). */
  snapshot: Uint8Array;
  events: number;
}

export function generateHistory(events: number, updatesPerEvent: number, seed = 42): History {
  const rnd = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const doc = new Y.Doc();
  const updates: Uint8Array[] = [];
  doc.on('update', (u: Uint8Array) => updates.push(u));
  const root = doc.getMap('events');
  const ids = Array.from({ length: events }, (_, i) => `ev-${i.toString(36).padStart(4, '0')}-${Math.floor(rnd() * 1e9).toString(36)}`);
  const stamp = (ev: Y.Map<unknown>, device: number, k: number) => {
    ev.set('updatedBy', `m${device & 0xf}`);
    ev.set('updatedAt', 1767225600000 + k * 60_000);
  };
  let k = 0;
  for (let round = 0; round < updatesPerEvent; round++) {
    // Each round touches every event once, in a shuffled order, from one of the devices.
    const order = ids.map((_, i) => i);
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(rnd() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    for (const e of order) {
      const device = DEVICES[Math.floor(rnd() * DEVICES.length)]!;
      doc.clientID = device;
      const id = ids[e]!;
      doc.transact(() => {
        if (round === 0) {
          const ev = new Y.Map<unknown>();
          const day = 1 + Math.floor(rnd() * 28);
          ev.set('title', pick(TITLES));
          ev.set('location', pick(PLACES));
          ev.set('start', `2026-03-${String(day).padStart(2, '0')}T${String(7 + Math.floor(rnd() * 12)).padStart(2, '0')}:00`);
          ev.set('duration', 'PT1H');
          ev.set('tz', pick(ZONES));
          ev.set('endTz', null);
          ev.set('description', new Y.Text('Bring the blue folder.'));
          const who = new Y.Map<boolean>();
          who.set(`m${device & 0xf}`, true);
          ev.set('who', who);
          ev.set('color', null);
          ev.set('rrule', null);
          ev.set('deleted', null);
          ev.set('createdBy', `m${device & 0xf}`);
          ev.set('createdAt', 1767225600000 + k * 60_000);
          root.set(id, ev);
          return;
        }
        const ev = root.get(id) as Y.Map<unknown>;
        switch (round % 6) {
          case 1:
            ev.set('title', `${pick(TITLES)} ${round}`);
            break;
          case 2: {
            const d = ev.get('description') as Y.Text;
            d.insert(d.length, ` Note ${round}.`);
            break;
          }
          case 3:
            ev.set('start', `2026-04-${String(1 + Math.floor(rnd() * 28)).padStart(2, '0')}T${String(7 + Math.floor(rnd() * 12)).padStart(2, '0')}:30`);
            break;
          case 4:
            (ev.get('who') as Y.Map<boolean>).set(`m${1 + Math.floor(rnd() * 6)}`, true);
            break;
          case 5:
            ev.set('location', pick(PLACES));
            break;
          default:
            ev.set('duration', pick(['PT30M', 'PT1H', 'PT1H30M', 'PT2H']));
        }
        stamp(ev, device, k);
      });
      k++;
    }
  }
  const snapshot = Y.encodeStateAsUpdate(doc);
  doc.destroy();
  return { updates, snapshot, events };
}

/** Loads the history from `cacheDir`, generating and caching it on first use. */
export function loadHistory(cacheDir: string, events: number, updatesPerEvent: number): History {
  const file = path.join(cacheDir, `history-v1-${events}x${updatesPerEvent}.bin`);
  if (fs.existsSync(file)) {
    const buf = fs.readFileSync(file);
    const parts: Uint8Array[] = [];
    let pos = 0;
    while (pos < buf.length) {
      const len = buf.readUInt32LE(pos);
      pos += 4;
      parts.push(new Uint8Array(buf.buffer, buf.byteOffset + pos, len));
      pos += len;
    }
    const snapshot = parts.pop()!;
    return { updates: parts, snapshot, events };
  }
  const h = generateHistory(events, updatesPerEvent);
  fs.mkdirSync(cacheDir, { recursive: true });
  const chunks: Buffer[] = [];
  for (const u of [...h.updates, h.snapshot]) {
    const len = Buffer.alloc(4);
    len.writeUInt32LE(u.byteLength);
    chunks.push(len, Buffer.from(u.buffer, u.byteOffset, u.byteLength));
  }
  fs.writeFileSync(file + '.tmp', Buffer.concat(chunks));
  fs.renameSync(file + '.tmp', file);
  return h;
}
