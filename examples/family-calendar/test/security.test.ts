/**
 * Issue 11 in the browser: the app runs under the server's strict Content Security Policy (every
 * browser test fails on a CSP violation, see helpers/suite.ts), owners withdraw invite links, and
 * a removed member cannot come back through the link they joined with.
 */
import { expect, it } from 'vitest';
import { createEvent, eventEl, family, openMenu, PASSWORD, poll, todayIn, uniqueName, view } from './helpers/app.js';
import { browserDescribe, setupSuite } from './helpers/suite.js';

const { person } = setupSuite();

browserDescribe('family calendar in Chromium: security', { timeout: 120_000 }, () => {
  it('the app is served with a strict CSP and runs under it: sign-up, invite, events and every view, with no violation', async () => {
    const { ann, ben } = await family(person);
    const res = await ann.page.request.get('/');
    const csp = res.headers()['content-security-policy'] ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval/);
    expect(res.headers()['x-frame-options']).toBe('DENY');
    expect(res.headers()['referrer-policy']).toBe('no-referrer');
    await createEvent(ann.page, { title: 'Under CSP', date: todayIn(), start: '10:00', end: '11:00' });
    await eventEl(ben.page, 'Under CSP').waitFor();
    for (const v of ['Month', 'Week', 'Day', 'Agenda'] as const) {
      await view(ann.page, v);
      await eventEl(ann.page, 'Under CSP').waitFor();
    }
  });

  it('the owner sees the open invite links and revokes one: whoever opens it then is told it is not valid', async () => {
    const { ann, link } = await family(person);
    await openMenu(ann.page, 'Family & invites');
    const dialog = ann.page.getByRole('dialog', { name: /^Family/ });
    await dialog.getByRole('button', { name: 'Create invite link' }).click();
    const fresh = await dialog.getByLabel('Invite link').inputValue();
    expect(fresh).not.toBe(link);
    const links = dialog.getByRole('list', { name: 'Open invites' });
    // The family's link (used once by Ben) and the new one.
    await expect.poll(() => links.getByRole('listitem').count(), { timeout: 10_000 }).toBe(2);
    await links.getByRole('button', { name: 'Revoke (Can edit, 0 used)' }).click();
    await expect.poll(() => links.getByRole('listitem').count(), { timeout: 10_000 }).toBe(1);

    const late = await person();
    await late.page.goto(fresh);
    await late.page.getByRole('tab', { name: 'Create account' }).click();
    await late.page.getByLabel('Username').fill(uniqueName('late'));
    await late.page.getByLabel('Password').fill(PASSWORD);
    await late.page.getByRole('button', { name: 'Create account' }).click();
    await late.page.getByRole('alert').getByText('This invite link is not valid.').waitFor();
  });

  it('a removed member who opens the link they joined with is told they were removed, and stays out', async () => {
    const { ann, ben, benName, link } = await family(person);
    await openMenu(ann.page, 'Family & invites');
    const dialog = ann.page.getByRole('dialog', { name: /^Family/ });
    await dialog.getByRole('button', { name: `Remove ${benName}` }).click();
    await ben.page.getByText('You are no longer a member of “The Millers”.').waitFor();

    await ben.page.goto(link);
    await ben.page.getByRole('alert').getByText('You were removed from this calendar.').waitFor();
    await poll(() => dialog.getByRole('list', { name: 'Members' }).getByText(benName).count()).toBe(0);
  });
});
