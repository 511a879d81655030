#!/usr/bin/env node
/**
 * kith-sync-google: the Google Calendar mirror as its own process, next to a kith-server that runs with
 * its in-process worker switched off (GOOGLE_SYNC_WORKER=external). It shares kith-server's data dir (the
 * mirror's state file, the token key, and the access-token signing secret) and reaches rooms through
 * kith-server's sync WebSocket as the user who linked each room.
 */
import { parseArgs } from 'node:util';
import path from 'node:path';
import { optionReader } from '@kith/server/config';
import { GOOGLE_OPTIONS, readGoogleCredentials } from './config.js';
import { startStandaloneWorker } from './standalone.js';
import type { GoogleSyncLogger } from './options.js';

const HELP = `kith-sync-google — mirror linked Kith rooms to Google Calendar (separate process)

Usage: kith-sync-google [--server URL] [--data-dir DIR]

  --server URL        kith-server base URL                     env KITH_SERVER_URL (default http://127.0.0.1:8080)
  --data-dir DIR      kith-server's data dir (shared)          env KITH_DATA_DIR (default ./data)
  --log-level LEVEL   error, warn, info or debug               env LOG_LEVEL (default info)

Google (same variables as kith-server):
  GOOGLE_CLIENT_ID, GOOGLE_CLIENT_SECRET, GOOGLE_REDIRECT_URL   OAuth client (required)
  GOOGLE_API_ROOT_URL, GOOGLE_OAUTH_BASE_URL                   another Google-compatible endpoint (e.g. the fake)
  GOOGLE_TOKEN_KEY                                             key of tokens at rest (default: generated in the data dir)
  GOOGLE_WEBHOOK_URL                                           public HTTPS base URL of kith-server for push notifications
  KITH_JWT_SECRET                                              kith-server's signing secret (default: <data dir>/jwt-secret)
`;

function logger(level: string): GoogleSyncLogger {
  const order = ['debug', 'info', 'warn', 'error'];
  const min = Math.max(0, order.indexOf(level));
  const at = (name: string) => (obj: object, msg?: string) => {
    if (order.indexOf(name) < min) return;
    const o = obj as { err?: unknown };
    const err = o.err instanceof Error ? { err: { message: o.err.message, stack: o.err.stack } } : {};
    process.stderr.write(`${JSON.stringify({ level: name, time: new Date().toISOString(), msg, ...obj, ...err })}\n`);
  };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { server: { type: 'string' }, 'data-dir': { type: 'string' }, 'log-level': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  const env = process.env;
  const log = logger(values['log-level'] ?? env.LOG_LEVEL ?? 'info');
  // The same GOOGLE_* variables as kith-server's, read the same way (no flags here).
  const google = readGoogleCredentials(optionReader(GOOGLE_OPTIONS, {}, env), undefined);
  if (!google.clientId || !google.clientSecret || !google.redirectUrl) {
    process.stderr.write('kith-sync-google: GOOGLE_CLIENT_ID, GOOGLE_CLIENT_SECRET and GOOGLE_REDIRECT_URL are required\n');
    process.exitCode = 2;
    return;
  }
  const running = await startStandaloneWorker({
    serverUrl: values.server ?? env.KITH_SERVER_URL ?? 'http://127.0.0.1:8080',
    dataDir: path.resolve(values['data-dir'] ?? env.KITH_DATA_DIR ?? './data'),
    jwtSecret: env.KITH_JWT_SECRET || undefined,
    clientId: google.clientId,
    clientSecret: google.clientSecret,
    redirectUrl: google.redirectUrl,
    apiRootUrl: google.apiRootUrl,
    oauthBaseUrl: google.oauthBaseUrl,
    tokenKey: google.tokenKey,
    webhookBaseUrl: google.webhookUrl,
    logger: log,
  });
  log.info({ links: running.worker.store.links().length }, 'kith-sync-google running');
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    running.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err) => {
  process.stderr.write(`kith-sync-google: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
