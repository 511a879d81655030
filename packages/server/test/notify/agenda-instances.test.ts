/**
 * The daily agenda on two servers over one PostgreSQL database, each on its own copy of a manual
 * clock: kid chooses an agenda through B, and B goes away before its time. A never saw the settings
 * change (it comes through one instance's REST API) and must still send it, having read the changed
 * settings on its survey; a time moved through B is followed the same way. Skipped with a clear
 * message when PostgreSQL is absent (KITH_REQUIRE_SERVICES=1 fails instead).
 */
import { requireServices } from '@kith/test-support';
import { afterAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/index.js';
import { apiClient } from '../helpers/api.js';
import { createTestSchema, probePostgres } from '../helpers/postgres.js';
import { RecordingChannel, startNotifyServer, type NotifyHarness } from './harness.js';

const pg = await probePostgres();
if (!pg.available) {
  const msg = `agenda two-instance test needs PostgreSQL (${pg.reason}): ${requireServices ? 'failing (KITH_REQUIRE_SERVICES=1)' : 'skipping'}`;
  if (requireServices) throw new Error(msg);
  console.warn(msg);
}

const open: NotifyHarness[] = [];
let dropSchema: (() => Promise<void>) | undefined;
afterAll(async () => {
  for (const h of open.splice(0)) await h.server.close().catch(() => undefined);
  await dropSchema?.();
});

describe.skipIf(!pg.available)('daily agenda on two instances', { timeout: 60_000 }, () => {
  it('an agenda chosen through an instance that then went away is sent by the other, at the time last chosen', async () => {
    const { databaseUrl, drop } = await createTestSchema(pg.available ? pg.url : '');
    dropSchema = drop;
    const start = Date.parse('2026-06-01T05:00:00Z');
    const server = async (channel: RecordingChannel, clock: ManualClock) => {
      const h = await startNotifyServer({ clock, channel, databaseUrl, notify: { resurveyMs: 60_000 } });
      open.push(h);
      return h;
    };
    const a = { clock: new ManualClock(start), channel: new RecordingChannel() };
    const ha = await server(a.channel, a.clock);
    const b = { clock: new ManualClock(start), channel: new RecordingChannel() };
    const hb = await server(b.channel, b.clock);

    const api = apiClient(hb.server.url);
    const kid = await api.signUp('kid');
    const roomId = await api.createRoom(kid.token, 'Millers');
    const res = await api.request('POST', `/rooms/${roomId}/events`, {
      token: kid.token,
      body: { eventTitle: 'Breakfast', startTime: '2026-05-20T08:00', endTime: '2026-05-20T08:30', timeZone: 'UTC', recurrence: ['RRULE:FREQ=DAILY'] },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const settings = (body: object) => api.request('PUT', '/users/me/notification-settings', { token: kid.token, body });
    expect((await settings({ timeZone: 'UTC', dailyAgenda: { time: '07:30' } })).status).toBe(200);
    await hb.settle();
    // A reads it on its next survey; then the time moves to 06:15 through B, and B goes away.
    await a.clock.advanceTo(start + 61_000, ha.settle);
    expect(ha.parts.agenda.membersIndexed).toBe(1);
    await b.clock.advanceTo(start + 61_000, hb.settle);
    expect((await settings({ dailyAgenda: { time: '06:15' } })).status).toBe(200);
    await hb.settle();
    await hb.server.close();
    open.splice(open.indexOf(hb), 1);

    // Sent at 06:15, the time last chosen, and only then.
    const agendas = () => a.channel.deliveries.filter((d) => d.kind === 'agenda');
    await a.clock.advanceTo(Date.parse('2026-06-01T06:14:00Z'), ha.settle);
    expect(agendas()).toEqual([]);
    await a.clock.advanceTo(Date.parse('2026-06-01T06:16:00Z'), ha.settle);
    expect(agendas().map((d) => d.key)).toEqual([`agenda:${kid.userId}:2026-06-01:push`]);
    expect(agendas()[0]!.body).toBe('Millers: 08:00 Breakfast');
    await a.clock.advanceTo(Date.parse('2026-06-01T08:00:00Z'), ha.settle);
    expect(agendas()).toHaveLength(1);
    expect(b.channel.deliveries).toEqual([]);
  });
});
