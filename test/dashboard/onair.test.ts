import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ffmpegChildren, pushTone } from '../gate/harness.ts';
import { asOperator, BROWSER_ZONES, openDashboard, PHONE, screenshot, skipWithoutChromium, stationSuite } from './browser.ts';

describe('dashboard: the On air page', { skip: skipWithoutChromium }, () => {
  const suite = stationSuite(() => ({ ONAIR_GATE_FALLBACK: 'silence' }));

  test('/ opens the dashboard; the channels need the key, asked once; a source going live shows within 2 s without a reload, and Listen plays', async () => {
    const dashboard = await openDashboard(suite.browser, suite.station.url, { timezoneId: BROWSER_ZONES[0]! });
    const { page } = dashboard;
    await page.goto('/');
    assert.equal(new URL(page.url()).pathname, '/ui/');
    await page.getByRole('heading', { name: 'API key needed' }).waitFor();
    await dashboard.giveKey();
    const card = page.getByRole('article', { name: /main/ });
    await card.and(page.locator('[data-state="fallback"]')).waitFor();
    await card.getByText('fallback (silence)').waitFor();

    const show = await asOperator(suite.station.url, 'POST', '/shows', { title: 'Morning live' });
    const start = new Date(Date.now() - 60_000).toISOString().slice(0, 19);
    const event = await asOperator(suite.station.url, 'POST', '/events', { showId: show.body.id, type: 'live', start, duration: 3600, timezone: 'UTC' });
    const reserved = await asOperator(suite.station.url, 'POST', '/reserve', { instance: { event: event.body.id, start } });
    assert.equal(reserved.status, 201, JSON.stringify(reserved.body));
    const source = pushTone(reserved.body.url, { seconds: 120, frequency: 440 });
    try {
      await waitForState(suite.station.url, 'publishing');
      const seenAt = Date.now();
      await card.and(page.locator('[data-state="live"]')).waitFor({ timeout: 2000 });
      const shownWithin = Date.now() - seenAt;
      await card.getByText(/^Morning live, the instance of /).waitFor();
      // The figures come every second as session-stats events, applied in place: the channels are not read again for them.
      const reads: string[] = [];
      page.on('request', (request) => { if (new URL(request.url()).pathname === '/channels') reads.push(request.url()); });
      await card.getByText(/^0:0[4-9] · /).waitFor({ timeout: 10_000 });
      assert.ok(reads.length <= 1, `the channels were read ${reads.length} times in 3 s on air`);

      await card.getByRole('button', { name: 'Listen' }).click();
      await page.waitForFunction('document.querySelector("audio[data-channel=main]")?.currentTime > 1.5', undefined, { timeout: 15_000 });
      const played = await page.evaluate<{ error: number | null; paused: boolean }>(
        '(({ error, paused }) => ({ error: error?.code ?? null, paused }))(document.querySelector("audio[data-channel=main]"))');
      assert.deepEqual(played, { error: null, paused: false });
      await page.waitForFunction('Number(document.querySelector("[role=meter]")?.getAttribute("aria-valuenow")) > 10', undefined, { timeout: 5000 });
      // The listener count comes with the gate's session-stats events, with no reload.
      await card.getByTestId('listeners').filter({ hasText: /^1$/ }).waitFor({ timeout: 5000 });
      await screenshot(page, 'onair');
      await card.getByRole('button', { name: 'Stop listening' }).click();
      assert.ok(shownWithin < 2000, `shown ${shownWithin} ms after the gate said publishing`);
    } finally {
      source.child.kill('SIGTERM');
      await source.exited;
    }
    await card.and(page.locator('[data-state="fallback"]')).waitFor({ timeout: 10_000 });
    await dashboard.end();
  });

  test('at 390 px the page fits the screen: no sideways scroll, the menu and the cards usable; a wrong key is asked for again', async () => {
    const dashboard = await openDashboard(suite.browser, suite.station.url, { timezoneId: BROWSER_ZONES[1]!, viewport: PHONE, expected: [/^GET \/(channels|sse) 401$/] });
    const { page } = dashboard;
    await page.goto('/ui');
    assert.equal(new URL(page.url()).pathname, '/ui/');
    await page.getByLabel(/^API key \(ONAIR_API_KEY\)/).fill('not-the-key-of-this-station');
    await page.getByRole('button', { name: 'Use this key' }).click();
    await page.getByText(/^That key was refused\. A valid X-API-KEY header is required for GET \/channels/).waitFor();
    await dashboard.giveKey();
    await page.getByRole('article', { name: /main/ }).waitFor();
    const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth');
    assert.equal(overflow, 0, 'the page scrolls sideways');
    await page.getByRole('link', { name: 'Tasks' }).click();
    await page.getByRole('heading', { name: 'Tasks' }).waitFor();
    await dashboard.end();
  });

  test('a page whose code cannot be loaded (onair restarted or upgraded since the tab opened) says so, and offers to load the app again', async () => {
    const dashboard = await openDashboard(suite.browser, suite.station.url, { timezoneId: BROWSER_ZONES[0]! });
    const { page } = dashboard;
    await page.route('**/ui/assets/schedule-*', (route) => route.abort());
    await page.goto('/ui/');
    await dashboard.giveKey();
    await page.getByRole('link', { name: 'Schedule' }).click();
    await page.getByRole('heading', { name: 'This page could not be shown' }).waitFor();
    await page.getByRole('button', { name: 'Load the dashboard again' }).waitFor();
    await page.getByRole('link', { name: 'On air' }).click();
    await page.getByRole('article', { name: /main/ }).waitFor();
    // The only problems are the page's files refused on purpose (Chromium's console names no file for a failed load).
    const onPurpose = /schedule-|^console error: Failed to load resource: net::ERR_FAILED$/;
    assert.ok(dashboard.problems.length > 0 && dashboard.problems.every((problem) => onPurpose.test(problem)), dashboard.problems.join('\n'));
    await dashboard.context.close();
  });
});

async function waitForState(url: string, state: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while ((await asOperator(url, 'GET', '/check')).body.state !== state) {
    if (Date.now() > deadline) throw new Error(`the channel did not become ${state}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

process.on('exit', () => assert.deepEqual(ffmpegChildren(), []));
