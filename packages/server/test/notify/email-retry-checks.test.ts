/**
 * An email the outbox retries on its own (the first SMTP attempt answered 451) is sent only if the
 * first send's checks still hold at the retry: the member's preference for the room's change notices
 * and their quiet hours (a retry inside them waits for their end, it is not dropped), a reminder's
 * event still there and not started, the daily agenda still wanted. Real server over loopback, the
 * real email channel to an in-process SMTP server, settings through the REST API, a controllable
 * clock for the core. The core's own retries are set an hour apart, so that what reaches SMTP is the
 * outbox's retry (its `drain`, run by the test; its poll is off).
 */
import { createEvent, deleteEvent } from '@kith/model';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock, type AnyChannel } from '../../src/index.js';
import { channelsOption } from '../../src/notify/channels/index.js';
import type { EmailChannel } from '../../src/notify/channels/email.js';
import { apiClient } from '../helpers/api.js';
import { TestSmtp } from '../helpers/notify-channels.js';
import { RecordingChannel, startNotifyServer, type NotifyHarness } from './harness.js';

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  // The server first: its mailer's connection open, the SMTP server's close would wait for it.
  for (const close of cleanup.splice(0).reverse()) await close().catch(() => undefined);
});

const WINDOW = 60_000;
const at = (iso: string) => Date.parse(iso);
type Api = ReturnType<typeof apiClient>;

/** A notify server on `clock` whose channel is the real email channel, SMTP answering 451 while `smtp.failNext` > 0. */
async function serverWithEmail(clock: ManualClock) {
  const failing = { next: 0 };
  const smtp = await TestSmtp.start({ transient: () => failing.next-- > 0 });
  cleanup.push(() => smtp.close());
  let email: EmailChannel | undefined;
  const channels = channelsOption({ smtpUrl: smtp.url, mailFrom: 'Kith <kith@family.test>', retryBaseMs: 10, outboxPollMs: 3_600_000 });
  const h = await startNotifyServer({
    clock,
    channel: new RecordingChannel(),
    notify: {
      changeWindowMs: WINDOW,
      retryMs: 3_600_000,
      channels: async (ctx) => {
        const made = await channels(ctx);
        email = made.find((c) => c.name === 'email') as unknown as EmailChannel;
        return made as AnyChannel[];
      },
    },
  });
  cleanup.push(() => h.server.close());
  const api = apiClient(h.server.url);
  /** Past the outbox's backoff (10–20 ms), one pass of its retries at `now`. */
  const retry = async (now?: number) => {
    await new Promise((r) => setTimeout(r, 40));
    await email!.drain(now);
  };
  return { h, api, smtp, failing, retry };
}

async function verify(api: Api, smtp: TestSmtp, token: string, address: string): Promise<void> {
  expect((await api.request('POST', '/users/me/email', { token, body: { address } })).status).toBe(202);
  await smtp.waitFor(() => smtp.to(address).length === 1);
  const code = /\b(\d{6})\b/.exec(smtp.to(address)[0]!.subject ?? '')![1]!;
  expect((await api.request('POST', '/users/me/email/verify', { token, body: { code } })).status).toBe(200);
}

const metric = async (url: string, outcome: string) => {
  const m = new RegExp(`^kith_notify_channel_attempts_total\\{channel="email",outcome="${outcome}"\\} (\\d+)$`, 'm').exec(await (await fetch(`${url}/metrics`)).text());
  return Number(m?.[1] ?? 0);
};

const roomReads = async (url: string) => {
  const text = await (await fetch(`${url}/metrics`)).text();
  return [...text.matchAll(/^kith_notify_room_reads_total\{for="reminders",where="\w+"\} (\d+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
};

describe('email retries re-check what the first send checked', { timeout: 120_000 }, () => {
  it('change notices: dropped once the member turned the room off; held through quiet hours and sent when they end', async () => {
    const clock = new ManualClock(at('2026-06-01T12:00:00Z'));
    const { h, api, smtp, failing, retry } = await serverWithEmail(clock);
    const mum = await api.signUp('mum');
    const dad = await api.signUp('dad');
    const kid = await api.signUp('kid');
    const gran = await api.signUp('gran');
    const roomId = await api.createRoom(mum.token, 'Millers');
    for (const [who, role] of [[dad, 'editor'], [kid, 'viewer'], [gran, 'viewer']] as const) await api.addMember(mum.token, roomId, who.token, role);
    for (const [who, address] of [[dad, 'dad@family.test'], [kid, 'kid@family.test'], [gran, 'gran@family.test']] as const) await verify(api, smtp, who.token, address);
    const notices = (address: string) => smtp.to(address).filter((m) => m.subject === 'Changes in Millers');

    // Mum adds an event; the notice's first attempt to each of the three is answered 451.
    failing.next = 3;
    const made = await api.request('POST', `/rooms/${roomId}/events`, {
      token: mum.token,
      body: { eventTitle: 'Swim', startTime: '2026-06-04T16:00', endTime: '2026-06-04T17:00', timeZone: 'Europe/Berlin' },
    });
    expect(made.status).toBe(201);
    await h.pass(WINDOW + 1_000);
    expect(smtp.stats.refused).toBe(3);

    // Meanwhile dad turns the room's notices off, and the kid's quiet hours (12:00 UTC on the core's clock) begin.
    const put = (token: string, body: object) => api.request('PUT', '/users/me/notification-settings', { token, body });
    expect((await put(dad.token, { rooms: { [roomId]: { changes: 'none' } } })).status).toBe(200);
    expect((await put(kid.token, { timeZone: 'UTC', quietHours: { start: '11:30', end: '13:00' } })).status).toBe(200);

    await retry();
    expect(notices('gran@family.test')).toHaveLength(1); // nothing changed for her: sent
    expect(notices('dad@family.test')).toEqual([]);
    expect(notices('kid@family.test')).toEqual([]);
    expect(await metric(h.server.url, 'dropped')).toBe(1); // dad's, for good
    // The kid's waits (the quiet hours' end, an hour on): a retry pass now sends nothing.
    await retry();
    expect(notices('kid@family.test')).toEqual([]);

    // Quiet hours over (13:00 on the core's clock): the outbox's pass an hour on sends it, once; dad's never.
    await clock.advanceTo(at('2026-06-01T13:00:30Z'), h.settle);
    await retry(Date.now() + 3_600_000 + 60_000);
    expect(notices('kid@family.test')).toHaveLength(1);
    expect(notices('kid@family.test')[0]!.text).toContain('added Swim');
    await retry(Date.now() + 2 * 3_600_000);
    expect(notices('kid@family.test')).toHaveLength(1);
    expect(notices('gran@family.test')).toHaveLength(1);
    expect(notices('dad@family.test')).toEqual([]);
    expect(await metric(h.server.url, 'dropped')).toBe(1);
  });

  it('change notices composed under "all": a retry after the member switched to "participant" says only what concerns them, or is dropped', async () => {
    const clock = new ManualClock(at('2026-06-01T09:00:00Z'));
    const { h, api, smtp, failing, retry } = await serverWithEmail(clock);
    const mum = await api.signUp('mum');
    const dad = await api.signUp('dad');
    const gran = await api.signUp('gran');
    const roomId = await api.createRoom(mum.token, 'Millers');
    for (const who of [dad, gran]) await api.addMember(mum.token, roomId, who.token, 'viewer');
    for (const [who, address] of [[dad, 'dad@family.test'], [gran, 'gran@family.test']] as const) await verify(api, smtp, who.token, address);
    const notices = (address: string) => smtp.to(address).filter((m) => m.subject === 'Changes in Millers');

    // Mum adds two events in one window, dad taking part in one: both notices' first attempts fail.
    failing.next = 2;
    for (const body of [
      { eventTitle: 'Swim', startTime: '2026-06-04T16:00', endTime: '2026-06-04T17:00', timeZone: 'UTC', participants: [dad.userId] },
      { eventTitle: 'Bake sale', startTime: '2026-06-05T10:00', endTime: '2026-06-05T12:00', timeZone: 'UTC' },
    ]) {
      expect((await api.request('POST', `/rooms/${roomId}/events`, { token: mum.token, body })).status).toBe(201);
    }
    await h.pass(WINDOW + 1_000);
    expect(smtp.stats.refused).toBe(2);

    // Both now want to hear only of events they take part in.
    for (const who of [dad, gran]) {
      expect((await api.request('PUT', '/users/me/notification-settings', { token: who.token, body: { rooms: { [roomId]: { changes: 'participant' } } } })).status).toBe(200);
    }
    await retry();
    // Dad hears of Swim only; gran takes part in neither: hers is dropped.
    expect(notices('dad@family.test')).toHaveLength(1);
    expect(notices('dad@family.test')[0]!.text).toContain('added Swim');
    expect(notices('dad@family.test')[0]!.text).not.toContain('Bake sale');
    expect(notices('gran@family.test')).toEqual([]);
    expect(await metric(h.server.url, 'dropped')).toBe(1);
    await retry(Date.now() + 3_600_000);
    expect(notices('dad@family.test')).toHaveLength(1);
    expect(notices('gran@family.test')).toEqual([]);
  });

  it('reminders: dropped once the event is deleted or has started; one still ahead is sent', async () => {
    const clock = new ManualClock(at('2026-06-01T07:00:00Z'));
    const { h, api, smtp, failing, retry } = await serverWithEmail(clock);
    const mum = await api.signUp('mum');
    const roomId = await api.createRoom(mum.token, 'Millers');
    await verify(api, smtp, mum.token, 'mum@family.test');
    const ids: Record<string, string> = {};
    await h.rooms.edit(roomId, (doc) => {
      // All three due at 07:50.
      ids.dentist = createEvent(doc, { title: 'Dentist', start: '2026-06-01T08:00', end: '2026-06-01T09:00', tz: 'UTC', reminders: [{ minutesBefore: 10 }] }, { actor: mum.userId });
      ids.swim = createEvent(doc, { title: 'Swim', start: '2026-06-01T08:00', end: '2026-06-01T09:00', tz: 'UTC', reminders: [{ minutesBefore: 10 }] }, { actor: mum.userId });
      ids.call = createEvent(doc, { title: 'Call', start: '2026-06-01T07:52', end: '2026-06-01T08:00', tz: 'UTC', reminders: [{ minutesBefore: 2 }] }, { actor: mum.userId });
    });
    await h.settle();
    failing.next = 3;
    await clock.advanceTo(at('2026-06-01T07:50:00Z'), h.settle);
    expect(smtp.stats.refused).toBe(3);

    // Dentist deleted; by 07:53 the call has started.
    await h.rooms.edit(roomId, (doc) => deleteEvent(doc, ids.dentist!, { actor: mum.userId }));
    await h.pass(1_000);
    await clock.advanceTo(at('2026-06-01T07:53:00Z'), h.settle);
    const readsBefore = await roomReads(h.server.url);
    await retry();
    const reminders = () => smtp.to('mum@family.test').map((m) => m.subject).filter((s) => !s?.includes('Kith code'));
    expect(reminders()).toEqual(['Swim at 08:00']);
    expect((await roomReads(h.server.url)) - readsBefore).toBe(1); // the three retries, one read of the room
    expect(await metric(h.server.url, 'dropped')).toBe(2);
    await retry(Date.now() + 3_600_000);
    expect(reminders()).toEqual(['Swim at 08:00']);
  });

  it('the daily agenda: dropped once the member turned it off', async () => {
    const clock = new ManualClock(at('2026-06-01T06:00:00Z'));
    const { h, api, smtp, failing, retry } = await serverWithEmail(clock);
    const kid = await api.signUp('kid');
    const roomId = await api.createRoom(kid.token, 'Millers');
    await verify(api, smtp, kid.token, 'kid@family.test');
    await h.rooms.edit(roomId, (doc) => createEvent(doc, { title: 'Dentist', start: '2026-06-01T16:00', end: '2026-06-01T17:00', tz: 'UTC' }, { actor: kid.userId }));
    const put = (body: object) => api.request('PUT', '/users/me/notification-settings', { token: kid.token, body });
    expect((await put({ timeZone: 'UTC', dailyAgenda: { time: '07:30' } })).status).toBe(200);
    await h.settle();
    failing.next = 1;
    await clock.advanceTo(at('2026-06-01T07:30:00Z'), h.settle);
    expect(smtp.stats.refused).toBe(1);
    expect((await put({ dailyAgenda: null })).status).toBe(200);
    await retry();
    expect(smtp.to('kid@family.test').filter((m) => m.subject?.startsWith('Today for'))).toEqual([]);
    expect(await metric(h.server.url, 'dropped')).toBe(1);
  });
});
