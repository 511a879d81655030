/**
 * The fake Google Calendar API, driven through the real client libraries the worker uses:
 * `@googleapis/calendar@16` (pointed at the fake with `rootUrl`) and `google-auth-library@10`
 * (OAuth2Client with `endpoints`).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { calendar, type calendar_v3 } from '@googleapis/calendar';
import { CodeChallengeMethod, OAuth2Client, type Credentials } from 'google-auth-library';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeGoogle, type FaultKind, startFakeGoogle } from '../src/index.js';

const CLIENT_ID = 'kith-test.apps.googleusercontent.com';
const CLIENT_SECRET = 'kith-test-secret';
const REDIRECT_URI = 'http://127.0.0.1:9/google/callback';
const SCOPE_APP_CREATED = 'https://www.googleapis.com/auth/calendar.app.created';
const SCOPE_CALENDAR = 'https://www.googleapis.com/auth/calendar';
const SCOPE_READONLY = 'https://www.googleapis.com/auth/calendar.readonly';
const USER = 'alice@kith.example';

let fake: FakeGoogle;
let auth: OAuth2Client;
let api: calendar_v3.Calendar;

function oauthClient(opts: { forceRefreshOnFailure?: boolean } = {}): OAuth2Client {
  return new OAuth2Client({
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    redirectUri: REDIRECT_URI,
    endpoints: fake.oauthEndpoints,
    ...opts,
  });
}

function calendarApi(client?: OAuth2Client): calendar_v3.Calendar {
  // googleapis-common pins its own google-auth-library patch version; the runtime object is compatible.
  return calendar({ version: 'v3', rootUrl: fake.rootUrl, ...(client ? { auth: client as never } : {}) });
}

/** The browser leg of the consent flow: follow the consent URL and read the redirect. */
async function consent(url: string): Promise<URL> {
  const res = await fetch(url, { redirect: 'manual' });
  expect(res.status).toBe(302);
  return new URL(res.headers.get('location')!);
}

async function authorize(
  client: OAuth2Client,
  opts: { scope?: string[]; loginHint?: string; prompt?: string } = {},
): Promise<Credentials> {
  const { codeVerifier, codeChallenge } = await client.generateCodeVerifierAsync();
  const url = client.generateAuthUrl({
    access_type: 'offline',
    scope: opts.scope ?? [SCOPE_APP_CREATED],
    state: 'state-123',
    code_challenge_method: CodeChallengeMethod.S256,
    code_challenge: codeChallenge!,
    ...(opts.prompt !== undefined ? { prompt: opts.prompt } : { prompt: 'consent' }),
    ...(opts.loginHint ? { login_hint: opts.loginHint } : {}),
  });
  const back = await consent(url);
  const { tokens } = await client.getToken({ code: back.searchParams.get('code')!, codeVerifier });
  client.setCredentials(tokens);
  return tokens;
}

interface CaughtGoogleError {
  status: number | undefined;
  message: string;
  code: unknown;
  data: { error?: { code: number; message: string; status?: string; errors: Array<Record<string, string>> } } & Record<string, unknown>;
  hasResponse: boolean;
}

async function failure(p: Promise<unknown>): Promise<CaughtGoogleError> {
  try {
    await p;
  } catch (e) {
    const err = e as { status?: number; message: string; code?: unknown; response?: { status: number; data: unknown } };
    return {
      status: err.response?.status ?? err.status,
      message: err.message,
      code: err.code,
      data: (err.response?.data ?? {}) as CaughtGoogleError['data'],
      hasResponse: err.response !== undefined,
    };
  }
  throw new Error('expected the call to fail');
}

async function expectGoogleError(p: Promise<unknown>, status: number, reason: string): Promise<CaughtGoogleError> {
  const err = await failure(p);
  expect({ status: err.status, reason: err.data.error?.errors[0]?.reason }).toEqual({ status, reason });
  expect(err.data.error?.code).toBe(status);
  return err;
}

let calendarCounter = 0;
async function newCalendar(timeZone = 'UTC'): Promise<string> {
  const res = await api.calendars.insert({ requestBody: { summary: `Kith room ${++calendarCounter}`, timeZone } });
  return res.data.id!;
}

const timed = (startIso: string, endIso: string, extra: calendar_v3.Schema$Event = {}): calendar_v3.Schema$Event => ({
  summary: 'Event',
  start: { dateTime: startIso },
  end: { dateTime: endIso },
  ...extra,
});

let idCounter = 0;
/** A valid client-chosen id (base32hex alphabet). */
const newId = (): string => `kith${(++idCounter).toString(32)}${Date.now().toString(32)}`;

beforeAll(async () => {
  fake = await startFakeGoogle({ defaultUser: USER });
  auth = oauthClient();
  await authorize(auth, { scope: [SCOPE_APP_CREATED] });
  api = calendarApi(auth);
});

afterAll(async () => {
  await fake?.close();
});

describe('OAuth endpoints through google-auth-library', () => {
  it('exchanges an authorization code with its PKCE verifier for access and refresh tokens', async () => {
    const client = oauthClient();
    const { codeVerifier, codeChallenge } = await client.generateCodeVerifierAsync();
    const url = client.generateAuthUrl({
      access_type: 'offline',
      prompt: 'consent',
      scope: [SCOPE_APP_CREATED],
      state: 'room:42',
      code_challenge_method: CodeChallengeMethod.S256,
      code_challenge: codeChallenge!,
    });
    expect(url.startsWith(`${fake.url}/o/oauth2/v2/auth?`)).toBe(true);
    const back = await consent(url);
    expect(back.origin + back.pathname).toBe(REDIRECT_URI);
    expect(back.searchParams.get('state')).toBe('room:42');
    const { tokens } = await client.getToken({ code: back.searchParams.get('code')!, codeVerifier });
    expect(tokens.access_token).toMatch(/^ya29\./);
    expect(tokens.refresh_token).toBeTruthy();
    expect(tokens.scope).toBe(SCOPE_APP_CREATED);
    expect(tokens.token_type).toBe('Bearer');
    expect(tokens.expiry_date).toBeGreaterThan(Date.now() + 3_500_000);
  });

  it('rejects a wrong or missing PKCE verifier and a reused code with invalid_grant', async () => {
    const client = oauthClient();
    const { codeVerifier, codeChallenge } = await client.generateCodeVerifierAsync();
    const other = await client.generateCodeVerifierAsync();
    const url = client.generateAuthUrl({
      access_type: 'offline',
      scope: [SCOPE_APP_CREATED],
      code_challenge_method: CodeChallengeMethod.S256,
      code_challenge: codeChallenge!,
    });
    const code = (await consent(url)).searchParams.get('code')!;
    const wrong = await failure(client.getToken({ code, codeVerifier: other.codeVerifier }));
    expect([wrong.status, wrong.data.error]).toEqual([400, 'invalid_grant']);
    const missing = await failure(client.getToken({ code }));
    expect([missing.status, missing.data.error]).toEqual([400, 'invalid_grant']);
    await client.getToken({ code, codeVerifier });
    const reused = await failure(client.getToken({ code, codeVerifier }));
    expect([reused.status, reused.data.error]).toEqual([400, 'invalid_grant']);
  });

  it('issues a refresh token only on first offline consent unless prompt=consent', async () => {
    const hint = 'first-consent@kith.example';
    const first = await authorize(oauthClient(), { loginHint: hint, prompt: '' });
    expect(first.refresh_token).toBeTruthy();
    const second = await authorize(oauthClient(), { loginHint: hint, prompt: '' });
    expect(second.refresh_token).toBeUndefined();
    const forced = await authorize(oauthClient(), { loginHint: hint, prompt: 'consent' });
    expect(forced.refresh_token).toBeTruthy();
  });

  it('redirects with access_denied when the user cancels, and grants only the scopes left ticked', async () => {
    const client = oauthClient();
    fake.setConsent({ deny: true });
    try {
      const back = await consent(client.generateAuthUrl({ scope: [SCOPE_CALENDAR], state: 's' }));
      expect(back.searchParams.get('error')).toBe('access_denied');
      expect(back.searchParams.get('state')).toBe('s');
      expect(back.searchParams.get('code')).toBeNull();
    } finally {
      fake.setConsent({});
    }
    fake.setConsent({ dropScopes: [SCOPE_CALENDAR] });
    try {
      const tokens = await authorize(client, { scope: [SCOPE_CALENDAR, SCOPE_APP_CREATED] });
      expect(tokens.scope).toBe(SCOPE_APP_CREATED);
    } finally {
      fake.setConsent({});
    }
  });

  it('refreshes the access token; the refresh response carries no refresh_token', async () => {
    const client = oauthClient();
    const initial = await authorize(client);
    const seen: Credentials[] = [];
    // google-auth-library adds the stored refresh_token to the emitted object afterwards: snapshot it.
    client.on('tokens', (t) => seen.push({ ...t }));
    const { credentials } = await client.refreshAccessToken();
    expect(credentials.access_token).toBeTruthy();
    expect(credentials.access_token).not.toBe(initial.access_token);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.refresh_token).toBeUndefined();
    expect(credentials.refresh_token).toBe(initial.refresh_token);
    const list = await calendarApi(client).calendarList.list();
    expect(list.status).toBe(200);
  });

  it('answers an expired access token with 401; forceRefreshOnFailure refreshes and retries', async () => {
    const plain = oauthClient();
    const tokens = await authorize(plain);
    fake.expireAccessTokens(tokens.access_token!);
    // With an expiry_date stored, google-auth-library does not refresh on 401 by itself.
    await expectGoogleError(calendarApi(plain).calendarList.list(), 401, 'authError');

    const forcing = oauthClient({ forceRefreshOnFailure: true });
    const t2 = await authorize(forcing);
    const refreshed: Credentials[] = [];
    forcing.on('tokens', (t) => refreshed.push(t));
    fake.expireAccessTokens(t2.access_token!);
    const res = await calendarApi(forcing).calendarList.list();
    expect(res.status).toBe(200);
    expect(refreshed).toHaveLength(1);
  });

  it('revokes a grant: refresh then fails with invalid_grant and API calls with 401', async () => {
    const client = oauthClient();
    // Its own user: revoking ends every token of the (user, client) grant, the suite's shared one included.
    const tokens = await authorize(client, { loginHint: 'revoker@kith.example' });
    const res = await client.revokeToken(tokens.refresh_token!);
    expect(res.status).toBe(200);
    const err = await failure(client.refreshAccessToken());
    expect(err.status).toBe(400);
    expect(err.message).toBe('invalid_grant');
    expect(err.data.error_description).toBe('Token has been expired or revoked.');
    await expectGoogleError(calendarApi(client).calendarList.list(), 401, 'authError');
    const again = await failure(client.revokeToken(tokens.refresh_token!));
    expect([again.status, again.data.error]).toEqual([400, 'invalid_token']);
  });

  it('keeps one grant per user and client: revoking a token of one consent revokes every consent of it, not other users', async () => {
    const user = 'grant-owner@kith.example';
    const first = oauthClient();
    const firstTokens = await authorize(first, { loginHint: user });
    const second = oauthClient();
    const secondTokens = await authorize(second, { loginHint: user });
    const other = oauthClient();
    await authorize(other, { loginHint: 'someone-else@kith.example' });
    expect(secondTokens.refresh_token).not.toBe(firstTokens.refresh_token);

    // Revoking the second consent's access token ends the first consent's tokens too.
    expect((await second.revokeToken(secondTokens.access_token!)).status).toBe(200);
    const err = await failure(first.refreshAccessToken());
    expect([err.status, err.message]).toEqual([400, 'invalid_grant']);
    await expectGoogleError(calendarApi(first).calendarList.list(), 401, 'authError');
    await expectGoogleError(calendarApi(second).calendarList.list(), 401, 'authError');
    // Another user's grant of the same client is untouched.
    expect((await calendarApi(other).calendarList.list()).status).toBe(200);

    // A new consent after the revocation starts a new, working grant; the old tokens stay dead.
    const third = oauthClient();
    await authorize(third, { loginHint: user });
    expect((await calendarApi(third).calendarList.list()).status).toBe(200);
    expect((await failure(first.refreshAccessToken())).message).toBe('invalid_grant');
  });

  it('requires a bearer token on API calls and scopes it to the granting user and client', async () => {
    await expectGoogleError(calendarApi().calendarList.list(), 401, 'required');
    const calendarId = await newCalendar();
    const bob = oauthClient();
    await authorize(bob, { loginHint: 'bob@kith.example', scope: [SCOPE_CALENDAR] });
    // Even with the full calendar scope, Bob cannot see Alice's calendar.
    await expectGoogleError(calendarApi(bob).calendars.get({ calendarId }), 404, 'notFound');
    await expectGoogleError(calendarApi(bob).events.list({ calendarId }), 404, 'notFound');
    // calendar.app.created reaches only calendars this client created, not the user's primary one.
    await expectGoogleError(api.events.list({ calendarId: 'primary' }), 404, 'notFound');
    const readOnly = oauthClient();
    await authorize(readOnly, { loginHint: USER, scope: [SCOPE_READONLY] });
    await expectGoogleError(
      calendarApi(readOnly).events.insert({ calendarId: 'primary', requestBody: timed('2026-01-01T10:00:00Z', '2026-01-01T11:00:00Z') }),
      403,
      'insufficientPermissions',
    );
  });
});

describe('calendars', () => {
  it('creates a dedicated calendar with its zone and lists it in the calendar list', async () => {
    const created = await api.calendars.insert({ requestBody: { summary: 'Kith: Family', timeZone: 'Europe/Berlin' } });
    expect(created.status).toBe(200);
    expect(created.data.id).toMatch(/@group\.calendar\.google\.com$/);
    expect(created.data.timeZone).toBe('Europe/Berlin');
    expect(created.data.etag).toMatch(/^"\d+"$/);
    const got = await api.calendars.get({ calendarId: created.data.id! });
    expect(got.data.summary).toBe('Kith: Family');
    const list = await api.calendarList.list();
    expect(list.data.items?.map((c) => c.id)).toContain(created.data.id);
    expect(list.data.items?.find((c) => c.id === created.data.id)?.accessRole).toBe('owner');
    await expectGoogleError(api.calendars.insert({ requestBody: { timeZone: 'UTC' } }), 400, 'required');
  });
});

describe('events: ids, server fields and validation', () => {
  it.each([
    ['too short', 'abcd'],
    ['upper case', 'ABCDE12345'],
    ['outside base32hex (w)', 'abcdw12345'],
    ['punctuation', 'abc-def-12'],
    ['too long', 'a'.repeat(1025)],
  ])('rejects a client-chosen id that is %s with 400', async (_label, id) => {
    const calendarId = await newCalendar();
    await expectGoogleError(
      api.events.insert({ calendarId, requestBody: { id, ...timed('2026-01-01T10:00:00Z', '2026-01-01T11:00:00Z') } }),
      400,
      'invalid',
    );
  });

  it('accepts a 1024-char base32hex id and sets the server fields', async () => {
    const calendarId = await newCalendar();
    const id = '0123456789abcdefghijklmnopqrstuv'.repeat(32);
    const res = await api.events.insert({
      calendarId,
      sendUpdates: 'none',
      requestBody: { id, ...timed('2026-01-01T10:00:00Z', '2026-01-01T11:00:00Z') },
    });
    expect(res.status).toBe(200);
    const e = res.data;
    expect(e.id).toBe(id);
    expect(e.etag).toMatch(/^"\d+"$/);
    expect(e.status).toBe('confirmed');
    expect(e.sequence).toBe(0);
    expect(e.iCalUID).toBe(`${id}@google.com`);
    expect(e.organizer?.self).toBe(true);
    expect(Date.parse(e.created!)).toBeGreaterThan(0);
    expect(e.updated).toBe(e.created);
    expect((await api.events.get({ calendarId, eventId: id })).data.id).toBe(id);
    const generated = await api.events.insert({ calendarId, requestBody: timed('2026-01-02T10:00:00Z', '2026-01-02T11:00:00Z') });
    expect(generated.data.id).toMatch(/^[a-v0-9]{5,1024}$/);
  });

  it('answers 409 duplicate when an id is reused, even after the event was deleted', async () => {
    const calendarId = await newCalendar();
    const id = newId();
    const body = { id, ...timed('2026-02-01T10:00:00Z', '2026-02-01T11:00:00Z') };
    await api.events.insert({ calendarId, requestBody: body });
    const dup = await expectGoogleError(api.events.insert({ calendarId, requestBody: body }), 409, 'duplicate');
    expect(dup.data.error?.message).toBe('The requested identifier already exists.');
    const del = await api.events.delete({ calendarId, eventId: id });
    expect(del.status).toBe(204);
    await expectGoogleError(api.events.insert({ calendarId, requestBody: body }), 409, 'duplicate');
    const tombstone = await api.events.get({ calendarId, eventId: id });
    expect(tombstone.data.status).toBe('cancelled');
    await expectGoogleError(api.events.delete({ calendarId, eventId: id }), 410, 'deleted');
    await expectGoogleError(api.events.delete({ calendarId, eventId: newId() }), 404, 'notFound');
    await expectGoogleError(api.events.get({ calendarId, eventId: newId() }), 404, 'notFound');
  });

  const invalid: Array<[string, string, calendar_v3.Schema$Event, RegExp]> = [
    ['end before start', 'timeRangeEmpty', timed('2026-03-01T11:00:00Z', '2026-03-01T10:00:00Z'), /time range is empty/],
    ['end equal to start', 'timeRangeEmpty', timed('2026-03-01T10:00:00Z', '2026-03-01T10:00:00Z'), /time range is empty/],
    ['an all-day end on the start date', 'timeRangeEmpty', { start: { date: '2026-03-01' }, end: { date: '2026-03-01' } }, /empty/],
    ['no end', 'required', { start: { dateTime: '2026-03-01T10:00:00Z' } }, /Missing end time/],
    ['no start', 'required', { end: { dateTime: '2026-03-01T10:00:00Z' } }, /Missing start time/],
    ['a dateTime with neither offset nor timeZone', 'invalid', timed('2026-03-01T10:00:00', '2026-03-01T11:00:00'), /Missing time zone definition for start time/],
    ['date start with dateTime end', 'invalid', { start: { date: '2026-03-01' }, end: { dateTime: '2026-03-02T10:00:00Z' } }, /both be date or both be dateTime/],
    ['both date and dateTime', 'invalid', { start: { date: '2026-03-01', dateTime: '2026-03-01T10:00:00Z' }, end: { date: '2026-03-02' } }, /Invalid start time/],
    ['an unknown time zone', 'invalid', { start: { dateTime: '2026-03-01T10:00:00', timeZone: 'Mars/Olympus' }, end: { dateTime: '2026-03-01T11:00:00Z' } }, /time zone/],
    ['a timed recurrence without start.timeZone', 'invalid', timed('2026-03-01T10:00:00Z', '2026-03-01T11:00:00Z', { recurrence: ['RRULE:FREQ=DAILY'] }), /Missing time zone definition for start time/],
    ['a malformed RRULE', 'invalid', { start: { date: '2026-03-01' }, end: { date: '2026-03-02' }, recurrence: ['RRULE:FREQ=SOMETIMES'] }, /recurrence/],
    ['default reminders plus overrides', 'cannotUseDefaultRemindersAndSpecifyOverride', timed('2026-03-01T10:00:00Z', '2026-03-01T11:00:00Z', { reminders: { useDefault: true, overrides: [{ method: 'popup', minutes: 5 }] } }), /both default reminders and overrides/],
    ['an extended property key over 44 chars', 'invalid', timed('2026-03-01T10:00:00Z', '2026-03-01T11:00:00Z', { extendedProperties: { private: { ['k'.repeat(45)]: 'v' } } }), /extended property key/],
    ['an extended property value over 1024 chars', 'invalid', timed('2026-03-01T10:00:00Z', '2026-03-01T11:00:00Z', { extendedProperties: { private: { k: 'v'.repeat(1025) } } }), /extended property value/],
  ];
  it.each(invalid)('rejects an event with %s: 400 %s in Google’s error shape', async (_label, reason, body, message) => {
    const calendarId = await newCalendar();
    const err = await expectGoogleError(api.events.insert({ calendarId, requestBody: body }), 400, reason);
    const e = err.data.error!;
    expect(e.message).toMatch(message);
    expect(e.status).toBe('INVALID_ARGUMENT');
    expect(Object.keys(e.errors[0]!)).toEqual(expect.arrayContaining(['domain', 'reason', 'message']));
  });

  it('stores all-day events with an exclusive end date', async () => {
    const calendarId = await newCalendar('Europe/Berlin');
    const oneDay = await api.events.insert({ calendarId, requestBody: { summary: 'Holiday', start: { date: '2026-05-01' }, end: { date: '2026-05-02' } } });
    expect(oneDay.data.start).toEqual({ date: '2026-05-01' });
    expect(oneDay.data.end).toEqual({ date: '2026-05-02' });
    const trip = await api.events.insert({ calendarId, requestBody: { summary: 'Trip', start: { date: '2026-05-01' }, end: { date: '2026-05-04' } } });
    // timeMin bounds an event's end exclusively: the one-day event ends at 2026-05-02T00:00 Berlin time.
    const after = await api.events.list({ calendarId, timeMin: '2026-05-02T00:00:00+02:00' });
    expect(after.data.items?.map((e) => e.id)).toEqual([trip.data.id]);
    // timeMax bounds an event's start exclusively.
    const before = await api.events.list({ calendarId, timeMax: '2026-05-01T00:00:00+02:00' });
    expect(before.data.items).toEqual([]);
  });

  it('keeps the IANA zone of a timed event and answers in the calendar zone with the same instant', async () => {
    const calendarId = await newCalendar('Europe/Berlin');
    const res = await api.events.insert({
      calendarId,
      requestBody: {
        summary: 'Call',
        start: { dateTime: '2026-06-01T10:00:00', timeZone: 'America/New_York' },
        end: { dateTime: '2026-06-01T11:00:00', timeZone: 'America/New_York' },
      },
    });
    expect(res.data.start).toEqual({ dateTime: '2026-06-01T16:00:00+02:00', timeZone: 'America/New_York' });
    expect(Date.parse(res.data.start!.dateTime!)).toBe(Date.parse('2026-06-01T14:00:00Z'));
    const inUtc = await api.events.get({ calendarId, eventId: res.data.id!, timeZone: 'UTC' });
    expect(inUtc.data.start?.dateTime).toBe('2026-06-01T14:00:00Z');
  });
});

describe('events: etags, If-Match, patch and update', () => {
  it('changes the etag on every write and answers a stale If-Match with 412', async () => {
    const calendarId = await newCalendar();
    const created = await api.events.insert({ calendarId, requestBody: timed('2026-04-01T10:00:00Z', '2026-04-01T11:00:00Z') });
    const id = created.data.id!;
    const e0 = created.data.etag!;
    const p1 = await api.events.patch({ calendarId, eventId: id, requestBody: { summary: 'Renamed' } }, { headers: { 'If-Match': e0 } });
    const e1 = p1.data.etag!;
    expect(e1).not.toBe(e0);
    expect(Date.parse(p1.data.updated!)).toBeGreaterThan(Date.parse(created.data.updated!));
    const stale = await expectGoogleError(
      api.events.patch({ calendarId, eventId: id, requestBody: { summary: 'Lost update' } }, { headers: { 'If-Match': e0 } }),
      412,
      'conditionNotMet',
    );
    expect(stale.data.error?.errors[0]).toMatchObject({ domain: 'global', location: 'If-Match', locationType: 'header' });
    await expectGoogleError(
      api.events.update({ calendarId, eventId: id, requestBody: timed('2026-04-01T10:00:00Z', '2026-04-01T11:00:00Z') }, { headers: { 'If-Match': e0 } }),
      412,
      'conditionNotMet',
    );
    await expectGoogleError(api.events.delete({ calendarId, eventId: id }, { headers: { 'If-Match': e0 } }), 412, 'conditionNotMet');
    expect((await api.events.get({ calendarId, eventId: id })).data.summary).toBe('Renamed');
    const notModified = await api.events.get({ calendarId, eventId: id }, { headers: { 'If-None-Match': e1 } });
    expect(notModified.status).toBe(304);
    const u = await api.events.update(
      { calendarId, eventId: id, requestBody: timed('2026-04-01T10:00:00Z', '2026-04-01T11:00:00Z', { summary: 'Replaced' }) },
      { headers: { 'If-Match': e1 } },
    );
    expect(u.data.etag).not.toBe(e1);
    const del = await api.events.delete({ calendarId, eventId: id }, { headers: { 'If-Match': u.data.etag! } });
    expect(del.status).toBe(204);
  });

  it('patch merges objects, replaces arrays and deletes keys set to null; update replaces everything', async () => {
    const calendarId = await newCalendar();
    const created = await api.events.insert({
      calendarId,
      requestBody: timed('2026-04-02T10:00:00Z', '2026-04-02T11:00:00Z', {
        description: 'kept',
        extendedProperties: { private: { famcalId: 'local-1', famcalRoom: 'room-1' } },
        reminders: { useDefault: false, overrides: [{ method: 'popup', minutes: 10 }, { method: 'email', minutes: 60 }] },
      }),
    });
    const id = created.data.id!;
    const patched = await api.events.patch({
      calendarId,
      eventId: id,
      requestBody: {
        extendedProperties: { private: { famcalRoom: null as unknown as string, famcalGen: '2' } },
        reminders: { overrides: [{ method: 'popup', minutes: 5 }] },
      },
    });
    expect(patched.data.extendedProperties?.private).toEqual({ famcalId: 'local-1', famcalGen: '2' });
    expect(patched.data.reminders).toEqual({ useDefault: false, overrides: [{ method: 'popup', minutes: 5 }] });
    expect(patched.data.description).toBe('kept');
    const updated = await api.events.update({ calendarId, eventId: id, requestBody: timed('2026-04-02T10:00:00Z', '2026-04-02T11:00:00Z') });
    expect(updated.data.extendedProperties).toBeUndefined();
    expect(updated.data.description).toBeUndefined();
    expect(updated.data.summary).toBe('Event');
  });

  it('bumps sequence on time changes and rejects a lower sequence with 400', async () => {
    const calendarId = await newCalendar();
    const created = await api.events.insert({ calendarId, requestBody: timed('2026-04-03T10:00:00Z', '2026-04-03T11:00:00Z') });
    const id = created.data.id!;
    const renamed = await api.events.patch({ calendarId, eventId: id, requestBody: { summary: 'Renamed' } });
    expect(renamed.data.sequence).toBe(0);
    const moved = await api.events.patch({
      calendarId,
      eventId: id,
      requestBody: { start: { dateTime: '2026-04-03T12:00:00Z' }, end: { dateTime: '2026-04-03T13:00:00Z' } },
    });
    expect(moved.data.sequence).toBe(1);
    const err = await expectGoogleError(api.events.patch({ calendarId, eventId: id, requestBody: { summary: 'x', sequence: 0 } }), 400, 'invalid');
    expect(err.data.error?.message).toMatch(/Invalid sequence value/);
  });

  it('revives a cancelled event with PATCH status confirmed, but refuses PUT on it with 403', async () => {
    const calendarId = await newCalendar();
    const id = newId();
    await api.events.insert({ calendarId, requestBody: { id, ...timed('2026-04-04T10:00:00Z', '2026-04-04T11:00:00Z') } });
    await api.events.delete({ calendarId, eventId: id });
    await expectGoogleError(api.events.update({ calendarId, eventId: id, requestBody: timed('2026-04-04T10:00:00Z', '2026-04-04T11:00:00Z') }), 403, 'forbidden');
    const revived = await api.events.patch({ calendarId, eventId: id, requestBody: { status: 'confirmed', summary: 'Back' } });
    expect(revived.data.status).toBe('confirmed');
    expect((await api.events.list({ calendarId })).data.items?.map((e) => e.id)).toEqual([id]);
  });
});

describe('events.list: paging, sync tokens, tombstones', () => {
  async function insertMany(calendarId: string, n: number): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const day = String(i + 1).padStart(2, '0');
      const res = await api.events.insert({ calendarId, requestBody: timed(`2026-07-${day}T10:00:00Z`, `2026-07-${day}T11:00:00Z`, { summary: `E${i}` }) });
      ids.push(res.data.id!);
    }
    return ids;
  }

  it('pages with nextPageToken and returns nextSyncToken only on the last page', async () => {
    const calendarId = await newCalendar();
    const ids = await insertMany(calendarId, 7);
    const seen: string[] = [];
    const pages: Array<{ n: number; page: boolean; sync: boolean }> = [];
    let pageToken: string | undefined;
    do {
      const res = await api.events.list({ calendarId, maxResults: 3, ...(pageToken ? { pageToken } : {}) });
      pages.push({ n: res.data.items!.length, page: Boolean(res.data.nextPageToken), sync: Boolean(res.data.nextSyncToken) });
      seen.push(...res.data.items!.map((e) => e.id!));
      pageToken = res.data.nextPageToken ?? undefined;
    } while (pageToken);
    expect(pages).toEqual([
      { n: 3, page: true, sync: false },
      { n: 3, page: true, sync: false },
      { n: 1, page: false, sync: true },
    ]);
    expect(seen.sort()).toEqual([...ids].sort());
    const ordered = await api.events.list({ calendarId, singleEvents: true, orderBy: 'startTime' });
    expect(ordered.data.items?.map((e) => e.summary)).toEqual(['E0', 'E1', 'E2', 'E3', 'E4', 'E5', 'E6']);
    expect(ordered.data.nextSyncToken).toBeUndefined();
    await expectGoogleError(api.events.list({ calendarId, orderBy: 'startTime' }), 400, 'badRequest');
  });

  it('incremental sync returns changes and deletions as cancelled tombstones; no change keeps the token', async () => {
    const calendarId = await newCalendar();
    const [a, b, c] = await insertMany(calendarId, 3);
    const full = await api.events.list({ calendarId });
    expect(full.data.items).toHaveLength(3);
    const t1 = full.data.nextSyncToken!;
    expect(t1).toBeTruthy();

    await api.events.patch({ calendarId, eventId: a!, requestBody: { summary: 'A2' } });
    await api.events.delete({ calendarId, eventId: b! });
    const d = await api.events.insert({ calendarId, requestBody: timed('2026-08-01T10:00:00Z', '2026-08-01T11:00:00Z') });

    const inc = await api.events.list({ calendarId, syncToken: t1 });
    const byId = new Map(inc.data.items!.map((e) => [e.id, e]));
    expect([...byId.keys()].sort()).toEqual([a, b, d.data.id].sort());
    expect(byId.get(a)?.summary).toBe('A2');
    const tomb = byId.get(b)!;
    expect(tomb.status).toBe('cancelled');
    expect(Object.keys(tomb).sort()).toEqual(['etag', 'id', 'kind', 'status']);
    expect(byId.has(c)).toBe(false);
    const t2 = inc.data.nextSyncToken!;
    expect(t2).not.toBe(t1);

    const quiet = await api.events.list({ calendarId, syncToken: t2 });
    expect(quiet.data.items).toEqual([]);
    expect(quiet.data.nextSyncToken).toBe(t2);

    expect((await api.events.list({ calendarId })).data.items?.map((e) => e.id)).not.toContain(b);
    expect((await api.events.list({ calendarId, showDeleted: true })).data.items?.map((e) => e.id)).toContain(b);
    const recent = await api.events.list({ calendarId, updatedMin: new Date(Date.now() - 60_000).toISOString() });
    expect(recent.data.items?.find((e) => e.id === b)?.status).toBe('cancelled');
    await expectGoogleError(
      api.events.list({ calendarId, updatedMin: new Date(Date.now() - 60 * 86_400_000).toISOString() }),
      410,
      'updatedMinTooLongAgo',
    );
  });

  it('pages an incremental result and puts the sync token on its last page only', async () => {
    const calendarId = await newCalendar();
    const t0 = (await api.events.list({ calendarId })).data.nextSyncToken!;
    await insertMany(calendarId, 5);
    const first = await api.events.list({ calendarId, syncToken: t0, maxResults: 2 });
    expect(first.data.nextPageToken).toBeTruthy();
    expect(first.data.nextSyncToken).toBeUndefined();
    const second = await api.events.list({ calendarId, syncToken: t0, maxResults: 2, pageToken: first.data.nextPageToken! });
    const third = await api.events.list({ calendarId, syncToken: t0, maxResults: 2, pageToken: second.data.nextPageToken! });
    expect(third.data.items).toHaveLength(1);
    expect(third.data.nextPageToken).toBeUndefined();
    expect(third.data.nextSyncToken).toBeTruthy();
  });

  it.each<[string, calendar_v3.Params$Resource$Events$List]>([
    ['timeMin', { timeMin: '2026-01-01T00:00:00Z' }],
    ['timeMax', { timeMax: '2026-01-01T00:00:00Z' }],
    ['orderBy', { orderBy: 'updated' }],
    ['q', { q: 'dentist' }],
    ['iCalUID', { iCalUID: 'x@google.com' }],
    ['updatedMin', { updatedMin: '2026-01-01T00:00:00Z' }],
    ['privateExtendedProperty', { privateExtendedProperty: ['famcalId=1'] }],
    ['sharedExtendedProperty', { sharedExtendedProperty: ['k=v'] }],
    ['showDeleted=false', { showDeleted: false }],
  ])('refuses syncToken combined with %s (400)', async (_label, extra) => {
    const calendarId = await newCalendar();
    const token = (await api.events.list({ calendarId })).data.nextSyncToken!;
    const err = await failure(api.events.list({ calendarId, syncToken: token, ...extra }));
    expect(err.status).toBe(400);
  });

  it('answers an expired or unknown sync token with 410 fullSyncRequired; a full sync then recovers', async () => {
    const calendarId = await newCalendar();
    await insertMany(calendarId, 2);
    const token = (await api.events.list({ calendarId })).data.nextSyncToken!;
    fake.expireSyncTokens(calendarId);
    const err = await expectGoogleError(api.events.list({ calendarId, syncToken: token }), 410, 'fullSyncRequired');
    expect(err.data.error?.errors[0]).toMatchObject({
      domain: 'calendar',
      message: 'Sync token is no longer valid, a full sync is required.',
      location: 'syncToken',
    });
    await expectGoogleError(api.events.list({ calendarId, syncToken: 'not-a-token' }), 410, 'fullSyncRequired');
    const again = await api.events.list({ calendarId });
    expect(again.data.items).toHaveLength(2);
    const ok = await api.events.list({ calendarId, syncToken: again.data.nextSyncToken! });
    expect(ok.data.items).toEqual([]);
  });

  it('filters by private extended property and text', async () => {
    const calendarId = await newCalendar();
    await api.events.insert({ calendarId, requestBody: timed('2026-09-01T10:00:00Z', '2026-09-01T11:00:00Z', { summary: 'Dentist', extendedProperties: { private: { famcalId: 'x1' } } }) });
    await api.events.insert({ calendarId, requestBody: timed('2026-09-02T10:00:00Z', '2026-09-02T11:00:00Z', { summary: 'Football' }) });
    const byProp = await api.events.list({ calendarId, privateExtendedProperty: ['famcalId=x1'] });
    expect(byProp.data.items?.map((e) => e.summary)).toEqual(['Dentist']);
    const byText = await api.events.list({ calendarId, q: 'foot' });
    expect(byText.data.items?.map((e) => e.summary)).toEqual(['Football']);
    await expectGoogleError(
      api.events.list({ calendarId, timeMin: '2026-09-02T00:00:00Z', timeMax: '2026-09-01T00:00:00Z' }),
      400,
      'timeRangeEmpty',
    );
  });
});

describe('recurring events', () => {
  it('expands RRULE/EXDATE in the series zone, and patching or deleting an instance makes exceptions', async () => {
    const calendarId = await newCalendar('Europe/Berlin');
    const master = await api.events.insert({
      calendarId,
      requestBody: {
        summary: 'Swimming',
        start: { dateTime: '2026-03-02T09:00:00', timeZone: 'Europe/Berlin' },
        end: { dateTime: '2026-03-02T10:00:00', timeZone: 'Europe/Berlin' },
        recurrence: ['RRULE:FREQ=WEEKLY;COUNT=5', 'EXDATE;TZID=Europe/Berlin:20260316T090000'],
      },
    });
    const masterId = master.data.id!;
    expect(master.data.recurrence).toHaveLength(2);
    const instances = (await api.events.instances({ calendarId, eventId: masterId })).data.items!;
    // 2 Mar, 9 Mar, (16 Mar excluded), 23 Mar, 30 Mar — the last one after the switch to summer time.
    expect(instances.map((i) => new Date(i.start!.dateTime!).toISOString())).toEqual([
      '2026-03-02T08:00:00.000Z',
      '2026-03-09T08:00:00.000Z',
      '2026-03-23T08:00:00.000Z',
      '2026-03-30T07:00:00.000Z',
    ]);
    for (const inst of instances) {
      expect(inst.recurringEventId).toBe(masterId);
      expect(inst.originalStartTime?.dateTime).toBe(inst.start?.dateTime);
      // Instance ids are opaque: no "<masterId>_<YYYYMMDDTHHMMSSZ>" to parse.
      expect(inst.id!.startsWith(masterId)).toBe(false);
      expect(inst.id).not.toMatch(/\d{8}T\d{6}Z?$/);
    }
    const [, second, third] = instances;

    const modified = await api.events.patch({
      calendarId,
      eventId: second!.id!,
      requestBody: { summary: 'Swimming (late)', start: { dateTime: '2026-03-09T11:00:00+01:00' }, end: { dateTime: '2026-03-09T12:00:00+01:00' } },
    });
    expect(modified.data.recurringEventId).toBe(masterId);
    expect(Date.parse(modified.data.originalStartTime!.dateTime!)).toBe(Date.parse('2026-03-09T08:00:00Z'));
    expect(modified.data.recurrence).toBeUndefined();
    expect((await api.events.delete({ calendarId, eventId: third!.id! })).status).toBe(204);

    const after = (await api.events.instances({ calendarId, eventId: masterId })).data.items!;
    expect(after.map((i) => i.summary)).toEqual(['Swimming', 'Swimming (late)', 'Swimming']);
    const withDeleted = (await api.events.instances({ calendarId, eventId: masterId, showDeleted: true })).data.items!;
    expect(withDeleted.find((i) => i.id === third!.id)?.status).toBe('cancelled');

    const raw = (await api.events.list({ calendarId, showDeleted: true })).data.items!;
    expect(raw).toHaveLength(3);
    const cancelled = raw.find((e) => e.status === 'cancelled')!;
    expect(cancelled.recurringEventId).toBe(masterId);
    expect(Date.parse(cancelled.originalStartTime!.dateTime!)).toBe(Date.parse('2026-03-23T08:00:00Z'));
    expect(raw.find((e) => e.id === masterId)?.recurrence).toEqual(master.data.recurrence);

    const expanded = (await api.events.list({ calendarId, singleEvents: true, orderBy: 'startTime' })).data.items!;
    expect(expanded.map((e) => [e.summary, new Date(e.start!.dateTime!).toISOString()])).toEqual([
      ['Swimming', '2026-03-02T08:00:00.000Z'],
      ['Swimming (late)', '2026-03-09T10:00:00.000Z'],
      ['Swimming', '2026-03-30T07:00:00.000Z'],
    ]);
  });

  it('reports exception changes in incremental sync and cancels the whole series on master delete', async () => {
    const calendarId = await newCalendar();
    const master = await api.events.insert({
      calendarId,
      requestBody: { summary: 'Bins', start: { date: '2026-01-05' }, end: { date: '2026-01-06' }, recurrence: ['RRULE:FREQ=WEEKLY;BYDAY=MO;UNTIL=20260126'] },
    });
    const token = (await api.events.list({ calendarId })).data.nextSyncToken!;
    const instances = (await api.events.instances({ calendarId, eventId: master.data.id! })).data.items!;
    expect(instances.map((i) => i.start?.date)).toEqual(['2026-01-05', '2026-01-12', '2026-01-19', '2026-01-26']);
    expect(instances[1]!.end?.date).toBe('2026-01-13');
    await api.events.delete({ calendarId, eventId: instances[1]!.id! });
    const inc = await api.events.list({ calendarId, syncToken: token });
    expect(inc.data.items).toHaveLength(1);
    expect(inc.data.items![0]).toMatchObject({ status: 'cancelled', recurringEventId: master.data.id, originalStartTime: { date: '2026-01-12' } });
    await api.events.delete({ calendarId, eventId: master.data.id! });
    const inc2 = await api.events.list({ calendarId, syncToken: inc.data.nextSyncToken! });
    expect(inc2.data.items?.map((e) => [e.id, e.status])).toEqual([[master.data.id, 'cancelled']]);
    await expectGoogleError(api.events.instances({ calendarId, eventId: master.data.id! }), 410, 'deleted');
  });
});

describe('push notifications', () => {
  interface Received {
    headers: http.IncomingHttpHeaders;
    body: string;
  }
  let receiver: http.Server;
  let receiverUrl: string;
  const received: Received[] = [];
  const waiters: Array<() => void> = [];

  beforeAll(async () => {
    receiver = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        received.push({ headers: req.headers, body });
        res.writeHead(200).end();
        waiters.splice(0).forEach((w) => w());
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/google/push`;
  });
  afterAll(async () => {
    await new Promise((r) => receiver.close(r));
  });

  async function waitFor(pred: () => boolean, ms = 3_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!pred()) {
      if (Date.now() > deadline) throw new Error('timed out waiting for a push notification');
      await new Promise<void>((r) => {
        waiters.push(r);
        setTimeout(r, 50);
      });
    }
  }

  it('sends sync first, then exists on each change, with the X-Goog headers and an empty body; stop ends them', async () => {
    const calendarId = await newCalendar();
    const channelId = `kith-${Date.now()}`;
    const watch = await api.events.watch({
      calendarId,
      requestBody: { id: channelId, type: 'web_hook', address: receiverUrl, token: 'room=1&secret=s3' },
    });
    expect(watch.data).toMatchObject({ kind: 'api#channel', id: channelId, token: 'room=1&secret=s3' });
    expect(Number(watch.data.expiration)).toBeGreaterThan(Date.now() + 6 * 86_400_000);
    const mine = (): Received[] => received.filter((r) => r.headers['x-goog-channel-id'] === channelId);
    await waitFor(() => mine().length >= 1);
    const sync = mine()[0]!;
    expect(sync.headers['x-goog-resource-state']).toBe('sync');
    expect(sync.headers['x-goog-message-number']).toBe('1');
    expect(sync.headers['x-goog-channel-token']).toBe('room=1&secret=s3');
    expect(sync.headers['x-goog-resource-id']).toBe(watch.data.resourceId);
    expect(sync.headers['x-goog-resource-uri']).toBe(watch.data.resourceUri);
    expect(sync.headers['x-goog-channel-expiration']).toBe(new Date(Number(watch.data.expiration)).toUTCString());
    expect(sync.body).toBe('');

    await expectGoogleError(
      api.events.watch({ calendarId, requestBody: { id: channelId, type: 'web_hook', address: receiverUrl } }),
      400,
      'channelIdNotUnique',
    );

    await api.events.insert({ calendarId, requestBody: timed('2026-10-01T10:00:00Z', '2026-10-01T11:00:00Z') });
    await waitFor(() => mine().length >= 2);
    const exists = mine()[1]!;
    expect(exists.headers['x-goog-resource-state']).toBe('exists');
    expect(Number(exists.headers['x-goog-message-number'])).toBeGreaterThan(1);

    const stop = await api.channels.stop({ requestBody: { id: channelId, resourceId: watch.data.resourceId! } });
    expect(stop.status).toBe(204);
    await api.events.insert({ calendarId, requestBody: timed('2026-10-02T10:00:00Z', '2026-10-02T11:00:00Z') });
    await new Promise((r) => setTimeout(r, 150));
    expect(mine()).toHaveLength(2);
    await expectGoogleError(api.channels.stop({ requestBody: { id: channelId, resourceId: watch.data.resourceId! } }), 404, 'notFound');
  });

  it('caps the channel expiration and can drop a notification by fault', async () => {
    const calendarId = await newCalendar();
    const channelId = `kith-cap-${Date.now()}`;
    const watch = await api.events.watch({
      calendarId,
      requestBody: { id: channelId, type: 'web_hook', address: receiverUrl, expiration: String(Date.now() + 90 * 86_400_000) },
    });
    expect(Number(watch.data.expiration)).toBeLessThanOrEqual(Date.now() + 7 * 86_400_000);
    const mine = (): Received[] => received.filter((r) => r.headers['x-goog-channel-id'] === channelId);
    await waitFor(() => mine().length === 1);
    fake.injectFault({ route: 'push', kind: 'dropConnection', count: 1 });
    await api.events.insert({ calendarId, requestBody: timed('2026-10-03T10:00:00Z', '2026-10-03T11:00:00Z') });
    await waitFor(() => fake.pushDeliveries().some((d) => d.channelId === channelId && d.error === 'dropped by fault'));
    await api.events.insert({ calendarId, requestBody: timed('2026-10-04T10:00:00Z', '2026-10-04T11:00:00Z') });
    await waitFor(() => mine().length === 2);
    expect(mine()[1]!.headers['x-goog-resource-state']).toBe('exists');
    await api.channels.stop({ requestBody: { id: channelId, resourceId: watch.data.resourceId! } });
  });
});

describe('fault injection', () => {
  const table: Array<[FaultKind, number, string]> = [
    ['rateLimitExceeded', 403, 'rateLimitExceeded'],
    ['userRateLimitExceeded', 403, 'userRateLimitExceeded'],
    ['quotaExceeded', 403, 'quotaExceeded'],
    ['tooManyRequests', 429, 'rateLimitExceeded'],
    ['backendError', 500, 'backendError'],
    ['serviceUnavailable', 503, 'backendError'],
    ['unauthorized', 401, 'authError'],
  ];
  it.each(table)('%s on events.insert surfaces as %i %s and writes nothing', async (kind, status, reason) => {
    const calendarId = await newCalendar();
    const id = newId();
    const body = { id, ...timed('2026-11-01T10:00:00Z', '2026-11-01T11:00:00Z') };
    const before = fake.stats().writes['events.insert'] ?? 0;
    fake.injectFault({ route: 'events.insert', kind, count: 1 });
    await expectGoogleError(api.events.insert({ calendarId, requestBody: body }), status, reason);
    expect(fake.event(calendarId, id)).toBeUndefined();
    expect(fake.stats().writes['events.insert'] ?? 0).toBe(before);
    const retried = await api.events.insert({ calendarId, requestBody: body });
    expect(retried.data.id).toBe(id);
  });

  it('commit then drop: the client sees a network error but the insert was applied, and a retry gets 409', async () => {
    const calendarId = await newCalendar();
    const id = newId();
    const body = { id, ...timed('2026-11-02T10:00:00Z', '2026-11-02T11:00:00Z', { summary: 'Dropped answer' }) };
    const writes = fake.stats().writes['events.insert'] ?? 0;
    fake.injectFault({ route: 'events.insert', kind: 'commitThenDrop' });
    const err = await failure(api.events.insert({ calendarId, requestBody: body }));
    expect(err.hasResponse).toBe(false);
    expect(err.status).toBeUndefined();
    expect(fake.event(calendarId, id)?.summary).toBe('Dropped answer');
    expect(fake.stats().writes['events.insert']).toBe(writes + 1);
    await expectGoogleError(api.events.insert({ calendarId, requestBody: body }), 409, 'duplicate');
    expect((await api.events.get({ calendarId, eventId: id })).data.summary).toBe('Dropped answer');
  });

  it('commit then drop on patch leaves the patch applied; dropConnection applies nothing', async () => {
    const calendarId = await newCalendar();
    const created = await api.events.insert({ calendarId, requestBody: timed('2026-11-03T10:00:00Z', '2026-11-03T11:00:00Z') });
    const id = created.data.id!;
    fake.injectFault({ route: 'events.patch', kind: 'commitThenDrop' });
    await failure(api.events.patch({ calendarId, eventId: id, requestBody: { summary: 'Applied' } }));
    expect(fake.event(calendarId, id)?.summary).toBe('Applied');
    fake.injectFault({ route: 'events.patch', kind: 'dropConnection' });
    const err = await failure(api.events.patch({ calendarId, eventId: id, requestBody: { summary: 'Never applied' } }));
    expect(err.hasResponse).toBe(false);
    expect(fake.event(calendarId, id)?.summary).toBe('Applied');
  });

  it('commit then drop on delete: gaxios re-sends the DELETE by itself and gets 410 deleted', async () => {
    const calendarId = await newCalendar();
    const created = await api.events.insert({ calendarId, requestBody: timed('2026-11-04T10:00:00Z', '2026-11-04T11:00:00Z') });
    fake.injectFault({ route: 'events.delete', kind: 'commitThenDrop' });
    const before = fake.stats().requests['events.delete'] ?? 0;
    await expectGoogleError(api.events.delete({ calendarId, eventId: created.data.id! }), 410, 'deleted');
    expect(fake.stats().requests['events.delete']).toBe(before + 2);
    expect(fake.event(calendarId, created.data.id!)?.status).toBe('cancelled');
  });

  it('lets gaxios retry a GET after an injected 503 (the client retries idempotent methods)', async () => {
    const calendarId = await newCalendar();
    const before = fake.stats().requests['calendars.get'] ?? 0;
    fake.injectFault({ route: 'calendars.get', kind: 'serviceUnavailable', count: 1 });
    const res = await api.calendars.get({ calendarId });
    expect(res.status).toBe(200);
    expect(fake.stats().requests['calendars.get']).toBe(before + 2);
    expect(fake.stats().statuses['calendars.get']?.['503']).toBeGreaterThanOrEqual(1);
  });

  it('fires probabilistic faults from a seeded generator and can target one calendar', async () => {
    const calendarId = await newCalendar();
    const other = await newCalendar();
    const id = fake.injectFault({ route: 'events.list', kind: 'backendError', probability: 0.5, calendarId });
    let failed = 0;
    for (let i = 0; i < 20; i++) {
      const err = await api.events.list({ calendarId }, { retry: false }).then(
        () => null,
        (e: { response?: { status: number } }) => e,
      );
      if (err) {
        expect(err.response?.status).toBe(500);
        failed++;
      }
      expect((await api.events.list({ calendarId: other }, { retry: false })).status).toBe(200);
    }
    expect(failed).toBeGreaterThan(0);
    expect(failed).toBeLessThan(20);
    expect(fake.faults().active.find((f) => f.id === id)?.fired).toBe(failed);
    expect(fake.removeFault(id)).toBe(true);
  });

  it('applies token-endpoint faults to google-auth-library refreshes', async () => {
    const client = oauthClient();
    await authorize(client);
    fake.injectFault({ route: 'oauth.token', kind: 'unauthorized', count: 1 });
    const err = await failure(client.refreshAccessToken());
    expect([err.status, err.data.error]).toEqual([401, 'invalid_client']);
    expect((await client.refreshAccessToken()).credentials.access_token).toBeTruthy();
  });

  it('exposes the same controls over HTTP under /__control', async () => {
    const calendarId = await newCalendar();
    const created = await fetch(`${fake.url}/__control/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ route: 'events.list', kind: 'tooManyRequests', count: 1, calendarId }),
    });
    expect(created.status).toBe(201);
    await expectGoogleError(api.events.list({ calendarId }, { retry: false }), 429, 'rateLimitExceeded');
    const bad = await fetch(`${fake.url}/__control/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ route: 'events.list', kind: 'meteorStrike' }),
    });
    expect(bad.status).toBe(400);

    const token = (await api.events.list({ calendarId })).data.nextSyncToken!;
    const expire = await fetch(`${fake.url}/__control/sync-tokens/expire`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ calendarId }),
    });
    expect(expire.status).toBe(204);
    await expectGoogleError(api.events.list({ calendarId, syncToken: token }), 410, 'fullSyncRequired');
  });
});

describe('options', () => {
  it('enforces a per-user request quota with 403 userRateLimitExceeded', async () => {
    const limited = await startFakeGoogle({ requestsPerMinutePerUser: 3 });
    try {
      const client = new OAuth2Client({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, endpoints: limited.oauthEndpoints });
      client.setCredentials(limited.issueTokens({ email: USER, clientId: CLIENT_ID }));
      const cal = calendar({ version: 'v3', rootUrl: limited.rootUrl, auth: client as never });
      for (let i = 0; i < 3; i++) expect((await cal.calendarList.list()).status).toBe(200);
      await expectGoogleError(cal.calendarList.list({}, { retry: false }), 403, 'userRateLimitExceeded');
    } finally {
      await limited.close();
    }
  });

  it('follows an injected clock: expired channels stop notifying and expired access tokens get 401', async () => {
    let clock = Date.parse('2026-01-10T12:00:00Z');
    const timed2 = await startFakeGoogle({ now: () => clock });
    const hits: string[] = [];
    const receiver = http.createServer((req, res) => {
      hits.push(String(req.headers['x-goog-resource-state']));
      res.end();
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    try {
      const client = new OAuth2Client({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, endpoints: timed2.oauthEndpoints });
      const tokens = timed2.issueTokens({ email: USER, clientId: CLIENT_ID });
      client.setCredentials({ access_token: tokens.access_token, refresh_token: tokens.refresh_token, expiry_date: Date.now() + 3_600_000 });
      const cal = calendar({ version: 'v3', rootUrl: timed2.rootUrl, auth: client as never });
      const address = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/push`;
      await cal.events.watch({ calendarId: 'primary', requestBody: { id: 'short-lived', type: 'web_hook', address, params: { ttl: '60' } } });
      const deadline = Date.now() + 3_000;
      while (hits.length < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(hits).toEqual(['sync']);
      clock += 61_000;
      await cal.events.insert({ calendarId: 'primary', requestBody: timed('2026-01-11T10:00:00Z', '2026-01-11T11:00:00Z') });
      await new Promise((r) => setTimeout(r, 150));
      expect(hits).toEqual(['sync']);
      clock += 3_600_000;
      await expectGoogleError(cal.calendarList.list(), 401, 'authError');
    } finally {
      await new Promise((r) => receiver.close(r));
      await timed2.close();
    }
  });

  it('may answer short or empty pages that still carry nextPageToken (shortPages)', async () => {
    const jittery = await startFakeGoogle({ shortPages: true, seed: 7 });
    try {
      const client = new OAuth2Client({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, endpoints: jittery.oauthEndpoints });
      client.setCredentials(jittery.issueTokens({ email: USER, clientId: CLIENT_ID }));
      const cal = calendar({ version: 'v3', rootUrl: jittery.rootUrl, auth: client as never });
      for (let i = 0; i < 12; i++) {
        const day = String(i + 1).padStart(2, '0');
        await cal.events.insert({ calendarId: 'primary', requestBody: timed(`2026-02-${day}T10:00:00Z`, `2026-02-${day}T11:00:00Z`) });
      }
      const sizes: number[] = [];
      const ids = new Set<string>();
      let pageToken: string | undefined;
      let syncToken: string | undefined;
      do {
        const res = await cal.events.list({ calendarId: 'primary', maxResults: 4, ...(pageToken ? { pageToken } : {}) });
        sizes.push(res.data.items!.length);
        res.data.items!.forEach((e) => ids.add(e.id!));
        pageToken = res.data.nextPageToken ?? undefined;
        if (pageToken) expect(res.data.nextSyncToken).toBeUndefined();
        syncToken = res.data.nextSyncToken ?? undefined;
      } while (pageToken);
      expect(ids.size).toBe(12);
      expect(syncToken).toBeTruthy();
      expect(sizes.slice(0, -1).some((n) => n < 4)).toBe(true);
    } finally {
      await jittery.close();
    }
  });
});

describe('inspection helpers', () => {
  it('lists every stored event including tombstones and counts writes per route', async () => {
    const calendarId = await newCalendar();
    fake.resetStats();
    const a = await api.events.insert({ calendarId, requestBody: timed('2026-12-01T10:00:00Z', '2026-12-01T11:00:00Z') });
    const b = await api.events.insert({ calendarId, requestBody: timed('2026-12-02T10:00:00Z', '2026-12-02T11:00:00Z') });
    await api.events.patch({ calendarId, eventId: a.data.id!, requestBody: { summary: 'A' } });
    await api.events.delete({ calendarId, eventId: b.data.id! });
    await api.events.list({ calendarId });
    const all = fake.events(calendarId);
    expect(all.map((e) => [e.id, e.status])).toEqual([
      [a.data.id, 'confirmed'],
      [b.data.id, 'cancelled'],
    ]);
    const stats = fake.stats();
    expect(stats.writes).toEqual({ 'events.insert': 2, 'events.patch': 1, 'events.delete': 1 });
    expect(stats.requests['events.list']).toBe(1);
    const overHttp = (await (await fetch(`${fake.url}/__control/calendars/${encodeURIComponent(calendarId)}/events`)).json()) as {
      items: Array<{ id: string; status: string }>;
    };
    expect(overHttp.items.map((e) => e.status)).toEqual(['confirmed', 'cancelled']);
  });

  it('applies edits made "in Google’s UI" and reports them to incremental sync', async () => {
    const calendarId = await newCalendar();
    const token = (await api.events.list({ calendarId })).data.nextSyncToken!;
    const made = fake.ui.insertEvent(calendarId, { summary: 'Made in Google', start: { date: '2026-12-24' }, end: { date: '2026-12-27' } });
    const inc = await api.events.list({ calendarId, syncToken: token });
    expect(inc.data.items?.map((e) => [e.id, e.summary, e.extendedProperties])).toEqual([[made.id, 'Made in Google', undefined]]);
  });
});
