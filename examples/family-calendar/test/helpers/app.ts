/** What a person does in the app, as Playwright steps over labelled controls. */
import path from 'node:path';
import type { BrowserContext, BrowserContextOptions, Locator, Page } from 'playwright-core';
import { expect } from 'vitest';
import { ARTIFACTS } from './env.js';

export const PASSWORD = 'correct horse battery';

let n = 0;
export function uniqueName(prefix: string): string {
  return `${prefix}${Date.now().toString(36).slice(-5)}${(n++).toString(36)}`;
}

export async function signUp(page: Page, username: string): Promise<void> {
  await page.goto('/');
  await page.getByRole('tab', { name: 'Create account' }).click();
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Create account' }).click();
}

export async function signIn(page: Page, username: string, password = PASSWORD): Promise<void> {
  await page.getByRole('tab', { name: 'Sign in' }).click();
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

export async function createCalendar(page: Page, name: string): Promise<void> {
  await page.getByLabel('Calendar name').fill(name);
  await page.getByRole('button', { name: 'Create calendar' }).click();
  await page.getByRole('heading', { level: 1, name }).waitFor();
}

export function badge(page: Page): Locator {
  return page.locator('.sync-badge');
}

/** Waits until the sync badge says everything is stored on the server. */
export async function waitSaved(page: Page, timeout = 15_000): Promise<void> {
  await expect
    .poll(async () => `${await badge(page).getAttribute('data-status')}/${await badge(page).getAttribute('data-unsaved')}`, { timeout })
    .toBe('saved/0');
}

export function eventEl(page: Page, title: string): Locator {
  return page.locator(`.calendar-host [data-title="${title}"]`).first();
}

export async function view(page: Page, name: 'Month' | 'Week' | 'Day' | 'Agenda'): Promise<void> {
  await page.getByRole('group', { name: 'View' }).getByRole('button', { name }).click();
  await page.locator(`.view-switch button[aria-pressed="true"]:text-is("${name}")`).waitFor();
}

export interface NewEvent {
  title: string;
  date: string;
  start?: string;
  end?: string;
  allDay?: boolean;
  endDate?: string;
  repeat?: 'DAILY' | 'WEEKLY' | 'MONTHLY' | 'YEARLY';
  who?: string[];
  location?: string;
}

/** Creates an event through the "New event" form. */
export async function createEvent(page: Page, e: NewEvent): Promise<void> {
  await page.getByRole('button', { name: 'New event' }).click();
  const dialog = page.getByRole('dialog', { name: 'New event' });
  await fillEventForm(dialog, e);
  await dialog.getByRole('button', { name: 'Save' }).click();
  await dialog.waitFor({ state: 'detached' });
}

export async function fillEventForm(dialog: Locator, e: Partial<NewEvent>): Promise<void> {
  if (e.title !== undefined) await dialog.getByLabel('Title').fill(e.title);
  if (e.allDay) await dialog.getByLabel('All day').check();
  if (e.date) await dialog.getByLabel('Starts').fill(e.date);
  if (e.start) await dialog.getByLabel('Start time').fill(e.start);
  if (e.endDate) await dialog.getByLabel('Ends', { exact: true }).fill(e.endDate);
  if (e.end) await dialog.getByLabel('End time').fill(e.end);
  if (e.repeat) await dialog.getByLabel('Repeat').selectOption(e.repeat);
  if (e.location) await dialog.getByLabel('Where').fill(e.location);
  if (e.who) {
    for (const box of await dialog.getByRole('group', { name: 'Who' }).getByRole('checkbox').all()) await box.uncheck();
    for (const name of e.who) await dialog.getByRole('group', { name: 'Who' }).getByLabel(name).check();
  }
}

export async function screenshot(page: Page, name: string): Promise<string> {
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file });
  return file;
}

export async function openMenu(page: Page, item: string): Promise<void> {
  await page.getByLabel('Menu', { exact: true }).click();
  await page.locator('.menu-items').getByRole('button', { name: item }).click();
}

/** The owner creates an invite link in "Family & invites" and returns it. */
export async function createInvite(page: Page, can: 'Edit events' | 'Only view' = 'Edit events'): Promise<string> {
  await openMenu(page, 'Family & invites');
  const dialog = page.getByRole('dialog', { name: /^Family/ });
  await dialog.getByLabel('They can').selectOption({ label: can });
  await dialog.getByRole('button', { name: 'Create invite link' }).click();
  const input = dialog.getByLabel('Invite link');
  await input.waitFor();
  const url = await input.inputValue();
  await dialog.getByRole('button', { name: 'Close' }).first().click();
  await dialog.waitFor({ state: 'detached' });
  return url;
}

/** Someone opens an invite link, creates an account and lands in the calendar. */
export async function joinByInvite(page: Page, url: string, username: string, calendarName: string): Promise<void> {
  await page.goto(url);
  await page.getByText(`invited you to “${calendarName}”`).waitFor();
  await page.getByRole('tab', { name: 'Create account' }).click();
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.getByRole('heading', { level: 1, name: calendarName }).waitFor();
}

/** Opens an event's form by clicking it in the calendar (the nth occurrence shown, from 0). */
export async function openEvent(page: Page, title: string, nth = 0): Promise<Locator> {
  await page.locator(`.calendar-host [data-title="${title}"]`).nth(nth).click();
  const dialog = page.locator('dialog#event-dialog');
  await dialog.waitFor();
  return dialog;
}

export async function saveEvent(dialog: Locator): Promise<void> {
  await dialog.getByRole('button', { name: 'Save' }).click();
  await dialog.waitFor({ state: 'detached' });
}

/**
 * Creates `title` starting in 3 minutes (Berlin wall time) with a "5 minutes before" reminder, so
 * the reminder is due at once, and waits for the page's in-app reminder.
 */
export async function createEventDueNow(page: Page, title: string): Promise<void> {
  const soon = wallIn('Europe/Berlin', 3);
  const later = wallIn('Europe/Berlin', 33);
  await page.getByRole('button', { name: 'New event' }).click();
  const dialog = page.getByRole('dialog', { name: 'New event' });
  await fillEventForm(dialog, { title, date: soon.date, start: soon.time, endDate: later.date, end: later.time });
  await dialog.getByRole('button', { name: 'Add reminder' }).click();
  await dialog.getByLabel('Reminder 1: when').selectOption({ label: '5 minutes before' });
  await saveEvent(dialog);
  await page.getByText(new RegExp(`^Reminder: ${title}`)).waitFor();
}

export function todayIn(timeZone = 'Europe/Berlin', plusDays = 0): string {
  const d = new Date(Date.now() + plusDays * 86_400_000);
  return d.toLocaleDateString('sv-SE', { timeZone });
}

/** Ann creates a family calendar and invites Ben (an editor) by link; both have it open. */
export async function family(person: (o?: BrowserContextOptions) => Promise<{ context: BrowserContext; page: Page }>, calendarName = 'The Millers') {
  const annName = uniqueName('ann');
  const benName = uniqueName('ben');
  const ann = await person();
  await signUp(ann.page, annName);
  await createCalendar(ann.page, calendarName);
  const link = await createInvite(ann.page);
  const ben = await person();
  await joinByInvite(ben.page, link, benName, calendarName);
  return { ann, ben, annName, benName, link };
}

/** Titles of the events shown, in the order the view lists them. */
export function shownTitles(page: Page): Promise<string[]> {
  return page.locator('.calendar-host [data-title]').evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.title ?? ''));
}

/** Text of the events shown (time and title), in order. */
export function shownTexts(page: Page): Promise<string[]> {
  return page.locator('.calendar-host [data-title]').evaluateAll((els) => els.map((e) => (e as HTMLElement).innerText.replace(/\s+/g, ' ').trim()));
}

/** Opens the nth event shown (from 0), whatever its title. */
export async function openNth(page: Page, nth: number): Promise<Locator> {
  await page.locator('.calendar-host [data-title]').nth(nth).click();
  const dialog = page.locator('dialog#event-dialog');
  await dialog.waitFor();
  return dialog;
}

/** Date and "HH:MM" in a zone, `minutes` from now. */
export function wallIn(timeZone: string, minutes: number): { date: string; time: string } {
  const d = new Date(Date.now() + minutes * 60_000);
  const date = d.toLocaleDateString('sv-SE', { timeZone });
  const time = d.toLocaleTimeString('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
  return { date, time };
}

/** Closes the message at the bottom (e.g. "Added …, Undo") so that it does not cover a screenshot. */
export async function dismissToasts(page: Page): Promise<void> {
  for (const b of await page.locator('.toast button[aria-label="Dismiss"]').all()) await b.click().catch(() => undefined);
  await page.locator('.toast').waitFor({ state: 'detached' });
}

/** `expect.poll` with room for a busy machine (its default gives up after one second). */
export function poll<T>(fn: () => T | Promise<T>, timeout = 10_000) {
  return expect.poll(fn, { timeout, interval: 50 });
}
