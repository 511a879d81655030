/**
 * The four views on a desktop and the month on a phone, filled with a family's week; screenshots go
 * to test-artifacts/ (look at them after a change to the UI).
 */
import { expect, it } from 'vitest';
import {
  createEvent,
  dismissToasts,
  eventEl,
  family,
  poll,
  screenshot,
  shownTitles,
  signIn,
  todayIn,
  view,
  waitSaved,
} from './helpers/app.js';
import { PHONE } from './helpers/env.js';
import { browserDescribe, setupSuite } from './helpers/suite.js';

const { person } = setupSuite();

browserDescribe('family calendar in Chromium: views', { timeout: 120_000 }, () => {
  it('shows month, week, day and agenda on a desktop and the month on a phone, events in their member colours (screenshots)', async () => {
    const { ann, annName, benName } = await family(person);
    const day = (n: number) => todayIn('Europe/Berlin', n);
    const a = ann.page;
    await createEvent(a, { title: 'School run', date: day(0), start: '08:00', end: '08:30', who: [benName] });
    await createEvent(a, { title: 'Dentist', date: day(0), start: '10:00', end: '11:00', who: [annName] });
    await createEvent(a, { title: 'Family lunch', date: day(0), start: '12:30', end: '13:30', who: [annName, benName] });
    await createEvent(a, { title: 'Swimming', date: day(0), start: '16:00', end: '17:00', who: [benName], repeat: 'WEEKLY' });
    await createEvent(a, { title: 'Grandma visits', date: day(0), allDay: true, endDate: day(1), who: [] });
    await createEvent(a, { title: 'Book club', date: day(-1), start: '19:00', end: '21:00', who: [annName] });
    await createEvent(a, { title: 'Football', date: day(1), start: '15:00', end: '16:30', who: [benName] });
    await waitSaved(a);

    // Member colours: Ann (who joined first) blue, Ben orange; a shared event takes the colour of
    // its participant who joined first.
    await poll(() => eventEl(a, 'School run').getAttribute('style')).toContain('#c2410c');
    expect(await eventEl(a, 'Dentist').getAttribute('style')).toContain('#2f6fdf');
    expect(await eventEl(a, 'Family lunch').getAttribute('style')).toContain('#2f6fdf');

    for (const [name, file] of [
      ['Month', 'desktop-month'],
      ['Week', 'desktop-week'],
      ['Day', 'desktop-day'],
      ['Agenda', 'desktop-agenda'],
    ] as const) {
      await view(a, name);
      await eventEl(a, 'Dentist').waitFor({ state: 'attached' });
      expect((await a.locator('.view-title').textContent())?.trim()).not.toBe('');
      await dismissToasts(a);
      await screenshot(a, file);
    }
    expect(await shownTitles(a)).toContain('Swimming');

    // Ben on his phone: the agenda first, the month on request; Ann sees him online.
    const phone = await person(PHONE);
    await phone.page.goto('/');
    await signIn(phone.page, benName);
    await eventEl(phone.page, 'Dentist').waitFor({ state: 'attached' });
    await screenshot(phone.page, 'phone-agenda');
    // The phone month is dots per day with the selected day's events below, titles in full.
    await view(phone.page, 'Month');
    await phone.page.locator(`.phone-month button[data-date="${day(0)}"]`).click();
    await phone.page.locator('.pm-agenda [data-title="Family lunch"]').waitFor();
    await screenshot(phone.page, 'phone-month');
    await a.locator(`.presence [data-user="${benName}"]`).waitFor();
    await phone.page.locator('.pm-agenda [data-title="Dentist"]').click();
    await phone.page.locator('dialog#event-dialog').waitFor();
    await screenshot(phone.page, 'phone-event-form');
  });
});
