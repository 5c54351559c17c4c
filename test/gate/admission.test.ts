import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { NotFound, Refused } from '../../src/core/errors.ts';
import type { Admission, ConnectChange, ConnectRequest, PlayRequest, PublishRequest, StreamStatus } from '../../src/gate/contract.ts';
import { udpPortBound } from '../../src/gate/session.ts';
import { postgresAvailable, postgresDatabase, testDatabases } from '../support/databases.ts';
import { tempDir, waitFor } from '../support/onair.ts';
import { analyse, commandLine, ffmpegChildren, freeUdpPort, listen, pushTone, startGate, StandInProgramme, type GateServer } from './harness.ts';

const sqlite = testDatabases[0];

/** A station's backend in a few lines: every decision is the test's, each call kept with the time it came. */
class TestAdmission implements Admission {
  readonly connects: ConnectRequest[] = [];
  readonly publishes: Array<PublishRequest & { at: number }> = [];
  readonly plays: PlayRequest[] = [];
  /** How many listeners the gate said have left. */
  left = 0;
  onConnect: (request: ConnectRequest) => Promise<ConnectChange> = async () => ({});
  onPublish: (request: PublishRequest) => Promise<void> = async () => {};
  onPlay: (request: PlayRequest) => Promise<void> = async () => {};

  async connect(request: ConnectRequest): Promise<ConnectChange> {
    this.connects.push(request);
    return this.onConnect(request);
  }

  async publish(request: PublishRequest): Promise<void> {
    this.publishes.push({ ...request, at: performance.now() });
    return this.onPublish(request);
  }

  async play(request: PlayRequest): Promise<() => void> {
    this.plays.push(request);
    await this.onPlay(request);
    return () => {
      this.left++;
    };
  }
}

const later = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The relays (SRT listeners) this process runs; the test's own sources are callers. */
const relays = () => ffmpegChildren().filter((pid) => commandLine(pid).includes('\0listener\0'));

describe('the gate asks an Admission before it acts', () => {
  let server: GateServer;
  let admission: TestAdmission;

  before(async () => {
    server = await startGate({ database: sqlite, env: { ONAIR_CHANNELS: JSON.stringify([{ name: 'main' }, { name: 'club', appKey: 'club-app' }]) } });
    admission = new TestAdmission();
    server.gate.admit(admission);
  });
  after(async () => {
    await server.stop();
    assert.deepEqual(ffmpegChildren(), [], 'no ffmpeg is left behind');
  });

  const instance = () => {
    const event = server.programme.add('live', Date.now() - 60_000);
    return { event: event.id, start: event.start };
  };
  const state = async (channel = 'main') => (await server.gate.availability(channel)).state;
  const idle = (channel = 'main') => waitFor(async () => (await state(channel)) === 'idle', `${channel} to be free`, 15_000);
  const ended = (session: string) => waitFor(() => server.events.find((e) => e.type === 'stream-ended' && (e.data as StreamStatus).session === session),
    `stream-ended of ${session}`, 15_000);
  const reserve = async (body: Record<string, unknown>, channel = 'main') => {
    const answer = await server.request('POST', `/channels/${channel}/reserve`, body);
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
    const [row] = (await server.request('GET', `/channels/${channel}/sessions?limit=1`)).body;
    return { url: answer.body.url as string, session: row.id as string };
  };
  const reset = () => {
    admission.connects.length = 0;
    admission.publishes.length = 0;
    admission.plays.length = 0;
    admission.left = 0;
    admission.onConnect = async () => ({});
    admission.onPublish = async () => {};
    admission.onPlay = async () => {};
  };

  test('connect refused: 403 with the backend\'s reason, and nothing is claimed', async () => {
    reset();
    admission.onConnect = async () => {
      throw new Refused('no slot booked for this show');
    };
    const before = (await server.request('GET', '/channels/main/sessions')).body.length;
    const answer = await server.request('POST', '/reserve', { instance: instance(), metadata: { title: 'Late show' } });
    assert.equal(answer.status, 403, JSON.stringify(answer.body));
    assert.equal(answer.body.detail, 'no slot booked for this show');
    assert.equal(await state(), 'idle');
    assert.equal((await server.request('GET', '/channels/main/sessions')).body.length, before, 'no session recorded');
    assert.deepEqual(relays(), [], 'no relay started');
    assert.deepEqual(admission.connects[0], {
      kind: 'reserve', channel: 'main', appKey: 'defaultApp', format: 'ogg', record: false, metadata: { title: 'Late show' }, who: '127.0.0.1',
    });

    const { ingest } = await server.gate.createChannel({ name: 'studio', appKey: 'studio-app' });
    await assert.rejects(server.gate.activate('studio', { who: 'live-scheduler' }), (error) => error instanceof Refused && error.message === 'no slot booked for this show');
    assert.equal(await state('studio'), 'idle');
    assert.equal(udpPortBound(ingest.port), false, 'nothing listens for the encoder');
    assert.deepEqual([admission.connects[1]?.kind, admission.connects[1]?.appKey, admission.connects[1]?.who], ['activate', 'studio-app', 'live-scheduler']);
    await server.gate.removeChannel('studio');
  });

  test('appKey: the reservation\'s, else the channel\'s (ONAIR_CHANNELS, run-time channels), else defaultApp; shown and kept', async () => {
    reset();
    const created = await server.request('POST', '/channels', { name: 'night', appKey: 'night-app' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.appKey, 'night-app');
    assert.equal((await server.request('PATCH', '/channels/night', { appKey: 'night.v2' })).body.appKey, 'night.v2');
    assert.equal((await server.request('GET', '/channels/night')).body.appKey, 'night.v2');
    assert.equal((await server.request('GET', '/channels/club')).body.appKey, 'club-app');
    assert.equal((await server.request('PATCH', '/channels/night', { appKey: 'not valid!' })).status, 400);
    assert.match((await server.request('POST', '/reserve', { instance: instance(), appKey: 'x y' })).body.detail, /appKey/);

    for (const [channel, body, expected] of [['night', {}, 'night.v2'], ['club', {}, 'club-app'], ['main', {}, 'defaultApp'], ['club', { appKey: 'own' }, 'own']] as const) {
      const { session } = await reserve({ instance: instance(), ...body }, channel);
      assert.equal(admission.connects.at(-1)?.appKey, expected, channel);
      assert.equal((await server.request('GET', `/channels/${channel}/sessions?limit=1`)).body[0].appKey, expected);
      const stream = (await server.gate.streams()).find((s) => s.session === session);
      assert.deepEqual([stream?.appKey, stream?.state, stream?.channel], [expected, 'reserved', channel]);
      await server.gate.terminate(session, 'terminated');
    }
    await idle('night');
    await server.gate.removeChannel('night');
  });

  test('the backend\'s change to record and metadata applies (OVERWRITE): the show is recorded with its tags', async () => {
    reset();
    admission.onConnect = async () => ({ record: true, metadata: { title: 'Overwritten' } });
    const ref = instance();
    const { url, session } = await reserve({ instance: ref, record: false, metadata: { title: 'Asked' } });
    const [row] = (await server.request('GET', '/channels/main/sessions?limit=1')).body;
    assert.deepEqual([row.record, row.metadata], [true, { title: 'Overwritten' }]);
    assert.equal(admission.connects[0]?.record, false, 'the backend was told what was asked');
    const source = pushTone(url, { seconds: 2 });
    assert.equal(await source.exited, 0, source.stderr());
    await ended(session);
    const recorded = await waitFor(() => server.archive.adopted.find((f) => f.event === ref.event), 'the recording in the archive');
    assert.ok(recorded.duration > 1.5, `${recorded.duration} s recorded`);
    assert.deepEqual(admission.publishes.map((p) => [p.session, p.record, p.metadata.title]), [[session, true, 'Overwritten']]);

    admission.onConnect = async () => ({ metadata: { 'bad key!': 'x' } });
    const unusable = await server.request('POST', '/reserve', { instance: instance() });
    assert.equal(unusable.status, 503, 'tags the API would refuse are not taken from a backend either');
    admission.onConnect = async () => ({ record: true });
    const replay = server.programme.add('replay', Date.now() - 60_000);
    assert.equal((await server.request('POST', '/reserve', { instance: { event: replay.id, start: replay.start } })).status, 409, 'only live events are recorded');
    assert.equal(await state(), 'idle');
  });

  test('publish refused: the source is cut off within 1 s, listeners hear nothing, nothing is recorded, the session ends refused', async () => {
    reset();
    let refusedAt = 0;
    admission.onPublish = async () => {
      // The source sends for a while before the backend answers: all of it is held back.
      await later(500);
      refusedAt = performance.now();
      throw new Refused('not this encoder');
    };
    const ref = instance();
    const { url, session } = await reserve({ instance: ref, record: true });
    const listener = listen(`${server.url}/listen`);
    await waitFor(async () => (await server.gate.availability('main')).stats?.listeners === 1, 'the listener to join');
    const source = pushTone(url, { seconds: 10 });
    await waitFor(() => refusedAt > 0, 'the refusal', 15_000);
    await waitFor(() => relays().length === 0, 'the relay to stop', 1000, 5);
    const cutOff = performance.now() - refusedAt;
    const over = await ended(session);
    const heard = await listener.done;
    source.child.kill('SIGKILL');
    await source.exited;
    assert.equal(heard.bytes.length, 0, 'no byte of the refused source reached the listener');
    assert.equal((over.data as StreamStatus).reason, 'refused');
    assert.ok(!server.events.some((e) => e.type === 'stream-publishing' && (e.data as StreamStatus).session === session), 'never on air');
    assert.ok(!server.archive.adopted.some((f) => f.event === ref.event), 'nothing adopted by the archive');
    assert.ok(!existsSync(server.archive.stagingDir) || readdirSync(server.archive.stagingDir).length === 0, 'nothing left in staging');
    const [row] = (await server.request('GET', '/channels/main/sessions?limit=1')).body;
    assert.deepEqual([row.state, row.reason], ['ended', 'refused']);
    console.log(`# publish refused: the relay stopped ${cutOff.toFixed(0)} ms after the refusal`);
  });

  test('publish refused, MPEG-TS: its HLS is not served while the backend decides, and is cleared once refused', async () => {
    reset();
    let decide = (_allowed: boolean) => {};
    admission.onPublish = () => new Promise((resolve, reject) => {
      decide = (allowed) => (allowed ? resolve() : reject(new Refused('no video today')));
    });
    const playlist = join(server.area.service.hlsDir('main'), 'index.m3u8');
    const { url, session } = await reserve({ instance: instance(), format: 'mpegts' });
    const source = pushTone(url, { seconds: 10, format: 'mpegts' });
    await waitFor(() => existsSync(playlist), 'ffmpeg to write the playlist', 15_000);
    assert.equal((await server.request('GET', '/hls/index.m3u8')).status, 404, 'not served before the decision');
    decide(false);
    assert.equal(((await ended(session)).data as StreamStatus).reason, 'refused');
    assert.equal(existsSync(playlist), false, 'cleared');
    source.child.kill('SIGKILL');
    await source.exited;
  });

  test('publish refused in static mode: the activation ends refused and nothing listens on its port any more', async () => {
    reset();
    admission.onPublish = async () => {
      throw new Refused('encoder not registered');
    };
    const { ingest } = await server.gate.createChannel({ name: 'desk' });
    const { session } = await server.gate.activate('desk', { reconnectWindowMs: 60_000 });
    const source = pushTone(ingest.url, { seconds: 10, passphrase: ingest.streamKey });
    assert.equal(((await ended(session!)).data as StreamStatus).reason, 'refused');
    assert.equal(await state('desk'), 'idle', 'no reconnect window for a refused source');
    assert.equal(udpPortBound(ingest.port), false);
    assert.deepEqual(admission.publishes.map((p) => [p.mode, p.channel]), [['static', 'desk']]);
    source.child.kill('SIGKILL');
    await source.exited;
    await server.gate.removeChannel('desk');
  });

  test('a source that leaves before the backend decides was never on air: nothing recorded, the reservation waits for a source again', async () => {
    reset();
    let allow = () => {};
    admission.onPublish = () => new Promise<void>((resolve) => {
      allow = resolve;
    });
    const ref = instance();
    const { url, session } = await reserve({ instance: ref, record: true });
    const source = pushTone(url, { seconds: 1 });
    assert.equal(await source.exited, 0, source.stderr());
    await waitFor(async () => (await server.request('GET', '/channels/main/sessions?limit=1')).body[0].attempts.length === 1, 'the attempt to be kept', 15_000);
    allow();
    await later(300);
    assert.equal(await state(), 'reserved', 'still waiting for a source');
    assert.ok(!server.events.some((e) => e.type === 'stream-publishing' && (e.data as StreamStatus).session === session), 'never on air');
    await server.gate.terminate(session, 'terminated');
    assert.ok(!server.archive.adopted.some((f) => f.event === ref.event), 'nothing adopted by the archive');
  });

  test('a late answer about a source that left lets through no later source: that one waits for its own', async () => {
    reset();
    const answers: Array<(allowed: boolean) => void> = [];
    admission.onPublish = () => new Promise<void>((resolve, reject) => {
      answers.push((allowed) => (allowed ? resolve() : reject(new Refused('not this one'))));
    });
    const { url, session } = await reserve({ instance: instance() });
    const listener = listen(`${server.url}/listen`);
    await waitFor(async () => (await server.gate.availability('main')).stats?.listeners === 1, 'the listener to join');
    const first = pushTone(url, { seconds: 1 });
    assert.equal(await first.exited, 0, first.stderr());
    await waitFor(async () => (await server.request('GET', '/channels/main/sessions?limit=1')).body[0].attempts.length === 1, 'the attempt to be kept', 15_000);
    const second = pushTone(url, { seconds: 10 });
    await waitFor(() => answers.length === 2, 'the second source\'s publish', 15_000);
    answers[0]!(true);
    answers[1]!(false);
    assert.equal(((await ended(session)).data as StreamStatus).reason, 'refused');
    second.child.kill('SIGKILL');
    await second.exited;
    const heard = await listener.done;
    assert.equal(heard.bytes.length, 0, 'nothing of the second source was heard');
    assert.ok(!server.events.some((e) => e.type === 'stream-publishing' && (e.data as StreamStatus).session === session), 'never on air');
  });

  test('publish allowed after a delay: on air only then, stream-publishing after the decision, nothing of it heard before', async () => {
    reset();
    let allowedAt = 0;
    admission.onPublish = async () => {
      await later(700);
      allowedAt = performance.now();
    };
    const ref = instance();
    const { url, session } = await reserve({ instance: ref, record: true });
    const listener = listen(`${server.url}/listen`);
    let firstByteAt = 0;
    void listener.firstByte.then(() => {
      firstByteAt = performance.now();
    });
    const source = pushTone(url, { seconds: 3, frequency: 440 });
    await waitFor(() => admission.publishes.length === 1, 'the publish hook', 15_000);
    await later(300);
    assert.equal(await state(), 'reserved', 'not on air while the backend decides');
    assert.equal(firstByteAt, 0, 'nothing heard while the backend decides');
    await waitFor(async () => (await state()) === 'publishing', 'on air');
    await waitFor(() => firstByteAt > 0, 'the first byte at the listener');
    assert.ok(firstByteAt >= allowedAt, 'heard after the decision');
    assert.equal(await source.exited, 0, source.stderr());
    await ended(session);
    const heard = await listener.done;
    const audio = await analyse(heard.bytes);
    assert.ok(audio.seconds > 2.5, `the whole show is heard, what came during the decision too: ${audio.seconds} s`);
    assert.ok(Math.abs(audio.frequency - 440) < 10, `${audio.frequency} Hz`);
    const types = server.events.filter((e) => (e.data as StreamStatus).session === session).map((e) => e.type);
    assert.deepEqual(types, ['stream-reserved', 'stream-publishing', 'stream-ended']);
    assert.ok(server.archive.adopted.some((f) => f.event === ref.event), 'recorded');
    assert.deepEqual(admission.publishes.map((p) => [p.channel, p.mode, p.appKey, p.format, p.instance?.event]), [['main', 'reservation', 'defaultApp', 'ogg', ref.event]]);
  });

  test('an Admission that answers at once: the delay it adds to go on air (publish called → first byte at a listener)', async () => {
    reset();
    const delays: number[] = [];
    for (let show = 0; show < 5; show++) {
      const { url, session } = await reserve({ instance: instance() });
      const listener = listen(`${server.url}/listen`);
      await waitFor(async () => (await server.gate.availability('main')).stats?.listeners === 1, 'the listener to join');
      const published = admission.publishes.length;
      let firstByteAt = 0;
      void listener.firstByte.then(() => {
        firstByteAt = performance.now();
      });
      const source = pushTone(url, { seconds: 1 });
      await waitFor(() => firstByteAt > 0, 'the first byte', 15_000, 1);
      delays.push(firstByteAt - admission.publishes[published]!.at);
      assert.equal(await source.exited, 0, source.stderr());
      await ended(session);
      await listener.done;
    }
    const sorted = [...delays].sort((a, b) => a - b);
    console.log(`# publish answered at once: first byte at the listener ${sorted.map((d) => d.toFixed(2)).join(', ')} ms after the publish call (n=5)`);
    assert.ok(sorted[2]! < 50, `median ${sorted[2]} ms`);
  });

  test('play: refused listeners get 403 before any audio; the query string and address are passed on; the leave function once a listener goes', async () => {
    reset();
    admission.onPlay = async (request) => {
      if (request.query.ticket !== 'valid') throw new Refused('ticket required');
    };
    const { session } = await reserve({ instance: instance() });
    const refused = await server.request('GET', '/listen?ticket=forged');
    assert.equal(refused.status, 403);
    assert.equal(refused.body.detail, 'ticket required');
    assert.match(refused.headers.get('content-type') ?? '', /problem\+json/, 'a problem, no audio');
    assert.deepEqual(admission.plays[0], { kind: 'listen', channel: 'main', session, appKey: 'defaultApp', query: { ticket: 'forged' }, client: '127.0.0.1' });

    const listener = listen(`${server.url}/channels/main/listen?ticket=valid&seat=12`);
    await waitFor(async () => (await server.gate.availability('main')).stats?.listeners === 1, 'the listener to join');
    assert.deepEqual(admission.plays[1]?.query, { ticket: 'valid', seat: '12' });
    assert.equal(admission.left, 0);
    listener.close();
    await waitFor(() => admission.left === 1, 'the leave function');
    await later(100);
    assert.equal(admission.left, 1, 'called once');

    assert.equal((await server.request('GET', '/hls/index.m3u8?ticket=forged')).status, 403);
    assert.equal((await server.request('GET', '/hls/index.m3u8?ticket=valid')).status, 404, 'let in: no HLS for an Ogg session');
    assert.deepEqual(admission.plays.slice(2).map((p) => [p.kind, p.query.ticket]), [['hls', 'forged'], ['hls', 'valid']]);
    assert.equal(admission.left, 2, 'an HLS listener leaves at once');
    assert.equal((await server.request('GET', '/check?ticket=valid')).status, 400, 'other routes still refuse unknown query parameters');
    const plays = admission.plays.length;
    assert.equal((await server.request('GET', '/listen?ticket=%01')).status, 400, 'a ticket is plain text');
    assert.equal(admission.plays.length, plays, 'refused before the backend is asked');
    await server.gate.terminate(session, 'terminated');
    await idle();
  });

  test('play, HLS: every segment is asked for too, and the playlist hands the listener\'s query on to its segments', async () => {
    reset();
    admission.onPlay = async (request) => {
      if (request.query.ticket !== 'valid') throw new Refused('ticket required');
    };
    const playlist = join(server.area.service.hlsDir('main'), 'index.m3u8');
    const { url, session } = await reserve({ instance: instance(), format: 'mpegts' });
    const source = pushTone(url, { seconds: 10, format: 'mpegts' });
    await waitFor(() => existsSync(playlist) && /\.ts/.test(readFileSync(playlist, 'utf8')), 'a segment in the playlist', 15_000);
    const listed = await fetch(`${server.url}/hls/index.m3u8?ticket=valid`);
    assert.equal(listed.status, 200);
    const segments = (await listed.text()).split('\n').filter((line) => line !== '' && !line.startsWith('#'));
    assert.ok(segments.length > 0 && segments.every((line) => /^index\d+\.ts\?ticket=valid$/.test(line)), segments.join(', '));
    const segment = segments[0]!.split('?')[0]!;
    assert.equal((await server.request('GET', `/hls/${segment}`)).status, 403, 'a refused listener gets no segment either');
    assert.equal((await fetch(`${server.url}/hls/${segments[0]}`)).status, 200);
    assert.deepEqual(admission.plays.map((p) => [p.kind, p.query.ticket]), [['hls', 'valid'], ['hls', undefined], ['hls', 'valid']]);
    await server.gate.terminate(session, 'terminated');
    source.child.kill('SIGKILL');
    await source.exited;
  });

  test('terminate: here at once with its reason; what went on air stays recorded, even refused (a keep-alive\'s 403); an unknown session is NotFound', async () => {
    reset();
    const ref = instance();
    const { url, session } = await reserve({ instance: ref, record: true });
    const source = pushTone(url, { seconds: 10 });
    // A second of audio on air (64 kb/s), so that the recording holds some when the session is cut.
    await waitFor(async () => ((await server.gate.availability('main')).stats?.bytes ?? 0) >= 8000, 'a second on air', 15_000);
    const [stream] = await server.gate.streams();
    const node = server.events.find((e) => e.type === 'stream-reserved')?.origin;
    assert.deepEqual([stream?.session, stream?.state, stream?.record, stream?.node, stream?.instance], [session, 'publishing', true, node, ref]);
    assert.ok(stream?.publishedAt);
    await server.gate.terminate(session, 'refused');
    assert.equal(await state(), 'idle', 'over once terminate resolves');
    assert.equal(((await ended(session)).data as StreamStatus).reason, 'refused');
    source.child.kill('SIGKILL');
    await source.exited;
    await waitFor(() => server.archive.adopted.find((f) => f.event === ref.event), 'what went on air in the archive');
    assert.deepEqual(await server.gate.streams(), []);
    await assert.rejects(server.gate.terminate(session, 'terminated'), NotFound);
    await assert.rejects(server.gate.terminate(crypto.randomUUID(), 'terminated'), NotFound);
  });
});

describe('streams and terminate across two instances sharing PostgreSQL', { skip: !postgresAvailable }, () => {
  test('a session on one instance is listed by the other and terminated from it', async () => {
    const url = await postgresDatabase.create();
    const programme = new StandInProgramme();
    const first = await startGate({ database: postgresDatabase, databaseUrl: url, programme });
    const second = await startGate({ database: postgresDatabase, databaseUrl: url, programme, env: { ONAIR_SRT_PORT_START: String(first.port) } });
    try {
      const event = programme.add('live', Date.now() - 60_000);
      const reserved = await first.gate.reserve('main', { instance: { event: event.id, start: event.start } });
      const source = pushTone(reserved.url, { seconds: 10 });
      // The other instance reads the row, written a moment after the state is seen here.
      const streams = await waitFor(async () => {
        const listed = await second.gate.streams();
        return listed[0]?.state === 'publishing' ? listed : undefined;
      }, 'on air, as the other instance sees it', 15_000);
      const firstNode = first.events.find((e) => e.type === 'stream-reserved')?.origin;
      assert.deepEqual(streams.map((s) => [s.session, s.state, s.node]), [[reserved.session, 'publishing', firstNode]]);
      const started = performance.now();
      await second.gate.terminate(reserved.session, 'terminated');
      console.log(`# terminate from another instance: ${(performance.now() - started).toFixed(0)} ms until the channel was let go`);
      assert.equal((await first.gate.availability('main')).state, 'idle');
      await waitFor(() => first.events.find((e) => e.type === 'stream-ended' && (e.data as StreamStatus).session === reserved.session), 'stream-ended');
      const over = first.events.find((e) => e.type === 'stream-ended' && (e.data as StreamStatus).session === reserved.session);
      assert.equal((over?.data as StreamStatus).reason, 'terminated');
      source.child.kill('SIGKILL');
      await source.exited;
      assert.deepEqual(await second.gate.streams(), []);
    } finally {
      await first.stop();
      await second.stop();
      await postgresDatabase.drop(url);
    }
  });
});

describe('push outputs of a source that waits for its admission', () => {
  test('refused: no output hears of it; let through: the output gets the whole show, what came during the decision too', async () => {
    const dir = tempDir('onair-push-');
    const srtPort = await freeUdpPort();
    /** An SRT listener that keeps what comes; ffmpeg makes its file only once something connects. */
    const receiver = (file: string) => {
      const child = spawn('ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'error', '-i', `srt://127.0.0.1:${srtPort}?mode=listener&listen_timeout=30000000`,
        '-c', 'copy', '-f', 'ogg', join(dir, file)], { stdio: 'ignore' });
      return { child, exited: new Promise((resolve) => child.once('exit', resolve)) };
    };
    const server = await startGate({
      database: sqlite,
      env: { ONAIR_CHANNELS: JSON.stringify([{ name: 'main', outputs: [{ type: 'srt', url: `srt://127.0.0.1:${srtPort}?connect_timeout=2000` }] }]) },
    });
    const admission = new TestAdmission();
    server.gate.admit(admission);
    const show = async (allowed: boolean, file: string) => {
      const out = receiver(file);
      await waitFor(() => udpPortBound(srtPort), 'the receiver to listen');
      admission.onPublish = async () => {
        await later(700);
        if (!allowed) throw new Refused('not today');
      };
      const event = server.programme.add('live', Date.now() - 60_000);
      const reserved = await server.gate.reserve('main', { instance: { event: event.id, start: event.start } });
      const source = pushTone(reserved.url, { seconds: allowed ? 3 : 10, frequency: 550 });
      await waitFor(() => server.events.find((e) => e.type === 'stream-ended' && (e.data as StreamStatus).session === reserved.session), 'the show to end', 15_000);
      source.child.kill('SIGKILL');
      await source.exited;
      if (!allowed) out.child.kill('SIGKILL');
      await out.exited;
      return join(dir, file);
    };
    try {
      assert.equal(existsSync(await show(false, 'refused.ogg')), false, 'nothing connected to the output');
      const heard = await analyse(readFileSync(await show(true, 'allowed.ogg')));
      assert.ok(Math.abs(heard.frequency - 550) < 10 && heard.seconds > 2.5, JSON.stringify(heard));
      const [row] = (await server.request('GET', '/channels/main/sessions?limit=1')).body;
      assert.deepEqual(row.outputs.map((o: { state: string }) => o.state), ['connected']);
    } finally {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
      assert.deepEqual(ffmpegChildren(), [], 'no ffmpeg is left behind');
    }
  });
});

describe('what a session holds of its source is bounded', () => {
  const small = { heldBytes: 16 * 1024, pusherBehindBytes: 16 * 1024 };

  test('a source that sends more than the limit while its admission decides is cut off: a failed attempt, the reservation still waits', async () => {
    const server = await startGate({ database: sqlite, holdLimits: small });
    const admission = new TestAdmission();
    let allow = () => {};
    admission.onPublish = () => new Promise<void>((resolve) => {
      allow = resolve;
    });
    server.gate.admit(admission);
    const event = server.programme.add('live', Date.now() - 60_000);
    const reserved = await server.gate.reserve('main', { instance: { event: event.id, start: event.start } });
    const source = pushTone(reserved.url, { seconds: 30 });
    try {
      const attempt = await waitFor(async () => (await server.request('GET', '/channels/main/sessions?limit=1')).body[0].attempts[0], 'the attempt to be kept', 15_000);
      assert.match(attempt.error, /more than 0\.02 MiB while its admission decided/);
      assert.ok(server.logs.some((line) => line.includes('while its admission decided') && line.includes('"level":40')), 'logged as a warning');
      allow();
      await waitFor(async () => (await server.gate.availability('main')).state === 'reserved' && relays().length === 1, 'the channel to listen again', 15_000);
      assert.ok(!server.events.some((e) => e.type === 'stream-publishing'), 'never on air');
      await server.gate.terminate(reserved.session, 'terminated');
    } finally {
      source.child.kill('SIGKILL');
      await source.exited;
      await server.stop();
      assert.deepEqual(ffmpegChildren(), [], 'no ffmpeg is left behind');
    }
  });

  test('a pusher too far behind (its ffmpeg stalled) is dropped: its output fails, the broadcast goes on', async () => {
    const srtPort = await freeUdpPort();
    const dir = tempDir('onair-push-');
    const receiver = spawn('ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'error', '-i', `srt://127.0.0.1:${srtPort}?mode=listener&listen_timeout=30000000`,
      '-c', 'copy', '-f', 'ogg', join(dir, 'out.ogg')], { stdio: 'ignore' });
    const received = new Promise((resolve) => receiver.once('exit', resolve));
    const server = await startGate({
      database: sqlite, holdLimits: small,
      env: { ONAIR_CHANNELS: JSON.stringify([{ name: 'main', outputs: [{ type: 'srt', url: `srt://127.0.0.1:${srtPort}?connect_timeout=2000` }] }]) },
    });
    server.gate.admit(new TestAdmission());
    let stalled: number | undefined;
    try {
      await waitFor(() => udpPortBound(srtPort), 'the receiver to listen');
      const event = server.programme.add('live', Date.now() - 60_000);
      const reserved = await server.gate.reserve('main', { instance: { event: event.id, start: event.start } });
      const source = pushTone(reserved.url, { seconds: 60 });
      stalled = await waitFor(() => ffmpegChildren().find((pid) => commandLine(pid).includes('\0pipe:0\0')), 'the pusher', 15_000);
      await waitFor(() => existsSync(join(dir, 'out.ogg')), 'the output to connect', 15_000);
      process.kill(stalled, 'SIGSTOP');
      const failed = await waitFor(() => server.events.find((e) => e.type === 'stream-output-failed'), 'the output to fail', 30_000);
      assert.match((failed.data as { output: { error: string } }).output.error, /more than 0\.02 MiB behind the source/);
      assert.equal((await server.gate.availability('main')).state, 'publishing');
      const [row] = (await server.request('GET', '/channels/main/sessions?limit=1')).body;
      assert.deepEqual(row.outputs.map((o: { state: string }) => o.state), ['failed']);
      source.child.kill('SIGKILL');
      await source.exited;
      await ended(server, reserved.session);
    } finally {
      if (stalled !== undefined) try { process.kill(stalled, 'SIGCONT'); } catch { /* gone */ }
      receiver.kill('SIGKILL');
      await received;
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
      assert.deepEqual(ffmpegChildren(), [], 'no ffmpeg is left behind');
    }
  });
});

function ended(server: GateServer, session: string) {
  return waitFor(() => server.events.find((e) => e.type === 'stream-ended' && (e.data as StreamStatus).session === session), `stream-ended of ${session}`, 15_000);
}
