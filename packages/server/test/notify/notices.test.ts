/**
 * Change notices, comments and settings over real HTTP: one batched notice per room and window for
 * the other members (never the editor), as each member chose, held through quiet hours; comments
 * by any member (viewers too), changed only by their author; bad input answered 4xx with nothing stored.
 */
import { createEvent } from '@kith/model';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/index.js';
import { apiClient } from '../helpers/api.js';
import { RecordingChannel, startMillers, startNotifyServer, type NotifyHarness } from './harness.js';

const open: NotifyHarness[] = [];
afterEach(async () => {
  for (const h of open.splice(0)) await h.server.close().catch(() => undefined);
});

const WINDOW = 60_000;

async function setup(start = '2026-06-01T09:00:00Z') {
  const millers = await startMillers({ start, notify: { changeWindowMs: WINDOW } });
  open.push(millers.h);
  return millers;
}

describe('change notices', { timeout: 120_000 }, () => {
  it('200 edits by one member in a minute → one notice per other member, none for the editor', async () => {
    const { channel, api, mum, dad, kid, roomId, pass } = await setup();
    const created = await api.request('POST', `/rooms/${roomId}/events`, {
      token: mum.token,
      body: { eventTitle: 'Dentist', startTime: '2026-06-04T16:00', endTime: '2026-06-04T17:00', timeZone: 'Europe/Berlin' },
    });
    expect(created.status).toBe(201);
    const eventId = created.body.eventId ?? created.body.id;
    for (let i = 0; i < 200; i++) {
      const hour = 8 + (i % 10);
      const res = await api.request('PATCH', `/rooms/${roomId}/events/${eventId}`, {
        token: mum.token,
        body: { startTime: `2026-06-04T${String(hour).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}` },
      });
      expect(res.status).toBe(200);
      if (i % 20 === 0) await pass(250); // the edits spread over the window, as a person's would
    }
    await pass(WINDOW);
    await pass(WINDOW);
    const notices = channel.deliveries.filter((d) => d.kind === 'changes');
    expect(notices.map((d) => d.userId).sort()).toEqual([dad.userId, kid.userId].sort());
    for (const n of notices) {
      expect(n.title).toBe('Changes in Millers');
      expect(n.body).toMatch(new RegExp(`^${mum.username} (added|moved) Dentist`));
      expect(n.body.split(' · ').length).toBeLessThanOrEqual(2);
    }
  });

  it('a send that fails on a storage error is tried again a minute later, without holding back the others, and tells each member once', async () => {
    const { channel, api, mum, dad, kid, roomId, pass, h } = await setup();
    const ledger = h.parts.ledger;
    const claim = ledger.claim.bind(ledger);
    let failures = 1;
    ledger.claim = async (...args) => {
      if (failures-- > 0) throw new Error('connection reset');
      return claim(...args);
    };
    const created = await api.request('POST', `/rooms/${roomId}/events`, {
      token: mum.token,
      body: { eventTitle: 'Swim', startTime: '2026-06-04T16:00', endTime: '2026-06-04T17:00', timeZone: 'Europe/Berlin' },
    });
    expect(created.status).toBe(201);
    await pass(WINDOW);
    await pass(5_000);
    // The first member's send failed; the next one's went out all the same.
    const first = channel.deliveries.filter((d) => d.kind === 'changes').map((d) => d.userId);
    expect(first).toHaveLength(1);
    expect([dad.userId, kid.userId]).toContain(first[0]);
    await pass(60_000);
    await pass(5_000);
    const notices = channel.deliveries.filter((d) => d.kind === 'changes');
    expect(notices.map((d) => d.userId).sort()).toEqual([dad.userId, kid.userId].sort());
  });

  it('follows each member’s room preference and quiet hours', async () => {
    const { clock, channel, api, mum, dad, kid, roomId, pass } = await setup('2026-06-01T21:30:00Z');
    // Dad only wants events he takes part in; the kid's quiet hours (Berlin) cover 23:30 local.
    expect((await api.request('PUT', '/users/me/notification-settings', { token: dad.token, body: { rooms: { [roomId]: { changes: 'participant' } } } })).status).toBe(200);
    const quiet = await api.request('PUT', '/users/me/notification-settings', {
      token: kid.token,
      body: { timeZone: 'Europe/Berlin', quietHours: { start: '22:00', end: '07:00' } },
    });
    expect(quiet.status).toBe(200);
    expect(quiet.body).toEqual({ timeZone: 'Europe/Berlin', quietHours: { start: '22:00', end: '07:00' }, dailyAgenda: null, rooms: {} });
    await api.request('POST', `/rooms/${roomId}/events`, {
      token: mum.token,
      body: { eventTitle: 'Ski trip', startTime: '2026-12-20', endTime: '2026-12-27', allDay: true, participants: [kid.userId] },
    });
    await pass(WINDOW + 1_000);
    expect(channel.deliveries.filter((d) => d.kind === 'changes')).toEqual([]); // dad: not his; kid: asleep
    await clock.advanceTo(Date.parse('2026-06-02T05:00:00Z'), () => new Promise((r) => setTimeout(r, 20)));
    await pass(1);
    const notices = channel.deliveries.filter((d) => d.kind === 'changes');
    expect(notices.map((d) => [d.userId, d.body])).toEqual([[kid.userId, `${mum.username} added Ski trip`]]);
    expect(clock.now()).toBeGreaterThanOrEqual(Date.parse('2026-06-02T05:00:00Z'));
  }, 120_000);
});

describe('change notices owed to someone', { timeout: 120_000 }, () => {
  it('a notice held through quiet hours survives a restart and goes out once when they end; news meanwhile is a batch of its own', async () => {
    const first = await setup('2026-06-01T21:30:00Z');
    const { api, mum, kid, dad, roomId, pass } = first;
    expect(
      (await api.request('PUT', '/users/me/notification-settings', { token: kid.token, body: { timeZone: 'Europe/Berlin', quietHours: { start: '22:00', end: '07:00' } } })).status,
    ).toBe(200);
    await api.request('POST', `/rooms/${roomId}/events`, {
      token: mum.token,
      body: { eventTitle: 'Ski trip', startTime: '2026-12-20', endTime: '2026-12-27', allDay: true },
    });
    await pass(WINDOW + 1_000);
    expect(first.channel.deliveries.map((d) => [d.userId, d.body])).toEqual([[dad.userId, `${mum.username} added Ski trip`]]);
    // A second change while the kid's notice waits: dad hears of it in its own window, not folded into the held one.
    await api.request('POST', `/rooms/${roomId}/events`, {
      token: mum.token,
      body: { eventTitle: 'Piano', startTime: '2026-06-03T17:00', endTime: '2026-06-03T18:00', timeZone: 'Europe/Berlin' },
    });
    await pass(WINDOW + 1_000);
    expect(first.channel.deliveries.map((d) => [d.userId, d.body])).toEqual([
      [dad.userId, `${mum.username} added Ski trip`],
      [dad.userId, `${mum.username} added Piano`],
    ]);
    await first.h.server.close();

    // Restarted on the same data dir in the morning: the kid gets both notices, once; dad nothing again.
    const clock = new ManualClock(Date.parse('2026-06-02T04:00:00Z'));
    const channel = new RecordingChannel();
    const h = await startNotifyServer({ clock, channel, dataDir: first.h.dataDir, notify: { changeWindowMs: WINDOW } });
    open.push(h);
    await clock.advanceTo(clock.now() + 1_000, h.settle);
    expect(channel.deliveries).toEqual([]); // still 06:00 in Berlin
    await clock.advanceTo(Date.parse('2026-06-02T05:00:01Z'), h.settle);
    await clock.advanceTo(clock.now() + WINDOW, h.settle);
    expect(channel.deliveries.map((d) => [d.userId, d.body]).sort()).toEqual([
      [kid.userId, `${mum.username} added Piano`],
      [kid.userId, `${mum.username} added Ski trip`],
    ]);
  });

  it('a comment deleted while its batch waits out quiet hours: those already told are not told again, the rest still go', async () => {
    const { clock, channel, h, api, mum, dad, kid, roomId, pass } = await setup('2026-06-01T21:30:00Z');
    expect(
      (await api.request('PUT', '/users/me/notification-settings', { token: mum.token, body: { timeZone: 'Europe/Berlin', quietHours: { start: '22:00', end: '07:00' } } })).status,
    ).toBe(200);
    const eventId = await h.rooms.edit(roomId, (doc) =>
      createEvent(doc, { title: 'Recital', start: '2026-06-05T18:00', end: '2026-06-05T19:00', tz: 'UTC' }, { actor: mum.userId }),
    );
    await pass(WINDOW + 1_000); // the event's own notice went out (mum, asleep, made it)
    const before = channel.deliveries.length;
    // One window: the kid's comment first (the batch's first row), then dad's new event.
    const path = `/rooms/${roomId}/events/${eventId}/comments`;
    const comment = await api.request('POST', path, { token: kid.token, body: { text: 'Bring flowers!' } });
    expect(comment.status).toBe(201);
    await pass(10);
    await api.request('POST', `/rooms/${roomId}/events`, {
      token: dad.token,
      body: { eventTitle: 'Piano', startTime: '2026-06-03T17:00', endTime: '2026-06-03T18:00', timeZone: 'Europe/Berlin' },
    });
    await pass(WINDOW + 1_000);
    const told = () => channel.deliveries.slice(before).map((d) => [d.userId, d.body]);
    // Dad and the kid are told; mum's share waits for her morning.
    expect(told().sort()).toEqual(
      [
        [dad.userId, `${kid.username} commented on Recital: “Bring flowers!”`],
        [kid.userId, `${dad.username} added Piano`],
      ].sort(),
    );
    // The comment is deleted while the batch waits.
    expect((await api.request('DELETE', `${path}/${comment.body.id}`, { token: kid.token })).status).toBe(204);
    await pass(1_000);
    await clock.advanceTo(Date.parse('2026-06-02T05:00:01Z'), () => new Promise((r) => setTimeout(r, 20)));
    await pass(WINDOW);
    // Mum hears of dad's event (still there), not of the deleted comment; dad and the kid hear nothing twice.
    expect(told().sort()).toEqual(
      [
        [dad.userId, `${kid.username} commented on Recital: “Bring flowers!”`],
        [kid.userId, `${dad.username} added Piano`],
        [mum.userId, `${dad.username} added Piano`],
      ].sort(),
    );
  });

  it('a send the channel asks to retry is sent again later, once', async () => {
    const clock = new ManualClock(Date.parse('2026-06-01T09:00:00Z'));
    let refuse = 2;
    const sent: Array<{ userId: string; key: string }> = [];
    const flaky = {
      name: 'push',
      available: async () => true,
      send: async (d: { userId: string; key: string; kind: string }) => {
        if (d.kind === 'changes' && refuse-- > 0) return 'retry' as const;
        sent.push({ userId: d.userId, key: d.key });
        return 'sent' as const;
      },
    };
    const h = await startNotifyServer({ clock, channel: flaky, notify: { changeWindowMs: WINDOW, retryMs: 30_000 } });
    open.push(h);
    const api = apiClient(h.server.url);
    const mum = await api.signUp('mum');
    const dad = await api.signUp('dad');
    const roomId = await api.createRoom(mum.token, 'Millers');
    await api.addMember(mum.token, roomId, dad.token, 'editor');
    await api.request('POST', `/rooms/${roomId}/events`, {
      token: mum.token,
      body: { eventTitle: 'Dentist', startTime: '2026-06-04T16:00', endTime: '2026-06-04T17:00', timeZone: 'Europe/Berlin' },
    });
    await new Promise((r) => setTimeout(r, 30));
    await clock.advanceTo(clock.now() + WINDOW + 1_000, h.settle);
    expect(sent).toEqual([]);
    for (let i = 0; i < 4; i++) await clock.advanceTo(clock.now() + 30_001, h.settle);
    expect(sent.map((s) => s.userId)).toEqual([dad.userId]);
    expect(refuse).toBeLessThan(0);
  });
});

describe('comments', { timeout: 120_000 }, () => {
  it('any member comments (viewers too); only the author edits or deletes; participants hear of it', async () => {
    const { channel, h, api, mum, dad, kid, roomId, pass } = await setup();
    const eventId = await h.rooms.edit(roomId, (doc) =>
      createEvent(doc, { title: 'Recital', start: '2026-06-05T18:00', end: '2026-06-05T19:00', tz: 'UTC', participants: [mum.userId, kid.userId] }, { actor: mum.userId }),
    );
    await pass(10);
    const path = `/rooms/${roomId}/events/${eventId}/comments`;
    const posted = await api.request('POST', path, { token: kid.token, body: { text: 'Bring flowers!' } });
    expect(posted.status).toBe(201);
    expect(posted.body).toMatchObject({ eventId, author: kid.userId, text: 'Bring flowers!', editedAt: null });
    const commentId = posted.body.id as string;

    const byOther = await api.request('PATCH', `${path}/${commentId}`, { token: dad.token, body: { text: 'no' } });
    expect(byOther.status).toBe(403);
    expect(byOther.body.error.code).toBe('NOT_COMMENT_AUTHOR');
    expect((await api.request('DELETE', `${path}/${commentId}`, { token: mum.token })).status).toBe(403);
    const edited = await api.request('PATCH', `${path}/${commentId}`, { token: kid.token, body: { text: 'Bring flowers and water' } });
    expect(edited.status).toBe(200);
    expect(edited.body.editedAt).toEqual(expect.any(String));

    const tooLong = await api.request('POST', path, { token: dad.token, body: { text: 'x'.repeat(2_001) } });
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.error.code).toBe('FIELD_TOO_LONG');
    expect(tooLong.body.error.message).toMatch(/text/);
    const empty = await api.request('POST', path, { token: dad.token, body: { text: '   ' } });
    expect(empty.status).toBe(400);
    const huge = await api.request('POST', path, { token: dad.token, rawBody: JSON.stringify({ text: 'y'.repeat(20_000) }), headers: { 'content-type': 'application/json' } });
    expect(huge.status).toBe(413);
    const outsider = await api.signUp('outsider');
    expect((await api.request('POST', path, { token: outsider.token, body: { text: 'hi' } })).status).toBe(404);
    expect((await api.request('POST', `/rooms/${roomId}/events/nope/comments`, { token: dad.token, body: { text: 'hi' } })).status).toBe(404);

    // A comment deleted inside the window is withdrawn from the notice.
    const oops = await api.request('POST', path, { token: dad.token, body: { text: 'Wrong event, sorry' } });
    expect(oops.status).toBe(201);
    await pass(10);
    expect((await api.request('DELETE', `${path}/${oops.body.id}`, { token: dad.token })).status).toBe(204);

    const list = await api.request('GET', path, { token: dad.token });
    expect(list.body.comments.map((c: { text: string }) => c.text)).toEqual(['Bring flowers and water']);

    await pass(WINDOW + 1_000);
    const notices = channel.deliveries.filter((d) => d.kind === 'changes' && d.body.includes('commented'));
    // The event's participants other than the author: mum (dad is not a participant).
    expect(notices.map((d) => d.userId)).toEqual([mum.userId]);
    // Mum's adding the event reached the other two, in the same window.
    expect(channel.deliveries.filter((d) => d.body === `${mum.username} added Recital`).map((d) => d.userId).sort()).toEqual([dad.userId, kid.userId].sort());
    // Edited inside the window: the notice carries the edited text, once.
    expect(notices[0]!.body).toContain(`${kid.username} commented on Recital: “Bring flowers and water”`);
    expect(channel.deliveries.some((d) => d.body.includes('Wrong event'))).toBe(false);

    // After the notice went out, an edit or a delete sends nothing new.
    const count = channel.deliveries.length;
    expect((await api.request('PATCH', `${path}/${commentId}`, { token: kid.token, body: { text: 'Never mind' } })).status).toBe(200);
    expect((await api.request('DELETE', `${path}/${commentId}`, { token: kid.token })).status).toBe(204);
    expect((await api.request('GET', path, { token: dad.token })).body.comments).toEqual([]);
    await pass(WINDOW + 1_000);
    expect(channel.deliveries).toHaveLength(count);
  }, 120_000);
});

describe('notification settings', { timeout: 120_000 }, () => {
  it('refuses bad input with a clear 4xx and stores nothing', async () => {
    const { api, dad, roomId } = await setup();
    const put = (body: unknown) => api.request('PUT', '/users/me/notification-settings', { token: dad.token, body });
    const bad = [
      [{ timeZone: 'Mars/Olympus' }, 400, 'UNKNOWN_TIME_ZONE'],
      [{ quietHours: { start: '25:00', end: '07:00' } }, 400, 'VALIDATION_FAILED'],
      [{ quietHours: { start: '22:00', end: '22:00' } }, 400, 'VALIDATION_FAILED'],
      [{ dailyAgenda: { time: '7:5' } }, 400, 'VALIDATION_FAILED'],
      [{ rooms: { [roomId]: { changes: 'sometimes' } } }, 400, 'VALIDATION_FAILED'],
      [{ rooms: { 'not-my-room': { changes: 'all' } } }, 404, 'ROOM_NOT_FOUND'],
      [{ colour: 'red' }, 400, 'VALIDATION_FAILED'],
    ] as const;
    for (const [body, status, code] of bad) {
      const res = await put(body);
      expect([res.status, res.body.error?.code], JSON.stringify(body)).toEqual([status, code]);
    }
    const now = await api.request('GET', '/users/me/notification-settings', { token: dad.token });
    expect(now.body).toEqual({ timeZone: null, quietHours: null, dailyAgenda: null, rooms: {} });
    const good = await put({ dailyAgenda: { time: '07:30' }, rooms: { [roomId]: { changes: 'none' } } });
    expect(good.status).toBe(200);
    expect(good.body).toEqual({ timeZone: null, quietHours: null, dailyAgenda: { time: '07:30' }, rooms: { [roomId]: { changes: 'none' } } });
    expect((await api.request('GET', '/users/me/notification-settings')).status).toBe(401);
  }, 120_000);
});
