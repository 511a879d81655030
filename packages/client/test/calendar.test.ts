import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { setReminderDefaults } from '@kith/model';
import { type EventsChange, type KithClient } from '../src/index.js';
import { makeClient, signUp, waitFor } from './helpers/clients.js';
import { startServer, type TestServer } from './helpers/server.js';

let t: TestServer;
beforeAll(async () => {
  t = await startServer();
});
afterAll(async () => {
  await t.close();
});
const clients: KithClient[] = [];
afterEach(async () => {
  while (clients.length) await clients.pop()!.close();
});

async function sharedCalendar() {
  const a = makeClient(t.url);
  const b = makeClient(t.url);
  clients.push(a, b);
  const [ua, ub] = await Promise.all([signUp(a, 'ann'), signUp(b, 'ben')]);
  const { roomId } = await a.rooms.create('Family');
  await b.rooms.acceptInvite((await a.rooms.invite(roomId, { role: 'editor' })).code);
  const [ca, cb] = await Promise.all([
    a.openCalendar(roomId, { timeZone: 'America/New_York' }),
    b.openCalendar(roomId, { timeZone: 'Europe/Berlin' }),
  ]);
  await Promise.all([ca.whenSynced(5000), cb.whenSynced(5000)]);
  return { ca, cb, ua, ub };
}

const spring = { from: '2026-03-01T00:00:00Z', to: '2026-06-01T00:00:00Z' };

describe('calendar API end to end', () => {
  it('an event created in client A shows up as an occurrence in client B', async () => {
    const { ca, cb, ua } = await sharedCalendar();
    const id = ca.createEvent({
      title: 'Dentist',
      start: '2026-03-20T09:00',
      end: '2026-03-20T10:00',
      tz: 'America/New_York',
      participants: [ua.userId],
    });
    await waitFor(() => cb.occurrences(spring).length === 1, 5000, 'occurrence in B');
    const [occ] = cb.occurrences(spring);
    expect(occ).toMatchObject({ eventId: id, title: 'Dentist', start: '2026-03-20T09:00', tz: 'America/New_York', recurring: false });
    expect(occ!.startInstant).toBe('2026-03-20T13:00:00Z');
    expect(cb.getEvent(id)).toMatchObject({ createdBy: ua.userId, updatedBy: ua.userId, participants: [ua.userId] });
    expect(cb.doubleBookings(spring, ua.userId)).toEqual([]);
    await ca.whenSaved(5000);
  });

  it('edits one occurrence, this-and-following and all of a series, across clients', async () => {
    const { ca, cb, ub } = await sharedCalendar();
    const changes: EventsChange[] = [];
    ca.on('change', (c) => changes.push(c));
    const id = ca.createEvent({
      title: 'Soccer',
      start: '2026-03-03T17:00',
      end: '2026-03-03T18:30',
      tz: 'America/New_York',
      rrule: 'FREQ=WEEKLY;BYDAY=TU;COUNT=6',
    });
    expect(changes.at(-1)).toMatchObject({ ids: [id], local: true });
    await waitFor(() => cb.occurrences(spring).length === 6, 5000, 'series in B');

    cb.editOccurrence(id, '2026-03-10', { title: 'Soccer (away)' });
    cb.editFollowing(id, '2026-03-31', { start: '2026-03-31T18:00' });
    await waitFor(() => ca.occurrences(spring).some((o) => o.title === 'Soccer (away)'), 5000, 'B\'s edits reach A');
    expect(changes.at(-1)).toMatchObject({ ids: [id], local: false });
    await waitFor(() => ca.occurrencesOf(id, spring).map((o) => o.start).includes('2026-03-31T18:00'), 5000, 'split');
    expect(ca.occurrencesOf(id, spring).map((o) => `${o.start} ${o.title}`)).toEqual([
      '2026-03-03T17:00 Soccer',
      '2026-03-10T17:00 Soccer (away)',
      '2026-03-17T17:00 Soccer',
      '2026-03-24T17:00 Soccer',
      '2026-03-31T18:00 Soccer',
      '2026-04-07T18:00 Soccer',
    ]);
    ca.editAll(id, { location: 'Field 3' });
    await waitFor(() => cb.getEvent(id)?.location === 'Field 3', 5000, 'edit all reaches B');
    expect(cb.getEvent(id)?.updatedBy).not.toBe(ub.userId);

    ca.moveEvent(id, { start: '2026-03-04T17:00' });
    cb.cancelOccurrence(id, '2026-03-17');
    await Promise.all([ca.whenSaved(5000), cb.whenSaved(5000)]);
    await waitFor(() => ca.occurrencesOf(id, spring).length === cb.occurrencesOf(id, spring).length, 5000, 'converged');
    expect(ca.occurrencesOf(id, spring).map((o) => o.occKey)).toEqual(cb.occurrencesOf(id, spring).map((o) => o.occKey));
  });

  it('reads each member’s default reminders from the room, as they sync; unreadable values read as none', async () => {
    const { ca, cb, ua, ub } = await sharedCalendar();
    expect(cb.reminderDefaults()).toEqual({ timed: [], allDay: [] });
    setReminderDefaults(ca.doc, ua.userId, { timed: [30, 10], allDay: [900] });
    await waitFor(() => cb.reminderDefaults(ua.userId).timed.length === 2);
    expect(cb.reminderDefaults(ua.userId)).toEqual({ timed: [10, 30], allDay: [900] });
    expect(cb.reminderDefaults()).toEqual({ timed: [], allDay: [] });
    ca.doc.getMap('reminderDefaults').set(ub.userId, { timed: 'soon', allDay: [-5] });
    await waitFor(() => cb.doc.getMap('reminderDefaults').has(ub.userId));
    expect(cb.reminderDefaults()).toEqual({ timed: [], allDay: [] });
  });

  it('trash and restore travel between clients; model errors surface as they are', async () => {
    const { ca, cb } = await sharedCalendar();
    const id = ca.createEvent({ title: 'Party', start: '2026-04-11', end: '2026-04-12' });
    await waitFor(() => cb.getEvent(id) !== null, 5000, 'event in B');
    cb.deleteEvent(id);
    await waitFor(() => ca.listTrash().length === 1, 5000, 'trashed in A');
    expect(ca.occurrences(spring)).toEqual([]);
    ca.restoreEvent(id);
    await waitFor(() => cb.occurrences(spring).length === 1, 5000, 'restored in B');
    expect(cb.search('part').map((e) => e.id)).toEqual([id]);
    expect(() => ca.createEvent({ title: 'Bad', start: '2026-04-11T10:00', end: '2026-04-11T09:00', tz: 'UTC' })).toThrow(
      expect.objectContaining({ code: 'END_BEFORE_START' }),
    );
    expect(() => ca.editOccurrence(id, '2026-04-11', { title: 'x' })).toThrow(expect.objectContaining({ code: 'NOT_RECURRING' }));
  });
});
