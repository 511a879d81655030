/**
 * The account's email address for notifications and password resets: add it, type the 6-digit
 * code the server mailed, or remove it (/users/me/email). Hidden text when the server sends no mail.
 */
import { KithApiError } from '@kith/client';
import { useEffect, useState } from 'preact/hooks';
import { describeError, kith } from './store.js';
import { FormMessages } from './ui.js';

interface EmailState {
  address: string | null;
  verified: boolean;
  unsubscribed: boolean;
  pendingAddress: string | null;
}

export function EmailSetup() {
  const [state, setState] = useState<EmailState | null>(null);
  const [unavailable, setUnavailable] = useState(false);
  const [address, setAddress] = useState('');
  const [code, setCode] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [status, setStatus] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function load() {
    try {
      setState(await kith.request<EmailState>('GET', '/users/me/email'));
    } catch (err) {
      if (err instanceof KithApiError && (err.code === 'EMAIL_NOT_CONFIGURED' || err.status === 404)) setUnavailable(true);
      else setError(describeError(err));
    }
  }
  useEffect(() => void load(), []);

  async function run(step: () => Promise<unknown>, done: string) {
    setBusy(true);
    setError(null);
    setStatus(null);
    try {
      await step();
      setStatus(done);
      await load();
    } catch (err) {
      setError(err instanceof KithApiError && err.code === 'EMAIL_CODE_INVALID' ? 'That code is not right, or it has expired. Ask for a new one.' : describeError(err));
    } finally {
      setBusy(false);
    }
  }

  const send = (e: Event) => {
    e.preventDefault();
    void run(() => kith.request('POST', '/users/me/email', { address: address.trim() }), `We sent a code to ${address.trim()}.`).then(() => setAddress(''));
  };
  const verify = (e: Event) => {
    e.preventDefault();
    void run(() => kith.request('POST', '/users/me/email/verify', { code: code.trim() }), 'Your email address is verified.').then(() => setCode(''));
  };

  return (
    <section aria-labelledby="email-heading" class="email-setup">
      <h3 id="email-heading">Email</h3>
      {unavailable ? (
        <p class="hint">This server does not send email.</p>
      ) : (
        <>
          {state?.address && (
            <p class="hint" data-email-state={state.verified ? 'verified' : 'unverified'}>
              {state.address} · {state.verified ? 'verified' : 'not verified'}
              {state.unsubscribed ? ' · unsubscribed from notification mails' : ''}{' '}
              <button type="button" class="link" disabled={busy} onClick={() => void run(() => kith.request('DELETE', '/users/me/email'), 'Email address removed.')}>
                Remove
              </button>
            </p>
          )}
          {state?.pendingAddress ? (
            <form onSubmit={verify} class="inline-form">
              <label>
                Code sent to {state.pendingAddress}
                <input name="email-code" inputMode="numeric" autoComplete="one-time-code" pattern="[0-9]{6}" maxLength={6} required value={code} onInput={(e) => setCode(e.currentTarget.value)} />
              </label>
              <button type="submit" class="primary" disabled={busy || code.trim().length !== 6}>
                Verify
              </button>
            </form>
          ) : (
            <form onSubmit={send} class="inline-form">
              <label>
                {state?.address ? 'New email address' : 'Email address'}
                <input type="email" name="email-address" autoComplete="email" maxLength={254} required value={address} onInput={(e) => setAddress(e.currentTarget.value)} />
              </label>
              <button type="submit" class="primary" disabled={busy || !address.trim()}>
                Send code
              </button>
            </form>
          )}
        </>
      )}
      <FormMessages status={status} error={error} />
    </section>
  );
}
