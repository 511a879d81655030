/** FeedBuilder: the feed its worker builds is the one buildIcs writes on the event loop; a build that fails or hits a limit is a clear error. */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { cancelOccurrence, createEvent, editOccurrence, initRoom } from '@kith/model';
import { FeedBuilder } from '../src/calendar/feed-builder.js';
import { buildIcs } from '../src/calendar/ics-export.js';
import { documentJson } from '../src/sync/document-json.js';
import { createLogger } from '../src/ops/logger.js';

function capture() {
  const lines: string[] = [];
  const logger = createLogger('info', new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) }));
  return { logger, lines };
}

function room(): Y.Doc {
  const doc = new Y.Doc();
  const ctx = { actor: 'u1', now: '2026-01-01T00:00:00Z' };
  initRoom(doc, { name: 'Family', defaultTz: 'Europe/Berlin' });
  createEvent(doc, { title: 'Dentist', start: '2026-03-03T15:00', end: '2026-03-03T16:00', tz: 'Europe/Berlin' }, ctx);
  createEvent(doc, { title: 'Holiday', start: '2026-07-01', end: '2026-07-15' }, ctx);
  const swim = createEvent(doc, { title: 'Swim', start: '2026-03-02T17:00', end: '2026-03-02T18:00', tz: 'America/New_York', rrule: 'FREQ=WEEKLY;COUNT=10' }, ctx);
  editOccurrence(doc, swim, '2026-03-09', { start: '2026-03-10T18:00' }, ctx);
  cancelOccurrence(doc, swim, '2026-03-16', ctx);
  const mars = createEvent(doc, { title: 'Rover', start: '2026-03-04T09:00', end: '2026-03-04T10:00', tz: 'UTC' }, ctx);
  (doc.getMap('events').get(mars) as Y.Map<unknown>).set('tz', 'Mars/Olympus'); // left out, and reported
  return doc;
}

/** A job as the feed route makes it: the room's stored bytes (here a snapshot and one log entry after it). */
function jobOf(doc: Y.Doc, roomId: string, name: string) {
  const snapshot = Y.encodeStateAsUpdate(doc);
  const later = new Y.Doc();
  Y.applyUpdate(later, snapshot);
  const sv = Y.encodeStateVector(later);
  createEvent(later, { title: 'Added later', start: '2026-04-01T10:00', end: '2026-04-01T11:00', tz: 'UTC' }, { actor: 'u1', now: '2026-01-02T00:00:00Z' });
  Y.applyUpdate(doc, Y.encodeStateAsUpdate(later, sv));
  const stored = { snapshot, snapshotSeq: 1, snapshotStateVector: null, updates: [{ seq: 2, data: Y.encodeStateAsUpdate(later, sv) }], head: 2 };
  return { roomId, name, stored };
}

describe('FeedBuilder', () => {
  it('builds in its worker exactly the feed buildIcs writes, with what it left out', async () => {
    const doc = room();
    const job = jobOf(doc, 'r1', 'Family');
    const left: string[] = [];
    const expected = buildIcs(doc, { roomId: 'r1', name: 'Family', defaultTz: 'Europe/Berlin', onSkip: (id) => left.push(id) });
    const builder = new FeedBuilder(capture().logger);
    try {
      const built = await builder.build(job);
      expect(built.ics).toBe(expected);
      expect(built.ics).toContain('SUMMARY:Swim');
      expect(built.ics).toContain('SUMMARY:Added later');
      expect(built.skipped).toEqual({ sample: [{ eventId: left[0], reason: expect.any(String) }], count: 1 });
    } finally {
      await builder.close();
    }
  });

  it('answers, when asked, the whole document as JSON from the same bytes, any top-level type included', async () => {
    const doc = room();
    doc.getMap('comments').set('c1', { text: 'Bring the card' }); // a module's map
    doc.getArray('odd').push([1, 'two']); // a type no module reads as a map
    const builder = new FeedBuilder(capture().logger);
    try {
      const job = jobOf(doc, 'r1', 'Family');
      const again = structuredClone(job);
      const plain = await builder.build(job);
      expect(plain.document).toBeUndefined();
      // The stored bytes were moved to the worker, not copied: a build takes bytes of its own.
      expect(job.stored.updates.every((u) => u.data.byteLength === 0)).toBe(true);
      const built = await builder.build(again, { withDocument: true });
      expect(built.ics).toBe(plain.ics);
      expect(built.document).toBe(documentJson(doc));
      const parsed = JSON.parse(built.document!);
      expect(Object.keys(parsed)).toEqual(expect.arrayContaining(['room', 'events', 'comments', 'odd']));
      expect(parsed.odd).toEqual([1, 'two']);
      expect(JSON.stringify(parsed.events)).toContain('Added later');
    } finally {
      await builder.close();
    }
  });

  it('answers ROOM_UNAVAILABLE for a build past its deadline or memory, logs why, and builds the next one', async () => {
    const doc = room();
    for (const [limits, why] of [
      [{ timeoutMs: 1, memoryMb: 1024 }, 'time-limit'],
      [{ timeoutMs: 60_000, memoryMb: 1 }, 'memory-limit'],
    ] as const) {
      const { logger, lines } = capture();
      const tight = new FeedBuilder(logger, limits);
      await expect(tight.build(jobOf(doc, 'r1', 'Family'))).rejects.toMatchObject({ code: 'ROOM_UNAVAILABLE' });
      expect(lines.join('')).toContain(`"why":"${why}"`);
      await tight.close();
    }
    const builder = new FeedBuilder(capture().logger);
    expect((await builder.build(jobOf(doc, 'r1', 'Family'))).ics).toContain('SUMMARY:Dentist');
    await builder.close();
  });

  it('refuses stored rows that do not reach the stored head with ROOM_UNAVAILABLE, and logs it', async () => {
    const { logger, lines } = capture();
    const builder = new FeedBuilder(logger);
    const job = jobOf(room(), 'r1', 'Family');
    await expect(builder.build({ ...job, stored: { ...job.stored, head: 3 } })).rejects.toMatchObject({ code: 'ROOM_UNAVAILABLE' });
    await expect(builder.build({ ...job, stored: { ...job.stored, updates: [{ ...job.stored.updates[0]!, seq: 3 }], head: 3 } })).rejects.toMatchObject({ code: 'ROOM_UNAVAILABLE' });
    expect(lines.join('')).toContain('stored room data is incomplete');
    await builder.close();
  });

  it('refuses the build running and the one waiting when it closes, with SHUTTING_DOWN', async () => {
    const builder = new FeedBuilder(capture().logger);
    const doc = room();
    const first = builder.build(jobOf(doc, 'r1', 'Family'));
    const second = builder.build(jobOf(doc, 'r2', 'Other'));
    const outcomes = Promise.allSettled([first, second]);
    await builder.close();
    const [a, b] = await outcomes;
    expect(a).toMatchObject({ status: 'rejected', reason: { code: 'SHUTTING_DOWN' } });
    expect(b).toMatchObject({ status: 'rejected', reason: { code: 'SHUTTING_DOWN' } });
  });
});
