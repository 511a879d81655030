/** Reading a Calendar API request: its parameters and headers, and the calendar the caller may touch. */
import type { FastifyRequest } from 'fastify';
import type { FakeContext } from '../context.js';
import { errors } from '../errors.js';
import { type Actor, checkScope, type Operation } from '../oauth.js';
import type { Calendar, JsonObject } from '../calendar-data.js';
import { isValidTimeZone } from '../time.js';

export const query = (req: FastifyRequest): JsonObject => (req.query ?? {}) as JsonObject;
export const param = (req: FastifyRequest, name: string): string => (req.params as Record<string, string>)[name]!;

export const ifMatch = (req: FastifyRequest): string | undefined => {
  const h = req.headers['if-match'];
  return Array.isArray(h) ? h.join(',') : h;
};

/** The `timeZone` parameter answers are rendered in, if valid. */
export const outTz = (req: FastifyRequest): string | undefined => {
  const tz = query(req).timeZone;
  if (tz === undefined) return undefined;
  if (!isValidTimeZone(tz)) throw errors.invalidParameter('timeZone', 'Invalid time zone definition.');
  return tz;
};

export const sendUpdates = (req: FastifyRequest): string | undefined => {
  const v = query(req).sendUpdates;
  if (v === undefined) return undefined;
  if (v !== 'all' && v !== 'externalOnly' && v !== 'none') throw errors.invalidParameter('sendUpdates');
  return v;
};

/** Count the invitation emails Google would send for this write (attendees other than the owner). */
export const countInvitations = (ctx: FakeContext, req: FastifyRequest, cal: Calendar, event: JsonObject): void => {
  const mode = sendUpdates(req) ?? (query(req).sendNotifications === 'true' ? 'all' : 'none');
  if (mode === 'none') return;
  const attendees = Array.isArray(event.attendees) ? (event.attendees as Array<{ email?: string }>) : [];
  ctx.stats.invitations(attendees.filter((a) => a.email !== cal.ownerEmail).length);
};

/**
 * The calendar `calendarId` names, if the caller may do `op` on it. Like Google, a calendar the token's scope
 * cannot see answers 404, not 403; only a scope that allows `op` on no calendar at all answers 403.
 */
export const calendarFor = (ctx: FakeContext, actor: Actor, calendarId: string, op: Operation): Calendar => {
  if (checkScope(actor, op, null) === 'forbidden') throw errors.insufficientPermissions();
  const cal = calendarId === 'primary' ? ctx.store.ensurePrimaryCalendar(actor.email) : ctx.store.calendars.get(calendarId);
  if (!cal || cal.deleted || cal.ownerEmail !== actor.email) throw errors.notFound();
  if (checkScope(actor, op, cal.createdByClient === actor.clientId) !== 'ok') throw errors.notFound();
  return cal;
};
