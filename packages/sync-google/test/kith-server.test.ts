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

  it('answers GOOGLE_NOT_CONFIGURED when no credentials are set', async () => {
    const k = api(unconfigured.url);
    const owner = await k.signUp('owner');
    const roomId = await k.createRoom(owner.token);
    const res = await k.request('GET', `/google/auth-url?roomId=${roomId}`, { token: owner.token });
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('GOOGLE_NOT_CONFIGURED');
  });
});

/** Whether a refresh token still works at the fake Google (false once its grant is revoked). */
async function refreshWorks(refreshToken: string): Promise<boolean> {
  const client = new OAuth2Client({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, endpoints: fake.oauthEndpoints });
  client.setCredentials({ refresh_token: refreshToken });
  return client.refreshAccessToken().then(
    () => true,
    (err) => (/invalid_grant/.test(String(err?.message)) ? false : Promise.reject(err)),
  );
}

describe('the user who linked a room that remains deletes their account', () => {
  const password = 'correct horse battery';
  let k: ReturnType<typeof api>;
  let state: StateStore;
  let secrets: Secrets;
  beforeAll(() => {
    k = api(kith.url);
    state = StateStore.inDataDir(kithDir);
    secrets = new Secrets(loadMasterKey(kithDir, undefined));
  });
  afterAll(() => state?.close());

  /** Links the room through kith's own routes, signed in to Google as `email`. */
  const linkAs = async (token: string, roomId: string, email: string) => {
    fake.setConsent({ email });
    const auth = await k.request('GET', `/google/auth-url?roomId=${roomId}`, { token });
    const back = await consent(auth.body.url);
    fake.setConsent({});
    const cb = await k.request('GET', `${back.pathname}${back.search}`, { headers: { cookie: cookieFrom(auth.headers) } });
    expect(cb.status).toBe(200);
    return cb.body.calendarId as string;
  };
  /** A room made by `creator` with `other` as a second owner (so it outlives the creator's account). */
  const sharedRoom = async (creator: { token: string }, other: { token: string }) => {
    const roomId = await k.createRoom(creator.token);
    const invite = await k.request('POST', `/rooms/${roomId}/invites`, { token: creator.token, body: { role: 'owner' } });
    expect((await k.request('POST', `/invites/${invite.body.code}/accept`, { token: other.token })).status).toBe(200);
    return roomId;
  };
  const refreshTokenOf = (roomId: string) => (JSON.parse(secrets.decrypt(state.link(roomId)!.tokens, roomId)) as { refresh_token: string }).refresh_token;
  const addEvent = async (token: string, roomId: string, eventTitle: string, day: string) => {
    const res = await k.request('POST', `/rooms/${roomId}/events`, {
      token,
      body: { eventTitle, startTime: `${day}T10:00`, endTime: `${day}T11:00`, timeZone: 'Europe/Berlin' },
    });
    expect(res.status).toBe(201);
  };
  const inGoogle = (calendarId: string, title: string) => fake.events(calendarId).some((e) => e.summary === title && e.status !== 'cancelled');
  /** The link as the state file holds it once its user was deleted: stopped, needing a new link, no tokens left. */
  const expectStopped = (roomId: string) => {
    const link = state.link(roomId)!;
    expect(link).toMatchObject({ status: 'needs_reauth', statusReason: 'LINKED_USER_DELETED', tokens: '', grantKey: null, channelId: null });
  };

  it('stops the link at once: paused for a new link, tokens erased, grant revoked, nothing more sent with it; the other owner links again', async () => {
    const leaving = await k.signUp('leaving');
    const staying = await k.signUp('staying');
    const roomId = await sharedRoom(leaving, staying);
    const stamp = Date.now().toString(36);
    const firstCalendar = await linkAs(leaving.token, roomId, `leaving-${stamp}@kith.example`);
    await addEvent(leaving.token, roomId, 'Handed over', '2026-12-08');
    await waitFor(async () => inGoogle(firstCalendar, 'Handed over'), 'event in Google');
    await waitFor(async () => fake.channels().some((c) => c.calendarId === firstCalendar), 'a push channel');
    const leavingToken = refreshTokenOf(roomId);
    expect(await refreshWorks(leavingToken)).toBe(true);
    // Counts every API request for the deleted user's calendar (only their grant reaches it).
    const counter = fake.injectFault({ route: '*', kind: 'delay', delayMs: 1, probability: 1, calendarId: firstCalendar });
    const firedAt = () => fake.faults().active.find((f) => f.id === counter)!.fired;

    try {
      const gone = await k.request('DELETE', '/users/me', { token: leaving.token, body: { password } });
      expect(gone.status).toBe(204);
      // At once, without waiting for a cycle: the old code left the link active with the tokens stored and the grant
      // live until its next cycle paused it (LINKED_USER_CANNOT_EDIT), and the grant until an owner linked again.
      expectStopped(roomId);
      expect(await refreshWorks(leavingToken)).toBe(false);
      expect(state.pendingRevocations()).toBe(0);
      expect(fake.channels().some((c) => c.calendarId === firstCalendar)).toBe(false);

      // The other owner sees a link that needs a new one; the Google routes no longer use the deleted user's grant.
      const view = await k.request('GET', `/rooms/${roomId}/google`, { token: staying.token });
      expect(view.body).toMatchObject({ linked: true, status: 'needs_reauth', needsReauth: true, reason: 'LINKED_USER_DELETED' });
      const statsBefore = fake.stats();
      const firedBefore = firedAt();
      const listed = await k.request('GET', `/google/events?roomId=${roomId}`, { token: staying.token });
      expect({ status: listed.status, code: listed.body?.error?.code }).toEqual({ status: 409, code: 'GOOGLE_NEEDS_REAUTH' });
      await addEvent(staying.token, roomId, 'After the deletion', '2026-12-09');
      await new Promise((r) => setTimeout(r, 500));
      expect(firedAt()).toBe(firedBefore);
      const statsAfter = fake.stats();
      expect(statsAfter.statuses['oauth.token']?.['400'] ?? 0).toBe(statsBefore.statuses['oauth.token']?.['400'] ?? 0);
      const unauthorized = (st: typeof statsAfter) => Object.values(st.statuses).reduce((n, byStatus) => n + (byStatus['401'] ?? 0), 0);
      expect(unauthorized(statsAfter)).toBe(unauthorized(statsBefore));
      expect(inGoogle(firstCalendar, 'After the deletion')).toBe(false);
      expectStopped(roomId);

      // The remaining owner links again with their own Google account (whose check of the old calendar is the next
      // request for it): a new calendar, and the mirror resumes.
      const secondCalendar = await linkAs(staying.token, roomId, `staying-${stamp}@kith.example`);
      expect(secondCalendar).not.toBe(firstCalendar);
      await waitFor(async () => inGoogle(secondCalendar, 'After the deletion') && inGoogle(secondCalendar, 'Handed over'), 'events in the new calendar');
      const after = await k.request('GET', `/rooms/${roomId}/google`, { token: staying.token });
      expect(after.body).toMatchObject({ status: 'active', needsReauth: false, reason: null });
      expect(await refreshWorks(refreshTokenOf(roomId))).toBe(true);
      expect(await refreshWorks(leavingToken)).toBe(false);
    } finally {
      fake.removeFault(counter);
    }
  }, 60_000);

  it('stops every room the user linked with one grant, and revokes that grant once', async () => {
    const leaving = await k.signUp('leaving');
    const staying = await k.signUp('staying');
    const rooms = [await sharedRoom(leaving, staying), await sharedRoom(leaving, staying)];
    const email = `two-rooms-${Date.now().toString(36)}@kith.example`;
    for (const roomId of rooms) await linkAs(leaving.token, roomId, email);
    expect(state.link(rooms[0]!)!.grantKey).toBeTruthy();
    expect(state.link(rooms[1]!)!.grantKey).toBe(state.link(rooms[0]!)!.grantKey);
    const tokens = rooms.map(refreshTokenOf);
    const revokesBefore = fake.stats().requests['oauth.revoke'] ?? 0;

    expect((await k.request('DELETE', '/users/me', { token: leaving.token, body: { password } })).status).toBe(204);
    for (const roomId of rooms) {
      expectStopped(roomId);
      const view = await k.request('GET', `/rooms/${roomId}/google`, { token: staying.token });
      expect(view.body).toMatchObject({ status: 'needs_reauth', needsReauth: true, reason: 'LINKED_USER_DELETED' });
    }
    for (const token of tokens) expect(await refreshWorks(token)).toBe(false);
    expect((fake.stats().requests['oauth.revoke'] ?? 0) - revokesBefore).toBe(1);
    expect(state.pendingRevocations()).toBe(0);
  }, 60_000);

  it('does not revoke a grant that a link of another user still holds (one Google account, two Kith users)', async () => {
    const leaving = await k.signUp('leaving');
    const staying = await k.signUp('staying');
    const sharedWithLeaving = await sharedRoom(leaving, staying);
    const stayingsOwn = await k.createRoom(staying.token);
    // Both link with the family's one Google account: Google keeps one grant for it, and both links hold it.
    const email = `family-${Date.now().toString(36)}@kith.example`;
    await linkAs(leaving.token, sharedWithLeaving, email);
    const ownCalendar = await linkAs(staying.token, stayingsOwn, email);
    expect(state.link(sharedWithLeaving)!.grantKey).toBeTruthy();
    expect(state.link(stayingsOwn)!.grantKey).toBe(state.link(sharedWithLeaving)!.grantKey);
    const leavingToken = refreshTokenOf(sharedWithLeaving);
    const stayingToken = refreshTokenOf(stayingsOwn);
    const revokesBefore = fake.stats().requests['oauth.revoke'] ?? 0;

    expect((await k.request('DELETE', '/users/me', { token: leaving.token, body: { password } })).status).toBe(204);
    // The deleted user's link stops and forgets its tokens, but the grant is not revoked: that would cut off the
    // other user's link.
    expectStopped(sharedWithLeaving);
    expect(state.link(stayingsOwn)).toMatchObject({ status: 'active', userId: expect.any(String) });
    expect((fake.stats().requests['oauth.revoke'] ?? 0) - revokesBefore).toBe(0);
    expect(state.pendingRevocations()).toBe(0);
    expect(await refreshWorks(stayingToken)).toBe(true);
    expect(await refreshWorks(leavingToken)).toBe(true);
    await addEvent(staying.token, stayingsOwn, 'Still mirrored', '2026-12-10');
    await waitFor(async () => inGoogle(ownCalendar, 'Still mirrored'), 'the other link to keep mirroring');
    expect(state.link(stayingsOwn)!.status).toBe('active');
  }, 60_000);
});

