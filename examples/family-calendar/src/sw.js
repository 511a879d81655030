/* Kith family calendar: the service worker that keeps the app shell, so the app opens offline.
 * The build (sw-plugin.ts) fills in VERSION and SHELL. Only the shell is cached: calendar data
 * lives in IndexedDB (through @kith/client), and the API and sync socket are never intercepted. */
/// <reference lib="webworker" />
const VERSION = '__KITH_VERSION__';
/** @type {string[]} */
const SHELL = ['__KITH_SHELL__'];
const CACHE = `kith-shell-${VERSION}`;
const SHELL_PATHS = new Set(SHELL);


self.addEventListener('install', (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      // `reload`: never fill the cache from the HTTP cache (an old index.html would pin old assets).
      await cache.addAll(SHELL.map((url) => new Request(url, { cache: 'reload' })));
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      for (const key of await caches.keys()) {
        if (key.startsWith('kith-shell-') && key !== CACHE) await caches.delete(key);
      }
      await self.clients.claim();
    })(),
  );
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === 'navigate') {
    // The page itself (/, /invite/…): the network's when it answers, else the cached shell.
    event.respondWith(
      (async () => {
        try {
          return await fetch(request);
        } catch {
          const cached = (await caches.match('/index.html', { cacheName: CACHE })) ?? (await caches.match('/index.html'));
          return cached ?? Response.error();
        }
      })(),
    );
    return;
  }
  if (SHELL_PATHS.has(url.pathname)) {
    event.respondWith(
      (async () => (await caches.match(request, { cacheName: CACHE, ignoreSearch: true })) ?? fetch(request))(),
    );
  }
});

// ---- Web Push: the server sends {title, body, url, tag} (packages/server/src/notify); nothing else.

/** Keeps only a same-origin path: a push never sends the app elsewhere. */
function appUrl(url) {
  try {
    const u = new URL(typeof url === 'string' ? url : '/', self.location.origin);
    return u.origin === self.location.origin ? u.pathname + u.search + u.hash : '/';
  } catch {
    return '/';
  }
}

self.addEventListener('push', (event) => {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch {
    data = { body: event.data ? event.data.text() : '' };
  }
  const title = typeof data.title === 'string' && data.title ? data.title.slice(0, 200) : 'Kith';
  const options = {
    body: typeof data.body === 'string' ? data.body.slice(0, 1000) : '',
    icon: '/icon.svg',
    data: { url: appUrl(data.url) },
  };
  // Same tag as the open tab's reminder (src/reminders.ts): one replaces the other.
  if (typeof data.tag === 'string' && data.tag) options.tag = data.tag.slice(0, 200);
  event.waitUntil(self.registration.showNotification(title, options));
});

/** Opens the app at `url`: an open tab is focused and told (it opens the event without reloading), else a new window. */
async function openApp(url) {
  const tabs = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
  const tab = tabs.find((c) => new URL(c.url).origin === self.location.origin);
  if (tab) {
    tab.postMessage({ type: 'open-url', url });
    await tab.focus().catch(() => undefined);
    return tab;
  }
  return self.clients.openWindow(url);
}

/** The click: close it and open its event. A named function, so a test can run it in the worker. */
function onNotificationClick(notification) {
  notification.close();
  return openApp(appUrl(notification.data && notification.data.url));
}

self.addEventListener('notificationclick', (event) => {
  event.waitUntil(onNotificationClick(event.notification));
});
