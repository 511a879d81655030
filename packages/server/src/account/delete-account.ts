import { KithError } from '../errors/catalogue.js';
import type { MembershipChange } from '../rooms/membership-events.js';
import type { Storage } from '../storage/storage.js';

/** What becomes of a room the leaving member alone owns. */
export type SoleRoomDecision = { roomId: string; action: 'delete' } | { roomId: string; action: 'hand-over'; to: string };

/** The rooms `userId` is the only owner of (one query, however many rooms the user is in). */
export async function soleOwnedRooms(storage: Storage, userId: string): Promise<string[]> {
  return storage.rooms.soleOwnedRooms(userId);
}

/** Undecided rooms named in an ACCOUNT_OWNS_ROOMS message; the rest are counted. */
const NAMED_UNDECIDED = 20;

/**
 * Deletes the account after settling each room it alone owns: deleted, or handed to a member who
 * becomes its owner. Every decision is checked before anything changes; a room left undecided
 * refuses the whole request (409 ACCOUNT_OWNS_ROOMS), so nothing is deleted by surprise — unless
 * `otherwise` is 'delete': then every sole-owned room not named in `decisions` is deleted (the
 * request stays bounded whatever the number of rooms).
 * Returns the memberships that changed (every one of the account's, every member's of a deleted
 * room, the new owners'), for the caller to tell the open sockets.
 */
export async function deleteAccount(
  storage: Storage,
  userId: string,
  decisions: readonly SoleRoomDecision[],
  otherwise?: 'delete',
): Promise<{ deleted: string[]; handedOver: string[]; changes: MembershipChange[] }> {
  const sole = await soleOwnedRooms(storage, userId);
  const byRoom = new Map(decisions.map((d) => [d.roomId, d]));
  if (byRoom.size !== decisions.length) throw new KithError('VALIDATION_FAILED', 'Each room may be named once.');
  for (const roomId of byRoom.keys()) {
    if (!sole.includes(roomId)) throw new KithError('VALIDATION_FAILED', `Room ${roomId} is not one you alone own.`);
  }
  const undecided = sole.filter((roomId) => !byRoom.has(roomId));
  if (undecided.length > 0 && otherwise !== 'delete') {
    const named = undecided.slice(0, NAMED_UNDECIDED).join(', ');
    const more = undecided.length > NAMED_UNDECIDED ? ` and ${undecided.length - NAMED_UNDECIDED} more` : '';
    throw new KithError(
      'ACCOUNT_OWNS_ROOMS',
      `Say whether to delete or hand over each room you alone own (or send otherSoleOwnedRooms: "delete"): ${named}${more}.`,
    );
  }
  for (const d of byRoom.values()) {
    if (d.action === 'hand-over' && (d.to === userId || !(await storage.rooms.member(d.roomId, d.to)))) {
      throw new KithError('MEMBER_NOT_FOUND', `${d.to} is not another member of room ${d.roomId}.`);
    }
  }
  const deleted: string[] = [];
  const handedOver: string[] = [];
  const changes: MembershipChange[] = [];
  const rooms = await storage.rooms.listForUser(userId);
  const settle: SoleRoomDecision[] = [...byRoom.values(), ...undecided.map((roomId) => ({ roomId, action: 'delete' as const }))];
  for (const d of settle) {
    if (d.action === 'hand-over') {
      if ((await storage.rooms.setRole(d.roomId, d.to, 'owner')) !== 'ok') throw new KithError('MEMBER_NOT_FOUND');
      handedOver.push(d.roomId);
      changes.push({ roomId: d.roomId, userId: d.to, role: 'owner' });
    } else {
      // Its members are read first: each of their open sockets to the room must be closed.
      const members = await storage.rooms.members(d.roomId);
      await storage.rooms.delete(d.roomId);
      deleted.push(d.roomId);
      for (const m of members) if (m.userId !== userId) changes.push({ roomId: d.roomId, userId: m.userId, role: null });
    }
  }
  const outcome = await storage.users.delete(userId);
  // A room became solely theirs meanwhile (another owner left): nothing more was deleted; ask again.
  if (outcome === 'owns-rooms') throw new KithError('ACCOUNT_OWNS_ROOMS');
  if (outcome === 'not-found') throw new KithError('UNAUTHENTICATED');
  for (const room of rooms) changes.push({ roomId: room.roomId, userId, role: null });
  return { deleted, handedOver, changes };
}
