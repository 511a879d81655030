// Holding one storage read of a member's role open, to make races with membership changes deterministic.
import type { MemberRecord, Storage } from '../../src/storage/storage.js';

/**
 * Holds the `pass`-th next read of (roomId, userId)'s membership (0: the very next one): the read
 * starts at once — so it sees the membership as it is now — but its answer is given only after
 * `release()`. `held` resolves when the read started, `answered` when its answer was given.
 */
export function holdMemberRead(storage: Storage, roomId: string, userId: string, pass = 0) {
  const rooms = storage.rooms;
  const own = Object.prototype.hasOwnProperty.call(rooms, 'member');
  const original = rooms.member;
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let onHeld!: () => void;
  const held = new Promise<void>((r) => (onHeld = r));
  let onAnswered!: () => void;
  const answered = new Promise<void>((r) => (onAnswered = r));
  let seen = 0;
  let armed = true;
  rooms.member = async function (this: unknown, r: string, u: string): Promise<MemberRecord | undefined> {
    if (!armed || r !== roomId || u !== userId || seen++ !== pass) return original.call(rooms, r, u);
    armed = false;
    const read = original.call(rooms, r, u);
    onHeld();
    await gate;
    try {
      return await read;
    } finally {
      onAnswered();
    }
  };
  const restore = () => {
    if (own) rooms.member = original;
    else delete (rooms as { member?: unknown }).member;
  };
  return { held, answered, release, restore };
}
