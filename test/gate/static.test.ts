import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ManualClock } from '../../src/core/clock.ts';
import { ChannelBusy, InvalidInput } from '../../src/core/errors.ts';
import type { StreamStatus } from '../../src/gate/contract.ts';
import { udpPortBound } from '../../src/gate/session.ts';
import { postgresAvailable, postgresDatabase, testDatabases } from '../support/databases.ts';
import { waitFor } from '../support/onair.ts';
import { ffmpegChildren, ffprobe, listen, pushTone, startGate, StandInProgramme, type GateServer } from './harness.ts';

const sqlite = testDatabases[0];

/** Static mode on a channel made at run time, as the live scheduler will use it; the clock moves only when told. */
async function staticChannel(options: { clock?: ManualClock } = {}) {
  const clock = options.clock ?? new ManualClock(Date.now());
  const server = await startGate({ database: sqlite, clock });
  const { ingest } = await server.gate.createChannel({ name: 'job' });
  const state = async () => (await server.gate.availability('job')).state;
  const until = (wanted: string, ms = 15_000) => waitFor(async () => (await state()) === wanted, `job to be ${wanted}`, ms);
  const encoder = (seconds: number, format: 'ogg' | 'mpegts' = 'ogg') => pushTone(ingest.url, { seconds, format, passphrase: ingest.streamKey });
  const events = (session: string) => server.events.filter((e) => (e.data as { session?: string }).session === session);
  // Events reach subscribers once the outbox has them, a moment after the state they announce is seen.
  const announced = (session: string, type: string) => waitFor(() => events(session).some((e) => e.type === type), `${type} of ${session}`);
  return { clock, server, ingest, state, until, encoder, events, announced };
}

async function done(server: GateServer): Promise<void> {
  await server.stop();
  assert.deepEqual(ffmpegChildren(), [], 'no ffmpeg is left behind');
}

describe('static mode: timing on the injected clock, formats, recording, deactivation', () => {
  test('no encoder within the maximum wait: the activation ends by itself (max-wait); once one is on air, the wait no longer counts', async () => {
    const { clock, server, ingest, state, until, encoder, events, announced } = await staticChannel();
    try {
      const activated = await server.gate.activate('job', { maxWaitMs: 60_000 });
      assert.deepEqual([activated.state, activated.expiresAt], ['reserved', clock.now() + 60_000]);
      assert.ok(udpPortBound(ingest.port), 'listening for the encoder');
      clock.advance(59_999);
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(await state(), 'reserved', 'still waiting a millisecond before');
      clock.advance(1);
      await until('idle');
      await announced(activated.session!, 'stream-ended');
      const ended = events(activated.session!).at(-1)!;
      assert.deepEqual([ended.type, (ended.data as StreamStatus).reason], ['stream-ended', 'max-wait']);
      assert.equal(udpPortBound(ingest.port), false, 'no listener once it ended');
      assert.equal((await server.request('GET', '/channels/job/sessions')).body[0].reason, 'max-wait');

      const again = await server.gate.activate('job', { maxWaitMs: 60_000 });
      const source = encoder(3);
      await until('publishing');
      clock.advance(120_000);
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(await state(), 'publishing', 'the maximum wait is over once the encoder is on air');
      assert.equal(await source.exited, 0, source.stderr());
      await until('disconnected');
      assert.equal((await server.gate.availability('job')).expiresAt, null, 'no reconnect window: it waits for ever');
      clock.advance(3_600_000);
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(await state(), 'disconnected');
      await server.gate.deactivate('job');
      await announced(again.session!, 'stream-ended');
      assert.equal(events(again.session!).at(-1)!.type, 'stream-ended');
    } finally {
      await done(server);
    }
  });

  test('the encoder drops: the same session goes on if it is back within the reconnect window, else the activation ends (reconnect-window)', async () => {
    const { clock, server, ingest, until, encoder, events, announced } = await staticChannel();
    try {
      const { session } = await server.gate.activate('job', { reconnectWindowMs: 30_000 });
      assert.equal((await server.gate.availability('job')).expiresAt, null, 'no maximum wait given: none');
      assert.equal(await encoder(1).exited, 0);
      await until('disconnected');
      const dropped = await server.gate.availability('job');
      assert.equal(dropped.session, session);
      assert.equal(dropped.expiresAt, dropped.since! + 30_000);
      await announced(session!, 'stream-disconnected');
      const disconnected = events(session!).find((e) => e.type === 'stream-disconnected')!.data as StreamStatus;
      assert.deepEqual([disconnected.state, disconnected.expiresAt], ['disconnected', new Date(dropped.expiresAt!).toISOString()]);

      clock.advance(29_000);
      const back = encoder(3);
      await until('publishing');
      assert.equal((await server.gate.availability('job')).session, session, 'the session goes on');
      clock.advance(10_000);
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal((await server.gate.availability('job')).state, 'publishing', 'the window of the first drop is over');
      assert.equal(await back.exited, 0, back.stderr());
      await until('disconnected');
      clock.advance(29_999);
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal((await server.gate.availability('job')).state, 'disconnected');
      clock.advance(1);
      await until('idle');
      await announced(session!, 'stream-ended');
      assert.deepEqual(events(session!).map((e) => [e.type, (e.data as StreamStatus).reason]), [
        ['stream-reserved', undefined], ['stream-publishing', undefined], ['stream-disconnected', 'source-left'],
        ['stream-publishing', undefined], ['stream-disconnected', 'source-left'], ['stream-ended', 'reconnect-window'],
      ]);
      const [row] = (await server.request('GET', '/channels/job/sessions')).body;
      assert.deepEqual([row.id, row.mode, row.state, row.reason], [session, 'static', 'ended', 'reconnect-window']);
      assert.ok(!JSON.stringify([server.logs, server.events, row]).includes(ingest.streamKey), 'the key is in no log line, event or session');
    } finally {
      await done(server);
    }
  });

  test('any format and recording: an MPEG-TS activation whose encoder came back twice is archived in two parts', async () => {
    const { server, until, encoder } = await staticChannel();
    try {
      const event = server.programme.add('live', Date.now() - 60_000);
      const prerecorded = server.programme.add('prerecorded', Date.now() - 60_000);
      const refusals: Array<[Parameters<typeof server.gate.activate>[1], string]> = [
        [{ record: true }, 'record'],
        [{ instance: { event: prerecorded.id, start: prerecorded.start }, record: true }, 'record'],
        [{ instance: { event: event.id, start: '2001-01-01T00:00:00' } }, 'instance.start'],
        [{ maxWaitMs: -1 }, 'maxWaitMs'],
        [{ reconnectWindowMs: 1.5 }, 'reconnectWindowMs'],
      ];
      for (const [request, field] of refusals) {
        await assert.rejects(server.gate.activate('job', request), (error) => error instanceof InvalidInput && error.field === field, field);
      }
      await assert.rejects(server.gate.activate('main'), (error) => error instanceof InvalidInput && error.field === 'channel', 'main has no key');

      const instance = { event: event.id, start: event.start };
      await server.gate.activate('job', { instance, format: 'mpegts', record: true, metadata: { title: 'Night news' } });
      await assert.rejects(server.gate.activate('job'), ChannelBusy);
      assert.equal((await server.request('POST', '/channels/job/reserve', { event: event.id })).status, 409);
      for (const seconds of [2, 3]) {
        const source = encoder(seconds, 'mpegts');
        await until('publishing');
        assert.equal(await source.exited, 0, source.stderr());
        await until('disconnected');
      }
      await server.gate.deactivate('job');
      const parts = await server.archive.find('recordings', event.id, event.start);
      assert.deepEqual(parts.map((p) => p.part), [1, 2]);
      for (const [index, seconds] of [2, 3].entries()) {
        const probe = await ffprobe(parts[index]!.path);
        assert.ok(probe.format.includes('mpegts') && probe.codecs.includes('h264') && probe.codecs.includes('aac'), JSON.stringify(probe));
        assert.ok(Math.abs(probe.duration - seconds) < 0.5, `part ${index + 1}: ${probe.duration} s`);
      }
      const [row] = (await server.request('GET', '/channels/job/sessions')).body;
      assert.deepEqual([row.format, row.record, row.metadata, row.reason], ['mpegts', true, { title: 'Night news' }, 'deactivated']);
    } finally {
      await done(server);
    }
  });

  test('deactivation ends the session on air within a second and refuses new connections', async () => {
    const { server, ingest, until, encoder, events, announced } = await staticChannel();
    try {
      const { session } = await server.gate.activate('job');
      const source = encoder(30);
      await until('publishing');
      const listener = listen(`${server.url}/channels/job/listen`);
      await listener.firstByte;
      const started = performance.now();
      await server.gate.deactivate('job');
      const took = performance.now() - started;
      process.stdout.write(`# deactivation of a live session: ${took.toFixed(0)} ms\n`);
      assert.ok(took < 1000, `${took} ms`);
      await listener.done;
      assert.equal((await server.gate.availability('job')).state, 'idle');
      assert.equal(udpPortBound(ingest.port), false);
      await waitFor(() => source.child.exitCode !== null || source.child.signalCode !== null, 'the encoder to notice', 10_000);
      const refused = encoder(1);
      assert.notEqual(await refused.exited, 0, 'nobody listens any more');
      await announced(session!, 'stream-ended');
      assert.deepEqual(events(session!).map((e) => e.type), ['stream-reserved', 'stream-publishing', 'stream-ended']);
      assert.equal(server.events.filter((e) => e.type === 'stream-publishing').length, 1, 'no other session went on air');
      await assert.rejects(server.gate.deactivate('job'), /not activated/);
    } finally {
      await done(server);
    }
  });

  for (const database of testDatabases) {
    test(`a channel made at run time takes its encoder after a restart (${database.name})`, async () => {
      const url = await database.create();
      const first = await startGate({ database, databaseUrl: url });
      const { ingest } = await first.gate.createChannel({ name: 'kept' });
      await first.stop(true);
      const server = await startGate({ database, databaseUrl: url, dataDir: first.dataDir, env: { ONAIR_SRT_PORT_START: String(first.port) } });
      try {
        await server.gate.activate('kept');
        const source = pushTone(ingest.url, { seconds: 1, passphrase: ingest.streamKey });
        assert.equal(await source.exited, 0, source.stderr());
        await waitFor(() => server.events.some((e) => e.type === 'stream-disconnected'), 'the encoder to have been on air');
        await server.gate.deactivate('kept');
      } finally {
        await done(server);
        await database.drop(url);
      }
    });
  }
});

describe('static mode across two instances sharing PostgreSQL', { skip: !postgresAvailable }, () => {
  test('an activation running on one instance is deactivated from the other', async () => {
    const url = await postgresDatabase.create();
    const programme = new StandInProgramme();
    const first = await startGate({ database: postgresDatabase, databaseUrl: url, programme });
    const second = await startGate({ database: postgresDatabase, databaseUrl: url, programme, env: { ONAIR_SRT_PORT_START: String(first.port) } });
    try {
      await first.gate.createChannel({ name: 'remote' });
      const { session } = await first.gate.activate('remote');
      assert.equal((await second.gate.availability('remote')).state, 'reserved');
      await assert.rejects(second.gate.activate('remote'), ChannelBusy);
      await second.gate.deactivate('remote');
      assert.equal((await first.gate.availability('remote')).state, 'idle');
      const ended = first.events.find((e) => e.type === 'stream-ended' && (e.data as StreamStatus).session === session);
      assert.equal((ended?.data as StreamStatus).reason, 'deactivated');
    } finally {
      await first.stop();
      await second.stop();
      await postgresDatabase.drop(url);
    }
  });
});
