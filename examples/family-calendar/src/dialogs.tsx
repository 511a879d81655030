/** The smaller dialogs: which occurrences a drag applies to, the trash, and the family (members and invites). */
import type { Calendar, CalendarEvent, Invite, InviteSummary, Member, Role } from '@kith/client';
import { useEffect, useState } from 'preact/hooks';
import { memberColor } from './colors.js';
import type { Scope } from './edits.js';
import { describeError, kith } from './store.js';
import { describeSpan } from './times.js';
import { ErrorMessage, Modal } from './ui.js';

/** "This event / This and following / All events" for a change to a repeating event (drag, Save, Delete). */
export function ScopeDialog(props: { what: string; title?: string; allowThis: boolean; onChoose: (scope: Scope | null) => void }) {
  const [scope, setScope] = useState<Scope>(props.allowThis ? 'this' : 'following');
  return (
    <Modal title={props.title ?? 'Change a repeating event'} onClose={() => props.onChoose(null)} id="scope-dialog">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          props.onChoose(scope);
        }}
      >
        <p>{props.what}</p>
        <fieldset class="scope">
          <legend>Apply to</legend>
          {(
            [
              ['this', 'This event'],
              ['following', 'This and following events'],
              ['all', 'All events'],
            ] as const
          ).map(([v, text]) => (
            <label class="check" key={v}>
              <input type="radio" name="drag-scope" value={v} checked={scope === v} disabled={v === 'this' && !props.allowThis} onChange={() => setScope(v)} /> {text}
            </label>
          ))}
        </fieldset>
        <footer class="modal-foot">
          <span class="spacer" />
          <button type="button" onClick={() => props.onChoose(null)}>
            Cancel
          </button>
          <button type="submit" class="primary">
            OK
          </button>
        </footer>
      </form>
    </Modal>
  );
}

/** Deleted events, newest first, with restore. */
export function TrashDialog(props: { cal: Calendar; canEdit: boolean; members: Member[]; onClose: () => void; onRestored: (title: string) => void }) {
  const [items, setItems] = useState<CalendarEvent[]>(() => props.cal.listTrash());
  useEffect(() => props.cal.on('change', () => setItems(props.cal.listTrash())), []);
  const name = (id: string) => props.members.find((m) => m.userId === id)?.username ?? 'a former member';
  const sorted = [...items].sort((a, b) => (b.deleted?.at ?? '').localeCompare(a.deleted?.at ?? ''));
  return (
    <Modal title="Trash" onClose={props.onClose} id="trash-dialog">
      {sorted.length === 0 ? (
        <p class="empty">The trash is empty.</p>
      ) : (
        <ul class="trash-list" aria-label="Deleted events">
          {sorted.map((ev) => (
            <li key={ev.id}>
              <div>
                <strong>{ev.title || 'Untitled'}</strong>
                <span class="hint">
                  {span(ev)}
                  {ev.deleted ? ` · deleted by ${name(ev.deleted.by)}` : ''}
                </span>
              </div>
              {props.canEdit && (
                <button
                  type="button"
                  aria-label={`Restore ${ev.title || 'Untitled'}`}
                  onClick={() => {
                    props.cal.restoreEvent(ev.id);
                    props.onRestored(ev.title);
                  }}
                >
                  Restore
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
      <p class="hint">Deleted events stay here until someone restores them.</p>
    </Modal>
  );
}

function span(ev: CalendarEvent): string {
  try {
    return describeSpan(ev.start, ev.end);
  } catch {
    return ev.start;
  }
}

const ROLE_TEXT: Record<Role, string> = { owner: 'Owner', editor: 'Can edit', viewer: 'Can view' };

/** Members with their colours and roles; the owner invites people and changes roles. */
export function FamilyDialog(props: {
  roomId: string;
  roomName: string;
  me: string;
  role: Role;
  members: Member[];
  onMembers: (members: Member[]) => void;
  onClose: () => void;
}) {
  const owner = props.role === 'owner';
  const [inviteRole, setInviteRole] = useState<Role>('editor');
  const [days, setDays] = useState('7');
  const [invite, setInvite] = useState<Invite | null>(null);
  const [invites, setInvites] = useState<InviteSummary[]>([]);
  const [copied, setCopied] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function refresh() {
    const room = await kith.rooms.get(props.roomId);
    props.onMembers(room.members);
  }

  /** The owner's view of the links that are out there, so that one can be withdrawn. */
  async function loadInvites() {
    if (!owner) return;
    try {
      setInvites((await kith.rooms.invites(props.roomId)).filter((i) => i.usable));
    } catch {
      /* offline: the list simply stays as it was */
    }
  }
  useEffect(() => void loadInvites(), [props.roomId, owner]);

  async function revoke(i: InviteSummary) {
    setError(null);
    try {
      await kith.rooms.revokeInvite(props.roomId, i.inviteId);
      if (invite?.inviteId === i.inviteId) setInvite(null);
      await loadInvites();
    } catch (err) {
      setError(describeError(err));
    }
  }

  async function createInvite(e: Event) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setCopied(false);
    try {
      setInvite(await kith.rooms.invite(props.roomId, { role: inviteRole, expiresInHours: Number(days) * 24 }));
      await loadInvites();
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  }

  async function copy() {
    if (!invite) return;
    try {
      await navigator.clipboard.writeText(invite.url);
      setCopied(true);
    } catch {
      const input = document.getElementById('invite-url') as HTMLInputElement | null;
      input?.select();
      setError('Copying is not allowed here: the link is selected, copy it with Ctrl+C (⌘C).');
    }
  }

  async function setRole(m: Member, role: Role) {
    setError(null);
    try {
      await kith.rooms.setRole(props.roomId, m.userId, role);
      await refresh();
    } catch (err) {
      setError(describeError(err));
    }
  }

  async function remove(m: Member) {
    setError(null);
    try {
      await kith.rooms.removeMember(props.roomId, m.userId);
      await refresh();
    } catch (err) {
      setError(describeError(err));
    }
  }

  return (
    <Modal title={`Family · ${props.roomName}`} onClose={props.onClose} id="family-dialog">
      <ul class="member-list" aria-label="Members">
        {props.members.map((m, i) => (
          <li key={m.userId}>
            <span class="swatch big" style={{ background: memberColor(i) }} aria-hidden="true" />
            <span class="member-name">
              {m.username}
              {m.userId === props.me ? ' (me)' : ''}
            </span>
            {owner && m.userId !== props.me ? (
              <>
                <label class="sr-only" for={`role-${m.userId}`}>
                  Role of {m.username}
                </label>
                <select id={`role-${m.userId}`} value={m.role} onChange={(e) => void setRole(m, e.currentTarget.value as Role)}>
                  <option value="owner">Owner</option>
                  <option value="editor">Can edit</option>
                  <option value="viewer">Can view</option>
                </select>
                <button type="button" aria-label={`Remove ${m.username}`} onClick={() => void remove(m)}>
                  Remove
                </button>
              </>
            ) : (
              <span class="role">{ROLE_TEXT[m.role]}</span>
            )}
          </li>
        ))}
      </ul>
      {owner ? (
        <form onSubmit={createInvite} class="invite-form">
          <h3>Invite someone</h3>
          <div class="row">
            <label>
              They can
              <select name="invite-role" value={inviteRole} onChange={(e) => setInviteRole(e.currentTarget.value as Role)}>
                <option value="editor">Edit events</option>
                <option value="viewer">Only view</option>
                <option value="owner">Manage the calendar</option>
              </select>
            </label>
            <label>
              Link works for
              <select name="invite-expiry" value={days} onChange={(e) => setDays(e.currentTarget.value)}>
                <option value="1">1 day</option>
                <option value="7">7 days</option>
                <option value="30">30 days</option>
              </select>
            </label>
          </div>
          <button type="submit" class="primary" disabled={busy}>
            Create invite link
          </button>
          {invite && (
            <div class="invite-result">
              <label class="wide">
                Invite link
                <input id="invite-url" name="invite-url" readOnly value={invite.url} onFocus={(e) => e.currentTarget.select()} />
              </label>
              <button type="button" onClick={() => void copy()}>
                {copied ? 'Copied' : 'Copy link'}
              </button>
              <p class="hint">Send it to the person you invite; they open it, sign in or create an account, and join.</p>
            </div>
          )}
        </form>
      ) : (
        <p class="hint">Only the calendar’s owners can invite people.</p>
      )}
      {owner && invites.length > 0 && (
        <section class="invite-links">
          <h3>Open invite links</h3>
          <ul aria-label="Open invites">
            {invites.map((i) => (
              <li key={i.inviteId}>
                <span>
                  {ROLE_TEXT[i.role]} · {i.uses} of {i.maxUses ?? '∞'} used
                  {i.expiresAt ? ` · until ${new Date(i.expiresAt).toLocaleDateString()}` : ''}
                </span>
                <button type="button" onClick={() => void revoke(i)} aria-label={`Revoke (${ROLE_TEXT[i.role]}, ${i.uses} used)`}>
                  Revoke
                </button>
              </li>
            ))}
          </ul>
          <p class="hint">A revoked link stops working at once. Removing someone also stops every link made before.</p>
        </section>
      )}
      <ErrorMessage error={error} />
    </Modal>
  );
}
