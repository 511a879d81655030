/**
 * The CalDAV endpoints under `/dav/` (and the `/.well-known/caldav` redirect, RFC 6764): HTTP
 * Basic with app passwords on every request but OPTIONS, then PROPFIND, REPORT, GET/HEAD, PUT,
 * DELETE by the kind of resource the path names (paths.ts). DAV errors are answered as RFC 4918
 * `<D:error>` bodies (dav-errors.ts); sign-in errors as the server's JSON errors (401 with a Basic
 * challenge, 429 when rate-limited).
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { ModelError } from '@kith/model';
import { fromModelError } from '../calendar/errors.js';
import type { AuthenticatedUser } from '../modules/module.js';
import type { BasicVerifier } from './basic-auth.js';
import type { Calendars } from './calendars.js';
import { caldavPre, DavError, notFound } from './dav-errors.js';
import { storableName } from './object-names.js';
import { deleteObject, getObject, putObject, type Conditions } from './objects.js';
import { DAV_ROOT, parseDavPath, type DavPath } from './paths.js';
import { OBJECT_CONTENT_TYPE } from './properties.js';
import { depthOf, propfind } from './propfind.js';
import { report } from './reports.js';
import { basicChallenge } from './routes.js';
import { parseXml, XmlRefused, type XmlElement } from './xml.js';

/** Largest request body: a calendar object or a REPORT/PROPFIND body. */
export const DAV_BODY_LIMIT = 2 * 1024 * 1024;

// HEAD comes with GET (Fastify answers it from the GET handler, without the body).
const DAV_METHODS = ['OPTIONS', 'PROPFIND', 'PROPPATCH', 'REPORT', 'GET', 'PUT', 'DELETE', 'MKCALENDAR', 'MKCOL', 'MOVE', 'COPY'];
const ALLOW = 'OPTIONS, GET, HEAD, PUT, DELETE, PROPFIND, REPORT';

/** The methods one resource allows, for the Allow header every 405 must carry (RFC 9110 §15.5.6). */
function allowOf(path: DavPath): string {
  switch (path.kind) {
    case 'object':
      return 'OPTIONS, GET, HEAD, PUT, DELETE, PROPFIND';
    case 'calendar':
      return 'OPTIONS, PROPFIND, REPORT';
    case 'root':
      return 'OPTIONS, GET, HEAD, PROPFIND'; // GET /dav/ is the sign-in probe
    default:
      return 'OPTIONS, PROPFIND';
  }
}

const notAllowed = (path: DavPath, message: string): DavError => new DavError('METHOD_NOT_ALLOWED', message, undefined, { allow: allowOf(path) });

export interface DavRoutesOptions {
  verifier: BasicVerifier;
  calendars: Calendars;
}

const header = (request: FastifyRequest, name: string): string | undefined => {
  const v = request.headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
};

/** A DAV body: empty, or XML (Content-Type text/xml or application/xml, or none) parsed safely. */
function xmlBody(request: FastifyRequest): XmlElement | undefined {
  const body = typeof request.body === 'string' ? request.body : '';
  if (body.trim() === '') return undefined;
  const type = header(request, 'content-type');
  if (type !== undefined && !/^(text|application)\/([a-z.+-]*\+)?xml\s*(;|$)/i.test(type.trim())) {
    throw new DavError('UNSUPPORTED_MEDIA_TYPE', 'Send the request body as application/xml.');
  }
  try {
    return parseXml(body);
  } catch (err) {
    if (err instanceof XmlRefused) throw new DavError('VALIDATION_FAILED', `The XML body was refused: ${err.message}`);
    throw err;
  }
}

export const davRoutes: FastifyPluginAsync<DavRoutesOptions> = async (app, opts) => {
  const { verifier, calendars } = opts;
  for (const method of ['PROPFIND', 'PROPPATCH', 'REPORT', 'MKCALENDAR', 'MKCOL', 'MOVE', 'COPY']) {
    if (!app.supportedMethods.includes(method)) app.addHttpMethod(method, { hasBody: true });
  }
  // Every body is read as text here and checked by the handler (XML or iCalendar by method).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: DAV_BODY_LIMIT }, (_request, body, done) => done(null, body));

  // RFC 6764 §5: the well-known URI points at the DAV root, for any method.
  app.route({
    method: DAV_METHODS,
    url: '/.well-known/caldav',
    handler: async (_request, reply) => reply.code(301).header('location', DAV_ROOT).send(),
  });

  const handle = async (request: FastifyRequest, reply: FastifyReply) => {
    reply.header('dav', '1, 3, calendar-access');
    try {
      const path = parseDavPath(request.url);
      if (request.method === 'OPTIONS') return reply.code(200).header('allow', ALLOW).send();
      const user = await verifier.verify(request.headers.authorization, request.ip);
      if (!user) throw basicChallenge();
      if (!path) throw notFound();
      return await serve(request, reply, user, path);
    } catch (err) {
      if (err instanceof DavError) {
        return reply.code(err.status).headers(err.headers).type('application/xml; charset=utf-8').send(err.body());
      }
      if (err instanceof ModelError) throw fromModelError(err);
      throw err;
    }
  };

  const multistatus = (reply: FastifyReply, xml: string) => reply.code(207).type('application/xml; charset=utf-8').send(xml);

  async function serve(request: FastifyRequest, reply: FastifyReply, user: AuthenticatedUser, path: DavPath) {
    const conditions: Conditions = { ifMatch: header(request, 'if-match'), ifNoneMatch: header(request, 'if-none-match') };
    switch (request.method) {
      case 'PROPFIND':
        return multistatus(reply, await propfind(calendars, user, path, depthOf(request.headers.depth), xmlBody(request)));
      case 'REPORT': {
        if (path.kind !== 'calendar') throw new DavError('UNSUPPORTED_REPORT', 'REPORTs are answered on a calendar collection.', { ns: 'DAV:', name: 'supported-report' });
        const room = await calendars.open(user, path.userId, path.roomId);
        const body = xmlBody(request);
        if (!body) throw new DavError('VALIDATION_FAILED', 'A REPORT needs a body.');
        return multistatus(reply, await report(calendars, user, room, body));
      }
      case 'GET':
      case 'HEAD': {
        if (path.kind !== 'object') throw notAllowed(path, 'Only calendar objects can be fetched with GET; use PROPFIND on collections.');
        const obj = await getObject(calendars, user, path);
        const notModified = conditions.ifNoneMatch?.split(',').some((t) => t.trim() === obj.etag || t.trim() === '*');
        reply.header('etag', obj.etag).header('cache-control', 'private, no-cache');
        if (notModified) return reply.code(304).send();
        reply.code(200).type(OBJECT_CONTENT_TYPE);
        return reply.send(obj.ics);
      }
      case 'PUT': {
        if (path.kind !== 'object') throw notAllowed(path, 'Only calendar objects (<uid>.ics) can be written.');
        if (!storableName(path.name)) throw new DavError('VALIDATION_FAILED', 'A calendar object’s name may not hold NUL (%00).');
        const body = typeof request.body === 'string' ? request.body : '';
        // RFC 5545 allows no NUL anywhere; one in the UID failed on PostgreSQL after the event was stored (a 500).
        if (body.includes('\u0000')) throw new DavError('INVALID_CALENDAR_OBJECT', 'The calendar object holds a NUL character, which iCalendar does not allow.', caldavPre('valid-calendar-data'));
        const created = await putObject(calendars, user, path, { contentType: header(request, 'content-type'), body, conditions });
        return reply.code(created ? 201 : 204).send();
      }
      case 'DELETE': {
        if (path.kind !== 'object') throw notAllowed(path, 'Only calendar objects can be deleted here; calendars are rooms, managed in Kith.');
        await deleteObject(calendars, user, path, conditions);
        return reply.code(204).send();
      }
      default:
        // PROPPATCH, MKCALENDAR, MKCOL, MOVE, COPY: calendars are rooms, named and made in Kith.
        throw notAllowed(path, `${request.method} is not supported here; rooms are made and named in Kith.`);
    }
  }

  app.route({ method: DAV_METHODS.filter((m) => m !== 'GET'), url: DAV_ROOT, handler: handle }); // GET /dav/ is the sign-in probe (routes.ts)
  app.route({ method: DAV_METHODS, url: `${DAV_ROOT}*`, handler: handle });
};
