/**
 * Account recovery with a verified email, over loopback with an in-process SMTP server: a password
 * reset link (single use, signs out every session, same 202 for unknown addresses, a few a hour)
 * and the email when a new device signs in (the login's sign-in hook).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, testServers } from '@kith/test-support';
import { createLogger, defaultConfig, startKithServer, type KithConfig, type KithServer } from '../src/index.js';
import { deviceLabel } from '../src/notify/channels/recovery.js';
import { apiClient } from './helpers/api.js';
import { expectError } from './helpers/http-assert.js';
import { channelsTestModule, TestSmtp } from './helpers/notify-channels.js';
import { TEST_JWT_SECRET } from './helpers/server.js';

const FIREFOX_WINDOWS = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0';
const FIREFOX_WINDOWS_NEWER = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:134.0) Gecko/20100101 Firefox/134.0';
const CHROME_ANDROID = 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Mobile Safari/537.36';

describe('account recovery', () => {
  let smtp: TestSmtp;
  let server: KithServer & { url: string };
  let close: () => Promise<void>;
  let api: ReturnType<typeof apiClient>;
  const log: string[] = [];

  beforeAll(async () => {
    smtp = await TestSmtp.start();
    const { module } = channelsTestModule({ smtpUrl: smtp.url });
    const port = await freePort();
    const logger = createLogger('info', { write: (line: string) => void log.push(line) });
    const { startTestServer } = testServers<KithConfig, KithServer>(
      { defaultConfig, startKithServer: (config) => startKithServer(config, { modules: [module], logger }) },
      { jwtSecret: TEST_JWT_SECRET, loginPerMinute: 1000, dataDirPrefix: 'kith-recovery-' },
    );
    const started = await startTestServer({ port, publicUrl: `http://127.0.0.1:${port}` });
    server = started.server as KithServer & { url: string };
    close = started.close;
    api = apiClient(started.url);
  });
  afterAll(async () => {
    await close?.();
    await smtp?.close();
  });

  const login = (username: string, password: string, userAgent = FIREFOX_WINDOWS) =>
    api.request('POST', '/users/login', { body: { username, password }, headers: { 'user-agent': userAgent } });

  async function withVerifiedEmail(prefix: string, address: string) {
    const user = await api.signUp(prefix);
    expect((await api.request('POST', '/users/me/email', { token: user.token, body: { address } })).status).toBe(202);
    await smtp.waitFor(() => smtp.to(address).length === 1);
    const code = /\b(\d{6})\b/.exec(smtp.to(address)[0]!.text ?? '')![1]!;
    expect((await api.request('POST', '/users/me/email/verify', { token: user.token, body: { code } })).status).toBe(200);
    return user;
  }

  const resetLink = (address: string) => {
    const mail = smtp.to(address).at(-1)!;
    expect(mail.subject).toBe('Reset your Kith password');
    return /(http:\/\/\S+reset-password\?token=([A-Za-z0-9_-]+))/.exec(mail.text ?? '')!;
  };

  it('resets a password with an emailed single-use link and signs every session out', async () => {
    const anna = await withVerifiedEmail('anna', 'anna@family.test');
    const res = await api.request('POST', '/users/password-reset', { body: { email: 'ANNA@family.test' } });
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ accepted: true });
    await smtp.waitFor(() => smtp.to('anna@family.test').length === 2);
    const [link, , token] = resetLink('anna@family.test');
    expect(link).toContain(`http://127.0.0.1:${server.port}/#/reset-password?token=`);
    expect(smtp.to('anna@family.test').at(-1)!.text).toContain(anna.username);

    expectError(await api.request('POST', '/users/password-reset/confirm', { body: { token: token!, newPassword: 'short' } }), 400, 'VALIDATION_FAILED');
    const done = await api.request('POST', '/users/password-reset/confirm', { body: { token: token!, newPassword: 'a new horse battery' } });
    expect(done.status).toBe(204);

    expectError(await login(anna.username, anna.password), 401, 'INVALID_CREDENTIALS');
    expect((await login(anna.username, 'a new horse battery')).status).toBe(200);
    // The refresh token from before the reset no longer works.
    expectError(await api.request('POST', '/users/refresh', { body: { refreshToken: anna.refreshToken } }), 401, 'REFRESH_TOKEN_INVALID');
    // Single use.
    expectError(await api.request('POST', '/users/password-reset/confirm', { body: { token: token!, newPassword: 'third horse battery' } }), 400, 'RESET_TOKEN_INVALID');
    expectError(await api.request('POST', '/users/password-reset/confirm', { body: { token: 'x'.repeat(43), newPassword: 'third horse battery' } }), 400, 'RESET_TOKEN_INVALID');
    // No token in the log.
    expect(log.join('\n')).not.toContain(token!.slice(0, 16));
  });

  it('answers the same for unknown and malformed addresses, and sends nothing', async () => {
    const resets = () => smtp.received.filter((m) => m.subject === 'Reset your Kith password').length;
    const before = resets();
    for (const email of ['nobody@family.test', 'not an address', 'x@y\r\nBcc: z@evil.test']) {
      const res = await api.request('POST', '/users/password-reset', { body: { email } });
      expect(res.status, email).toBe(202);
      expect(res.body).toEqual({ accepted: true });
    }
    await new Promise((r) => setTimeout(r, 300));
    expect(resets()).toBe(before);
    expect(smtp.to('nobody@family.test')).toHaveLength(0);
  });

  it('voids older links once one is used, and sends at most three an hour per account', async () => {
    const ben = await withVerifiedEmail('ben', 'ben@family.test');
    for (let i = 0; i < 5; i++) expect((await api.request('POST', '/users/password-reset', { body: { email: 'ben@family.test' } })).status).toBe(202);
    await smtp.waitFor(() => smtp.to('ben@family.test').length === 4); // the code + 3 links
    await new Promise((r) => setTimeout(r, 300));
    const links = smtp.to('ben@family.test').slice(1).map((m) => /token=([A-Za-z0-9_-]+)/.exec(m.text ?? '')![1]!);
    expect(links).toHaveLength(3);
    expect(new Set(links).size).toBe(3);
    expect((await api.request('POST', '/users/password-reset/confirm', { body: { token: links[2]!, newPassword: 'ben new password' } })).status).toBe(204);
    expectError(await api.request('POST', '/users/password-reset/confirm', { body: { token: links[0]!, newPassword: 'ben other password' } }), 400, 'RESET_TOKEN_INVALID');
    expect((await login(ben.username, 'ben new password')).status).toBe(200);
  });

  it('emails when a new device signs in, not for the first one nor for a browser update', async () => {
    const cara = await withVerifiedEmail('cara', 'cara@family.test');
    const mails = () => smtp.to('cara@family.test').filter((m) => m.subject === 'New sign-in to your Kith account');
    // signUp's own login (Node's fetch) was the account's first device: no news.
    expect((await login(cara.username, cara.password, FIREFOX_WINDOWS)).status).toBe(200);
    await smtp.waitFor(() => mails().length === 1);
    expect(mails()[0]!.text).toContain('Firefox on Windows');
    expect(mails()[0]!.headers.has('list-unsubscribe')).toBe(false);
    expect((await login(cara.username, cara.password, FIREFOX_WINDOWS_NEWER)).status).toBe(200);
    expect((await login(cara.username, cara.password, CHROME_ANDROID)).status).toBe(200);
    await smtp.waitFor(() => mails().length === 2);
    expect(mails()[1]!.text).toContain('Chrome on Android');
    await new Promise((r) => setTimeout(r, 300));
    expect(mails()).toHaveLength(2);
    // A failed login is no sign-in.
    expect((await login(cara.username, 'wrong password', 'curl/8.5.0')).status).toBe(401);
    await new Promise((r) => setTimeout(r, 300));
    expect(mails()).toHaveLength(2);
  });

  it('names devices coarsely', () => {
    expect(deviceLabel(FIREFOX_WINDOWS)).toBe('Firefox on Windows');
    expect(deviceLabel(CHROME_ANDROID)).toBe('Chrome on Android');
    expect(deviceLabel('Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Version/17.0 Mobile/15E148 Safari/604.1')).toBe('Safari on iPhone');
    expect(deviceLabel('')).toBe('a client that did not say what it is');
  });
});
