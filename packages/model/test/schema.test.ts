import * as Y from 'yjs';
import { describe, expect, it } from 'vitest';
import { createEvent, editFollowing, editOccurrence, initRoom, occurrencesBetween, SCHEMA_VERSION } from '../src/index.js';
import { ctx, expectCode, window } from './helpers.js';

describe('Y.Doc layout', () => {
  it('initRoom writes the schema version once and checks the default zone', () => {
    const doc = new Y.Doc();
    initRoom(doc, { name: 'Family', defaultTz: 'Europe/Vienna' });
    initRoom(doc);
    expect(doc.getMap('room').toJSON()).toEqual({ schema: SCHEMA_VERSION, name: 'Family', defaultTz: 'Europe/Vienna' });
    expectCode(() => initRoom(doc, { defaultTz: 'Vienna' }), 'UNKNOWN_TIME_ZONE');
  });

  it('stores an event field by field, sets as maps, overrides and segments as flat keys', () => {
    const doc = new Y.Doc();
    const id = createEvent(
      doc,
      { title: 'Chess', start: '2026-03-05T18:00', end: '2026-03-05T19:00', tz: 'Europe/Vienna', participants: ['kim'], rrule: 'FREQ=WEEKLY', reminders: [{ id: 'r1', minutesBefore: 10, for: ['kim'] }] },
      ctx(),
    );
    editOccurrence(doc, id, '2026-03-12', { title: 'Chess final' }, ctx());
    editFollowing(doc, id, '2026-03-19', { location: 'Club' }, ctx());
    const ev = doc.getMap<Y.Map<unknown>>('events').get(id)!;
    expect(ev).toBeInstanceOf(Y.Map);
    for (const key of ['who', 'alerts', 'exdates', 'rdates', 'ov', 'segs']) expect(ev.get(key), key).toBeInstanceOf(Y.Map);
    expect(ev.get('description')).toBeInstanceOf(Y.Text);
    expect(ev.toJSON()).toMatchObject({
      title: 'Chess',
      start: '2026-03-05T18:00',
      duration: 'PT1H',
      tz: 'Europe/Vienna',
      endTz: null,
      rrule: 'FREQ=WEEKLY',
      who: { kim: true },
      alerts: { r1: { before: 10, for: ['kim'] } },
      ov: { '2026-03-12|title': 'Chess final' },
      segs: { '2026-03-19|start': '2026-03-19T18:00', '2026-03-19|rrule': 'FREQ=WEEKLY', '2026-03-19|location': 'Club' },
      deleted: null,
      createdBy: 'alice',
    });
  });

  it('skips an event whose stored values are unreadable instead of failing the whole view', () => {
    const doc = new Y.Doc();
    createEvent(doc, { title: 'Fine', start: '2026-03-05T18:00', end: '2026-03-05T19:00', tz: 'UTC' }, ctx());
    const broken = createEvent(doc, { title: 'Broken', start: '2026-03-05T18:00', end: '2026-03-05T19:00', tz: 'UTC', rrule: 'FREQ=DAILY' }, ctx());
    doc.getMap<Y.Map<unknown>>('events').get(broken)!.set('rrule', 'FREQ=FORTNIGHTLY');
    expect(occurrencesBetween(doc, window('2026-03-01T00:00:00Z', '2026-04-01T00:00:00Z')).map((o) => o.title)).toEqual(['Fine']);
  });
});
