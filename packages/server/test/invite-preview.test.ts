/**
 * Issue 16: the invite page says who invited you to which calendar, and that a link is bad or
 * expired, before anyone creates an account — `GET /invites/:code`, without authentication.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient } from './helpers/api.js';
import { expectError, sleep } from './helpers/http-assert.js';
import { startTestServer, type TestServer } from './helpers/server.js';

describe('GET /invites/:code: what an invite is for, before signing up', () => {
  let t: TestServer;
  let api: ReturnType<typeof apiClient>;
  let ann: Awaited<ReturnType<typeof api.signUp>>;
  let roomId: string;
  const invite = async (body: Record<string, unknown>) => {
    const res = await api.request('POST', `/rooms/${roomId}/invites`, { body, token: ann.token });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body as { inviteId: string; code: string; expiresAt: string };
  };
  const preview = (code: string) => api.request('GET', `/invites/${encodeURIComponent(code)}`);

  beforeAll(async () => {
    t = await startTestServer();
    api = apiClient(t.url);
    ann = await api.signUp('ann');
    roomId = await api.createRoom(ann.token, 'The Millers');
  });
  afterAll(async () => {
    await t?.close();
  });

  it('names the calendar, who invited, the role and the expiry, to anyone holding the link', async () => {
    const made = await invite({ role: 'viewer', expiresInHours: 48 });
    const res = await preview(made.code);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ roomName: 'The Millers', invitedBy: ann.username, role: 'viewer', expiresAt: made.expiresAt });
    expect(res.headers.get('cache-control')).toBe('no-store');
  });

  it('says why a link no longer works: unknown, used up, expired, withdrawn, or its owner is no longer one', async () => {
    expectError(await preview('not-a-real-code'), 404, 'INVITE_NOT_FOUND');

    const once = await invite({ role: 'editor', maxUses: 1 });
    const ben = await api.signUp('ben');
    expect((await api.request('POST', `/invites/${once.code}/accept`, { token: ben.token })).status).toBe(200);
    expectError(await preview(once.code), 410, 'INVITE_USED_UP');

    const brief = await invite({ role: 'editor', expiresInHours: 0.0001 }); // 0.36 s
    await sleep(600);
    expectError(await preview(brief.code), 410, 'INVITE_EXPIRED');

    const withdrawn = await invite({ role: 'editor' });
    expect((await api.request('DELETE', `/rooms/${roomId}/invites/${withdrawn.inviteId}`, { token: ann.token })).status).toBe(204);
    expectError(await preview(withdrawn.code), 404, 'INVITE_NOT_FOUND');

    // Ben is made an owner, invites, then is demoted: his link died with his role.
    const members = await api.request('PATCH', `/rooms/${roomId}/members/${ben.userId}`, { body: { role: 'owner' }, token: ann.token });
    expect(members.status).toBe(200);
    const bens = await api.request('POST', `/rooms/${roomId}/invites`, { body: { role: 'editor' }, token: ben.token });
    expect(bens.status).toBe(201);
    expect((await preview(bens.body.code)).body.invitedBy).toBe(ben.username);
    await api.request('PATCH', `/rooms/${roomId}/members/${ben.userId}`, { body: { role: 'editor' }, token: ann.token });
    expectError(await preview(bens.body.code), 410, 'INVITE_REVOKED');
  });

  it('refuses an over-long code as invalid input, not a lookup', async () => {
    const res = await preview('x'.repeat(65));
    expect(res.status).toBe(400);
  });
});

describe('GET /invites/:code is rate-limited per IP like accepting (codes are unguessable; this bounds trying)', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ limits: { loginPerMinute: 3 } });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('the 4th preview a minute from one address is 429 RATE_LIMITED with Retry-After', async () => {
    const api = apiClient(t.url);
    for (let i = 0; i < 3; i++) expectError(await api.request('GET', `/invites/guess${i}`), 404, 'INVITE_NOT_FOUND');
    const res = await api.request('GET', '/invites/guess9');
    expectError(res, 429, 'RATE_LIMITED');
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });
});
