/**
 * Reminders for a member who lacks one of the channels (push set up, no email): once a reminder is
 * delivered, the missing channel is settled for it, so later looks at the room (every edit) do not
 * send it through the dispatcher again; and a channel set up later carries only reminders that fall
 * due after. Real server over loopback, a controllable clock; the email stand-in counts how often it
 * is asked whether the member has it (the per-reminder work a look does on an open key).
 */
import { createEvent } from '@kith/model';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock, type Delivery } from '../../src/index.js';
import { apiClient } from '../helpers/api.js';
import { RecordingChannel, startNotifyServer, type NotifyHarness } from './harness.js';

const open: NotifyHarness[] = [];
afterEach(async () => {
  for (const h of open.splice(0)) await h.server.close().catch(() => undefined);
});

const at = (iso: string) => Date.parse(iso);

/** An email channel the member has only once `has` is set; counts availability checks. */
class EmailLater extends RecordingChannel {
  has = false;
  checks = 0;
  constructor() {
    super('email');
  }
  override async available(): Promise<boolean> {
    this.checks++;
    return this.has;
  }
}

describe('reminders for a member without one of the channels', { timeout: 120_000 }, () => {
  it('are delivered once: later looks do not retry the missing channel, and setting it up later sends no old reminder', async () => {
    const clock = new ManualClock(at('2026-06-01T07:00:00Z'));
    const push = new RecordingChannel('push');
    const email = new EmailLater();
    const h = await startNotifyServer({ clock, channel: push, notify: { channels: () => [push, email] } });
    open.push(h);
    const api = apiClient(h.server.url);
    const mum = await api.signUp('mum');
    const roomId = await api.createRoom(mum.token, 'Millers');
    const N = 40;
    // A week's lead on events tomorrow: all N due at once, none started for a day.
    await h.rooms.edit(roomId, (doc) => {
      for (let i = 0; i < N; i++) {
        createEvent(doc, { title: `E${i}`, start: '2026-06-02T12:00', end: '2026-06-02T12:15', tz: 'UTC', reminders: [{ minutesBefore: 7 * 1_440 }] }, { actor: mum.userId });
      }
    });
    await h.pass(1_000);
    const reminders = (c: RecordingChannel) => c.deliveries.filter((d: Delivery) => d.kind === 'reminder');
    expect(reminders(push)).toHaveLength(N);
    expect(email.checks).toBe(N); // asked once per reminder, when it was delivered

    // Five more looks (each edit of the room brings one): nothing is delivered again, nothing asked.
    for (let k = 0; k < 5; k++) {
      await h.rooms.edit(roomId, (doc) => doc.getMap('room').set('name', `Millers ${k}`));
      await h.pass(1_000);
    }
    expect(email.checks).toBe(N);
    expect(reminders(push)).toHaveLength(N);

    // Email set up later: the reminders already delivered by push do not come again by email...
    email.has = true;
    await h.rooms.edit(roomId, (doc) => doc.getMap('room').set('name', 'Millers again'));
    await h.pass(1_000);
    expect(reminders(email)).toEqual([]);
    expect(email.checks).toBe(N);
    // ...a reminder that falls due after it goes on both.
    await h.rooms.edit(roomId, (doc) =>
      createEvent(doc, { title: 'Dentist', start: '2026-06-01T09:00', end: '2026-06-01T10:00', tz: 'UTC', reminders: [{ minutesBefore: 30 }] }, { actor: mum.userId }),
    );
    await h.pass(1_000);
    await clock.advanceTo(at('2026-06-01T08:30:00Z'), h.settle);
    expect(reminders(email).map((d) => d.title)).toEqual(['Dentist at 09:00']);
    expect(reminders(push).map((d) => d.title).slice(N)).toEqual(['Dentist at 09:00']);
  });

  it('a member with no channel at all: each reminder is looked at once, not at every look', async () => {
    const clock = new ManualClock(at('2026-06-01T07:00:00Z'));
    const none = new EmailLater();
    const h = await startNotifyServer({ clock, channel: none });
    open.push(h);
    const api = apiClient(h.server.url);
    const mum = await api.signUp('mum');
    const roomId = await api.createRoom(mum.token, 'Millers');
    await h.rooms.edit(roomId, (doc) => {
      for (let i = 0; i < 10; i++) {
        createEvent(doc, { title: `E${i}`, start: '2026-06-02T12:00', end: '2026-06-02T12:15', tz: 'UTC', reminders: [{ minutesBefore: 7 * 1_440 }] }, { actor: mum.userId });
      }
    });
    await h.pass(1_000);
    expect(none.checks).toBe(10);
    for (let k = 0; k < 3; k++) {
      await h.rooms.edit(roomId, (doc) => doc.getMap('room').set('name', `Millers ${k}`));
      await h.pass(1_000);
    }
    expect(none.checks).toBe(10);
    const metrics = await (await fetch(`${h.server.url}/metrics`)).text();
    // Settled, not "missed": the skipped counter is for reminders missed while down.
    expect(metrics).toMatch(/^kith_reminders_skipped_total 0$/m);
  });
});
