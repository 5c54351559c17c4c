import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { tempDir } from '../support/onair.ts';
import { media } from '../recordings/support.ts';
import { API_KEY, asOperator, BROWSER_ZONES, openDashboard, PHONE, screenshot, skipWithoutChromium, stationSuite } from './browser.ts';

const DAY = 86_400_000;
/** A naive local date-time `days` from today, at `time`. */
const local = (days: number, time: string) => `${new Date(Date.now() + days * DAY).toISOString().slice(0, 10)}T${time}`;
// The text file is refused on purpose.
const REFUSALS = [/^PUT \/prerecordings\/[^ ]+ 400$/];

describe('dashboard: the Archive page', { skip: skipWithoutChromium }, () => {
  const suite = stationSuite();
  let tone: string;
  let notes: string;
  const prerecorded = { title: 'Sunday brunch', start: local(1, '08:00:00') };
  const live = { title: 'Evening news', start: local(-1, '20:00:00') };

  before(async () => {
    const dir = tempDir('onair-dashboard-archive-');
    tone = await media(dir, 'tone.ogg', '-f', 'lavfi', '-i', 'sine=f=440:d=4', '-c:a', 'libopus');
    notes = join(dir, 'notes.txt');
    writeFileSync(notes, 'Running order: news, weather, music.\n');
    await addEvent(prerecorded.title, 'prerecorded', prerecorded.start, { rule: 'FREQ=WEEKLY;COUNT=2' });
    const liveEvent = await addEvent(live.title, 'live', live.start);
    const stored = await fetch(`${suite.station.url}/recordings/${liveEvent}/${live.start}`, {
      method: 'PUT', headers: { 'x-api-key': API_KEY, 'content-type': 'audio/ogg' }, body: readFileSync(tone),
    });
    assert.equal(stored.status, 201);
  });

  async function addEvent(title: string, type: string, start: string, recurrence?: { rule: string }): Promise<string> {
    const show = await asOperator(suite.station.url, 'POST', '/shows', { title });
    const event = await asOperator(suite.station.url, 'POST', '/events', { showId: show.body.id, type, start, duration: 3600, timezone: 'Europe/Warsaw', recurrence });
    assert.equal(event.status, 201, JSON.stringify(event.body));
    return event.body.id;
  }

  async function eventOf(title: string): Promise<string> {
    const { body: { shows } } = await asOperator(suite.station.url, 'GET', '/shows');
    const show = shows.find((each: { title: string }) => each.title === title);
    return (await asOperator(suite.station.url, 'GET', `/events?show=${show.id}`)).body.events[0].id;
  }

  test('a text file gets the API\'s message; a dropped prerecording uploads to 100 %, is listed, plays, downloads and is deleted', async () => {
    const dashboard = await openDashboard(suite.browser, suite.station.url, { timezoneId: BROWSER_ZONES[0]!, expected: REFUSALS });
    const { page } = dashboard;
    await page.goto('/ui/archive');
    await dashboard.giveKey();
    // What the archive held before the page opened is there at once.
    await page.getByRole('listitem', { name: `${live.title} ${live.start}` }).getByText(/^Part 1 · ogg · 0:04/).waitFor();
    // An event's recurrence in the Schedule page's words, its RRULE beside them.
    const weekday = new Intl.DateTimeFormat('en-GB', { timeZone: 'UTC', weekday: 'long' }).format(new Date(`${prerecorded.start.slice(0, 10)}T00:00:00Z`));
    const brunch = page.getByRole('region', { name: prerecorded.title }).getByRole('heading', { level: 3 });
    assert.match(await brunch.textContent() ?? '', new RegExp(`^prerecorded Every week on ${weekday} at 08:00, 2 timesRRULE:`));
    assert.equal(await brunch.locator('code').textContent(), 'RRULE:FREQ=WEEKLY;COUNT=2');

    const slot = page.getByRole('listitem', { name: `${prerecorded.title} ${prerecorded.start}` });
    await slot.getByLabel('Upload the prerecording').setInputFiles(notes);
    const refused = await fetch(`${suite.station.url}/prerecordings/${await eventOf(prerecorded.title)}/${prerecorded.start}`, {
      method: 'PUT', headers: { 'x-api-key': API_KEY, 'content-type': 'text/plain' }, body: readFileSync(notes),
    });
    const { errors: [said] } = await refused.json() as { errors: Array<{ field: string; message: string }> };
    assert.equal(refused.status, 400);
    assert.match(said!.message, /^is not an audio or video file/);
    await slot.getByRole('alert').filter({ hasText: `notes.txt ${said!.message}` }).waitFor();

    const bytes = readFileSync(tone).toString('base64');
    const dropped = await page.evaluateHandle(`(() => {
      const transfer = new DataTransfer();
      const bytes = Uint8Array.from(atob('${bytes}'), (c) => c.charCodeAt(0));
      transfer.items.add(new File([bytes], 'tone.ogg', { type: 'audio/ogg' }));
      return transfer;
    })()`);
    await slot.getByTestId('dropzone').dispatchEvent('drop', { dataTransfer: dropped });
    await slot.locator('progress[value="100"]').waitFor();
    await slot.getByText('Stored tone.ogg: 100 %').waitFor();
    // Listed from the archive's own event, with what ffprobe found.
    await slot.getByText(/^Part 1 · ogg · 0:04/).waitFor();
    assert.equal(await slot.getByRole('alert').count(), 0, 'the refusal of the text file is gone');

    await slot.getByRole('button', { name: 'Play part 1' }).click();
    await page.waitForFunction('document.querySelector("audio[data-part]")?.currentTime > 0.5', undefined, { timeout: 10_000 });
    assert.equal(await page.evaluate('document.querySelector("audio[data-part]").error'), null);
    await screenshot(page, 'archive');

    const [download] = await Promise.all([page.waitForEvent('download'), slot.getByRole('button', { name: 'Download part 1' }).click()]);
    assert.match(download.suggestedFilename(), /^prerecording-.+-part1\.ogg$/);

    await slot.getByRole('button', { name: 'Delete part 1', exact: true }).click();
    await slot.getByRole('button', { name: 'Delete part 1 for good' }).click();
    await slot.getByText(/^Part 1/).waitFor({ state: 'detached' });
    assert.equal((await asOperator(suite.station.url, 'GET', `/prerecordings/${await eventOf(prerecorded.title)}`)).body.count, 0);
    await dashboard.end();
  });

  test('at 390 px, without the key the programme shows; a file chosen with the input asks for the key, uploads and fits the screen', async () => {
    const dashboard = await openDashboard(suite.browser, suite.station.url, { timezoneId: BROWSER_ZONES[1]!, viewport: PHONE, expected: REFUSALS });
    const { page } = dashboard;
    await page.goto('/ui/archive');
    await page.getByRole('button', { name: 'Cancel' }).click();
    await page.getByText('The prerecordings of this event need the API key.').waitFor();
    const slot = page.getByRole('listitem', { name: `${prerecorded.title} ${prerecorded.start}` });
    await slot.getByLabel('Upload the prerecording').setInputFiles(tone);
    await page.getByRole('heading', { name: 'API key needed' }).waitFor();
    await dashboard.giveKey();
    await slot.getByText('Stored tone.ogg: 100 %').waitFor();
    await slot.getByText(/^Part 1 · ogg/).waitFor();
    const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth');
    assert.equal(overflow, 0, 'the page scrolls sideways');
    await dashboard.end();
  });
});
