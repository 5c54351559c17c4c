import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { asOperator, BROWSER_ZONES, openDashboard, PHONE, screenshot, skipWithoutChromium, stationSuite } from './browser.ts';

const SPRING = '02:30 does not exist on 2027-03-28 in Europe/Warsaw; the show will start at 03:30';
const AUTUMN = '02:30 happens twice on 2027-10-31 in Europe/Warsaw; the show will start at the first (UTC+2)';

/** The calendar entries of a show on a day (a column of the week view), found by the day the calendar shows. */
const entries = (page: Page, date: string, title: string) =>
  page.locator(`.fc-timegrid-col[data-date="${date}"] .fc-event`, { hasText: title });

async function showWeek(page: Page, date: string): Promise<void> {
  await page.getByLabel('Go to date').fill(date);
  await page.locator(`.fc-col-header-cell[data-date="${date}"]`).waitFor();
}

/** The time text of the one entry of a show on a day, e.g. "02:30 - 03:30" (station time). */
async function timeOn(page: Page, date: string, title: string): Promise<string> {
  const entry = entries(page, date, title);
  await entry.waitFor();
  assert.equal(await entry.count(), 1);
  return (await entry.locator('.fc-event-time').textContent()) ?? '';
}

/** The API's message shown by the field labelled `label`. */
const messageBy = (page: Page, label: string) =>
  page.locator('.field', { has: page.getByLabel(label, { exact: true }) }).getByRole('alert');

/** The screenshot: the week of the change at 1440 px, its warnings beside it, and more shows on air (added live). */
async function figure(page: Page, url: string): Promise<void> {
  const [breakfast, jazz] = await Promise.all(['Breakfast', 'Evening jazz'].map((title) => asOperator(url, 'POST', '/shows', { title })));
  const weekly = { timezone: 'Europe/Warsaw', duration: 7200 };
  await asOperator(url, 'POST', '/events', { ...weekly, showId: breakfast!.body.id, type: 'prerecorded', start: '2027-03-01T07:00', recurrence: { rule: 'FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR' } });
  await asOperator(url, 'POST', '/events', { ...weekly, showId: jazz!.body.id, type: 'live', start: '2027-03-05T20:00', recurrence: { rule: 'FREQ=WEEKLY' } });
  await page.locator('.fc-event', { hasText: 'Evening jazz' }).waitFor();
  await page.getByLabel('Go to date').blur();
  await screenshot(page, 'schedule');
}

describe('dashboard: the Schedule page', { skip: skipWithoutChromium }, () => {
  const suite = stationSuite();

  for (const [n, zone] of BROWSER_ZONES.entries()) {
    test(`in a browser in ${zone}: the first change asks for the key; a weekly Sunday 02:30 show sits at 02:30, then at 03:30 after the change, with the DST warnings`, async () => {
      const dashboard = await openDashboard(suite.browser, suite.station.url, { timezoneId: zone, expected: [/^POST \/(shows|events) 400$/] });
      const { page } = dashboard;
      const title = `Night owls ${n}`;
      await page.goto('/ui/schedule');
      await page.getByRole('heading', { name: 'Schedule', level: 1 }).waitFor();
      assert.equal(await page.getByRole('link', { name: 'iCalendar feed' }).getAttribute('href'), '/schedule.ics');

      // The first change: an empty title. The key is asked for, then the API's own message shows by the field.
      await page.getByRole('button', { name: 'Add show' }).click();
      await page.getByRole('heading', { name: 'API key needed' }).waitFor();
      await dashboard.giveKey();
      assert.match(await messageBy(page, 'Title').textContent() ?? '', /must not have fewer than 1 characters/);
      await page.getByLabel('Title', { exact: true }).fill(title);
      await page.getByRole('button', { name: 'Add show' }).click();
      await page.getByLabel('Show', { exact: true }).locator('option:checked', { hasText: title }).waitFor({ state: 'attached' });

      await page.getByLabel('Start', { exact: true }).fill('2027-03-14T02:30');
      await page.getByLabel('Duration (minutes)').fill('0');
      await page.getByLabel('Repeats').selectOption('WEEKLY');
      // Weekly repeats on the start's weekday: that box is ticked, no other.
      assert.deepEqual(await page.locator('.weekdays input:checked').evaluateAll((boxes) => boxes.map((box) => box.parentElement!.textContent)), ['Sun']);
      await page.getByLabel('After').check();
      await page.getByText('Every week on Sunday at 02:30, 10 times', { exact: true }).waitFor();
      await page.getByText('RRULE:FREQ=WEEKLY;BYDAY=SU;COUNT=10', { exact: true }).waitFor();
      await page.getByLabel('Never').check();
      await page.getByRole('button', { name: 'Create event' }).click();
      assert.equal(await messageBy(page, 'Duration (minutes)').textContent(), 'must be >= 1');
      assert.equal(await page.getByLabel('Duration (minutes)').getAttribute('aria-invalid'), 'true');

      await page.getByLabel('Duration (minutes)').fill('60');
      await page.getByLabel('Repeats').selectOption('custom');
      await page.getByLabel('RRULE').fill('FREQ=WEEKL');
      await page.getByRole('button', { name: 'Create event' }).click();
      assert.match(await messageBy(page, 'RRULE').textContent() ?? '', /^FREQ "WEEKL" must be one of/);
      await page.getByLabel('Repeats').selectOption('WEEKLY');
      await page.getByText('Every week on Sunday at 02:30', { exact: true }).waitFor();
      await page.getByRole('button', { name: 'Create event' }).click();
      const warnings = page.getByRole('status').filter({ hasText: 'does not exist' });
      await warnings.waitFor();
      assert.deepEqual(await warnings.getByRole('listitem').allTextContents(), [SPRING, AUTUMN]);
      await page.getByRole('heading', { name: 'Edit event' }).waitFor();

      // Station time (Europe/Warsaw) whatever the browser's zone: before the change at 02:30, on its day at 03:30.
      await showWeek(page, '2027-03-21');
      assert.equal(await timeOn(page, '2027-03-21', title), '02:30 - 03:30');
      assert.equal(await page.locator('.fc-event', { hasText: title }).count(), 1, 'one instance a week, on Sunday');
      await showWeek(page, '2027-03-28');
      assert.equal(await timeOn(page, '2027-03-28', title), '03:30 - 04:30');
      if (n === 0) await figure(page, suite.station.url);
      await showWeek(page, '2027-04-04');
      assert.equal(await timeOn(page, '2027-04-04', title), '02:30 - 03:30');

      // A change made elsewhere shows without a reload (programme-changed over /sse).
      const shows = await asOperator(suite.station.url, 'GET', '/shows');
      const show = shows.body.shows.find((s: { title: string }) => s.title === title);
      await asOperator(suite.station.url, 'POST', '/events', { showId: show.id, type: 'replay', start: '2027-04-01T20:00', duration: 1800, timezone: 'Europe/Warsaw' });
      assert.equal(await timeOn(page, '2027-04-01', title), '20:00 - 20:30');

      // Clicking an instance edits its event: skip that week, and the instance leaves the calendar.
      await entries(page, '2027-04-04', title).click();
      await page.getByRole('button', { name: 'Skip this instance' }).click();
      await entries(page, '2027-04-04', title).waitFor({ state: 'detached' });
      await page.getByText('2027-04-04 02:30').waitFor();
      await entries(page, '2027-04-01', title).click();
      await page.getByRole('button', { name: 'Delete', exact: true }).click();
      await page.getByRole('button', { name: 'Delete event' }).click();
      await entries(page, '2027-04-01', title).waitFor({ state: 'detached' });
      await page.getByRole('heading', { name: 'New event' }).waitFor();
      await dashboard.end();
    });
  }

  test('at 390 px: the day view and the forms fit the screen, no sideways scroll; a broadcast chosen brings its form into view', async () => {
    const dashboard = await openDashboard(suite.browser, suite.station.url, { timezoneId: BROWSER_ZONES[1]!, viewport: PHONE });
    const { page } = dashboard;
    await page.goto('/ui/schedule');
    await page.getByLabel('Go to date').fill('2027-03-28');
    // Choosing a broadcast (by keyboard) brings its event's form into view, focused, below the calendar.
    const entry = page.getByRole('button', { name: /^Night owls 0 · live, Sunday 28 March, 03:30–04:30/ });
    await entry.focus();
    await page.keyboard.press('Enter');
    const heading = page.getByRole('heading', { name: 'Edit event' });
    await heading.and(page.locator(':focus')).waitFor();
    const box = await heading.boundingBox();
    assert.ok(box !== null && box.y >= 0 && box.y + box.height <= PHONE.height, `the form's heading is at ${JSON.stringify(box)}`);
    const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth');
    assert.equal(overflow, 0, 'the page scrolls sideways');
    const form = await page.locator('form.event-form').boundingBox();
    assert.ok(form !== null && form.x >= 0 && form.x + form.width <= PHONE.width, `the event form spans ${JSON.stringify(form)}`);
    await dashboard.end();
  });
});
