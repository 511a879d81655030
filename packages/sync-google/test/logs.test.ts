/**
 * No secret of the Google link reaches a log line: kith-server runs the mirror at log level trace with every
 * line captured, through a whole link (consent, callback), mirroring both ways with push notifications, a
 * failed Google call, an access token refresh, and an unlink whose revocation fails; then the captured text is searched for every
 * secret the flow handled.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { calendarModule, createLogger, defaultConfig, startKithServer, type KithServer } from '@kith/server';
import { startFakeGoogle, type FakeGoogle } from '@kith/fake-google';
import { freePort } from '@kith/test-support';
import { defaultGoogleConfig, googleModule, StateStore } from '../src/index.js';
import { loadMasterKey, Secrets } from '../src/secrets.js';
import { CLIENT_ID, CLIENT_SECRET, api, consent, cookieFrom } from './helpers.js';

let fake: FakeGoogle;
let kith: KithServer;
let dataDir: string;
const logged: string[] = [];

beforeAll(async () => {
  fake = await startFakeGoogle({ port: 0 });
  const port = await freePort();
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kith-google-logs-'));
  const base = defaultConfig();
  kith = await startKithServer(
    defaultConfig({ port, dataDir, logLevel: 'trace', jwtSecret: 'google-logs-secret-0123456789abcdefghijklmnop', limits: { ...base.limits, loginPerMinute: 1000 } }),
    {
      logger: createLogger('trace', { write: (line: string) => void logged.push(line) }),
      modules: [
        calendarModule(),
        googleModule(
          defaultGoogleConfig({
            clientId: CLIENT_ID,
            clientSecret: CLIENT_SECRET,
            redirectUrl: `http://127.0.0.1:${port}/google/callback`,
            webhookUrl: `http://127.0.0.1:${port}`,
            apiRootUrl: fake.rootUrl,
            oauthBaseUrl: fake.url,
          }),
        ),
      ],
    },
  );
}, 60_000);

afterAll(async () => {
  await kith?.close();
  await fake?.close();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

const waitFor = async (what: string, check: () => Promise<boolean> | boolean, timeoutMs = 20_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

/** The link's tokens as stored (decrypted the way the worker does). */
function storedTokens(roomId: string): { access_token?: string; refresh_token?: string } {
  const store = StateStore.inDataDir(dataDir);
  try {
    const link = store.link(roomId)!;
    return JSON.parse(new Secrets(loadMasterKey(dataDir, undefined)).decrypt(link.tokens, roomId));
  } finally {
    store.close();
  }
}

describe('logs of a Google link', () => {
  it('hold no OAuth code, state, browser secret, access or refresh token, client secret or Kith token', async () => {
    const k = api(kith.url);
    const username = `logs${Date.now().toString(36)}`;
    await k.request('POST', '/users/register', { body: { username, password: 'correct horse battery' } });
    const token = (await k.request('POST', '/users/login', { body: { username, password: 'correct horse battery' } })).body.token as string;
    const roomId = (await k.request('POST', '/rooms', { token, body: { name: 'Family' } })).body.roomId as string;

    const auth = await k.request('GET', `/google/auth-url?roomId=${roomId}`, { token });
    expect(auth.status).toBe(200);
    const cookie = cookieFrom(auth.headers);
    const back = await consent(auth.body.url);
    const cb = await k.request('GET', `${back.pathname}${back.search}`, { headers: { cookie } });
    expect(cb.status).toBe(200);
    const calendarId = cb.body.calendarId as string;
    const first = storedTokens(roomId);

    // Both ways, with one failed Google call on the way out (logged with its error).
    fake.injectFault({ route: 'events.insert', kind: 'backendError', count: 1 });
    await k.request('POST', `/rooms/${roomId}/events`, {
      token,
      body: { eventTitle: 'Swimming', startTime: '2026-12-05T10:00', endTime: '2026-12-05T11:00', timeZone: 'Europe/Berlin' },
    });
    await waitFor('the event in Google', () => fake.events(calendarId).some((e) => e.summary === 'Swimming'));
    fake.ui.insertEvent(calendarId, { summary: 'Made in Google', start: { date: '2026-12-07' }, end: { date: '2026-12-08' } } as never);
    await waitFor('the Google event in the room', async () => {
      const occ = await k.request('GET', `/rooms/${roomId}/events?from=2026-12-01T00:00:00Z&to=2026-12-31T00:00:00Z`, { token });
      return occ.body.occurrences?.some((o: { eventTitle: string }) => o.eventTitle === 'Made in Google');
    });

    // The access token expires at Google: the worker refreshes it.
    fake.expireAccessTokens();
    await k.request('POST', `/rooms/${roomId}/events`, {
      token,
      body: { eventTitle: 'After refresh', startTime: '2026-12-09T10:00', endTime: '2026-12-09T11:00', timeZone: 'Europe/Berlin' },
    });
    await waitFor('the second event in Google', () => fake.events(calendarId).some((e) => e.summary === 'After refresh'));
    const refreshed = storedTokens(roomId);
    expect(refreshed.access_token).not.toBe(first.access_token);

    // Unlink while Google's revoke endpoint fails (the revoke URL carries the token): queued, not logged.
    fake.injectFault({ route: 'oauth.revoke', kind: 'serviceUnavailable', count: 8 });
    expect((await k.request('DELETE', `/rooms/${roomId}/google`, { token })).status).toBe(204);

    const secrets = {
      code: back.searchParams.get('code')!,
      state: back.searchParams.get('state')!,
      stateSignature: back.searchParams.get('state')!.split('.')[1]!,
      browserSecret: cookie.split('=')[1]!,
      firstAccessToken: first.access_token!,
      refreshedAccessToken: refreshed.access_token!,
      refreshToken: first.refresh_token!,
      clientSecret: CLIENT_SECRET,
      kithToken: token,
    };
    const text = logged.join('');
    // The capture is real: the flow's requests and the worker's lines are in it.
    expect(text).toContain('/google/callback');
    expect(text).toContain('"component":"sync-google"');
    const leaked = Object.entries(secrets)
      .filter(([, v]) => v.length >= 16 && text.includes(v))
      .map(([k]) => k);
    expect(leaked).toEqual([]);
    expect(Object.values(secrets).every((v) => v.length >= 16)).toBe(true);
  }, 90_000);
});
