/**
 * The daily agenda when the member changes their settings while today's agenda waits for a retry
 * (the channel answered "retry" at 07:30): a change that leaves its time where it was (quiet hours,
 * a room's preference, the same time again) keeps today's send; one that moves it plans from the
 * new time. Real server over loopback, the member's PUTs over HTTP, a controllable clock.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock, type Delivery } from '../../src/index.js';
import { apiClient } from '../helpers/api.js';
import { RecordingChannel, startNotifyServer, type NotifyHarness } from './harness.js';

const open: NotifyHarness[] = [];
afterEach(async () => {
  for (const h of open.splice(0)) await h.server.close().catch(() => undefined);
});

/** Answers "retry" `failures` times, as a push service that is briefly down does, then delivers. */
class FlakyChannel extends RecordingChannel {
  failures = 0;
  override async send(delivery: Delivery): Promise<'sent'> {
    if (this.failures > 0) {
      this.failures--;
      return 'retry' as 'sent';
    }
    return super.send(delivery);
  }
}

const at = (iso: string) => Date.parse(iso);

/** Kid with a 07:30 UTC agenda of a room with something today; the first send at 07:30 answered "retry". */
async function agendaWaitingForRetry() {
  const clock = new ManualClock(at('2026-06-01T06:00:00Z'));
  const channel = new FlakyChannel();
  const h = await startNotifyServer({ clock, channel });
  open.push(h);
  const api = apiClient(h.server.url);
  const kid = await api.signUp('kid');
  const roomId = await api.createRoom(kid.token, 'Millers');
  const made = await api.request('POST', `/rooms/${roomId}/events`, {
    token: kid.token,
    body: { eventTitle: 'Dentist', startTime: '2026-06-01T16:00', endTime: '2026-06-01T17:00', timeZone: 'UTC', recurrence: ['RRULE:FREQ=DAILY'] },
  });
  expect(made.status).toBe(201);
  const put = async (body: object) => {
    const res = await api.request('PUT', '/users/me/notification-settings', { token: kid.token, body });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    await h.settle();
  };
  await put({ timeZone: 'UTC', dailyAgenda: { time: '07:30' } });
  channel.failures = 1;
  await clock.advanceTo(at('2026-06-01T07:30:30Z'), h.settle);
  const agendas = () => channel.deliveries.filter((d) => d.kind === 'agenda').map((d) => d.key.split(':').slice(2).join(':'));
  expect(agendas()).toEqual([]);
  expect(channel.failures).toBe(0); // tried once, told to retry
  return { clock, h, put, agendas, roomId };
}

describe('daily agenda: a settings change while today’s agenda waits for a retry', { timeout: 60_000 }, () => {
  it('a change that leaves its time keeps today’s send: it goes out at the retry', async () => {
    const { clock, h, put, agendas, roomId } = await agendaWaitingForRetry();
    await put({ quietHours: { start: '22:00', end: '06:00' } });
    await put({ rooms: { [roomId]: { changes: 'none' } } });
    await put({ dailyAgenda: { time: '07:30' }, timeZone: 'Etc/UTC' }); // the same instant, said another way
    await clock.advanceTo(at('2026-06-01T07:35:00Z'), h.settle);
    expect(agendas()).toEqual(['2026-06-01:push']);
    // Tomorrow's as usual, once.
    await clock.advanceTo(at('2026-06-02T07:31:00Z'), h.settle);
    expect(agendas()).toEqual(['2026-06-01:push', '2026-06-02:push']);
  });

  it('a change that moves it plans from the new time: later today still today, earlier (passed) tomorrow', async () => {
    const later = await agendaWaitingForRetry();
    await later.put({ dailyAgenda: { time: '09:00' } });
    await later.clock.advanceTo(at('2026-06-01T08:59:00Z'), later.h.settle);
    expect(later.agendas()).toEqual([]); // not at the old time's retry
    await later.clock.advanceTo(at('2026-06-01T09:00:00Z'), later.h.settle);
    expect(later.agendas()).toEqual(['2026-06-01:push']);

    const earlier = await agendaWaitingForRetry();
    await earlier.put({ dailyAgenda: { time: '07:00' } });
    await earlier.clock.advanceTo(at('2026-06-02T06:59:00Z'), earlier.h.settle);
    expect(earlier.agendas()).toEqual([]);
    await earlier.clock.advanceTo(at('2026-06-02T07:00:00Z'), earlier.h.settle);
    expect(earlier.agendas()).toEqual(['2026-06-02:push']);
  });
});
