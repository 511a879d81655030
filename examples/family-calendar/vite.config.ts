import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import { precompress } from './precompress-plugin.js';
import { serviceWorker } from './sw-plugin.js';

export default defineConfig(({ command }) => ({
  base: '/',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact', development: command === 'serve' } },
  // The service worker's list is made first; the .br/.gz copies are written after everything else.
  plugins: [serviceWorker({ source: fileURLToPath(new URL('./src/sw.js', import.meta.url)) }), precompress()],
  build: {
    target: 'es2022',
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    // The calendar chunk (FullCalendar) is the largest, ~500 KB before compression; the first screen's is far smaller (test/bundle-budget.test.ts).
    chunkSizeWarningLimit: 600,
  },
  server: {
    // `pnpm dev`: the app from vite, the API and sync from a kith-server on 8080.
    proxy: {
      '^/(users|rooms|invites|sync|healthz|readyz|feeds)(/|$)': { target: 'http://127.0.0.1:8080', ws: true },
    },
  },
}));
