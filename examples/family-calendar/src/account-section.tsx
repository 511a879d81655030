/**
 * My account as a whole: download everything (GET /users/me/export, each calendar as .ics plus
 * its data as JSON) and delete the account (DELETE /users/me) after the password, deciding for
 * each calendar I alone own whether it is deleted or handed to another member.
 */
import type { Member, RoomSummary, User } from '@kith/client';
import { useState } from 'preact/hooks';
import { describeError, kith } from './store.js';
import { ErrorMessage } from './ui.js';

interface SoleRoom {
  room: RoomSummary;
  others: Member[];
}

/** The calendars only I own, with the members one could hand them to. */
async function soleOwned(me: string): Promise<SoleRoom[]> {
  const out: SoleRoom[] = [];
  for (const room of await kith.rooms.list()) {
    if (room.role !== 'owner') continue;
    const { members } = await kith.rooms.get(room.roomId);
    if (members.filter((m) => m.role === 'owner').length === 1) out.push({ room, others: members.filter((m) => m.userId !== me) });
  }
  return out;
}

export function AccountSection(props: { user: User; onDeleted: () => void }) {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [deleting, setDeleting] = useState<SoleRoom[] | null>(null);
  const [choice, setChoice] = useState<Record<string, string>>({});
  const [password, setPassword] = useState('');

  async function download() {
    setError(null);
    setBusy(true);
    try {
      const data = await kith.request<{ exportedAt: string }>('GET', '/users/me/export');
      const a = document.createElement('a');
      a.href = URL.createObjectURL(new Blob([JSON.stringify(data, null, 2)], { type: 'application/json' }));
      a.download = `kith-export-${props.user.username}-${data.exportedAt.slice(0, 10)}.json`;
      a.click();
      setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  }

  async function startDelete() {
    setError(null);
    setBusy(true);
    try {
      setDeleting(await soleOwned(props.user.userId));
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  }

  async function confirmDelete(e: Event) {
    e.preventDefault();
    setError(null);
    setBusy(true);
    try {
      const soleOwnedRooms = deleting!.map(({ room }) => {
        const to = choice[room.roomId] ?? 'delete';
        return to === 'delete' ? { roomId: room.roomId, action: 'delete' as const } : { roomId: room.roomId, action: 'hand-over' as const, to };
      });
      await kith.request('DELETE', '/users/me', { password, soleOwnedRooms });
      props.onDeleted();
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <section aria-labelledby="account-heading" class="account-section">
      <h3 id="account-heading">My account</h3>
      <p>
        <button type="button" disabled={busy} onClick={() => void download()}>
          Download my data
        </button>{' '}
        <span class="hint">Every calendar you are in, as calendar files and data (JSON).</span>
      </p>
      {!deleting ? (
        <button type="button" class="danger" disabled={busy} onClick={() => void startDelete()}>
          Delete my account…
        </button>
      ) : (
        <form onSubmit={confirmDelete} class="delete-account">
          <p class="notice">Your account is deleted at once. You leave every calendar; what you added stays in them.</p>
          {deleting.map(({ room, others }) => (
            <label key={room.roomId}>
              You alone own “{room.name}”
              <select name={`sole-${room.roomId}`} value={choice[room.roomId] ?? 'delete'} onChange={(e) => setChoice({ ...choice, [room.roomId]: e.currentTarget.value })}>
                <option value="delete">Delete it, for everyone</option>
                {others.map((m) => (
                  <option key={m.userId} value={m.userId}>
                    Hand it to {m.username}
                  </option>
                ))}
              </select>
            </label>
          ))}
          <label>
            Your password
            <input type="password" name="delete-password" autoComplete="current-password" required maxLength={1024} value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
          </label>
          <div class="row">
            <button type="button" onClick={() => setDeleting(null)}>
              Keep my account
            </button>
            <button type="submit" class="danger" disabled={busy || !password}>
              Delete my account
            </button>
          </div>
        </form>
      )}
      <ErrorMessage error={error} />
    </section>
  );
}
