import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { spawnOnair, type OnairProcess } from '../support/process.ts';
import { tempDir } from '../support/onair.ts';
import { testDatabases, type TestDatabase } from '../support/databases.ts';
import { freeUdpPort } from '../gate/harness.ts';

export const CHROMIUM = '/usr/bin/chromium';
// The flags this machine's closed network needs (no background connections), plus playback without a click.
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required'];

/** Skips a browser suite where Chromium is missing, saying so; CI installs it (npm run setup), so there it fails instead. */
export const skipWithoutChromium = !existsSync(CHROMIUM) && !process.env.CI && 'Chromium not installed (npm run setup)';

export const API_KEY = 'dashboard-test-key-0123456789';
/** The two browser time zones every dashboard suite runs in: the pages must show the station's zone in both. */
export const BROWSER_ZONES = ['America/New_York', 'Asia/Kolkata'];
export const PHONE = { width: 390, height: 844 };
export const DESKTOP = { width: 1440, height: 900 };

/** A real `onair serve` with a data dir and database of its own, its API key set (so that the key prompt shows). */
export async function startStation(database: TestDatabase, env: Record<string, string> = {}): Promise<OnairProcess & { close(): Promise<void> }> {
  const databaseUrl = await database.create();
  const dataDir = tempDir('onair-dashboard-');
  const server = await spawnOnair({
    ONAIR_DATA_DIR: dataDir, ONAIR_API_KEY: API_KEY, ONAIR_TIMEZONE: 'Europe/Warsaw', ONAIR_SRT_PORT_START: String(await freeUdpPort()),
    ...(databaseUrl ? { ONAIR_DATABASE_URL: databaseUrl } : {}), ...env,
  });
  return {
    ...server,
    async close() {
      await server.stop();
      await database.drop(databaseUrl);
    },
  };
}

export type Station = Awaited<ReturnType<typeof startStation>>;

/**
 * The station and the browser of a suite's tests: registers the suite's before and after hooks (call it in `describe`),
 * which start one real `onair serve` on SQLite (the settings `env` gives) and one Chromium, and stop them.
 */
export function stationSuite(env: () => Record<string, string> | Promise<Record<string, string>> = () => ({})): { station: Station; browser: Browser } {
  const suite = {} as { station: Station; browser: Browser };
  before(async () => {
    suite.station = await startStation(testDatabases[0]!, await env());
    suite.browser = await launch();
  });
  after(async () => {
    await suite.browser?.close();
    await suite.station?.close();
  });
  return suite;
}

/** Sends a request with the API key, as a script would. */
export async function asOperator(url: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(`${url}${path}`, {
    method, headers: { 'x-api-key': API_KEY, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text === '' ? null : JSON.parse(text) };
}

export interface Dashboard {
  page: Page;
  context: BrowserContext;
  /** Console errors, page errors and failed requests seen so far: every test ends asserting there are none. */
  problems: string[];
  /** Enters the API key into the prompt, which must be showing. */
  giveKey(): Promise<void>;
  /** Asserts that nothing went wrong in the tab (no problem at all), and closes it. */
  end(): Promise<void>;
}

/** Requests a test ends on purpose (a stream it closes by leaving the page) are no failure of the app. */
const ABORTED = /net::ERR_ABORTED/;

/**
 * A browser tab on the dashboard in `timezoneId`, collecting every console error, uncaught error and failed request.
 * `expected` lists the refusals a test provokes on purpose (a 400 of a bad value), as "METHOD path status"; any other answer
 * of 400 or more is a problem: a 401 above all, since the app asks for the key before a request that needs it.
 */
export async function openDashboard(browser: Browser, url: string, options: { timezoneId: string; viewport?: { width: number; height: number }; expected?: RegExp[] }): Promise<Dashboard> {
  const context = await browser.newContext({ timezoneId: options.timezoneId, viewport: options.viewport ?? DESKTOP, baseURL: url });
  const page = await context.newPage();
  const problems: string[] = [];
  const expected = (text: string) => (options.expected ?? []).some((pattern) => pattern.test(text));
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    // Chromium logs every refused request as a console error too; those are judged below by their answer.
    if (message.type() === 'error' && !/Failed to load resource: the server responded with a status of/.test(message.text())) {
      problems.push(`console error: ${message.text()}`);
    }
  });
  page.on('requestfailed', (request) => {
    const failure = request.failure()?.errorText ?? '';
    if (!ABORTED.test(failure)) problems.push(`request failed: ${request.method()} ${request.url()} ${failure}`);
  });
  page.on('response', (response) => {
    const path = new URL(response.url()).pathname;
    const text = `${response.request().method()} ${path} ${response.status()}`;
    if (response.status() >= 400 && !expected(text)) problems.push(`refused: ${text}`);
  });
  return {
    page, context, problems,
    async end() {
      assert.deepEqual(problems, []);
      await context.close();
    },
    async giveKey() {
      await page.getByLabel(/^API key \(ONAIR_API_KEY\)/).fill(API_KEY);
      await page.getByRole('button', { name: 'Use this key' }).click();
    },
  };
}

export async function launch(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ARGS });
}

/**
 * With ONAIR_SCREENSHOTS set, saves the page as docs/screenshots/NAME.png (the README shows them): made by the tests
 * from a real run, `ONAIR_SCREENSHOTS=1 node --test test/dashboard/`. Otherwise nothing is written.
 */
export async function screenshot(page: Page, name: string): Promise<void> {
  if (!process.env.ONAIR_SCREENSHOTS) return;
  await page.screenshot({ path: new URL(`../../docs/screenshots/${name}.png`, import.meta.url).pathname, fullPage: false });
}
