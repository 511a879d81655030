/**
 * Hardening: event writes over REST pay for their conversion work from the same per-user budget
 * as the /live socket (calendar/work-budget.ts). The largest valid body (1,000 EXDATE and 1,000
 * RDATE values, zoned) costs ~50-115 ms of the event loop; an editor posting them back to back,
 * four at a time, held every other user's requests for up to 1.3 s. Now a few are converted and
 * the rest answered 429 RATE_LIMITED with Retry-After, before any conversion; small writes are
 * not charged. Real server over loopback.
 */
import { LIMITS } from '@kith/model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient } from './helpers/api.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let t: TestServer;
let api: ReturnType<typeof apiClient>;
beforeAll(async () => {
  t = await startTestServer();
  api = apiClient(t.url);
});
afterAll(async () => {
  await t.close();
});

const day = (i: number) => new Date(Date.UTC(2026, 0, 1) + i * 86_400_000).toISOString().slice(0, 10).replaceAll('-', '');
const half = LIMITS.dates / 2;
const zoned = (name: string, from: number) => `${name};TZID=America/New_York:${Array.from({ length: half }, (_, i) => `${day(from + i)}T090000`).join(',')}`;
/** The largest valid recurrence: 1,000 EXDATE and 1,000 RDATE values, each converted from New York to Paris. */
const heaviest = (title: string) => ({
  eventTitle: title,
  startTime: '2026-01-01T09:00',
  endTime: '2026-01-01T10:00',
  timeZone: 'Europe/Paris',
  recurrence: ['RRULE:FREQ=DAILY', zoned('EXDATE', 0), zoned('EXDATE', half), zoned('RDATE', 2 * half), zoned('RDATE', 3 * half)],
});

describe('REST event writes are charged by their work', () => {
  it('an editor posting the largest valid events back to back gets a few through, then 429 with Retry-After; small writes go on', async () => {
    const owner = await api.signUp('owner');
    const roomId = await api.createRoom(owner.token);
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let round = 0; round < 5; round++) {
      const answers = await Promise.all(
        [0, 1, 2, 3].map(() => fetch(`${t.url}/rooms/${roomId}/events`, { method: 'POST', headers: { authorization: `Bearer ${owner.token}`, 'content-type': 'application/json' }, body: JSON.stringify(heaviest(`Heavy ${round}`)) })),
      );
      for (const a of answers) {
        statuses.push(a.status);
        if (a.status === 429) {
          retryAfter = a.headers.get('retry-after');
          expect(await a.json()).toMatchObject({ error: { code: 'RATE_LIMITED' } });
        } else await a.arrayBuffer();
      }
    }
    const created = statuses.filter((s) => s === 201).length;
    console.log(`20 largest REST events: ${created} created, ${statuses.filter((s) => s === 429).length} refused (429)`);
    expect(created).toBeGreaterThanOrEqual(2);
    expect(created).toBeLessThanOrEqual(6);
    expect(statuses.every((s) => s === 201 || s === 429)).toBe(true);
    expect(retryAfter).toBe('3');
    // A small event is not charged.
    const small = await api.request('POST', `/rooms/${roomId}/events`, { token: owner.token, body: { eventTitle: 'Swim', startTime: '2026-06-04T16:00', endTime: '2026-06-04T17:00', timeZone: 'UTC' } });
    expect(small.status).toBe(201);
    // A PATCH with the largest recurrence is charged too.
    const patch = await api.request('PATCH', `/rooms/${roomId}/events/${small.body.eventId}`, { token: owner.token, body: { recurrence: heaviest('x').recurrence } });
    expect(patch.status).toBe(429);
  });
});
