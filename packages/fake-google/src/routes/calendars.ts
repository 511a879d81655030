/** Calendars and the calendar list: create, read, patch/update and delete calendars; list the ones a token sees. */
import type { FakeContext } from '../context.js';
import { errors } from '../errors.js';
import { checkScope } from '../oauth.js';
import { isPlainObject } from '../calendar-data.js';
import type { ApiRoute } from './api-route.js';
import { calendarFor, param } from './request.js';

export function registerCalendarRoutes(apiRoute: ApiRoute, ctx: FakeContext): void {
  apiRoute('POST', '/calendars', 'calendars.insert', true, (req, actor) => {
    if (checkScope(actor, 'calendars.create', null) !== 'ok') throw errors.insufficientPermissions();
    const body = req.body;
    if (!isPlainObject(body)) throw errors.required('Missing title.');
    return { body: ctx.store.renderCalendar(ctx.store.createCalendar(actor.email, body, actor.clientId)) };
  });
  apiRoute('GET', '/calendars/:calendarId', 'calendars.get', false, (req, actor) => ({
    body: ctx.store.renderCalendar(calendarFor(ctx, actor, param(req, 'calendarId'), 'calendars.read')),
  }));
  for (const [method, route] of [
    ['PATCH', 'calendars.patch'],
    ['PUT', 'calendars.update'],
  ] as const) {
    apiRoute(method, '/calendars/:calendarId', route, true, (req, actor) => {
      const cal = calendarFor(ctx, actor, param(req, 'calendarId'), 'calendars.write');
      const body = isPlainObject(req.body) ? req.body : {};
      return { body: ctx.store.renderCalendar(ctx.store.patchCalendar(cal, body, method === 'PUT')) };
    });
  }
  apiRoute('DELETE', '/calendars/:calendarId', 'calendars.delete', true, (req, actor) => {
    const cal = calendarFor(ctx, actor, param(req, 'calendarId'), 'calendars.write');
    ctx.store.deleteCalendar(cal);
    ctx.push.stopCalendar(cal.id);
    return { status: 204 };
  });
  apiRoute('GET', '/users/me/calendarList', 'calendarList.list', false, (_req, actor) => {
    if (checkScope(actor, 'calendarList.read', null) === 'forbidden') throw errors.insufficientPermissions();
    ctx.store.ensurePrimaryCalendar(actor.email);
    const items = ctx.store
      .calendarsOf(actor.email)
      .filter((c) => checkScope(actor, 'calendarList.read', c.createdByClient === actor.clientId) === 'ok')
      .map((c) => ctx.store.renderCalendarListEntry(c));
    return { body: { kind: 'calendar#calendarList', etag: `"${ctx.now()}"`, items } };
  });
  apiRoute('GET', '/users/me/calendarList/:calendarId', 'calendarList.get', false, (req, actor) => ({
    body: ctx.store.renderCalendarListEntry(calendarFor(ctx, actor, param(req, 'calendarId'), 'calendarList.read')),
  }));
}
