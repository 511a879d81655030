/**
 * Comments on events ("communication within the group"), in the room's document so they sync and
 * work offline like everything else:
 *
 *   comments: Y.Map<commentId, Y.Map { eventId, author, text, at, editedAt }>
 *
 * One flat map keyed by a random id (not a list per event), so two devices adding comments at once
 * never race to create a nested type. Only a comment's author edits or deletes it.
 */
import * as Y from 'yjs';
import { ModelError, tooLong } from './errors.js';
import { eventsMap, LIMITS } from './schema.js';
import type { MemberId, OpContext } from './types.js';
import { newId } from './validate.js';

export const COMMENTS_ROOT = 'comments';

export const COMMENT_LIMITS = {
  /** Characters of one comment. */
  text: 2_000,
  /** Comments on one event. */
  perEvent: 500,
} as const;

export interface EventComment {
  id: string;
  eventId: string;
  author: MemberId;
  text: string;
  /** Instant (RFC 3339, UTC). */
  at: string;
  editedAt: string | null;
}

function commentsMap(doc: Y.Doc): Y.Map<Y.Map<unknown>> {
  return doc.getMap<Y.Map<unknown>>(COMMENTS_ROOT);
}

function checkText(value: unknown): string {
  if (typeof value !== 'string') throw new ModelError('INVALID_INPUT', 'text must be a string', 'text');
  const trimmed = value.trim();
  if (trimmed.length === 0) throw new ModelError('INVALID_INPUT', 'text must not be empty', 'text');
  if (value.length > COMMENT_LIMITS.text) throw tooLong('text', value.length, COMMENT_LIMITS.text);
  return value;
}

/** Longest `at`/`editedAt` a read accepts (an RFC 3339 instant is ~24 characters). */
const STAMP_MAX = 64;

/**
 * One comment as written by anyone (a raw Yjs client can store any value): null when a field has
 * the wrong type or an id, author or time no write could store; the text is clipped to the limit.
 */
function read(id: string, m: Y.Map<unknown>, eventId?: string): EventComment | null {
  if (id.length === 0 || id.length > LIMITS.id) return null;
  const ev = m.get('eventId');
  if (typeof ev !== 'string' || (eventId !== undefined ? ev !== eventId : ev.length === 0 || ev.length > LIMITS.id)) return null;
  const author = m.get('author');
  const text = m.get('text');
  const at = m.get('at');
  const editedAt = m.get('editedAt');
  if (typeof author !== 'string' || author.length === 0 || author.length > LIMITS.id) return null;
  if (typeof text !== 'string' || typeof at !== 'string' || at.length === 0 || at.length > STAMP_MAX) return null;
  return {
    id,
    eventId: ev,
    author,
    text: text.length > COMMENT_LIMITS.text ? text.slice(0, COMMENT_LIMITS.text) : text,
    at,
    editedAt: typeof editedAt === 'string' && editedAt.length <= STAMP_MAX ? editedAt : null,
  };
}

/** Oldest first: by `at`, then by id (so every replica orders, and caps, alike). */
const before = (a: EventComment, b: EventComment): boolean => a.at < b.at || (a.at === b.at && a.id < b.id);

/**
 * The event's comments, oldest first: at most COMMENT_LIMITS.perEvent, the oldest ones (what the
 * write limit would have kept had every writer obeyed it), each text at most COMMENT_LIMITS.text
 * characters. Entries no write could store are left out. Cost: one pass over the comments map,
 * keeping only the best `perEvent` candidates (a bounded max-heap), so a flood of comments on
 * one event neither builds a huge answer nor a huge intermediate list.
 */
export function listComments(doc: Y.Doc, eventId: string): EventComment[] {
  const max = COMMENT_LIMITS.perEvent;
  // Max-heap on (at, id): heap[0] is the newest kept comment, the one to drop for an older one.
  const heap: EventComment[] = [];
  for (const [id, m] of commentsMap(doc)) {
    if (!(m instanceof Y.Map)) continue;
    // Cheap filter first: most entries belong to other events.
    if (m.get('eventId') !== eventId) continue;
    if (heap.length === max) {
      // Full: build nothing for a comment newer than every kept one.
      const at = m.get('at');
      const top = heap[0]!;
      if (typeof at !== 'string' || at > top.at || (at === top.at && id >= top.id)) continue;
    }
    const c = read(id, m, eventId);
    if (!c) continue;
    if (heap.length < max) {
      heap.push(c);
      siftUp(heap, heap.length - 1);
    } else if (before(c, heap[0]!)) {
      heap[0] = c;
      siftDown(heap, 0);
    }
  }
  return heap.sort((a, b) => (before(a, b) ? -1 : before(b, a) ? 1 : 0));
}

function siftUp(h: EventComment[], i: number): void {
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (!before(h[parent]!, h[i]!)) return;
    [h[parent], h[i]] = [h[i]!, h[parent]!];
    i = parent;
  }
}

function siftDown(h: EventComment[], i: number): void {
  for (;;) {
    const l = 2 * i + 1;
    const r = l + 1;
    let top = i;
    if (l < h.length && before(h[top]!, h[l]!)) top = l;
    if (r < h.length && before(h[top]!, h[r]!)) top = r;
    if (top === i) return;
    [h[top], h[i]] = [h[i]!, h[top]!];
    i = top;
  }
}

export function getComment(doc: Y.Doc, commentId: string): EventComment | null {
  const m = commentsMap(doc).get(commentId);
  return m instanceof Y.Map ? read(commentId, m) : null;
}

/** Adds a comment by `ctx.actor` to a live event. */
export function addComment(doc: Y.Doc, eventId: string, text: unknown, ctx: OpContext): EventComment {
  const value = checkText(text);
  const ev = eventsMap(doc).get(eventId);
  if (!(ev instanceof Y.Map)) throw new ModelError('EVENT_NOT_FOUND', undefined, 'eventId');
  if (ev.get('deleted')) throw new ModelError('EVENT_DELETED', undefined, 'eventId');
  if (listComments(doc, eventId).length >= COMMENT_LIMITS.perEvent) {
    throw new ModelError('TOO_MANY_ITEMS', `an event takes at most ${COMMENT_LIMITS.perEvent} comments`, 'comments');
  }
  const id = newId();
  const at = ctx.now ?? new Date().toISOString();
  doc.transact(() => {
    const m = new Y.Map<unknown>();
    m.set('eventId', eventId);
    m.set('author', ctx.actor);
    m.set('text', value);
    m.set('at', at);
    commentsMap(doc).set(id, m);
  }, ctx.origin);
  return { id, eventId, author: ctx.actor, text: value, at, editedAt: null };
}

function own(doc: Y.Doc, commentId: string, actor: MemberId): Y.Map<unknown> {
  const m = commentsMap(doc).get(commentId);
  const c = m instanceof Y.Map ? read(commentId, m) : null;
  if (!m || !c) throw new ModelError('COMMENT_NOT_FOUND', undefined, 'commentId');
  if (c.author !== actor) throw new ModelError('NOT_AUTHOR', undefined, 'commentId');
  return m;
}

/** Changes the text of one's own comment. */
export function editComment(doc: Y.Doc, commentId: string, text: unknown, ctx: OpContext): EventComment {
  const value = checkText(text);
  const m = own(doc, commentId, ctx.actor);
  const at = ctx.now ?? new Date().toISOString();
  doc.transact(() => {
    m.set('text', value);
    m.set('editedAt', at);
  }, ctx.origin);
  return read(commentId, m)!;
}

/** Deletes one's own comment. */
export function deleteComment(doc: Y.Doc, commentId: string, ctx: OpContext): void {
  own(doc, commentId, ctx.actor);
  doc.transact(() => commentsMap(doc).delete(commentId), ctx.origin);
}
