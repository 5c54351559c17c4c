import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { Locator } from 'playwright-core';
import { Webhook } from 'standardwebhooks';
import { waitFor } from '../support/onair.ts';
import { signedWith, startReceiver, type Receiver } from '../webhooks/receiver.ts';
import { asOperator, BROWSER_ZONES, openDashboard, PHONE, screenshot, skipWithoutChromium, stationSuite } from './browser.ts';


describe('dashboard: the Webhooks and hooks page', { skip: skipWithoutChromium }, () => {
  let receiver: Receiver;
  const suite = stationSuite(async () => {
    receiver = await startReceiver();
    // A hook backend on the same receiver, asked only whether a reservation may go on air.
    const hookApps = [{ name: 'station', appKey: 'defaultApp', url: receiver.url.replace(/\/hooks$/, '/rest'), methods: ['connect'] }];
    return { ONAIR_ALLOWED_PRIVATE_ADDRESSES: '127.0.0.1/32', ONAIR_HOOK_APPS: JSON.stringify(hookApps) };
  });
  after(async () => receiver?.close());

  test('a webhook made from the page: the API\'s words by the URL, the secret once, test deliveries signed and logged live, a failed one retried, the secret rotated', async () => {
    const dashboard = await openDashboard(suite.browser, suite.station.url, { timezoneId: BROWSER_ZONES[0]!, expected: [/^POST \/webhooks 400$/] });
    const { page } = dashboard;
    await page.goto('/ui/webhooks');
    await page.getByRole('heading', { name: 'API key needed' }).waitFor();
    await dashboard.giveKey();
    await page.getByText('No subscription yet.').waitFor();
    await page.getByText('New webhook').click();
    const form = page.getByRole('form', { name: 'New webhook' });
    await form.getByLabel('URL').fill('http://192.168.7.7/onair');
    await form.getByLabel('Event types').fill('programme-changed webhook-test');
    await form.getByRole('button', { name: 'Subscribe' }).click();
    await form.getByRole('alert').filter({ hasText: /192\.168\.7\.7, a private address/ }).waitFor();
    assert.equal(await form.getByLabel('URL').getAttribute('aria-invalid'), 'true');

    await form.getByLabel('URL').fill(receiver.url);
    await form.getByRole('button', { name: 'Subscribe' }).click();
    const secret = await page.getByTestId('secret').textContent();
    assert.match(secret ?? '', /^whsec_/);
    await page.getByRole('button', { name: 'I have kept it' }).click();
    const card = page.getByRole('article', { name: new RegExp(receiver.url) });
    await card.getByRole('button', { name: 'Delivery log' }).click();
    const log = page.getByRole('region', { name: /^Delivery log of/ });
    await log.getByText('No delivery yet.').waitFor();

    await card.getByRole('button', { name: 'Send a test delivery' }).click();
    await card.getByText('Test delivery: answered 200').waitFor();
    const tested = await waitFor(() => receiver.received.find((received) => received.message.type === 'webhook-test'), 'the test delivery');
    new Webhook(secret!).verify(tested.body, signedWith(tested));
    await rows(log, 'webhook-test', 'delivered', 1);

    // An event made by a script reaches the receiver, and the log shows it without a reload.
    await asOperator(suite.station.url, 'POST', '/shows', { title: 'Evening jazz' });
    await rows(log, 'programme-changed', 'delivered', 1);

    receiver.answer = () => ({ status: 500, body: 'down for maintenance' });
    await card.getByRole('button', { name: 'Send a test delivery' }).click();
    await card.getByText('Test delivery: answered 500, tried again later').waitFor();
    await rows(log, 'webhook-test', 'failed', 1);
    await card.getByText('Failing since').waitFor();
    const failed = receiver.received.at(-1)!;

    receiver.answer = () => ({ status: 204 });
    await log.getByRole('button', { name: /^Retry webhook-test attempt 1 now$/ }).click();
    await rows(log, 'webhook-test', 'delivered', 2);
    const retried = receiver.received.at(-1)!;
    assert.equal(retried.headers['webhook-id'], failed.headers['webhook-id'], 'a retry sends the same message');
    await card.getByText('Failing since').waitFor({ state: 'detached' });
    await screenshot(page, 'webhooks');

    await card.getByRole('button', { name: 'Rotate secret' }).click();
    await card.getByRole('button', { name: 'Rotate the secret' }).click();
    const rotated = await page.getByTestId('secret').filter({ hasNotText: secret! }).textContent();
    assert.match(rotated ?? '', /^whsec_/);
    await card.getByText('Old secret signs until').waitFor();
    await card.getByRole('button', { name: 'Send a test delivery' }).click();
    await card.getByText('Test delivery: answered 204').waitFor();
    const signed = receiver.received.at(-1)!;
    new Webhook(rotated!).verify(signed.body, signedWith(signed));
    new Webhook(secret!).verify(signed.body, signedWith(signed));
    await dashboard.end();
  });

  test('at 390 px: the page fits; a webhook changed (the API\'s words by its types), disabled, recovered, then deleted after a confirm; the hook backend and its calls are shown', async () => {
    receiver.answer = (received) => (received.url.startsWith('/rest/')
      ? { status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ status: 403, reason: 'the studio is closed' }) }
      : { status: 204 });
    assert.equal((await reserveNow(suite.station.url)).status, 403, 'the hook backend refuses');
    const made = await asOperator(suite.station.url, 'POST', '/webhooks', { url: `${receiver.url}?phone`, types: ['programme-changed'], description: 'phone' });
    assert.equal(made.status, 201);
    const dashboard = await openDashboard(suite.browser, suite.station.url, {
      timezoneId: BROWSER_ZONES[1]!, viewport: PHONE, expected: [/^PATCH \/webhooks\/[-0-9a-f]+ 400$/],
    });
    const { page } = dashboard;
    await page.goto('/ui/webhooks');
    await dashboard.giveKey();
    const card = page.getByRole('article', { name: /\?phone/ });
    await card.getByRole('button', { name: 'Edit' }).click();
    await card.getByLabel('Event types').fill('programme-changed Stream-Ended');
    await card.getByRole('button', { name: 'Save' }).click();
    // The API names the second type (types.1); the form shows it by its one field of types.
    await card.locator('.field', { has: page.getByLabel('Event types') }).getByRole('alert').filter({ hasText: /must be an event type/ }).waitFor();
    await card.getByLabel('Event types').fill('programme-changed stream-ended');
    await card.getByRole('button', { name: 'Save' }).click();
    await card.getByText('programme-changed, stream-ended').waitFor();
    await card.getByRole('button', { name: 'Disable' }).click();
    await card.getByRole('button', { name: 'Disable it' }).click();
    await card.and(page.locator('[data-enabled="false"]')).waitFor();
    assert.equal(await page.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth'), 0, 'the page scrolls sideways');

    const hooks = page.getByRole('region', { name: 'REST hooks' });
    await hooks.getByRole('table', { name: 'Hook applications' }).getByRole('row', { name: /station defaultApp/ }).waitFor();
    await hooks.getByRole('row', { name: /station connect 1 delivered 200/ }).waitFor();

    await card.getByRole('button', { name: 'Delivery log' }).click();
    await page.getByRole('button', { name: 'Enable and send again' }).click();
    await page.getByText('0 messages sent again.').waitFor();
    await card.and(page.locator('[data-enabled="true"]')).waitFor();

    await card.getByRole('button', { name: 'Delete' }).click();
    await card.getByRole('button', { name: 'Delete the webhook' }).click();
    await card.waitFor({ state: 'detached' });
    assert.equal((await asOperator(suite.station.url, 'GET', `/webhooks/${made.body.id}`)).status, 404);
    await dashboard.end();
  });
});

/** Waits until the log has a row of the event type, delivered or failed, at that attempt. */
async function rows(log: Locator, type: string, outcome: 'delivered' | 'failed', attempt: number): Promise<void> {
  const row = log.getByRole('row').filter({ hasText: type }).filter({ has: log.page().locator(`td:nth-child(3):text-is("${attempt}")`) })
    .filter({ has: log.page().locator(`.badge-${outcome}`) });
  await row.first().waitFor({ timeout: 10_000 });
}

/** A reservation for an instance on now: the hook backend is asked first. */
async function reserveNow(url: string): Promise<{ status: number; body: any }> {
  const show = await asOperator(url, 'POST', '/shows', { title: 'Studio session' });
  const start = new Date(Date.now() - 60_000).toISOString().slice(0, 19);
  const event = await asOperator(url, 'POST', '/events', { showId: show.body.id, type: 'live', start, duration: 3600, timezone: 'UTC' });
  return asOperator(url, 'POST', '/reserve', { instance: { event: event.body.id, start } });
}
