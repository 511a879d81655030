/**
 * The calendar REST API: events, occurrences, the room's ICS feed secret and ICS import.
 *
 *   GET    /rooms/:roomId/events?from=&to=&timeZone=&limit=&cursor=
 *                                                     {timeZone, occurrences, next, nextUrl, skipped, skippedCount}: one page;
 *                                                     each occurrence also in timeZone (localStartTime/localEndTime)
 *   POST   /rooms/:roomId/events                      201 event
 *   GET    /rooms/:roomId/events/:eventId             event
 *   PATCH  /rooms/:roomId/events/:eventId             event
 *   DELETE /rooms/:roomId/events/:eventId             204 (to the trash; restorable by clients)
 *   GET    /rooms/:roomId/feed                        {active, createdAt}      (owner)
 *   POST   /rooms/:roomId/feed                        201 {url, webcalUrl, createdAt} (owner; rotates)
 *   DELETE /rooms/:roomId/feed                        204 (owner; revokes)
 *   POST   /rooms/:roomId/import  (text/calendar)     {imported, updated, unchanged, skipped, errors}
 *   GET    /feeds/:token.ics                          text/calendar, no other auth
 *
 * Non-members get 404 ROOM_NOT_FOUND (the room's existence is not revealed); viewers may read but
 * not write (403 READ_ONLY).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Temporal } from 'temporal-polyfill';
import { checkWindow, createEvent, deleteEvent, getEvent, updateEvent } from '@kith/model';
import { requireUser } from '../auth/access-tokens.js';
import { strictJsonApi } from '../auth/json-api.js';
import type { KithConfig } from '../config/config.js';
import { KithError } from '../errors/catalogue.js';
import { newSecretToken, sha256 } from '../ids.js';
import { redactUrl } from '../ops/logger.js';
import type { MemberRecord, Storage } from '../storage/storage.js';
import type { RoomApi } from '../sync/room-api.js';
import { servableUpdates } from '../storage/stored-doc.js';
import { linkBase } from '../web/public-url.js';
import { eventView, toEventInput, toEventPatch, type ChargeWork, type EventBody } from './api-events.js';
import { idUnits, WorkBudgets } from './work-budget.js';
import { modelCall } from './errors.js';
import type { FeedBuilder } from './feed-builder.js';
import type { FeedCache } from './feed-cache.js';
import { countComponents } from './ics-import.js';
import type { ImportRunner } from './import-runner.js';
import { occurrencePage, pageLimit } from './occurrence-pages.js';
import { ianaZone } from './zones.js';
import {
  CreateEventBody,
  EventParams,
  EventView,
  FeedAnswer,
  FeedStatus,
  ImportAnswer,
  OccurrencesAnswer,
  OccurrencesQuery,
  PatchEventBody,
  RoomParams,
} from './schemas.js';
import { Type } from 'typebox';
import * as Y from 'yjs';

export interface CalendarRouteOptions {
  rooms: RoomApi;
  storage: Storage;
  config: KithConfig;
  /** Where ICS imports run (worker threads); only the calendar routes need it. */
  imports?: ImportRunner;
  /** Conversion-work budgets by user, shared with the /live socket (work-budget.ts). */
  work?: WorkBudgets;
}

/** Largest window the occurrence query expands. */
const MAX_WINDOW_DAYS = 5 * 366;
/** Largest ICS upload. */
export const IMPORT_BODY_LIMIT = 4 * 1024 * 1024;

/** Reads a window bound: an instant, or a date (midnight in the viewer's zone). */
function windowBound(value: string, field: 'from' | 'to', timeZone: string): string {
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) {
    try {
      return Temporal.PlainDate.from(value).toZonedDateTime({ timeZone }).toInstant().toString();
    } catch {
      throw new KithError('INVALID_DATE', `${field} must be a date-time with offset or Z, or a date (YYYY-MM-DD), got "${value}"`);
    }
  }
  return value;
}

/** The same query with the next page's cursor: what a client fetches next. */
function nextPageUrl(url: string, cursor: string): string {
  const u = new URL(url, 'http://kith.invalid');
  u.searchParams.set('cursor', cursor);
  return u.pathname + u.search;
}

export const calendarRoutes: FastifyPluginAsyncTypebox<CalendarRouteOptions> = async (app, opts) => {
  const { rooms, storage, config, imports } = opts;
  const work = opts.work ?? new WorkBudgets();
  /** Charges a body's conversion work to the user before any of it is done (429 when over budget). */
  const charger = (userId: string, body: EventBody): ChargeWork => {
    const charge: ChargeWork = (units) => {
      if (units > 0 && !work.take(userId, units)) {
        throw new KithError('RATE_LIMITED', 'Too many large event writes (recurrence lists, participants); slow down.', { 'retry-after': '3' });
      }
    };
    charge(idUnits(body));
    return charge;
  };
  strictJsonApi(app);
  app.addContentTypeParser('text/calendar', { parseAs: 'string', bodyLimit: IMPORT_BODY_LIMIT }, (_req, body, done) =>
    done(null, body),
  );
  app.addHook('onRequest', async function (request) {
    await requireUser.call(this, request);
    if (!(await storage.users.findById(request.user.userId))) throw new KithError('UNAUTHENTICATED');
  });

  const member = async (request: FastifyRequest, roomId: string): Promise<MemberRecord> => {
    const me = await storage.rooms.member(roomId, request.user.userId);
    if (!me) throw new KithError('ROOM_NOT_FOUND');
    return me;
  };
  const writer = async (request: FastifyRequest, roomId: string): Promise<MemberRecord> => {
    const me = await member(request, roomId);
    if (me.role === 'viewer') throw new KithError('READ_ONLY');
    return me;
  };
  const owner = async (request: FastifyRequest, roomId: string): Promise<MemberRecord> => {
    const me = await member(request, roomId);
    if (me.role !== 'owner') throw new KithError('FORBIDDEN', 'Only an owner of the room can manage its feed.');
    return me;
  };

  // ---- events

  app.get(
    '/rooms/:roomId/events',
    { schema: { params: RoomParams, querystring: OccurrencesQuery, response: { 200: OccurrencesAnswer } } },
    async (request) => {
      await member(request, request.params.roomId);
      const q = request.query;
      const timeZone = q.timeZone ?? 'UTC';
      if (ianaZone(timeZone) === null) {
        throw new KithError('UNKNOWN_TIME_ZONE', `timeZone is not a known IANA time zone: "${timeZone}"`);
      }
      const limit = pageLimit(q.limit);
      const window = modelCall(() => {
        const w = { from: windowBound(q.from, 'from', timeZone), to: windowBound(q.to, 'to', timeZone), timeZone };
        // The model checks the bounds (years 0001–9999) and the zone, naming the field.
        checkWindow(w);
        return w;
      });
      // Temporal, not Date.parse: an instant with nanoseconds is NaN to Date.parse and would pass.
      const span = Temporal.Instant.from(window.to).epochMilliseconds - Temporal.Instant.from(window.from).epochMilliseconds;
      if (span > MAX_WINDOW_DAYS * 86_400_000) {
        throw new KithError('WINDOW_TOO_LARGE', `to: the window may span at most ${MAX_WINDOW_DAYS} days`);
      }
      const page = await rooms.read(request.params.roomId, (doc) =>
        modelCall(() => occurrencePage(doc, window, limit, q.cursor)),
      );
      const nextUrl = page.next === null ? null : nextPageUrl(request.url, page.next);
      return { timeZone, ...page, nextUrl };
    },
  );

  app.post(
    '/rooms/:roomId/events',
    { schema: { params: RoomParams, body: CreateEventBody, response: { 201: EventView } } },
    async (request, reply) => {
      const me = await writer(request, request.params.roomId);
      const input = modelCall(() => toEventInput(request.body, charger(me.userId, request.body)));
      const view = await rooms.edit(me.roomId, (doc) =>
        modelCall(() => {
          const id = createEvent(doc, input, { actor: me.userId });
          return eventView(getEvent(doc, id)!);
        }),
      );
      return reply.code(201).header('location', `/rooms/${me.roomId}/events/${view.eventId}`).send(view);
    },
  );

  app.get(
    '/rooms/:roomId/events/:eventId',
    { schema: { params: EventParams, response: { 200: EventView } } },
    async (request) => {
      const { roomId, eventId } = request.params;
      await member(request, roomId);
      const ev = await rooms.read(roomId, (doc) => getEvent(doc, eventId));
      if (!ev || ev.deleted !== null) throw new KithError('EVENT_NOT_FOUND');
      return eventView(ev);
    },
  );

  app.patch(
    '/rooms/:roomId/events/:eventId',
    { schema: { params: EventParams, body: PatchEventBody, response: { 200: EventView } } },
    async (request) => {
      const { roomId, eventId } = request.params;
      const me = await writer(request, roomId);
      return rooms.edit(roomId, (doc) =>
        modelCall(() => {
          const current = getEvent(doc, eventId);
          if (!current || current.deleted !== null) throw new KithError('EVENT_NOT_FOUND');
          updateEvent(doc, eventId, toEventPatch(request.body, current, charger(me.userId, request.body)), { actor: me.userId });
          return eventView(getEvent(doc, eventId)!);
        }),
      );
    },
  );

  app.delete('/rooms/:roomId/events/:eventId', { schema: { params: EventParams } }, async (request, reply) => {
    const { roomId, eventId } = request.params;
    const me = await writer(request, roomId);
    await rooms.edit(roomId, (doc) =>
      modelCall(() => {
        const current = getEvent(doc, eventId);
        if (!current || current.deleted !== null) throw new KithError('EVENT_NOT_FOUND');
        deleteEvent(doc, eventId, { actor: me.userId });
      }),
    );
    return reply.code(204).send();
  });

  // ---- the ICS feed secret

  app.get('/rooms/:roomId/feed', { schema: { params: RoomParams, response: { 200: FeedStatus } } }, async (request) => {
    const me = await owner(request, request.params.roomId);
    const feed = await storage.feeds.get(me.roomId);
    return { active: feed !== undefined, createdAt: feed ? new Date(feed.createdAt).toISOString() : null };
  });

  app.post('/rooms/:roomId/feed', { schema: { params: RoomParams, response: { 201: FeedAnswer } } }, async (request, reply) => {
    const me = await owner(request, request.params.roomId);
    const base = linkBase(config.publicUrl, request);
    const token = newSecretToken();
    const createdAt = Date.now();
    // Replacing the stored hash is what revokes the previous URL. Refused by storage when the
    // caller stopped being an owner since the check above (a demotion racing this request).
    if (!(await storage.feeds.put({ roomId: me.roomId, tokenHash: sha256(token), createdBy: me.userId, createdAt }))) {
      throw new KithError('FORBIDDEN', 'Only an owner of the room can manage its feed.');
    }
    const url = `${base}/feeds/${token}.ics`;
    return reply.code(201).send({
      url,
      webcalUrl: url.replace(/^https?:/, 'webcal:'),
      createdAt: new Date(createdAt).toISOString(),
    });
  });

  app.delete('/rooms/:roomId/feed', { schema: { params: RoomParams } }, async (request, reply) => {
    const me = await owner(request, request.params.roomId);
    await storage.feeds.revoke(me.roomId);
    return reply.code(204).send();
  });

  // ---- import

  app.post(
    '/rooms/:roomId/import',
    { bodyLimit: IMPORT_BODY_LIMIT, schema: { params: RoomParams, response: { 200: ImportAnswer } } },
    async (request) => {
      const me = await writer(request, request.params.roomId);
      const body: unknown = request.body;
      if (typeof body !== 'string' || !/^text\/calendar\b/i.test(request.headers['content-type'] ?? '')) {
        throw new KithError('UNSUPPORTED_MEDIA_TYPE', 'Send the calendar as text/calendar.');
      }
      const components = countComponents(body);
      const maxComponents = config.limits.maxImportComponents;
      if (components > maxComponents) {
        throw new KithError(
          'IMPORT_TOO_LARGE',
          `The file holds ${components} components (BEGIN: lines); one import may hold at most ${maxComponents} (--max-import-components). Split the file.`,
        );
      }
      const stats = await storage.docs.stats(me.roomId);
      // A rough bound before writing: the stored room plus the file must fit the room limit.
      if (stats.logBytes + stats.snapshotBytes + Buffer.byteLength(body) > config.limits.maxRoomBytes) {
        throw new KithError('ROOM_TOO_LARGE');
      }
      if (!imports) throw new KithError('INTERNAL');
      // The worker builds the import against a copy of the room as stored (read off the event loop;
      // encoding the live document took it 59–76 ms at 7,500–10,000 events) and returns its changes
      // as a few updates; each is applied here through the same path as every server edit (stored,
      // then broadcast), one at a time so that other rooms are served in between.
      const stored = servableUpdates(
        await storage.docs.loadOffLoop(me.roomId),
        me.roomId,
        request.log,
        'import refused: the room’s stored data is incomplete',
      );
      const { result, updates } = await imports.run({ body, stored, actor: me.userId });
      for (const update of updates) await rooms.edit(me.roomId, (doc) => Y.applyUpdate(doc, update));
      return result;
    },
  );
};

/** The public feed: the secret in the URL is the only credential. */
export const feedRoutes: FastifyPluginAsyncTypebox<CalendarRouteOptions & { feeds: FeedCache; builder: FeedBuilder }> = async (app, opts) => {
  const { storage, feeds, builder } = opts;
  app.get(
    '/feeds/:file',
    {
      schema: { params: Type.Object({ file: Type.String({ maxLength: 200 }) }) },
      // The URL holds the secret: request logs show it redacted, whatever the logger's own rules.
      logSerializers: {
        req: (req: { id?: string; method?: string; url?: string; ip?: string }) => ({
          id: req.id,
          method: req.method,
          url: redactFeedUrl(req.url ?? ''),
          ip: req.ip,
        }),
      },
    },
    async (request, reply) => {
      const file = request.params.file;
      const token = file.endsWith('.ics') ? file.slice(0, -4) : '';
      const feed = token ? await storage.feeds.findByTokenHash(sha256(token)) : undefined;
      if (!feed) throw new KithError('FEED_NOT_FOUND');
      // The URL speaks for its creator: once they are no longer an owner of the room (removed,
      // left or demoted), it stops working, as their own access did. Storage deletes the feed in
      // that same change, so it stays dead if they are made an owner again; this check is the
      // second line (a row that ever escaped that).
      const creator = await storage.rooms.member(feed.roomId, feed.createdBy);
      if (creator?.role !== 'owner') throw new KithError('FEED_NOT_FOUND');
      const room = await storage.rooms.get(feed.roomId);
      if (!room) throw new KithError('FEED_NOT_FOUND');
      // The feed as last built while the stored log has not moved since (see FeedCache): a poll
      // of an unchanged room costs a head look-up, not a room load and a build.
      const keyAt = (head: number) => `${head}\u0000${room.name}`;
      const head = await storage.docs.head(room.roomId);
      const { ics, etag, skipped } = await feeds.get(room.roomId, keyAt(head), async () => {
        // Built from the stored bytes, as any client would be served: the room need not be loaded.
        const stored = await storage.docs.loadOffLoop(room.roomId);
        const built = await builder.build({ roomId: room.roomId, name: room.name, stored });
        // The text only changes when an event does (DTSTAMP is the last change), so it has a stable
        // ETag: pollers that send If-None-Match get a 304.
        return { key: keyAt(stored.head), feed: { ...built, etag: `"${sha256(built.ics)}"` } };
      });
      if (skipped.count > 0) {
        request.log.warn({ roomId: room.roomId, skipped: skipped.sample, count: skipped.count }, 'feed: events with unusable stored values were left out');
      }
      reply.header('etag', etag).header('cache-control', 'private, max-age=300');
      if (request.headers['if-none-match'] === etag) return reply.code(304).send();
      return reply
        .header('content-type', 'text/calendar; charset=utf-8')
        .header('content-disposition', 'inline; filename="calendar.ics"')
        .header('x-robots-tag', 'noindex')
        .header('referrer-policy', 'no-referrer')
        .send(ics);
    },
  );
};

/** `/feeds/<secret>.ics` → `/feeds/[redacted]`, plus the logger's own redactions. */
export function redactFeedUrl(url: string): string {
  return redactUrl(url).replace(/(\/feeds\/)[^/?#]+/gi, '$1[redacted]');
}
