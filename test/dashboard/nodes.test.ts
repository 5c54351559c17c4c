import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { ffmpegChildren, listen, pushTone } from '../gate/harness.ts';
import { asOperator, BROWSER_ZONES, openDashboard, PHONE, screenshot, skipWithoutChromium, stationSuite } from './browser.ts';


describe('dashboard: the Nodes page', { skip: skipWithoutChromium }, () => {
  const suite = stationSuite(() => ({ ONAIR_NODE_REPORT_INTERVAL: 'PT1S', ONAIR_REGION: 'eu-central', ONAIR_GEOZONE: 'europe', ONAIR_NODE_CAPACITY: '500' }));
  let node: string;
  before(async () => {
    node = (await asOperator(suite.station.url, 'GET', '/station')).body.node.id;
  });

  test('the station is a node of its region, with its load and the stream it carries; drained from the page, resumed by a script, live', async () => {
    const dashboard = await openDashboard(suite.browser, suite.station.url, { timezoneId: BROWSER_ZONES[0]! });
    const { page } = dashboard;
    await page.goto('/ui/nodes');
    await dashboard.giveKey();
    const region = page.getByRole('region', { name: /^eu-central · geozone europe$/ });
    const card = region.getByRole('article', { name: new RegExp(`^${node} \\(this station\\)`) });
    await card.and(page.locator('[data-state="INSERVICE"]')).waitFor({ timeout: 10_000 });
    await card.getByText('0 of 500 listeners').waitFor();

    const source = await onAirWithAListener(suite.station.url);
    try {
      // Each report is a node-reported event: the page reads the node again.
      await card.getByRole('cell', { name: '/live/main' }).waitFor({ timeout: 10_000 });
      await card.getByText('1 of 500 listeners').waitFor({ timeout: 10_000 });
      assert.equal(await card.getByRole('meter', { name: `Load of ${node}` }).getAttribute('aria-valuetext'), '1 of 500 listeners');
      await screenshot(page, 'nodes');
    } finally {
      await source.stop();
    }
    await card.getByText('No stream carried.').waitFor({ timeout: 10_000 });
    await card.getByText('0 of 500 listeners').waitFor();

    await card.getByRole('button', { name: 'Drain' }).click();
    await card.getByRole('button', { name: `Drain ${node}` }).click();
    await card.and(page.locator('[data-state="SOFT_SUNSET"]')).waitFor({ timeout: 5000 });
    assert.equal((await asOperator(suite.station.url, 'GET', `/directory/nodes/${node}`)).body.state, 'SOFT_SUNSET');

    // A change by anyone else reaches the page by node-changed, without a reload.
    const resumed = await asOperator(suite.station.url, 'POST', `/directory/nodes/${node}/resume`);
    assert.equal(resumed.status, 200);
    await card.and(page.locator('[data-state="INSERVICE"]')).waitFor({ timeout: 5000 });
    await dashboard.end();
  });

  test('at 390 px the page fits the screen with the audience chart; a change asked for and cancelled changes nothing', async () => {
    const dashboard = await openDashboard(suite.browser, suite.station.url, { timezoneId: BROWSER_ZONES[1]!, viewport: PHONE });
    const { page } = dashboard;
    await page.goto('/ui/nodes');
    await dashboard.giveKey();
    const card = page.getByRole('article', { name: new RegExp(`^${node}`) });
    await card.and(page.locator('[data-state="INSERVICE"]')).waitFor({ timeout: 10_000 });
    // The show of the first test was heard: its instance is in the last day's audience, charted and in the table.
    const audience = page.getByRole('region', { name: 'Audience of the last day' });
    await audience.getByRole('row', { name: /Night shift/ }).waitFor();
    await audience.getByRole('img', { name: /Peak listeners and listener-minutes/ }).locator('canvas').waitFor();
    const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth');
    assert.equal(overflow, 0, 'the page scrolls sideways');
    await card.getByRole('button', { name: 'Drain' }).click();
    await card.getByRole('button', { name: 'Cancel' }).click();
    await card.getByRole('button', { name: 'Drain' }).waitFor();
    assert.equal((await asOperator(suite.station.url, 'GET', `/directory/nodes/${node}`)).body.state, 'INSERVICE');
    await dashboard.end();
  });
});

/** A live instance on main with a tone from ffmpeg, and one listener of it. */
async function onAirWithAListener(url: string): Promise<{ stop(): Promise<void> }> {
  const show = await asOperator(url, 'POST', '/shows', { title: 'Night shift' });
  const start = new Date(Date.now() - 60_000).toISOString().slice(0, 19);
  const event = await asOperator(url, 'POST', '/events', { showId: show.body.id, type: 'live', start, duration: 3600, timezone: 'UTC' });
  const reserved = await asOperator(url, 'POST', '/reserve', { instance: { event: event.body.id, start } });
  assert.equal(reserved.status, 201, JSON.stringify(reserved.body));
  const source = pushTone(reserved.body.url, { seconds: 120, frequency: 440 });
  const deadline = Date.now() + 15_000;
  while ((await asOperator(url, 'GET', '/check')).body.state !== 'publishing') {
    if (Date.now() > deadline) throw new Error('the channel did not go on air');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const listener = listen(`${url}/listen`);
  await listener.firstByte;
  return {
    async stop() {
      listener.close();
      source.child.kill('SIGTERM');
      await source.exited;
    },
  };
}

process.on('exit', () => assert.deepEqual(ffmpegChildren(), []));
