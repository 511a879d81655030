import { configDefaults, defineConfig, mergeConfig } from 'vitest/config';
import full from './vitest.config.js';

/**
 * `pnpm test:fast`: the inner loop, under a minute. Everything `pnpm test` runs except the slow
 * trials below; CI and `pnpm test` still run them all (vitest.config.ts). A file goes here when it
 * spawns processes, waits out real timeouts, soaks, needs PostgreSQL or Redis, drives a browser,
 * or otherwise takes more than ~15 s on a loaded machine. It needs no service running.
 */
export const SLOW_TRIALS = [
  // Crash, restart and process-spawning trials (the kith-server CLI as a child process).
  'packages/server/test/crash.test.ts',
  'packages/server/test/cli.test.ts',
  'packages/server/test/ops.test.ts',
  'packages/server/test/cluster.test.ts',
  'packages/server/test/hardening-disk-full.test.ts',
  // 20 SIGKILLs of the binary with reminders falling due every 8 s (about 4 minutes), and notify
  // on several instances over PostgreSQL (and Redis).
  'packages/server/test/notify/kill-trials.test.ts',
  'packages/server/test/notify/instances.test.ts',
  'packages/server/test/notify/notices-instances.test.ts',
  // SIGKILLs the binary inside a change-notice window and restarts it twice (30 s to 3 min).
  'packages/server/test/notify/notice-window-kill.test.ts',
  // Forty edits over HTTP with a manual clock stepped after each (~25 s on a loaded machine).
  'packages/server/test/notify/look-pacing.test.ts',
  'packages/client/test/quickstart.test.ts',
  // Packs @kith/client, installs it into a new project and builds a Vite app with it (1–2 min).
  'packages/client/test/pack.test.ts',
  'packages/sync-google/test/standalone.test.ts',
  // Deployment checks (Docker, nginx).
  'packages/server/test/deploy.test.ts',
  // Memory, load and scale.
  'packages/server/test/memory.test.ts',
  'packages/server/test/hardening-load.test.ts',
  // Real waits: the 30 s awareness timeout of y-protocols, token expiries, reconnect and retry
  // back-offs, restarts. Measured at 15–30 s each on a loaded machine (vitest's JSON reporter).
  'packages/server/test/hardening-awareness.test.ts',
  'packages/server/test/auth.test.ts',
  'packages/server/test/sync-auth.test.ts',
  'packages/server/test/hardening-sockets.test.ts',
  'packages/server/test/durability.test.ts',
  'packages/client/test/auth-sync.test.ts',
  'packages/sync-google/test/oauth.test.ts',
  'packages/sync-google/test/resilience.test.ts',
  // The Google mirror at Google's real request rate (bulk exports of 100–300 events, real backoff): ~1 min each.
  'packages/sync-google/test/head-of-line.test.ts',
  'packages/sync-google/test/merges.test.ts',
  // Calendar imports up to the size caps (about a minute on a loaded machine).
  'packages/server/test/hardening-import.test.ts',
  // PostgreSQL: the storage contract run against both storages, and the shared-secret check.
  'packages/server/test/storage-contract.test.ts',
  'packages/server/test/shared-secret.test.ts',
  // CalDAV across two instances (PostgreSQL and Redis).
  'packages/server/test/caldav-instances.test.ts',
  // Fuzz, chaos and convergence soaks.
  'packages/server/test/fuzz.test.ts',
  'packages/client/test/fuzz-document.test.ts',
  'packages/model/test/convergence.test.ts',
  'packages/sync-google/test/chaos.test.ts',
  // The longest of the rest (4–10 s each at load 7), left out so the loop stays under a minute
  // on two cores: most of a file's cost is loading the server, and these add long scenarios.
  'packages/client/test/auth.test.ts',
  'packages/client/test/sync.test.ts',
  'packages/client/test/first-sync.test.ts',
  'packages/client/test/rooms.test.ts',
  'packages/server/test/calendar-ics.test.ts',
  'packages/server/test/hardening-invites.test.ts',
  'packages/sync-google/test/mirror.test.ts',
  // Notification channels: SMTP and push-service mocks with retry back-offs and many scrypt
  // sign-ups (15–25 s each on a loaded machine), and two instances on PostgreSQL.
  'packages/server/test/notify-push.test.ts',
  'packages/server/test/notify-email.test.ts',
  'packages/server/test/notify-recovery.test.ts',
  'packages/server/test/notify-channels-postgres.test.ts',
  // The account module: export and delete with several scrypt sign-ups (about 20 s).
  'packages/server/test/account.test.ts',
  // CalDAV interop: Debian's Radicale, python3-caldav and vdirsyncer as child processes (each
  // Python client start costs ~1 s; about 15–25 s per file on a loaded machine).
  'packages/server/test/caldav-interop/python-caldav.test.ts',
  'packages/server/test/caldav-interop/vdirsyncer.test.ts',
  'packages/server/test/caldav-interop/offline-merge.test.ts',
  'packages/server/test/caldav-interop/python-alarms.test.ts',
  // A production bundle built with Vite.
  'packages/client/test/browser-bundle.test.ts',
  // The web app in Chromium.
  'examples/family-calendar/test/app.test.ts',
  'examples/family-calendar/test/editing.test.ts',
  'examples/family-calendar/test/security.test.ts',
  'examples/family-calendar/test/views.test.ts',
  'examples/family-calendar/test/app-ui.test.ts',
  'examples/family-calendar/test/load-time.test.ts',
  'examples/family-calendar/test/accessibility.test.ts',
  // Push, reminders, comments and the notification settings in Chromium (about 3 min).
  'examples/family-calendar/test/notifications.test.ts',
  'examples/family-calendar/test/cross-zone-drag.test.ts',
  // Rewrites docs/screenshots/ (and is skipped unless KITH_README_SCREENSHOTS=1).
  'examples/family-calendar/test/readme-screenshots.test.ts',
];

export default mergeConfig(
  full,
  defineConfig({
    test: {
      exclude: [...configDefaults.exclude, ...SLOW_TRIALS],
      // Two test files at once even on two cores (vitest's default is cores − 1): what is left
      // mostly waits on sockets and timers, so a second file fills the gaps.
      maxWorkers: 2,
    },
  }),
);
