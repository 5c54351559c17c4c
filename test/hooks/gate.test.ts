import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test, type TestContext } from 'node:test';
import { ManualClock } from '../../src/core/clock.ts';
import { Refused } from '../../src/core/errors.ts';
import type { BusEvent } from '../../src/core/events/bus.ts';
import type { StreamStatus } from '../../src/gate/contract.ts';
import { testDatabases } from '../support/databases.ts';
import { startOnair, waitFor, type Running } from '../support/onair.ts';
import { ffmpegChildren, freeUdpPort, listen, pushTone } from '../gate/harness.ts';
import { appsSetting, Backend } from './backend.ts';

/**
 * REST hooks deciding on real sources and listeners: onair with its gate and a hook backend, ffmpeg pushing over SRT.
 * The clock moves only when told (keep-alives); everything else waits on conditions.
 */
describe('REST hooks with real sources and listeners', () => {
  let server: Running;
  let backend: Backend;
  const clock = new ManualClock(Date.now());
  const events: BusEvent[] = [];

  before(async () => {
    backend = await Backend.start();
    server = await startOnair({
      database: testDatabases[0]!, clock,
      env: {
        ONAIR_SRT_PORT_START: String(await freeUdpPort()),
        ONAIR_HOOK_APPS: appsSetting({
          name: 'station', url: backend.url,
          restClientConfig: { connect: { restPolicy: 'OVERWRITE', restOverwrite: 'record,metadata' }, publishStream: { restOnError: 'FAIL' } },
        }),
      },
    });
    server.onair.bus.subscribe((event) => events.push(event));
  });
  beforeEach(() => backend.reset());
  after(async () => {
    await server.stop();
    await backend.close();
    assert.deepEqual(ffmpegChildren(), [], 'no ffmpeg is left behind');
  });

  /** A live event on air now, for reservations that record. */
  async function liveInstance() {
    const show = await server.request('POST', '/shows', { title: 'Hooks' });
    const start = new Date(clock.now() - 60_000).toISOString().slice(0, 19);
    const event = await server.onair.programme.service.createEvent({ showId: show.body.id, type: 'live', start, duration: 3600, timezone: 'UTC' });
    return { event: event.id, start };
  }

  /** A reservation of the default channel, for a live instance of its own unless the body names one. */
  async function reserve(body: Record<string, unknown> = {}) {
    const reserved = await server.request('POST', '/reserve', { instance: await liveInstance(), ...body });
    assert.equal(reserved.status, 201, JSON.stringify(reserved.body));
    // The clock stands still: the sessions' history cannot tell which is the newest, /check can.
    const { session } = (await server.request('GET', '/check')).body;
    return { url: reserved.body.url as string, session: session as string };
  }

  const ended = (session: string) => waitFor(
    () => events.find((e) => e.type === 'stream-ended' && (e.data as StreamStatus).session === session)?.data as StreamStatus | undefined,
    `session ${session} to end`, 15_000,
  );
  /** A tone pushed to a reservation's URL, killed when the test ends however it ends. */
  function push(t: TestContext, url: string, seconds: number) {
    const source = pushTone(url, { seconds });
    t.after(() => void source.child.kill('SIGKILL'));
    return source;
  }
  const state = async () => (await server.request('GET', '/check')).body.state as string;

  test('connect: a refusal is a 403 with the backend\'s reason, and refuses an activation; OVERWRITE turns a reservation\'s record on, and tags the gate cannot take are a 503 naming them', async () => {
    backend.answer('connect', { body: { status: 403, reason: 'The studio is closed tonight' } });
    const refused = await server.request('POST', '/reserve', { instance: await liveInstance() });
    assert.equal(refused.status, 403);
    assert.match(refused.body.detail, /The studio is closed tonight/);
    assert.equal(await state(), 'idle');
    assert.equal((await server.request('POST', '/channels', { name: 'studio' })).status, 201);
    await assert.rejects(server.onair.gate.gate.activate('studio'), (error: Error) => error instanceof Refused && /closed tonight/.test(error.message));
    assert.deepEqual(backend.of('connect').map((body) => [body.kind, body.name]), [['reserve', 'main'], ['activate', 'studio']]);

    backend.answer('connect', { body: { record: true } });
    const instance = await liveInstance();
    const { session } = await reserve({ instance, record: false });
    const held = (await server.request('GET', '/channels/main/sessions')).body.find((s: { id: string }) => s.id === session);
    assert.equal(held.record, true);
    const asked = backend.of('connect').at(-1)!;
    assert.deepEqual([asked.name, asked.record, asked.appKey], ['main', false, 'defaultApp']);
    clock.advance(server.config.gate.reservationTtlMs);
    assert.equal((await ended(session)).reason, 'expired');

    // Tags the gate cannot take are refused by its rule, naming them.
    backend.answer('connect', { body: { metadata: { 'not a name': 'x' } } });
    const unusable = await server.request('POST', '/reserve', { instance: await liveInstance() });
    assert.equal(unusable.status, 503, JSON.stringify(unusable.body));
    assert.match(unusable.body.detail, /tag "not a name" must be named/);
  });

  test('publishStream refused: the source is cut off within a second, nothing reaches a listener or the archive', async (t) => {
    backend.answer('publishStream', { body: { status: 403, reason: 'not this one' } });
    const instance = await liveInstance();
    const { url, session } = await reserve({ instance, record: true });
    const listener = listen(`${server.url}/listen`);
    const source = push(t, url, 20);
    await backend.until('publishStream to be asked', () => backend.of('publishStream').some((body) => body.mediaSessionId === session), 15_000);
    const asked = Date.now();
    const end = await ended(session);
    const cutOff = Date.now() - asked;
    assert.equal(end.reason, 'refused');
    assert.ok(cutOff < 1000, `cut off after ${cutOff} ms`);
    await source.exited;
    const heard = await listener.done;
    assert.equal(heard.bytes.indexOf('OggS'), -1, `the listener got ${heard.bytes.length} bytes of it`);
    const recordings = await server.request('GET', `/recordings/${instance.event}`);
    assert.ok(recordings.status === 404 || recordings.body.recordings.length === 0, JSON.stringify(recordings.body));
    await backend.until('STOPPED', () => backend.statuses(session).includes('STOPPED'));
    assert.deepEqual(backend.statuses(session), ['NEW', 'PENDING', 'STOPPED']);
  });

  test('a source let through: PUBLISHING; listeners without the ticket get 403 and no audio; a keep-alive answered 403 ends it', async (t) => {
    let release = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    backend.answer('playStream', (body) => (body.query.ticket === 'friday' ? {} : body.query.ticket === 'slow' ? { until: held }
      : { body: { status: 403, reason: 'a ticket is needed' } }));
    const { url, session } = await reserve();
    const source = push(t, url, 60);
    await waitFor(async () => (await state()) === 'publishing', 'the source to be on air', 15_000);
    await backend.until('PUBLISHING', () => backend.statuses(session).includes('PUBLISHING'));

    const plays = backend.of('playStream').length;
    const listenerEvents = () => backend.of('StreamStatusEvent').filter((body) => body.published === false).length;
    const listenersBefore = listenerEvents();
    const refused = await fetch(`${server.url}/listen?ticket=monday`);
    assert.equal(refused.status, 403);
    assert.match(((await refused.json()) as { detail: string }).detail, /a ticket is needed/);
    // A backend slow for one listener holds up that listener only.
    const slow = listen(`${server.url}/listen?ticket=slow`);
    await backend.until('the slow listener to be asked', () => backend.of('playStream').some((body) => body.query.ticket === 'slow'));
    assert.equal((await fetch(`${server.url}/ping`)).status, 204);
    const listener = listen(`${server.url}/listen?ticket=friday`);
    await listener.firstByte;
    listener.close();
    release();
    await slow.firstByte;
    slow.close();
    assert.deepEqual(backend.of('playStream').slice(plays).map((body) => body.query.ticket), ['monday', 'slow', 'friday']);
    await backend.until('the listeners\' PLAYING and STOPPED', () => listenerEvents() === listenersBefore + 4);

    const found = await server.request('POST', '/rest-api/stream/find', { status: 'PUBLISHING' });
    assert.equal(found.status, 200);
    assert.deepEqual(found.body.map((stream: { mediaSessionId: string; name: string }) => [stream.mediaSessionId, stream.name]), [[session, 'main']]);

    backend.answer('StreamKeepAliveEvent', { status: 403 });
    clock.advance(10_000);
    assert.equal((await ended(session)).reason, 'refused');
    await source.exited;
  });

  test('HLS: each playlist request is asked of playStream with its query, the answer kept a few seconds; a refusal is a 403', async (t) => {
    backend.answer('playStream', (body) => (body.query.ticket === 'friday' ? {} : { body: { status: 403, reason: 'a ticket is needed' } }));
    const listenerEvents = () => backend.of('StreamStatusEvent').filter((body) => body.published === false).length;
    const listenersBefore = listenerEvents();
    const { url, session } = await reserve({ format: 'mpegts' });
    const source = pushTone(url, { seconds: 60, format: 'mpegts' });
    t.after(() => void source.child.kill('SIGKILL'));
    const playlist = (ticket: string) => fetch(`${server.url}/hls/index.m3u8?ticket=${ticket}`);
    await waitFor(async () => (await playlist('friday')).status === 200, 'the HLS playlist', 20_000, 200);
    const asked = () => backend.of('playStream').filter((body) => body.kind === 'hls' && body.query.ticket === 'friday').length;
    assert.equal(asked(), 1, 'asked once, however often the player asked for a playlist not there yet');
    for (let i = 0; i < 3; i++) assert.equal((await playlist('friday')).status, 200);
    assert.equal(asked(), 1);
    clock.advance(5_001);
    assert.equal((await playlist('friday')).status, 200);
    assert.equal(asked(), 2);
    const refused = await playlist('monday');
    assert.equal(refused.status, 403);
    assert.match(((await refused.json()) as { detail: string }).detail, /a ticket is needed/);
    assert.deepEqual(backend.statuses(session).slice(0, 3), ['NEW', 'PENDING', 'PUBLISHING']);
    assert.equal(listenerEvents(), listenersBefore, 'PLAYING and STOPPED are for /listen only');
    await server.request('POST', '/rest-api/stream/terminate', { mediaSessionId: session });
    await ended(session);
  });

  test('POST /rest-api/stream/terminate cuts a source off; a source that leaves is UNPUBLISHED', async (t) => {
    const first = await reserve();
    const source = push(t, first.url, 60);
    await waitFor(async () => (await state()) === 'publishing', 'the source to be on air', 15_000);
    const terminated = await server.request('POST', '/rest-api/stream/terminate', { mediaSessionId: first.session });
    assert.equal(terminated.status, 200, JSON.stringify(terminated.body));
    assert.equal((await ended(first.session)).reason, 'terminated');
    await source.exited;
    assert.equal((await server.request('POST', '/rest-api/stream/find', { mediaSessionId: first.session })).status, 404);
    await backend.until('STOPPED', () => backend.statuses(first.session).at(-1) === 'STOPPED');

    const second = await reserve();
    assert.equal(await push(t, second.url, 2).exited, 0);
    await backend.until('UNPUBLISHED', () => backend.statuses(second.session).at(-1) === 'UNPUBLISHED');
    assert.deepEqual(backend.statuses(second.session), ['NEW', 'PENDING', 'PUBLISHING', 'UNPUBLISHED']);
    const connections = () => backend.of('ConnectionStatusEvent').filter((body) => body.sessionId === second.session).map((body) => body.status);
    await backend.until('DISCONNECTED', () => connections().length === 2);
    assert.deepEqual(connections(), ['ESTABLISHED', 'DISCONNECTED']);
  });
});
