/**
 * Reminders and the values any client can write: a room zone that is no zone, leads outside what
 * the model allows, and all-day and floating events reminded at their wall clock in each
 * recipient's own zone (through the real server with a controllable clock).
 */
import { createEvent, setReminderDefaults } from '@kith/model';
import { afterEach, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { ManualClock } from '../../src/index.js';
import { remindersOf } from '../../src/notify/reminders.js';
import { apiClient } from '../helpers/api.js';
import { RecordingChannel, startNotifyServer, type NotifyHarness } from './harness.js';

const open: NotifyHarness[] = [];
afterEach(async () => {
  for (const h of open.splice(0)) await h.server.close().catch(() => undefined);
});

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString();

/** A notify server whose channel notes the clock's time at each send. */
async function server(start: string, notify: { offLoopLookBytes?: number } = {}) {
  const clock = new ManualClock(at(start));
  const channel = new RecordingChannel();
  const sentAt: number[] = [];
  const send = channel.send.bind(channel);
  channel.send = async (d) => {
    sentAt.push(clock.now());
    return send(d);
  };
  const h = await startNotifyServer({ clock, channel, notify });
  open.push(h);
  const api = apiClient(h.server.url);
  const mum = await api.signUp('mum');
  const roomId = await api.createRoom(mum.token);
  // Reminders only (change notices tell the other members about the events made).
  const sent = () =>
    channel.deliveries.map((d, i) => ({ kind: d.kind, userId: d.userId, title: d.title, at: iso(sentAt[i]!), key: d.key })).filter((d) => d.kind === 'reminder').map(({ kind: _, ...d }) => d);
  return { clock, channel, h, api, mum, roomId, sent };
}

/** Writes what a raw Yjs client can write into an event's map. */
function raw(doc: Y.Doc, eventId: string, write: (ev: Y.Map<unknown>) => void): void {
  write(doc.getMap('events').get(eventId) as Y.Map<unknown>);
}

describe('reminders and stored values', { timeout: 120_000 }, () => {
  it('a room zone that is no zone reminds as UTC; an event in an unknown zone leaves the others reminded', async () => {
    const { clock, h, mum, roomId, sent } = await server('2026-06-01T07:00:00Z');
    await h.rooms.edit(roomId, (doc) => {
      createEvent(doc, { title: 'Call', start: '2026-06-01T08:00', end: '2026-06-01T08:15', tz: 'UTC', reminders: [{ minutesBefore: 0 }] }, { actor: mum.userId });
      createEvent(doc, { title: 'Fair', start: '2026-06-02', end: '2026-06-03', reminders: [{ minutesBefore: 900 }] }, { actor: mum.userId });
      const bad = createEvent(doc, { title: 'Ghost', start: '2026-06-01T08:00', end: '2026-06-01T09:00', tz: 'UTC', reminders: [{ minutesBefore: 0 }] }, { actor: mum.userId });
      raw(doc, bad, (ev) => ev.set('tz', 'Mars/Phobos'));
      doc.getMap('room').set('defaultTz', 'Mars/Olympus_Mons');
    });
    await h.settle();
    await clock.advanceTo(at('2026-06-02T00:00:00Z'), h.settle);
    await h.settle();
    // All-day in UTC (the fallback): 9:00 the day before is 09:00Z.
    expect(sent().map((s) => [s.title, s.at])).toEqual([
      ['Call at 08:00', '2026-06-01T08:00:00.000Z'],
      ['Fair (Tue 2 Jun)', '2026-06-01T09:00:00.000Z'],
    ]);
    const metrics = await (await fetch(`${h.server.url}/metrics`)).text();
    expect(metrics).toMatch(/^kith_reminders_skipped_total 0$/m);
  });

  it('a lead outside 0 to 40,320 whole minutes is no reminder: it never fires, and the member’s default applies instead', async () => {
    const { clock, h, api, mum, roomId, sent } = await server('2026-06-01T07:00:00Z');
    expect((await api.request('PUT', `/rooms/${roomId}/reminder-defaults`, { token: mum.token, body: { timed: [5] } })).status).toBe(200);
    await h.rooms.edit(roomId, (doc) => {
      const daily = createEvent(
        doc,
        { title: 'Daily', start: '2026-06-01T12:00', end: '2026-06-01T12:15', tz: 'UTC', rrule: 'FREQ=DAILY', reminders: [{ minutesBefore: 10 }, { minutesBefore: 30 }] },
        { actor: mum.userId },
      );
      // Raw clients: one alert a billion minutes before (four weeks of occurrences at once, were it
      // clamped), one after the start; the 10-minute one stays.
      raw(doc, daily, (ev) => {
        const alerts = ev.get('alerts') as Y.Map<{ before: number; for?: string[] | null }>;
        const ids = [...alerts.keys()].sort((a, b) => alerts.get(a)!.before - alerts.get(b)!.before);
        alerts.set(ids[1]!, { before: 1e9 });
        alerts.set('late', { before: -30 });
        alerts.set('half', { before: 2.5 });
      });
      // Its only alert out of range: mum's default (5 minutes) reminds her instead.
      const swim = createEvent(doc, { title: 'Swim', start: '2026-06-01T15:00', end: '2026-06-01T16:00', tz: 'UTC', reminders: [{ minutesBefore: 60 }] }, { actor: mum.userId });
      raw(doc, swim, (ev) => {
        const alerts = ev.get('alerts') as Y.Map<unknown>;
        for (const id of [...alerts.keys()]) alerts.set(id, { before: 40_321 });
      });
    });
    await h.settle();
    await clock.advanceTo(at('2026-06-01T07:05:00Z'), h.settle);
    await h.settle();
    expect(sent()).toEqual([]);
    await clock.advanceTo(at('2026-06-02T13:00:00Z'), h.settle);
    await h.settle();
    expect(sent().map((s) => [s.title, s.at, s.key.includes(':default:5:')])).toEqual([
      ['Daily at 12:00', '2026-06-01T11:50:00.000Z', false],
      ['Swim at 15:00', '2026-06-01T14:55:00.000Z', true],
      ['Daily at 12:00', '2026-06-02T11:50:00.000Z', false],
    ]);
  });
});

describe('all-day and floating reminders in each recipient’s zone', { timeout: 120_000 }, () => {
  // Big rooms are read in a worker thread (from dist: build first), with the zones sent along.
  it.each([
    ['in process', undefined],
    ['in the room-read worker', 0],
  ])('fall due at the wall clock where each member is; zoned events stay at their instant; each once (%s)', async (_, offLoopLookBytes) => {
    const { clock, h, api, mum, roomId, sent } = await server('2026-06-08T00:00:00Z', { offLoopLookBytes });
    const dad = await api.signUp('dad');
    const kid = await api.signUp('kid');
    await api.addMember(mum.token, roomId, dad.token, 'editor');
    await api.addMember(mum.token, roomId, kid.token, 'viewer');
    const zone = (token: string, timeZone: string) => api.request('PUT', '/users/me/notification-settings', { token, body: { timeZone } });
    expect((await zone(mum.token, 'America/New_York')).status).toBe(200);
    expect((await zone(dad.token, 'Asia/Tokyo')).status).toBe(200);
    // kid has no zone: the room's (none, so UTC).
    await h.rooms.edit(roomId, (doc) => {
      createEvent(doc, { title: 'Birthday', start: '2026-06-10', end: '2026-06-11', reminders: [{ minutesBefore: 900 }] }, { actor: mum.userId });
      createEvent(doc, { title: 'Stretch', start: '2026-06-10T08:00', end: '2026-06-10T08:30', tz: null, reminders: [{ minutesBefore: 0 }] }, { actor: mum.userId });
      createEvent(doc, { title: 'Call', start: '2026-06-10T10:00', end: '2026-06-10T11:00', tz: 'Europe/Berlin', reminders: [{ minutesBefore: 0 }] }, { actor: mum.userId });
    });
    await h.settle();
    await clock.advanceTo(at('2026-06-12T00:00:00Z'), h.settle);
    await h.settle();
    const who = (id: string) => (id === mum.userId ? 'mum' : id === dad.userId ? 'dad' : id === kid.userId ? 'kid' : id);
    const got = sent().map((s) => [who(s.userId), s.title, s.at]);
    // Tokyo (UTC+9): 09:00 on 9 June is 00:00Z; New York (UTC−4): 13:00Z; kid (no zone, UTC): 09:00Z.
    // The call is at 10:00 Berlin for everyone, shown in each one's zone.
    expect(got.map((g) => g.join('|')).sort()).toEqual(
      [
        'dad|Birthday (Wed 10 Jun)|2026-06-09T00:00:00.000Z',
        'kid|Birthday (Wed 10 Jun)|2026-06-09T09:00:00.000Z',
        'mum|Birthday (Wed 10 Jun)|2026-06-09T13:00:00.000Z',
        'dad|Stretch at 08:00|2026-06-09T23:00:00.000Z',
        'kid|Stretch at 08:00|2026-06-10T08:00:00.000Z',
        'mum|Stretch at 08:00|2026-06-10T12:00:00.000Z',
        'mum|Call at 04:00|2026-06-10T08:00:00.000Z',
        'dad|Call at 17:00|2026-06-10T08:00:00.000Z',
        // Kid has no zone: shown in the event's.
        'kid|Call at 10:00|2026-06-10T08:00:00.000Z',
      ].sort(),
    );
    expect(new Set(sent().map((s) => s.key)).size).toBe(9);
    const reads = await (await fetch(`${h.server.url}/metrics`)).text();
    expect(reads).toMatch(offLoopLookBytes === 0 ? /^kith_notify_room_reads_total\{for="reminders",where="worker"\} [1-9]/m : /^kith_notify_room_reads_total\{for="reminders",where="loop"\} [1-9]/m);
  });

  it('a member who changes zone is reminded once: at the new zone’s time if not yet reminded, never again if already', async () => {
    const { clock, h, api, mum, roomId, sent } = await server('2026-06-08T00:00:00Z');
    const kid = await api.signUp('kid');
    await api.addMember(mum.token, roomId, kid.token, 'viewer');
    const zone = (token: string, timeZone: string) => api.request('PUT', '/users/me/notification-settings', { token, body: { timeZone } });
    expect((await zone(mum.token, 'America/New_York')).status).toBe(200);
    await h.rooms.edit(roomId, (doc) =>
      createEvent(doc, { title: 'Birthday', start: '2026-06-10', end: '2026-06-11', reminders: [{ minutesBefore: 900 }] }, { actor: mum.userId }),
    );
    await h.settle();
    await clock.advanceTo(at('2026-06-09T05:00:00Z'), h.settle);
    await h.settle();
    expect(sent()).toEqual([]);
    // Kid (UTC until now, due at 09:00Z) moves to Tokyo, where 09:00 on 9 June has passed (00:00Z)
    // but the day has not begun (15:00Z): reminded now, not at 09:00Z.
    expect((await zone(kid.token, 'Asia/Tokyo')).status).toBe(200);
    await h.pass(60_000);
    const who = (s: { userId: string }) => (s.userId === kid.userId ? 'kid' : 'mum');
    expect(sent().map(who)).toEqual(['kid']);
    const kidAt = sent()[0]!.at;
    expect(at(kidAt)).toBeLessThanOrEqual(at('2026-06-09T05:01:00Z'));
    await clock.advanceTo(at('2026-06-09T14:00:00Z'), h.settle);
    await h.settle();
    expect(sent().map((s) => [who(s), s.at])).toEqual([
      ['kid', kidAt],
      ['mum', '2026-06-09T13:00:00.000Z'],
    ]);
    // Reminded in New York; in Honolulu (UTC−10) 09:00 would be 19:00Z, but she was reminded already.
    expect((await zone(mum.token, 'Pacific/Honolulu')).status).toBe(200);
    await h.pass(60_000);
    expect((await zone(kid.token, 'Europe/Berlin')).status).toBe(200);
    await h.pass(60_000);
    await clock.advanceTo(at('2026-06-11T00:00:00Z'), h.settle);
    await h.settle();
    expect(sent()).toHaveLength(2);
  });
});

describe('remindersOf: all-day occurrences starting on the other side of the room’s day', () => {
  const doc = new Y.Doc();
  doc.getMap('room').set('defaultTz', 'Europe/London');
  createEvent(doc, { title: 'Fair', start: '2026-06-10', end: '2026-06-11', reminders: [{ minutesBefore: 0 }] }, { actor: 'mum' });
  createEvent(doc, { title: 'Market', start: '2026-06-11', end: '2026-06-12', reminders: [{ minutesBefore: 0, for: ['mum'] }] }, { actor: 'mum' });
  setReminderDefaults(doc, 'kid', { allDay: [60] });

  it('finds one that began in the room’s zone before the look but not yet where the member is', () => {
    // London's 10 June began at 23:00Z on the 9th; New York's begins at 04:00Z.
    const got = remindersOf(doc, ['mum'], at('2026-06-10T01:00:00Z'), at('2026-06-10T05:00:00Z'), { mum: 'America/New_York' });
    expect(got.map((r) => [r.title, iso(r.dueMs), r.tz, r.occurrenceStart])).toEqual([['Fair', '2026-06-10T04:00:00.000Z', 'America/New_York', '2026-06-09T23:00:00.000Z']]);
  });

  it('finds one due where the member is before the room’s zone reaches it', () => {
    // Tokyo's 11 June begins at 15:00Z on the 10th, London's at 23:00Z; kid's default is an hour before.
    const got = remindersOf(doc, ['mum', 'kid'], at('2026-06-10T12:00:00Z'), at('2026-06-10T16:00:00Z'), { mum: 'Asia/Tokyo', kid: 'Asia/Tokyo' });
    expect(got.map((r) => [r.title, r.userId, iso(r.dueMs)]).sort()).toEqual([
      ['Market', 'kid', '2026-06-10T14:00:00.000Z'],
      ['Market', 'mum', '2026-06-10T15:00:00.000Z'],
    ]);
  });

  it('treats a zone that is no zone, the member’s or the room’s, as the next one down', () => {
    const bogus = new Y.Doc();
    bogus.getMap('room').set('defaultTz', '+05:00');
    createEvent(bogus, { title: 'Fair', start: '2026-06-10', end: '2026-06-11', reminders: [{ minutesBefore: 0 }] }, { actor: 'mum' });
    const got = remindersOf(bogus, ['mum', 'dad'], at('2026-06-09T00:00:00Z'), at('2026-06-11T00:00:00Z'), { mum: 'Mars/Olympus_Mons', dad: 'Europe/Berlin' });
    expect(got.map((r) => [r.userId, iso(r.dueMs), r.tz]).sort()).toEqual([
      ['dad', '2026-06-09T22:00:00.000Z', 'Europe/Berlin'],
      ['mum', '2026-06-10T00:00:00.000Z', 'UTC'],
    ]);
  });
});
