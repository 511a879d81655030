import { Readable } from 'node:stream';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { strictJsonApi } from '../auth/json-api.js';
import { loginLimits } from '../auth/login-limits.js';
import { decoyHash, verifyPassword } from '../auth/passwords.js';
import { FeedBuilder } from '../calendar/feed-builder.js';
import { KithError } from '../errors/catalogue.js';
import type { KithModule, ModuleContext } from '../modules/module.js';
import { deleteAccount } from './delete-account.js';
import { exportAccount } from './export.js';
import { DeleteAccountBody } from './schemas.js';

/**
 * The member's own account as a whole: `GET /users/me/export` (each room as .ics plus the room
 * document's JSON) and `DELETE /users/me` (with the password, and a decision for each room the
 * member alone owns). No tables of its own.
 */
export function accountModule(): KithModule {
  return {
    name: 'account',
    async install(ctx) {
      const feeds = new FeedBuilder(ctx.componentLogger('account'));
      await ctx.app.register(accountRoutes, { ctx, feeds });
      return { close: () => feeds.close() };
    },
  };
}

const accountRoutes: FastifyPluginAsyncTypebox<{ ctx: ModuleContext; feeds: FeedBuilder }> = async (app, { ctx, feeds }) => {
  strictJsonApi(app);
  const perIp = loginLimits(ctx.config.limits).perIp;

  app.get('/users/me/export', { config: { rateLimit: { max: 5, timeWindow: '1 minute' } } }, async (request, reply) => {
    const me = await ctx.auth.verifyRequest(request);
    const data = await exportAccount(me.userId, { storage: ctx.storage, feeds });
    if (!data) throw new KithError('UNAUTHENTICATED');
    request.log.info({ rooms: data.roomCount }, 'account exported');
    const day = data.exportedAt.slice(0, 10);
    return reply
      .header('content-type', 'application/json; charset=utf-8')
      .header('cache-control', 'no-store')
      .header('content-disposition', `attachment; filename="kith-export-${me.username}-${day}.json"`)
      // Bytes, not objects: the stream then asks for the next room only when 16 KB are left to send.
      .send(Readable.from(data.chunks, { objectMode: false }));
  });

  app.delete(
    '/users/me',
    { schema: { body: DeleteAccountBody }, config: { rateLimit: { max: perIp, timeWindow: '1 minute' } } },
    async (request, reply) => {
      const me = await ctx.auth.verifyRequest(request);
      const user = await ctx.storage.users.findById(me.userId);
      // The per-IP limit alone let guesses spread over many addresses (a stolen access token
      // is enough to try). Counted in sign-in's own per-account counter, not one of its own: a
      // guesser then gets the same guesses a minute through login and deletion together, and a
      // locked account refuses even the right password here as login does. Counted before
      // the check, as login counts every attempt.
      await ctx.app.accountPasswordAttempts(request, user?.username ?? me.username);
      if (!(await verifyPassword(request.body.password, user?.passwordHash ?? (await decoyHash()))) || !user) {
        throw new KithError('INVALID_CREDENTIALS', 'The password is wrong.');
      }
      const result = await deleteAccount(ctx.storage, me.userId, request.body.soleOwnedRooms ?? [], request.body.otherSoleOwnedRooms);
      // Told at once, as a removal is: left to the sync server's periodic membership check (a
      // minute), the account's open sockets kept writing to rooms it had left, and other members
      // to a deleted room, whose updates were stored for a room that no longer exists. The
      // account's tokens are refused at once (the user no longer exists).
      for (const change of result.changes) ctx.members.changed(change);
      for (const roomId of result.deleted) await ctx.members.roomDeleted(roomId);
      // Then what modules hold for the user in the rooms that remain (the Google mirror's links made
      // with the user's grant): stopped and dropped before the answer, as the user expects.
      await ctx.members.userDeleted(me.userId);
      request.log.info({ userId: me.userId, roomsDeleted: result.deleted.length, roomsHandedOver: result.handedOver.length }, 'account deleted');
      return reply.code(204).send();
    },
  );
};
