/**
 * Dragging an event whose zone is not the viewer's: Kim in Berlin makes "Dentist" at 15:00 Berlin;
 * Kim opens the calendar on a laptop in New York, sees it at 09:00 and drags it one hour later, to
 * 10:00. What is stored is what was seen: 10:00 in New York (16:00 in Berlin), the event keeps its
 * own zone, and the Berlin browser shows 16:00.
 */
import { expect, it } from 'vitest';
import { createCalendar, createEvent, eventEl, PASSWORD, poll, signIn, signUp, todayIn, uniqueName, view } from './helpers/app.js';
import { browserDescribe, setupSuite } from './helpers/suite.js';

const { env, person } = setupSuite();

async function api(path: string, token?: string, body?: unknown): Promise<any> {
  const res = await fetch(env().url + path, {
    method: body ? 'POST' : 'GET',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  expect(res.ok).toBe(true);
  return res.json();
}

const wallTime = (instant: string, timeZone: string) =>
  new Date(instant).toLocaleTimeString('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });

browserDescribe('dragging across time zones', { timeout: 180_000 }, () => {
  it('stores the time the viewer dropped the event at, in their zone, and keeps the event zone', async () => {
    const username = uniqueName('kim');
    const berlin = await person();
    await signUp(berlin.page, username);
    await createCalendar(berlin.page, 'Two zones');
    // Today in Berlin at 15:00 is 09:00 the same day in New York.
    const date = todayIn('Europe/Berlin');
    await createEvent(berlin.page, { title: 'Dentist', date, start: '15:00', end: '16:00' });

    const { token } = await api('/users/login', undefined, { username, password: PASSWORD });
    const { rooms } = await api('/rooms', token);
    const eventsOf = async () =>
      (await api(`/rooms/${rooms[0].roomId}/events?from=${date}&to=${todayIn('Europe/Berlin', 2)}`, token)).occurrences as Array<{
        eventId: string;
        startTime: string;
        endTime: string;
        timeZone: string;
      }>;
    const [before] = await eventsOf();
    expect(before!.timeZone).toBe('Europe/Berlin');
    expect(wallTime(before!.startTime, 'America/New_York')).toBe('09:00');

    const ny = await person({ timezoneId: 'America/New_York' });
    await ny.page.goto('/');
    await signIn(ny.page, username);
    await view(ny.page, 'Week');
    // Between midnight in Berlin and midnight in New York, Berlin's today is New York's tomorrow,
    // which is in New York's next week when New York's today ends its week.
    await poll(() => ny.page.locator('.calendar-host [data-date]').count()).toBeGreaterThan(0);
    if ((await ny.page.locator(`.calendar-host [data-date="${date}"]`).count()) === 0) {
      await ny.page.getByRole('button', { name: 'Next' }).click();
    }
    await poll(() => ny.page.locator(`.calendar-host [data-date="${date}"]`).count()).toBeGreaterThan(0);
    const dentist = eventEl(ny.page, 'Dentist');
    await poll(() => dentist.textContent()).toContain('09:00–10:00');

    const nine = (await ny.page.locator('.calendar-host [data-time="09:00:00"]').first().boundingBox())!;
    const ten = (await ny.page.locator('.calendar-host [data-time="10:00:00"]').first().boundingBox())!;
    const hour = ten.y - nine.y;
    const box = (await dentist.boundingBox())!;
    const from = { x: box.x + box.width / 2, y: box.y + 10 };
    await ny.page.mouse.move(from.x, from.y);
    await ny.page.mouse.down();
    await ny.page.mouse.move(from.x, from.y + hour / 2, { steps: 5 });
    await ny.page.mouse.move(from.x, from.y + hour, { steps: 5 });
    await ny.page.mouse.up();
    // What the viewer saw when they let go.
    await poll(() => dentist.textContent()).toContain('10:00–11:00');

    // What is stored: one hour later, 10:00 in New York; still a Berlin event (16:00 there).
    await poll(async () => (await eventsOf())[0]!.startTime).not.toBe(before!.startTime);
    const [after] = await eventsOf();
    expect(Date.parse(after!.startTime) - Date.parse(before!.startTime)).toBe(3_600_000);
    expect(Date.parse(after!.endTime) - Date.parse(after!.startTime)).toBe(3_600_000);
    expect(wallTime(after!.startTime, 'America/New_York')).toBe('10:00');
    expect(wallTime(after!.startTime, 'Europe/Berlin')).toBe('16:00');
    expect(after!.timeZone).toBe('Europe/Berlin');

    // The Berlin browser, live: 16:00–17:00.
    await view(berlin.page, 'Week');
    await poll(() => eventEl(berlin.page, 'Dentist').textContent()).toContain('16:00–17:00');
  });
});
