import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { ManualClock } from '../../src/core/clock.ts';
import { ProcessSupervisor } from '../../src/core/processes.ts';
import { Air } from '../../src/gate/air.ts';
import { EdgeRelays, type Origin } from '../../src/gate/edge.ts';
import type { Upstreams } from '../../src/gate/contract.ts';
import { postgresAvailable, postgresDatabase } from '../support/databases.ts';
import { startOnair, tempDir, waitFor, type Running } from '../support/onair.ts';
import { analyse, commandLine, ffmpegChildren, listen, pushTone, type Source } from './harness.ts';
import { audioListener, capture } from './listener.ts';

// Two onair nodes on one PostgreSQL database: the origin holds the show, the edge relays it to its own listeners.
const ORIGIN = 'origin-a';
const EDGE = 'edge-b';
const LINGER_MS = 500;
const PORTS = { ONAIR_SRT_PORT_START: '29000', ONAIR_SRT_PORT_END: '29019' };

/** The edge's relay ffmpegs (this process's children pulling with the relay header). */
const relays = () => ffmpegChildren().filter((pid) => commandLine(pid).includes('X-Onair-Relay'));
const alive = (pid: number) => commandLine(pid) !== '';

/** An origin of its own: each request gets a 440 Hz tone as Ogg/Opus from an ffmpeg that stops when the request closes. */
async function toneServer(): Promise<{ url: string; server: Server }> {
  const server = createServer((_, res) => {
    const tone = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'sine=f=440', '-c:a', 'libopus',
      '-page_duration', '20000', '-flush_packets', '1', '-f', 'ogg', 'pipe:1'], { stdio: ['ignore', 'pipe', 'ignore'] });
    res.writeHead(200, { 'Content-Type': 'audio/ogg' });
    tone.stdout.pipe(res);
    res.on('close', () => tone.kill('SIGKILL'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as { port: number };
  return { url: `http://127.0.0.1:${address.port}/listen`, server };
}

describe('edge relays on the injected clock', () => {
  test('a relay outlives its last listener by the linger, to the millisecond of the clock; one a killed run left is reaped at the next start', async () => {
    const dir = tempDir('onair-edge-');
    const logger = pino({ level: 'silent' });
    const supervisor = new ProcessSupervisor({ dir, logger });
    const clock = new ManualClock(Date.now());
    const edges = new EdgeRelays({ supervisor, logger, clock, lingerMs: 30_000, node: 'edge' });
    const air = new Air({ channel: 'main', supervisor, logger, input: async () => [], idle: () => edges.settle('main') }, { type: 'none' });
    const { url, server } = await toneServer();
    const origin: Origin = { channel: 'main', session: 's1', node: 'origin', format: 'ogg', url, instance: null };
    try {
      await edges.feed(origin, air);
      const [relay] = relays();
      assert.ok(relay !== undefined);
      // Nobody joined: the linger starts once the caller had its turn.
      await new Promise((resolve) => setImmediate(resolve));
      clock.advance(29_999);
      const taken = edges.bytesIn;
      await waitFor(() => edges.bytesIn > taken + 4096, 'the relay to go on 1 ms before the linger is over');
      assert.ok(alive(relay) && edges.relays.length === 1);
      clock.advance(1);
      await waitFor(() => !alive(relay) && edges.relays.length === 0, 'the relay to stop at the end of the linger');

      await edges.feed(origin, air);
      const [left] = relays();
      assert.ok(left !== undefined && left !== relay);
      const reaped = await new ProcessSupervisor({ dir, logger }).reapLeftovers();
      assert.ok(reaped.some((name) => name.startsWith('edge-main-')) && !alive(left), `reaped ${reaped}`);
      await waitFor(() => edges.relays.length === 0, 'the relay to be gone');
    } finally {
      await edges.stop();
      server.closeAllConnections();
      server.close();
    }
  });
});

describe('edge relays: two nodes sharing PostgreSQL', { skip: !postgresAvailable && 'PostgreSQL not reachable' }, () => {
  let url: string | undefined;
  let origin: Running;
  let edge: Running;
  const edgeLogs: string[] = [];
  let upstream = (channel: string, node: string): string | undefined => (node === ORIGIN ? `${origin.url}/channels/${channel}/listen` : undefined);

  before(async () => {
    url = await postgresDatabase.create();
    origin = await startOnair({ database: postgresDatabase, databaseUrl: url, env: { ...PORTS, ONAIR_NODE_ID: ORIGIN } });
    const logger = pino({ level: 'info' }, { write: (line: string) => edgeLogs.push(line) });
    edge = await startOnair({ database: postgresDatabase, databaseUrl: url, logger, env: { ...PORTS, ONAIR_NODE_ID: EDGE, ONAIR_EDGE_LINGER: String(LINGER_MS) } });
    const upstreams: Upstreams = { origin: (channel, node) => upstream(channel, node) };
    edge.onair.gate.gate.relayFrom(upstreams);
  });

  after(async () => {
    await edge?.stop();
    await origin?.stop();
    await postgresDatabase.drop(url);
    assert.deepEqual(ffmpegChildren(), [], 'no process left behind');
  });

  /** A show on the origin's `channel`: a live event reserved there and a 440 Hz tone pushed for `seconds`, on air once this resolves. */
  async function show(seconds: number, channel = 'main', format: 'ogg' | 'mpegts' = 'ogg'): Promise<Source> {
    const made = await origin.request('POST', '/shows', { title: 'Edge test' });
    const start = new Date(Date.now() - 60_000).toISOString().slice(0, 19);
    const event = await origin.request('POST', '/events', { showId: made.body.id, type: 'live', start, duration: 3600, timezone: 'UTC' });
    const reserved = await origin.request('POST', `/channels/${channel}/reserve`, { event: event.body.id, format });
    assert.equal(reserved.status, 201, JSON.stringify(reserved.body));
    const source = pushTone(reserved.body.url, { seconds, frequency: 440, format });
    await waitFor(async () => (await edge.request('GET', `/channels/${channel}/check`)).body.state === 'publishing', 'the show on air, as the edge sees it');
    return source;
  }

  const idle = () => waitFor(async () => (await origin.request('GET', '/check')).body.state === 'idle', 'the show to end', 15_000);

  test('listeners of the edge hear the origin\'s show through one relay, which lingers after the last leaves, then stops; the show ending ends it', async () => {
    const source = await show(12);
    const first = audioListener(`${edge.url}/listen`);
    const cold = await first.firstAudio;
    const relay = await waitFor(() => (relays().length === 1 ? relays()[0] : undefined), 'the relay');
    const second = audioListener(`${edge.url}/listen`);
    const warm = await second.firstAudio;
    console.log(`first audio at the edge's listener: ${cold.toFixed(1)} ms with a relay to start, ${warm.toFixed(1)} ms with the relay running`);
    assert.deepEqual(relays(), [relay], 'the second listener joins the same relay');
    const pidFiles = readdirSync(join(edge.config.dataDir, 'gate', 'pids')).filter((file) => file.startsWith('edge-'));
    assert.deepEqual(pidFiles.map((file) => Number(readFileSync(join(edge.config.dataDir, 'gate', 'pids', file), 'utf8').split(' ')[0])), [relay],
      'supervised: in a pid file, reaped at the next start after a kill -9');
    const load = edge.onair.gate.gate.localLoad();
    assert.deepEqual(load.channels.map(({ channel, publishing, relaying, listeners }) => ({ channel, publishing, relaying, listeners })),
      [{ channel: 'main', publishing: false, relaying: true, listeners: 2 }]);
    assert.ok(load.bytesIn > 0, 'bytes taken in by the relay');
    assert.equal(origin.onair.gate.gate.localLoad().channels[0]?.listeners, 0, 'the relay pulling from the origin is no listener there');

    await waitFor(() => first.arrivals.length > 100, 'two seconds of audio');
    const heard = await analyse(Buffer.concat(first.arrivals.map((a) => a.page)));
    assert.ok(Math.abs(heard.frequency - 440) < 10 && heard.seconds > 1.5, JSON.stringify(heard));

    // Both leave; one comes back within the linger: the relay goes on.
    first.close();
    second.close();
    const back = audioListener(`${edge.url}/listen`);
    await back.firstAudio;
    assert.deepEqual(relays(), [relay], 'a listener back within the linger keeps the relay');
    back.close();
    const left = performance.now();
    await waitFor(() => !alive(relay) && edge.onair.gate.gate.localLoad().channels.length === 0, 'the relay to stop after the linger', 5_000);
    assert.ok(performance.now() - left >= LINGER_MS - 50, `stopped ${performance.now() - left} ms after the last listener left`);

    // A new relay for a new listener; the show ends at its origin, and the relay with it.
    const late = audioListener(`${edge.url}/listen`);
    await late.firstAudio;
    const [again] = relays();
    assert.ok(again !== undefined && again !== relay);
    assert.equal(await source.exited, 0, source.stderr());
    await waitFor(() => late.ended(), 'the edge\'s listener to be let go with the show\'s end');
    await waitFor(() => !alive(again), 'the relay to end with the show');
    await idle();
    assert.equal((await edge.request('GET', '/listen')).status, 404, 'nothing on air, no fallback');
  });

  test('an origin that cannot be pulled: the waiting listener gets a 503, no process is left and the relay is not tried again at once', async () => {
    const source = await show(6);
    try {
      for (const [what, address] of [['no such stream', `${origin.url}/channels/nosuch/listen`], ['nobody listening', 'http://127.0.0.1:9/listen']]) {
        upstream = () => address;
        const starts = () => edgeLogs.filter((line) => line.includes('relaying a channel on air on another node')).length;
        const before = starts();
        const refused = await edge.request('GET', '/listen');
        assert.equal(refused.status, 503, what);
        assert.match(refused.body.detail, new RegExp(`^Channel main is on air on node ${ORIGIN}, but it could not be relayed here \\(.+\\): try again shortly, or listen there$`));
        assert.ok(!refused.body.detail.includes(address), `${what}: the origin's address is the directory's, not the listener's: ${refused.body.detail}`);
        assert.deepEqual(relays(), [], `${what}: no relay left`);
        assert.equal((await edge.request('GET', '/listen')).status, 503);
        assert.equal(starts(), before + 1, `${what}: tried once`);
      }
      upstream = () => undefined;
      assert.equal((await edge.request('GET', '/listen')).status, 404, 'without an address: listen on the origin');
      // A relay's pull is served only where the show is held, never relayed in turn.
      upstream = (channel, node) => (node === ORIGIN ? `${origin.url}/channels/${channel}/listen` : undefined);
      assert.equal((await edge.request('GET', '/listen', undefined, { 'X-Onair-Relay': 'another-edge' })).status, 404);
    } finally {
      upstream = (channel, node) => (node === ORIGIN ? `${origin.url}/channels/${channel}/listen` : undefined);
      source.child.kill();
      await source.exited;
      await idle();
    }
  });

  test('a show ending at an origin that plays its fallback: the relay stops with the show\'s end, and the edge\'s listener hears the edge\'s own fallback', async () => {
    assert.equal((await origin.request('POST', '/channels', { name: 'studio', fallback: 'silence' })).status, 201);
    const source = await show(3, 'studio');
    const heard = audioListener(`${edge.url}/channels/studio/listen`);
    await heard.firstAudio;
    const relay = await waitFor(() => relays()[0], 'the relay');
    assert.equal(await source.exited, 0, source.stderr());
    const pulling = capture(`${origin.url}/channels/studio/listen`);
    await waitFor(() => !alive(relay), 'the relay to stop with the show, though the origin serves its fallback', 10_000);
    await waitFor(() => pulling.arrivals.length > 10, 'the origin\'s fallback');
    pulling.close();
    const before = heard.arrivals.length;
    await waitFor(() => heard.arrivals.length > before + 25, 'the edge\'s fallback at its listener');
    assert.ok(!heard.ended(), 'the listener stays');
    assert.deepEqual(relays(), []);
    heard.close();
  });

  test('an MPEG-TS show is relayed as it is', async () => {
    const source = await show(4, 'main', 'mpegts');
    const heard = listen(`${edge.url}/listen`);
    assert.equal(await source.exited, 0, source.stderr());
    const { status, type, bytes } = await heard.done;
    assert.equal(status, 200);
    assert.equal(type, 'video/mp2t');
    const audio = await analyse(bytes);
    assert.ok(Math.abs(audio.frequency - 440) < 10 && audio.seconds > 2 && audio.codecs.includes('h264'), JSON.stringify(audio));
    await idle();
  });
});
