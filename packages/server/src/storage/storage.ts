/**
 * The storage contract. SQLite is the embedded default; other engines implement the same
 * interface and pass the same test suite. Every method is async so that networked engines fit.
 * Times are milliseconds since the epoch.
 */
import type { Role } from '@kith/protocol';
import type { ModuleTables } from './module-tables.js';

export type { Role };

export interface UserRecord {
  userId: string;
  username: string;
  passwordHash: string;
  createdAt: number;
}

export type RefreshTokenStatus = 'active' | 'rotated' | 'revoked';

export interface RefreshTokenRecord {
  /** sha256 of the token; the token itself is never stored. */
  tokenHash: string;
  userId: string;
  /** All tokens descended from one login share a family; reuse of a rotated one revokes it whole. */
  familyId: string;
  status: RefreshTokenStatus;
  expiresAt: number;
  createdAt: number;
}

export interface RoomRecord {
  roomId: string;
  name: string;
  createdBy: string;
  createdAt: number;
}

export interface MemberRecord {
  roomId: string;
  userId: string;
  username: string;
  role: Role;
  joinedAt: number;
}

export interface InviteRecord {
  /** sha256 of the invite code. */
  codeHash: string;
  roomId: string;
  role: Role;
  createdBy: string;
  expiresAt: number | null;
  maxUses: number | null;
  uses: number;
  createdAt: number;
  /**
   * When the invite was revoked because its creator stopped being an owner of the room (demoted,
   * removed or left); null while it is not. Set by storage, never by the caller, and never cleared:
   * making the creator an owner again does not bring the link back.
   */
  revokedAt: number | null;
}

/** An invite to store: `revokedAt` is storage's own. */
export type NewInvite = Omit<InviteRecord, 'revokedAt'>;

/**
 * What accepting an invite did. Besides the invite's own limits, two rules make a removal stick:
 * `revoked` — the invite's creator stopped being an owner of the room (removed, left or demoted)
 * at some point since making it, so the invites they handed out died with their power, for good; `removed` — this user was removed from the
 * room by an owner after the invite was created (the codes they used, or any older link).
 */
export type InviteAcceptance =
  | { outcome: 'joined' | 'already-member'; member: MemberRecord }
  | { outcome: 'not-found' | 'expired' | 'used-up' | 'revoked' | 'removed' };

export interface StoredUpdate {
  /**
   * Position in the room's own log: 1, 2, 3, … with no gaps, in commit order. An instance that
   * saw position n of a room and not n − 1 knows it missed something and reads the log.
   */
  seq: number;
  data: Uint8Array;
}

/** What a room's document is made of on disk: a merged snapshot plus the log after it. */
export interface StoredDoc {
  snapshot: Uint8Array | null;
  /** The last log position folded into the snapshot (0 when there is none). */
  snapshotSeq: number;
  /**
   * The snapshot's Yjs state vector, stored by the compactor that built the snapshot from a whole
   * document (null for snapshots stored without one). With it a room can be served from the
   * stored bytes before, or without, building its document.
   */
  snapshotStateVector: Uint8Array | null;
  updates: StoredUpdate[];
  /**
   * The room's stored head (`DocStore.head`), read in the same transaction. What was loaded must
   * reach it: a head beyond the last position loaded means rows are missing, and the room must be
   * refused rather than served without them.
   */
  head: number;
}

export interface DocStats {
  logCount: number;
  logBytes: number;
  snapshotBytes: number;
}

export interface UpdateToAppend {
  roomId: string;
  data: Uint8Array;
}

export interface UserStore {
  /** Returns false when the username (case-insensitive) is taken. */
  create(user: UserRecord): Promise<boolean>;
  findByUsername(username: string): Promise<UserRecord | undefined>;
  findById(userId: string): Promise<UserRecord | undefined>;
  /** Replaces the password hash (account recovery); false when there is no such user. */
  setPasswordHash(userId: string, passwordHash: string): Promise<boolean>;
  /**
   * Deletes the account with its memberships, sessions and the invites and feeds it made; rooms
   * it created but others own keep going under their earliest other owner. Refused with
   * `owns-rooms` while it is the only owner of a room (hand each over or delete it first).
   */
  delete(userId: string): Promise<'ok' | 'not-found' | 'owns-rooms'>;
}

export interface RefreshTokenStore {
  insert(token: RefreshTokenRecord): Promise<void>;
  find(tokenHash: string): Promise<RefreshTokenRecord | undefined>;
  /** Atomically replaces an active token with its successor; false if it was no longer active. */
  rotate(oldHash: string, successor: RefreshTokenRecord): Promise<boolean>;
  revoke(tokenHash: string): Promise<void>;
  revokeFamily(familyId: string): Promise<void>;
  /** Signs the user out everywhere (after a password reset): revokes every active token of theirs. */
  revokeUser(userId: string): Promise<void>;
  /**
   * One bounded step of the sweep of dead rows (see RefreshTokenPruner): looks at the next `limit`
   * rows that expired at or before `before`, in order of (expiresAt, tokenHash) after `after`,
   * and deletes those whose family has no token left that could be used (none active and expiring
   * after `before`). A rotated row whose family is still alive stays, so that presenting it again
   * is still recognised as reuse and revokes the family. Returns how many rows it deleted and
   * where the next step starts, undefined when no expired row is left past this step.
   */
  pruneDead(
    before: number,
    after: RefreshTokenCursor | undefined,
    limit: number,
  ): Promise<{ deleted: number; next: RefreshTokenCursor | undefined }>;
}

/** Where a sweep of dead refresh tokens goes on: the last row the previous step looked at. */
export interface RefreshTokenCursor {
  expiresAt: number;
  tokenHash: string;
}

/** The cursor before every row: a sweep starts here. */
export const REFRESH_SWEEP_START: RefreshTokenCursor = { expiresAt: Number.MIN_SAFE_INTEGER, tokenHash: '' };

export interface RoomStore {
  /**
   * Creates the room with its creator as owner. With `maxOwned`, refused (`too-many`, nothing
   * stored) when the creator already owns that many rooms: counted in the same transaction as the
   * insert, and one creation per user at a time, so a burst cannot pass the bound.
   */
  create(room: RoomRecord, maxOwned?: number): Promise<'ok' | 'too-many'>;
  get(roomId: string): Promise<RoomRecord | undefined>;
  listForUser(userId: string): Promise<Array<RoomRecord & { role: Role }>>;
  /** The rooms `userId` is the only owner of, oldest first (one query, whatever their number). */
  soleOwnedRooms(userId: string): Promise<string[]>;
  members(roomId: string): Promise<MemberRecord[]>;
  member(roomId: string, userId: string): Promise<MemberRecord | undefined>;
  /**
   * Changes a role; refuses (returns 'last-owner') to leave a room with no owner. An owner made
   * anything else loses, in the same transaction, the links they made (see `removeMember`).
   */
  setRole(roomId: string, userId: string, role: Role): Promise<'ok' | 'not-member' | 'last-owner'>;
  /**
   * Removes a member; refuses (returns 'last-owner') to leave a room with no owner. With
   * `removedAt` (a removal by an owner, not leaving) it also records, in the same transaction, that
   * invites created up to that time no longer admit this user.
   *
   * Links die with the role that made them: when an owner stops being one here or in `setRole`
   * (demoted, removed, leaving), the same transaction marks every invite they made to the room
   * revoked and deletes the room's feed if they made it. Nothing undoes that — an owner who is made
   * one again, or re-joins, makes new links. (Deleting an account removes its links too.)
   */
  removeMember(roomId: string, userId: string, removedAt?: number): Promise<'ok' | 'not-member' | 'last-owner'>;
  /**
   * Stores the invite if its creator is an owner of the room at that moment, atomically with
   * membership changes (so an invite made while its creator is being demoted is either revoked
   * with the others or not stored); false, storing nothing, when they are not.
   */
  createInvite(invite: NewInvite): Promise<boolean>;
  /**
   * `createInvite`, refused (`too-many`, nothing stored) when the room already holds `maxLive`
   * usable invites at `invite.createdAt` (not expired, not used up, not revoked): counted in the
   * same transaction as the insert, one invite creation per room at a time.
   */
  createInviteWithin(invite: NewInvite, maxLive: number): Promise<'ok' | 'not-owner' | 'too-many'>;
  /**
   * The room's invites, newest first (expired, used-up and revoked ones included, until deleted).
   * With `bound`: at most `live` usable ones (at `now`) and at most `dead` others, the newest of each.
   */
  listInvites(roomId: string, bound?: { now: number; live: number; dead: number }): Promise<InviteRecord[]>;
  /** Deletes one invite of the room (an owner withdrawing it); false when the room has no invite with that hash. */
  revokeInvite(roomId: string, codeHash: string): Promise<boolean>;
  /** One invite by its code's hash (whatever its state), to describe it before anyone accepts it. */
  findInvite(codeHash: string): Promise<InviteRecord | undefined>;
  /** Checks and consumes one use of an invite and adds the member, atomically. */
  acceptInvite(codeHash: string, userId: string, now: number): Promise<InviteAcceptance>;
  /**
   * Creates the user and accepts the invite for them in one transaction: either both happen
   * (`joined`) or neither (the username is taken, or the invite's outcome says why not).
   */
  registerWithInvite(user: UserRecord, codeHash: string, now: number): Promise<InviteAcceptance | { outcome: 'username-taken' }>;
  /** Deletes a room with its members, invites, feed and document; false when there was none. */
  delete(roomId: string): Promise<boolean>;
}

export interface DocStore {
  /**
   * The stored document after log position `afterSeq` (default 0: all of it): the snapshot (always
   * on a full load, otherwise only when it folds in something after `afterSeq`), then the log
   * entries after both, in order.
   */
  load(roomId: string, afterSeq?: number): Promise<StoredDoc>;
  /**
   * The whole stored document, as `load`, read where it holds the event loop least: for big reads
   * off a client's path (room reads in a worker, feed builds, exports, compaction). SQLite reads it
   * on a reader thread; PostgreSQL's load is network I/O already.
   */
  loadOffLoop(roomId: string): Promise<StoredDoc>;
  /** Appends every update in one transaction (one commit per batch); returns their seqs in order. */
  append(updates: UpdateToAppend[]): Promise<number[]>;
  /** The room's last log position (0 for an empty room). */
  head(roomId: string): Promise<number>;
  stats(roomId: string): Promise<DocStats>;
  /**
   * Replaces the snapshot with one that folds in the log through `throughSeq`, and drops those log
   * entries. Succeeds only if the stored snapshot is still at `expectedSnapshotSeq` (so a concurrent
   * compaction of the same room cannot be applied twice). `stateVector` is the snapshot's state
   * vector, when the caller built the snapshot from a document that vouches for it.
   */
  compact(
    roomId: string,
    snapshot: Uint8Array,
    expectedSnapshotSeq: number,
    throughSeq: number,
    stateVector?: Uint8Array,
  ): Promise<boolean>;
}

/**
 * Leases: once-per-cluster work (e.g. compacting a room) is done by whoever holds the lease; a
 * lease expires on its own, so a dead holder does not block the work for long.
 */
export interface LeaseStore {
  /** Takes the lease if it is free, expired, or already ours; true when we hold it now. */
  tryAcquire(name: string, holder: string, ttlMs: number, now?: number): Promise<boolean>;
  /** Gives the lease back, if we still hold it. */
  release(name: string, holder: string): Promise<void>;
}

/** A room's secret ICS feed: only the sha256 of its token is stored. */
export interface FeedRecord {
  roomId: string;
  tokenHash: string;
  createdBy: string;
  createdAt: number;
}

/**
 * Calendar feeds: at most one secret per room; replacing it revokes the previous one at once, and
 * so does its creator ceasing to be an owner of the room (see `RoomStore.removeMember`).
 */
export interface FeedStore {
  /**
   * Makes this the room's feed secret, replacing (and so revoking) any previous one — if its
   * creator is an owner of the room at that moment, atomically with membership changes; false,
   * storing nothing, when they are not.
   */
  put(feed: FeedRecord): Promise<boolean>;
  get(roomId: string): Promise<FeedRecord | undefined>;
  findByTokenHash(tokenHash: string): Promise<FeedRecord | undefined>;
  /** Revokes the room's feed; false when it had none. */
  revoke(roomId: string): Promise<boolean>;
}

/**
 * Server-wide secrets kept in storage, so that instances sharing one database share them (e.g.
 * the access-token signing secret when none is configured).
 */
export interface SecretStore {
  /**
   * The secret called `name`: stored once, atomically, as `candidate` if there is none yet; every
   * caller (in any process) gets the one value that was stored first.
   */
  getOrCreate(name: string, candidate: string): Promise<string>;
}

export interface Storage {
  readonly users: UserStore;
  readonly refreshTokens: RefreshTokenStore;
  readonly rooms: RoomStore;
  readonly docs: DocStore;
  readonly leases: LeaseStore;
  readonly feeds: FeedStore;
  readonly secrets: SecretStore;
  /** Modules' own tables, with their own migrations (see ../modules/module.ts). */
  readonly modules: ModuleTables;
  /**
   * Whether other instances may use this storage at the same time (PostgreSQL) or this process
   * alone does (SQLite). Decides e.g. whether compaction needs a lease and the JWT secret lives here.
   */
  readonly shared: boolean;
  /** Cheap round trip used by /readyz. */
  ping(): Promise<void>;
  /**
   * Commits a throwaway write of a few tens of KiB (and removes it again); throws when storage
   * refuses writes, e.g. on a full disk. Used to notice that writes work again after failures.
   */
  probeWrite(): Promise<void>;
  close(): Promise<void>;
}
