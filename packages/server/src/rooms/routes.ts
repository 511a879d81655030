import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { requireUser } from '../auth/access-tokens.js';
import { strictJsonApi } from '../auth/json-api.js';
import { KithError } from '../errors/catalogue.js';
import { newInviteCode, newRoomId, sha256 } from '../ids.js';
import type { InviteRecord, MemberRecord, Storage } from '../storage/storage.js';
import { linkBase } from '../web/public-url.js';
import { refuseInvite } from './invite-outcome.js';
import type { MembershipEvents } from './membership-events.js';
import {
  AcceptedInvite,
  CreateInviteBody,
  CreateRoomBody,
  InviteList,
  InviteParams,
  InviteView,
  MemberParams,
  MemberView,
  RoomDetails,
  RoomInviteParams,
  RoomParams,
  RoomSummary,
  SetRoleBody,
} from './schemas.js';
import { Type } from 'typebox';
import { DEFAULT_LIMITS, type Limits } from '../config/config.js';

export interface RoomRoutesOptions {
  storage: Storage;
  membership: MembershipEvents;
  publicUrl: string | undefined;
  /** Applied when an invite is created without `expiresInHours` / `maxUses`. */
  inviteDefaults: { expiryHours: number; maxUses: number };
  /** Invite acceptances per minute per client IP (codes are unguessable; this bounds trying). */
  acceptPerMinute: number;
  /** Rooms one user may own and usable invites one room may hold; DEFAULT_LIMITS' when not given. */
  limits?: Pick<Limits, 'roomsPerUser' | 'invitesPerRoom'>;
}

/** Invites listed besides the usable ones: the newest expired, used-up or revoked, so an owner sees what just ended. */
export const LISTED_ENDED_INVITES = 20;

const memberView = (m: MemberRecord) => ({ userId: m.userId, username: m.username, role: m.role });
const isoOrNull = (t: number | null) => (t === null ? null : new Date(t).toISOString());
const inviteSummary = (i: InviteRecord, now: number) => ({
  inviteId: i.codeHash,
  role: i.role,
  createdBy: i.createdBy,
  createdAt: new Date(i.createdAt).toISOString(),
  expiresAt: isoOrNull(i.expiresAt),
  maxUses: i.maxUses,
  uses: i.uses,
  // Revoked invites (their creator stopped being an owner) are listed as expired ones are: the newest of them.
  usable: i.revokedAt === null && (i.expiresAt === null || i.expiresAt > now) && (i.maxUses === null || i.uses < i.maxUses),
});

/** Rooms: one shared calendar each, with members, roles and invites. */
export const roomRoutes: FastifyPluginAsyncTypebox<RoomRoutesOptions> = async (app, opts) => {
  const { storage, membership } = opts;
  const roomsPerUser = opts.limits?.roomsPerUser ?? DEFAULT_LIMITS.roomsPerUser;
  const invitesPerRoom = opts.limits?.invitesPerRoom ?? DEFAULT_LIMITS.invitesPerRoom;
  strictJsonApi(app);
  // onRequest, not preHandler: an anonymous caller gets 401 before the body is parsed or
  // validated, not a 400 that describes the schema. A well-signed token of a user who no longer
  // exists is refused here too (creating a room for it failed on a foreign key: a 500).
  app.addHook('onRequest', async function (request) {
    await requireUser.call(this, request);
    if (!(await storage.users.findById(request.user.userId))) throw new KithError('UNAUTHENTICATED');
  });

  /** The caller's membership; 404 (not 403) for rooms they are not in, so existence is not revealed. */
  const myMembership = async (request: FastifyRequest, roomId: string): Promise<MemberRecord> => {
    const me = await storage.rooms.member(roomId, request.user.userId);
    if (!me) throw new KithError('ROOM_NOT_FOUND');
    return me;
  };
  const requireOwner = async (request: FastifyRequest, roomId: string): Promise<MemberRecord> => {
    const me = await myMembership(request, roomId);
    if (me.role !== 'owner') throw new KithError('FORBIDDEN', 'Only an owner of the room can do that.');
    return me;
  };

  app.post('/rooms', { schema: { body: CreateRoomBody, response: { 201: RoomSummary } } }, async (request, reply) => {
    const room = { roomId: newRoomId(), name: request.body.name.trim(), createdBy: request.user.userId, createdAt: Date.now() };
    // Bounded, so that deleting the account (which settles every room it alone owns) stays one bounded request.
    if ((await storage.rooms.create(room, roomsPerUser)) === 'too-many') {
      throw new KithError(
        'TOO_MANY_ROOMS',
        `You already own ${roomsPerUser} rooms, the most allowed; delete one or hand it to another member first.`,
      );
    }
    // Modules set the new document up (schema version, name) before anyone is told the room exists.
    await membership.roomCreated({ roomId: room.roomId, name: room.name });
    return reply.code(201).send({ roomId: room.roomId, name: room.name, role: 'owner' as const });
  });

  app.get('/rooms', { schema: { response: { 200: Type.Object({ rooms: Type.Array(RoomSummary) }) } } }, async (request) => {
    const rooms = await storage.rooms.listForUser(request.user.userId);
    return { rooms: rooms.map((r) => ({ roomId: r.roomId, name: r.name, role: r.role })) };
  });

  app.get('/rooms/:roomId', { schema: { params: RoomParams, response: { 200: RoomDetails } } }, async (request) => {
    const me = await myMembership(request, request.params.roomId);
    const room = await storage.rooms.get(me.roomId);
    if (!room) throw new KithError('ROOM_NOT_FOUND');
    const members = await storage.rooms.members(room.roomId);
    return {
      roomId: room.roomId,
      name: room.name,
      role: me.role,
      createdAt: new Date(room.createdAt).toISOString(),
      members: members.map(memberView),
    };
  });

  app.post(
    '/rooms/:roomId/invites',
    { schema: { params: RoomParams, body: CreateInviteBody, response: { 201: InviteView } } },
    async (request, reply) => {
      const me = await requireOwner(request, request.params.roomId);
      // Before storing anything: without --public-url a link for a foreign Host is refused.
      const base = linkBase(opts.publicUrl, request);
      const code = newInviteCode();
      const now = Date.now();
      const { role } = request.body;
      // Every invite expires and runs out: a link forgotten in a chat must not work for ever.
      const expiresInHours = request.body.expiresInHours ?? opts.inviteDefaults.expiryHours;
      const maxUses = request.body.maxUses ?? opts.inviteDefaults.maxUses;
      const expiresAt = now + Math.round(expiresInHours * 3600_000);
      const codeHash = sha256(code);
      // Refused by storage when the caller stopped being an owner since requireOwner (a demotion
      // racing this request): the invite would be born revoked.
      const stored = await storage.rooms.createInviteWithin({
        codeHash,
        roomId: me.roomId,
        role,
        createdBy: me.userId,
        expiresAt,
        maxUses,
        uses: 0,
        createdAt: now,
      }, invitesPerRoom);
      if (stored === 'not-owner') throw new KithError('FORBIDDEN', 'Only an owner of the room can do that.');
      if (stored === 'too-many') {
        throw new KithError(
          'TOO_MANY_INVITES',
          `The room already has ${invitesPerRoom} usable invites, the most allowed; revoke one first, or wait for one to expire or be used up.`,
        );
      }
      return reply.code(201).send({
        inviteId: codeHash,
        code,
        url: `${base}/invite/${code}`,
        role,
        expiresAt: new Date(expiresAt).toISOString(),
        maxUses,
      });
    },
  );

  app.get(
    '/rooms/:roomId/invites',
    { schema: { params: RoomParams, response: { 200: InviteList } } },
    async (request) => {
      const me = await requireOwner(request, request.params.roomId);
      const now = Date.now();
      // Bounded: every usable invite (at most invitesPerRoom, unless the limit was lowered) and the
      // newest ended ones; the rest stay stored (their codes still answer expired or used up).
      const invites = await storage.rooms.listInvites(me.roomId, { now, live: invitesPerRoom, dead: LISTED_ENDED_INVITES });
      return { invites: invites.map((i) => inviteSummary(i, now)) };
    },
  );

  app.delete(
    '/rooms/:roomId/invites/:inviteId',
    { schema: { params: RoomInviteParams } },
    async (request, reply) => {
      const me = await requireOwner(request, request.params.roomId);
      if (!(await storage.rooms.revokeInvite(me.roomId, request.params.inviteId))) throw new KithError('INVITE_NOT_FOUND');
      request.log.info({ roomId: me.roomId }, 'invite revoked');
      return reply.code(204).send();
    },
  );

  app.post(
    '/invites/:code/accept',
    {
      schema: { params: InviteParams, response: { 200: AcceptedInvite } },
      config: { rateLimit: { max: opts.acceptPerMinute, timeWindow: '1 minute' } },
    },
    async (request) => {
      const result = await storage.rooms.acceptInvite(sha256(request.params.code), request.user.userId, Date.now());
      if (result.outcome !== 'joined' && result.outcome !== 'already-member') {
        refuseInvite(result.outcome);
        throw new KithError('INTERNAL');
      }
      const room = await storage.rooms.get(result.member.roomId);
      if (result.outcome === 'joined') {
        membership.publish({ roomId: result.member.roomId, userId: result.member.userId, role: result.member.role });
      }
      return {
        roomId: result.member.roomId,
        name: room?.name ?? '',
        role: result.member.role,
        joined: result.outcome === 'joined',
      };
    },
  );

  app.patch(
    '/rooms/:roomId/members/:userId',
    { schema: { params: MemberParams, body: SetRoleBody, response: { 200: MemberView } } },
    async (request) => {
      const { roomId, userId } = request.params;
      await requireOwner(request, roomId);
      const outcome = await storage.rooms.setRole(roomId, userId, request.body.role);
      if (outcome === 'not-member') throw new KithError('MEMBER_NOT_FOUND');
      if (outcome === 'last-owner') throw new KithError('LAST_OWNER');
      membership.publish({ roomId, userId, role: request.body.role });
      const member = await storage.rooms.member(roomId, userId);
      if (!member) throw new KithError('MEMBER_NOT_FOUND');
      return memberView(member);
    },
  );

  app.delete(
    '/rooms/:roomId/members/:userId',
    { schema: { params: MemberParams } },
    async (request, reply) => {
      const { roomId, userId } = request.params;
      if (userId === request.user.userId) await myMembership(request, roomId);
      else await requireOwner(request, roomId);
      // Removed by an owner (not leaving): no invite made up to now lets them back in.
      const removedAt = userId === request.user.userId ? undefined : Date.now();
      const outcome = await storage.rooms.removeMember(roomId, userId, removedAt);
      if (outcome === 'not-member') throw new KithError('MEMBER_NOT_FOUND');
      if (outcome === 'last-owner') throw new KithError('LAST_OWNER');
      membership.publish({ roomId, userId, role: null });
      return reply.code(204).send();
    },
  );
};
