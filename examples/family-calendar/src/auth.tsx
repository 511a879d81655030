/** Sign in and sign up. */
import { KithApiError, type RoomSummary, type User } from '@kith/client';
import { useState } from 'preact/hooks';
import { InvitePreview } from './invite-preview.js';
import { describeError, kith } from './store.js';
import { ErrorMessage } from './ui.js';

/** Errors that say the pending invite is dead: signing up again must not carry it. */
const INVITE_REFUSALS = new Set(['INVITE_NOT_FOUND', 'INVITE_EXPIRED', 'INVITE_USED_UP', 'INVITE_REVOKED', 'REMOVED_FROM_ROOM']);

export function AuthScreen(props: {
  notice?: string | undefined;
  /** The invite this page was opened with: signing up carries it (and joins its room at once). */
  invite?: string | undefined;
  onInviteRefused?: () => void;
  onSignedIn: (user: User, joined?: RoomSummary) => void;
}) {
  const [mode, setMode] = useState<'signin' | 'signup'>('signin');
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  // The link this page opened with, kept when the pending invite is dropped (so its refusal stays on screen).
  const [invite] = useState(props.invite);
  const [inviteOk, setInviteOk] = useState(true);

  async function submit(e: Event) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      let joined: RoomSummary | undefined;
      if (mode === 'signup') {
        const registered = await kith.register(username.trim(), password, invite && inviteOk ? { invite } : {});
        joined = registered.room;
      }
      const user = await kith.login(username.trim(), password);
      props.onSignedIn(user, joined);
    } catch (err) {
      if (err instanceof KithApiError && INVITE_REFUSALS.has(err.code)) props.onInviteRefused?.();
      setError(describeError(err));
      setBusy(false);
    }
  }

  const signup = mode === 'signup';
  return (
    <main class="auth">
      <div class="auth-card">
        <h1 class="brand">
          <img src="/icon.svg" alt="" width="40" height="40" /> Kith
        </h1>
        <p class="tagline">The family calendar that works offline.</p>
        {invite && (
          <InvitePreview
            code={invite}
            onRefused={() => {
              setInviteOk(false);
              props.onInviteRefused?.();
            }}
          />
        )}
        {props.notice && !error && !invite && (
          <p class="notice" role="status">
            {props.notice}
          </p>
        )}
        <div class="tabs" role="tablist" aria-label="Account">
          <button type="button" role="tab" aria-selected={!signup} onClick={() => (setMode('signin'), setError(null))}>
            Sign in
          </button>
          <button type="button" role="tab" aria-selected={signup} onClick={() => (setMode('signup'), setError(null))}>
            Create account
          </button>
        </div>
        <form onSubmit={submit} aria-label={signup ? 'Create account' : 'Sign in'}>
          <label>
            Username
            <input
              name="username"
              autocomplete="username"
              required
              minLength={signup ? 3 : 1}
              maxLength={signup ? 32 : 64}
              pattern={signup ? '[A-Za-z0-9_.\\-]+' : undefined}
              title={signup ? '3 to 32 letters, digits, dots, dashes or underscores' : undefined}
              value={username}
              onInput={(e) => setUsername(e.currentTarget.value)}
            />
          </label>
          {signup && <p class="hint">3–32 letters, digits, “.”, “-” or “_”.</p>}
          <label>
            Password
            <input
              name="password"
              type="password"
              autocomplete={signup ? 'new-password' : 'current-password'}
              required
              minLength={signup ? 8 : 1}
              value={password}
              onInput={(e) => setPassword(e.currentTarget.value)}
            />
          </label>
          {signup && <p class="hint">At least 8 characters.</p>}
          <ErrorMessage error={error} />
          <button class="primary" type="submit" disabled={busy}>
            {busy ? 'Please wait…' : signup ? 'Create account' : 'Sign in'}
          </button>
        </form>
      </div>
    </main>
  );
}
