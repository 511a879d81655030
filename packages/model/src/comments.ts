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
import { eventsMap } from './schema.js';
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

function read(id: string, m: Y.Map<unknown>): EventComment | null {
  const eventId = m.get('eventId');
  const author = m.get('author');
  const text = m.get('text');
  const at = m.get('at');
  const editedAt = m.get('editedAt');
  if (typeof eventId !== 'string' || typeof author !== 'string' || typeof text !== 'string' || typeof at !== 'string') return null;
  return { id, eventId, author, text, at, editedAt: typeof editedAt === 'string' ? editedAt : null };
}

/** The event's comments, oldest first. */
export function listComments(doc: Y.Doc, eventId: string): EventComment[] {
  const out: EventComment[] = [];
  for (const [id, m] of commentsMap(doc)) {
    if (!(m instanceof Y.Map)) continue;
    const c = read(id, m);
    if (c && c.eventId === eventId) out.push(c);
  }
  return out.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : a.id < b.id ? -1 : 1));
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
