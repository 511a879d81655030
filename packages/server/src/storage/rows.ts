import type { InviteRecord, MemberRecord, RefreshTokenRecord, RoomRecord, UserRecord } from './storage.js';

/**
 * Row → record mapping shared by the SQL engines: both name their columns alike (snake_case),
 * so one mapper per table serves SQLite and PostgreSQL.
 */
/* eslint-disable @typescript-eslint/no-explicit-any */
export const toUser = (r: any): UserRecord => ({
  userId: r.user_id,
  username: r.username,
  passwordHash: r.password_hash,
  createdAt: r.created_at,
});
export const toToken = (r: any): RefreshTokenRecord => ({
  tokenHash: r.token_hash,
  userId: r.user_id,
  familyId: r.family_id,
  status: r.status,
  expiresAt: r.expires_at,
  createdAt: r.created_at,
});
export const toRoom = (r: any): RoomRecord => ({
  roomId: r.room_id,
  name: r.name,
  createdBy: r.created_by,
  createdAt: r.created_at,
});
export const toMember = (r: any): MemberRecord => ({
  roomId: r.room_id,
  userId: r.user_id,
  username: r.username,
  role: r.role,
  joinedAt: r.joined_at,
});
export const toInvite = (r: any): InviteRecord => ({
  codeHash: r.code_hash,
  roomId: r.room_id,
  role: r.role,
  createdBy: r.created_by,
  expiresAt: r.expires_at,
  maxUses: r.max_uses,
  uses: r.uses,
  createdAt: r.created_at,
  revokedAt: r.revoked_at ?? null,
});
/** A driver's Buffer as the contract's Uint8Array, without copying. */
export const toBytes = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
