/**
 * `GET /invites/:code`: what an invite link is for, before anyone signs up or in — who invited
 * you, to which calendar, with which role, until when; or why the link no longer works (the same
 * errors accepting it would give). No authentication: the code in the URL is the credential, so
 * it is rate-limited per client like accepting, and the URL is redacted in logs.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { strictJsonApi } from '../auth/json-api.js';
import { KithError } from '../errors/catalogue.js';
import { sha256 } from '../ids.js';
import type { Storage } from '../storage/storage.js';
import { refuseInvite } from './invite-outcome.js';
import { InviteParams, InvitePreview } from './schemas.js';

export interface InvitePreviewOptions {
  storage: Storage;
  /** Previews per minute per client IP (codes are unguessable; this bounds trying). */
  perMinute: number;
}

/** The catalogue's error for why the invite no longer works (the same as accepting it would give). */
function refuse(outcome: 'not-found' | 'expired' | 'used-up' | 'revoked'): never {
  refuseInvite(outcome);
  throw new KithError('INTERNAL');
}

export const invitePreviewRoutes: FastifyPluginAsyncTypebox<InvitePreviewOptions> = async (app, opts) => {
  const { storage } = opts;
  strictJsonApi(app);
  app.get(
    '/invites/:code',
    {
      schema: { params: InviteParams, response: { 200: InvitePreview } },
      config: { rateLimit: { max: opts.perMinute, timeWindow: '1 minute' } },
    },
    async (request, reply) => {
      const invite = await storage.rooms.findInvite(sha256(request.params.code));
      const now = Date.now();
      if (!invite) return refuse('not-found');
      if (invite.expiresAt !== null && invite.expiresAt <= now) return refuse('expired');
      if (invite.maxUses !== null && invite.uses >= invite.maxUses) return refuse('used-up');
      // Its creator stopped being an owner since making it: the link died with their role, for good
      // (revokedAt); the role is checked as well, in case a row ever escaped that.
      if (invite.revokedAt !== null) return refuse('revoked');
      const inviter = await storage.rooms.member(invite.roomId, invite.createdBy);
      if (inviter?.role !== 'owner') return refuse('revoked');
      const room = await storage.rooms.get(invite.roomId);
      if (!room) return refuse('not-found');
      reply.header('cache-control', 'no-store');
      return {
        roomName: room.name,
        invitedBy: inviter.username,
        role: invite.role,
        expiresAt: invite.expiresAt === null ? null : new Date(invite.expiresAt).toISOString(),
      };
    },
  );
};
