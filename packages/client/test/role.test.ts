import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { KithClient, Role } from '../src/index.js';
import { makeClient, signUp, waitFor } from './helpers/clients.js';
import { startServer, tempDir, type TestServer } from './helpers/server.js';

let t: TestServer;
beforeAll(async () => {
  t = await startServer();
});
afterAll(async () => {
  await t.close();
});

const open: KithClient[] = [];
afterEach(async () => {
  while (open.length) await open.pop()!.close();
});

describe('my role in a room (extension 103)', () => {
  it('the calendar learns its role from the server and follows a role change live', async () => {
    const owner = makeClient(t.url);
    const guest = makeClient(t.url);
    open.push(owner, guest);
    await signUp(owner, 'own');
    const g = await signUp(guest, 'gst');
    const { roomId } = await owner.rooms.create('Family');
    await guest.rooms.acceptInvite((await owner.rooms.invite(roomId, { role: 'viewer' })).url);

    const co = await owner.openCalendar(roomId);
    const cg = await guest.openCalendar(roomId);
    const seen: Role[] = [];
    cg.on('role', (r) => seen.push(r));
    expect(cg.role).toBeNull(); // nothing said yet, nothing stored yet
    await waitFor(() => co.role === 'owner' && cg.role === 'viewer', 5000, 'roles');
    expect(seen).toEqual(['viewer']);

    await owner.rooms.setRole(roomId, g.userId, 'editor');
    await waitFor(() => cg.role === 'editor', 5000, 'promotion');
    expect(seen).toEqual(['viewer', 'editor']);
    // Now the guest's edits are kept by the server.
    cg.createEvent({ title: 'Picnic', start: '2026-05-02', end: '2026-05-03' });
    await cg.whenSaved(5000);
    await waitFor(() => co.listEvents().some((e) => e.title === 'Picnic'), 5000, 'owner sees the edit');
  });

  it('the last role told is kept in the local store, so it is known offline after a reload', async () => {
    const dir = await tempDir('kith-client-role-');
    const owner = makeClient(t.url, { persistence: { file: dir } });
    open.push(owner);
    await signUp(owner, 'own');
    const { roomId } = await owner.rooms.create('Family');
    const first = await owner.openCalendar(roomId);
    await waitFor(() => first.role === 'owner', 5000, 'role');
    await first.close();

    const again = await owner.openCalendar(roomId, { connect: false });
    expect(again.status).toBe('offline');
    expect(again.role).toBe('owner');
  });
});
