/** Sign in and sign up. */
import type { User } from '@kith/client';
import { useState } from 'preact/hooks';
import { describeError, kith } from './store.js';

export function AuthScreen(props: { notice?: string | undefined; onSignedIn: (user: User) => void }) {
  const [mode, setMode] = useState<'signin' | 'signup'>('signin');
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: Event) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      if (mode === 'signup') await kith.register(username.trim(), password);
      const user = await kith.login(username.trim(), password);
      props.onSignedIn(user);
    } catch (err) {
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
        {props.notice && !error && (
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
          {error && (
            <p class="error" role="alert">
              {error}
            </p>
          )}
          <button class="primary" type="submit" disabled={busy}>
            {busy ? 'Please wait…' : signup ? 'Create account' : 'Sign in'}
          </button>
        </form>
      </div>
    </main>
  );
}
