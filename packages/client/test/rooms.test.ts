import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KithApiError } from '../src/index.js';
import { makeClient, signUp } from './helpers/clients.js';
import { startServer, type TestServer } from './helpers/server.js';

let t: TestServer;
beforeAll(async () => {
  t = await startServer();
});
afterAll(async () => {
  await t.close();
});

async function twoUsers() {
  const owner = makeClient(t.url);
  const member = makeClient(t.url);
  const [o, m] = await Promise.all([signUp(owner, 'owner'), signUp(member, 'member')]);
  return { owner, member, o, m };
}

describe('rooms', () => {
  it('creates, lists and gets rooms with their members', async () => {
    const { owner, o } = await twoUsers();
    const room = await owner.rooms.create('  Family  ');
    expect(room).toEqual({ roomId: expect.any(String), name: 'Family', role: 'owner' });
    await owner.rooms.create('Work');
    const list = await owner.rooms.list();
    expect(list.map((r) => r.name).sort()).toEqual(['Family', 'Work']);
    const details = await owner.rooms.get(room.roomId);
    expect(details).toMatchObject({ roomId: room.roomId, name: 'Family', role: 'owner', createdAt: expect.any(String) });
    expect(details.members).toEqual([{ userId: o.userId, username: o.username, role: 'owner' }]);
  });

  it('invites by code or by URL, and the invitee joins with the invite role', async () => {
    const { owner, member, m } = await twoUsers();
    const { roomId } = await owner.rooms.create('Family');
    const invite = await owner.rooms.invite(roomId, { role: 'editor', maxUses: 2 });
    expect(invite).toMatchObject({ code: expect.any(String), url: expect.stringContaining(invite.code), role: 'editor', maxUses: 2 });
    const accepted = await member.rooms.acceptInvite(invite.url);
    expect(accepted).toEqual({ roomId, name: 'Family', role: 'editor', joined: true });
    expect(await member.rooms.acceptInvite(invite.code)).toMatchObject({ joined: false });
    expect((await member.rooms.list()).map((r) => r.roomId)).toEqual([roomId]);
    const members = (await owner.rooms.get(roomId)).members;
    expect(members).toContainEqual({ userId: m.userId, username: m.username, role: 'editor' });
  });

  it('lists a room’s invites for its owner and revokes one: its link stops working', async () => {
    const { owner, member } = await twoUsers();
    const { roomId } = await owner.rooms.create('Family');
    const invite = await owner.rooms.invite(roomId, { role: 'viewer' });
    expect(invite).toMatchObject({ inviteId: expect.any(String), maxUses: 10, expiresAt: expect.any(String) });
    expect(await owner.rooms.invites(roomId)).toEqual([
      expect.objectContaining({ inviteId: invite.inviteId, role: 'viewer', uses: 0, usable: true }),
    ]);
    await owner.rooms.revokeInvite(roomId, invite.inviteId);
    expect(await owner.rooms.invites(roomId)).toEqual([]);
    expect(await member.rooms.acceptInvite(invite.url).catch((e: unknown) => e)).toMatchObject({ status: 404, code: 'INVITE_NOT_FOUND' });
  });

  it('registers with an invite link: the new account is in the invite’s room at once', async () => {
    const { owner } = await twoUsers();
    const { roomId } = await owner.rooms.create('Family');
    const invite = await owner.rooms.invite(roomId, { role: 'editor' });
    const guest = makeClient(t.url);
    const username = `guest${Date.now().toString(36)}`;
    const registered = await guest.register(username, 'correct horse battery', { invite: invite.url });
    expect(registered).toEqual({ userId: expect.any(String), username, room: { roomId, name: 'Family', role: 'editor' } });
    await guest.login(username, 'correct horse battery');
    expect(await guest.rooms.list()).toEqual([{ roomId, name: 'Family', role: 'editor' }]);
    await guest.close();
  });

  it('sets roles, refuses to drop the last owner, removes members and lets members leave', async () => {
    const { owner, member, o, m } = await twoUsers();
    const { roomId } = await owner.rooms.create('Family');
    await member.rooms.acceptInvite((await owner.rooms.invite(roomId, { role: 'viewer' })).code);
    expect(await owner.rooms.setRole(roomId, m.userId, 'editor')).toEqual({ userId: m.userId, username: m.username, role: 'editor' });
    const lastOwner = await owner.rooms.setRole(roomId, o.userId, 'viewer').catch((e: unknown) => e);
    expect(lastOwner).toBeInstanceOf(KithApiError);
    expect(lastOwner).toMatchObject({ status: 409, code: 'LAST_OWNER' });
    const notOwner = await member.rooms.invite(roomId, { role: 'editor' }).catch((e: unknown) => e);
    expect(notOwner).toMatchObject({ status: 403, code: 'FORBIDDEN' });

    await member.rooms.leave(roomId);
    expect(await member.rooms.list()).toEqual([]);
    const gone = await member.rooms.get(roomId).catch((e: unknown) => e);
    expect(gone).toMatchObject({ status: 404, code: 'ROOM_NOT_FOUND' });

    await member.rooms.acceptInvite((await owner.rooms.invite(roomId, { role: 'editor' })).code);
    await owner.rooms.removeMember(roomId, m.userId);
    expect((await owner.rooms.get(roomId)).members.map((x) => x.userId)).toEqual([o.userId]);
    const again = await owner.rooms.removeMember(roomId, m.userId).catch((e: unknown) => e);
    expect(again).toMatchObject({ status: 404, code: 'MEMBER_NOT_FOUND' });
  });

  it('reports expired and unknown invites with their codes', async () => {
    const { owner, member } = await twoUsers();
    const { roomId } = await owner.rooms.create('Family');
    const once = await owner.rooms.invite(roomId, { role: 'viewer', maxUses: 1 });
    await member.rooms.acceptInvite(once.code);
    const third = makeClient(t.url);
    await signUp(third, 'third');
    expect(await third.rooms.acceptInvite(once.code).catch((e: unknown) => e)).toMatchObject({ status: 410, code: 'INVITE_USED_UP' });
    expect(await third.rooms.acceptInvite('no-such-code').catch((e: unknown) => e)).toMatchObject({
      status: 404,
      code: 'INVITE_NOT_FOUND',
    });
  });
});
