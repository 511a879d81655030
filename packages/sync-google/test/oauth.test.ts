/**
 * OAuth 2.0 and the REST routes: consent URL, callback, state checks, tokens at rest, refresh failure
 * (invalid_grant) and re-authorisation, unlinking with revocation, who may see and do what, and the
 * answers of a server without Google credentials.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEvent, getEvent, updateEvent } from '@kith/model';
import { OAuth2Client } from 'google-auth-library';
import { googleIdFor } from '../src/runner.js';
import { STATE_FILE } from '../src/store.js';
import { CLIENT_ID, CLIENT_SECRET, consent, cookieFrom, edit, GOOGLE_USER, linkRoom, linkedRoom, me, startRig, type Rig } from './helpers.js';

let rig: Rig;
beforeAll(async () => {
  rig = await startRig();
});
afterAll(async () => {
  await rig?.close();
});

function expectError(res: { status: number; body: any; headers: Headers }, status: number, code: string): void {
  expect({ status: res.status, code: res.body?.error?.code }).toEqual({ status, code });
  expect(Object.keys(res.body)).toEqual(['error']);
  expect(typeof res.body.error.message).toBe('string');
  expect(res.body.error.message.length).toBeGreaterThan(0);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
}

/** The test's browser: the cookie our auth-url set (a browser keeps it and sends it to the callback). */
let browserCookie = '';

async function authUrl(token: string, roomId: string, cookie = browserCookie): Promise<URL> {
  const res = await rig.appApi.request('GET', `/google/auth-url?roomId=${roomId}`, { token, headers: cookie ? { cookie } : {} });
  expect(res.status).toBe(200);
  if (cookie === browserCookie) browserCookie = cookieFrom(res.headers) || browserCookie;
  return new URL(res.body.url);
}

/** Sends a browser to our callback with whatever the consent screen redirected to (or something altered). */
async function callback(url: URL, cookie = browserCookie): Promise<{ status: number; body: any; headers: Headers }> {
  return rig.appApi.request('GET', `${url.pathname}${url.search}`, { headers: cookie ? { cookie } : {} });
}

let accountCounter = 0;
/** A Google account of its own: Google keeps one grant per (account, client), so revoking it touches nothing else. */
const ownGoogleAccount = (): string => `family-${++accountCounter}-${Date.now().toString(36)}@kith.example`;

/** Links a room through the consent screen, signed in to Google as `googleUser`. */
async function linkAs(googleUser: string, token: string, roomId: string): Promise<{ calendarId: string }> {
  rig.fake.setConsent({ email: googleUser });
  try {
    return await linkRoom(rig, token, roomId);
  } finally {
    rig.fake.setConsent({});
  }
}

/** Whether a refresh token still works at Google. */
async function refreshWorks(refreshToken: string): Promise<boolean> {
  const client = new OAuth2Client({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, endpoints: rig.fake.oauthEndpoints });
  client.setCredentials({ refresh_token: refreshToken });
  return client.refreshAccessToken().then(
    () => true,
    (err) => {
      if (/invalid_grant/.test(String(err?.message))) return false;
      throw err;
    },
  );
}

/** A room with an owner, an editor, a viewer and an outsider. */
async function household() {
  const owner = await rig.signUp('owner');
  const editor = await rig.signUp('editor');
  const viewer = await rig.signUp('viewer');
  const outsider = await rig.signUp('outsider');
  const roomId = await rig.createRoom(owner.token);
  for (const [m, role] of [
    [editor, 'editor'],
    [viewer, 'viewer'],
  ] as const) {
    const inv = await rig.kithApi.request('POST', `/rooms/${roomId}/invites`, { token: owner.token, body: { role } });
    const acc = await rig.kithApi.request('POST', `/invites/${inv.body.code}/accept`, { token: m.token });
    expect(acc.status).toBe(200);
  }
  return { owner, editor, viewer, outsider, roomId };
}

describe('consent URL', () => {
  it('asks for offline access with PKCE (S256), the narrow calendar.app.created scope and a signed state, for owners only', async () => {
    const { owner, editor, outsider, roomId } = await household();
    const url = await authUrl(owner.token, roomId);
    expect(url.origin + url.pathname).toBe(`${rig.fake.url}/o/oauth2/v2/auth`);
    const q = url.searchParams;
    expect(q.get('access_type')).toBe('offline');
    expect(q.get('prompt')).toBe('consent');
    expect(q.get('scope')).toBe('https://www.googleapis.com/auth/calendar.app.created');
    expect(q.get('code_challenge_method')).toBe('S256');
    expect(q.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(q.get('client_id')).toBe(CLIENT_ID);
    expect(q.get('redirect_uri')).toBe(`${rig.appUrl}/google/callback`);
    expect(q.get('response_type')).toBe('code');
    expect(q.get('state')).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);

    expectError(await rig.appApi.request('GET', `/google/auth-url?roomId=${roomId}`, { token: editor.token }), 403, 'FORBIDDEN');
    expectError(await rig.appApi.request('GET', `/google/auth-url?roomId=${roomId}`, { token: outsider.token }), 404, 'ROOM_NOT_FOUND');
    expectError(await rig.appApi.request('GET', `/google/auth-url?roomId=${roomId}`), 401, 'UNAUTHENTICATED');
    expectError(await rig.appApi.request('GET', `/google/auth-url`, { token: owner.token }), 400, 'VALIDATION_FAILED');
  });
});

describe('callback', () => {
  it('exchanges the code, stores the tokens encrypted, creates a dedicated calendar and links the room', async () => {
    const { owner, viewer, roomId } = await household();
    const back = await consent((await authUrl(owner.token, roomId)).toString());
    const res = await callback(back);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ linked: true, roomId, status: 'active' });
    const cal = rig.fake.calendars(GOOGLE_USER).find((c: any) => c.id === res.body.calendarId) as any;
    expect(cal).toMatchObject({ summary: 'Kith: Family', timeZone: 'UTC', primary: false });

    const link = rig.worker.store.link(roomId)!;
    expect(link.tokens.startsWith('v1.')).toBe(true);
    const creds = rig.worker.credentialsOf(link);
    expect(creds.refresh_token).toMatch(/^1\/\/0/);
    rig.worker.store.db.pragma('wal_checkpoint(TRUNCATE)');
    const file = fs.readFileSync(path.join(rig.options.dataDir, STATE_FILE));
    expect(file.includes(creds.refresh_token!)).toBe(false);
    expect(file.includes(creds.access_token!)).toBe(false);

    // Status is visible to every member, not to others.
    const status = await rig.appApi.request('GET', `/rooms/${roomId}/google`, { token: viewer.token });
    expect(status.status).toBe(200);
    expect(status.body).toMatchObject({ linked: true, status: 'active', needsReauth: false, calendarId: res.body.calendarId, lastError: null });
    expect(typeof status.body.lastSyncAt === 'string' || status.body.lastSyncAt === null).toBe(true);
  });

  it('refuses a tampered, missing or reused state, and a consent that was denied or lacks the scope', async () => {
    const { owner, roomId } = await household();
    const other = await rig.signUp('other');
    const otherRoom = await rig.createRoom(other.token);

    // Tampered: the payload names another room; the signature no longer matches.
    const back = await consent((await authUrl(owner.token, roomId)).toString());
    const [payload, mac] = back.searchParams.get('state')!.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString());
    const forgedPayload = Buffer.from(JSON.stringify({ ...claims, r: otherRoom })).toString('base64url');
    const tampered = new URL(back);
    tampered.searchParams.set('state', `${forgedPayload}.${mac}`);
    expectError(await callback(tampered), 400, 'GOOGLE_STATE_INVALID');
    const noState = new URL(back);
    noState.searchParams.delete('state');
    expectError(await callback(noState), 400, 'GOOGLE_STATE_INVALID');

    // The genuine one works once; a replay is refused.
    expect((await callback(back)).status).toBe(200);
    expectError(await callback(back), 400, 'GOOGLE_STATE_INVALID');
    expect(rig.worker.store.link(otherRoom)).toBeUndefined();

    // Denied at the consent screen.
    const room2 = await rig.createRoom(owner.token, 'Second');
    rig.fake.setConsent({ deny: true });
    const denied = await consent((await authUrl(owner.token, room2)).toString());
    rig.fake.setConsent({});
    expectError(await callback(denied), 403, 'GOOGLE_CONSENT_DENIED');

    // The user unticked the calendar permission.
    rig.fake.setConsent({ dropScopes: ['https://www.googleapis.com/auth/calendar.app.created'] });
    const narrow = await consent((await authUrl(owner.token, room2)).toString());
    rig.fake.setConsent({});
    expectError(await callback(narrow), 403, 'GOOGLE_SCOPE_MISSING');
    expect(rig.worker.store.link(room2)).toBeUndefined();
  });

  it('binds the state to the browser that asked: a callback carried to another browser is refused and links nothing', async () => {
    const { owner, roomId } = await household();
    // The owner's browser asks for a consent URL: it gets a short-lived HttpOnly, SameSite=Lax cookie.
    const res = await rig.appApi.request('GET', `/google/auth-url?roomId=${roomId}`, { token: owner.token });
    expect(res.status).toBe(200);
    const setCookie = res.headers.get('set-cookie')!;
    expect(setCookie).toMatch(/^kith-google-oauth=[A-Za-z0-9_-]{43}; /);
    expect(setCookie.split('; ').slice(1).sort()).toEqual(['HttpOnly', 'Max-Age=600', 'Path=/', 'SameSite=Lax']);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const ownerBrowser = cookieFrom(res.headers);
    const back = await consent(res.body.url);

    // Another browser (no cookie, or its own cookie from its own auth-url call) is refused; nothing is linked.
    const other = await rig.signUp('other');
    const otherRoom = await rig.createRoom(other.token);
    const otherRes = await rig.appApi.request('GET', `/google/auth-url?roomId=${otherRoom}`, { token: other.token });
    const otherBrowser = cookieFrom(otherRes.headers);
    expect(otherBrowser).not.toBe(ownerBrowser);
    expectError(await callback(back, ''), 403, 'GOOGLE_STATE_OTHER_BROWSER');
    expectError(await callback(back, otherBrowser), 403, 'GOOGLE_STATE_OTHER_BROWSER');
    expectError(await callback(back, 'kith-google-oauth=not-a-secret'), 403, 'GOOGLE_STATE_OTHER_BROWSER');
    expect(rig.worker.store.link(roomId)).toBeUndefined();
    expect(rig.worker.store.link(otherRoom)).toBeUndefined();

    // The browser that asked succeeds (the refused attempts did not use the state up); a replay then fails.
    const ok = await callback(back, ownerBrowser);
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ linked: true, roomId });
    expectError(await callback(back, ownerBrowser), 400, 'GOOGLE_STATE_INVALID');

    // Two flows started in two tabs of one browser share its secret, so both finish.
    const tab1 = await rig.createRoom(owner.token, 'Tab 1');
    const tab2 = await rig.createRoom(owner.token, 'Tab 2');
    const first = await rig.appApi.request('GET', `/google/auth-url?roomId=${tab1}`, { token: owner.token, headers: { cookie: ownerBrowser } });
    const second = await rig.appApi.request('GET', `/google/auth-url?roomId=${tab2}`, { token: owner.token, headers: { cookie: ownerBrowser } });
    expect(cookieFrom(first.headers)).toBe(ownerBrowser);
    expect(cookieFrom(second.headers)).toBe(ownerBrowser);
    const back1 = await consent(first.body.url);
    const back2 = await consent(second.body.url);
    expect((await callback(back2, ownerBrowser)).status).toBe(200);
    expect((await callback(back1, ownerBrowser)).status).toBe(200);
  });

  it('refuses a state older than ten minutes', async () => {
    const u = await rig.signUp();
    const roomId = await rig.createRoom(u.token);
    const back = await consent((await authUrl(u.token, roomId)).toString());
    rig.clock.offset = 11 * 60_000;
    try {
      const cb = await callback(back);
      expectError(cb, 400, 'GOOGLE_STATE_INVALID');
      expect(cb.body.error.message).toMatch(/expired/);
    } finally {
      rig.clock.offset = 0;
    }
  });

  it('refuses the callback when the user who asked is no longer an owner', async () => {
    const { owner, editor, roomId } = await household();
    const back = await consent((await authUrl(owner.token, roomId)).toString());
    // Hand ownership over, then step down.
    await rig.kithApi.request('PATCH', `/rooms/${roomId}/members/${editor.userId}`, { token: owner.token, body: { role: 'owner' } });
    await rig.kithApi.request('PATCH', `/rooms/${roomId}/members/${owner.userId}`, { token: editor.token, body: { role: 'viewer' } });
    expectError(await callback(back), 403, 'FORBIDDEN');
  });
});

describe('refresh failure and re-authorisation', () => {
  it('marks the link as needing re-authorisation on invalid_grant, pauses it keeping changes, and flushes them after a new consent', async () => {
    const { token, roomId, calendarId } = await linkedRoom(rig);
    const id = await edit(rig, roomId, (doc) => createEvent(doc, { title: 'Before revoke', start: '2027-03-01', end: '2027-03-02' }, me));
    await rig.worker.syncNow(roomId);
    const gid = googleIdFor(roomId, id, '', 0);
    expect(rig.fake.event(calendarId, gid)).toBeDefined();

    // The user removes the app in their Google account: the access token stops working, refresh fails.
    const link = rig.worker.store.link(roomId)!;
    rig.fake.revokeToken(rig.worker.credentialsOf(link).refresh_token!);
    await edit(rig, roomId, (doc) => updateEvent(doc, id, { title: 'Changed while revoked' }, me));
    const later = await edit(rig, roomId, (doc) => createEvent(doc, { title: 'Made while revoked', start: '2027-03-03', end: '2027-03-04' }, me));
    await rig.worker.syncNow(roomId);

    const status = await rig.appApi.request('GET', `/rooms/${roomId}/google`, { token });
    expect(status.body).toMatchObject({ status: 'needs_reauth', needsReauth: true, reason: 'invalid_grant', pendingChanges: 2 });
    expect(rig.fake.event(calendarId, gid)).toMatchObject({ summary: 'Before revoke' });
    // Paused: no more requests while it waits.
    const requests = rig.fake.stats().requests['events.list'] ?? 0;
    await rig.worker.syncNow(roomId);
    expect(rig.fake.stats().requests['events.list'] ?? 0).toBe(requests);
    expectError(await rig.appApi.request('GET', `/google/events?roomId=${roomId}`, { token }), 409, 'GOOGLE_NEEDS_REAUTH');

    // An owner consents again: same calendar, pending changes go out.
    const again = await linkRoom(rig, token, roomId);
    expect(again.calendarId).toBe(calendarId);
    await rig.worker.syncNow(roomId);
    expect(rig.fake.event(calendarId, gid)).toMatchObject({ summary: 'Changed while revoked' });
    expect(rig.fake.event(calendarId, googleIdFor(roomId, later, '', 0))).toMatchObject({ summary: 'Made while revoked' });
    const after = await rig.appApi.request('GET', `/rooms/${roomId}/google`, { token });
    expect(after.body).toMatchObject({ status: 'active', needsReauth: false, pendingChanges: 0 });
  });

  it('rests while the link waits for re-authorisation: no cycle runs until something happens, and a room edit looks once', async () => {
    const google = ownGoogleAccount();
    const owner = await rig.signUp('owner');
    const roomId = await rig.createRoom(owner.token);
    const { calendarId } = await linkAs(google, owner.token, roomId);
    const id = await edit(rig, roomId, (doc) => createEvent(doc, { title: 'Before revoke', start: '2027-03-08', end: '2027-03-09' }, me));
    await rig.worker.syncNow(roomId);
    rig.fake.revokeToken(rig.worker.credentialsOf(rig.worker.store.link(roomId)!).refresh_token!);
    await edit(rig, roomId, (doc) => updateEvent(doc, id, { title: 'Changed while revoked' }, me));
    await rig.worker.syncNow(roomId);
    expect((await rig.worker.status(roomId))!).toMatchObject({ status: 'needs_reauth', pendingChanges: 1 });

    const runner = rig.worker.runner(roomId)!;
    const requests = () => Object.values(rig.fake.stats().requests).reduce((sum, n) => sum + n, 0);
    const cycles = runner.counters.cycles;
    const before = requests();
    await new Promise((r) => setTimeout(r, 1_000));
    // The old code ran the cycle again every debounce (10 ms here, 250 ms by default) for as long as the link waited.
    expect(runner.counters.cycles - cycles).toBe(0);
    // A room edit wakes it: it looks at the link, asks Google nothing, and rests again.
    await edit(rig, roomId, (doc) => updateEvent(doc, id, { title: 'Changed again' }, me));
    await new Promise((r) => setTimeout(r, 500));
    expect(runner.counters.cycles - cycles).toBeGreaterThanOrEqual(1);
    expect(runner.counters.cycles - cycles).toBeLessThanOrEqual(2);
    expect(requests()).toBe(before);

    // A new consent resumes it with the changes kept.
    await linkAs(google, owner.token, roomId);
    await rig.worker.syncNow(roomId);
    expect(rig.fake.event(calendarId, googleIdFor(roomId, id, '', 0))).toMatchObject({ summary: 'Changed again' });
  });

  it('marks the link as needing re-authorisation when Google refuses its access even after a refresh, and rests', async () => {
    const google = ownGoogleAccount();
    const owner = await rig.signUp('owner');
    const roomId = await rig.createRoom(owner.token);
    const { calendarId } = await linkAs(google, owner.token, roomId);
    const id = await edit(rig, roomId, (doc) => createEvent(doc, { title: 'Before refusal', start: '2027-03-10', end: '2027-03-11' }, me));
    await rig.worker.syncNow(roomId);
    const gid = googleIdFor(roomId, id, '', 0);
    expect(rig.fake.event(calendarId, gid)).toBeDefined();

    // Google still takes the refresh token (each refresh gives a new access token) but answers every call 401 authError.
    const refusal = rig.fake.injectFault({ route: '*', kind: 'unauthorized', probability: 1, calendarId });
    const refreshes = () => rig.fake.stats().requests['oauth.token'] ?? 0;
    const refreshed = refreshes();
    await edit(rig, roomId, (doc) => updateEvent(doc, id, { title: 'Changed while refused' }, me));
    // The old code backed off and tried again, for good: the link stayed active.
    const deadline = Date.now() + 5_000;
    while (rig.worker.store.link(roomId)!.status !== 'needs_reauth') {
      if (Date.now() > deadline) throw new Error(`the link stayed ${rig.worker.store.link(roomId)!.status} (${rig.worker.store.link(roomId)!.lastError})`);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(refreshes()).toBeGreaterThan(refreshed);
    expect((await rig.worker.status(roomId))!).toMatchObject({ status: 'needs_reauth', needsReauth: true, reason: 'authError', pendingChanges: 1 });

    // Parked like any link waiting for a new consent: no cycle, no request.
    const runner = rig.worker.runner(roomId)!;
    const requests = () => Object.values(rig.fake.stats().requests).reduce((sum, n) => sum + n, 0);
    await new Promise((r) => setTimeout(r, 100));
    const cycles = runner.counters.cycles;
    const before = requests();
    await new Promise((r) => setTimeout(r, 1_000));
    expect(runner.counters.cycles - cycles).toBe(0);
    expect(requests()).toBe(before);

    // Once Google takes the access again, a new consent sends the change that waited.
    rig.fake.removeFault(refusal);
    await linkAs(google, owner.token, roomId);
    await rig.worker.syncNow(roomId);
    expect(rig.fake.event(calendarId, gid)).toMatchObject({ summary: 'Changed while refused' });
    expect((await rig.worker.status(roomId))!).toMatchObject({ status: 'active', needsReauth: false, pendingChanges: 0 });
  });

  it('refreshes an expired access token by itself and stores the new one', async () => {
    const { roomId } = await linkedRoom(rig);
    const before = rig.worker.credentialsOf(rig.worker.store.link(roomId)!);
    rig.fake.expireAccessTokens(before.access_token!);
    await edit(rig, roomId, (doc) => createEvent(doc, { title: 'After expiry', start: '2027-03-05', end: '2027-03-06' }, me));
    await rig.worker.syncNow(roomId);
    const after = rig.worker.credentialsOf(rig.worker.store.link(roomId)!);
    expect(after.access_token).not.toBe(before.access_token);
    expect(after.refresh_token).toBe(before.refresh_token);
    expect((await rig.worker.status(roomId))!.status).toBe('active');
  });
});

describe('the linking user', () => {
  it('pauses mirroring when the user who linked the room can no longer edit it, until an owner links again', async () => {
    const { owner, editor, roomId } = await household();
    const { calendarId } = await linkRoom(rig, owner.token, roomId);
    await rig.kithApi.request('PATCH', `/rooms/${roomId}/members/${editor.userId}`, { token: owner.token, body: { role: 'owner' } });
    await rig.kithApi.request('PATCH', `/rooms/${roomId}/members/${owner.userId}`, { token: editor.token, body: { role: 'viewer' } });
    const id = await edit(rig, roomId, (doc) => createEvent(doc, { title: 'Not yet', start: '2027-05-20', end: '2027-05-21' }, me));
    await rig.worker.syncNow(roomId);
    expect((await rig.worker.status(roomId))!).toMatchObject({ status: 'paused', reason: 'LINKED_USER_CANNOT_EDIT', pendingChanges: 1 });
    expect(rig.fake.event(calendarId, googleIdFor(roomId, id, '', 0))).toBeUndefined();

    await linkRoom(rig, editor.token, roomId);
    await rig.worker.syncNow(roomId);
    expect(rig.fake.event(calendarId, googleIdFor(roomId, id, '', 0))).toMatchObject({ summary: 'Not yet' });
    expect((await rig.worker.status(roomId))!).toMatchObject({ status: 'active', linkedBy: editor.userId });
  });

  it('linking again with another Google account revokes the grant the link held, unless another link holds it', async () => {
    const { owner, editor, roomId } = await household();
    const other = await rig.createRoom(owner.token, 'Other');
    const first = ownGoogleAccount();
    await linkAs(first, owner.token, roomId);
    const firstToken = rig.worker.credentialsOf(rig.worker.store.link(roomId)!).refresh_token!;
    // The owner's other room holds the same grant: linking this room again with another account only forgets it here.
    await linkAs(first, owner.token, other);
    await rig.kithApi.request('PATCH', `/rooms/${roomId}/members/${editor.userId}`, { token: owner.token, body: { role: 'owner' } });
    await linkAs(ownGoogleAccount(), editor.token, roomId);
    expect(await refreshWorks(firstToken)).toBe(true);
    expect((await rig.worker.status(other))!.status).toBe('active');

    // Linked again with a third account once the other room is unlinked: the grant no other link holds is revoked
    // (the old code replaced the tokens and left it live).
    const secondToken = rig.worker.credentialsOf(rig.worker.store.link(roomId)!).refresh_token!;
    expect((await rig.appApi.request('DELETE', `/rooms/${other}/google`, { token: owner.token })).status).toBe(204);
    expect(await refreshWorks(firstToken)).toBe(false);
    const { calendarId } = await linkAs(ownGoogleAccount(), owner.token, roomId);
    expect(await refreshWorks(secondToken)).toBe(false);
    expect(rig.worker.store.pendingRevocations()).toBe(0);
    const id = await edit(rig, roomId, (doc) => createEvent(doc, { title: 'Third account', start: '2027-05-22', end: '2027-05-23' }, me));
    await rig.worker.syncNow(roomId);
    expect(rig.fake.event(calendarId, googleIdFor(roomId, id, '', 0))).toMatchObject({ summary: 'Third account' });
    expect((await rig.worker.status(roomId))!).toMatchObject({ status: 'active', linkedBy: owner.userId });
  });
});

describe('the linking user deleted their account', () => {
  it('a cycle under way when the user is deleted records nothing over the stopped link', async () => {
    const u = await rig.signUp();
    const roomId = await rig.createRoom(u.token);
    const { calendarId } = await linkAs(ownGoogleAccount(), u.token, roomId);
    await rig.worker.syncNow(roomId);
    // An insert held at Google until the grant is revoked: it then fails on the revoked grant (invalid_grant).
    const held = rig.fake.injectFault({ route: 'events.insert', kind: 'delay', delayMs: 400, calendarId });
    await edit(rig, roomId, (doc) => createEvent(doc, { title: 'In flight', start: '2027-05-24', end: '2027-05-25' }, me));
    const synced = rig.worker.syncNow(roomId);
    const deadline = Date.now() + 5_000;
    while (!rig.fake.faults().fired.some((f) => f.faultId === held)) {
      if (Date.now() > deadline) throw new Error('the insert never reached Google');
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(await rig.worker.userDeleted(u.userId)).toEqual([roomId]);
    await synced;
    await new Promise((r) => setTimeout(r, 600));
    // The old cycle's failure did not turn the link into an ordinary refused grant, nor write tokens back.
    expect(rig.worker.store.link(roomId)).toMatchObject({ status: 'needs_reauth', statusReason: 'LINKED_USER_DELETED', tokens: '' });
  });

  it('a revocation Google refuses then stays queued and is retried; the stopped link can still be unlinked', async () => {
    const u = await rig.signUp();
    const roomId = await rig.createRoom(u.token);
    await linkAs(ownGoogleAccount(), u.token, roomId);
    const { refresh_token } = rig.worker.credentialsOf(rig.worker.store.link(roomId)!);
    // More failures than the client library's own retries of the revoke POST.
    rig.fake.injectFault({ route: 'oauth.revoke', kind: 'serviceUnavailable', count: 4 });
    expect(await rig.worker.userDeleted(u.userId)).toEqual([roomId]);
    // Stopped and erased whatever Google answered; the revocation waits in the queue.
    expect(rig.worker.store.link(roomId)).toMatchObject({ status: 'needs_reauth', statusReason: 'LINKED_USER_DELETED', tokens: '', grantKey: null });
    expect(rig.worker.store.pendingRevocations()).toBe(1);
    expect(await refreshWorks(refresh_token!)).toBe(true);
    rig.worker.store.db.prepare('UPDATE revocations SET next_at = 0').run();
    await rig.worker.retryRevocations();
    expect(rig.worker.store.pendingRevocations()).toBe(0);
    expect(await refreshWorks(refresh_token!)).toBe(false);
    // Told again (another listener, a retry): nothing left to stop.
    expect(await rig.worker.userDeleted(u.userId)).toEqual([]);

    // An owner may still unlink the stopped link: its rows go, with nothing to send to Google.
    const requests = JSON.stringify(rig.fake.stats().requests);
    expect((await rig.appApi.request('DELETE', `/rooms/${roomId}/google`, { token: u.token })).status).toBe(204);
    expect(rig.worker.store.link(roomId)).toBeUndefined();
    expect(JSON.stringify(rig.fake.stats().requests)).toBe(requests);
  });
});

describe('a calendar deleted in Google', () => {
  it('pauses the link, and a new consent creates a new calendar and sends every event again', async () => {
    const { token, roomId, calendarId } = await linkedRoom(rig);
    const id = await edit(rig, roomId, (doc) => createEvent(doc, { title: 'Survivor', start: '2027-06-01', end: '2027-06-02' }, me));
    await rig.worker.syncNow(roomId);
    const access = rig.fake.issueTokens({ email: GOOGLE_USER, clientId: CLIENT_ID, scopes: ['https://www.googleapis.com/auth/calendar'] }).access_token;
    const del = await rig.fake.app.inject({ method: 'DELETE', url: `/calendar/v3/calendars/${encodeURIComponent(calendarId)}`, headers: { authorization: `Bearer ${access}` } });
    expect(del.statusCode).toBe(204);
    await rig.worker.syncNow(roomId);
    const status = await rig.appApi.request('GET', `/rooms/${roomId}/google`, { token });
    expect(status.body).toMatchObject({ status: 'paused', reason: 'CALENDAR_NOT_FOUND' });

    const again = await linkRoom(rig, token, roomId);
    expect(again.calendarId).not.toBe(calendarId);
    await rig.worker.syncNow(roomId);
    expect(rig.fake.event(again.calendarId, googleIdFor(roomId, id, '', 0))).toMatchObject({ summary: 'Survivor' });
    expect((await rig.appApi.request('GET', `/rooms/${roomId}/google`, { token })).body).toMatchObject({ status: 'active', pendingChanges: 0 });
  });
});

describe('unlinking', () => {
  it('lets only owners unlink; unlinking revokes the grant, stops mirroring and keeps the Google calendar', async () => {
    const { owner, editor, viewer, roomId } = await household();
    // The only room linked with this Google account, so its grant is revoked.
    const googleUser = ownGoogleAccount();
    const { calendarId } = await linkAs(googleUser, owner.token, roomId);
    const creds = rig.worker.credentialsOf(rig.worker.store.link(roomId)!);
    expectError(await rig.appApi.request('DELETE', `/rooms/${roomId}/google`, { token: editor.token }), 403, 'FORBIDDEN');
    const res = await rig.appApi.request('DELETE', `/rooms/${roomId}/google`, { token: owner.token });
    expect(res.status).toBe(204);
    expect(rig.worker.store.link(roomId)).toBeUndefined();
    expect(rig.worker.store.mirrorRows(roomId)).toEqual([]);
    expect(rig.worker.store.pendingRevocations()).toBe(0);

    // The refresh token no longer works at Google.
    const client = new OAuth2Client({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, endpoints: rig.fake.oauthEndpoints });
    client.setCredentials({ refresh_token: creds.refresh_token! });
    await expect(client.refreshAccessToken()).rejects.toThrow(/invalid_grant/);

    const writes = JSON.stringify(rig.fake.stats().writes);
    await edit(rig, roomId, (doc) => createEvent(doc, { title: 'After unlink', start: '2027-04-01', end: '2027-04-02' }, me));
    await new Promise((r) => setTimeout(r, 100));
    expect(JSON.stringify(rig.fake.stats().writes)).toBe(writes);
    expect(rig.fake.calendars(googleUser).some((c: any) => c.id === calendarId)).toBe(true);

    const status = await rig.appApi.request('GET', `/rooms/${roomId}/google`, { token: viewer.token });
    expect(status.body).toEqual({ roomId, linked: false });
    expectError(await rig.appApi.request('DELETE', `/rooms/${roomId}/google`, { token: owner.token }), 404, 'GOOGLE_NOT_LINKED');
  });

  it('retries a revocation Google could not take at unlink time', async () => {
    const u = await rig.signUp();
    const roomId = await rig.createRoom(u.token);
    const token = u.token;
    await linkAs(ownGoogleAccount(), token, roomId);
    const creds = rig.worker.credentialsOf(rig.worker.store.link(roomId)!);
    // More failures than the client library's own retries of the revoke POST.
    rig.fake.injectFault({ route: 'oauth.revoke', kind: 'serviceUnavailable', count: 4 });
    expect((await rig.appApi.request('DELETE', `/rooms/${roomId}/google`, { token })).status).toBe(204);
    expect(rig.worker.store.pendingRevocations()).toBe(1);
    rig.worker.store.db.prepare('UPDATE revocations SET next_at = 0').run();
    await rig.worker.retryRevocations();
    expect(rig.worker.store.pendingRevocations()).toBe(0);
    const client = new OAuth2Client({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, endpoints: rig.fake.oauthEndpoints });
    client.setCredentials({ refresh_token: creds.refresh_token! });
    await expect(client.refreshAccessToken()).rejects.toThrow(/invalid_grant/);
  });
});

describe('one Google account linked to several rooms', () => {
  it('unlinking one room forgets its tokens but does not revoke the grant the other room still uses; unlinking the last one revokes it', async () => {
    const googleUser = ownGoogleAccount();
    const u = await rig.signUp();
    const roomA = await rig.createRoom(u.token, 'A');
    const roomB = await rig.createRoom(u.token, 'B');
    await linkAs(googleUser, u.token, roomA);
    const { calendarId: calB } = await linkAs(googleUser, u.token, roomB);
    const credsA = rig.worker.credentialsOf(rig.worker.store.link(roomA)!);
    const credsB = rig.worker.credentialsOf(rig.worker.store.link(roomB)!);
    expect(credsA.refresh_token).not.toBe(credsB.refresh_token);

    expect((await rig.appApi.request('DELETE', `/rooms/${roomA}/google`, { token: u.token })).status).toBe(204);
    expect(rig.worker.store.link(roomA)).toBeUndefined();
    expect(rig.worker.store.pendingRevocations()).toBe(0);
    expect(await refreshWorks(credsB.refresh_token!)).toBe(true);

    // B keeps syncing both ways, also after its access token expired and had to be refreshed.
    rig.fake.expireAccessTokens(credsB.access_token!);
    const id = await edit(rig, roomB, (doc) => createEvent(doc, { title: 'Still mirrored', start: '2027-08-01', end: '2027-08-02' }, me));
    await rig.worker.syncNow(roomB);
    const gid = googleIdFor(roomB, id, '', 0);
    expect(rig.fake.event(calB, gid)).toMatchObject({ summary: 'Still mirrored' });
    rig.fake.ui.patchEvent(calB, gid, { summary: 'Renamed in Google' });
    await rig.worker.syncNow(roomB);
    expect((await rig.kith.sync.readRoom(roomB, (doc) => getEvent(doc, id)))?.title).toBe('Renamed in Google');
    expect((await rig.worker.status(roomB))!).toMatchObject({ status: 'active', needsReauth: false, pendingChanges: 0 });

    // B is the last link of the grant: unlinking it revokes the grant, A's old tokens included.
    expect((await rig.appApi.request('DELETE', `/rooms/${roomB}/google`, { token: u.token })).status).toBe(204);
    expect(rig.worker.store.pendingRevocations()).toBe(0);
    expect(await refreshWorks(credsB.refresh_token!)).toBe(false);
    expect(await refreshWorks(credsA.refresh_token!)).toBe(false);
  });

  it('a consent that lacks the calendar scope does not revoke the grant an existing link uses', async () => {
    const googleUser = ownGoogleAccount();
    const u = await rig.signUp();
    const linked = await rig.createRoom(u.token, 'Linked');
    const { calendarId } = await linkAs(googleUser, u.token, linked);
    const creds = rig.worker.credentialsOf(rig.worker.store.link(linked)!);

    // The same account consents for another room but unticks the calendar permission.
    const other = await rig.createRoom(u.token, 'Other');
    rig.fake.setConsent({ email: googleUser, dropScopes: ['https://www.googleapis.com/auth/calendar.app.created'] });
    const back = await consent((await authUrl(u.token, other)).toString());
    rig.fake.setConsent({});
    expectError(await callback(back), 403, 'GOOGLE_SCOPE_MISSING');
    expect(rig.worker.store.link(other)).toBeUndefined();

    expect(await refreshWorks(creds.refresh_token!)).toBe(true);
    const id = await edit(rig, linked, (doc) => createEvent(doc, { title: 'Unaffected', start: '2027-08-03', end: '2027-08-04' }, me));
    await rig.worker.syncNow(linked);
    expect(rig.fake.event(calendarId, googleIdFor(linked, id, '', 0))).toMatchObject({ summary: 'Unaffected' });
    expect((await rig.worker.status(linked))!.status).toBe('active');
  });

  it('a room linked again with a grant queued for revocation keeps working (the queued revocation is dropped)', async () => {
    const googleUser = ownGoogleAccount();
    const u = await rig.signUp();
    const first = await rig.createRoom(u.token, 'First');
    await linkAs(googleUser, u.token, first);
    // Google's revoke endpoint is down: the revocation waits in the queue (enough failures for the client
    // library's retries, also when the worker's periodic retry runs at the same moment).
    rig.fake.injectFault({ route: 'oauth.revoke', kind: 'serviceUnavailable', count: 8 });
    expect((await rig.appApi.request('DELETE', `/rooms/${first}/google`, { token: u.token })).status).toBe(204);
    expect(rig.worker.store.pendingRevocations()).toBe(1);
    rig.fake.clearFaults();

    const second = await rig.createRoom(u.token, 'Second');
    await linkAs(googleUser, u.token, second);
    expect(rig.worker.store.pendingRevocations()).toBe(0);
    rig.worker.store.db.prepare('UPDATE revocations SET next_at = 0').run();
    await rig.worker.retryRevocations();
    expect(await refreshWorks(rig.worker.credentialsOf(rig.worker.store.link(second)!).refresh_token!)).toBe(true);
  });
});

describe('events of the linked calendar', () => {
  it('lists a window of events to members only, with validated times', async () => {
    const { owner, viewer, outsider, roomId } = await household();
    await linkRoom(rig, owner.token, roomId);
    await edit(rig, roomId, (doc) => {
      createEvent(doc, { title: 'In window', start: '2027-05-10T10:00', end: '2027-05-10T11:00', tz: 'Europe/Madrid', participants: ['x'] }, me);
      createEvent(doc, { title: 'Weekly', start: '2027-05-03', end: '2027-05-04', rrule: 'FREQ=WEEKLY;COUNT=3' }, me);
      createEvent(doc, { title: 'Outside', start: '2027-06-10', end: '2027-06-11' }, me);
    });
    await rig.worker.syncNow(roomId);
    const res = await rig.appApi.request('GET', `/google/events?roomId=${roomId}&timeMin=2027-05-01T00:00:00Z&timeMax=2027-06-01T00:00:00Z`, {
      token: viewer.token,
    });
    expect(res.status).toBe(200);
    expect(res.body.events.map((e: any) => [e.title, e.start])).toEqual([
      ['Weekly', '2027-05-03'],
      ['Weekly', '2027-05-10'],
      ['In window', '2027-05-10T08:00:00Z'],
      ['Weekly', '2027-05-17'],
    ]);
    expect(res.body.events[2]).toMatchObject({ allDay: false, timeZone: 'Europe/Madrid', end: '2027-05-10T09:00:00Z' });
    expect(res.body.events.every((e: any) => typeof e.kithEventId === 'string')).toBe(true);

    expectError(await rig.appApi.request('GET', `/google/events?roomId=${roomId}`, { token: outsider.token }), 404, 'ROOM_NOT_FOUND');
    expectError(await rig.appApi.request('GET', `/google/events?roomId=${roomId}&timeMin=yesterday`, { token: viewer.token }), 400, 'VALIDATION_FAILED');
    expectError(
      await rig.appApi.request('GET', `/google/events?roomId=${roomId}&timeMin=2027-05-02T00:00:00Z&timeMax=2027-05-01T00:00:00Z`, { token: viewer.token }),
      400,
      'VALIDATION_FAILED',
    );
    const unlinked = await rig.createRoom(owner.token, 'Unlinked');
    expectError(await rig.appApi.request('GET', `/google/events?roomId=${unlinked}`, { token: owner.token }), 404, 'GOOGLE_NOT_LINKED');
    expectError(await rig.appApi.request('GET', `/rooms/${roomId}/google`, { token: outsider.token }), 404, 'ROOM_NOT_FOUND');
  });
});

describe('without Google credentials', () => {
  it('answers every Google route with 503 GOOGLE_NOT_CONFIGURED', async () => {
    const bare = await startRig({ configured: false });
    try {
      const u = await bare.signUp();
      const roomId = await bare.createRoom(u.token);
      for (const [method, p] of [
        ['GET', `/google/auth-url?roomId=${roomId}`],
        ['GET', `/google/callback?code=x&state=y`],
        ['GET', `/google/events?roomId=${roomId}`],
        ['GET', `/rooms/${roomId}/google`],
        ['DELETE', `/rooms/${roomId}/google`],
        ['POST', `/google/push`],
      ] as const) {
        const res = await bare.appApi.request(method, p, { token: u.token });
        expect({ route: `${method} ${p}`, status: res.status, code: res.body?.error?.code }).toEqual({ route: `${method} ${p}`, status: 503, code: 'GOOGLE_NOT_CONFIGURED' });
        expect(res.body.error.message).toMatch(/GOOGLE_CLIENT_ID/);
      }
      expect(fs.existsSync(path.join(bare.options.dataDir, STATE_FILE))).toBe(false);
    } finally {
      await bare.close();
    }
  });
});
