import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ffmpegChildren, pushTone, type Source } from '../gate/harness.ts';
import { asOperator, BROWSER_ZONES, openDashboard, PHONE, screenshot, skipWithoutChromium, stationSuite } from './browser.ts';

const warsaw = (at: number) => new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Warsaw', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' }).format(at);

describe('dashboard: the Timeline page', { skip: skipWithoutChromium }, () => {
  const suite = stationSuite();

  /** An instance (live unless `more` says otherwise) of a show of its own, starting `offsetS` seconds from now (UTC). */
  async function instance(title: string, offsetS: number, duration = 3600, more: Record<string, string> = {}): Promise<{ event: string; start: string }> {
    const show = await asOperator(suite.station.url, 'POST', '/shows', { title });
    const start = new Date(Date.now() + offsetS * 1000).toISOString().slice(0, 19);
    const event = await asOperator(suite.station.url, 'POST', '/events', { showId: show.body.id, type: 'live', start, duration, timezone: 'UTC', ...more });
    assert.equal(event.status, 201, JSON.stringify(event.body));
    return { event: event.body.id, start };
  }

  async function goLive(channel: string, instance: { event: string; start: string }): Promise<Source> {
    const reserved = await asOperator(suite.station.url, 'POST', `/channels/${channel}/reserve`, { instance });
    assert.equal(reserved.status, 201, JSON.stringify(reserved.body));
    return pushTone(reserved.body.url, { seconds: 60 });
  }

  test('plan against reality: an instance on air in the planned and on-air lanes, a missed one as a gap, a late one "late by", a live window, an automated broadcast', async () => {
    const onTime = await instance('Morning live', 3);
    const late = await instance('Late show', -40);
    await instance('Missed show', -20 * 60, 600);
    const news = await instance('News bulletin', 20 * 60, 900, { type: 'prerecorded' });
    const job = await asOperator(suite.station.url, 'POST', '/v1/jobs', { static: true, name: 'Studio encoder' });
    await instance('Evening live', 40 * 60, 1800, { liveJob: job.body.id });
    assert.equal((await asOperator(suite.station.url, 'POST', '/automation/sync')).status, 200);
    assert.equal((await asOperator(suite.station.url, 'POST', '/channels', { name: 'studio2' })).status, 201);

    const dashboard = await openDashboard(suite.browser, suite.station.url, { timezoneId: BROWSER_ZONES[0]! });
    const { page } = dashboard;
    await page.goto('/ui/timeline');
    await page.getByRole('heading', { name: 'API key needed' }).waitFor();
    await dashboard.giveKey();
    const lane = (name: string) => page.getByRole('region', { name, exact: true });
    await lane('Planned').getByRole('button', { name: /^Morning live\. Morning live \(live\): planned/ }).waitFor();

    const planned = '\\d\\d:\\d\\d:\\d\\d';
    await lane('Live windows').getByRole('button', {
      name: new RegExp(`^Window: Evening live\\. Live window of Evening live, job \\w+ \\(opening pending, closing pending\\): opening planned ${planned}, not done; closing planned ${planned}, not done$`),
    }).waitFor();
    // In the station's zone (the browser's is New York), by the default leads: reserve 10 s before the start, the player 1 s.
    const at = (offsetS: number) => warsaw(Date.parse(`${news.start}Z`) + offsetS * 1000);
    await lane('Automation').getByRole('button', {
      name: `News bulletin: waiting. Automated News bulletin, stream task waiting: reserve planned ${at(-10)}, not done; player planned ${at(-1)}; `
        + `on air planned ${at(0)}, not done; end planned ${at(900)}, not done`, exact: true,
    }).waitFor();
    const missed = lane('Gaps and late starts').getByRole('button', { name: /^gap: nothing on air for 10 min\. Missed show/ });
    await missed.waitFor();
    assert.equal(await page.evaluate('getComputedStyle(document.querySelector(".tl-gap")).backgroundColor'), 'rgb(179, 38, 30)');
    await missed.focus();
    await page.locator('.tl-details').filter({ hasText: /^Missed show: gap: nothing on air for 10 min, from \d\d:\d\d:\d\d to/ }).waitFor();

    // A job opened and closed at once: its channel reserved for a second, just before the sessions that follow.
    for (const action of ['activate', 'deactivate']) assert.equal((await asOperator(suite.station.url, 'PUT', `/v1/jobs/${job.body.id}/${action}`)).status, 200);
    const sources = [await goLive('main', onTime), await goLive('studio2', late)];
    try {
      // Shown live, from the gate's events: no reload.
      await lane('On air').getByRole('button', { name: /^main: Morning live\..*on air \d\d:\d\d:\d\d, still on$/ }).waitFor({ timeout: 15_000 });
      await lane('On air').getByRole('button', { name: /^studio2: Late show\./ }).waitFor({ timeout: 15_000 });
      await lane('On air').getByRole('button', { name: /^job-\S+: no instance\..*, ended / }).waitFor();
      // Each block can be pointed at, at its start and its middle: none drawn over another.
      await lane('On air').scrollIntoViewIfNeeded();
      const covered = await lane('On air').locator('.tl-block').evaluateAll((blocks) => blocks.filter((block) => {
        const box = block.getBoundingClientRect();
        return [box.left + 1, box.left + box.width / 2].some((x) => block.ownerDocument.elementFromPoint(x, box.top + box.height / 2) !== block);
      }).map((block) => block.textContent));
      assert.deepEqual(covered, [], 'a block is drawn over another');
      const lateStart = lane('Gaps and late starts').getByRole('button', { name: /^late by 4\d s\. Late show: late by/ });
      await lateStart.waitFor();
      assert.equal(await lane('Gaps and late starts').getByRole('button', { name: /Morning live/ }).count(), 0, 'the instance on time is no gap');
      await page.getByRole('button', { name: '2 h', exact: true }).click();
      await page.getByRole('button', { name: '2 h', exact: true, pressed: true }).waitFor();
      await lane('On air').getByText('main: Morning live', { exact: true }).waitFor();
      await screenshot(page, 'timeline');
    } finally {
      for (const source of sources) source.child.kill('SIGTERM');
      await Promise.all(sources.map((source) => source.exited));
    }
    await dashboard.end();
  });

  test('at 390 px the timeline scrolls inside its box from the middle of the span, the page does not, and the view moves by the day', async () => {
    const dashboard = await openDashboard(suite.browser, suite.station.url, { timezoneId: BROWSER_ZONES[1]!, viewport: PHONE });
    const { page } = dashboard;
    await page.goto('/ui/timeline');
    await dashboard.giveKey();
    await page.getByRole('region', { name: 'On air', exact: true }).waitFor();
    const widths = await page.evaluate<{ page: number; box: number; left: number }>(`({
      page: document.documentElement.scrollWidth - document.documentElement.clientWidth,
      box: document.querySelector('.tl-scroll').scrollWidth - document.querySelector('.tl-scroll').clientWidth,
      left: document.querySelector('.tl-scroll').scrollLeft })`);
    assert.equal(widths.page, 0, 'the page scrolls sideways');
    assert.ok(widths.box > 0, 'the timeline does not scroll inside its box');
    assert.ok(Math.abs(widths.left - widths.box / 2) <= 1, `the box shows the middle of the span first: ${widths.left} of ${widths.box}`);
    const range = await page.locator('.tl-range').textContent();
    await page.getByRole('button', { name: '+ 1 day' }).click();
    await page.locator('.tl-range').filter({ hasNotText: range! }).waitFor();
    await page.getByRole('region', { name: 'Planned', exact: true }).getByText('nothing').waitFor();
    await dashboard.end();
  });
});

process.on('exit', () => assert.deepEqual(ffmpegChildren(), []));
