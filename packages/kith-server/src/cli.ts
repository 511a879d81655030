#!/usr/bin/env node
/**
 * kith-server: the Kith core with its built-in modules, the calendar (REST, /live, ICS), CalDAV
 * (so far its app passwords) and the Google Calendar mirror. Each module's options join the core's on one command line.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { channelOptions, ConfigError, helpText, parseServerConfig, type ChannelConfig, type KithConfig } from '@kith/server/config';
import { googleOptions, type GoogleConfig } from '@kith/sync-google/config';

/** Exit codes: 0 clean stop, 1 runtime or startup failure, 2 bad configuration. */
const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

/** Listen errors an operator can fix, worded for them instead of as a stack trace. */
const LISTEN_ERRORS: Record<string, string> = {
  EADDRINUSE: 'address already in use',
  EACCES: 'permission denied (ports below 1024 need privileges)',
  EADDRNOTAVAIL: 'address not available on this machine',
  ENOTFOUND: 'host name not found',
};

/**
 * The example web app as built next to this package (a checkout, or the container image's copy of
 * the monorepo layout), unless --static-dir names another. @kith/server looks next to itself,
 * which in a deployed image is inside node_modules.
 */
function withBundledApp(config: KithConfig): KithConfig {
  if (config.staticDir !== undefined) return config;
  const bundled = fileURLToPath(new URL('../../../examples/family-calendar/dist', import.meta.url));
  return fs.existsSync(path.join(bundled, 'index.html')) ? { ...config, staticDir: bundled } : config;
}

async function main(): Promise<void> {
  let parsed: { config: KithConfig; modules: readonly [GoogleConfig, ChannelConfig] } | 'help';
  try {
    parsed = parseServerConfig(process.argv.slice(2), process.env, [googleOptions, channelOptions]);
  } catch (err) {
    const message =
      err instanceof ConfigError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
        ? (err as Error).message
        : String(err);
    process.stderr.write(`kith-server: ${message}\n\nRun kith-server --help for the options.\n`);
    process.exit(EXIT_USAGE);
  }
  if (parsed === 'help') {
    process.stdout.write(helpText([googleOptions, channelOptions]));
    return;
  }
  const config = withBundledApp(parsed.config);
  const [google, channels] = parsed.modules;

  // Loaded only now, so that --help and configuration errors answer at once.
  const [{ accountModule, caldavModule, calendarModule, channelsOption, createLogger, logDestination, notifyModule, startKithServer, webhookChannel }, { googleModule }] =
    await Promise.all([
    import('@kith/server'),
    import('@kith/sync-google'),
  ]);
  // Readable on a terminal, JSON for a log collector (or as --log-format says).
  const logger = createLogger(config.logLevel, logDestination(config.logFormat));
  const { host, port } = config;
  const modules = [
    calendarModule(),
    caldavModule(),
    accountModule(),
    googleModule(google),
    notifyModule(notifyOptionsFromEnv(channelsOption(channels), webhookChannel)),
  ];
  const server = await startKithServer(config, { logger, modules }).catch((err: NodeJS.ErrnoException) => {
    const reason = err.code ? LISTEN_ERRORS[err.code] : undefined;
    if (reason && (err.syscall === 'listen' || err.syscall === 'getaddrinfo')) {
      process.stderr.write(`kith-server: cannot listen on ${host}:${port}: ${reason}\n`);
      process.exit(EXIT_FAILURE);
    }
    throw err;
  });
  process.stdout.write(`kith-server listening on ${server.url} (data in ${config.dataDir})\n`);

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      // A second signal means "now": every update is committed before it is acknowledged or
      // broadcast, so exiting without the rest of the graceful steps loses nothing stored.
      logger.warn({ signal }, 'second signal; exiting without finishing shutdown');
      process.exit(EXIT_FAILURE);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down');
    server.close().then(
      () => process.exit(0),
      (err) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(EXIT_FAILURE);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err) => {
  process.stderr.write(`kith-server failed to start: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(EXIT_FAILURE);
});

/**
 * The notify module's settings: Web Push and email (their SMTP/VAPID options are parsed with the
 * server's); KITH_NOTIFY_WEBHOOK_URL adds the webhook channel; the *_MS values tune timing.
 */
function notifyOptionsFromEnv(
  channels: (ctx: import('@kith/server').ModuleContext) => Promise<import('@kith/server').AnyChannel[]>,
  webhookChannel: (url: string) => import('@kith/server').AnyChannel,
) {
  const ms = (name: string): number | undefined => {
    const raw = process.env[name];
    if (raw === undefined || raw === '') return undefined;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1 || n > 86_400_000) {
      process.stderr.write(`kith-server: ${name} must be a whole number of milliseconds from 1 to 86400000\n`);
      process.exit(EXIT_USAGE);
    }
    return n;
  };
  const url = process.env.KITH_NOTIFY_WEBHOOK_URL;
  return {
    channels: async (ctx: import('@kith/server').ModuleContext) => [...(await channels(ctx)), ...(url ? [webhookChannel(url)] : [])],
    leaseMs: ms('KITH_NOTIFY_LEASE_MS'),
    retryMs: ms('KITH_NOTIFY_RETRY_MS'),
    changeWindowMs: ms('KITH_NOTIFY_CHANGE_WINDOW_MS'),
    resurveyMs: ms('KITH_NOTIFY_RESURVEY_MS'),
  };
}
