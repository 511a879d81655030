/**
 * The reminder scheduler's cost, measured on a sample and extrapolated (`pnpm --filter @kith/bench
 * bench:notify [--rooms N]`): ROOMS rooms × 50 events (30 one-off over the next month, 20 weekly
 * series), one reminder each for everyone in a 4-person family.
 *
 * What the scheduler does per room: a "look" (the reminders falling due in the next day, each event
 * expanded as far ahead as its longest lead reaches; compare with the ledger — the ledger part is not in this figure) each time one of its
 * reminders falls due, when the room changes, and once a day otherwise; an index entry in a heap.
 * CPU/hour = looks per hour × measured time per look; memory = the index and per-room state, measured,
 * plus the change-notice fingerprints (one per event).
 */
import { createEvent } from '@kith/model';
import { NotifyDueIndex, notifyRemindersOf } from '@kith/server';
import * as Y from 'yjs';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const SAMPLE = arg('rooms', 200);
const TARGET_ROOMS = 10_000;
const EVENTS = 50;
const MEMBERS = ['mum', 'dad', 'kid1', 'kid2'];
const DAY_MS = 86_400_000;

const now = Date.parse('2026-06-01T06:00:00Z');
const wall = (ms: number) => new Date(ms).toISOString().slice(0, 16);

function buildRoom(seed: number): Y.Doc {
  const doc = new Y.Doc();
  doc.getMap('room').set('defaultTz', 'Europe/Berlin');
  for (let i = 0; i < EVENTS; i++) {
    const start = now + ((seed * 7919 + i * 104_729) % (30 * 24)) * 3_600_000;
    createEvent(
      doc,
      {
        title: `Event ${i}`,
        start: wall(start),
        end: wall(start + 3_600_000),
        tz: 'Europe/Berlin',
        rrule: i < 20 ? 'FREQ=WEEKLY' : null,
        reminders: [{ minutesBefore: 30 }],
      },
      { actor: 'mum', now: new Date(now).toISOString() },
    );
  }
  return doc;
}

const docs = Array.from({ length: SAMPLE }, (_, i) => buildRoom(i));
// Warm up the expansion code paths.
for (const doc of docs.slice(0, 10)) notifyRemindersOf(doc, MEMBERS, now - 60_000, now + DAY_MS);

const cpu0 = process.cpuUsage();
const t0 = performance.now();
for (const doc of docs) notifyRemindersOf(doc, MEMBERS, now - 60_000, now + DAY_MS);
const cpu = process.cpuUsage(cpu0);
const lookMs = (cpu.user + cpu.system) / 1000 / SAMPLE;
const wallMs = (performance.now() - t0) / SAMPLE;

// How often a room is looked at: its distinct due times over a week (not part of the look's cost).
let dueInWeek = 0;
for (const doc of docs) {
  const rs = notifyRemindersOf(doc, MEMBERS, now - 60_000, now + 7 * DAY_MS);
  dueInWeek += new Set(rs.filter((r: { dueMs: number }) => r.dueMs > now).map((r: { dueMs: number }) => r.dueMs)).size;
}

// The index for the full 10,000 rooms, and its memory.
global.gc?.();
const heap0 = process.memoryUsage().heapUsed;
const index = new NotifyDueIndex();
const lookedAt = new Map<string, number>();
for (let i = 0; i < TARGET_ROOMS; i++) {
  index.set(`room-${i.toString(36).padStart(22, '0')}`, now + ((i * 7919) % 86_400_000));
  lookedAt.set(`room-${i.toString(36).padStart(22, '0')}`, now);
}
global.gc?.();
const indexBytes = process.memoryUsage().heapUsed - heap0;

// Looks per hour: one per distinct due time (reminders at one instant share a look), one per day per room otherwise.
const looksPerRoomHour = dueInWeek / SAMPLE / (7 * 24) + 1 / 24;
const cpuSecondsPerHour = (looksPerRoomHour * TARGET_ROOMS * lookMs) / 1000;
const result = {
  sampleRooms: SAMPLE,
  eventsPerRoom: EVENTS,
  msPerLook: Number(lookMs.toFixed(2)),
  wallMsPerLook: Number(wallMs.toFixed(2)),
  looksPerRoomPerHour: Number(looksPerRoomHour.toFixed(3)),
  extrapolatedRooms: TARGET_ROOMS,
  schedulerCpuSecondsPerHour: Number(cpuSecondsPerHour.toFixed(1)),
  schedulerCpuShareOfOneCore: `${((cpuSecondsPerHour / 3600) * 100).toFixed(2)} %`,
  indexMemoryMiB: Number((indexBytes / 1048576).toFixed(2)),
  note: 'looks exclude ledger round trips (one SELECT per look with due reminders) and the start-up pass (one look per room)',
};
console.log(JSON.stringify(result, null, 2));
