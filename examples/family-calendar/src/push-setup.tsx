/**
 * Web Push on this device: asks the browser's permission, subscribes with the server's VAPID key
 * and hands the subscription to the server (POST /users/me/push-subscriptions); turns it off
 * again. Says plainly why it cannot when notifications are blocked, push is not supported, or on
 * an iPhone/iPad where Safari only allows push for apps added to the Home Screen.
 */
import { useEffect, useState } from 'preact/hooks';
import { describeError, kith } from './store.js';

export type PushState = 'checking' | 'unsupported' | 'ios-not-installed' | 'denied' | 'off' | 'on';

/** iOS and iPadOS (an iPad says "Macintosh" but has a touch screen). */
function isIos(): boolean {
  return /iPhone|iPad|iPod/.test(navigator.userAgent) || (/Macintosh/.test(navigator.userAgent) && navigator.maxTouchPoints > 1);
}

function installed(): boolean {
  return matchMedia('(display-mode: standalone)').matches || (navigator as { standalone?: boolean }).standalone === true;
}

export async function pushState(): Promise<PushState> {
  // Safari on iOS has no PushManager until the app is on the Home Screen: say that, not "unsupported".
  if (isIos() && !installed()) return 'ios-not-installed';
  if (!('serviceWorker' in navigator) || typeof PushManager === 'undefined' || typeof Notification === 'undefined') return 'unsupported';
  if (Notification.permission === 'denied') return 'denied';
  const reg = await navigator.serviceWorker.getRegistration();
  const sub = await reg?.pushManager.getSubscription().catch(() => null);
  return sub ? 'on' : 'off';
}

function keyBytes(base64url: string): Uint8Array {
  const b64 = base64url.replace(/-/g, '+').replace(/_/g, '/');
  const raw = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}

const SUBSCRIBE_TIMEOUT_MS = 20_000;
const NO_ANSWER = 'The browser’s push service did not answer. Check your connection and try again.';

const TEXT: Record<Exclude<PushState, 'checking'>, string> = {
  unsupported: 'This browser cannot receive push notifications. You can still get reminders by email, or while Kith is open.',
  'ios-not-installed':
    'On iPhone and iPad, add Kith to your Home Screen first (Share, then “Add to Home Screen”), open it from there, and turn on notifications in its Settings.',
  denied: 'Notifications are blocked for this site. Allow them in your browser’s site settings, then come back here.',
  off: 'Reminders and news from your calendars appear on this device even when Kith is closed.',
  on: 'Push notifications are on for this device.',
};

export function PushSetup() {
  const [state, setState] = useState<PushState>('checking');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => void pushState().then(setState), []);

  async function turnOn() {
    setBusy(true);
    setError(null);
    try {
      const permission = await Notification.requestPermission();
      if (permission !== 'granted') {
        setState(permission === 'denied' ? 'denied' : 'off');
        return;
      }
      const reg = await navigator.serviceWorker.ready;
      const { publicKey } = await kith.request<{ publicKey: string }>('GET', '/push/vapid-public-key');
      // Without a way to its push service (offline, blocked network) the browser may never answer.
      const sub = await Promise.race([
        reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(publicKey) as BufferSource }),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error(NO_ANSWER)), SUBSCRIBE_TIMEOUT_MS)),
      ]);
      await kith.request('POST', '/users/me/push-subscriptions', sub.toJSON());
      setState('on');
    } catch (err) {
      if (err instanceof Error && err.message === NO_ANSWER) setError(NO_ANSWER);
      else setError(err instanceof DOMException ? `The browser could not subscribe: ${err.message}` : describeError(err));
    } finally {
      setBusy(false);
    }
  }

  async function turnOff() {
    setBusy(true);
    setError(null);
    try {
      const reg = await navigator.serviceWorker.getRegistration();
      const sub = await reg?.pushManager.getSubscription();
      if (sub) {
        await kith.request('DELETE', '/users/me/push-subscriptions', { endpoint: sub.endpoint }).catch(() => undefined);
        await sub.unsubscribe();
      }
      setState('off');
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <section aria-labelledby="push-heading" class="push-setup">
      <h3 id="push-heading">On this device</h3>
      {state !== 'checking' && (
        <p class={state === 'denied' || state === 'unsupported' || state === 'ios-not-installed' ? 'notice' : 'hint'} data-push-state={state}>
          {TEXT[state]}
        </p>
      )}
      {state === 'off' && (
        <button type="button" class="primary" disabled={busy} onClick={() => void turnOn()}>
          Turn on push notifications
        </button>
      )}
      {state === 'on' && (
        <button type="button" disabled={busy} onClick={() => void turnOff()}>
          Turn off push notifications
        </button>
      )}
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}
