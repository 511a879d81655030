#!/usr/bin/env node
import { ConfigError, helpText, parseConfig, type KithConfig } from './config/config.js';

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

async function main(): Promise<void> {
  let config: KithConfig | 'help';
  try {
    config = parseConfig(process.argv.slice(2), process.env);
  } catch (err) {
    const message =
      err instanceof ConfigError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
        ? (err as Error).message
        : String(err);
    process.stderr.write(`kith-server: ${message}\n\nRun kith-server --help for the options.\n`);
    process.exit(EXIT_USAGE);
  }
  if (config === 'help') {
    process.stdout.write(helpText());
    return;
  }

  // Loaded only now, so that --help and configuration errors answer at once.
  const [{ createLogger }, { startKithServer }] = await Promise.all([
    import('./ops/logger.js'),
    import('./server.js'),
  ]);
  const logger = createLogger(config.logLevel);
  const { host, port } = config;
  const server = await startKithServer(config, { logger }).catch((err: NodeJS.ErrnoException) => {
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
