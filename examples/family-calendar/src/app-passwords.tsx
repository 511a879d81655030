/**
 * CalDAV app passwords, one per device: made here, shown once with what to type on the phone
 * (server address, username), listed by label, revoked one by one.
 */
import type { User } from '@kith/client';
import { KithApiError } from '@kith/client';
import { useEffect, useState } from 'preact/hooks';
import { CopyField } from './copy-field.js';
import { describeError, kith } from './store.js';
import { ErrorMessage } from './ui.js';

interface AppPassword {
  id: string;
  label: string;
  createdAt: number;
  lastUsedAt?: number | null;
}

export function AppPasswords(props: { user: User }) {
  const [list, setList] = useState<AppPassword[] | null>(null);
  const [unavailable, setUnavailable] = useState(false);
  const [label, setLabel] = useState('');
  const [created, setCreated] = useState<(AppPassword & { password: string }) | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function load() {
    try {
      setList((await kith.request<{ appPasswords: AppPassword[] }>('GET', '/users/me/app-passwords')).appPasswords);
    } catch (err) {
      // The server runs without its CalDAV module: there is nothing to set up.
      if (err instanceof KithApiError && err.status === 404) setUnavailable(true);
      else setError(describeError(err));
    }
  }
  useEffect(() => void load(), []);

  async function create(e: Event) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      setCreated(await kith.request<AppPassword & { password: string }>('POST', '/users/me/app-passwords', { label: label.trim() }));
      setLabel('');
      await load();
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  }

  async function revoke(p: AppPassword) {
    setError(null);
    try {
      await kith.request('DELETE', `/users/me/app-passwords/${encodeURIComponent(p.id)}`);
      if (created?.id === p.id) setCreated(null);
      await load();
    } catch (err) {
      setError(describeError(err));
    }
  }

  if (unavailable) return null;
  return (
    <section aria-labelledby="caldav-heading" class="app-passwords">
      <h3 id="caldav-heading">Phone and desktop calendar apps (CalDAV)</h3>
      <p class="hint">Give each device its own app password, so that one lost phone can be shut out without changing the others.</p>
      <form onSubmit={create} class="inline-form">
        <label>
          Device name
          <input name="app-password-label" required maxLength={100} placeholder="Anna’s iPhone" value={label} onInput={(e) => setLabel(e.currentTarget.value)} />
        </label>
        <button type="submit" class="primary" disabled={busy || !label.trim()}>
          Create app password
        </button>
      </form>
      {created && (
        <div class="app-password-created" role="status">
          <p>
            <strong>Type these on “{created.label}”.</strong> The password is shown only now.
          </p>
          <CopyField id="caldav-server" label="Server" value={`${location.origin}/dav/`} />
          <CopyField id="caldav-username" label="Username" value={props.user.username} />
          <CopyField id="caldav-password" label="App password" value={created.password} />
        </div>
      )}
      {list && list.length > 0 && (
        <ul class="app-password-list" aria-label="App passwords">
          {list.map((p) => (
            <li key={p.id}>
              <span>
                <strong>{p.label}</strong>{' '}
                <span class="hint">
                  made {new Date(p.createdAt).toLocaleDateString()}
                  {p.lastUsedAt ? ` · last used ${new Date(p.lastUsedAt).toLocaleDateString()}` : ' · not used yet'}
                </span>
              </span>
              <button type="button" aria-label={`Revoke ${p.label}`} onClick={() => void revoke(p)}>
                Revoke
              </button>
            </li>
          ))}
        </ul>
      )}
      {list && list.length === 0 && !created && <p class="hint">No app passwords yet.</p>}
      <ErrorMessage error={error} />
    </section>
  );
}
