/**
 * How the server's log looks and how much it says: the --log-format / --access-log options,
 * readable lines for a terminal and JSON otherwise, and request lines only at debug unless asked.
 */
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, parseConfig, type KithConfig } from '../src/config/config.js';
import { calendarModule, defaultConfig, startKithServer, type KithServer } from '../src/index.js';
import { createLogger, logDestination, resolveLogFormat } from '../src/ops/logger.js';
import { apiClient } from './helpers/api.js';
import { makeDataDir, TEST_JWT_SECRET } from './helpers/server.js';

const parse = (argv: string[], env: NodeJS.ProcessEnv = {}) => parseConfig(argv, env) as KithConfig;

describe('log options', () => {
  it('default to auto format and request lines at debug', () => {
    const config = parse([]);
    expect([config.logFormat, config.accessLog]).toEqual(['auto', false]);
  });

  it('read --log-format and --access-log (a switch), then KITH_LOG_FORMAT and KITH_ACCESS_LOG', () => {
    expect(parse(['--log-format', 'json']).logFormat).toBe('json');
    expect(parse([], { KITH_LOG_FORMAT: 'pretty' }).logFormat).toBe('pretty');
    expect(parse(['--log-format', 'json'], { KITH_LOG_FORMAT: 'pretty' }).logFormat).toBe('json');
    expect(parse(['--access-log']).accessLog).toBe(true);
    expect(parse([], { KITH_ACCESS_LOG: '1' }).accessLog).toBe(true);
    expect(parse([], { KITH_ACCESS_LOG: 'false' }).accessLog).toBe(false);
  });

  it('refuse bad values, naming where they came from', () => {
    expect(() => parse(['--log-format', 'xml'])).toThrow(ConfigError);
    expect(() => parse(['--log-format', 'xml'])).toThrow(/--log-format must be auto, pretty or json, got "xml"/);
    expect(() => parse([], { KITH_LOG_FORMAT: 'yaml' })).toThrow(/KITH_LOG_FORMAT/);
    expect(() => parse([], { KITH_ACCESS_LOG: 'maybe' })).toThrow(/KITH_ACCESS_LOG must be true or false/);
    // A switch takes no value.
    expect(() => parse(['--access-log=yes'])).toThrow();
  });

  it('auto means readable on a terminal and JSON elsewhere; an explicit format wins', () => {
    expect(resolveLogFormat('auto', true)).toBe('pretty');
    expect(resolveLogFormat('auto', false)).toBe('json');
    expect(resolveLogFormat('json', true)).toBe('json');
    expect(resolveLogFormat('pretty', false)).toBe('pretty');
  });
});

/** A stream standing in for stdout: a terminal or not. */
function fakeStdout(isTTY: boolean) {
  const stream = new PassThrough() as PassThrough & { isTTY?: boolean };
  stream.isTTY = isTTY;
  let text = '';
  stream.on('data', (chunk: Buffer) => (text += chunk.toString()));
  return { out: stream as unknown as NodeJS.WriteStream, text: () => text };
}

describe('log destinations', () => {
  it('JSON off a terminal: one object a line, secrets redacted', async () => {
    const { out, text } = fakeStdout(false);
    const logger = createLogger('info', logDestination('auto', out));
    logger.info({ component: 'rooms', roomId: 'r1', password: 'hunter2-secret' }, 'room loaded');
    await new Promise((r) => setImmediate(r));
    const line = JSON.parse(text().trim()) as Record<string, unknown>;
    expect(line).toMatchObject({ level: 30, msg: 'room loaded', component: 'rooms', roomId: 'r1', password: '[redacted]' });
  });

  it('readable on a terminal: time, level, component and message on one line, no JSON, secrets still redacted', async () => {
    const { out, text } = fakeStdout(true);
    const logger = createLogger('info', logDestination('auto', out));
    logger.info({ component: 'rooms', roomId: 'r1', password: 'hunter2-secret' }, 'room loaded');
    logger.warn('storage is slow');
    await new Promise((r) => setImmediate(r));
    // Colours are for terminals that have them; compare the text.
    const lines = text().replace(/\x1b\[[0-9;]*m/g, '').trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^\[\d\d:\d\d:\d\d\] INFO: \(rooms\) room loaded/);
    expect(lines[0]).toContain('r1');
    expect(lines[1]).toMatch(/WARN: storage is slow/);
    expect(text()).not.toContain('hunter2-secret');
    expect(() => JSON.parse(lines[0]!)).toThrow();
  });
});

describe('request lines', () => {
  let server: KithServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  async function logOfSomeRequests(level: string, overrides: Partial<KithConfig> = {}) {
    const lines: Array<Record<string, unknown>> = [];
    const stream = { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) };
    const config = defaultConfig({
      port: 0,
      host: '127.0.0.1',
      dataDir: await makeDataDir(),
      logLevel: level,
      jwtSecret: TEST_JWT_SECRET,
      sqliteSynchronous: 'normal',
      ...overrides,
    });
    server = await startKithServer(config, { logger: createLogger(level, stream), modules: [calendarModule()] });
    const api = apiClient(server.url);
    const { token } = await api.signUp('logs');
    await api.request('GET', '/users/me', { token });
    await api.request('GET', '/healthz');
    await api.request('GET', '/users/me?token=query-secret');
    return lines.filter((l) => l.msg === 'request completed' || l.msg === 'incoming request');
  }

  it('are not at info by default (startup, errors and the like are)', async () => {
    expect(await logOfSomeRequests('info')).toEqual([]);
  });

  it('are one per request at debug, with method, redacted URL, status and time', async () => {
    const requests = await logOfSomeRequests('debug');
    expect(requests.every((l) => l.msg === 'request completed' && l.level === 20)).toBe(true);
    const seen = requests.map((l) => [(l.req as { method: string }).method, (l.req as { url: string }).url, (l.res as { statusCode: number }).statusCode]);
    expect(seen).toEqual(
      expect.arrayContaining([
        ['POST', '/users/register', 201],
        ['POST', '/users/login', 200],
        ['GET', '/users/me', 200],
        ['GET', '/healthz', 200],
        ['GET', '/users/me?token=[redacted]', 401],
      ]),
    );
    expect(seen).toHaveLength(5);
    expect(requests.every((l) => typeof l.responseTime === 'number')).toBe(true);
  });

  it('are at info with --access-log', async () => {
    const requests = await logOfSomeRequests('info', { accessLog: true });
    expect(requests).toHaveLength(5);
    expect(requests.every((l) => l.level === 30)).toBe(true);
  });
});
