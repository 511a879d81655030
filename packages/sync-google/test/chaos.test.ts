/**
 * Chaos: random operations on both sides (the room, and Google's own UI) while about one Google request in
 * five fails (rate limits, 429, 5xx, 401, dropped connections, writes applied but never answered), and the
 * worker is killed abruptly at random points and restarted from its durable state. At the end both sides
 * must hold the same events, with no duplicate and nothing lost. A quarter of the way in, a 100-event .ics is
 * imported into the room; push notifications are on, and how long Google-made events take to reach the room
 * while that export runs (through faults and kills) is measured and printed.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import * as Y from 'yjs';
import {
  cancelOccurrence,
  createEvent,
  deleteEvent,
  editFollowing,
  editOccurrence,
  getEvent,
  listEvents,
  moveEvent,
  updateEvent,
  ModelError,
} from '@kith/model';
import { mulberry32 } from '@kith/test-support';
import { adoptedKithId } from '../src/runner.js';
import { CLIENT_ID, diff, edit, GOOGLE_USER, linkedRoom, me, startRig, type Rig } from './helpers.js';
import type { FaultKind } from '@kith/fake-google';

const OPERATIONS = Number(process.env.KITH_CHAOS_OPS ?? 500);
const FAULT_RATE = 0.2;
const SEED = Number(process.env.KITH_CHAOS_SEED ?? 20260321);

let rig: Rig;
beforeAll(async () => {
  rig = await startRig({ fake: { seed: SEED } });
  // Push notifications on, as in production: Google's changes are listed as they happen, not at restarts.
  rig.options.webhookBaseUrl = rig.appUrl;
  await rig.worker.close();
  await rig.restartWorker();
});

const BULK = 100;
function bulkIcs(count: number): string {
  const lines = ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//kith test//chaos bulk//EN'];
  for (let i = 0; i < count; i++) {
    const d = new Date(Date.UTC(2026, 5, 1) + i * 86_400_000).toISOString().slice(0, 10).replaceAll('-', '');
    lines.push('BEGIN:VEVENT', `UID:chaos-bulk-${i}@kith.test`, 'DTSTAMP:20260101T000000Z', `DTSTART:${d}T120000Z`, `DTEND:${d}T130000Z`, `SUMMARY:Bulk ${i}`, 'END:VEVENT');
  }
  lines.push('END:VCALENDAR');
  return lines.join('\r\n') + '\r\n';
}
const percentile = (xs: number[], p: number) => (xs.length === 0 ? null : [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!);
afterAll(async () => {
  await rig?.close();
});

const KINDS: FaultKind[] = [
  'rateLimitExceeded',
  'userRateLimitExceeded',
  'tooManyRequests',
  'backendError',
  'serviceUnavailable',
  'unauthorized',
  'commitThenDrop',
  'dropConnection',
];

it(`converges after ${OPERATIONS} random operations on both sides with ${FAULT_RATE * 100}% injected faults and the worker killed at random points`, { timeout: 300_000 }, async () => {
  const random = mulberry32(SEED);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const { roomId, calendarId, token } = await linkedRoom(rig);
  await rig.worker.syncNow(roomId);

  // Per-spec probability so that a request meets some fault with probability FAULT_RATE.
  const perKind = 1 - (1 - FAULT_RATE) ** (1 / KINDS.length);
  const injectFaults = () => {
    for (const kind of KINDS) rig.fake.injectFault({ route: '*', kind, probability: perKind });
    rig.fake.injectFault({ route: 'oauth.token', kind: 'backendError', probability: FAULT_RATE });
  };
  rig.fake.resetStats();
  injectFaults();

  const testToken = rig.fake.issueTokens({ email: GOOGLE_USER, clientId: CLIENT_ID, scopes: ['https://www.googleapis.com/auth/calendar'] }).access_token;
  /** Instances of a Google series, read with faults paused (the test's own reads must not fail). */
  const googleInstances = async (masterId: string): Promise<any[]> => {
    rig.fake.clearFaults();
    try {
      const res = await rig.fake.app.inject({
        method: 'GET',
        url: `/calendar/v3/calendars/${encodeURIComponent(calendarId)}/events/${masterId}/instances?maxResults=10`,
        headers: { authorization: `Bearer ${testToken}` },
      });
      return res.statusCode === 200 ? (res.json().items as any[]) : [];
    } finally {
      injectFaults();
    }
  };

  /** Titles set per event and by which side, to check edits nobody else raced with. */
  const titles = new Map<string, Array<{ side: 'room' | 'google'; title: string }>>();
  const createdInRoom = new Set<string>();
  const createdInGoogle = new Set<string>();
  const deleted = new Set<string>();
  const note = (key: string, side: 'room' | 'google', title: string) => titles.set(key, [...(titles.get(key) ?? []), { side, title }]);
  /** Locations set per event and by which side (a field edit nobody raced with must not be lost). */
  const locations = new Map<string, Array<{ side: 'room' | 'google'; location: string }>>();
  const noteLocation = (key: string, side: 'room' | 'google', location: string) => locations.set(key, [...(locations.get(key) ?? []), { side, location }]);
  /** Google-made events since the bulk import, by the room id they get, with when they were made. */
  const awaited = new Map<string, number>();
  const latencies: number[] = [];
  let bulkAt = 0;
  /** The room event a Google event stands for: ours carry the Kith id, adopted ones get a derived id. */
  const googleKeyOf = (gid: string): string => {
    const g = rig.fake.event(calendarId, gid) as any;
    return g?.extendedProperties?.private?.famcalId ?? adoptedKithId(calendarId, gid);
  };

  let kills = 0;
  let killsMidCycle = 0;
  let killScheduled = false;
  let applied = 0;
  const counts: Record<string, number> = {};
  const zones = ['Europe/Berlin', 'America/New_York', 'Asia/Tokyo', 'UTC', 'Australia/Sydney'];
  const day = (n: number) => new Date(Date.UTC(2026, 2, 1 + n)).toISOString().slice(0, 10);
  const hh = (n: number) => String(n).padStart(2, '0');

  for (let i = 0; i < OPERATIONS; i++) {
    if (i === Math.floor(OPERATIONS / 4)) {
      const res = await fetch(`${rig.kith.url}/rooms/${roomId}/import`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'text/calendar' },
        body: bulkIcs(BULK),
      });
      expect(res.status).toBe(200);
      bulkAt = Date.now();
    }
    const room = await rig.kith.sync.readRoom(roomId, (doc) => listEvents(doc));
    const inRoom = new Set(room.map((e) => e.id));
    for (const [key, madeAt] of awaited) {
      if (!inRoom.has(key)) continue;
      latencies.push(Date.now() - madeAt);
      awaited.delete(key);
    }
    const googleLive = (rig.fake.events(calendarId) as any[]).filter((e) => !e.recurringEventId && e.status !== 'cancelled');
    const roomSide = random() < 0.55;
    const r = random();
    let op = '';
    try {
      if (roomSide) {
        if (room.length < 4 || r < 0.25) {
          const kind = random();
          const d = day(Math.floor(random() * 60));
          if (kind < 0.4) {
            const h = 6 + Math.floor(random() * 14);
            op = 'room.create.timed';
            const id = await edit(rig, roomId, (doc) =>
              createEvent(doc, { title: `R${i}`, start: `${d}T${hh(h)}:00`, end: `${d}T${hh(h + 1)}:30`, tz: pick(zones), participants: random() < 0.3 ? ['kim'] : [] }, me),
            );
            createdInRoom.add(id);
            note(id, 'room', `R${i}`);
          } else if (kind < 0.7) {
            op = 'room.create.allDay';
            const len = 1 + Math.floor(random() * 3);
            const end = day(Math.floor((Date.parse(d) - Date.UTC(2026, 2, 1)) / 86_400_000) + len);
            const id = await edit(rig, roomId, (doc) => createEvent(doc, { title: `R${i}`, start: d, end }, me));
            createdInRoom.add(id);
            note(id, 'room', `R${i}`);
          } else {
            op = 'room.create.series';
            const id = await edit(rig, roomId, (doc) =>
              createEvent(doc, { title: `R${i}`, start: `${d}T18:00`, end: `${d}T19:00`, tz: pick(zones), rrule: `FREQ=WEEKLY;COUNT=${3 + Math.floor(random() * 5)}` }, me),
            );
            createdInRoom.add(id);
            note(id, 'room', `R${i}`);
          }
        } else {
          const ev = pick(room);
          if (r < 0.45) {
            op = 'room.retitle';
            await edit(rig, roomId, (doc) => updateEvent(doc, ev.id, { title: `R${i}` }, me));
            note(ev.id, 'room', `R${i}`);
          } else if (r < 0.55) {
            op = 'room.locate';
            await edit(rig, roomId, (doc) => updateEvent(doc, ev.id, { location: `Place ${i}` }, me));
            noteLocation(ev.id, 'room', `Place ${i}`);
          } else if (r < 0.68) {
            op = 'room.move';
            const shift = ev.allDay ? day(Math.floor(random() * 60)) : `${day(Math.floor(random() * 60))}T${hh(7 + Math.floor(random() * 12))}:15`;
            await edit(rig, roomId, (doc) => moveEvent(doc, ev.id, { start: shift }, me));
          } else if (r < 0.78) {
            op = 'room.delete';
            await edit(rig, roomId, (doc) => deleteEvent(doc, ev.id, me));
            deleted.add(ev.id);
          } else if (ev.rrule) {
            const k = Math.floor(random() * 3);
            const key = new Date(Date.parse(`${ev.start.slice(0, 10)}T00:00:00Z`) + 7 * 86_400_000 * (k + 1)).toISOString().slice(0, 10);
            if (r < 0.88) {
              op = 'room.occurrence.edit';
              await edit(rig, roomId, (doc) => editOccurrence(doc, ev.id, key, { title: `O${i}` }, me));
            } else if (r < 0.96) {
              op = 'room.occurrence.cancel';
              await edit(rig, roomId, (doc) => cancelOccurrence(doc, ev.id, key, me));
            } else {
              op = 'room.following';
              await edit(rig, roomId, (doc) => editFollowing(doc, ev.id, key, { title: `F${i}` }, me));
            }
          } else {
            op = 'room.describe';
            await edit(rig, roomId, (doc) => updateEvent(doc, ev.id, { description: `Notes ${i}` }, me));
          }
        }
      } else {
        if (googleLive.length < 4 || r < 0.25) {
          const d = day(Math.floor(random() * 60));
          const kind = random();
          let body: any;
          if (kind < 0.45) {
            op = 'google.create.timed';
            const h = 6 + Math.floor(random() * 14);
            const tz = pick(zones);
            const start = new Date(Date.parse(`${d}T${hh(h)}:00:00Z`)).toISOString();
            body = { summary: `G${i}`, start: { dateTime: start, timeZone: tz }, end: { dateTime: new Date(Date.parse(start) + 5_400_000).toISOString(), timeZone: tz } };
          } else if (kind < 0.75) {
            op = 'google.create.allDay';
            body = { summary: `G${i}`, start: { date: d }, end: { date: day(Math.floor((Date.parse(d) - Date.UTC(2026, 2, 1)) / 86_400_000) + 1 + Math.floor(random() * 2)) } };
          } else {
            op = 'google.create.series';
            body = {
              summary: `G${i}`,
              start: { dateTime: `${d}T07:30:00Z`, timeZone: 'Europe/London' },
              end: { dateTime: `${d}T08:00:00Z`, timeZone: 'Europe/London' },
              recurrence: [`RRULE:FREQ=DAILY;COUNT=${2 + Math.floor(random() * 4)}`],
            };
          }
          const created = rig.fake.ui.insertEvent(calendarId, body);
          createdInGoogle.add(created.id as string);
          if (bulkAt) awaited.set(adoptedKithId(calendarId, created.id as string), Date.now());
          note(adoptedKithId(calendarId, created.id as string), 'google', `G${i}`);
        } else {
          const g = pick(googleLive);
          const key = googleKeyOf(g.id);
          if (r < 0.5) {
            op = 'google.retitle';
            rig.fake.ui.patchEvent(calendarId, g.id, { summary: `G${i}` });
            note(key, 'google', `G${i}`);
          } else if (r < 0.6) {
            op = 'google.locate';
            rig.fake.ui.patchEvent(calendarId, g.id, { location: `Spot ${i}` });
            noteLocation(key, 'google', `Spot ${i}`);
          } else if (r < 0.72) {
            op = 'google.move';
            const shift = 86_400_000 * (1 + Math.floor(random() * 5));
            if (g.start.date) {
              const s = new Date(Date.parse(`${g.start.date}T00:00:00Z`) + shift).toISOString().slice(0, 10);
              const e = new Date(Date.parse(`${g.end.date}T00:00:00Z`) + shift).toISOString().slice(0, 10);
              rig.fake.ui.patchEvent(calendarId, g.id, { start: { date: s }, end: { date: e } });
            } else {
              rig.fake.ui.patchEvent(calendarId, g.id, {
                start: { dateTime: new Date(Date.parse(g.start.dateTime) + shift).toISOString(), timeZone: g.start.timeZone },
                end: { dateTime: new Date(Date.parse(g.end.dateTime) + shift).toISOString(), timeZone: g.end.timeZone },
              });
            }
          } else if (r < 0.82 || !g.recurrence) {
            op = 'google.delete';
            rig.fake.ui.deleteEvent(calendarId, g.id);
            deleted.add(key);
          } else {
            const inst = (await googleInstances(g.id)).filter((x) => x.status !== 'cancelled');
            if (inst.length > 1) {
              const target = inst[1 + Math.floor(random() * (inst.length - 1))];
              if (r < 0.92) {
                op = 'google.occurrence.edit';
                rig.fake.ui.patchEvent(calendarId, target.id, { summary: `GO${i}` });
              } else {
                op = 'google.occurrence.cancel';
                rig.fake.ui.deleteEvent(calendarId, target.id);
              }
            }
          }
        }
      }
      if (op) {
        applied += 1;
        counts[op] = (counts[op] ?? 0) + 1;
      }
    } catch (err) {
      // Operations the model refuses (an occurrence that does not exist, an invalid split) change nothing.
      if (!(err instanceof ModelError)) throw err;
    }

    // Kill the worker at a random moment of its work; restart it a little later.
    if (!killScheduled && rig.worker.store.isOpen && random() < 0.04) {
      killScheduled = true;
      setTimeout(() => {
        if (rig.worker.busy) killsMidCycle += 1;
        rig.worker.kill();
        kills += 1;
        killScheduled = false;
      }, Math.floor(random() * 25));
    }
    if (!rig.worker.store.isOpen && !killScheduled && random() < 0.35) await rig.restartWorker();
    await new Promise((resolve) => setTimeout(resolve, Math.floor(random() * 12)));
  }

  // Let it finish: faults off, worker alive, sync until both sides agree.
  const stats = rig.fake.stats();
  rig.fake.clearFaults();
  while (killScheduled) await new Promise((resolve) => setTimeout(resolve, 5));
  if (!rig.worker.store.isOpen) await rig.restartWorker();
  let final = await diff(rig, roomId, calendarId);
  let rounds = 0;
  for (; rounds < 15; rounds++) {
    await rig.worker.syncNow(roomId);
    final = await diff(rig, roomId, calendarId);
    if (final.onlyRoom.length + final.onlyGoogle.length + final.differ.length === 0) break;
  }

  const sum = (rec: Record<string, number>) => Object.values(rec).reduce((a, b) => a + b, 0);
  const apiRequests = Object.entries(stats.requests)
    .filter(([k]) => !k.startsWith('oauth.'))
    .reduce((n, [, v]) => n + v, 0);
  const faults = sum(stats.faults);
  const roomEvents = await rig.kith.sync.readRoom(roomId, (doc) => listEvents(doc));
  const summary = {
    operationsAttempted: OPERATIONS,
    operationsApplied: applied,
    byOperation: counts,
    googleRequests: apiRequests,
    faultsInjected: faults,
    faultsByRoute: stats.faults,
    faultRate: Number((faults / Math.max(1, apiRequests + (stats.requests['oauth.token'] ?? 0))).toFixed(3)),
    kills,
    killsMidCycle,
    extraSyncRounds: rounds + 1,
    bulkImported: BULK,
    googleToRoomDuringBulkMs: { samples: latencies.length, notSeenBeforeTheEnd: awaited.size, p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: percentile(latencies, 100) },
    finalDiff: final,
    roomEvents: roomEvents.length,
  };
  console.log(`chaos summary ${JSON.stringify(summary)}`);

  expect(final).toEqual({ onlyRoom: [], onlyGoogle: [], differ: [], duplicates: 0 });
  expect(kills).toBeGreaterThan(3);
  // Settled means settled: more cycles write nothing on either side.
  const writes = JSON.stringify(rig.fake.stats().writes);
  const sv = await rig.kith.sync.readRoom(roomId, (doc) => Buffer.from(Y.encodeStateVector(doc)).toString('base64'));
  await rig.worker.syncNow(roomId);
  await rig.worker.syncNow(roomId);
  expect(JSON.stringify(rig.fake.stats().writes)).toBe(writes);
  expect(await rig.kith.sync.readRoom(roomId, (doc) => Buffer.from(Y.encodeStateVector(doc)).toString('base64'))).toBe(sv);
  expect(faults).toBeGreaterThan(50);

  // Nothing lost: every event made on either side and deleted by neither is in the room (and so in Google).
  const roomIds = new Set(roomEvents.map((e) => e.id));
  for (const id of createdInRoom) if (!deleted.has(id)) expect(roomIds.has(id), `room-made ${id}`).toBe(true);
  for (const gid of createdInGoogle) {
    const key = googleKeyOf(gid);
    if (!deleted.has(key) && !deleted.has(gid)) expect(roomIds.has(key), `google-made ${gid}`).toBe(true);
  }
  // Edits nobody raced with: an event retitled from one side only ends with the last title it was given.
  for (const [key, edits] of titles) {
    if (deleted.has(key) || !roomIds.has(key)) continue;
    if (new Set(edits.map((e) => e.side)).size !== 1) continue;
    const ev = await rig.kith.sync.readRoom(roomId, (doc) => getEvent(doc, key));
    expect(ev?.title, `title of ${key}`).toBe(edits[edits.length - 1]!.title);
  }
  // The same for locations.
  for (const [key, edits] of locations) {
    if (deleted.has(key) || !roomIds.has(key)) continue;
    if (new Set(edits.map((e) => e.side)).size !== 1) continue;
    const ev = await rig.kith.sync.readRoom(roomId, (doc) => getEvent(doc, key));
    expect(ev?.location, `location of ${key}`).toBe(edits[edits.length - 1]!.location);
  }
  // Every bulk-imported event reached Google.
  const bulkInGoogle = (rig.fake.events(calendarId) as any[]).filter((e) => e.status !== 'cancelled' && /^Bulk \d+$/.test(e.summary ?? '')).length;
  const bulkInRoom = roomEvents.filter((e) => /^Bulk \d+$/.test(e.title)).length;
  expect(bulkInGoogle).toBe(bulkInRoom);
  expect(latencies.length).toBeGreaterThan(5);
});
