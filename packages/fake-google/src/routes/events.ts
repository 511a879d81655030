/** Events: list (with sync tokens and pages), insert, get (with ETags), patch/update, delete, and a series' instances. */
import type { FakeContext } from '../context.js';
import type { JsonObject } from '../calendar-data.js';
import type { ApiRoute } from './api-route.js';
import { calendarFor, countInvitations, ifMatch, outTz, param, query, sendUpdates } from './request.js';

export function registerEventRoutes(apiRoute: ApiRoute, ctx: FakeContext): void {
  apiRoute('GET', '/calendars/:calendarId/events', 'events.list', false, (req, actor) => {
    const cal = calendarFor(ctx, actor, param(req, 'calendarId'), 'events.read');
    const result = ctx.store.listEvents(cal, query(req));
    return {
      body: {
        ...ctx.store.listMeta(cal, outTz(req)),
        ...(result.nextPageToken ? { nextPageToken: result.nextPageToken } : {}),
        ...(result.nextSyncToken ? { nextSyncToken: result.nextSyncToken } : {}),
        items: result.items,
      },
    };
  });
  apiRoute('POST', '/calendars/:calendarId/events', 'events.insert', true, (req, actor) => {
    const cal = calendarFor(ctx, actor, param(req, 'calendarId'), 'events.write');
    sendUpdates(req);
    const ev = ctx.store.insertEvent(cal, req.body as JsonObject, actor.email);
    const body = ctx.store.renderEvent(cal, ev);
    countInvitations(ctx, req, cal, body);
    return { body };
  });
  apiRoute('GET', '/calendars/:calendarId/events/:eventId', 'events.get', false, (req, actor) => {
    const cal = calendarFor(ctx, actor, param(req, 'calendarId'), 'events.read');
    const body = ctx.store.renderById(cal, param(req, 'eventId'), outTz(req));
    const inm = req.headers['if-none-match'];
    if (typeof inm === 'string' && inm.split(',').map((s) => s.trim()).includes(String(body.etag))) {
      return { status: 304, headers: { etag: String(body.etag) } };
    }
    return { body, headers: { etag: String(body.etag) } };
  });
  for (const [method, route] of [
    ['PATCH', 'events.patch'],
    ['PUT', 'events.update'],
  ] as const) {
    apiRoute(method, '/calendars/:calendarId/events/:eventId', route, true, (req, actor) => {
      const cal = calendarFor(ctx, actor, param(req, 'calendarId'), 'events.write');
      sendUpdates(req);
      const ev = ctx.store.modifyEvent(cal, param(req, 'eventId'), (req.body ?? {}) as JsonObject, {
        replace: method === 'PUT',
        ...(ifMatch(req) !== undefined ? { ifMatch: ifMatch(req)! } : {}),
      });
      const body = ctx.store.renderEvent(cal, ev);
      countInvitations(ctx, req, cal, body);
      return { body };
    });
  }
  apiRoute('DELETE', '/calendars/:calendarId/events/:eventId', 'events.delete', true, (req, actor) => {
    const cal = calendarFor(ctx, actor, param(req, 'calendarId'), 'events.write');
    sendUpdates(req);
    const before = ctx.store.renderById(cal, param(req, 'eventId'));
    ctx.store.deleteEvent(cal, param(req, 'eventId'), ifMatch(req));
    countInvitations(ctx, req, cal, before);
    return { status: 204 };
  });
  apiRoute('GET', '/calendars/:calendarId/events/:eventId/instances', 'events.instances', false, (req, actor) => {
    const cal = calendarFor(ctx, actor, param(req, 'calendarId'), 'events.read');
    const result = ctx.store.listInstances(cal, param(req, 'eventId'), query(req));
    return {
      body: {
        ...ctx.store.listMeta(cal, outTz(req)),
        ...(result.nextPageToken ? { nextPageToken: result.nextPageToken } : {}),
        items: result.items,
      },
    };
  });
}
