import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/index.js';
import { apiClient } from './helpers/api.js';
import { startTestServer, type TestServer } from './helpers/server.js';

/** Three failed logins per IP and username per minute are allowed; the fourth is refused. */
async function failedLogin(api: ReturnType<typeof apiClient>, forwardedFor: string, username: string) {
  return api.request('POST', '/users/login', {
    body: { username, password: 'wrong password' },
    headers: { 'x-forwarded-for': forwardedFor },
  });
}

describe('client addresses behind a gateway', () => {
  let trusting: TestServer;
  let direct: TestServer;
  beforeAll(async () => {
    trusting = await startTestServer({ trustProxy: 'loopback', limits: { loginPerMinute: 3 } });
    direct = await startTestServer({ limits: { loginPerMinute: 3 } });
  });
  afterAll(async () => {
    await trusting.close();
    await direct.close();
  });

  it('with --trust-proxy, each client behind the gateway has its own per-IP login limit', async () => {
    const api = apiClient(trusting.url);
    for (let i = 0; i < 3; i++) expect((await failedLogin(api, '198.51.100.7', 'alice')).status).toBe(401);
    expect((await failedLogin(api, '198.51.100.7', 'alice')).status).toBe(429);
    // Another family behind the same gateway is not locked out by the first one, even for that username.
    expect((await failedLogin(api, '198.51.100.8', 'alice')).status).toBe(401);
  });

  it('without it, a forged X-Forwarded-For does not escape the limit', async () => {
    const api = apiClient(direct.url);
    for (let i = 0; i < 3; i++) expect((await failedLogin(api, `203.0.113.${i}`, 'carol')).status).toBe(401);
    expect((await failedLogin(api, '203.0.113.99', 'carol')).status).toBe(429);
  });

  it('parses the flag: off by default, true, or addresses and named ranges', () => {
    const parse = (v?: string) => {
      const c = parseConfig(v === undefined ? [] : ['--trust-proxy', v], {});
      return c === 'help' ? undefined : c.trustProxy;
    };
    expect(parse()).toBe(false);
    expect(parse('true')).toBe(true);
    expect(parse('loopback,uniquelocal')).toBe('loopback,uniquelocal');
    expect(parse('10.0.0.0/8,127.0.0.1')).toBe('10.0.0.0/8,127.0.0.1');
  });
});
