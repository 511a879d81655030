/**
 * Merges that must keep both sides' changes: a conflict settled per field by when that field changed, an
 * insert whose answer was lost and whose Google copy was edited before the retry, and restores from the trash
 * on either side.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createEvent, deleteEvent, editOccurrence, getEvent, restoreEvent, updateEvent } from '@kith/model';
import { googleIdFor } from '../src/runner.js';
import { diff, edit, linkedRoom, me, startRig, type Rig } from './helpers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(what: string, check: () => Promise<boolean> | boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}
const clean = { onlyRoom: [], onlyGoogle: [], differ: [], duplicates: 0 };

let rig: Rig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

const roomEvent = (roomId: string, id: string) => rig!.kith.sync.readRoom(roomId, (doc) => getEvent(doc, id));

describe('conflicts per field', () => {
  it('keeps a room rename made after an older Google rename, and a newer Google location, while a bulk export runs', { timeout: 90_000 }, async () => {
    rig = await startRig({ worker: { pollIntervalMs: 3_600_000, requestsPerSecond: 10, requestBurst: 10 } });
    rig.options.webhookBaseUrl = rig.appUrl;
    await rig.worker.close();
    await rig.restartWorker();
    const { roomId, calendarId } = await linkedRoom(rig);
    const id = await edit(rig, roomId, (doc) => createEvent(doc, { title: 'Dinner', start: '2027-06-01T18:00', end: '2027-06-01T20:00', tz: 'UTC' }, me));
    await rig.worker.syncNow(roomId);
    const gid = googleIdFor(roomId, id, '', 0);
    // 100 more events for Google: the export of them (10 requests/s) is in progress during the edits below.
    await edit(rig, roomId, (doc) => {
      for (let i = 0; i < 100; i++) createEvent(doc, { title: `Bulk ${i}`, start: '2027-07-01', end: '2027-07-02' }, me);
    });
    await until('the bulk export to start', () => (rig!.fake.stats().requests['events.insert'] ?? 0) > 5);

    rig.fake.ui.patchEvent(calendarId, gid, { summary: 'Dinner (Google)' });
    await sleep(5);
    await edit(rig, roomId, (doc) => updateEvent(doc, id, { title: 'Dinner (room)' }, me));
    await sleep(3_000);
    rig.fake.ui.patchEvent(calendarId, gid, { location: 'Trattoria' });

    await until('the Google location in the room', async () => (await roomEvent(roomId, id))?.location === 'Trattoria', 15_000);
    await until('the room title in Google', () => (rig!.fake.event(calendarId, gid) as any)?.summary === 'Dinner (room)', 15_000);
    expect(await roomEvent(roomId, id)).toMatchObject({ title: 'Dinner (room)', location: 'Trattoria' });
    expect(rig.fake.event(calendarId, gid)).toMatchObject({ summary: 'Dinner (room)', location: 'Trattoria' });
  });
});

describe('a lost insert answer', () => {
  for (const path of ['retried insert (409, read, merge)', 'listing before the retry'] as const) {
    it(`keeps a Google edit made before the retry: ${path}`, async () => {
      // Slow per-event retries (2 s), so the edit in Google lands between the lost answer and the retry.
      rig = await startRig({ worker: { backoffBaseMs: 2_000, backoffMaxMs: 4_000, random: () => 0.999 } });
      const { roomId, calendarId } = await linkedRoom(rig);
      rig.fake.injectFault({ route: 'events.insert', kind: 'commitThenDrop', count: 1, calendarId });
      const id = await edit(rig, roomId, (doc) => createEvent(doc, { title: 'Coffee', start: '2027-06-02T09:00', end: '2027-06-02T10:00', tz: 'UTC' }, me));
      const gid = googleIdFor(roomId, id, '', 0);
      await until('the insert stored at Google with its answer lost', () => (rig!.fake.stats().faults['events.insert'] ?? 0) === 1 && Boolean(rig!.fake.event(calendarId, gid)));
      rig.fake.ui.patchEvent(calendarId, gid, { location: 'Café Luise' });
      if (path === 'listing before the retry') await rig.worker.syncNow(roomId);
      else await until('the retried insert', () => (rig!.fake.stats().statuses['events.insert']?.['409'] ?? 0) >= 1);
      await rig.worker.syncNow(roomId);

      expect(rig.fake.event(calendarId, gid)).toMatchObject({ summary: 'Coffee', location: 'Café Luise' });
      expect(await roomEvent(roomId, id)).toMatchObject({ title: 'Coffee', location: 'Café Luise' });
      expect((rig.fake.events(calendarId) as any[]).filter((e) => e.extendedProperties?.private?.famcalId === id)).toHaveLength(1);
      expect(await diff(rig, roomId, calendarId)).toEqual(clean);
    });
  }
});

describe('restores from the trash', () => {
  it('brings back an event restored in Google after the room deleted it, and does not delete it again', async () => {
    rig = await startRig();
    const { roomId, calendarId } = await linkedRoom(rig);
    const id = await edit(rig, roomId, (doc) => createEvent(doc, { title: 'Choir', start: '2027-06-03T19:00', end: '2027-06-03T21:00', tz: 'UTC' }, me));
    await rig.worker.syncNow(roomId);
    const gid = googleIdFor(roomId, id, '', 0);

    rig.fake.ui.deleteEvent(calendarId, gid);
    await rig.worker.syncNow(roomId);
    expect((await roomEvent(roomId, id))?.deleted).not.toBeNull();

    await sleep(5);
    // The organizer restores it from Google's trash (Calendar's "Restore": the tombstone is confirmed again).
    rig.fake.ui.patchEvent(calendarId, gid, { status: 'confirmed', location: 'Church hall' });
    await rig.worker.syncNow(roomId);
    await rig.worker.syncNow(roomId);
    expect(await roomEvent(roomId, id)).toMatchObject({ deleted: null, title: 'Choir', location: 'Church hall' });
    expect(rig.fake.event(calendarId, gid)).toMatchObject({ status: 'confirmed', summary: 'Choir', location: 'Church hall' });
    expect(await diff(rig, roomId, calendarId)).toEqual(clean);
  });

  it('restores at Google an event whose deletion is undone in the room', async () => {
    rig = await startRig();
    const { roomId, calendarId } = await linkedRoom(rig);
    const id = await edit(rig, roomId, (doc) => createEvent(doc, { title: 'Book club', start: '2027-06-04', end: '2027-06-05' }, me));
    await rig.worker.syncNow(roomId);
    const gid = googleIdFor(roomId, id, '', 0);
    await edit(rig, roomId, (doc) => deleteEvent(doc, id, me));
    await rig.worker.syncNow(roomId);
    expect(rig.fake.event(calendarId, gid)).toMatchObject({ status: 'cancelled' });

    await edit(rig, roomId, (doc) => restoreEvent(doc, id, me));
    await rig.worker.syncNow(roomId);
    await rig.worker.syncNow(roomId);
    expect(rig.fake.event(calendarId, gid)).toMatchObject({ status: 'confirmed', summary: 'Book club' });
    expect(await roomEvent(roomId, id)).toMatchObject({ deleted: null });
    expect(await diff(rig, roomId, calendarId)).toEqual(clean);
  });
});

describe('restores after the trash was emptied', () => {
  it('re-creates under a new id an event restored in the room after Google purged it from its trash', async () => {
    rig = await startRig({ fake: { trashRetentionMs: 50 } });
    const { roomId, calendarId } = await linkedRoom(rig);
    const id = await edit(rig, roomId, (doc) => createEvent(doc, { title: 'Old photos', start: '2027-06-05', end: '2027-06-06' }, me));
    await rig.worker.syncNow(roomId);
    await edit(rig, roomId, (doc) => deleteEvent(doc, id, me));
    await rig.worker.syncNow(roomId);
    await sleep(100);
    await edit(rig, roomId, (doc) => restoreEvent(doc, id, me));
    await rig.worker.syncNow(roomId);
    expect(rig.fake.event(calendarId, googleIdFor(roomId, id, '', 0))).toMatchObject({ status: 'cancelled' });
    expect(rig.fake.event(calendarId, googleIdFor(roomId, id, '', 1))).toMatchObject({ status: 'confirmed', summary: 'Old photos' });
    expect(await diff(rig, roomId, calendarId)).toEqual(clean);
  });
});

describe('mass deletions', () => {
  it('holds the link when Google loses more events than the limit at once, until an owner undoes or applies it', { timeout: 60_000 }, async () => {
    rig = await startRig({ worker: { massDeleteLimit: 10 } });
    const { roomId, calendarId, token } = await linkedRoom(rig);
    const ids = await edit(rig, roomId, (doc) =>
      Array.from({ length: 15 }, (_, i) => createEvent(doc, { title: `Family ${i}`, start: '2027-08-01', end: '2027-08-02' }, me)),
    );
    await rig.worker.syncNow(roomId);
    const live = () => (rig!.fake.events(calendarId) as any[]).filter((e) => e.status !== 'cancelled').length;
    const roomLive = async () => (await rig!.kith.sync.readRoom(roomId, (doc) => ids.filter((id) => getEvent(doc, id)?.deleted === null))).length;
    expect(live()).toBe(15);

    // Someone empties the calendar in Google.
    for (const id of ids) rig.fake.ui.deleteEvent(calendarId, googleIdFor(roomId, id, '', 0));
    await rig.worker.syncNow(roomId);
    let status = await rig.appApi.request('GET', `/rooms/${roomId}/google`, { token });
    expect(status.body).toMatchObject({ status: 'awaiting_confirmation', reason: 'MASS_DELETE_IN_GOOGLE' });
    expect(status.body.lastError).toMatch(/deleted 15 .*apply or undo/);
    expect(await roomLive()).toBe(15);
    // Room edits wait too (nothing is written to Google while the link is held).
    const writes = rig.fake.stats().writes['events.patch'] ?? 0;
    await edit(rig, roomId, (doc) => updateEvent(doc, ids[0]!, { title: 'Edited while held' }, me));
    await rig.worker.syncNow(roomId);
    expect(rig.fake.stats().writes['events.patch'] ?? 0).toBe(writes);

    // Only owners decide, and only known decisions.
    const member = await rig.signUp('m');
    expect((await rig.appApi.request('POST', `/rooms/${roomId}/google/deletions/apply`, { token: member.token })).status).toBe(404);
    const bad = await rig.appApi.request('POST', `/rooms/${roomId}/google/deletions/maybe`, { token });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('VALIDATION_FAILED');

    // Undo: the room keeps them and Google gets them back.
    expect((await rig.appApi.request('POST', `/rooms/${roomId}/google/deletions/restore`, { token })).status).toBe(204);
    await until('the events back in Google', () => live() === 15, 20_000);
    await rig.worker.syncNow(roomId);
    status = await rig.appApi.request('GET', `/rooms/${roomId}/google`, { token });
    expect(status.body).toMatchObject({ status: 'active', reason: null, lastError: null });
    expect(await roomLive()).toBe(15);
    expect(await diff(rig, roomId, calendarId)).toEqual(clean);

    // Emptied again; this time the owner agrees: the room deletes them too.
    for (const id of ids) rig.fake.ui.deleteEvent(calendarId, googleIdFor(roomId, id, '', 0));
    await rig.worker.syncNow(roomId);
    expect((await rig.worker.status(roomId))!.status).toBe('awaiting_confirmation');
    expect((await rig.appApi.request('POST', `/rooms/${roomId}/google/deletions/apply`, { token })).status).toBe(204);
    await until('the deletions in the room', async () => (await roomLive()) === 0, 20_000);
    expect(live()).toBe(0);
    // A decision is used once: a later (small) deletion is applied as usual, a later mass one is held again.
    expect((await rig.worker.status(roomId))!.status).toBe('active');
    expect(rig.worker.store.link(roomId)!.massDelete).toBeNull();
  });
});

describe('edit all on a series', () => {
  it('sends edited occurrences only the field the series edit changed', async () => {
    rig = await startRig();
    const { roomId, calendarId } = await linkedRoom(rig);
    const id = await edit(rig, roomId, (doc) => {
      const sid = createEvent(doc, { title: 'Swim', start: '2027-09-07T17:00', end: '2027-09-07T18:00', tz: 'Europe/Berlin', rrule: 'FREQ=WEEKLY;COUNT=6' }, me);
      editOccurrence(doc, sid, '2027-09-14', { title: 'Swim gala' }, me);
      editOccurrence(doc, sid, '2027-09-21', { start: '2027-09-22T10:00', end: '2027-09-22T11:30' }, me);
      return sid;
    });
    await rig.worker.syncNow(roomId);
    const master = googleIdFor(roomId, id, '', 0);
    const exceptions = new Set((rig.fake.events(calendarId) as any[]).filter((e) => e.recurringEventId === master).map((e) => e.id as string));
    expect(exceptions.size).toBe(2);
    const logged = rig.fake.stats().writeLog.length;

    await edit(rig, roomId, (doc) => updateEvent(doc, id, { location: 'City pool' }, me));
    await rig.worker.syncNow(roomId);
    const writes = rig.fake.stats().writeLog.slice(logged);
    const toExceptions = writes.filter((w) => w.eventId !== null && exceptions.has(w.eventId));
    for (const w of toExceptions) expect(w.fields, `fields sent to ${w.eventId}`).toEqual(['extendedProperties', 'location']);
    const all = rig.fake.events(calendarId) as any[];
    expect(all.filter((e) => exceptions.has(e.id)).map((e) => [e.summary, e.location]).sort()).toEqual([
      ['Swim gala', 'City pool'],
      ['Swim', 'City pool'],
    ]);
    expect(await diff(rig, roomId, calendarId)).toEqual(clean);
  });
});

describe('mass deletions in the room', () => {
  it('holds the link before deleting more events in Google than the limit, until an owner undoes or applies it', { timeout: 60_000 }, async () => {
    rig = await startRig({ worker: { massDeleteLimit: 10 } });
    const { roomId, calendarId, token } = await linkedRoom(rig);
    const ids = await edit(rig, roomId, (doc) =>
      Array.from({ length: 15 }, (_, i) => createEvent(doc, { title: `Kept ${i}`, start: '2027-10-01', end: '2027-10-02' }, me)),
    );
    await rig.worker.syncNow(roomId);
    const live = () => (rig!.fake.events(calendarId) as any[]).filter((e) => e.status !== 'cancelled').length;
    const roomLive = async () => (await rig!.kith.sync.readRoom(roomId, (doc) => ids.filter((id) => getEvent(doc, id)?.deleted === null))).length;
    expect(live()).toBe(15);

    await edit(rig, roomId, (doc) => ids.forEach((id) => deleteEvent(doc, id, me)));
    await rig.worker.syncNow(roomId);
    const status = await rig.appApi.request('GET', `/rooms/${roomId}/google`, { token });
    expect(status.body).toMatchObject({ status: 'awaiting_confirmation', reason: 'MASS_DELETE_IN_ROOM' });
    expect(live()).toBe(15);

    // Undo: the room gets them back, Google never lost them.
    expect((await rig.appApi.request('POST', `/rooms/${roomId}/google/deletions/restore`, { token })).status).toBe(204);
    await until('the events back in the room', async () => (await roomLive()) === 15);
    await rig.worker.syncNow(roomId);
    expect((await rig.worker.status(roomId))!.status).toBe('active');
    expect(live()).toBe(15);
    expect(await diff(rig, roomId, calendarId)).toEqual(clean);

    // Deleted again, and the owner agrees: Google deletes them too.
    await edit(rig, roomId, (doc) => ids.forEach((id) => deleteEvent(doc, id, me)));
    await rig.worker.syncNow(roomId);
    expect((await rig.worker.status(roomId))!.reason).toBe('MASS_DELETE_IN_ROOM');
    expect((await rig.appApi.request('POST', `/rooms/${roomId}/google/deletions/apply`, { token })).status).toBe(204);
    await until('the deletions in Google', () => live() === 0, 20_000);
    expect(await roomLive()).toBe(0);
    expect(rig.worker.store.link(roomId)!.massDelete).toBeNull();
  });
});
