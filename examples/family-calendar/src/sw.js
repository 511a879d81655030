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
