#!/usr/bin/env node
/**
 * `kith-fake-google`: run the fake Google Calendar API for a local demo.
 *
 *   kith-fake-google [--port 4100] [--host 127.0.0.1] [--user demo@kith.example] [--time-zone Europe/Berlin]
 *                    [--client-id ID --client-secret SECRET [--redirect-uri URL]] [--log]
 */
import { parseArgs } from 'node:util';
import { startFakeGoogle } from './server.js';

const HELP = `kith-fake-google — a fake Google Calendar API + OAuth server for local demos

Options:
  --port <n>             port to listen on (default 4100; 0 picks a free one)
  --host <addr>          interface to bind (default 127.0.0.1)
  --user <email>         who "signs in" at the consent screen (default demo@kith.example)
  --time-zone <iana>     default calendar time zone (default UTC)
  --client-id <id>       register an OAuth client (otherwise any client id is accepted)
  --client-secret <s>    its secret
  --redirect-uri <url>   its allowed redirect URI (repeatable)
  --log                  log requests
  --help                 this text

Point kith-server at it with GOOGLE_API_ROOT_URL=<url>/ and GOOGLE_OAUTH_BASE_URL=<url>.
`;

async function main(): Promise<void> {
  let args;
  try {
    args = parseArgs({
      options: {
        port: { type: 'string', default: process.env.PORT ?? '4100' },
        host: { type: 'string', default: '127.0.0.1' },
        user: { type: 'string' },
        'time-zone': { type: 'string' },
        'client-id': { type: 'string' },
        'client-secret': { type: 'string' },
        'redirect-uri': { type: 'string', multiple: true },
        log: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
    }).values;
  } catch (err) {
    process.stderr.write(`kith-fake-google: ${(err as Error).message}\n\n${HELP}`);
    process.exit(2);
  }
  if (args.help) {
    process.stdout.write(HELP);
    return;
  }
  const port = Number(args.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`kith-fake-google: bad --port ${args.port}\n`);
    process.exit(2);
  }
  if (args['client-id'] && !args['client-secret']) {
    process.stderr.write('kith-fake-google: --client-id needs --client-secret\n');
    process.exit(2);
  }
  const fake = await startFakeGoogle({
    port,
    host: args.host,
    logger: args.log,
    ...(args.user ? { defaultUser: args.user } : {}),
    ...(args['time-zone'] ? { defaultTimeZone: args['time-zone'] } : {}),
    ...(args['client-id']
      ? {
          clients: [
            {
              clientId: args['client-id'],
              clientSecret: args['client-secret']!,
              ...(args['redirect-uri'] ? { redirectUris: args['redirect-uri'] } : {}),
            },
          ],
        }
      : {}),
  });
  process.stdout.write(
    `kith-fake-google listening on ${fake.url}\n` +
      `  GOOGLE_API_ROOT_URL=${fake.rootUrl}\n` +
      `  GOOGLE_OAUTH_BASE_URL=${fake.url}\n` +
      `  consent:  ${fake.oauthEndpoints.oauth2AuthBaseUrl}\n` +
      `  token:    ${fake.oauthEndpoints.oauth2TokenUrl}\n` +
      `  control:  ${fake.url}/__control\n`,
  );
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    fake.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

void main();
