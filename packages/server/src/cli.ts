#!/usr/bin/env node
import { ConfigError, helpText, parseConfig } from './config/config.js';
import { createLogger } from './ops/logger.js';
import { startKithServer } from './server.js';

async function main(): Promise<void> {
  let config;
  try {
    config = parseConfig(process.argv.slice(2), process.env);
  } catch (err) {
    const message = err instanceof ConfigError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
      ? (err as Error).message
      : String(err);
    process.stderr.write(`kith-server: ${message}\n\nRun kith-server --help for the options.\n`);
    process.exit(2);
  }
  if (config === 'help') {
    process.stdout.write(helpText());
    return;
  }
  const logger = createLogger(config.logLevel);
  const server = await startKithServer(config, { logger });
  process.stdout.write(`kith-server listening on ${server.url} (data in ${config.dataDir})\n`);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    server.close().then(
      () => process.exit(0),
      (err) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err) => {
  process.stderr.write(`kith-server failed to start: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
