/**
 * How often the notify module reads a changed room, over real HTTP edits: a lone change is read
 * within the settle time, and a room that keeps changing is read once per busyLookMs rather than
 * after every settle (each read walks the whole room; W2 of `pnpm bench` spent a fifth of its CPU
 * there when every room was re-read each second).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/index.js';
import { apiClient } from '../helpers/api.js';
import { RecordingChannel, startNotifyServer, type NotifyHarness } from './harness.js';

const open: NotifyHarness[] = [];
afterEach(async () => {
  for (const h of open.splice(0)) await h.server.close().catch(() => undefined);
});

const BUSY_LOOK_MS = 1_000;

describe('notify look pacing', { timeout: 120_000 }, () => {
  it('reads a busy room once per busyLookMs and a lone change within the settle time', async () => {
    const clock = new ManualClock(Date.parse('2026-06-01T09:00:00Z'));
    const h = await startNotifyServer({ clock, channel: new RecordingChannel(), notify: { busyLookMs: BUSY_LOOK_MS } });
    open.push(h);
    // Counts the reads the module makes (the scheduler's and the notices' looks) on the real RoomApi.
    let reads = 0;
    const read = h.rooms.read.bind(h.rooms);
    h.rooms.read = ((roomId, fn, options) => {
      reads += 1;
      return read(roomId, fn, options);
    }) as typeof h.rooms.read;
    const api = apiClient(h.server.url);
    const mum = await api.signUp('mum');
    const roomId = await api.createRoom(mum.token, 'Millers');
    const { pass } = h;
    const created = await api.request('POST', `/rooms/${roomId}/events`, {
      token: mum.token,
      body: { eventTitle: 'Dentist', startTime: '2026-06-04T16:00', endTime: '2026-06-04T17:00', timeZone: 'Europe/Berlin' },
    });
    expect(created.status).toBe(201);
    const eventId = created.body.eventId ?? created.body.id;
    await pass(BUSY_LOOK_MS * 2);

    // A lone change after a quiet spell: read (by both the scheduler and the notices) within the settle time.
    let before = reads;
    expect((await api.request('PATCH', `/rooms/${roomId}/events/${eventId}`, { token: mum.token, body: { eventTitle: 'Dentist!' } })).status).toBe(200);
    await pass(20);
    expect(reads - before).toBe(2);

    // Forty changes 100 ms apart (4 s): unpaced that is 80 reads; paced, two per started second.
    await pass(BUSY_LOOK_MS * 2);
    before = reads;
    for (let i = 0; i < 40; i++) {
      const res = await api.request('PATCH', `/rooms/${roomId}/events/${eventId}`, { token: mum.token, body: { eventTitle: `Dentist ${i}` } });
      expect(res.status).toBe(200);
      await pass(100);
    }
    await pass(BUSY_LOOK_MS);
    const busyReads = reads - before;
    expect(busyReads).toBeGreaterThanOrEqual(2 * 4);
    expect(busyReads).toBeLessThanOrEqual(2 * 6);
  });
});
