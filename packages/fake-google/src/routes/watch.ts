/** Push notifications: open a channel on a calendar's events, and stop one. */
import type { FakeContext } from '../context.js';
import type { ApiRoute } from './api-route.js';
import { calendarFor, param } from './request.js';

export function registerWatchRoutes(apiRoute: ApiRoute, ctx: FakeContext): void {
  apiRoute('POST', '/calendars/:calendarId/events/watch', 'events.watch', false, (req, actor) => {
    const cal = calendarFor(ctx, actor, param(req, 'calendarId'), 'events.read');
    return { body: ctx.push.watch(cal.id, actor.email, actor.clientId, req.body) };
  });
  apiRoute('POST', '/channels/stop', 'channels.stop', false, (req, actor) => {
    ctx.push.stop(actor.email, req.body);
    return { status: 204 };
  });
}
