import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import { serviceWorker } from './sw-plugin.js';

export default defineConfig(({ command }) => ({
  base: '/',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact', development: command === 'serve' } },
  plugins: [serviceWorker({ source: fileURLToPath(new URL('./src/sw.js', import.meta.url)) })],
  build: {
    target: 'es2022',
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 1200,
  },
  server: {
    // `pnpm dev`: the app from vite, the API and sync from a kith-server on 8080.
    proxy: {
      '^/(users|rooms|invites|sync|healthz|readyz|feeds)(/|$)': { target: 'http://127.0.0.1:8080', ws: true },
    },
  },
}));
