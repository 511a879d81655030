import { createHash, randomBytes, randomUUID } from 'node:crypto';

/** Server-made identifiers and secrets. Random ones are URL-safe and unguessable (≥128 bits). */
export const newUserId = (): string => randomUUID();
export const newRoomId = (): string => randomBytes(16).toString('base64url');
export const newSecretToken = (): string => randomBytes(32).toString('base64url');
export const newInviteCode = (): string => randomBytes(18).toString('base64url');
export const newFamilyId = (): string => randomUUID();

/** Secrets (refresh tokens, invite codes) are stored only as their sha256. */
export const sha256 = (secret: string): string => createHash('sha256').update(secret).digest('base64url');
