/**
 * End-to-end test environment: the built app (built here when missing or older than its sources),
 * a real kith-server in this process serving it, and Debian's Chromium driven by playwright-core.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { accountModule, caldavModule, calendarModule, channelsOption, defaultConfig, notifyModule, startKithServer, type KithServer } from '@kith/server';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions } from 'playwright-core';
import { Mailbox } from './mailbox.js';

export const APP_DIR = fileURLToPath(new URL('../..', import.meta.url));
export const DIST = path.join(APP_DIR, 'dist');
export const ARTIFACTS = path.join(APP_DIR, 'test-artifacts');
export const CHROMIUM = process.env.KITH_CHROMIUM ?? '/usr/bin/chromium';

function newestMtime(p: string): number {
  if (!fs.existsSync(p)) return 0;
  const st = fs.statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = 0;
  for (const name of fs.readdirSync(p)) newest = Math.max(newest, newestMtime(path.join(p, name)));
  return newest;
}

function isBuilt(): boolean {
  const index = path.join(DIST, 'index.html');
  if (!fs.existsSync(index) || !fs.existsSync(path.join(DIST, 'sw.js'))) return false;
  const inputs = ['src', 'public', 'index.html', 'vite.config.ts', 'sw-plugin.ts', 'precompress-plugin.ts', 'package.json'].map((p) => path.join(APP_DIR, p));
  inputs.push(path.join(APP_DIR, '../../packages/client/dist'), path.join(APP_DIR, '../../packages/model/dist'));
  return newestMtime(index) > Math.max(...inputs.map(newestMtime));
}

/**
 * Builds the app unless dist/ is newer than everything it is built from (its sources and the
 * client library). `pnpm test` builds it first; this is for running the tests on their own. Test
 * files run in parallel, so one builds while the others wait (a lock directory).
 */
export async function ensureBuilt(): Promise<void> {
  const lock = path.join(APP_DIR, '.build-lock');
  const deadline = Date.now() + 180_000;
  for (;;) {
    if (isBuilt()) return;
    try {
      fs.mkdirSync(lock);
    } catch {
      // Someone else builds: wait (a lock left by a killed run is taken over after two minutes).
      const age = Date.now() - (fs.statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age > 120_000) fs.rmSync(lock, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error('timed out waiting for another test file to build the app');
      await new Promise((r) => setTimeout(r, 250));
      continue;
    }
    try {
      if (isBuilt()) return;
      // NODE_ENV is "test" under vitest: a vite build would then be a development build.
      execFileSync(path.join(APP_DIR, 'node_modules/.bin/vite'), ['build', '--logLevel', 'warn'], {
        cwd: APP_DIR,
        stdio: 'inherit',
        env: { ...process.env, NODE_ENV: 'production' },
      });
      return;
    } finally {
      fs.rmSync(lock, { recursive: true, force: true });
    }
  }
}

export interface Env {
  server: KithServer;
  url: string;
  browser: Browser;
  dataDir: string;
  /** Where the server's emails go (SMTP on loopback). */
  mailbox: Mailbox;
  close(): Promise<void>;
}

export async function startEnv(): Promise<Env> {
  await ensureBuilt();
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kith-e2e-'));
  const base = defaultConfig();
  const mailbox = await Mailbox.start();
  const server = await startKithServer(
    defaultConfig({
      port: 0,
      host: '127.0.0.1',
      dataDir,
      staticDir: DIST,
      logLevel: 'silent',
      jwtSecret: 'kith-e2e-test-secret-0123456789abcdefghijklmnop',
      sqliteSynchronous: 'normal',
      limits: { ...base.limits, loginPerMinute: 10_000 },
    }),
    // As kith-server composes them (less Google): the app's account and notification screens need theirs.
    {
      modules: [
        calendarModule(),
        caldavModule(),
        accountModule(),
        notifyModule({ channels: channelsOption({ smtpUrl: mailbox.url, mailFrom: 'Kith <kith@family.test>' }) }),
      ],
    },
  );
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  return {
    server,
    url: server.url,
    browser,
    dataDir,
    mailbox,
    close: async () => {
      await browser.close().catch(() => undefined);
      await server.close();
      await mailbox.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export const DESKTOP: BrowserContextOptions = {
  viewport: { width: 1280, height: 860 },
  locale: 'en-GB',
  timezoneId: 'Europe/Berlin',
};

export const PHONE: BrowserContextOptions = {
  viewport: { width: 390, height: 780 },
  deviceScaleFactor: 2,
  isMobile: true,
  hasTouch: true,
  locale: 'en-GB',
  timezoneId: 'Europe/Berlin',
};

/** A browser context (one person's browser): desktop-sized, in Berlin, unless `options` say otherwise. */
export async function newContext(env: Env, options: BrowserContextOptions = {}): Promise<BrowserContext> {
  const context = await env.browser.newContext({ baseURL: env.url, ...DESKTOP, ...options });
  context.setDefaultTimeout(15_000);
  return context;
}

export function chromiumAvailable(): boolean {
  return fs.existsSync(CHROMIUM);
}
