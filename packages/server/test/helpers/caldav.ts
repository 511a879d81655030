/**
 * CalDAV test plumbing: a real server with the calendar and CalDAV modules, users with app
 * passwords, raw DAV requests over loopback, and reading the XML that comes back.
 */
import { expect } from 'vitest';
import { ERRORS, type ErrorCode } from '../../src/errors/catalogue.js';
import { testServers } from '@kith/test-support';
import { caldavModule, calendarModule, defaultConfig, startKithServer, type KithConfig, type KithServer } from '../../src/index.js';
import { parseXml, type XmlElement } from '../../src/caldav/xml.js';
import { apiClient, type ApiResponse } from './api.js';
import { rawRequest } from './http-assert.js';
import { TEST_JWT_SECRET } from './server.js';

export const { startTestServer: startCaldavServer } = testServers<KithConfig, KithServer>(
  { defaultConfig, startKithServer: (config) => startKithServer(config, { modules: [calendarModule(), caldavModule()] }) },
  { jwtSecret: TEST_JWT_SECRET, loginPerMinute: 1000, dataDirPrefix: 'kith-caldav-' },
);

export const basic = (username: string, password: string) => `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;

export interface DavUser {
  userId: string;
  username: string;
  token: string;
  authorization: string;
  appPassword: string;
  appPasswordId: string;
}

/** A new user with one app password. */
export async function davUser(api: ReturnType<typeof apiClient>, prefix = 'dav'): Promise<DavUser> {
  const u = await api.signUp(prefix);
  const created = await api.request('POST', '/users/me/app-passwords', { token: u.token, body: { label: 'phone' } });
  if (created.status !== 201) throw new Error(`app password: ${created.status}`);
  return {
    userId: u.userId,
    username: u.username,
    token: u.token,
    appPassword: created.body.password,
    appPasswordId: created.body.id,
    authorization: basic(u.username, created.body.password),
  };
}

export interface DavRequest {
  body?: string;
  headers?: Record<string, string>;
  depth?: '0' | '1' | 'infinity';
  user?: DavUser;
}

/** One DAV request (node:http: no content-type unless given). */
export function dav(baseUrl: string, method: string, path: string, options: DavRequest = {}): Promise<ApiResponse> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.user) headers.authorization = options.user.authorization;
  if (options.depth) headers.depth = options.depth;
  if (options.body !== undefined && headers['content-type'] === undefined) headers['content-type'] = 'application/xml; charset=utf-8';
  return rawRequest(baseUrl, path, { method, headers, ...(options.body !== undefined ? { body: options.body } : {}) });
}

export const calendarPath = (user: DavUser, roomId: string) => `/dav/calendars/${user.userId}/${roomId}/`;
export const objectPath = (user: DavUser, roomId: string, uid: string) => `${calendarPath(user, roomId)}${encodeURIComponent(uid)}.ics`;

/** A multistatus body as `href → { props: ns|name → element, status }` (propstat 200 props only; 404 ones in `missing`). */
export interface DavResponse {
  href: string;
  status?: string;
  props: Map<string, XmlElement>;
  missing: string[];
}

export function multistatus(res: ApiResponse): { responses: DavResponse[]; syncToken?: string } {
  expect(res.status, String(res.body).slice(0, 500)).toBe(207);
  expect(res.headers.get('content-type')).toMatch(/^application\/xml/);
  const root = parseXml(String(res.body), Infinity);
  expect(root.name).toBe('multistatus');
  const responses: DavResponse[] = [];
  let syncToken: string | undefined;
  for (const r of root.children) {
    if (r.name === 'sync-token') syncToken = r.text;
    if (r.name !== 'response') continue;
    const out: DavResponse = { href: '', props: new Map(), missing: [] };
    for (const c of r.children) {
      if (c.name === 'href') out.href = c.text;
      if (c.name === 'status') out.status = c.text;
      if (c.name === 'propstat') {
        const status = c.children.find((x) => x.name === 'status')?.text ?? '';
        const prop = c.children.find((x) => x.name === 'prop');
        for (const p of prop?.children ?? []) {
          if (status.includes(' 200 ')) out.props.set(`${p.ns}|${p.name}`, p);
          else out.missing.push(`${p.ns}|${p.name}`);
        }
      }
    }
    responses.push(out);
  }
  return { responses, syncToken };
}

/** Asserts a DAV error body: the status and the precondition element under `<D:error>`. */
export function expectDavError(res: ApiResponse, status: number, precondition?: { ns: string; name: string }): XmlElement {
  expect(res.status, String(res.body).slice(0, 500)).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/xml/);
  const root = parseXml(String(res.body));
  expect(root.ns).toBe('DAV:');
  expect(root.name).toBe('error');
  if (precondition) expect(root.children.some((c) => c.ns === precondition.ns && c.name === precondition.name), String(res.body)).toBe(true);
  // Kith's code and message ride along; the code's catalogue status is the one answered.
  const code = root.children.find((c) => c.name === 'code')?.text as ErrorCode;
  expect(ERRORS[code]?.status, String(res.body)).toBe(status);
  expect(root.children.find((c) => c.name === 'message')?.text.length).toBeGreaterThan(0);
  return root;
}

export const DAV = 'DAV:';
export const CALDAV = 'urn:ietf:params:xml:ns:caldav';

/** A PROPFIND body asking for these properties (`D:name` or `C:name`). */
export function propfindBody(...props: string[]): string {
  return `<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:C="${CALDAV}" xmlns:CS="http://calendarserver.org/ns/" xmlns:A="http://apple.com/ns/ical/"><D:prop>${props.map((p) => `<${p}/>`).join('')}</D:prop></D:propfind>`;
}

/** A single-event calendar object. */
export function vevent(uid: string, fields: { summary?: string; start?: string; end?: string; extra?: string[]; tz?: string } = {}): string {
  const tz = fields.tz ?? 'Europe/Berlin';
  return [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//test//caldav//EN',
    'BEGIN:VEVENT',
    `UID:${uid}`,
    'DTSTAMP:20260101T000000Z',
    `DTSTART;TZID=${tz}:${fields.start ?? '20260310T090000'}`,
    `DTEND;TZID=${tz}:${fields.end ?? '20260310T100000'}`,
    `SUMMARY:${fields.summary ?? 'Dentist'}`,
    ...(fields.extra ?? []),
    'END:VEVENT',
    'END:VCALENDAR',
    '',
  ].join('\r\n');
}

export const ICS = { 'content-type': 'text/calendar; charset=utf-8' };
