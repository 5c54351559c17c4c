import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { ManualClock } from '../../src/core/clock.ts';
import { NotFound } from '../../src/core/errors.ts';
import { loadConfig } from '../../src/core/config.ts';
import type { BusEvent, EventType } from '../../src/core/events/bus.ts';
import { createMetrics } from '../../src/core/metrics.ts';
import type { Gate, StreamInfo, StreamStatus } from '../../src/gate/contract.ts';
import { createHooks, type Hooks } from '../../src/hooks/index.ts';
import { testDatabases } from '../support/databases.ts';
import { startOnair, waitFor, type Running } from '../support/onair.ts';
import { sseFrames } from '../support/sse.ts';
import { appsSetting, Backend } from './backend.ts';
import { realOutbound } from './outbound.ts';

/** The gate as the hooks see it: the streams it lists, and the sessions it was told to end. */
class StandInGate {
  readonly listed: StreamInfo[] = [];
  readonly terminated: Array<{ session: string; reason: string }> = [];
  /** Sessions that ended before they were told to: terminating them is a NotFound. */
  readonly ended = new Set<string>();
  admit(): void {}
  async streams() {
    return this.listed;
  }
  async terminate(session: string, reason: string) {
    this.terminated.push({ session, reason });
    if (this.ended.has(session)) throw new NotFound(`No stream ${session}`);
  }
}

const SEED_FIELDS = ['nodeId', 'appKey', 'sessionId', 'mediaSessionId', 'name', 'published', 'hasVideo', 'hasAudio', 'status', 'info', 'record',
  'width', 'height', 'bitrate', 'quality', 'mediaProvider', 'createDate'];

for (const database of testDatabases) {
  describe(`REST hook events of streams and listeners (${database.name})`, () => {
    let server: Running;
    let backend: Backend;
    let hooks: Hooks;
    const gate = new StandInGate();
    const clock = new ManualClock(Date.now());
    // Events as the hooks heard them: this subscriber comes after theirs.
    const heard: BusEvent[] = [];
    const logged: Array<{ level: number; msg: string; lane?: string }> = [];
    before(async () => {
      backend = await Backend.start();
      server = await startOnair({ database, clock });
      const config = loadConfig({
        ONAIR_HOOKS_KEEPALIVE: 'PT10S',
        ONAIR_HOOK_APPS: appsSetting({ name: 'station', url: backend.url, restClientConfig: { StreamStatusEvent: { restOnError: 'FAIL' } } }),
      });
      const { onair } = server;
      hooks = createHooks({
        config, database: onair.database, bus: onair.bus, clock, logger: pino({ level: 'info' }, { write: (line: string) => logged.push(JSON.parse(line)) }), metrics: createMetrics(),
        node: { id: onair.bus.origin, region: 'local', roles: ['origin'], publicHost: '127.0.0.1' },
        gate: gate as unknown as Gate, outbound: (await realOutbound(onair.database)).outbound,
      });
      await hooks.start();
      onair.bus.subscribe((event) => heard.push(event));
    });
    after(async () => {
      await hooks.stop();
      await server.stop();
      await backend.close();
    });

    /** A stream of channel `channel` with the appKey given, as the gate lists it unless it has `ended` by the time the hooks hear of it. */
    function stream(channel: string, appKey = 'defaultApp', ended = false) {
      const session = randomUUID();
      if (!ended) gate.listed.push({
        channel, session, appKey, mode: 'static', state: 'reserved', instance: null, format: 'ogg', record: false, metadata: { title: 'Morning' },
        node: server.onair.bus.origin, reservedAt: clock.now(), publishedAt: null,
      });
      const status = (reason?: string): StreamStatus => ({
        channel, session, appKey, mode: 'static', state: 'reserved', instance: null, format: 'ogg', record: false, metadata: { title: 'Morning' },
        stats: { bytes: 0, bitrate: 128_000, duration: 0, codec: 'opus', listeners: 0, outputs: [] }, expiresAt: null, ...(reason ? { reason } : {}),
      });
      return {
        session,
        record: (type: EventType, reason?: string) => server.onair.bus.record(server.onair.database.kysely, type, [status(reason)] as never),
        publish: () => hooks.admission.publish({ channel, session, appKey, mode: 'static', format: 'ogg', record: false, metadata: {}, instance: null }),
      };
    }

    test('a source\'s stream: NEW, PENDING, PUBLISHING, keep-alives while live, UNPUBLISHED when it leaves; its connection', async () => {
      const source = stream('main');
      await source.record('stream-reserved');
      await backend.until('NEW', () => backend.statuses(source.session).length === 1);
      await source.publish();
      assert.equal(backend.of('publishStream').at(-1)!.mediaSessionId, source.session);
      await source.record('stream-publishing');
      await backend.until('PUBLISHING', () => backend.statuses(source.session).length === 3);
      const keepAlives = () => backend.of('StreamKeepAliveEvent').filter((body) => body.mediaSessionId === source.session).length;
      for (let n = 1; n <= 2; n++) {
        clock.advance(10_000);
        await backend.until(`keep-alive ${n}`, () => keepAlives() === n);
        // The next one is armed once this one is answered: moving the clock before would pass it by.
        await hooks.streams.idle();
      }
      // The source leaves while a keep-alive is under way: that one is the last.
      let release = () => {};
      backend.answer('StreamKeepAliveEvent', { until: new Promise<void>((resolve) => (release = resolve)) });
      clock.advance(10_000);
      await backend.until('keep-alive 3', () => keepAlives() === 3);
      await source.record('stream-ended', 'source-left');
      await waitFor(() => heard.some((e) => e.type === 'stream-ended' && (e.data as StreamStatus).session === source.session), 'stream-ended');
      release();
      await backend.until('UNPUBLISHED', () => backend.statuses(source.session).length === 4);
      await hooks.streams.idle();
      clock.advance(30_000);
      await hooks.streams.idle();
      assert.equal(keepAlives(), 3);
      assert.deepEqual(backend.statuses(source.session), ['NEW', 'PENDING', 'PUBLISHING', 'UNPUBLISHED']);
      const published = backend.of('StreamStatusEvent').find((body) => body.status === 'PUBLISHING')!;
      for (const field of SEED_FIELDS) assert.ok(field in published, field);
      assert.equal(published.mediaProvider, 'SRT');
      assert.equal(published.bitrate, 128_000);
      assert.equal(published.nodeId, server.onair.bus.origin);
      const connections = backend.of('ConnectionStatusEvent').filter((body) => body.sessionId === source.session).map((body) => body.status);
      assert.deepEqual(connections, ['ESTABLISHED', 'DISCONNECTED']);
    });

    test('STOPPED on deactivation, FAILED when it fails; a stream whose appKey no app has is not told of', async () => {
      const stopped = stream('main');
      const failed = stream('other');
      const untold = stream('third', 'elsewhere');
      for (const source of [stopped, failed, untold]) await source.record('stream-reserved');
      await stopped.record('stream-ended', 'deactivated');
      await failed.record('stream-failed', 'ffmpeg said no');
      await untold.record('stream-ended', 'deactivated');
      await backend.until('STOPPED and FAILED', () => backend.statuses(stopped.session).length === 2 && backend.statuses(failed.session).length === 2);
      await hooks.streams.idle();
      assert.deepEqual(backend.statuses(stopped.session), ['NEW', 'STOPPED']);
      assert.deepEqual(backend.statuses(failed.session), ['NEW', 'FAILED']);
      assert.equal(backend.of('StreamStatusEvent').find((body) => body.status === 'FAILED')!.info, 'ffmpeg said no');
      assert.deepEqual(backend.statuses(untold.session), []);
    });

    test('a stream of another app that has ended before its events are heard is not told of to defaultApp\'s backend', async () => {
      const gone = stream('main', 'elsewhere', true);
      await gone.record('stream-reserved');
      await gone.record('stream-ended', 'deactivated');
      await waitFor(() => heard.some((e) => e.type === 'stream-ended' && (e.data as StreamStatus).session === gone.session), 'stream-ended');
      await hooks.streams.idle();
      assert.deepEqual(backend.statuses(gone.session), []);
    });

    /** Puts `source` on air with a backend answering its keep-alive 403; resolves once the gate was asked to end it. */
    async function refuseKeepAlive(source: ReturnType<typeof stream>): Promise<void> {
        backend.answer('StreamKeepAliveEvent', (body) => (body.mediaSessionId === source.session ? { status: 403 } : {}));
        await source.record('stream-reserved');
        await source.record('stream-publishing');
        await backend.until('PUBLISHING', () => backend.statuses(source.session).includes('PUBLISHING'));
        clock.advance(10_000);
        await waitFor(() => gate.terminated.some((t) => t.session === source.session), 'the stream to be terminated');
    }

    test('a keep-alive answered 403 ends the stream', async () => {
      const source = stream('main');
      await refuseKeepAlive(source);
      assert.deepEqual(gate.terminated.find((t) => t.session === source.session), { session: source.session, reason: 'refused' });
    });

    test('a keep-alive answered 403 for a stream that has ended meanwhile is no error', async () => {
      const source = stream('main');
      gate.ended.add(source.session);
      await refuseKeepAlive(source);
      await hooks.streams.idle();
      assert.deepEqual(logged.filter((line) => line.level >= 50 && line.lane === source.session).map((line) => line.msg), []);
    });

    test('a source connecting before its reservation is heard of: NEW reaches the backend first, once', async () => {
      const source = stream('early');
      await source.publish();
      await source.record('stream-reserved');
      await waitFor(() => heard.some((e) => e.type === 'stream-reserved' && (e.data as StreamStatus).session === source.session), 'stream-reserved');
      await source.record('stream-publishing');
      await backend.until('PUBLISHING', () => backend.statuses(source.session).includes('PUBLISHING'));
      await hooks.streams.idle();
      assert.deepEqual(backend.statuses(source.session), ['NEW', 'PENDING', 'PUBLISHING']);
    });

    test('a slow backend holds up only its own stream, whose events still arrive in order', async () => {
      const slow = stream('slow');
      const fast = stream('fast');
      let release = () => {};
      const held = new Promise<void>((resolve) => (release = resolve));
      backend.answer('StreamStatusEvent', (body) => (body.mediaSessionId === slow.session && body.status === 'NEW' ? { until: held } : {}));
      await slow.record('stream-reserved');
      await slow.record('stream-publishing');
      await backend.until('the slow stream\'s NEW', () => backend.statuses(slow.session).length === 1);
      await fast.record('stream-reserved');
      await fast.record('stream-publishing');
      await backend.until('the fast stream', () => backend.statuses(fast.session).length === 2);
      assert.deepEqual(backend.statuses(slow.session), ['NEW']);
      release();
      await backend.until('the slow stream', () => backend.statuses(slow.session).length === 2);
      assert.deepEqual(backend.statuses(slow.session), ['NEW', 'PUBLISHING']);
    });

    test('a listener of /listen: playStream with its query, PLAYING, STOPPED once it leaves; an HLS playlist is only asked', async () => {
      const session = randomUUID();
      const request = { channel: 'main', session, appKey: 'defaultApp', query: { ticket: 'T-1' }, client: '10.0.0.9' };
      const leave = await hooks.admission.play({ kind: 'listen', ...request });
      const asked = backend.of('playStream').at(-1)!;
      assert.deepEqual(asked.query, { ticket: 'T-1' });
      assert.equal(asked.client, '10.0.0.9');
      const listener = () => backend.of('StreamStatusEvent').filter((body) => body.client === '10.0.0.9' && body.published === false);
      await backend.until('PLAYING', () => listener().length === 1);
      leave(); // the gate calls it once
      await hooks.streams.idle();
      assert.deepEqual(listener().map((body) => body.status), ['PLAYING', 'STOPPED']);
      assert.equal(new Set(listener().map((body) => body.createDate)).size, 1);
      const connections = backend.of('ConnectionStatusEvent').filter((body) => body.client === '10.0.0.9').map((body) => body.status);
      assert.deepEqual(connections, ['ESTABLISHED', 'DISCONNECTED']);
      const plays = backend.of('playStream').length;
      await hooks.admission.play({ kind: 'hls', ...request, query: { ticket: 'T-2' } });
      await hooks.streams.idle();
      assert.equal(backend.of('playStream').length, plays + 1);
      assert.equal(listener().length, 2);
    });

    test('a failed StreamStatusEvent under FAIL reaches /sse (the channel\'s too) as an ErrorEvent naming the method, the stream and the error', async () => {
      const source = stream('main');
      backend.answer('StreamStatusEvent', (body) => (body.mediaSessionId === source.session ? { status: 500, body: { reason: 'disk full' } } : {}));
      const response = await fetch(`${server.url}/channels/main/sse`, { signal: AbortSignal.timeout(10_000) });
      const frames = sseFrames(response.body!);
      await source.record('stream-reserved');
      for await (const frame of frames) {
        if (frame.event !== 'hook-error') continue;
        assert.deepEqual(frame.data.data, {
          app: 'station', appKey: 'defaultApp', method: 'StreamStatusEvent', channel: 'main', session: source.session,
          error: 'the backend answered 500: disk full',
        });
        break;
      }
    });

    // Last: it stops the hooks.
    test('stopping gives up the calls under way at once, however slow the backend', async () => {
      const source = stream('main');
      backend.answer('StreamStatusEvent', { until: new Promise(() => {}) });
      await source.record('stream-reserved');
      await source.record('stream-publishing');
      await backend.until('NEW', () => backend.statuses(source.session).length === 1);
      const started = Date.now();
      await hooks.stop();
      assert.ok(Date.now() - started < 1000, `stopped after ${Date.now() - started} ms`);
      assert.deepEqual(backend.statuses(source.session), ['NEW'], 'the queued PUBLISHING is not sent');
    });
  });
}
