/** Comments on events: in the room document, merged across replicas, changed only by their author. */
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { addComment, COMMENT_LIMITS, createEvent, deleteComment, editComment, listComments, ModelError } from '../src/index.js';

const event = (doc: Y.Doc) => createEvent(doc, { title: 'Recital', start: '2026-06-05T18:00', end: '2026-06-05T19:00', tz: 'UTC' }, { actor: 'mum' });

describe('comments', () => {
  it('two replicas commenting at once keep both comments, oldest first', () => {
    const a = new Y.Doc();
    const id = event(a);
    const b = new Y.Doc();
    Y.applyUpdate(b, Y.encodeStateAsUpdate(a));
    addComment(a, id, 'first', { actor: 'mum', now: '2026-06-01T10:00:00Z' });
    addComment(b, id, 'second', { actor: 'kid', now: '2026-06-01T10:00:01Z' });
    Y.applyUpdate(a, Y.encodeStateAsUpdate(b));
    Y.applyUpdate(b, Y.encodeStateAsUpdate(a));
    expect(listComments(a, id).map((c) => [c.author, c.text])).toEqual([
      ['mum', 'first'],
      ['kid', 'second'],
    ]);
    expect(listComments(b, id)).toEqual(listComments(a, id));
  });

  it('only the author edits or deletes; text is checked before anything is written', () => {
    const doc = new Y.Doc();
    const id = event(doc);
    const c = addComment(doc, id, 'hello', { actor: 'kid' });
    const code = (fn: () => unknown) => {
      try {
        fn();
      } catch (err) {
        return (err as ModelError).code;
      }
      return 'ok';
    };
    expect(code(() => editComment(doc, c.id, 'hijacked', { actor: 'dad' }))).toBe('NOT_AUTHOR');
    expect(code(() => deleteComment(doc, c.id, { actor: 'dad' }))).toBe('NOT_AUTHOR');
    expect(code(() => addComment(doc, id, 'x'.repeat(COMMENT_LIMITS.text + 1), { actor: 'dad' }))).toBe('FIELD_TOO_LONG');
    expect(code(() => addComment(doc, id, '  ', { actor: 'dad' }))).toBe('INVALID_INPUT');
    expect(code(() => addComment(doc, 'no-such-event', 'hi', { actor: 'dad' }))).toBe('EVENT_NOT_FOUND');
    expect(code(() => deleteComment(doc, 'no-such-comment', { actor: 'kid' }))).toBe('COMMENT_NOT_FOUND');
    expect(listComments(doc, id).map((x) => x.text)).toEqual(['hello']);
    expect(editComment(doc, c.id, 'hello again', { actor: 'kid', now: '2026-06-02T00:00:00Z' }).editedAt).toBe('2026-06-02T00:00:00Z');
    deleteComment(doc, c.id, { actor: 'kid' });
    expect(listComments(doc, id)).toEqual([]);
  });
});
