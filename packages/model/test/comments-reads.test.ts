/**
 * Reading comments survives whatever a Yjs client wrote into the comments map: the write limits
 * (COMMENT_LIMITS) bound every read too, so a flood of comments or one huge comment cannot make
 * the list (what the app renders on every change) arbitrarily large.
 */
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { addComment, COMMENT_LIMITS, COMMENTS_ROOT, createEvent, getComment, LIMITS, listComments } from '../src/index.js';

const event = (doc: Y.Doc, title = 'Dinner') =>
  createEvent(doc, { title, start: '2026-03-04T19:00', end: '2026-03-04T20:00', tz: 'UTC' }, { actor: 'mum' });

/** What a raw Yjs client may store: any fields, any values. */
function put(doc: Y.Doc, id: string, fields: Record<string, unknown>): void {
  const m = new Y.Map<unknown>();
  for (const [k, v] of Object.entries(fields)) m.set(k, v);
  doc.getMap(COMMENTS_ROOT).set(id, m);
}

const stamp = (i: number) => new Date(Date.UTC(2026, 2, 1) + i * 1000).toISOString();

describe('reading comments a raw Yjs client wrote', () => {
  it('lists at most perEvent comments per event: the oldest, in order, the same on every replica', () => {
    const doc = new Y.Doc();
    const id = event(doc);
    const other = event(doc, 'Lunch');
    const n = COMMENT_LIMITS.perEvent * 40; // 20,000
    // Written newest first, so every one of them would displace a kept one if the read were naive.
    doc.transact(() => {
      for (let i = n - 1; i >= 0; i--) put(doc, `c${i}`, { eventId: id, author: 'x', text: `spam ${i}`, at: stamp(i) });
    });
    addComment(doc, other, 'see you there', { actor: 'kid', now: stamp(0) });

    const list = listComments(doc, id);
    expect(list).toHaveLength(COMMENT_LIMITS.perEvent);
    expect(list[0]!.text).toBe('spam 0');
    expect(list.at(-1)!.text).toBe(`spam ${COMMENT_LIMITS.perEvent - 1}`);
    expect(list.map((c) => c.at)).toEqual([...list.map((c) => c.at)].sort());
    // The other event's comments are unaffected.
    expect(listComments(doc, other).map((c) => c.text)).toEqual(['see you there']);

    const replica = new Y.Doc();
    Y.applyUpdate(replica, Y.encodeStateAsUpdate(doc));
    expect(listComments(replica, id)).toEqual(list);

    // A full event takes no more comments from well-behaved writers.
    expect(() => addComment(doc, id, 'one more', { actor: 'mum' })).toThrow(/at most/);
  });

  it('ties on the time are broken by id, so the cut is deterministic', () => {
    const doc = new Y.Doc();
    const id = event(doc);
    const n = COMMENT_LIMITS.perEvent + 10;
    doc.transact(() => {
      for (let i = 0; i < n; i++) put(doc, `k${String(n - i).padStart(4, '0')}`, { eventId: id, author: 'x', text: 't', at: stamp(0) });
    });
    const ids = listComments(doc, id).map((c) => c.id);
    expect(ids).toHaveLength(COMMENT_LIMITS.perEvent);
    expect(ids).toEqual([...ids].sort());
    expect(ids[0]).toBe('k0001');
  });

  it('clips text to the write limit in listComments and getComment', () => {
    const doc = new Y.Doc();
    const id = event(doc);
    put(doc, 'huge', { eventId: id, author: 'x', text: 'H'.repeat(3_000_000), at: stamp(1) });
    const [c] = listComments(doc, id);
    expect(c!.text.length).toBe(COMMENT_LIMITS.text);
    expect(getComment(doc, 'huge')!.text.length).toBe(COMMENT_LIMITS.text);
  });

  it('skips entries with wrong types or ids, authors or times no write could store', () => {
    const doc = new Y.Doc();
    const id = event(doc);
    const ok = { eventId: id, author: 'kid', text: 'fine', at: stamp(1) };
    const long = 'y'.repeat(LIMITS.id + 1);
    doc.transact(() => {
      put(doc, 'good', ok);
      put(doc, long, ok);
      put(doc, 'author-long', { ...ok, author: long });
      put(doc, 'author-empty', { ...ok, author: '' });
      put(doc, 'author-number', { ...ok, author: 7 });
      put(doc, 'text-array', { ...ok, text: ['a'] });
      put(doc, 'at-missing', { ...ok, at: undefined });
      put(doc, 'at-long', { ...ok, at: '2'.repeat(1_000_000) });
      put(doc, 'edited-long', { ...ok, editedAt: 'e'.repeat(1_000) });
      doc.getMap(COMMENTS_ROOT).set('not-a-map', 'string' as never);
    });
    put(doc, 'event-long', { ...ok, eventId: long });
    const list = listComments(doc, id);
    expect(list.map((c) => c.id).sort()).toEqual(['edited-long', 'good']);
    expect(list.find((c) => c.id === 'edited-long')!.editedAt).toBeNull();
    expect(getComment(doc, long)).toBeNull();
    expect(getComment(doc, 'author-long')).toBeNull();
    expect(getComment(doc, 'event-long')).toBeNull();
    expect(getComment(doc, 'not-a-map')).toBeNull();
  });

  it('stays cheap on a flood: 20,000 comments on one event list in well under a second', () => {
    const doc = new Y.Doc();
    const id = event(doc);
    doc.transact(() => {
      for (let i = 0; i < 20_000; i++) put(doc, `c${i}`, { eventId: id, author: 'x', text: 'spam '.repeat(20), at: stamp(20_000 - i) });
    });
    const t0 = performance.now();
    for (let i = 0; i < 5; i++) listComments(doc, id);
    const ms = (performance.now() - t0) / 5;
    expect(ms).toBeLessThan(250);
  });
});
