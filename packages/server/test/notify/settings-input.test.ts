/**
 * PUT /users/me/notification-settings over loopback: room ids named in `rooms` are bounded by the
 * schema (a 400 naming the field, not a 404 that echoes the whole key), and nothing is stored.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { expectError, expectValidationError } from '../helpers/http-assert.js';
import { startMillers, type NotifyHarness } from './harness.js';

const open: NotifyHarness[] = [];
afterEach(async () => {
  for (const h of open.splice(0)) await h.server.close().catch(() => undefined);
});

describe('notification settings: room ids in `rooms`', { timeout: 60_000 }, () => {
  it('refuses a key longer than 128 characters or empty with a 400 naming rooms, echoing nothing of it, and stores nothing', async () => {
    const { h, api, dad, roomId } = await startMillers();
    open.push(h);
    const put = (rooms: Record<string, unknown>) => api.request('PUT', '/users/me/notification-settings', { token: dad.token, body: { rooms } });

    for (const key of ['x'.repeat(5_000), 'x'.repeat(129), '']) {
      const res = await put({ [key]: { changes: 'none' } });
      const message = expectValidationError(res, 'rooms');
      expect(message.length, message).toBeLessThan(200);
      if (key.length > 0) expect(message).not.toContain('x'.repeat(129));
    }
    // One bad key among good ones: the whole PUT is refused.
    expectValidationError(await put({ [roomId]: { changes: 'none' }, ['y'.repeat(200)]: { changes: 'all' } }), 'rooms');
    expect((await api.request('GET', '/users/me/notification-settings', { token: dad.token })).body.rooms).toEqual({});

    // Within the bound, a room one is not in is still a 404 (its id quoted, at most 128 characters).
    const unknown = expectError(await put({ ['z'.repeat(128)]: { changes: 'all' } }), 404, 'ROOM_NOT_FOUND');
    expect(unknown).toContain(`"${'z'.repeat(128)}"`);
    expect((await put({ [roomId]: { changes: 'none' } })).body.rooms).toEqual({ [roomId]: { changes: 'none' } });
  });
});
