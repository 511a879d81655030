/**
 * Editing in the browser: repeating events (this / this and following / all), delete, undo, the
 * trash, drag and resize, all-day and multi-day events, keyboard use, reminders.
 */
import type { Page } from 'playwright-core';
import { expect, it } from 'vitest';
import {
  createCalendar,
  createEvent,
  createEventDueNow,
  eventEl,
  openEvent,
  openMenu,
  openNth,
  poll,
  shownTexts,
  shownTitles,
  signUp,
  todayIn,
  uniqueName,
  view,
} from './helpers/app.js';
import { browserDescribe, setupSuite } from './helpers/suite.js';

const { person } = setupSuite();
const today = () => todayIn();

async function newCalendar(options?: Parameters<typeof person>[0]): Promise<Page> {
  const { page } = await person(options);
  await signUp(page, uniqueName('kim'));
  await createCalendar(page, 'The Smiths');
  return page;
}

/** Vertical pixels per hour in the week and day views. */
async function hourHeight(page: Page): Promise<number> {
  const nine = await page.locator('.calendar-host [data-time="09:00:00"]').first().boundingBox();
  const ten = await page.locator('.calendar-host [data-time="10:00:00"]').first().boundingBox();
  return ten!.y - nine!.y;
}

/** Answers "which events?" for a repeating event (null: keep the default, "This event"). */
async function chooseScope(page: Page, title: string, choice: 'This event' | 'This and following events' | 'All events' | null): Promise<void> {
  const scope = page.getByRole('dialog', { name: title });
  await scope.waitFor();
  if (choice === null) expect(await scope.getByLabel('This event').isChecked()).toBe(true);
  else await scope.getByLabel(choice).check();
  await scope.getByRole('button', { name: 'OK' }).click();
  await page.locator('dialog#event-dialog').waitFor({ state: 'detached' });
}

async function drag(page: Page, from: { x: number; y: number }, dy: number): Promise<void> {
  await page.mouse.move(from.x, from.y);
  await page.mouse.down();
  await page.mouse.move(from.x, from.y + dy / 2, { steps: 5 });
  await page.mouse.move(from.x, from.y + dy, { steps: 5 });
  await page.mouse.up();
}

browserDescribe('family calendar in Chromium: editing', { timeout: 120_000 }, () => {
  it('a weekly event changes for all events, this event, or this and following; deleting one is undone; a deleted series comes back from the trash', async () => {
    const page = await newCalendar();
    await createEvent(page, { title: 'Swimming', date: today(), start: '17:00', end: '18:00', repeat: 'WEEKLY' });
    await view(page, 'Agenda'); // the next 30 days: 5 weekly occurrences
    expect(await shownTitles(page)).toEqual(Array(5).fill('Swimming'));

    // Save and Delete of a repeating event ask which events, as a drag does (the form has no scope of its own).
    let d = await openNth(page, 1);
    await d.getByLabel('Start time').fill('17:30');
    await d.getByRole('button', { name: 'Save' }).click();
    await chooseScope(page, 'Save a repeating event', 'All events');
    await poll(async () => (await shownTexts(page)).filter((t) => t.includes('17:30–18:30')).length).toBe(5);

    d = await openNth(page, 1);
    await d.getByLabel('Title').fill('Swimming gala');
    await d.getByRole('button', { name: 'Save' }).click();
    await chooseScope(page, 'Save a repeating event', null); // the default: this event
    await poll(() => shownTitles(page)).toEqual(['Swimming', 'Swimming gala', 'Swimming', 'Swimming', 'Swimming']);

    d = await openNth(page, 2);
    await d.getByLabel('Title').fill('Swim club');
    await d.getByRole('button', { name: 'Save' }).click();
    await chooseScope(page, 'Save a repeating event', 'This and following events');
    await poll(() => shownTitles(page)).toEqual(['Swimming', 'Swimming gala', 'Swim club', 'Swim club', 'Swim club']);

    d = await openNth(page, 3);
    await d.getByRole('button', { name: 'Delete' }).click();
    await chooseScope(page, 'Delete a repeating event', 'This event');
    await poll(() => shownTitles(page)).toEqual(['Swimming', 'Swimming gala', 'Swim club', 'Swim club']);
    await page.getByRole('button', { name: 'Undo', exact: true }).first().click();
    await poll(() => shownTitles(page)).toEqual(['Swimming', 'Swimming gala', 'Swim club', 'Swim club', 'Swim club']);

    d = await openNth(page, 0);
    await d.getByRole('button', { name: 'Delete' }).click();
    await chooseScope(page, 'Delete a repeating event', 'All events');
    await poll(() => shownTitles(page)).toEqual([]);
    await page.getByText('Nothing planned in the next 30 days.').waitFor();

    await openMenu(page, 'Trash');
    const trash = page.getByRole('dialog', { name: 'Trash' });
    await trash.getByRole('button', { name: 'Restore Swimming' }).click();
    await trash.getByText('The trash is empty.').waitFor();
    await trash.getByRole('button', { name: 'Close' }).click();
    await poll(() => shownTitles(page)).toEqual(['Swimming', 'Swimming gala', 'Swim club', 'Swim club', 'Swim club']);
  });

  it('dragging moves an event and dragging its end resizes it in the week view; a repeating one asks which events to change', async () => {
    const page = await newCalendar();
    await createEvent(page, { title: 'Dentist', date: today(), start: '09:00', end: '10:00' });
    await createEvent(page, { title: 'Piano', date: today(), start: '13:00', end: '14:00', repeat: 'WEEKLY' });
    await view(page, 'Week');
    const hour = await hourHeight(page);

    let box = (await eventEl(page, 'Dentist').boundingBox())!;
    await drag(page, { x: box.x + box.width / 2, y: box.y + 10 }, hour);
    await poll(() => eventEl(page, 'Dentist').textContent()).toContain('10:00–11:00');

    box = (await eventEl(page, 'Dentist').boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await drag(page, { x: box.x + box.width / 2, y: box.y + box.height - 2 }, hour / 2);
    await poll(() => eventEl(page, 'Dentist').textContent()).toContain('10:00–11:30');
    const d = await openEvent(page, 'Dentist');
    expect([await d.getByLabel('Start time').inputValue(), await d.getByLabel('End time').inputValue()]).toEqual(['10:00', '11:30']);
    await d.getByRole('button', { name: 'Cancel' }).click();

    box = (await eventEl(page, 'Piano').boundingBox())!;
    await drag(page, { x: box.x + box.width / 2, y: box.y + 10 }, hour);
    const scope = page.getByRole('dialog', { name: 'Change a repeating event' });
    await scope.getByLabel('This event').check();
    await scope.getByRole('button', { name: 'OK' }).click();
    await poll(() => eventEl(page, 'Piano').textContent()).toContain('14:00–15:00');
    await view(page, 'Agenda');
    const piano = (await shownTexts(page)).filter((t) => t.includes('Piano'));
    expect(piano[0]).toContain('14:00–15:00');
    expect(piano.slice(1).every((t) => t.includes('13:00–14:00'))).toBe(true);
  });

  it('an all-day event over several days shows on each of them, with an inclusive end date in the form', async () => {
    const page = await newCalendar();
    const last = todayIn('Europe/Berlin', 2);
    await createEvent(page, { title: 'Camping trip', date: today(), allDay: true, endDate: last });
    await view(page, 'Agenda');
    expect((await shownTitles(page)).filter((t) => t === 'Camping trip')).toHaveLength(3);
    expect(await shownTexts(page)).toContain('All-day Camping trip');
    const d = await openNth(page, 0);
    expect(await d.getByLabel('All day').isChecked()).toBe(true);
    expect(await d.getByLabel('Starts').inputValue()).toBe(today());
    expect(await d.getByLabel('Ends', { exact: true }).inputValue()).toBe(last);
  });

  it('works from the keyboard: New event, type, Enter saves; Enter on an event opens it, Escape closes it; Ctrl+Z undoes', async () => {
    const page = await newCalendar();
    await page.getByRole('button', { name: 'New event' }).focus();
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog', { name: 'New event' });
    await dialog.waitFor();
    expect(await page.evaluate(() => document.activeElement?.getAttribute('name'))).toBe('title');
    await page.keyboard.type('Call grandma');
    await page.keyboard.press('Enter');
    await dialog.waitFor({ state: 'detached' });
    await eventEl(page, 'Call grandma').waitFor();

    await eventEl(page, 'Call grandma').focus();
    await page.keyboard.press('Enter');
    const edit = page.getByRole('dialog', { name: 'Edit event' });
    await edit.waitFor();
    await page.keyboard.press('Escape');
    await edit.waitFor({ state: 'detached' });

    await page.locator('.calendar-host').focus().catch(() => undefined);
    await page.keyboard.press('Control+z');
    await eventEl(page, 'Call grandma').waitFor({ state: 'detached' });
    await page.keyboard.press('Control+Shift+z');
    await eventEl(page, 'Call grandma').waitFor();
  });

  it('a reminder shows as a browser notification and in the page while the app is open', async () => {
    const { page } = await person({ permissions: ['notifications'] });
    await signUp(page, uniqueName('gran'));
    await createCalendar(page, 'The Browns');
    await expect.poll(() => page.evaluate(() => !!navigator.serviceWorker.controller), { timeout: 20_000 }).toBe(true);
    await createEventDueNow(page, 'Call grandma');
    // Shown through the service worker (so that a push for the same reminder replaces it).
    const titles = () =>
      page.evaluate(async () => (await (await navigator.serviceWorker.ready).getNotifications()).map((n) => n.title));
    await expect.poll(titles, { timeout: 10_000 }).toEqual(['Call grandma']);
  });
});
