/**
 * Reminders over CalDAV, through HTTP on loopback: each member's view carries everyone's
 * reminders and their own as VALARMs (named by X-KITH-REMINDER-ID), with an ETag of its own when
 * it differs; a VALARM a phone adds becomes its owner's reminder, one it removes goes, and an
 * editor changes everyone's by id. Acknowledging an alarm (Apple's ACKNOWLEDGED, a default alarm,
 * Thunderbird's X-MOZ-LASTACK) changes nothing, not even the ETag.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEvent, editOccurrence } from '@kith/model';
import { eventIdForUid } from '../src/calendar/ics-import.js';
import { apiClient } from './helpers/api.js';
import { CALDAV, calendarPath, dav, davUser, ICS, multistatus, objectPath, startCaldavServer, vevent, type DavUser } from './helpers/caldav.js';

const alarm = (trigger: string, ...more: string[]) => ['BEGIN:VALARM', 'ACTION:DISPLAY', 'DESCRIPTION:Reminder', trigger, ...more, 'END:VALARM'];

/** The VALARMs of a calendar object: trigger and id. */
function alarmsIn(ics: string): Array<{ trigger: string; id: string | undefined }> {
  return [...ics.matchAll(/BEGIN:VALARM\r\n([\s\S]*?)END:VALARM/g)].map((m) => ({
    trigger: /\r?\nTRIGGER[^:]*:(.*)\r|^TRIGGER[^:]*:(.*)\r/m.exec(m[1]!)?.slice(1).find(Boolean) ?? '',
    id: /X-KITH-REMINDER-ID:(.*)\r/.exec(m[1]!)?.[1],
  }));
}

/** The object as sent back by a client: the body it got, with lines added inside its VALARMs or VEVENT. */
const withLines = (ics: string, at: 'END:VALARM' | 'END:VEVENT', lines: string[]) => ics.replace(`\r\n${at}\r\n`, `\r\n${lines.join('\r\n')}\r\n${at}\r\n`);

describe('CalDAV reminders', () => {
  let server: Awaited<ReturnType<typeof startCaldavServer>>;
  let api: ReturnType<typeof apiClient>;
  let anna: DavUser;
  let ben: DavUser;
  let room: string;

  beforeAll(async () => {
    server = await startCaldavServer();
    api = apiClient(server.url);
    anna = await davUser(api, 'anna');
    ben = await davUser(api, 'ben');
    room = await api.createRoom(anna.token, 'Family');
    await api.addMember(anna.token, room, ben.token, 'editor');
  });
  afterAll(() => server?.close());

  const put = (user: DavUser, uid: string, body: string, headers: Record<string, string> = {}) =>
    dav(server.url, 'PUT', objectPath(user, room, uid), { user, body, headers: { ...ICS, ...headers } });
  const get = async (user: DavUser, uid: string) => {
    const res = await dav(server.url, 'GET', objectPath(user, room, uid), { user });
    expect(res.status).toBe(200);
    return { ics: String(res.body), etag: res.headers.get('etag')! };
  };
  const reminders = async (uid: string) => {
    const ev = (await api.request('GET', `/rooms/${room}/events/${eventIdForUid(uid)}`, { token: anna.token })).body;
    return (ev.reminders as Array<{ id: string; minutesBefore: number; for: string[] | null }>).map((r) => ({ ...r }));
  };

  it('makes a phone’s alarm its owner’s reminder, shows it only to them, and gives their view its own ETag', async () => {
    const uid = 'swim@phone';
    expect((await put(anna, uid, vevent(uid, { summary: 'Swim', extra: alarm('TRIGGER:-PT30M') }))).status).toBe(201);
    const [mine] = await reminders(uid);
    expect(mine).toMatchObject({ minutesBefore: 30, for: [anna.userId] });

    const a = await get(anna, uid);
    const b = await get(ben, uid);
    expect(alarmsIn(a.ics)).toEqual([{ trigger: '-PT30M', id: mine!.id }]);
    expect(alarmsIn(b.ics)).toEqual([]);
    expect(a.etag).not.toBe(b.etag);

    // The same view in a REPORT: calendar-data and getetag as GET answers them, per member.
    for (const [user, view] of [[anna, a], [ben, b]] as const) {
      const body = `<?xml version="1.0"?><C:calendar-multiget xmlns:D="DAV:" xmlns:C="${CALDAV}"><D:prop><D:getetag/><C:calendar-data/></D:prop><D:href>${objectPath(user, room, uid)}</D:href></C:calendar-multiget>`;
      const [r] = multistatus(await dav(server.url, 'REPORT', calendarPath(user, room), { user, depth: '1', body, headers: { 'content-type': 'application/xml' } })).responses;
      expect(r!.props.get('DAV:|getetag')!.text).toBe(view.etag);
      expect(r!.props.get(`${CALDAV}|calendar-data`)!.text.replace(/\r?\n/g, '\r\n')).toBe(view.ics);
    }

    // If-Match takes the member's own ETag: Ben's is not Anna's.
    expect((await put(anna, uid, a.ics, { 'if-match': b.etag })).status).toBe(412);
    expect((await put(anna, uid, a.ics, { 'if-match': a.etag })).status).toBe(204);
  });

  it('a moved occurrence carries the series’ alarms too (its VEVENT replaces the occurrence whole): everyone’s, and each member’s own in their view', async () => {
    const id = await server.server.sync.editRoom(room, (doc) => {
      const made = createEvent(
        doc,
        {
          title: 'Piano',
          start: '2026-03-02T17:00',
          end: '2026-03-02T18:00',
          tz: 'Europe/Berlin',
          rrule: 'FREQ=WEEKLY',
          reminders: [{ minutesBefore: 15 }, { minutesBefore: 60, for: [anna.userId] }],
        },
        { actor: anna.userId },
      );
      editOccurrence(doc, made, '2026-03-09', { start: '2026-03-10T17:00', end: '2026-03-10T18:00', title: 'Piano (Tuesday)' }, { actor: anna.userId });
      return made;
    });
    const uid = `${id}@kith`;
    const vevents = (ics: string) => ics.split('BEGIN:VEVENT').slice(1);
    const a = await get(anna, uid);
    const b = await get(ben, uid);
    expect(vevents(a.ics)).toHaveLength(2);
    expect(vevents(a.ics)[1]).toContain('RECURRENCE-ID');
    for (const v of vevents(a.ics)) expect(alarmsIn(v).map((x) => x.trigger).sort()).toEqual(['-PT15M', '-PT1H']);
    for (const v of vevents(b.ics)) expect(alarmsIn(v).map((x) => x.trigger)).toEqual(['-PT15M']);
    expect(vevents(b.ics)[1]).toContain('DESCRIPTION:Piano (Tuesday)');

    // Sent back as it came (a phone saving the series), nothing changes: override VALARMs are not read as new reminders.
    const stored = async () => (await api.request('GET', `/rooms/${room}/events/${id}`, { token: anna.token })).body.reminders;
    const before = await stored();
    expect(before).toHaveLength(2);
    expect((await put(anna, uid, a.ics, { 'if-match': a.etag })).status).toBe(204);
    expect(await stored()).toEqual(before);
    expect((await get(anna, uid)).etag).toBe(a.etag);
  });

  it('acknowledging, snoozing or a default alarm changes no reminder and no ETag', async () => {
    const uid = 'swim@phone';
    const before = await get(anna, uid);
    const kept = await reminders(uid);
    const acked = withLines(
      withLines(before.ics, 'END:VALARM', ['ACKNOWLEDGED:20260310T083000Z']),
      'END:VEVENT',
      [...alarm('TRIGGER:-PT15M', 'X-APPLE-DEFAULT-ALARM:TRUE'), ...alarm('TRIGGER;VALUE=DATE-TIME:20260310T080500Z', 'RELATED-TO;RELTYPE=SNOOZE:x'), 'X-MOZ-LASTACK:20260310T083000Z'],
    );
    expect((await put(anna, uid, acked, { 'if-match': before.etag })).status).toBe(204);
    expect(await reminders(uid)).toEqual(kept);
    expect((await get(anna, uid)).etag).toBe(before.etag);
  });

  it('an editor changes everyone’s reminder by its id; a member removing their own alarm removes only theirs', async () => {
    const uid = 'swim@phone';
    const id = eventIdForUid(uid);
    // Everyone's reminder, set in Kith.
    const current = await reminders(uid);
    const patched = await api.request('PATCH', `/rooms/${room}/events/${id}`, { token: anna.token, body: { reminders: [...current, { minutesBefore: 1440, for: null }] } });
    expect(patched.status, JSON.stringify(patched.body)).toBe(200);
    const everyone = (await reminders(uid)).find((r) => r.for === null)!;
    expect(alarmsIn((await get(ben, uid)).ics)).toEqual([{ trigger: '-P1D', id: everyone.id }]);
    expect(alarmsIn((await get(anna, uid)).ics).map((x) => x.trigger).sort()).toEqual(['-P1D', '-PT30M']);

    // Ben (an editor) moves everyone's reminder to two hours, keeping its id.
    const seen = await get(ben, uid);
    expect((await put(ben, uid, seen.ics.replace('TRIGGER:-P1D', 'TRIGGER:-PT2H'), { 'if-match': seen.etag })).status).toBe(204);
    const afterBen = await reminders(uid);
    expect(afterBen.find((r) => r.for === null)).toEqual({ ...everyone, minutesBefore: 120 });
    expect(afterBen.find((r) => r.for !== null)).toMatchObject({ minutesBefore: 30, for: [anna.userId] });

    // Anna's phone drops her own alarm: hers goes, everyone's stays.
    const annas = await get(anna, uid);
    const withoutMine = annas.ics.replace(/BEGIN:VALARM\r\n(?:(?!END:VALARM)[\s\S])*?TRIGGER:-PT30M[\s\S]*?END:VALARM\r\n/, '');
    expect(alarmsIn(withoutMine)).toHaveLength(1);
    expect((await put(anna, uid, withoutMine, { 'if-match': annas.etag })).status).toBe(204);
    expect(await reminders(uid)).toEqual([{ ...everyone, minutesBefore: 120 }]);
    // Both now see the same object.
    expect((await get(anna, uid)).etag).toBe((await get(ben, uid)).etag);
  });
});
