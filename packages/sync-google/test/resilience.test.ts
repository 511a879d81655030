/**
 * The failure table: echoes, sync-token expiry, lost answers, conflicts (412), worker crashes at chosen
 * points, rate limits and quota, and push channels with their renewal.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { createEvent, deleteEvent, getEvent, listEvents, listTrash, moveEvent, updateEvent } from '@kith/model';
import { googleIdFor } from '../src/runner.js';
import { diff, edit, events, googleWrites, linkedRoom, me, startRig, type Rig } from './helpers.js';

let rig: Rig;
beforeAll(async () => {
  rig = await startRig();
});
afterAll(async () => {
  await rig?.close();
});

const clean = { onlyRoom: [], onlyGoogle: [], differ: [], duplicates: 0 };
const stateVector = (roomId: string) => rig.kith.sync.readRoom(roomId, (doc) => Buffer.from(Y.encodeStateVector(doc)).toString('base64'));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(what: string, check: () => Promise<boolean> | boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe('no loops', () => {
  it('makes at most one Google write per room edit, and none for changes imported from Google', async () => {
    const { roomId, calendarId } = await linkedRoom(rig);
    const id = await edit(rig, roomId, (doc) => createEvent(doc, { title: 'Echo 0', start: '2026-08-01T10:00', end: '2026-08-01T11:00', tz: 'Europe/Rome' }, me));
    let before = googleWrites(rig.fake);
    await rig.worker.syncNow(roomId);
    expect(googleWrites(rig.fake) - before).toBe(1);

    const N = 12;
    before = googleWrites(rig.fake);
    for (let i = 1; i <= N; i++) {
      await edit(rig, roomId, (doc) =>
        i % 3 === 0 ? moveEvent(doc, id, { start: `2026-08-${String(1 + i).padStart(2, '0')}T10:00` }, me) : updateEvent(doc, id, { title: `Echo ${i}` }, me),
      );
      await rig.worker.syncNow(roomId);
    }
    const sequential = googleWrites(rig.fake) - before;
    expect(sequential).toBeLessThanOrEqual(N);
    expect(sequential).toBe(N);

    // Edits in quick succession coalesce.
    before = googleWrites(rig.fake);
    for (let i = 0; i < N; i++) await edit(rig, roomId, (doc) => updateEvent(doc, id, { description: `burst ${i}` }, me));
    await rig.worker.syncNow(roomId);
    expect(googleWrites(rig.fake) - before).toBeLessThanOrEqual(N);

    // Changes made in Google are imported and cause no write back, now or later.
    before = googleWrites(rig.fake);
    const gid = googleIdFor(roomId, id, '', 0);
    rig.fake.ui.patchEvent(calendarId, gid, { summary: 'Renamed in Google', location: 'Lido' });
    rig.fake.ui.insertEvent(calendarId, { summary: 'Made in Google', start: { date: '2026-08-20' }, end: { date: '2026-08-22' } });
    rig.fake.ui.insertEvent(calendarId, {
      summary: 'Weekly in Google',
      start: { dateTime: '2026-08-03T08:00:00+02:00', timeZone: 'Europe/Rome' },
      end: { dateTime: '2026-08-03T09:00:00+02:00', timeZone: 'Europe/Rome' },
      recurrence: ['RRULE:FREQ=WEEKLY;COUNT=4'],
    });
    await rig.worker.syncNow(roomId);
    await rig.worker.syncNow(roomId);
    expect(googleWrites(rig.fake) - before).toBe(0);
    expect((await rig.kith.sync.readRoom(roomId, (doc) => getEvent(doc, id)!)).title).toBe('Renamed in Google');

    // Once in step, further cycles change neither side.
    const sv = await stateVector(roomId);
    before = googleWrites(rig.fake);
    for (let i = 0; i < 3; i++) await rig.worker.syncNow(roomId);
    expect(googleWrites(rig.fake) - before).toBe(0);
    expect(await stateVector(roomId)).toBe(sv);
    expect(await diff(rig, roomId, calendarId)).toEqual(clean);
  });
});

describe('sync tokens', () => {
  it('answers an expired sync token with a full resync that merges by id and deletes only what Google deleted', async () => {
    const { roomId, calendarId } = await linkedRoom(rig);
    const ids = await edit(rig, roomId, (doc) =>
      Array.from({ length: 6 }, (_, i) => createEvent(doc, { title: `Kept ${i}`, start: `2026-09-0${i + 1}`, end: `2026-09-0${i + 2}` }, me)),
    );
    for (let i = 0; i < 3; i++) rig.fake.ui.insertEvent(calendarId, { summary: `Google ${i}`, start: { date: `2026-09-1${i}` }, end: { date: `2026-09-1${i + 1}` } });
    await rig.worker.syncNow(roomId);
    expect(await diff(rig, roomId, calendarId)).toEqual(clean);

    rig.fake.expireSyncTokens(calendarId);
    rig.fake.ui.patchEvent(calendarId, googleIdFor(roomId, ids[0]!, '', 0), { summary: 'Kept 0, renamed' });
    rig.fake.ui.deleteEvent(calendarId, googleIdFor(roomId, ids[1]!, '', 0));
    const fresh = await edit(rig, roomId, (doc) => createEvent(doc, { title: 'Made during expiry', start: '2026-09-20', end: '2026-09-21' }, me));
    const statusesBefore = rig.fake.stats().statuses['events.list']?.['410'] ?? 0;
    await rig.worker.syncNow(roomId);
    await rig.worker.syncNow(roomId);

    expect(rig.fake.stats().statuses['events.list']?.['410'] ?? 0).toBeGreaterThan(statusesBefore);
    expect(await diff(rig, roomId, calendarId)).toEqual(clean);
    const room = await events(rig, roomId);
    expect(room.map((e) => e.title).sort()).toEqual(
      ['Google 0', 'Google 1', 'Google 2', 'Kept 0, renamed', 'Kept 2', 'Kept 3', 'Kept 4', 'Kept 5', 'Made during expiry'].sort(),
    );
    expect(await rig.kith.sync.readRoom(roomId, (doc) => listTrash(doc).map((e) => e.id))).toEqual([ids[1]]);
    expect(room.some((e) => e.id === fresh)).toBe(true);
  });

  it('keeps room events that a full listing lacks (not exported yet) and exports them, trashing only what Google deleted', async () => {
    const { roomId, calendarId } = await linkedRoom(rig);
    const ids = await edit(rig, roomId, (doc) =>
      Array.from({ length: 4 }, (_, i) => createEvent(doc, { title: `Stay ${i}`, start: `2026-10-0${i + 1}T09:00`, end: `2026-10-0${i + 1}T10:00`, tz: 'UTC' }, me)),
    );
    await rig.worker.syncNow(roomId);
    // Google refuses inserts for a while: two new room events stay unexported.
    rig.fake.injectFault({ route: 'events.insert', kind: 'backendError', probability: 1, calendarId });
    const pending = await edit(rig, roomId, (doc) =>
      Array.from({ length: 2 }, (_, i) => createEvent(doc, { title: `Pending ${i}`, start: `2026-10-1${i}`, end: `2026-10-1${i + 1}` }, me)),
    );
    const waitFor = rig.worker.syncNow(roomId);
    await sleep(100);
    for (const id of ids.slice(0, 2)) rig.fake.ui.deleteEvent(calendarId, googleIdFor(roomId, id, '', 0));
    rig.fake.expireSyncTokens(calendarId);
    rig.fake.clearFaults();
    await waitFor;
    await rig.worker.syncNow(roomId);
    const live = (await events(rig, roomId)).map((e) => e.id).sort();
    expect(live).toEqual([...ids.slice(2), ...pending].sort());
    expect(await diff(rig, roomId, calendarId)).toEqual(clean);
  });
});

describe('lost answers and conflicts', () => {
  it('does not duplicate an event whose insert was applied but never answered (409 on the retry, adopted)', async () => {
    const { roomId, calendarId } = await linkedRoom(rig);
    rig.fake.injectFault({ route: 'events.insert', kind: 'commitThenDrop', count: 1, calendarId });
    const id = await edit(rig, roomId, (doc) => createEvent(doc, { title: 'Once', start: '2026-11-01T10:00', end: '2026-11-01T11:00', tz: 'UTC' }, me));
    // The event is retried on its own (no listing in between, which would adopt it without a retry).
    await until('the retried insert', () => (rig.fake.stats().statuses['events.insert']?.['409'] ?? 0) >= 1);
    await rig.worker.syncNow(roomId);
    const copies = (rig.fake.events(calendarId) as any[]).filter((e) => e.extendedProperties?.private?.famcalId === id);
    expect(copies).toHaveLength(1);
    expect(rig.fake.stats().statuses['events.insert']?.['409']).toBeGreaterThanOrEqual(1);
    expect(await diff(rig, roomId, calendarId)).toEqual(clean);
  });

  it('merges on 412 when Google changed the event between our read and our write', async () => {
    const { roomId, calendarId } = await linkedRoom(rig);
    const id = await edit(rig, roomId, (doc) => createEvent(doc, { title: 'Base', start: '2026-11-02T10:00', end: '2026-11-02T11:00', tz: 'UTC' }, me));
    await rig.worker.syncNow(roomId);
    const gid = googleIdFor(roomId, id, '', 0);
    // Google's change is not imported yet (no push channel, no poll due): the PATCH carries a stale etag.
    const conflicts = rig.fake.stats().statuses['events.patch']?.['412'] ?? 0;
    rig.fake.ui.patchEvent(calendarId, gid, { location: 'Changed in Google' });
    await edit(rig, roomId, (doc) => updateEvent(doc, id, { title: 'Changed in the room' }, me));
    await until('the conflicting patch', () => (rig.fake.stats().statuses['events.patch']?.['412'] ?? 0) > conflicts);
    await rig.worker.syncNow(roomId);
    expect(rig.fake.event(calendarId, gid)).toMatchObject({ summary: 'Changed in the room', location: 'Changed in Google' });
    expect((await rig.kith.sync.readRoom(roomId, (doc) => getEvent(doc, id)!)).location).toBe('Changed in Google');
  });

  it('re-creates under the next generation when the id is taken by an event that is not ours', async () => {
    const { roomId, calendarId } = await linkedRoom(rig);
    const id = '11111111-2222-4333-8444-555555555555';
    rig.fake.ui.insertEvent(calendarId, { id: googleIdFor(roomId, id, '', 0), summary: 'Squatter', start: { date: '2026-11-03' }, end: { date: '2026-11-04' } });
    // The squatter is adopted as a Google-made event first; then our event needs another id.
    await rig.worker.syncNow(roomId);
    await edit(rig, roomId, (doc) => createEvent(doc, { id, title: 'Mine', start: '2026-11-05', end: '2026-11-06' }, me));
    await rig.worker.syncNow(roomId);
    expect(rig.fake.event(calendarId, googleIdFor(roomId, id, '', 1))).toMatchObject({ summary: 'Mine' });
    expect(rig.fake.event(calendarId, googleIdFor(roomId, id, '', 0))).toMatchObject({ summary: 'Squatter' });
    expect(await diff(rig, roomId, calendarId)).toEqual(clean);
  });
});

describe('crashes', () => {
  it('resumes after being killed with an insert in flight that Google applied: one event, no loss', async () => {
    const { roomId, calendarId } = await linkedRoom(rig);
    rig.fake.injectFault({ route: 'events.insert', kind: 'delay', delayMs: 150, count: 1, calendarId });
    const id = await edit(rig, roomId, (doc) => createEvent(doc, { title: 'In flight', start: '2026-12-01', end: '2026-12-02' }, me));
    await until('the insert to be sent', () => (rig.fake.stats().requests['events.insert'] ?? 0) > 0);
    rig.worker.kill();
    await sleep(250); // Google applies it after the worker died.
    await edit(rig, roomId, (doc) => updateEvent(doc, id, { title: 'In flight, edited while down' }, me));
    await rig.restartWorker();
    await rig.worker.syncNow(roomId);
    const copies = (rig.fake.events(calendarId) as any[]).filter((e) => e.extendedProperties?.private?.famcalId === id);
    expect(copies.map((e) => [e.id, e.summary])).toEqual([[googleIdFor(roomId, id, '', 0), 'In flight, edited while down']]);
    expect(await diff(rig, roomId, calendarId)).toEqual(clean);
  });

  it('resumes after being killed between importing into the room and recording it: no duplicate adoption, no write back', async () => {
    const { roomId, calendarId } = await linkedRoom(rig);
    rig.fake.ui.insertEvent(calendarId, { summary: 'From Google', start: { date: '2026-12-03' }, end: { date: '2026-12-04' } });
    // Kill the worker as soon as the adopted event is stored in the room, before its row is written.
    const stop = await rig.kith.sync.watchRoom(roomId, {
      onCommitted: (doc) => {
        if (listEvents(doc).some((e) => e.title === 'From Google') && rig.worker.store.isOpen) rig.worker.kill();
      },
    });
    void rig.worker.syncNow(roomId);
    await until('the kill', () => !rig.worker.store.isOpen);
    stop();
    const writes = googleWrites(rig.fake);
    await rig.restartWorker();
    await rig.worker.syncNow(roomId);
    const room = await events(rig, roomId);
    expect(room.filter((e) => e.title === 'From Google')).toHaveLength(1);
    expect(googleWrites(rig.fake)).toBe(writes);
    expect(await diff(rig, roomId, calendarId)).toEqual(clean);
  });

  it('keeps room edits made while the worker is down and sends each once after the restart', async () => {
    const { roomId, calendarId } = await linkedRoom(rig);
    const id = await edit(rig, roomId, (doc) => createEvent(doc, { title: 'Before', start: '2026-12-05T09:00', end: '2026-12-05T10:00', tz: 'UTC' }, me));
    await rig.worker.syncNow(roomId);
    rig.worker.kill();
    await edit(rig, roomId, (doc) => updateEvent(doc, id, { title: 'While down' }, me));
    const other = await edit(rig, roomId, (doc) => createEvent(doc, { title: 'New while down', start: '2026-12-06', end: '2026-12-07' }, me));
    const gone = await edit(rig, roomId, (doc) => createEvent(doc, { title: 'Short-lived', start: '2026-12-08', end: '2026-12-09' }, me));
    await edit(rig, roomId, (doc) => deleteEvent(doc, gone, me));
    const before = googleWrites(rig.fake);
    await rig.restartWorker();
    await rig.worker.syncNow(roomId);
    expect(googleWrites(rig.fake) - before).toBe(2);
    expect(rig.fake.event(calendarId, googleIdFor(roomId, id, '', 0))).toMatchObject({ summary: 'While down' });
    expect(rig.fake.event(calendarId, googleIdFor(roomId, other, '', 0))).toMatchObject({ summary: 'New while down' });
    expect(rig.fake.event(calendarId, googleIdFor(roomId, gone, '', 0))).toBeUndefined();
  });
});

describe('rate limits and quota', () => {
  it('backs off on 403 rate limits, 429 and 5xx (including on POST and PATCH, which the client library never retries)', async () => {
    const { roomId, calendarId } = await linkedRoom(rig);
    for (const kind of ['rateLimitExceeded', 'userRateLimitExceeded', 'tooManyRequests', 'backendError', 'serviceUnavailable'] as const) {
      rig.fake.injectFault({ route: 'events.insert', kind, count: 1, calendarId });
    }
    const id = await edit(rig, roomId, (doc) => createEvent(doc, { title: 'Patient', start: '2026-12-10', end: '2026-12-11' }, me));
    await rig.worker.syncNow(roomId);
    expect(rig.fake.event(calendarId, googleIdFor(roomId, id, '', 0))).toMatchObject({ summary: 'Patient' });
    expect(rig.fake.stats().faults['events.insert']).toBeGreaterThanOrEqual(5);
    expect((await rig.worker.status(roomId))!.lastError).toBeNull();
  });

  it('pauses a room on quotaExceeded and keeps its changes for later', async () => {
    // The rig pauses for 300 ms instead of two hours.
    const { roomId, calendarId, token } = await linkedRoom(rig);
    rig.fake.injectFault({ route: 'events.insert', kind: 'quotaExceeded', count: 1, calendarId });
    const id = await edit(rig, roomId, (doc) => createEvent(doc, { title: 'Later', start: '2026-12-12', end: '2026-12-13' }, me));
    await rig.worker.syncNow(roomId);
    const status = await rig.appApi.request('GET', `/rooms/${roomId}/google`, { token });
    expect(status.body.pausedUntil).not.toBeNull();
    expect(status.body.lastError).toMatch(/quota|usage limits/i);
    expect(status.body.pendingChanges).toBe(1);
    // Generous: on a loaded CI machine the worker's next cycle may come well after the 300 ms pause.
    await until('the pause to end and the event to arrive', () => Boolean(rig.fake.event(calendarId, googleIdFor(roomId, id, '', 0))), 20_000);
  });
});

describe('push channels', () => {
  it('opens a channel, imports on notifications without polling, ignores forged ones, and renews before expiry', async () => {
    const push = await startRig({ worker: { pollIntervalMs: 3_600_000, channelTtlMs: 3_000, channelRenewBeforeMs: 2_500 } });
    try {
      push.options.webhookBaseUrl = push.appUrl;
      await push.worker.close();
      await push.restartWorker();
      const { roomId, calendarId } = await linkedRoom(push);
      await push.worker.syncNow(roomId);
      const channels = push.fake.channels().filter((c) => c.calendarId === calendarId);
      expect(channels).toHaveLength(1);
      expect(channels[0]!.address).toBe(`${push.appUrl}/google/push`);

      push.fake.ui.insertEvent(calendarId, { summary: 'Pushed', start: { date: '2027-01-05' }, end: { date: '2027-01-06' } });
      await until('the pushed change in the room', async () => (await events(push, roomId)).some((e) => e.title === 'Pushed'));
      expect(push.fake.pushDeliveries().some((d) => d.state === 'exists' && d.status === 200)).toBe(true);

      const forged = await push.appApi.request('POST', '/google/push', {
        headers: { 'x-goog-channel-id': channels[0]!.id, 'x-goog-channel-token': 'forged', 'x-goog-resource-state': 'exists' },
      });
      expect(forged.status).toBe(200);

      // The channel asked for 3 s is renewed once less than 2.5 s remain: a new channel, the old one stopped.
      await sleep(600);
      await push.worker.syncNow(roomId);
      const now = push.fake.channels().filter((c) => c.calendarId === calendarId);
      expect(now.map((c) => c.id)).not.toContain(channels[0]!.id);
      expect(push.fake.stats().requests['channels.stop']).toBeGreaterThanOrEqual(1);
      expect((await push.worker.status(roomId))!.push.active).toBe(true);
    } finally {
      await push.close();
    }
  });
});

describe('room data made by other writers', () => {
  it('mirrors events moved across days on a series without losing its occurrences', async () => {
    const { roomId, calendarId } = await linkedRoom(rig);
    const id = await edit(rig, roomId, (doc) =>
      createEvent(doc, { title: 'Yoga', start: '2027-02-01T07:00', end: '2027-02-01T08:00', tz: 'Asia/Tokyo', rrule: 'FREQ=WEEKLY;BYDAY=MO;COUNT=4', exdates: ['2027-02-08'] }, me),
    );
    await rig.worker.syncNow(roomId);
    await edit(rig, roomId, (doc) => moveEvent(doc, id, { start: '2027-02-02T07:30' }, me));
    await rig.worker.syncNow(roomId);
    expect(await diff(rig, roomId, calendarId)).toEqual(clean);
    const g = rig.fake.event(calendarId, googleIdFor(roomId, id, '', 0)) as any;
    expect(g.recurrence).toEqual(['RRULE:FREQ=WEEKLY;BYDAY=TU;COUNT=4', 'EXDATE;TZID=Asia/Tokyo:20270209T073000']);
  });
});
