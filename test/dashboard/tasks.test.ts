import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { asOperator, BROWSER_ZONES, openDashboard, PHONE, screenshot, skipWithoutChromium, stationSuite } from './browser.ts';


describe('dashboard: the Tasks page', { skip: skipWithoutChromium }, () => {
  const suite = stationSuite();
  before(async () => {
    const done = await asOperator(suite.station.url, 'POST', '/tasks', { operation: { type: 'test', parameters: { hello: 'world' } } });
    assert.equal(done.status, 201, JSON.stringify(done.body));
  });

  test('a task created over the API appears live as waiting, with its details; cancelled from the page, it moves to cancelled', async () => {
    const dashboard = await openDashboard(suite.browser, suite.station.url, { timezoneId: BROWSER_ZONES[0]! });
    const { page } = dashboard;
    await page.goto('/ui/tasks');
    await dashboard.giveKey();
    await page.getByText('No waiting tasks.').waitFor();
    await page.evaluate('window.notReloaded = true');

    const created = await asOperator(suite.station.url, 'POST', '/tasks', {
      operation: { type: 'delay', parameters: { milliseconds: 1000 } },
      condition: { type: 'at', parameters: { datetime: '2030-01-01T12:00:00+01:00' } },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id: string = created.body.task.id;
    const card = page.locator(`article[data-task="${id}"]`);
    await card.waitFor({ timeout: 5000 });
    assert.equal(await page.evaluate('window.notReloaded'), true, 'the page was loaded again');
    // At 12:00 in UTC+1, shown in the station's zone (Europe/Warsaw, UTC+1 in winter).
    await card.getByText('at Tue 1 Jan, 12:00:00').waitFor();
    await card.getByText('Dequeued').waitFor();
    await card.getByText('{"milliseconds":1000}').waitFor();
    await screenshot(page, 'tasks');

    // Escape leaves the question, the focus back on the button that asked; then the task is cancelled for good.
    const cancel = card.getByRole('button', { name: `Cancel task ${id}` });
    await cancel.click();
    await card.getByRole('button', { name: 'Cancel the task' }).waitFor();
    assert.equal(await page.evaluate('document.activeElement.textContent'), 'Cancel the task');
    await page.keyboard.press('Escape');
    await card.getByRole('button', { name: 'Cancel the task' }).waitFor({ state: 'detached' });
    assert.equal(await page.evaluate('document.activeElement.getAttribute("aria-label")'), `Cancel task ${id}`, 'the focus is not back on the asking button');
    await cancel.click();
    await card.getByRole('button', { name: 'Keep it' }).click();
    assert.equal(await page.evaluate('document.activeElement.getAttribute("aria-label")'), `Cancel task ${id}`, 'the focus is not back on the asking button');
    await cancel.click();
    await card.getByRole('button', { name: 'Cancel the task' }).click();
    await card.waitFor({ state: 'detached' });
    assert.equal((await asOperator(suite.station.url, 'GET', `/tasks/${id}`)).body.status, 'cancelled');
    await page.getByRole('button', { name: 'cancelled', exact: true }).click();
    await card.getByText('Cancelled', { exact: true }).waitFor();
    await page.getByRole('button', { name: 'completed', exact: true }).click();
    await page.locator('article.task').getByText('"hello": "world"').waitFor();
    await dashboard.end();
  });

  test('at 390 px: a bad duration in the clean form shows the API\'s message by the field; a good one cleans', async () => {
    const dashboard = await openDashboard(suite.browser, suite.station.url, { timezoneId: BROWSER_ZONES[1]!, viewport: PHONE, expected: [/^POST \/tasks\/clean 400$/] });
    const { page } = dashboard;
    await page.goto('/ui/tasks');
    await dashboard.giveKey();
    await page.getByText(/^No waiting tasks\.|In the order they were enqueued\.$/).waitFor();

    const delta = page.getByLabel('Finished longer ago than');
    await delta.fill('a week');
    await page.getByRole('button', { name: 'Remove finished tasks' }).click();
    const message = page.locator('.field.invalid').filter({ has: delta }).locator('.field-error');
    const refused = await asOperator(suite.station.url, 'POST', '/tasks/clean', { strategy: { type: 'timedelta', parameters: { delta: 'a week' } } });
    assert.equal(refused.status, 400);
    await message.filter({ hasText: refused.body.errors[0].message }).waitFor();
    assert.equal(await delta.getAttribute('aria-invalid'), 'true');
    assert.match(await delta.getAttribute('aria-describedby') ?? '', new RegExp(await message.getAttribute('id') ?? 'none'));

    await delta.fill('PT0S');
    await page.getByRole('button', { name: 'Remove finished tasks' }).click();
    await page.getByRole('status').filter({ hasText: /^Removed [1-9]\d* tasks?\.$/ }).waitFor();
    assert.equal(await delta.getAttribute('aria-invalid'), 'false');
    const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth');
    assert.equal(overflow, 0, 'the page scrolls sideways');
    await dashboard.end();
  });
});
