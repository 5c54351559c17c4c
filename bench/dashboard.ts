import { createServer } from 'node:http';
import type { Browser } from 'playwright-core';
import { launch } from '../test/dashboard/browser.ts';
import { attempt, cells, finish, judge, printConditions, printTable, quick, ratio, startChild, summary, testDatabases, type Row } from './support.ts';

/**
 * The dashboard's On air page from a cold browser (a new context each time: no cache, no connection) against a running
 * onair on loopback: first contentful paint, and the moment the page shows live data (the channels read and the event
 * stream open). Baseline, in the same run: the first contentful paint of a bare HTML page served by node:http.
 */
const SAMPLES = quick ? 5 : 20;
const GOAL_MS = 1000;

interface Load { fcp: number; live: number }

async function coldLoad(browser: Browser, url: string, ready?: string): Promise<Load> {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await page.goto(url);
    if (ready !== undefined) await page.waitForFunction(ready, undefined, { timeout: 10_000, polling: 'raf' });
    const live = await page.evaluate<number>('performance.now()');
    await page.waitForFunction('performance.getEntriesByName("first-contentful-paint").length > 0', undefined, { timeout: 10_000 });
    const fcp = await page.evaluate<number>('performance.getEntriesByName("first-contentful-paint")[0].startTime');
    return { fcp, live };
  } finally {
    await context.close();
  }
}

async function bareServer(): Promise<{ url: string; close(): void }> {
  const server = createServer((_request, response) => response.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>bare</title><p>On air</p>'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}/`, close: () => server.close() };
}

printConditions('dashboard');
const browser = await launch();
const onair = await startChild(testDatabases[0]!, { ONAIR_GATE_HTTP_PORT: 'off', ONAIR_SRT_PORT_START: '27000' });
const bare = await bareServer();
try {
  await attempt('On air page from a cold browser', async () => {
    const loads: Load[] = [];
    const baseline: number[] = [];
    for (let i = 0; i < SAMPLES; i += 1) {
      // The app's ready state: a channel's card drawn and the header saying the event stream is live.
      loads.push(await coldLoad(browser, `${onair.url}/ui/`, 'document.querySelector("article[data-state]") && document.querySelector(".stream-live")'));
      baseline.push((await coldLoad(browser, bare.url)).fcp);
    }
    const fcp = summary(loads.map((l) => l.fcp));
    const live = summary(loads.map((l) => l.live));
    const base = summary(baseline);
    const baseOff = base.median >= GOAL_MS ? `bare page ${base.median.toFixed(0)} ms` : undefined;
    const rows: Row[] = [
      { figure: 'first contentful paint, ms', ...cells(fcp), 'bare page median': base.median, ratio: ratio(fcp.median, base.median), ...judge(`median < ${GOAL_MS} ms`, fcp.median < GOAL_MS, baseOff) },
      { figure: 'live data shown, ms', ...cells(live), 'bare page median': base.median, ratio: ratio(live.median, base.median), ...judge(`median < ${GOAL_MS} ms`, live.median < GOAL_MS, baseOff) },
    ];
    printTable(`On air page, ${SAMPLES} cold loads each (baseline: a bare HTML page's first paint)`, rows);
  });
} finally {
  bare.close();
  await browser.close();
  await onair.stop();
}
finish();
