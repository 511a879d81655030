/**
 * A reminder look expands each event only as far ahead as its longest lead reaches (remindersOf),
 * not four weeks for every event. That must never lose a reminder: for random rooms (one-offs and
 * series in several zones, all-day events, leads from 0 minutes to four weeks, reminders for some
 * members, "this and following" parts with their own reminders, members' defaults, moved and
 * cancelled occurrences, members in zones far from the room's), every look equals a look reaching
 * far past every lead and starting days earlier, cut to what falls due by the look's end.
 */
import { cancelOccurrence, createEvent, editFollowing, editOccurrence, occurrencesBetween, setReminderDefaults } from '@kith/model';
import type { EventInput, ReminderInput } from '@kith/model';
import { mulberry32 } from '@kith/test-support';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { MAX_LEAD_MS, remindersOf } from '../../src/notify/reminders.js';

const DAY = 86_400_000;
const MEMBERS = ['mum', 'dad', 'kid'];
const ZONES = ['Europe/Berlin', 'America/New_York', 'Pacific/Kiritimati', 'UTC'];
const LEADS = [0, 5, 30, 60, 900, 1_440, 10_080, 40_320];
const NOW = Date.parse('2026-10-20T08:00:00Z');
const wall = (ms: number) => new Date(ms).toISOString().slice(0, 16);
const date = (ms: number) => new Date(ms).toISOString().slice(0, 10);

function randomRoom(seed: number): Y.Doc {
  const rnd = mulberry32(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const reminders = (): ReminderInput[] =>
    Array.from({ length: Math.floor(rnd() * 3) }, () => ({ minutesBefore: pick(LEADS), for: rnd() < 0.3 ? [pick(MEMBERS)] : null }));
  const doc = new Y.Doc();
  doc.getMap('room').set('defaultTz', 'Europe/Berlin');
  if (rnd() < 0.7) setReminderDefaults(doc, 'dad', { timed: [pick(LEADS)], allDay: [900] });
  const ids: string[] = [];
  for (let i = 0; i < 80; i++) {
    const start = NOW - 60 * DAY + Math.floor(rnd() * 150 * 96) * 900_000;
    const allDay = rnd() < 0.15;
    const input: EventInput = {
      title: `E${i}`,
      start: allDay ? date(start) : wall(start),
      end: allDay ? date(start + DAY) : wall(start + 3_600_000),
      tz: allDay ? null : pick(ZONES),
      rrule: pick([null, null, 'FREQ=WEEKLY', 'FREQ=DAILY;COUNT=40', 'FREQ=WEEKLY;BYDAY=MO,TH', 'FREQ=MONTHLY']),
      participants: rnd() < 0.3 ? [pick(MEMBERS)] : [],
      reminders: reminders(),
    };
    ids.push(createEvent(doc, input, { actor: 'mum' }));
  }
  // Series changed from some occurrence on (new reminders, sometimes a new time), moved and cancelled occurrences.
  const occs = occurrencesBetween(doc, { from: new Date(NOW - 30 * DAY).toISOString(), to: new Date(NOW + 60 * DAY).toISOString(), timeZone: 'UTC' });
  for (const id of ids) {
    const own = occs.filter((o) => o.eventId === id && o.recurring);
    if (own.length < 3 || rnd() < 0.4) continue;
    const o = own[Math.floor(rnd() * own.length)]!;
    try {
      const kind = Math.floor(rnd() * 3);
      if (kind === 0) editFollowing(doc, id, o.occKey, { reminders: reminders(), ...(rnd() < 0.5 && !o.allDay ? { start: wall(Date.parse(`${o.start}Z`) + 3_600_000), end: wall(Date.parse(`${o.end}Z`) + 3_600_000) } : {}) }, { actor: 'mum' });
      else if (kind === 1 && !o.allDay) editOccurrence(doc, id, o.occKey, { start: wall(Date.parse(`${o.start}Z`) + 2 * DAY), end: wall(Date.parse(`${o.end}Z`) + 2 * DAY) }, { actor: 'mum' });
      else cancelOccurrence(doc, id, o.occKey, { actor: 'mum' });
    } catch {
      // A wall clock in a DST gap, say: one edit fewer.
    }
  }
  return doc;
}

const key = (r: { eventId: string; occurrenceStart: string; reminderId: string; userId: string; dueMs: number }) =>
  `${r.eventId}|${r.occurrenceStart}|${r.reminderId}|${r.userId}|${r.dueMs}`;

describe('a reminder look reaches each event only as far as its leads', () => {
  it('finds exactly what a look reaching past every lead finds, due by its end', () => {
    let found = 0;
    let fourWeeks = 0;
    for (let seed = 1; seed <= 6; seed++) {
      const doc = randomRoom(seed);
      const rnd = mulberry32(seed * 1_000);
      for (let k = 0; k < 8; k++) {
        const now = NOW + Math.floor(rnd() * 30 * 24) * 3_600_000;
        const startsAfter = now - 60_000 - Math.floor(rnd() * 3) * DAY;
        const dueBy = now + DAY;
        // Odd seeds: members in zones far from the room's, where all-day and floating events start up to a day apart.
        const zones: Record<string, string> = seed % 2 === 1 ? { dad: 'America/New_York', kid: 'Pacific/Kiritimati' } : {};
        const got = remindersOf(doc, MEMBERS, startsAfter, dueBy, zones);
        const far = remindersOf(doc, MEMBERS, startsAfter - 3 * DAY, dueBy + MAX_LEAD_MS + 3 * DAY, zones).filter((r) => r.startMs > startsAfter && r.dueMs <= dueBy);
        expect(got.map(key), `seed ${seed}, look at ${new Date(now).toISOString()}`).toEqual(far.map(key));
        expect(got.every((r) => r.startMs > startsAfter && r.dueMs <= dueBy)).toBe(true);
        found += got.length;
        fourWeeks += got.filter((r) => r.startMs - r.dueMs === MAX_LEAD_MS && r.startMs > dueBy + 20 * DAY).length;
      }
    }
    expect(found).toBeGreaterThan(200);
    expect(fourWeeks).toBeGreaterThan(0); // reminders four weeks ahead were among them
  });

  it('reaches four weeks for a four-week lead, a day and 15 hours for an all-day default, a week for a later part', () => {
    const doc = new Y.Doc();
    doc.getMap('room').set('defaultTz', 'Europe/Berlin');
    setReminderDefaults(doc, 'dad', { allDay: [900] });
    const actor = { actor: 'mum' };
    const far = createEvent(doc, { title: 'Passport', start: wall(NOW + 27 * DAY), end: wall(NOW + 27 * DAY + 3_600_000), tz: 'UTC', reminders: [{ minutesBefore: 40_320 }] }, actor);
    const near = createEvent(doc, { title: 'Dentist', start: wall(NOW + 27 * DAY), end: wall(NOW + 27 * DAY + 3_600_000), tz: 'UTC', reminders: [{ minutesBefore: 10 }] }, actor);
    const trip = createEvent(doc, { title: 'Trip', start: date(NOW + 2 * DAY), end: date(NOW + 3 * DAY), participants: ['dad'] }, actor);
    const choir = createEvent(doc, { title: 'Choir', start: wall(NOW - 14 * DAY), end: wall(NOW - 14 * DAY + 3_600_000), tz: 'UTC', rrule: 'FREQ=WEEKLY', reminders: [{ minutesBefore: 10 }] }, actor);
    editFollowing(doc, choir, date(NOW + 7 * DAY), { reminders: [{ minutesBefore: 10_080 }] }, actor);
    const got = remindersOf(doc, MEMBERS, NOW - 60_000, NOW + DAY);
    const summary = got.map((r) => `${r.title}:${r.userId}:${(r.startMs - r.dueMs) / 60_000}`).sort();
    expect(summary).toEqual([
      // Today's choir (the earlier part, 10 minutes before) and the later part's, one week ahead.
      ...MEMBERS.flatMap((m) => [`Choir:${m}:10`, `Choir:${m}:10080`]),
      ...MEMBERS.map((m) => `Passport:${m}:40320`).sort(),
      // 9:00 the day before a trip starting in two days: due within the day (Berlin midnight is 22:00 or 23:00 UTC).
      'Trip:dad:900',
    ].sort());
    expect(got.some((r) => r.eventId === near)).toBe(false);
    expect(got.find((r) => r.eventId === far)?.startMs).toBe(NOW + 27 * DAY);
    expect(got.find((r) => r.eventId === trip)?.allDay).toBe(true);
  });
});
