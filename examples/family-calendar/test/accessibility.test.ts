/**
 * axe-core over every screen of the app in Chromium: sign-in, the invite page, the calendar in
 * month, week and agenda views (desktop and phone), the event dialog, the menu's dialogs (family &
 * invites, trash, settings when there is one) and the calendar list. No violation of any impact
 * is allowed, FullCalendar's grid included (its roles and names are fixed up in full-calendar.ts);
 * every finding is written to test/results/axe.json.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { expect, it } from 'vitest';
import { APP_DIR, PHONE } from './helpers/env.js';
import { createCalendar, createEvent, createInvite, openEvent, openMenu, signUp, todayIn, uniqueName, view } from './helpers/app.js';
import { browserDescribe, setupSuite } from './helpers/suite.js';

const { person } = setupSuite();

const AXE_SOURCE = fs.readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const RESULTS = path.join(APP_DIR, 'test/results/axe.json');
/** WCAG 2.1 A and AA, and axe's best practices. */
const TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'];

interface Finding {
  screen: string;
  rule: string;
  impact: string | null;
  help: string;
  targets: string[];
  /** Whether every element at fault is inside the calendar grid (FullCalendar's DOM). */
  inCalendarGrid: boolean;
  /** The first element's markup and axe's explanation, to find it in the code. */
  html: string;
  summary: string;
}

const findings: Finding[] = [];

/**
 * Runs axe on the page as it is. The app's CSP forbids inline scripts, so axe is evaluated through
 * the DevTools protocol (as the test driver's own code is), not added as a <script>.
 */
async function audit(page: Page, screen: string): Promise<void> {
  // Let transitions and live updates settle (axe reads computed colours).
  await page.waitForTimeout(300);
  const hasAxe = await page.evaluate(() => 'axe' in window);
  if (!hasAxe) await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(async (tags) => {
    const axe = (window as unknown as { axe: { run: (ctx: Document, o: object) => Promise<{ violations: any[] }> } }).axe;
    const result = await axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] });
    return result.violations.map((v) => ({
      rule: v.id as string,
      impact: v.impact as string | null,
      help: v.help as string,
      targets: (v.nodes as Array<{ target: string[] }>).map((n) => n.target.join(' ')),
      inCalendarGrid: (v.nodes as Array<{ target: string[] }>).every(
        (n) => !!document.querySelector(n.target[0]!)?.closest('.calendar-host'),
      ),
      html: String(v.nodes[0]?.html ?? '').slice(0, 300),
      summary: String(v.nodes[0]?.failureSummary ?? '').slice(0, 400),
    }));
  }, TAGS);
  for (const v of violations) findings.push({ screen, ...v });
}

const serious = () => findings.filter((f) => f.impact === 'serious' || f.impact === 'critical');

browserDescribe('accessibility (axe-core) of every screen', { timeout: 240_000 }, () => {
  it('has no violations (of any impact) on desktop and phone', async () => {
    // Signed out: the sign-in page, and the page an invite link opens.
    const owner = await person();
    await owner.page.goto('/');
    await owner.page.locator('form input[type=password]').waitFor();
    await audit(owner.page, 'sign-in');
    await owner.page.getByRole('tab', { name: 'Create account' }).click();
    await audit(owner.page, 'sign-up');

    await signUp(owner.page, uniqueName('axe'));
    await createCalendar(owner.page, 'Accessible family');
    await createEvent(owner.page, { title: 'Swimming', date: todayIn(), start: '17:00', end: '18:00' });
    await createEvent(owner.page, { title: 'Holiday', date: todayIn(), allDay: true });
    await audit(owner.page, 'calendar month');
    await view(owner.page, 'Week');
    await audit(owner.page, 'calendar week');
    await view(owner.page, 'Agenda');
    await audit(owner.page, 'calendar agenda');
    await view(owner.page, 'Month');

    const dialog = await openEvent(owner.page, 'Swimming');
    await audit(owner.page, 'event dialog');
    await dialog.getByRole('button', { name: /Close|Cancel/ }).first().click();
    await owner.page.getByRole('button', { name: 'New event' }).click();
    await audit(owner.page, 'new event dialog');
    await owner.page.keyboard.press('Escape');

    const link = await createInvite(owner.page);
    await openMenu(owner.page, 'Family & invites');
    await audit(owner.page, 'family & invites');
    await owner.page.keyboard.press('Escape');
    await openMenu(owner.page, 'Trash');
    await audit(owner.page, 'trash');
    await owner.page.keyboard.press('Escape');
    await owner.page.getByLabel('Menu', { exact: true }).click();
    const settings = owner.page.locator('.menu-items').getByRole('button', { name: /settings/i });
    if ((await settings.count()) > 0) {
      await settings.first().click();
      await audit(owner.page, 'settings');
      // Its first field is the zone picker, where Escape first closes the open list (as comboboxes do).
      await owner.page.locator('#settings-dialog').getByRole('button', { name: 'Close' }).click();
    } else {
      await owner.page.keyboard.press('Escape');
    }
    await openMenu(owner.page, 'My calendars');
    await owner.page.getByRole('button', { name: 'Create calendar' }).waitFor();
    await audit(owner.page, 'calendar list');

    const guest = await person();
    await guest.page.goto(link);
    await guest.page.locator('form input[type=password]').waitFor();
    await audit(guest.page, 'invite page');

    // The phone layout.
    const phone = await person(PHONE);
    await signUp(phone.page, uniqueName('axephone'));
    await createCalendar(phone.page, 'Phone family');
    await createEvent(phone.page, { title: 'Dentist', date: todayIn(), start: '09:00', end: '10:00' });
    await audit(phone.page, 'phone calendar month');
    await view(phone.page, 'Agenda');
    await audit(phone.page, 'phone calendar agenda');

    fs.mkdirSync(path.dirname(RESULTS), { recursive: true });
    fs.writeFileSync(RESULTS, `${JSON.stringify({ measuredAt: new Date().toISOString(), tags: TAGS, findings }, null, 2)}\n`);
    console.log(
      `axe: ${findings.length} findings, ${serious().length} serious or critical:\n` +
        findings.map((f) => `  [${f.impact}] ${f.screen}: ${f.rule} — ${f.help} — ${f.targets.slice(0, 3).join(' | ')}`).join('\n'),
    );
    expect(serious()).toEqual([]);
    // Minor and moderate ones too (the last two, FullCalendar's empty-looking headers, are fixed).
    expect(findings.map((f) => `[${f.impact}] ${f.screen}: ${f.rule}`)).toEqual([]);
  });
});
