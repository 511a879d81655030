/**
 * The notify module's REST: comments on events (any member may comment, viewers included — they
 * cannot write over the sync socket, so comments come through here and are written with the
 * room API), and each member's notification settings.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { addComment, deleteComment, editComment, getComment, getReminderDefaults, listComments, setReminderDefaults } from '@kith/model';
import { strictJsonApi } from '../auth/json-api.js';
import { modelCall } from '../calendar/errors.js';
import { ianaZone } from '../calendar/zones.js';
import { KithError } from '../errors/catalogue.js';
import type { AuthenticatedUser, RequestAuth } from '../modules/module.js';
import type { Storage } from '../storage/storage.js';
import type { RoomApi } from '../sync/room-api.js';
import type { Preferences } from './preferences.js';
import {
  CommentBody,
  CommentList,
  CommentParams,
  CommentView,
  OneCommentParams,
  ReminderDefaultsBody,
  ReminderDefaultsView,
  RoomOnlyParams,
  SettingsBody,
  SettingsView,
} from './schemas.js';

export interface NotifyRouteOptions {
  auth: RequestAuth;
  rooms: RoomApi;
  storage: Storage;
  prefs: Preferences;
  now(): number;
  /** After a member's settings were stored (the daily agenda plans from them). */
  settingsChanged?(userId: string): void;
}

/** Comments are small; a larger body is refused before it is parsed. */
const COMMENT_BODY_LIMIT = 16 * 1024;
/** Transaction origin of the module's own writes (comments, default reminders). */
const ORIGIN = 'notify';

export const notifyRoutes: FastifyPluginAsyncTypebox<NotifyRouteOptions> = async (app, opts) => {
  const { rooms, storage, prefs } = opts;
  strictJsonApi(app);
  const users = new WeakMap<FastifyRequest, AuthenticatedUser>();
  app.addHook('preHandler', async (request) => {
    users.set(request, await opts.auth.verifyRequest(request));
  });
  const userOf = (request: FastifyRequest) => users.get(request)!.userId;
  const member = async (request: FastifyRequest, roomId: string) => {
    if (!(await storage.rooms.member(roomId, userOf(request)))) throw new KithError('ROOM_NOT_FOUND');
    return userOf(request);
  };
  const ctx = (actor: string) => ({ actor, now: new Date(opts.now()).toISOString(), origin: ORIGIN });

  // ---- comments

  app.get('/rooms/:roomId/events/:eventId/comments', { schema: { params: CommentParams, response: { 200: CommentList } } }, async (request) => {
    await member(request, request.params.roomId);
    return { comments: await rooms.read(request.params.roomId, (doc) => listComments(doc, request.params.eventId)) };
  });

  app.post(
    '/rooms/:roomId/events/:eventId/comments',
    { bodyLimit: COMMENT_BODY_LIMIT, schema: { params: CommentParams, body: CommentBody, response: { 201: CommentView } } },
    async (request, reply) => {
      const me = await member(request, request.params.roomId);
      const { roomId, eventId } = request.params;
      const comment = await rooms.edit(roomId, (doc) => modelCall(() => addComment(doc, eventId, request.body.text, ctx(me))), ORIGIN);
      return reply.code(201).send(comment);
    },
  );

  app.patch(
    '/rooms/:roomId/events/:eventId/comments/:commentId',
    { bodyLimit: COMMENT_BODY_LIMIT, schema: { params: OneCommentParams, body: CommentBody, response: { 200: CommentView } } },
    async (request) => {
      const me = await member(request, request.params.roomId);
      const { roomId, eventId, commentId } = request.params;
      return rooms.edit(
        roomId,
        (doc) =>
          modelCall(() => {
            if (getComment(doc, commentId)?.eventId !== eventId) throw new KithError('COMMENT_NOT_FOUND');
            return editComment(doc, commentId, request.body.text, ctx(me));
          }),
        ORIGIN,
      );
    },
  );

  app.delete('/rooms/:roomId/events/:eventId/comments/:commentId', { schema: { params: OneCommentParams } }, async (request, reply) => {
    const me = await member(request, request.params.roomId);
    const { roomId, eventId, commentId } = request.params;
    await rooms.edit(
      roomId,
      (doc) =>
        modelCall(() => {
          if (getComment(doc, commentId)?.eventId !== eventId) throw new KithError('COMMENT_NOT_FOUND');
          deleteComment(doc, commentId, ctx(me));
        }),
      ORIGIN,
    );
    return reply.code(204).send();
  });

  // ---- my default reminders in a room (in its document; viewers too, hence REST)

  app.get('/rooms/:roomId/reminder-defaults', { schema: { params: RoomOnlyParams, response: { 200: ReminderDefaultsView } } }, async (request) => {
    const me = await member(request, request.params.roomId);
    return rooms.read(request.params.roomId, (doc) => getReminderDefaults(doc, me));
  });

  app.put(
    '/rooms/:roomId/reminder-defaults',
    { schema: { params: RoomOnlyParams, body: ReminderDefaultsBody, response: { 200: ReminderDefaultsView } } },
    async (request) => {
      const me = await member(request, request.params.roomId);
      return rooms.edit(request.params.roomId, (doc) => modelCall(() => setReminderDefaults(doc, me, request.body, ORIGIN)), ORIGIN);
    },
  );

  // ---- settings

  app.get('/users/me/notification-settings', { schema: { response: { 200: SettingsView } } }, async (request) => prefs.get(userOf(request)));

  app.put('/users/me/notification-settings', { schema: { body: SettingsBody, response: { 200: SettingsView } } }, async (request) => {
    const me = userOf(request);
    const body = request.body;
    if (typeof body.timeZone === 'string' && ianaZone(body.timeZone) === null) {
      throw new KithError('UNKNOWN_TIME_ZONE', `timeZone is not a known IANA time zone: "${body.timeZone}"`);
    }
    if (body.quietHours && body.quietHours.start === body.quietHours.end) {
      throw new KithError('VALIDATION_FAILED', 'quietHours: start and end must differ');
    }
    for (const roomId of Object.keys(body.rooms ?? {})) {
      // The schema bounds each key (128 characters); quoted as JSON so that control characters cannot shape the message.
      if (!(await storage.rooms.member(roomId, me))) throw new KithError('ROOM_NOT_FOUND', `rooms: you are not a member of room ${JSON.stringify(roomId)}`);
    }
    const timeZone = typeof body.timeZone === 'string' ? ianaZone(body.timeZone) : body.timeZone;
    await prefs.put(me, { ...body, ...(timeZone !== undefined ? { timeZone } : {}) }, opts.now());
    opts.settingsChanged?.(me);
    return prefs.get(me);
  });
};
