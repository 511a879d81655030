import { render } from 'preact';
import { App } from './app.js';
import { preloadCalendar } from './lazy-calendar.js';
import { kith } from './store.js';
import './styles.css';

render(<App />, document.getElementById('app')!);

// The calendar's code comes in its own files (the first screen needs far less). Signed in, the
// calendar opens next: fetch it now. Signed out, fetch it once the sign-in page has loaded, while
// the person types. Offline, the service worker has it (or the screen offers to try again).
void kith.ready().then(() => {
  const preload = () => void preloadCalendar().catch(() => undefined);
  if (kith.user) preload();
  else if (document.readyState === 'complete') setTimeout(preload, 0);
  else addEventListener('load', preload, { once: true });
});

// The app shell for offline use (only in a production build: the dev server changes files live).
if (import.meta.env.PROD && 'serviceWorker' in navigator) {
  navigator.serviceWorker.register('/sw.js', { scope: '/' }).catch((err: unknown) => {
    console.warn('Kith: the app will not open offline (service worker not registered):', err);
  });
}
