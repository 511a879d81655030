/**
 * The daily agenda over real parts: the server with the real channels (Web Push to the
 * `web-push-testing` mock service, email to an in-process `smtp-server` parsed by mailparser) and a
 * controllable clock. A 07:30 Europe/Berlin agenda arrives at 07:30 local on both sides of the
 * spring DST change; it lists only rooms with something on the member's day. Across restarts it is
 * sent once per (member, local date, channel); more than two hours late (downtime) it is skipped
 * and counted.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/index.js';
import { channelsOption } from '../../src/notify/channels/index.js';
import { apiClient } from '../helpers/api.js';
import { MockPushService, TestSmtp } from '../helpers/notify-channels.js';
import { RecordingChannel, startNotifyServer, type NotifyHarness } from './harness.js';

const open: NotifyHarness[] = [];
afterEach(async () => {
  for (const h of open.splice(0)) await h.server.close().catch(() => undefined);
});

type Api = ReturnType<typeof apiClient>;

async function agendaRoom(api: Api, token: string, name: string, withBreakfast: boolean): Promise<string> {
  const roomId = await api.createRoom(token, name);
  if (withBreakfast) {
    const res = await api.request('POST', `/rooms/${roomId}/events`, {
      token,
      body: { eventTitle: 'Breakfast', startTime: '2026-03-20T08:00', endTime: '2026-03-20T08:30', timeZone: 'Europe/Berlin', recurrence: ['RRULE:FREQ=DAILY'] },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
  }
  return roomId;
}

/** A server on a clock at `start`, and kid with a daily 07:30 UTC agenda of a room with breakfast every day. */
async function kidWithAgenda(channel: RecordingChannel, start: string) {
  const clock = new ManualClock(Date.parse(start));
  const h = await startNotifyServer({ clock, channel });
  open.push(h);
  const api = apiClient(h.server.url);
  const kid = await api.signUp('kid');
  await agendaRoom(api, kid.token, 'Millers', true);
  await api.request('PUT', '/users/me/notification-settings', { token: kid.token, body: { timeZone: 'UTC', dailyAgenda: { time: '07:30' } } });
  await h.settle();
  return { clock, h, api, kid };
}

describe('daily agenda on real channels', { timeout: 120_000 }, () => {
  let smtp: TestSmtp;
  let mock: MockPushService;
  beforeAll(async () => {
    smtp = await TestSmtp.start();
    mock = await MockPushService.start();
  });
  afterAll(async () => {
    await smtp?.close();
    await mock?.close();
  });

  it('a 07:30 Europe/Berlin agenda arrives at 07:30 local before and after the DST change, by push and email', async () => {
    // Sat 28 Mar 2026 05:00 Berlin (CET, UTC+1); clocks go forward on Sun 29 Mar.
    const clock = new ManualClock(Date.parse('2026-03-28T04:00:00Z'));
    const h = await startNotifyServer({
      clock,
      channel: new RecordingChannel(),
      notify: { channels: channelsOption({ smtpUrl: smtp.url, mailFrom: 'Kith <kith@family.test>', allowLoopbackPush: true }) },
    });
    open.push(h);
    const api = apiClient(h.server.url);
    const mum = await api.signUp('mum');
    await agendaRoom(api, mum.token, 'Millers', true);
    await agendaRoom(api, mum.token, 'Empty club', false);

    const sub = await mock.subscribe((await api.request('GET', '/push/vapid-public-key')).body.publicKey);
    expect((await api.request('POST', '/users/me/push-subscriptions', { token: mum.token, body: { endpoint: sub.endpoint, keys: sub.keys } })).status).toBe(201);
    expect((await api.request('POST', '/users/me/email', { token: mum.token, body: { address: 'mum@family.test' } })).status).toBe(202);
    await smtp.waitFor(() => smtp.to('mum@family.test').length === 1);
    const code = /\b(\d{6})\b/.exec(smtp.to('mum@family.test')[0]!.subject ?? '')![1]!;
    expect((await api.request('POST', '/users/me/email/verify', { token: mum.token, body: { code } })).status).toBe(200);
    const settings = await api.request('PUT', '/users/me/notification-settings', {
      token: mum.token,
      body: { timeZone: 'Europe/Berlin', dailyAgenda: { time: '07:30' } },
    });
    expect(settings.status).toBe(200);
    await h.settle();
    expect(h.parts.agenda.membersIndexed).toBe(1);

    const agendaMails = () => smtp.to('mum@family.test').filter((m) => m.subject?.startsWith('Today for'));
    // 07:30 CET = 06:30Z on Saturday; 07:30 CEST = 05:30Z on Sunday and Monday.
    const due = ['2026-03-28T06:30:00Z', '2026-03-29T05:30:00Z', '2026-03-30T05:30:00Z'].map(Date.parse);
    for (const [i, at] of due.entries()) {
      await clock.advanceTo(at - 60_000, h.settle);
      expect(agendaMails()).toHaveLength(i);
      expect(await mock.messages(sub)).toHaveLength(i);
      await clock.advanceTo(at, h.settle);
      await smtp.waitFor(() => agendaMails().length === i + 1);
      const pushes = await mock.messages(sub);
      expect(pushes).toHaveLength(i + 1);
      const push = JSON.parse(pushes[i]!);
      // Only the room with something today; Breakfast at 08:00 Berlin time on either side of the change.
      expect(push.title).toBe('Today for Millers');
      expect(push.body).toBe('Millers: 08:00 Breakfast');
      expect(agendaMails()[i]!.text).toContain('Millers: 08:00 Breakfast');
    }
    const metrics = await (await fetch(`${h.server.url}/metrics`)).text();
    expect(metrics).toMatch(/^kith_notifications_sent_total\{channel="push",kind="agenda"\} 3$/m);
    expect(metrics).toMatch(/^kith_notifications_sent_total\{channel="email",kind="agenda"\} 3$/m);
  });

  it('once per local date across restarts; more than two hours late it is skipped and counted', async () => {
    const channel = new RecordingChannel();
    const clock = new ManualClock(Date.parse('2026-06-01T05:00:00Z'));
    let h = await startNotifyServer({ clock, channel });
    open.push(h);
    const dataDir = h.dataDir;
    let api = apiClient(h.server.url);
    const dad = await api.signUp('dad');
    await agendaRoom(api, dad.token, 'Millers', true);
    expect((await api.request('PUT', '/users/me/notification-settings', { token: dad.token, body: { timeZone: 'UTC', dailyAgenda: { time: '07:30' } } })).status).toBe(200);
    await h.settle();
    const agendas = () => channel.deliveries.filter((d) => d.kind === 'agenda');

    // Down from 07:00 to 08:00: sent once on start-up (30 min late), not again on the next start.
    await clock.advanceTo(Date.parse('2026-06-01T07:00:00Z'), h.settle);
    const restart = async (iso: string) => {
      await h.server.close();
      open.splice(open.indexOf(h), 1);
      await clock.advanceTo(Date.parse(iso));
      h = await startNotifyServer({ clock, channel, dataDir });
      open.push(h);
      api = apiClient(h.server.url);
      await new Promise((r) => setTimeout(r, 30));
      await clock.advanceTo(clock.now(), h.settle);
    };
    await restart('2026-06-01T08:00:00Z');
    expect(agendas().map((d) => d.key)).toEqual([`agenda:${dad.userId}:2026-06-01:push`]);
    expect(agendas()[0]!.body).toBe('Millers: 06:00 Breakfast'); // 08:00 Berlin (CEST) in the member's zone, UTC
    await restart('2026-06-01T08:10:00Z');
    expect(agendas()).toHaveLength(1);

    // Down over the next day's 07:30 until 09:31: too late, skipped and counted, nothing sent.
    await restart('2026-06-02T09:31:00Z');
    expect(agendas()).toHaveLength(1);
    const metrics = await (await fetch(`${h.server.url}/metrics`)).text();
    expect(metrics).toMatch(/^kith_agenda_skipped_total 1$/m);
    // The day after, on time again.
    await clock.advanceTo(Date.parse('2026-06-03T07:30:00Z'), h.settle);
    expect(agendas().map((d) => d.key)).toEqual([`agenda:${dad.userId}:2026-06-01:push`, `agenda:${dad.userId}:2026-06-03:push`]);
  });

  it('a failed send is tried again the same day, and given up two hours late so that tomorrow’s still goes', async () => {
    /** Answers "retry" while `failing`, as a push service that is down does. */
    class FlakyChannel extends RecordingChannel {
      failing = true;
      attempts: string[] = [];
      override async send(delivery: Parameters<RecordingChannel['send']>[0]): Promise<'sent'> {
        this.attempts.push(delivery.key);
        if (this.failing) return 'retry' as 'sent';
        return super.send(delivery);
      }
    }
    const channel = new FlakyChannel();
    const { clock, h, kid } = await kidWithAgenda(channel, '2026-06-01T06:00:00Z');
    const agendas = () => channel.deliveries.filter((d) => d.kind === 'agenda').map((d) => d.key);
    await clock.advanceTo(Date.parse('2026-06-01T07:33:00Z'), h.settle);
    expect(agendas()).toEqual([]);
    expect(channel.attempts.length).toBeGreaterThan(1); // tried again, the same day's key
    expect(new Set(channel.attempts)).toEqual(new Set([`agenda:${kid.userId}:2026-06-01:push`]));
    channel.failing = false;
    await clock.advanceTo(Date.parse('2026-06-01T07:40:00Z'), h.settle);
    expect(agendas()).toEqual([`agenda:${kid.userId}:2026-06-01:push`]);

    // Down all of the next morning: tried until 09:30, then given up; the day after still goes.
    channel.failing = true;
    await clock.advanceTo(Date.parse('2026-06-02T12:00:00Z'), h.settle);
    const tries = channel.attempts.filter((k) => k.includes('2026-06-02')).length;
    expect(tries).toBeGreaterThan(1);
    expect(tries).toBeLessThanOrEqual(121); // about one a minute for two hours, then none
    await clock.advanceTo(Date.parse('2026-06-02T18:00:00Z'), h.settle);
    expect(channel.attempts.filter((k) => k.includes('2026-06-02')).length).toBe(tries);
    channel.failing = false;
    await clock.advanceTo(Date.parse('2026-06-03T07:31:00Z'), h.settle);
    expect(agendas()).toEqual([`agenda:${kid.userId}:2026-06-01:push`, `agenda:${kid.userId}:2026-06-03:push`]);
  });

  it('settings made after today\'s time wait for tomorrow; removing the agenda stops it', async () => {
    const channel = new RecordingChannel();
    const { clock, h, api, kid } = await kidWithAgenda(channel, '2026-06-01T09:00:00Z');
    await clock.advanceTo(Date.parse('2026-06-02T07:30:00Z'), h.settle);
    expect(channel.deliveries.filter((d) => d.kind === 'agenda').map((d) => d.key)).toEqual([`agenda:${kid.userId}:2026-06-02:push`]);
    await api.request('PUT', '/users/me/notification-settings', { token: kid.token, body: { dailyAgenda: null } });
    await h.settle();
    expect(h.parts.agenda.membersIndexed).toBe(0);
    await clock.advanceTo(Date.parse('2026-06-04T08:00:00Z'), h.settle);
    expect(channel.deliveries.filter((d) => d.kind === 'agenda')).toHaveLength(1);
  });
});
