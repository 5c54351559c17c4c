import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { ffmpegChildren, pushTone } from '../gate/harness.ts';
import { asOperator, BROWSER_ZONES, openDashboard, PHONE, screenshot, skipWithoutChromium, stationSuite } from './browser.ts';


describe('dashboard: the Live jobs and scheduler page', { skip: skipWithoutChromium }, () => {
  const suite = stationSuite();

  /** The API's message shown by the labelled field. */
  const fieldError = (page: Page, label: string) => page.locator('.field', { has: page.getByLabel(label, { exact: true }) }).locator('.field-error');

  test('a job created from the page shows its ingest with copy buttons, opens, goes on air and closes live, gets a new key; a workflow made over the API is on the calendar, deleted from it', async () => {
    const dashboard = await openDashboard(suite.browser, suite.station.url, { timezoneId: BROWSER_ZONES[0]!, expected: [/^POST \/v1\/jobs 400$/] });
    const { page, context } = dashboard;
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: suite.station.url });
    await page.goto('/ui/live');
    await page.getByRole('heading', { name: 'API key needed' }).waitFor();
    await dashboard.giveKey();
    await page.getByText('No live jobs yet').waitFor();

    await page.getByLabel('Name', { exact: true }).fill('Friday night live');
    await page.getByLabel('Reconnect time (s)').fill('99999');
    await page.getByRole('button', { name: 'Create job' }).click();
    await fieldError(page, 'Reconnect time (s)').filter({ hasText: 'body.reconnect_time must be <= 7200' }).waitFor();
    assert.equal(await page.getByLabel('Reconnect time (s)').getAttribute('aria-invalid'), 'true');
    await page.getByLabel('Reconnect time (s)').fill('');
    await page.getByRole('button', { name: 'Create job' }).click();

    const card = page.getByRole('article', { name: /Friday night live/ });
    await card.and(page.locator('[data-state="standby"]')).waitFor();
    const job = (await asOperator(suite.station.url, 'GET', '/v1/jobs')).body.jobs[0];
    await card.getByText(job.ingest.url, { exact: true }).waitFor();
    await card.getByRole('button', { name: 'Copy Stream key of Friday night live' }).click();
    assert.equal(await page.evaluate('navigator.clipboard.readText()'), job.ingest.stream_key);
    await card.getByRole('button', { name: 'Copy Port of Friday night live' }).waitFor();

    await card.getByRole('button', { name: 'Activate' }).click();
    await card.and(page.locator('[data-state="waiting"]')).waitFor();
    const source = pushTone(job.ingest.url, { seconds: 60, passphrase: job.ingest.stream_key });
    try {
      // The encoder arrives: shown from live-job-changed, nothing clicked.
      await card.and(page.locator('[data-state="processing"]')).waitFor({ timeout: 15_000 });
      await card.getByRole('button', { name: 'Deactivate' }).click();
      await card.and(page.locator('[data-state="standby"]')).waitFor({ timeout: 10_000 });
    } finally {
      source.child.kill('SIGTERM');
      await source.exited;
    }
    await card.getByRole('button', { name: 'Rotate stream key' }).click();
    await card.getByRole('group', { name: 'The encoder must then use the new key.' }).getByRole('button', { name: 'Rotate the key' }).click();
    await card.getByText(job.ingest.stream_key, { exact: true }).waitFor({ state: 'detached' });
    const rotated = (await asOperator(suite.station.url, 'GET', `/v1/jobs/${job.id}`)).body.ingest.stream_key;
    await card.getByText(rotated, { exact: true }).waitFor();

    const now = Math.floor(Date.now() / 1000);
    const made = await asOperator(suite.station.url, 'POST', '/v1/scheduler/jobstartstop', {
      job_id: job.id, activation: { time_utc: now + 600 }, deactivation: { time_utc: now + 7800 }, description: 'Evening slot',
    });
    assert.equal(made.status, 200, JSON.stringify(made.body));
    const slot = page.locator('.agenda').getByRole('button', { name: /Evening slot/ });
    await slot.first().waitFor();
    // A block shorter than its words grows to show them all, none cut off.
    assert.equal(await slot.evaluateAll((blocks) => blocks.filter((block) => block.scrollHeight > block.clientHeight).length), 0, 'a block cuts its words');
    await page.evaluate('window.scrollTo(0, 0)');
    await screenshot(page, 'live');
    await slot.first().click();
    await page.getByRole('button', { name: 'Delete workflow' }).click();
    await page.getByRole('button', { name: 'Delete the workflow' }).click();
    await slot.first().waitFor({ state: 'detached' });
    assert.equal((await asOperator(suite.station.url, 'GET', `/v1/scheduler/jobstartstop/${made.body.workflow_id}`)).body.activation.state, 'cancelled');
    await dashboard.end();
  });

  test('at 390 px: no sideways scroll, the calendar is a list of days; a workflow without times shows the API\'s message by the field, one with times lands at the station\'s hour; cancelling the job', async () => {
    const job = await asOperator(suite.station.url, 'POST', '/v1/jobs', { static: true, name: 'Phone job' });
    const dashboard = await openDashboard(suite.browser, suite.station.url, { timezoneId: BROWSER_ZONES[1]!, viewport: PHONE, expected: [/^POST \/v1\/scheduler\/jobstartstop 400$/] });
    const { page } = dashboard;
    await page.goto('/ui/live');
    await dashboard.giveKey();
    await page.getByRole('article', { name: /Phone job/ }).waitFor();
    const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth');
    assert.equal(overflow, 0, 'the page scrolls sideways');
    const [first, second] = await page.locator('.agenda-day').evaluateAll((days) => days.slice(0, 2).map((day) => day.getBoundingClientRect().top));
    assert.ok(second! > first!, 'the days stand side by side on a phone, not one under another');
    await page.getByLabel('Job', { exact: true }).selectOption(job.body.id);
    await page.getByRole('button', { name: 'Schedule' }).click();
    await fieldError(page, 'Opens (Europe/Warsaw)').filter({ hasText: /^body\.activation\.time_utc/ }).waitFor();

    // Tomorrow 20:00 to 22:00 on the station's clock, whatever the browser's zone.
    const tomorrow = new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Warsaw' }).format(Date.now() + 86_400_000);
    await page.getByLabel('Opens (Europe/Warsaw)').fill(`${tomorrow}T20:00:00`);
    await page.getByLabel('Closes (Europe/Warsaw)').fill(`${tomorrow}T22:00:00`);
    await page.getByLabel('Description').fill('Phone slot');
    await page.getByRole('button', { name: 'Schedule' }).click();
    const slot = page.locator('.agenda').getByRole('button', { name: /^20:00–22:00 Phone slot/ });
    await slot.waitFor();
    const [workflow] = (await asOperator(suite.station.url, 'GET', `/v1/scheduler/jobstartstop?job_id=${job.body.id}`)).body.workflows;
    assert.equal(new Date(workflow.activation.time_utc * 1000).toLocaleString('sv', { timeZone: 'Europe/Warsaw' }), `${tomorrow} 20:00:00`);

    // Cancelling the job cancels its workflows: the slot leaves the calendar.
    const card = page.getByRole('article', { name: /Phone job/ });
    await card.getByRole('button', { name: 'Cancel job' }).click();
    await card.getByRole('button', { name: 'Cancel the job' }).click();
    await card.and(page.locator('[data-state="cancelled"]')).waitFor();
    await slot.waitFor({ state: 'detached' });
    await dashboard.end();
  });
});

process.on('exit', () => assert.deepEqual(ffmpegChildren(), []));
