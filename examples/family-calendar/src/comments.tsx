/**
 * Comments under an event: who wrote what, when (in the viewer's display zone). They are read
 * from the room document, so they update live; they are written through REST, which is how
 * viewers comment too (they cannot write over the sync socket). Only the author edits or deletes.
 */
import type { Calendar, Member } from '@kith/client';
import { listComments, type EventComment } from '@kith/model';
import { useEffect, useState } from 'preact/hooks';
import { describeError, kith } from './store.js';
import { ErrorMessage } from './ui.js';

/** The model's limit on one comment (COMMENT_LIMITS.text). */
const MAX_TEXT = 2000;

function useComments(cal: Calendar, eventId: string): EventComment[] {
  const [list, setList] = useState(() => listComments(cal.doc, eventId));
  useEffect(() => {
    const map = cal.doc.getMap('comments');
    const update = () => setList(listComments(cal.doc, eventId));
    map.observeDeep(update);
    update();
    return () => map.unobserveDeep(update);
  }, [cal, eventId]);
  return list;
}

export function Comments(props: { cal: Calendar; eventId: string; me: string; members: Member[]; displayZone: string }) {
  const comments = useComments(props.cal, props.eventId);
  const [text, setText] = useState('');
  const [editing, setEditing] = useState<{ id: string; text: string } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const base = `/rooms/${encodeURIComponent(props.cal.roomId)}/events/${encodeURIComponent(props.eventId)}/comments`;
  const name = (id: string) => (id === props.me ? 'You' : (props.members.find((m) => m.userId === id)?.username ?? 'A former member'));
  const when = (iso: string) => {
    try {
      return new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short', timeZone: props.displayZone }).format(new Date(iso));
    } catch {
      return new Date(iso).toLocaleString();
    }
  };

  async function run(step: () => Promise<unknown>): Promise<boolean> {
    setBusy(true);
    setError(null);
    try {
      await step();
      return true;
    } catch (err) {
      setError(describeError(err));
      return false;
    } finally {
      setBusy(false);
    }
  }

  async function add(e: Event) {
    e.preventDefault();
    if (await run(() => kith.request('POST', base, { text: text.trim() }))) setText('');
  }

  async function saveEdit(e: Event) {
    e.preventDefault();
    const c = editing!;
    if (await run(() => kith.request('PATCH', `${base}/${encodeURIComponent(c.id)}`, { text: c.text.trim() }))) setEditing(null);
  }

  return (
    <section class="comments" aria-labelledby="comments-heading">
      <h3 id="comments-heading">Comments</h3>
      {comments.length === 0 && <p class="hint">No comments yet.</p>}
      <ul class="comment-list" aria-label="Comments">
        {comments.map((c) => (
          <li key={c.id} class="comment">
            <p class="comment-meta">
              <strong>{name(c.author)}</strong> <time dateTime={c.at}>{when(c.at)}</time>
              {c.editedAt && <span class="hint"> · edited</span>}
            </p>
            {editing?.id === c.id ? (
              <form onSubmit={saveEdit} class="comment-edit">
                <label class="wide">
                  <span class="sr-only">Edit comment</span>
                  <textarea rows={2} maxLength={MAX_TEXT} value={editing.text} onInput={(e) => setEditing({ id: c.id, text: e.currentTarget.value })} />
                </label>
                <button type="submit" class="primary" disabled={busy || !editing.text.trim()}>
                  Save comment
                </button>
                <button type="button" onClick={() => setEditing(null)}>
                  Cancel
                </button>
              </form>
            ) : (
              <p class="comment-text">{c.text}</p>
            )}
            {c.author === props.me && editing?.id !== c.id && (
              <p class="comment-actions">
                <button type="button" class="link" onClick={() => setEditing({ id: c.id, text: c.text })}>
                  Edit
                </button>{' '}
                <button type="button" class="link" onClick={() => void run(() => kith.request('DELETE', `${base}/${encodeURIComponent(c.id)}`))}>
                  Delete
                </button>
              </p>
            )}
          </li>
        ))}
      </ul>
      <form onSubmit={add} class="comment-add">
        <label class="wide">
          Add a comment
          <textarea name="comment" rows={2} maxLength={MAX_TEXT} value={text} onInput={(e) => setText(e.currentTarget.value)} />
        </label>
        <button type="submit" disabled={busy || !text.trim()}>
          Post comment
        </button>
      </form>
      <ErrorMessage error={error} />
    </section>
  );
}
