/**
 * Issue 16 in the browser: time zones you can see (Bob in New York), the zone picker, the invite
 * page before sign-up, subscribe link, .ics import, search, CalDAV app passwords, and the phone
 * month. Screenshots go to test-artifacts/ (look at them after a change to the UI).
 */
import type { Page } from 'playwright-core';
import { expect, it } from 'vitest';
import {
  createCalendar,
  createEvent,
  createInvite,
  dismissToasts,
  joinByInvite,
  openEvent,
  openMenu,
  poll,
  screenshot,
  shownTexts,
  signUp,
  todayIn,
  uniqueName,
  view,
  waitSaved,
} from './helpers/app.js';
import { PHONE } from './helpers/env.js';
import { browserDescribe, setupSuite } from './helpers/suite.js';

const { env, person } = setupSuite();
const NEW_YORK = { timezoneId: 'America/New_York' };

/** Chooses a zone in a zone combobox by typing part of its name. */
async function pickZone(page: Page, label: string, typed: string, zone: string): Promise<void> {
  const box = page.getByRole('combobox', { name: label });
  await box.click();
  await box.fill(typed);
  await page.getByRole('listbox', { name: label }).locator(`[data-zone="${zone}"]`).click();
}

browserDescribe('family calendar in Chromium: time zones, sharing, import, search, app passwords, phones', { timeout: 150_000 }, () => {
  it('Bob in New York sees a Berlin event at both times, edits it in Berlin time and gets what he typed; he can show the calendar in Berlin time instead', async () => {
    const ann = await person();
    const annName = uniqueName('ann');
    await signUp(ann.page, annName);
    await createCalendar(ann.page, 'The Millers');
    const day = todayIn('Europe/Berlin', 3);
    await createEvent(ann.page, { title: 'Dentist', date: day, start: '09:00', end: '09:30' });
    await waitSaved(ann.page);
    const link = await createInvite(ann.page);

    // A bad link says so before any account is made; a good one names the inviter and the calendar.
    const bob = await person(NEW_YORK);
    await bob.page.goto(link.replace(/\/invite\/.*/, '/invite/not-a-real-code'));
    await bob.page.getByText('This invite link is not valid').waitFor();
    await bob.page.goto(link);
    await bob.page.getByText(`${annName} invited you to “The Millers”`).waitFor();
    await screenshot(bob.page, 'desktop-invite-preview');
    await joinByInvite(bob.page, link, uniqueName('bob'), 'The Millers');

    // Shown in his zone (09:00 Berlin is 03:00 New York in winter, 04:00 … in summer: read from Intl).
    const ny = (wall: string) =>
      new Date(new Date(`${day}T${wall}:00Z`).getTime() - berlinOffsetMs(day)).toLocaleTimeString('en-GB', { timeZone: 'America/New_York', hour: '2-digit', minute: '2-digit' });
    await bob.page.getByRole('button', { name: /Times in New York/ }).waitFor();
    await view(bob.page, 'Agenda');
    await poll(async () => (await shownTexts(bob.page)).find((t) => t.includes('Dentist'))).toContain(`${ny('09:00')}`);
    expect((await shownTexts(bob.page)).find((t) => t.includes('Dentist'))).toContain(`09:00 Berlin · ${ny('09:00')} your time`);

    // The form edits in the event's zone, says so, and shows his time live beside it.
    const d = await openEvent(bob.page, 'Dentist');
    expect(await d.getByLabel('Start time').inputValue()).toBe('09:00');
    expect(await d.getByRole('combobox', { name: 'Time zone' }).inputValue()).toMatch(/^Europe\/Berlin \(UTC\+0[12]:00\)$/);
    await d.getByText('times in Berlin').waitFor();
    await d.getByLabel('Start time').fill('10:00');
    await d.locator('[data-both-times]').getByText(`Starts 10:00 Berlin · ${ny('10:00')} your time`).waitFor();
    await screenshot(bob.page, 'desktop-event-form-two-zones');
    await d.getByRole('button', { name: 'Save' }).click();
    await d.waitFor({ state: 'detached' });
    await poll(async () => (await shownTexts(bob.page)).find((t) => t.includes('Dentist'))).toContain(`10:00 Berlin · ${ny('10:00')} your time`);
    await dismissToasts(bob.page);
    await screenshot(bob.page, 'desktop-agenda-two-zones');
    // Ann, in Berlin, sees what Bob typed: 10:00.
    await view(ann.page, 'Agenda');
    await poll(async () => (await shownTexts(ann.page)).find((t) => t.includes('Dentist'))).toContain('10:00');

    // Bob shows the calendar in Berlin time; this device remembers it.
    await bob.page.getByRole('button', { name: /Times in New York/ }).click();
    const settings = bob.page.getByRole('dialog', { name: 'Settings' });
    // The picker: current names, UTC, offsets, sorted, searchable.
    const box = settings.getByRole('combobox', { name: 'Show times in' });
    await box.click();
    await box.fill('kolkata');
    expect(await settings.getByRole('option').allTextContents()).toEqual(['Asia/Kolkata (UTC+05:30)']);
    await box.fill('calcutta');
    expect(await settings.getByRole('option').count()).toBe(0);
    await box.fill('kyiv');
    expect(await settings.getByRole('option').allTextContents()).toEqual([expect.stringMatching(/^Europe\/Kyiv \(UTC\+0[23]:00\)$/)]);
    await box.fill('utc');
    expect(await settings.getByRole('option').first().textContent()).toMatch(/UTC/);
    await box.fill('');
    const offsets = await settings.getByRole('option').evaluateAll((els) => els.map((e) => e.textContent ?? ''));
    expect(offsets).toContain('UTC (UTC)');
    const minutes = offsets.map((t) => {
      const m = /UTC([+−])(\d\d):(\d\d)\)$/.exec(t);
      return m ? (m[1] === '−' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) : 0;
    });
    expect(minutes).toEqual([...minutes].sort((x, y) => x - y));
    await box.press('Escape');
    await pickZone(bob.page, 'Show times in', 'berlin', 'Europe/Berlin');
    await settings.getByRole('button', { name: 'Close' }).first().click();
    await bob.page.getByRole('button', { name: /Times in Berlin/ }).waitFor();
    await poll(async () => (await shownTexts(bob.page)).find((t) => t.includes('Dentist'))).toMatch(/^10:00/);
    expect((await shownTexts(bob.page)).find((t) => t.includes('Dentist'))).not.toContain('your time');
    await bob.page.reload();
    await bob.page.getByRole('button', { name: /Times in Berlin/ }).waitFor();
  });

  it('an owner imports an .ics by picker and by drop, sees the summary, finds events by search, shares a subscribe link and makes a CalDAV app password', async () => {
    const { page } = await person();
    const name = uniqueName('kim');
    await signUp(page, name);
    await createCalendar(page, 'The Smiths');
    const day = todayIn('Europe/Berlin', 1).replaceAll('-', '');
    const ics = [
      'BEGIN:VCALENDAR',
      'VERSION:2.0',
      'PRODID:-//test//EN',
      'BEGIN:VEVENT',
      'UID:piano-1@example.org',
      `DTSTART;TZID=Europe/Berlin:${day}T170000`,
      `DTEND;TZID=Europe/Berlin:${day}T180000`,
      'SUMMARY:Piano lesson',
      'LOCATION:Music school',
      'END:VEVENT',
      'BEGIN:VEVENT',
      'UID:broken@example.org',
      'SUMMARY:No start',
      'END:VEVENT',
      'END:VCALENDAR',
      '',
    ].join('\r\n');

    await openMenu(page, 'Import .ics file');
    const dialog = page.getByRole('dialog', { name: 'Import events' });
    await dialog.locator('input[type=file]').setInputFiles({ name: 'school.ics', mimeType: 'text/calendar', buffer: Buffer.from(ics) });
    const summary = dialog.getByRole('region', { name: 'Import summary' });
    await summary.getByText('1 imported · 0 updated · 0 unchanged').waitFor();
    await summary.getByText('1 error').waitFor();
    expect(await dialog.getByRole('list', { name: 'Import errors' }).textContent()).toContain('broken@example.org');
    await screenshot(page, 'desktop-import-summary');
    await dialog.getByRole('button', { name: 'Close' }).first().click();

    // Dropping the same file on the calendar imports it again: nothing doubles.
    const transfer = await page.evaluateHandle((text) => {
      const dt = new DataTransfer();
      dt.items.add(new File([text], 'school.ics', { type: 'text/calendar' }));
      return dt;
    }, ics);
    await page.dispatchEvent('.app', 'dragover', { dataTransfer: transfer });
    await page.dispatchEvent('.app', 'drop', { dataTransfer: transfer });
    await page.getByRole('dialog', { name: 'Import events' }).getByText('0 imported · 0 updated · 1 unchanged').waitFor();
    await page.getByRole('dialog', { name: 'Import events' }).getByRole('button', { name: 'Close' }).first().click();

    // Search: "/" opens it; the place finds the lesson; a result opens the event.
    await createEvent(page, { title: 'Old dentist visit', date: todayIn('Europe/Berlin', -40), start: '08:06', end: '09:00' });
    await page.locator('body').press('/');
    const search = page.getByRole('dialog', { name: 'Search' });
    await search.getByLabel('Search events').fill('music');
    await search.getByRole('button', { name: /Piano lesson/ }).click();
    await page.getByRole('dialog', { name: 'Edit event' }).getByLabel('Title').waitFor();
    expect(await page.getByRole('dialog', { name: 'Edit event' }).getByLabel('Title').inputValue()).toBe('Piano lesson');
    await page.getByRole('dialog', { name: 'Edit event' }).getByRole('button', { name: 'Cancel' }).click();
    await page.keyboard.press('Control+k');
    await page.getByRole('dialog', { name: 'Search' }).getByLabel('Search events').fill('dentist');
    await page.getByRole('dialog', { name: 'Search' }).getByText(/past/).waitFor(); // past events are found too
    await screenshot(page, 'desktop-search');
    await page.getByRole('dialog', { name: 'Search' }).getByRole('button', { name: 'Close' }).click();

    // Subscribe link: create, rotate (the old link stops working), revoke.
    await openMenu(page, 'Subscribe link');
    const sub = page.getByRole('dialog', { name: 'Subscribe link' });
    await sub.getByRole('button', { name: 'Create link' }).click();
    const url = await sub.getByRole('textbox', { name: 'Subscribe link (https)', exact: true }).inputValue();
    expect(url).toMatch(/\/feeds\/[^/]+\.ics$/);
    expect(await sub.getByRole('textbox', { name: 'For phones (webcal)', exact: true }).inputValue()).toBe(url.replace(/^https?:/, 'webcal:'));
    const feed = await fetch(url);
    expect(feed.status).toBe(200);
    expect(await feed.text()).toContain('SUMMARY:Piano lesson');
    await screenshot(page, 'desktop-subscribe');
    await sub.getByRole('button', { name: 'Make a new link' }).click();
    await poll(() => sub.getByRole('textbox', { name: 'Subscribe link (https)', exact: true }).inputValue()).not.toBe(url);
    const rotated = await sub.getByRole('textbox', { name: 'Subscribe link (https)', exact: true }).inputValue();
    expect((await fetch(url)).status).toBe(404);
    expect((await fetch(rotated)).status).toBe(200);
    await sub.getByRole('button', { name: 'Revoke link' }).click();
    await sub.getByText('No subscribe link is active.').waitFor();
    expect((await fetch(rotated)).status).toBe(404);
    await sub.getByRole('button', { name: 'Close' }).first().click();

    // CalDAV app password: shown once with what to type on the phone; it works until revoked.
    await openMenu(page, 'Settings');
    const settings = page.getByRole('dialog', { name: 'Settings' });
    await settings.getByLabel('Device name').fill('Kim’s phone');
    await settings.getByRole('button', { name: 'Create app password' }).click();
    const password = await settings.getByRole('textbox', { name: 'App password', exact: true }).inputValue();
    expect(await settings.getByRole('textbox', { name: 'Server', exact: true }).inputValue()).toBe(`${env().url}/dav/`);
    expect(await settings.getByRole('textbox', { name: 'Username', exact: true }).inputValue()).toBe(name);
    await settings.getByRole('list', { name: 'App passwords' }).getByText('Kim’s phone').waitFor();
    await screenshot(page, 'desktop-settings-app-password');
    const basic = `Basic ${Buffer.from(`${name}:${password}`).toString('base64')}`;
    expect((await fetch(`${env().url}/dav/`, { headers: { authorization: basic } })).status).toBe(200);
    await settings.getByRole('button', { name: 'Revoke Kim’s phone' }).click();
    await settings.getByText('No app passwords yet.').waitFor();
    expect((await fetch(`${env().url}/dav/`, { headers: { authorization: basic } })).status).toBe(401);
  });

  it('on a phone: the month as dots with the day’s events below, Redo, a weekly repeat ticks its weekday, and a repeating event asks on Save', async () => {
    const { page } = await person(PHONE);
    await signUp(page, uniqueName('pia'));
    await createCalendar(page, 'The Parkers');
    const today = todayIn('Europe/Berlin');
    await createEvent(page, { title: 'Swimming lesson', date: today, start: '17:00', end: '18:00' });
    await createEvent(page, { title: 'Dentist appointment', date: today, start: '08:06', end: '09:00' });
    await createEvent(page, { title: 'Piano', date: today, start: '13:00', end: '14:00' });
    await createEvent(page, { title: 'Football', date: today, start: '15:00', end: '16:00' });

    await view(page, 'Month');
    const cell = page.locator(`.phone-month button[data-date="${today}"]`);
    expect(await cell.getAttribute('data-count')).toBe('4');
    expect(await cell.locator('.pm-dots i').count()).toBe(3);
    expect(await cell.locator('.pm-dots b').textContent()).toBe('+1');
    await cell.click();
    const agenda = page.locator('.pm-agenda');
    // Titles in full, times by the locale (en-GB: 08:06, 17:00), in order.
    expect(await agenda.locator('[data-title]').allInnerTexts()).toEqual([
      expect.stringMatching(/08:06–09:00\s+Dentist appointment/),
      expect.stringMatching(/13:00–14:00\s+Piano/),
      expect.stringMatching(/15:00–16:00\s+Football/),
      expect.stringMatching(/17:00–18:00\s+Swimming lesson/),
    ]);
    // Monday first in en-GB.
    expect(await page.locator('.pm-weekdays span').first().textContent()).toBe('M');
    await dismissToasts(page);
    await screenshot(page, 'phone-month-dots');

    // Undo and Redo are both there on a phone.
    await page.getByRole('button', { name: 'Undo', exact: true }).click();
    await poll(() => agenda.locator('[data-title]').count()).toBe(3);
    await poll(() => page.getByRole('button', { name: 'Redo' }).isVisible()).toBe(true);
    await page.getByRole('button', { name: 'Redo' }).click();
    await poll(() => agenda.locator('[data-title]').count()).toBe(4);

    // Weekly repeat starts with the event's weekday ticked.
    await agenda.locator('[data-title="Piano"]').click();
    let d = page.locator('dialog#event-dialog');
    await d.getByLabel('Repeat').selectOption('WEEKLY');
    const weekday = new Date(`${today}T12:00:00Z`).toLocaleDateString('en-GB', { weekday: 'short', timeZone: 'UTC' });
    expect(await d.getByRole('group', { name: 'On' }).getByLabel(weekday).isChecked()).toBe(true);
    expect(await d.getByRole('group', { name: 'On' }).getByRole('checkbox', { checked: true }).count()).toBe(1);
    await d.getByRole('button', { name: 'Save' }).click();
    await d.waitFor({ state: 'detached' });

    // A change to one occurrence asks which events, on Save.
    await agenda.locator('[data-title="Piano"]').click();
    d = page.locator('dialog#event-dialog');
    await d.getByLabel('Title').fill('Piano recital');
    await d.getByRole('button', { name: 'Save' }).click();
    const scope = page.getByRole('dialog', { name: 'Save a repeating event' });
    await scope.waitFor();
    await screenshot(page, 'phone-save-scope');
    await scope.getByLabel('This event').check();
    await scope.getByRole('button', { name: 'OK' }).click();
    await agenda.locator('[data-title="Piano recital"]').waitFor();
    await page.getByRole('button', { name: 'Next', exact: true }).click();
    const nextWeek = todayIn('Europe/Berlin', 7);
    if (nextWeek.slice(0, 7) !== today.slice(0, 7)) {
      await page.locator(`.phone-month button[data-date="${nextWeek}"]`).click();
    } else {
      await page.getByRole('button', { name: 'Previous', exact: true }).click();
      await page.locator(`.phone-month button[data-date="${nextWeek}"]`).click();
    }
    await agenda.locator('[data-title="Piano"]').waitFor();
  });
});

/** Berlin's offset from UTC on that day, ms (+1 h in winter, +2 h in summer). */
function berlinOffsetMs(day: string): number {
  const noon = new Date(`${day}T12:00:00Z`);
  const berlin = noon.toLocaleString('sv-SE', { timeZone: 'Europe/Berlin' }).replace(' ', 'T');
  return new Date(`${berlin}Z`).getTime() - noon.getTime();
}
