import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, test } from 'node:test';
import { chromium } from 'playwright-core';
import { testDatabases } from '../support/databases.ts';
import { startOnair, waitFor } from '../support/onair.ts';
import { ffmpegChildren, freeUdpPort, liveShow, pushTone, startGate } from './harness.ts';

const CHROMIUM = '/usr/bin/chromium';
// The flags this machine's closed network needs (no background connections), plus playback without a click.
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required'];

if (!existsSync(CHROMIUM) && !process.env.CI) {
  process.stderr.write('\n!!! Chromium is not installed: the browser test is SKIPPED. Run \'npm run setup\'. !!!\n\n');
}

describe('a browser listens to the gate', { skip: !existsSync(CHROMIUM) && !process.env.CI && 'Chromium not installed' }, () => {
  test('an <audio> element in Chromium plays the live Ogg/Opus stream of onair\'s HTTP output', async () => {
    const server = await startOnair({ database: testDatabases[0]!, env: { ONAIR_SRT_PORT_START: String(await freeUdpPort()) } });
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
    try {
      const show = await server.request('POST', '/shows', { title: 'Browser test' });
      const start = new Date(Date.now() - 60_000).toISOString().slice(0, 19);
      const event = await server.request('POST', '/events', { showId: show.body.id, type: 'live', start, duration: 3600, timezone: 'UTC' });
      const reserved = await server.request('POST', '/reserve', { instance: { event: event.body.id, start } });
      assert.equal(reserved.status, 201, JSON.stringify(reserved.body));
      // Longer than the test: a source that ends under load would end the stream, and pause the element, before it is read.
      const source = pushTone(reserved.body.url, { seconds: 120, frequency: 440 });
      await waitFor(async () => (await server.request('GET', '/check')).body.state === 'publishing', 'the source to be on air', 15_000);

      const page = await browser.newPage();
      await page.setContent(`<audio id="player" src="${server.url}/listen" autoplay></audio>`);
      // Page code as text: it runs in the browser, where the DOM types this project does not compile against live.
      await page.waitForFunction('document.getElementById("player").currentTime > 1.5', undefined, { timeout: 15_000 });
      const state = await page.evaluate<{ error: number | null; paused: boolean; time: number }>(
        '(({ error, paused, currentTime }) => ({ error: error?.code ?? null, paused, time: currentTime }))(document.getElementById("player"))');
      assert.deepEqual({ error: state.error, paused: state.paused }, { error: null, paused: false });
      assert.ok(state.time > 1.5, `played ${state.time} s`);
      source.child.kill('SIGTERM');
      await source.exited;
    } finally {
      await browser.close();
      await server.stop();
    }
    assert.deepEqual(ffmpegChildren(), []);
  });

  test('Chromium plays on across the fallback → live → fallback links of the chained Ogg stream, without an error or an end', async () => {
    const server = await startGate({ database: testDatabases[0]!, env: { ONAIR_GATE_FALLBACK: 'silence' } });
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
    try {
      const page = await browser.newPage();
      await page.setContent(`<audio id="player" src="${server.url}/listen" autoplay></audio>
        <script>
          const seen = window.seen = [];
          for (const type of ['ended', 'error', 'emptied', 'abort']) document.getElementById('player').addEventListener(type, () => seen.push(type));
        </script>`);
      const playing = (seconds: number) => page.waitForFunction(`document.getElementById("player").currentTime > ${seconds}`, undefined, { timeout: 20_000 });
      await playing(1);
      await liveShow(server, 3);
      const endedAt = await page.evaluate<number>('document.getElementById("player").currentTime');
      await playing(endedAt + 1.5);
      const state = await page.evaluate<{ error: number | null; paused: boolean; seen: string[] }>(
        '(({ error, paused }) => ({ error: error?.code ?? null, paused, seen: window.seen }))(document.getElementById("player"))');
      assert.deepEqual(state, { error: null, paused: false, seen: [] });
    } finally {
      await browser.close();
      await server.stop();
    }
    assert.deepEqual(ffmpegChildren(), []);
  });
});
