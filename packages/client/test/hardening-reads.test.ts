/**
 * Issue 11, finding 6, in the client library: an event another device wrote with a zone this
 * device does not know (or any other value the model cannot expand) must not make the calendar's
 * queries throw; callers learn about it from queryOccurrences().skipped.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { type KithClient } from '../src/index.js';
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

const march = { from: '2026-03-01T00:00:00Z', to: '2026-04-01T00:00:00Z' };

describe('reads over a document holding values the model cannot expand', () => {
  it('an event with tz "Mars/Olympus" from another device is skipped and reported; the calendar keeps answering', async () => {
    const a = makeClient(t.url);
    const b = makeClient(t.url);
    clients.push(a, b);
    await Promise.all([signUp(a, 'ann'), signUp(b, 'ben')]);
    const { roomId } = await a.rooms.create('Family');
    await b.rooms.acceptInvite((await a.rooms.invite(roomId, { role: 'editor' })).code);
    const [ca, cb] = await Promise.all([a.openCalendar(roomId, { timeZone: 'Europe/Berlin' }), b.openCalendar(roomId, { timeZone: 'Europe/Berlin' })]);
    await Promise.all([ca.whenSynced(5000), cb.whenSynced(5000)]);

    const good = ca.createEvent({ title: 'Swim', start: '2026-03-03T17:00', end: '2026-03-03T18:00', tz: 'Europe/Berlin', rrule: 'FREQ=WEEKLY;COUNT=3' });
    // What a device with other zone data (or any stock Yjs client) may write.
    ca.transact(() => {
      const ev = new Y.Map<unknown>();
      ca.doc.getMap('events').set('rover', ev);
      ev.set('title', 'Rover');
      ev.set('start', '2026-03-04T09:00');
      ev.set('duration', 'PT1H');
      ev.set('tz', 'Mars/Olympus');
      ev.set('rrule', 'FREQ=DAILY;COUNT=2');
    });
    await waitFor(() => cb.getEvent('rover') !== null && cb.getEvent(good) !== null, 5000, 'both events in B');

    for (const cal of [ca, cb]) {
      expect(cal.occurrences(march).map((o) => o.title)).toEqual(['Swim', 'Swim', 'Swim']);
      expect(cal.occurrencesOf('rover', march)).toEqual([]);
      expect(cal.doubleBookings(march)).toEqual([]);
      expect(cal.search('rover').map((e) => e.id)).toEqual(['rover']);
      const page = cal.queryOccurrences(march);
      expect(page.occurrences).toHaveLength(3);
      expect(page.next).toBeNull();
      expect(page.skipped).toEqual([{ eventId: 'rover', code: 'UNKNOWN_TIME_ZONE', field: 'tz', message: expect.stringContaining('Mars/Olympus') }]);
    }
  });

  it('occurrences() is bounded and queryOccurrences() pages past the bound', async () => {
    const a = makeClient(t.url);
    clients.push(a);
    await signUp(a, 'ann');
    const { roomId } = await a.rooms.create('Busy');
    const cal = await a.openCalendar(roomId, { timeZone: 'UTC', connect: false });
    for (let i = 0; i < 5; i++) cal.createEvent({ title: `Daily ${i}`, start: '2026-03-01T08:00', end: '2026-03-01T09:00', tz: 'UTC', rrule: 'FREQ=DAILY' });
    expect(cal.occurrences(march)).toHaveLength(5 * 31);
    expect(cal.occurrences(march, { limit: 40 })).toHaveLength(40);
    const first = cal.queryOccurrences(march, { limit: 100 });
    const second = cal.queryOccurrences(march, { limit: 100, cursor: first.next });
    expect([...first.occurrences, ...second.occurrences]).toEqual(cal.occurrences(march));
    expect(second.next).toBeNull();
  });
});
