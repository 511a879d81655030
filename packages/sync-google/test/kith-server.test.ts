/**
 * End to end through kith-server itself: started with Google credentials pointing at the fake, it
 * mounts the mirror (routes and in-process worker); an event created over kith's REST API reaches
 * Google, and one created in Google's UI reaches the room.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountModule, calendarModule, defaultConfig, startKithServer, type KithServer } from '@kith/server';
import { OAuth2Client } from 'google-auth-library';
import { defaultGoogleConfig, googleModule, StateStore } from '../src/index.js';
import { loadMasterKey, Secrets } from '../src/secrets.js';
import { startFakeGoogle, type FakeGoogle } from '@kith/fake-google';
import { CLIENT_ID, CLIENT_SECRET, api as rawApi, consent, cookieFrom } from './helpers.js';
import { freePort } from '@kith/test-support';

let fake: FakeGoogle;
let kith: KithServer;
let kithDir: string;
let unconfigured: KithServer;

/** kith's REST API with sign-up and room helpers. */
function api(baseUrl: string) {
  const r = rawApi(baseUrl);
  let n = 0;
  return {
    request: r.request,
    async signUp(prefix: string) {
      const username = `${prefix}${Date.now().toString(36)}${n++}`;
      await r.request('POST', '/users/register', { body: { username, password: 'correct horse battery' } });
      const login = await r.request('POST', '/users/login', { body: { username, password: 'correct horse battery' } });
      return { username, token: login.body.token as string };
    },
    async createRoom(token: string) {
      return (await r.request('POST', '/rooms', { token, body: { name: 'Family' } })).body.roomId as string;
    },
  };
}

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'kith-google-e2e-'));
const waitFor = async (check: () => Promise<boolean>, what: string, timeoutMs = 15_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

beforeAll(async () => {
  fake = await startFakeGoogle({ port: 0 });
  const base = defaultConfig();
  // A fixed port, so that the OAuth redirect URL can name it before the server starts.
  const port = await freePort();
  kithDir = tmp();
  kith = await startKithServer(
    defaultConfig({
      port,
      dataDir: kithDir,
      logLevel: 'silent',
      jwtSecret: 'google-e2e-secret-0123456789abcdefghijklmnop',
      limits: { ...base.limits, loginPerMinute: 1000 },
    }),
    {
      modules: [
        calendarModule(),
        accountModule(),
        googleModule(
          defaultGoogleConfig({
            clientId: CLIENT_ID,
            clientSecret: CLIENT_SECRET,
            redirectUrl: `http://127.0.0.1:${port}/google/callback`,
            // Push notifications (the fake allows plain http on loopback) make Google's changes arrive at once.
            webhookUrl: `http://127.0.0.1:${port}`,
            apiRootUrl: fake.rootUrl,
            oauthBaseUrl: fake.url,
          }),
        ),
      ],
    },
  );
  unconfigured = await startKithServer(
    defaultConfig({ port: 0, dataDir: tmp(), logLevel: 'silent', jwtSecret: 'google-e2e-secret-0123456789abcdefghijklmnop' }),
    { modules: [calendarModule(), googleModule(defaultGoogleConfig())] },
  );
}, 60_000);

afterAll(async () => {
  await kith?.close();
  await unconfigured?.close();
  await fake?.close();
});

describe('kith-server with Google configured', () => {
  it('links a room through its own /google routes and mirrors a REST-created event to Google and back', async () => {
    const k = api(kith.url);
    const owner = await k.signUp('owner');
    const roomId = await k.createRoom(owner.token);
    const auth = await k.request('GET', `/google/auth-url?roomId=${roomId}`, { token: owner.token });
    expect(auth.status).toBe(200);
    const back = await consent(auth.body.url);
    // The same browser: the cookie auth-url set goes along to the callback.
    const cb = await k.request('GET', `${back.pathname}${back.search}`, { headers: { cookie: cookieFrom(auth.headers) } });
    expect(cb.status).toBe(200);
    const calendarId = cb.body.calendarId as string;

    const created = await k.request('POST', `/rooms/${roomId}/events`, {
      token: owner.token,
      body: { eventTitle: 'Swimming', startTime: '2026-12-05T10:00', endTime: '2026-12-05T11:00', timeZone: 'Europe/Berlin' },
    });
    expect(created.status).toBe(201);
    await waitFor(async () => fake.events(calendarId).some((e) => e.summary === 'Swimming'), 'event in Google');

    fake.ui.insertEvent(calendarId, {
      summary: 'Made in Google',
      start: { dateTime: '2026-12-06T09:00:00+01:00', timeZone: 'Europe/Berlin' },
      end: { dateTime: '2026-12-06T10:00:00+01:00', timeZone: 'Europe/Berlin' },
    } as never);
    await waitFor(async () => {
      const occ = await k.request('GET', `/rooms/${roomId}/events?from=2026-12-01T00:00:00Z&to=2026-12-31T00:00:00Z`, {
        token: owner.token,
      });
      return occ.body.occurrences?.some((o: { eventTitle: string }) => o.eventTitle === 'Made in Google');
    }, 'Google event in the room');

    const status = await k.request('GET', `/rooms/${roomId}/google`, { token: owner.token });
    expect(status.status).toBe(200);
  }, 60_000);

  it('unlinks a room deleted with its owner\'s account: the Google grant is revoked and the tokens forgotten', async () => {
    const k = api(kith.url);
    const owner = await k.signUp('leaving');
    const roomId = await k.createRoom(owner.token);
    // A Google account of its own: Google keeps one grant per account and client, and the other test's link holds the default one.
    fake.setConsent({ email: `leaving-${Date.now().toString(36)}@kith.example` });
    const auth = await k.request('GET', `/google/auth-url?roomId=${roomId}`, { token: owner.token });
    const back = await consent(auth.body.url);
    fake.setConsent({});
    const cb = await k.request('GET', `${back.pathname}${back.search}`, { headers: { cookie: cookieFrom(auth.headers) } });
    expect(cb.status).toBe(200);
    const calendarId = cb.body.calendarId as string;
    await k.request('POST', `/rooms/${roomId}/events`, {
      token: owner.token,
      body: { eventTitle: 'Last one', startTime: '2026-12-07T10:00', endTime: '2026-12-07T11:00', timeZone: 'Europe/Berlin' },
    });
    await waitFor(async () => fake.events(calendarId).some((e) => e.summary === 'Last one'), 'event in Google');

    const state = StateStore.inDataDir(kithDir);
    const refreshWorks = async (refreshToken: string) => {
      const client = new OAuth2Client({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, endpoints: fake.oauthEndpoints });
      client.setCredentials({ refresh_token: refreshToken });
      return client.refreshAccessToken().then(() => true, (err) => (/invalid_grant/.test(String(err?.message)) ? false : Promise.reject(err)));
    };
    try {
      const link = state.link(roomId)!;
      const { refresh_token } = JSON.parse(new Secrets(loadMasterKey(kithDir, undefined)).decrypt(link.tokens, roomId)) as { refresh_token: string };
      expect(await refreshWorks(refresh_token)).toBe(true);

      const gone = await k.request('DELETE', '/users/me', { token: owner.token, body: { password: 'correct horse battery', soleOwnedRooms: [{ roomId, action: 'delete' }] } });
      expect(gone.status).toBe(204);
      // The old code kept the link for good (no one could unlink a room that no longer exists): the tokens stayed
      // in the state file and Kith kept its access to the account's calendar.
      await waitFor(async () => state.link(roomId) === undefined, 'the link to be forgotten');
      expect(state.mirrorRows(roomId)).toEqual([]);
      await waitFor(async () => !(await refreshWorks(refresh_token)), 'the grant to be revoked');
      // As with an unlink, the Google calendar and its events stay.
      expect(fake.events(calendarId).some((e) => e.summary === 'Last one' && e.status !== 'cancelled')).toBe(true);
    } finally {
      state.close();
    }
  }, 60_000);

  it('an owner linking a room again after the linking user deleted their account revokes that user\'s grant', async () => {
    const k = api(kith.url);
    const leaving = await k.signUp('leaving');
    const staying = await k.signUp('staying');
    const roomId = await k.createRoom(leaving.token);
    const invite = await k.request('POST', `/rooms/${roomId}/invites`, { token: leaving.token, body: { role: 'owner' } });
    expect((await k.request('POST', `/invites/${invite.body.code}/accept`, { token: staying.token })).status).toBe(200);
    const linkAs = async (token: string, email: string) => {
      fake.setConsent({ email });
      const auth = await k.request('GET', `/google/auth-url?roomId=${roomId}`, { token });
      const back = await consent(auth.body.url);
      fake.setConsent({});
      const cb = await k.request('GET', `${back.pathname}${back.search}`, { headers: { cookie: cookieFrom(auth.headers) } });
      expect(cb.status).toBe(200);
      return cb.body.calendarId as string;
    };
    const stamp = Date.now().toString(36);
    const firstCalendar = await linkAs(leaving.token, `leaving-${stamp}@kith.example`);
    await k.request('POST', `/rooms/${roomId}/events`, {
      token: leaving.token,
      body: { eventTitle: 'Handed over', startTime: '2026-12-08T10:00', endTime: '2026-12-08T11:00', timeZone: 'Europe/Berlin' },
    });
    await waitFor(async () => fake.events(firstCalendar).some((e) => e.summary === 'Handed over'), 'event in Google');

    const state = StateStore.inDataDir(kithDir);
    const secrets = new Secrets(loadMasterKey(kithDir, undefined));
    const refreshWorks = async (refreshToken: string) => {
      const client = new OAuth2Client({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, endpoints: fake.oauthEndpoints });
      client.setCredentials({ refresh_token: refreshToken });
      return client.refreshAccessToken().then(() => true, (err) => (/invalid_grant/.test(String(err?.message)) ? false : Promise.reject(err)));
    };
    try {
      const { refresh_token: leavingToken } = JSON.parse(secrets.decrypt(state.link(roomId)!.tokens, roomId)) as { refresh_token: string };
      // The room has another owner: deleting the account hands it over, and the link pauses (the room stays).
      const gone = await k.request('DELETE', '/users/me', { token: leaving.token, body: { password: 'correct horse battery' } });
      expect(gone.status).toBe(204);
      await k.request('POST', `/rooms/${roomId}/events`, {
        token: staying.token,
        body: { eventTitle: 'After the hand-over', startTime: '2026-12-09T10:00', endTime: '2026-12-09T11:00', timeZone: 'Europe/Berlin' },
      });
      await waitFor(async () => state.link(roomId)?.status === 'paused', 'the link to pause');
      expect(state.link(roomId)!.statusReason).toBe('LINKED_USER_CANNOT_EDIT');

      // The remaining owner links the room again with their own Google account: a new calendar, and the deleted
      // user's grant (no other link holds it) is revoked. The old code replaced the tokens and left the grant live.
      const secondCalendar = await linkAs(staying.token, `staying-${stamp}@kith.example`);
      expect(secondCalendar).not.toBe(firstCalendar);
      await waitFor(async () => !(await refreshWorks(leavingToken)), 'the replaced grant to be revoked', 5_000);
      await waitFor(async () => fake.events(secondCalendar).some((e) => e.summary === 'After the hand-over'), 'event in the new calendar');
      const { refresh_token: stayingToken } = JSON.parse(secrets.decrypt(state.link(roomId)!.tokens, roomId)) as { refresh_token: string };
      expect(await refreshWorks(stayingToken)).toBe(true);
      expect(state.pendingRevocations()).toBe(0);
    } finally {
      state.close();
    }
  }, 60_000);

  it('answers GOOGLE_NOT_CONFIGURED when no credentials are set', async () => {
    const k = api(unconfigured.url);
    const owner = await k.signUp('owner');
    const roomId = await k.createRoom(owner.token);
    const res = await k.request('GET', `/google/auth-url?roomId=${roomId}`, { token: owner.token });
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('GOOGLE_NOT_CONFIGURED');
  });
});
