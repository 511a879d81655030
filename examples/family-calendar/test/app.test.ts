/**
 * The family calendar end to end: real Chromium (Debian's, through playwright-core) against a real
 * kith-server in this process that serves the built app. Each test makes its own people.
 */
import type { Page } from 'playwright-core';
import { expect, it } from 'vitest';
import {
  badge,
  createCalendar,
  createEvent,
  createInvite,
  dismissToasts,
  eventEl,
  family,
  joinByInvite,
  openEvent,
  openMenu,
  PASSWORD,
  poll,
  saveEvent,
  screenshot,
  signIn,
  signUp,
  todayIn,
  uniqueName,
  waitSaved,
} from './helpers/app.js';
import { browserDescribe, setupSuite } from './helpers/suite.js';

const { env, person } = setupSuite();

async function waitForServiceWorker(page: Page): Promise<void> {
  await page.waitForFunction(async () => {
    const reg = await navigator.serviceWorker.ready;
    return !!reg.active && !!navigator.serviceWorker.controller;
  });
}

const today = () => todayIn();

browserDescribe('family calendar in Chromium: accounts, sharing, sync and offline', { timeout: 120_000 }, () => {
  it('invite flow: the owner copies an invite link, another person opens it, signs up, joins, and both see each other online', async () => {
    const { ann, ben, annName, benName, link } = await family(person);
    expect(link).toMatch(new RegExp(`^${env().url}/invite/[^/]+$`));
    await ben.page.getByText('You joined “The Millers”.').waitFor();
    await ann.page.locator(`.presence [data-user="${benName}"]`).waitFor();
    await ben.page.locator(`.presence [data-user="${annName}"]`).waitFor();
    // Ben is listed as a member who can edit.
    await openMenu(ben.page, 'Family & invites');
    const members = ben.page.getByRole('list', { name: 'Members' });
    await members.getByText(annName).waitFor();
    await members.getByText(`${benName} (me)`).waitFor();
    expect(await ben.page.getByText('Only the calendar’s owners can invite people.').isVisible()).toBe(true);
    await openMenu(ann.page, 'Family & invites');
    const annFamily = ann.page.getByRole('dialog', { name: /^Family/ });
    await annFamily.getByRole('button', { name: 'Create invite link' }).click();
    await annFamily.getByLabel('Invite link').waitFor();
    await annFamily.getByRole('list', { name: 'Members' }).getByText(benName, { exact: true }).waitFor();
    await screenshot(ann.page, 'family-and-invite');
  });

  it('an event one member creates appears for the other without reloading, and back', async () => {
    const { ann, ben } = await family(person);
    await createEvent(ann.page, { title: 'Football practice', date: today(), start: '16:00', end: '17:30' });
    await eventEl(ben.page, 'Football practice').waitFor();
    await createEvent(ben.page, { title: 'Piano lesson', date: today(), start: '15:00', end: '15:45' });
    await eventEl(ann.page, 'Piano lesson').waitFor();
    await waitSaved(ann.page);
    await waitSaved(ben.page);
    expect(await badge(ann.page).textContent()).toBe('Saved on server');
  });

  it('one member offline edits the title while the other edits the time: back online, both edits are in both browsers', async () => {
    const { ann, ben } = await family(person);
    await createEvent(ann.page, { title: 'Parents evening', date: today(), start: '18:00', end: '19:00' });
    await eventEl(ben.page, 'Parents evening').waitFor();
    await waitSaved(ann.page);
    await waitSaved(ben.page);

    await ben.context.setOffline(true);
    await poll(() => badge(ben.page).getAttribute('data-status')).toBe('offline');
    let dialog = await openEvent(ben.page, 'Parents evening');
    await dialog.getByLabel('Title').fill('Parents evening at school');
    await saveEvent(dialog);
    await poll(() => badge(ben.page).textContent()).toBe('Offline · 1 unsaved edit');

    dialog = await openEvent(ann.page, 'Parents evening');
    await dialog.getByLabel('Start time').fill('18:30');
    expect(await dialog.getByLabel('End time').inputValue()).toBe('19:30'); // the end moves with the start
    await saveEvent(dialog);
    await waitSaved(ann.page);
    // Ben, offline, still has his own title and the old time.
    await eventEl(ben.page, 'Parents evening at school').waitFor();

    await ben.context.setOffline(false);
    await waitSaved(ben.page);
    for (const page of [ann.page, ben.page]) {
      dialog = await openEvent(page, 'Parents evening at school');
      expect(await dialog.getByLabel('Title').inputValue()).toBe('Parents evening at school');
      expect(await dialog.getByLabel('Start time').inputValue()).toBe('18:30');
      expect(await dialog.getByLabel('End time').inputValue()).toBe('19:30');
      await dialog.getByRole('button', { name: 'Cancel' }).click();
    }
  });

  it('after one visit the app reloads offline with its data, takes edits, counts them, and saves them when the network returns', async () => {
    const name = uniqueName('dad');
    const { context, page } = await person();
    await signUp(page, name);
    await createCalendar(page, 'Home');
    await createEvent(page, { title: 'Dentist', date: today(), start: '09:00', end: '10:00' });
    await waitSaved(page);
    await waitForServiceWorker(page);

    await context.setOffline(true);
    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'Home' }).waitFor();
    await eventEl(page, 'Dentist').waitFor();
    expect(await badge(page).getAttribute('data-status')).toBe('offline');
    await createEvent(page, { title: 'Offline lunch', date: today(), start: '12:00', end: '13:00' });
    await poll(() => badge(page).textContent()).toBe('Offline · 1 unsaved edit');
    await dismissToasts(page);
    await screenshot(page, 'offline-after-reload');
    // A second offline reload: the edit and its unsaved count are kept on the device.
    await page.reload();
    await eventEl(page, 'Offline lunch').waitFor();
    await poll(() => badge(page).textContent()).toBe('Offline · 1 unsaved edit');

    await context.setOffline(false);
    await waitSaved(page);
    // The server has it: the same person on another device sees it.
    const other = await person();
    await other.page.goto('/');
    await signIn(other.page, name);
    await eventEl(other.page, 'Offline lunch').waitFor();
  });

  it('a viewer cannot edit; made an editor they can, and removed they are told they lost access', async () => {
    const annName = uniqueName('ann');
    const caraName = uniqueName('cara');
    const ann = await person();
    await signUp(ann.page, annName);
    await createCalendar(ann.page, 'The Lees');
    await createEvent(ann.page, { title: 'Swimming', date: today(), start: '17:00', end: '18:00' });
    const link = await createInvite(ann.page, 'Only view');
    const cara = await person();
    await joinByInvite(cara.page, link, caraName, 'The Lees');

    await cara.page.getByText('You can view this calendar but not change it.').waitFor();
    expect(await cara.page.getByRole('button', { name: 'New event' }).count()).toBe(0);
    const dialog = await openEvent(cara.page, 'Swimming');
    expect(await dialog.getByRole('heading', { name: 'Event details' }).isVisible()).toBe(true);
    expect(await dialog.getByLabel('Title').isDisabled()).toBe(true);
    expect(await dialog.getByRole('button', { name: 'Save' }).count()).toBe(0);
    expect(await dialog.getByRole('button', { name: 'Delete' }).count()).toBe(0);
    await screenshot(cara.page, 'viewer-event-details');
    await dialog.getByRole('button', { name: 'Close' }).last().click();
    // Dragging does nothing for a viewer: the event stays where it is.
    const box = (await eventEl(cara.page, 'Swimming').boundingBox())!;
    await cara.page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await cara.page.mouse.down();
    await cara.page.mouse.move(box.x + box.width / 2 + 180, box.y + box.height / 2, { steps: 8 });
    await cara.page.mouse.up();
    expect(await cara.page.locator('dialog#scope-dialog').count()).toBe(0);
    const after = (await eventEl(cara.page, 'Swimming').boundingBox())!;
    expect(Math.abs(after.x - box.x)).toBeLessThan(2);

    // The owner makes Cara an editor: her app turns editable at once.
    await openMenu(ann.page, 'Family & invites');
    const familyDialog = ann.page.getByRole('dialog', { name: /^Family/ });
    await familyDialog.getByLabel(`Role of ${caraName}`).selectOption('editor');
    await cara.page.getByRole('button', { name: 'New event' }).waitFor();
    await createEvent(cara.page, { title: 'Library', date: today(), start: '11:00', end: '12:00' });
    await eventEl(ann.page, 'Library').waitFor();

    // Then removes her: she is told, and keeps what she had on this device.
    await familyDialog.getByRole('button', { name: `Remove ${caraName}` }).click();
    await cara.page.getByText('You are no longer a member of “The Lees”.').waitFor();
    expect(await cara.page.getByRole('button', { name: 'New event' }).count()).toBe(0);
    await eventEl(cara.page, 'Library').waitFor();
  });

  it('says clearly what went wrong: wrong password, taken username, expired and used-up invites', async () => {
    const annName = uniqueName('ann');
    const { page } = await person();
    await signUp(page, annName);
    await createCalendar(page, 'The Parks');
    await openMenu(page, 'Sign out');
    await page.getByText('You are signed out.').waitFor();

    await signIn(page, annName, 'not my password');
    await page.getByRole('alert').getByText('Wrong username or password.').waitFor();
    await screenshot(page, 'sign-in-error');
    await page.getByRole('tab', { name: 'Create account' }).click();
    await page.getByLabel('Username').fill(annName);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByRole('alert').getByText('That username is taken.').waitFor();

    // Invites that expire in a second, and that one person may use, made through the API.
    const { createKithClient } = await import('@kith/client');
    const api = createKithClient({ baseUrl: env().url });
    await api.login(annName, PASSWORD);
    const [room] = await api.rooms.list();
    const expiring = await api.rooms.invite(room!.roomId, { role: 'editor', expiresInHours: 1 / 3600 });
    const once = await api.rooms.invite(room!.roomId, { role: 'editor', maxUses: 1 });
    await api.close();
    await new Promise((r) => setTimeout(r, 1200));

    const late = await person();
    // The invite page says so before anyone creates an account (GET /invites/:code).
    await late.page.goto(expiring.url);
    await late.page.getByRole('alert').getByText('This invite link has expired. Ask for a new one.').waitFor();
    await screenshot(late.page, 'invite-expired');

    const first = await person();
    await joinByInvite(first.page, once.url, uniqueName('first'), 'The Parks');
    const second = await person();
    await second.page.goto(once.url);
    await second.page.getByRole('alert').getByText('This invite link has already been used. Ask for a new one.').waitFor();
  });
});
