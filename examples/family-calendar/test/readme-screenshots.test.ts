/**
 * The README's screenshots (docs/screenshots/*.png), made from the app as it is: a family's week
 * on a desktop (month), the phone month (dots per day, the selected day's events below), the
 * event form and the agenda of a Berlin event seen in New York (both times), the settings and the
 * phone's Notifications & email dialog (with default reminders per calendar). Skipped unless
 * KITH_README_SCREENSHOTS=1, since it rewrites tracked files:
 *
 *   KITH_README_SCREENSHOTS=1 npx vitest run test/readme-screenshots.test.ts   (in examples/family-calendar)
 *
 * Device scale 1 keeps the files small; a fixed date is not possible (the app opens on today), so
 * the events are placed around today.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { it } from 'vitest';
import { createEvent, dismissToasts, eventEl, family, openEvent, openMenu, poll, signIn, todayIn, view, waitSaved } from './helpers/app.js';
import { APP_DIR, PHONE } from './helpers/env.js';
import { browserDescribe, setupSuite } from './helpers/suite.js';

const { person } = setupSuite();
const OUT = path.join(APP_DIR, '../../docs/screenshots');
const run = process.env.KITH_README_SCREENSHOTS === '1' ? browserDescribe : browserDescribe.skip;

async function shoot(page: Page, name: string): Promise<void> {
  await page.waitForTimeout(300); // transitions settle
  await page.screenshot({ path: path.join(OUT, `${name}.png`) });
}

run('README screenshots', { timeout: 240_000 }, () => {
  it('writes docs/screenshots/*.png', async () => {
    fs.mkdirSync(OUT, { recursive: true });
    const { ann, annName, benName } = await family(person, 'The Millers');
    const day = (n: number) => todayIn('Europe/Berlin', n);
    const a = ann.page;
    await createEvent(a, { title: 'School run', date: day(0), start: '08:00', end: '08:30', who: [benName] });
    await createEvent(a, { title: 'Dentist', date: day(0), start: '10:00', end: '11:00', who: [annName] });
    await createEvent(a, { title: 'Family lunch', date: day(0), start: '12:30', end: '13:30', who: [annName, benName] });
    await createEvent(a, { title: 'Swimming', date: day(0), start: '16:00', end: '17:00', who: [benName], repeat: 'WEEKLY' });
    await createEvent(a, { title: 'Grandma visits', date: day(2), allDay: true, endDate: day(3), who: [] });
    await createEvent(a, { title: 'Book club', date: day(-1), start: '19:00', end: '21:00', who: [annName] });
    await createEvent(a, { title: 'Football', date: day(1), start: '15:00', end: '16:30', who: [benName] });
    await createEvent(a, { title: 'Piano', date: day(-3), start: '17:30', end: '18:15', who: [benName], repeat: 'WEEKLY' });
    await waitSaved(a);

    // 1. Desktop month.
    await view(a, 'Month');
    await eventEl(a, 'Dentist').waitFor({ state: 'attached' });
    await dismissToasts(a).catch(() => undefined);
    await shoot(a, 'desktop-month');

    // 2. Settings (display zone, and whatever else the app offers there).
    await a.getByRole('button', { name: /Times in/ }).click();
    const settings = a.getByRole('dialog', { name: 'Settings' });
    await settings.waitFor();
    // The zone picker, focused first, opens its list: closed, the whole dialog shows.
    await settings.getByRole('combobox', { name: 'Show times in' }).press('Escape');
    await shoot(a, 'desktop-settings');
    await settings.getByRole('button', { name: 'Close' }).first().click();

    // 3. The event form of a Berlin event, opened by Ben on a laptop in New York: both times.
    const ny = await person({ timezoneId: 'America/New_York', deviceScaleFactor: 1 });
    await ny.page.goto('/');
    await signIn(ny.page, benName);
    const form = await openEvent(ny.page, 'Dentist');
    await form.locator('[data-both-times]').waitFor();
    await shoot(ny.page, 'desktop-event-form-two-zones');
    await form.getByRole('button', { name: 'Cancel' }).click();
    await form.waitFor({ state: 'detached' });
    await view(ny.page, 'Agenda');
    await eventEl(ny.page, 'Dentist').waitFor({ state: 'attached' });
    await shoot(ny.page, 'desktop-agenda-two-zones');

    // 4. The phone month: dots per day, the selected day's events below.
    const phone = await person({ ...PHONE, deviceScaleFactor: 1 });
    await phone.page.goto('/');
    await signIn(phone.page, benName);
    await view(phone.page, 'Month');
    await phone.page.locator(`.phone-month button[data-date="${day(0)}"]`).click();
    await poll(() => phone.page.locator('.pm-agenda [data-title="Family lunch"]').count()).toBe(1);
    await shoot(phone.page, 'phone-month-dots');

    // 5. Notifications & email on the phone, with a default reminder chosen for the family calendar.
    await openMenu(phone.page, 'Notifications & email');
    const notifications = phone.page.getByRole('dialog', { name: 'Notifications' });
    const millers = notifications.getByRole('group', { name: 'The Millers', exact: true });
    await millers.getByLabel('Events with a time').selectOption({ label: '30 minutes before' });
    await shoot(phone.page, 'phone-notifications');
  });
});
