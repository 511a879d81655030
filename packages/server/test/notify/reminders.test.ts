/**
 * Reminders through the real server with a controllable clock: times follow the event's zone
 * across DST, each fires once, and reminders missed while the server was down are sent on start-up
 * if their event has not started and skipped (counted) if it has.
 */
import { createEvent } from '@kith/model';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/index.js';
import { apiClient } from '../helpers/api.js';
import { RecordingChannel, startNotifyServer, type NotifyHarness } from './harness.js';

const open: NotifyHarness[] = [];
afterEach(async () => {
  for (const h of open.splice(0)) await h.server.close().catch(() => undefined);
});

const at = (iso: string) => Date.parse(iso);

async function family(h: NotifyHarness) {
  const api = apiClient(h.server.url);
  const mum = await api.signUp('mum');
  const roomId = await api.createRoom(mum.token);
  return { api, mum, roomId };
}

describe('reminder scheduler', { timeout: 120_000 }, () => {
  it('a daily 8:00 Europe/Berlin reminder fires at 8:00 local on both sides of the spring DST change', async () => {
    const clock = new ManualClock(at('2026-03-27T12:00:00Z'));
    const channel = new RecordingChannel();
    const h = await startNotifyServer({ clock, channel });
    open.push(h);
    const { mum, roomId } = await family(h);
    await h.rooms.edit(roomId, (doc) =>
      createEvent(
        doc,
        { title: 'Vitamins', start: '2026-03-27T08:00', end: '2026-03-27T08:15', tz: 'Europe/Berlin', rrule: 'FREQ=DAILY', reminders: [{ minutesBefore: 0 }] },
        { actor: mum.userId },
      ),
    );
    await h.settle();
    await clock.advanceTo(at('2026-03-31T00:00:00Z'), h.settle);
    await h.settle();
    const fired = channel.deliveries.map((d) => ({ title: d.title, key: d.key }));
    // 28 Mar is CET (UTC+1): 07:00Z; 29–30 Mar are CEST (UTC+2): 06:00Z.
    expect(fired.map((f) => f.title)).toEqual(['Vitamins at 08:00', 'Vitamins at 08:00', 'Vitamins at 08:00']);
    expect(fired.map((f) => f.key.split(':').slice(3, 6).join(':'))).toEqual([
      '2026-03-28T07:00:00.000Z',
      '2026-03-29T06:00:00.000Z',
      '2026-03-30T06:00:00.000Z',
    ]);
    expect(new Set(fired.map((f) => f.key)).size).toBe(3);
    expect(channel.deliveries.every((d) => d.userId === mum.userId && d.kind === 'reminder' && d.url.includes(roomId))).toBe(true);
  });

  it('a storage error in one room’s look leaves the other rooms’ reminders and its own next look on time', async () => {
    const clock = new ManualClock(at('2026-06-01T07:00:00Z'));
    const channel = new RecordingChannel();
    const h = await startNotifyServer({ clock, channel });
    open.push(h);
    const { api, mum } = await family(h);
    // Two rooms due at the same minute: one tick looks at both.
    const rooms = [await api.createRoom(mum.token, 'A'), await api.createRoom(mum.token, 'B')];
    for (const roomId of rooms) {
      await h.rooms.edit(roomId, (doc) =>
        createEvent(doc, { title: `Call ${roomId.slice(0, 4)}`, start: '2026-06-01T08:00', end: '2026-06-01T08:15', tz: 'UTC', reminders: [{ minutesBefore: 0 }] }, { actor: mum.userId }),
      );
    }
    await h.settle();
    // The ledger fails once, as a dropped database connection would, at the 08:00 tick (the first
    // look with reminders due).
    const ledger = h.parts.ledger;
    const states = ledger.states.bind(ledger);
    let failures = 1;
    ledger.states = async (keys) => {
      if (keys.length > 0 && failures-- > 0) throw new Error('connection reset');
      return states(keys);
    };
    await clock.advanceTo(at('2026-06-01T08:00:00Z'), h.settle);
    await h.settle();
    expect(channel.deliveries).toHaveLength(1); // the other room's, on time
    await clock.advanceTo(at('2026-06-01T08:02:00Z'), h.settle);
    await h.settle();
    // The failed room was looked at again a minute later (still on time), and nothing went twice.
    expect(channel.deliveries.map((d) => d.title).sort()).toEqual(rooms.map((r) => `Call ${r.slice(0, 4)} at 08:00`).sort());
  });

  it('a moved event reminds at its new time only, and a reminder for someone else goes to them', async () => {
    const clock = new ManualClock(at('2026-06-01T08:00:00Z'));
    const channel = new RecordingChannel();
    const h = await startNotifyServer({ clock, channel });
    open.push(h);
    const { api, mum, roomId } = await family(h);
    const dad = await api.signUp('dad');
    await api.addMember(mum.token, roomId, dad.token);
    const eventId = await h.rooms.edit(roomId, (doc) =>
      createEvent(
        doc,
        { title: 'Dentist', start: '2026-06-01T16:00', end: '2026-06-01T17:00', tz: 'Europe/Berlin', reminders: [{ minutesBefore: 30, for: [dad.userId] }] },
        { actor: mum.userId },
      ),
    );
    await h.settle();
    const moved = await api.request('PATCH', `/rooms/${roomId}/events/${eventId}`, { token: mum.token, body: { startTime: '2026-06-01T18:00' } });
    expect(moved.status).toBe(200);
    await new Promise((r) => setTimeout(r, 50));
    await clock.advanceTo(clock.now() + 20, h.settle);
    await h.settle();
    await clock.advanceTo(at('2026-06-02T00:00:00Z'), h.settle);
    await h.settle();
    const reminders = channel.deliveries.filter((d) => d.kind === 'reminder');
    expect(reminders.map((d) => [d.userId, d.title, d.key.split(':').slice(3, 6).join(':')])).toEqual([
      [dad.userId, 'Dentist at 18:00', '2026-06-01T16:00:00.000Z'],
    ]);
  });

  it('missed while down: sent on start-up when the event is still ahead, skipped and counted when it has started', async () => {
    const clock = new ManualClock(at('2026-06-01T08:00:00Z'));
    const channel = new RecordingChannel();
    const first = await startNotifyServer({ clock, channel });
    const { mum, roomId } = await family(first);
    await first.rooms.edit(roomId, (doc) => {
      createEvent(doc, { title: 'Early', start: '2026-06-01T10:30', end: '2026-06-01T11:00', tz: 'UTC', reminders: [{ minutesBefore: 60 }] }, { actor: mum.userId });
      createEvent(doc, { title: 'Late', start: '2026-06-01T12:00', end: '2026-06-01T13:00', tz: 'UTC', reminders: [{ minutesBefore: 120 }] }, { actor: mum.userId });
    });
    await first.settle();
    await clock.advanceTo(at('2026-06-01T09:00:00Z'), first.settle);
    await first.settle();
    await first.server.close();
    expect(channel.deliveries).toEqual([]);

    // Down from 09:00 to 11:00: Early (due 09:30, starts 10:30) is past; Late (due 10:00, starts 12:00) is ahead.
    await clock.advanceTo(at('2026-06-01T11:00:00Z'));
    const second = await startNotifyServer({ clock, channel, dataDir: first.dataDir });
    open.push(second);
    await second.settle();
    expect(channel.deliveries.map((d) => d.title)).toEqual(['Late at 12:00']);
    const metrics = await (await fetch(`${second.server.url}/metrics`)).text();
    expect(metrics).toMatch(/^kith_reminders_skipped_total 1$/m);
    expect(metrics).toMatch(/^kith_notifications_sent_total\{channel="push",kind="reminder"\} 1$/m);
    expect(metrics).toMatch(/^kith_reminders_late_total\{channel="push"\} 1$/m);
  }, 120_000);
});

describe('reminders over REST', { timeout: 120_000 }, () => {
  it('refuses offsets out of range with a 400 naming the field, stores nothing, and shows good ones', async () => {
    const clock = new ManualClock(at('2026-06-01T08:00:00Z'));
    const h = await startNotifyServer({ clock, channel: new RecordingChannel() });
    open.push(h);
    const { api, mum, roomId } = await family(h);
    const body = (reminders: unknown) => ({ eventTitle: 'Dentist', startTime: '2026-06-04T16:00', endTime: '2026-06-04T17:00', timeZone: 'Europe/Berlin', reminders });
    for (const bad of [[{ minutesBefore: -5 }], [{ minutesBefore: 40_321 }], [{ minutesBefore: 1.5 }], Array.from({ length: 11 }, () => ({ minutesBefore: 5 }))]) {
      const res = await api.request('POST', `/rooms/${roomId}/events`, { token: mum.token, body: body(bad) });
      expect(res.status, JSON.stringify(bad)).toBe(400);
      expect(JSON.stringify(res.body.error), JSON.stringify(bad)).toMatch(/reminders/);
    }
    const none = await api.request('GET', `/rooms/${roomId}/events?from=2026-06-01&to=2026-06-30`, { token: mum.token });
    expect(none.body.occurrences).toEqual([]);
    const ok = await api.request('POST', `/rooms/${roomId}/events`, { token: mum.token, body: body([{ minutesBefore: 30 }, { minutesBefore: 10, for: [mum.userId] }]) });
    expect(ok.status).toBe(201);
    expect(ok.body.reminders.map((r: { minutesBefore: number; for: unknown }) => [r.minutesBefore, r.for])).toEqual([
      [10, [mum.userId]],
      [30, null],
    ]);
  }, 120_000);
});

describe('default reminders per member per room', { timeout: 120_000 }, () => {
  it('apply to events that remind the member of nothing; set by any member, viewers too; bad input refused', async () => {
    const clock = new ManualClock(at('2026-06-01T08:00:00Z'));
    const channel = new RecordingChannel();
    const h = await startNotifyServer({ clock, channel });
    open.push(h);
    const { api, mum, roomId } = await family(h);
    const kid = await api.signUp('kid');
    await api.addMember(mum.token, roomId, kid.token, 'viewer');
    const path = `/rooms/${roomId}/reminder-defaults`;
    for (const bad of [{ timed: [-1] }, { timed: [40_321] }, { allDay: [1, 2, 3, 4, 5, 6] }, {}, { timed: 'soon' }]) {
      const res = await api.request('PUT', path, { token: kid.token, body: bad });
      expect(res.status, JSON.stringify(bad)).toBe(400);
    }
    expect((await api.request('GET', path, { token: kid.token })).body).toEqual({ timed: [], allDay: [] });
    const set = await api.request('PUT', path, { token: kid.token, body: { timed: [15], allDay: [900] } });
    expect(set.status).toBe(200);
    expect(set.body).toEqual({ timed: [15], allDay: [900] });
    // Kid's defaults for these; the Dentist's own reminder reaches only mum, so kid gets the default there too.
    await h.rooms.edit(roomId, (doc) => {
      createEvent(doc, { title: 'Swim', start: '2026-06-01T12:00', end: '2026-06-01T13:00', tz: 'UTC' }, { actor: mum.userId });
      createEvent(doc, { title: 'Dentist', start: '2026-06-01T14:00', end: '2026-06-01T15:00', tz: 'UTC', reminders: [{ minutesBefore: 60, for: [mum.userId] }] }, { actor: mum.userId });
      createEvent(doc, { title: 'Fair', start: '2026-06-03', end: '2026-06-04' }, { actor: mum.userId });
    });
    await clock.advanceTo(at('2026-06-03T00:00:00Z'), h.settle);
    const sent = channel.deliveries.filter((d) => d.kind === 'reminder').map((d) => [d.userId === kid.userId ? 'kid' : 'mum', d.title, d.key.split(':').slice(3, 6).join(':')]);
    expect(sent).toEqual([
      ['kid', 'Swim at 12:00', '2026-06-01T12:00:00.000Z'],
      ['mum', 'Dentist at 14:00', '2026-06-01T14:00:00.000Z'],
      ['kid', 'Dentist at 14:00', '2026-06-01T14:00:00.000Z'],
      // All-day in the room's zone (UTC here): 9:00 the day before.
      ['kid', expect.stringMatching(/^Fair/), '2026-06-03T00:00:00.000Z'],
    ]);
  }, 120_000);
});
