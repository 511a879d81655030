/**
 * The cheaper change look on real Yjs documents written with the model: the tracker names exactly
 * the events and comments a transaction touched (nested changes included), and patching the room's
 * print with only those gives the same changes as fingerprinting the whole room.
 */
import { addComment, cancelOccurrence, createEvent, deleteComment, deleteEvent, editComment, initRoom, occurrencesBetween, updateEvent } from '@kith/model';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { ChangeTracker } from '../../src/notify/change-tracker.js';
import { commentEdits, diffRooms, patchPrint, printRoom, withNextStarts, type RoomChange } from '../../src/notify/room-changes.js';

const mum = { actor: 'u-mum' };
/** Changes in a stable order (a whole-room print lists by event id, a patch by touch order). */
const sorted = (changes: RoomChange[]) => [...changes].sort((a, b) => `${a.kind}|${a.eventId}|${a.commentId}`.localeCompare(`${b.kind}|${b.eventId}|${b.commentId}`));
const dad = { actor: 'u-dad' };

function room(events: number): { doc: Y.Doc; ids: string[] } {
  const doc = new Y.Doc();
  initRoom(doc, { name: 'Millers', defaultTz: 'Europe/Berlin' });
  const ids: string[] = [];
  for (let i = 0; i < events; i++) {
    ids.push(createEvent(doc, { title: `Event ${i}`, start: '2026-06-01T09:00', end: '2026-06-01T10:00', tz: 'Europe/Berlin' }, mum));
  }
  return { doc, ids };
}

describe('change tracker', () => {
  it('names only the touched events and comments, nested changes included', () => {
    const { doc, ids } = room(500);
    const tracker = new ChangeTracker();
    expect(tracker.take(doc).all).toBe(true); // first take of a document: read it all
    expect(tracker.take(doc)).toEqual({ all: false, events: new Set(), comments: new Set() });

    updateEvent(doc, ids[7]!, { title: 'Dentist' }, dad);
    const series = createEvent(doc, { title: 'Swim', start: '2026-06-01T17:00', end: '2026-06-01T18:00', tz: 'Europe/Berlin', rrule: 'FREQ=WEEKLY' }, dad);
    expect(tracker.take(doc)).toEqual({ all: false, events: new Set([ids[7], series]), comments: new Set() });

    const occ = occurrencesBetween(doc, { from: '2026-06-08T00:00:00Z', to: '2026-06-09T00:00:00Z', timeZone: 'Europe/Berlin' }).find((o) => o.eventId === series)!;
    cancelOccurrence(doc, series, occ.occKey, dad);
    const c = addComment(doc, ids[3]!, 'Bring flowers', dad);
    expect(tracker.take(doc)).toEqual({ all: false, events: new Set([series]), comments: new Set([c.id]) });

    editComment(doc, c.id, 'Bring water', dad);
    expect(tracker.take(doc).comments).toEqual(new Set([c.id]));
    // The room's zone changes every print: read it all.
    doc.getMap('room').set('defaultTz', 'UTC');
    expect(tracker.take(doc).all).toBe(true);
  });

  it('patching the touched part of a print finds what a whole-room print finds', () => {
    const { doc, ids } = room(300);
    const tracker = new ChangeTracker();
    tracker.take(doc);
    const print = printRoom(doc);
    const whole = printRoom(doc);
    const c0 = addComment(doc, ids[1]!, 'Old news', mum);
    const afterComment = printRoom(doc);
    const first = patchPrint(doc, print, tracker.take(doc));
    expect(sorted(diffRooms(first.before, first.after))).toEqual(sorted(diffRooms(whole, afterComment)));

    updateEvent(doc, ids[5]!, { start: '2026-06-02T11:00', end: '2026-06-02T12:00' }, dad);
    deleteEvent(doc, ids[6]!, dad);
    const added = createEvent(doc, { title: 'Ski trip', start: '2026-12-20', end: '2026-12-27' }, dad);
    const c = addComment(doc, ids[9]!, 'See you there', dad);
    editComment(doc, c0.id, 'Older news', mum);
    const c2 = addComment(doc, ids[2]!, 'Oops', mum);
    deleteComment(doc, c2.id, mum);

    const touched = tracker.take(doc);
    expect(touched.events.size).toBe(3); // not O(room)
    const { before, after } = patchPrint(doc, print, touched);
    const full = diffRooms(afterComment, printRoom(doc));
    expect(sorted(diffRooms(before, after))).toEqual(sorted(full));
    expect(full.map((ch) => [ch.kind, ch.eventId]).sort()).toEqual(
      [['added', added], ['commented', ids[9]], ['deleted', ids[6]], ['moved', ids[5]]].sort(),
    );
    expect(commentEdits(before, after)).toEqual(commentEdits(afterComment, printRoom(doc)));
    expect(commentEdits(before, after).edited).toEqual(new Map([[c0.id, 'Older news']]));
    // The patched print is the room as it is now.
    expect(print).toEqual(printRoom(doc));
  });

  it('looks up next starts only for the moves a notice can show', () => {
    const { doc, ids } = room(8);
    const before = printRoom(doc);
    // Dad moves one event; Mum moves four (a notice shows her as counts) and adds one.
    updateEvent(doc, ids[0]!, { start: '2027-03-02T11:00', end: '2027-03-02T12:00' }, dad);
    for (const i of [1, 2, 3, 4]) updateEvent(doc, ids[i]!, { start: '2027-03-03T11:00', end: '2027-03-03T12:00' }, mum);
    createEvent(doc, { title: 'Ski trip', start: '2027-03-20T09:00', end: '2027-03-20T10:00', tz: 'Europe/Berlin' }, mum);
    const now = Date.parse('2027-01-01T00:00:00Z');
    const changes = withNextStarts(doc, diffRooms(before, printRoom(doc)), now, 3);
    const startOf = (actor: string, kind: string) => changes.filter((c) => c.actor === actor && c.kind === kind).map((c) => c.start);
    expect(startOf(dad.actor, 'moved')).toEqual([Date.parse('2027-03-02T10:00:00Z')]);
    expect(startOf(mum.actor, 'moved')).toEqual([null, null, null, null]);
    expect(startOf(mum.actor, 'added')).toEqual([null]);
    // With room for five, Mum's moves are shown with their times.
    expect(withNextStarts(doc, diffRooms(before, printRoom(doc)), now, 5).filter((c) => c.actor === mum.actor && c.kind === 'moved').map((c) => c.start)).toEqual(
      Array(4).fill(Date.parse('2027-03-03T10:00:00Z')),
    );
  });
});
