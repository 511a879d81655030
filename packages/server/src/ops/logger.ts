import { createRequire } from 'node:module';
import pino, { type Logger, type LoggerOptions } from 'pino';
import type PinoPretty from 'pino-pretty';
import type { LogFormat } from '../config/config.js';

/** Query parameters that carry secrets (compared case-insensitively); their values never reach a log line. */
const SECRET_PARAMS = new Set(['token', 'access_token', 'refreshtoken', 'refresh_token', 'code', 'state', 'password']);

/** Path segments that are secrets: the invite code in `/invites/:code/accept` and in `/invite/:code` links. */
const SECRET_PATH = /(\/(?:invites?|feeds)\/)[^/?#]+/gi;

/**
 * Replaces secrets in a URL path with `[redacted]`: the values of secret query parameters
 * (whatever their case or percent-encoding) and invite codes in the path.
 */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  const path = (q === -1 ? url : url.slice(0, q)).replace(SECRET_PATH, '$1[redacted]');
  if (q === -1) return path;
  const params = new URLSearchParams(url.slice(q + 1));
  const redacted = new URLSearchParams();
  for (const [key, value] of params) redacted.append(key, SECRET_PARAMS.has(key.toLowerCase()) ? '[redacted]' : value);
  return `${path}?${redacted.toString().replaceAll('%5Bredacted%5D', '[redacted]')}`;
}

/**
 * Errors are logged with their message, type, code and stack, but without what HTTP client errors
 * carry along: gaxios (Google) and fetch-style errors hold the request's config and headers, with
 * `Authorization: Bearer …` in them, and the response. Those never reach a log line.
 */
const ERROR_FIELDS_DROPPED = ['config', 'request', 'response', 'headers', 'options'];
function serializeError(err: unknown): unknown {
  const out = pino.stdSerializers.err(err as Error) as unknown as Record<string, unknown>;
  if (!out || typeof out !== 'object') return out;
  for (const key of ERROR_FIELDS_DROPPED) delete out[key];
  if (out.cause && typeof out.cause === 'object') out.cause = serializeError(out.cause);
  return out;
}

function loggerOptions(level: string): LoggerOptions {
  return {
    level,
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers.cookie',
        'headers.authorization',
        '*.password',
        '*.token',
        '*.refreshToken',
        'password',
        'token',
        'refreshToken',
        // Invite codes ride in register bodies too.
        '*.inviteCode',
        'inviteCode',
      ],
      censor: '[redacted]',
    },
    serializers: {
      // Only these fields, never headers; and it must not throw (a throwing serializer makes the
      // log call itself throw) when something without a URL is logged as `req`.
      req(req: { method?: string; url?: unknown; ip?: string; id?: string }) {
        return { id: req?.id, method: req?.method, url: typeof req?.url === 'string' ? redactUrl(req.url) : undefined, ip: req?.ip };
      },
      err: serializeError,
    },
  };
}

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return destination ? pino(loggerOptions(level), destination) : pino(loggerOptions(level));
}

/** `auto` picks readable lines for a person at a terminal and JSON for log collectors and files. */
export function resolveLogFormat(format: LogFormat, isTTY: boolean): 'pretty' | 'json' {
  return format === 'auto' ? (isTTY ? 'pretty' : 'json') : format;
}

/**
 * Where log lines go: `out` itself for JSON, or through pino-pretty for people
 * ("14:03:07 INFO (calendar): room loaded {roomId: …}"). Pretty-printing runs in this thread
 * (`sync`), not in pino's worker transport: lines keep their order with the process's own writes
 * and nothing is lost on exit. Redaction happens before either.
 */
export function logDestination(format: LogFormat, out: NodeJS.WriteStream = process.stdout): pino.DestinationStream {
  if (resolveLogFormat(format, out.isTTY === true) === 'json') return out;
  // Loaded only for a terminal: a server logging JSON (containers, tests) never pays for it.
  const pretty = createRequire(import.meta.url)('pino-pretty') as typeof PinoPretty;
  return pretty({
    destination: out,
    sync: true,
    colorize: out.isTTY === true && pretty.isColorSupported,
    translateTime: 'SYS:HH:MM:ss',
    ignore: 'pid,hostname',
    messageFormat: '{if component}({component}) {end}{msg}',
    singleLine: true,
  });
}
