import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { udpPortBound } from '../../src/gate/session.ts';
import { postgresAvailable, postgresDatabase, testDatabases } from '../support/databases.ts';
import { tempDir, waitFor } from '../support/onair.ts';
import { OggPages, Relink } from '../../src/gate/broadcast.ts';
import { capture, links, RATE, switchAt } from './listener.ts';
import { analyse, ffmpegChildren, liveShow, pushTone, StandInProgramme, startGate, type GateServer } from './harness.ts';

const run = promisify(execFile);
const sqlite = testDatabases[0]!;

/** The capture decoded (all its links) to mono PCM: the peak level of each 20 ms, 1 for full scale. */
async function decode(ogg: Buffer): Promise<number[]> {
  const dir = tempDir('onair-fallback-');
  try {
    const file = join(dir, 'heard.ogg');
    writeFileSync(file, ogg);
    const { stdout } = await run('ffmpeg', ['-v', 'error', '-i', file, '-ac', '1', '-ar', String(RATE), '-f', 's16le', 'pipe:1'],
      { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 });
    const samples = new Int16Array(stdout.buffer, stdout.byteOffset, Math.floor(stdout.length / 2));
    const frame = RATE / 50;
    const out: number[] = [];
    for (let i = 0; i + frame <= samples.length; i += frame) {
      let peak = 0;
      for (let j = i; j < i + frame; j++) peak = Math.max(peak, Math.abs(samples[j]!));
      out.push(peak / 32768);
    }
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs of 20 ms frames louder (true) or quieter than a tenth of full scale, as [loud, seconds]. */
function runs(frames: number[]): Array<[boolean, number]> {
  const out: Array<[boolean, number]> = [];
  for (const level of frames) {
    const loud = level > 0.1;
    if (out.at(-1)?.[0] === loud) out.at(-1)![1] += 0.02;
    else out.push([loud, 0.02]);
  }
  return out;
}

/** One second of a 660 Hz tone as MP3 (the fallback plays any format of the archive, as Opus), adopted as the instance's prerecording. */
async function adoptTune(gate: GateServer, event: string, start: string): Promise<void> {
  const dir = tempDir('onair-fallback-');
  try {
    const file = join(dir, 'tune.mp3');
    await run('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'sine=f=660:d=1', '-c:a', 'libmp3lame', file]);
    await gate.archive.adopt('prerecordings', event, start, file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Waits until the capture spans `seconds` of wall time, checks the server never let it go, then closes it. */
async function hear(listener: ReturnType<typeof capture>, seconds: number): Promise<Buffer> {
  await waitFor(() => listener.arrivals.length > 0 && performance.now() - listener.arrivals[0]!.at > seconds * 1000, `${seconds} s of audio`, 10_000 + seconds * 1000);
  assert.equal(listener.ended(), false, 'the listener was never let go');
  listener.close();
  return Buffer.concat(listener.arrivals.map((a) => a.page));
}

describe('Relink', () => {
  test('a stream joined midway becomes a stream of its own: ffmpeg reads it from 0, every checksum right', async () => {
    const dir = tempDir('onair-relink-');
    try {
      const [source, relinked] = [join(dir, 'source.ogg'), join(dir, 'relinked.ogg')];
      await run('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'sine=d=1', '-c:a', 'libopus', '-page_duration', '20000', source]);
      const pages = new OggPages().push(readFileSync(source));
      const relink = new Relink();
      const out: Buffer[] = [];
      pages.forEach((page, index) => {
        if (index === 20) out.push(...relink.start());
        const linked = relink.page(page);
        if (linked) out.push(linked);
      });
      writeFileSync(relinked, Buffer.concat(out));
      const { stderr } = await run('ffmpeg', ['-v', 'warning', '-i', relinked, '-f', 'null', '-']);
      assert.equal(stderr, '', 'no CRC mismatch, no timestamp trouble');
      const seconds = (await analyse(Buffer.concat(out))).seconds;
      const expected = (pages.length - 20) * 0.02 - 312 / RATE;
      assert.ok(Math.abs(seconds - expected) < 0.03, `${seconds} s decoded, ${expected} s expected`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a fallback between shows (real ffmpeg)', () => {
  let server: GateServer | undefined;
  const restart = async (env: Record<string, string>) => {
    await server?.stop();
    server = await startGate({ database: sqlite, env });
    return server;
  };
  after(async () => {
    await server?.stop();
    assert.deepEqual(ffmpegChildren(), [], 'no ffmpeg is left behind');
  });

  test('a listener stays connected across fallback → live → fallback: silence, the live tone, silence, with the gap at each switch measured', async () => {
    const gate = await restart({ ONAIR_GATE_FALLBACK: 'silence' });
    const listener = capture(`${gate.url}/listen`);
    assert.deepEqual(await listener.answered, { status: 200, type: 'audio/ogg' });
    const heard = (seconds: number) => () => listener.arrivals.length > 0 && performance.now() - listener.arrivals[0]!.at > seconds * 1000;
    await waitFor(heard(1.5), 'a second and a half of fallback', 10_000);
    await liveShow(gate, 3);
    const endedAt = performance.now();
    await waitFor(() => performance.now() - endedAt > 1500, 'a second and a half of fallback after the show', 5_000);
    assert.equal(listener.ended(), false, 'the listener was never let go');
    listener.close();

    assert.equal(links(listener.arrivals).length, 3, 'three links: fallback, live, fallback');
    const toLive = switchAt(listener.arrivals, 1);
    const toFallback = switchAt(listener.arrivals, 2);
    const shown = ({ pause, missing }: { pause: number; missing: number }) => `${pause.toFixed(0)} ms without a page, ${missing.toFixed(0)} ms of audio missing`;
    process.stdout.write(`# switch fallback → live: ${shown(toLive)}; live → fallback: ${shown(toFallback)} (goal < 100 ms)\n`);
    for (const [name, figures] of Object.entries({ toLive, toFallback })) {
      assert.ok(figures.pause < 250 && figures.missing < 250, `${name}: ${JSON.stringify(figures)}`);
    }

    const heardRuns = runs(await decode(Buffer.concat(listener.arrivals.map((a) => a.page))));
    assert.deepEqual(heardRuns.map(([loud]) => loud), [false, true, false], JSON.stringify(heardRuns));
    const [quiet, tone, last] = heardRuns.map(([, seconds]) => seconds);
    assert.ok(quiet! > 1.4 && last! > 1.0, `silence of ${quiet} s before, ${last} s after`);
    assert.ok(Math.abs(tone! - 3) < 0.2, `the live tone lasted ${tone} s`);
    await waitFor(() => ffmpegChildren().length === 0, 'the fallback to stop once its last listener left', 5_000);
  });

  test('static mode on a channel made at run time: listeners hear the fallback while the encoder is away, and the encoder when it is back', async () => {
    const gate = await restart({ ONAIR_GATE_FALLBACK: 'silence' });
    const made = await gate.request('POST', '/channels', { name: 'studio' });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const { port, streamKey } = made.body.ingest;
    await gate.gate.activate('studio');
    const listener = capture(`${gate.url}/channels/studio/listen`);
    assert.equal((await listener.answered).status, 200);
    await waitFor(() => listener.arrivals.length > 25, 'half a second of fallback');
    for (const frequency of [440, 880]) {
      await waitFor(() => udpPortBound(port), 'the channel to listen for its encoder');
      const encoder = pushTone(`srt://127.0.0.1:${port}?linger=3`, { seconds: 2, frequency, passphrase: streamKey });
      assert.equal(await encoder.exited, 0, encoder.stderr());
      await waitFor(async () => (await gate.gate.availability('studio')).state === 'disconnected', 'the encoder to be away', 15_000);
    }
    const heard = await hear(listener, (performance.now() - listener.arrivals[0]!.at) / 1000 + 1);
    await gate.gate.deactivate('studio');
    assert.equal(links(listener.arrivals).length, 5, 'fallback, encoder, fallback, encoder, fallback');
    assert.deepEqual(runs(await decode(heard)).map(([loud]) => loud), [false, true, false, true, false]);
  });

  test('a prerecording of the archive plays in a loop between shows; one not (yet) in the archive is silence; without a fallback, /listen is a 404', async () => {
    const [tune, missing] = [crypto.randomUUID(), crypto.randomUUID()];
    const start = '2026-12-04T20:00:00';
    const gate = await restart({
      ONAIR_CHANNELS: JSON.stringify([
        { name: 'main', fallback: { prerecording: { event: tune, start } } },
        { name: 'other', fallback: { recording: { event: missing, start } } },
        { name: 'bare', fallback: 'none' },
      ]),
    });
    await adoptTune(gate, tune, start);
    const looped = await analyse(await hear(capture(`${gate.url}/listen`), 3));
    assert.deepEqual(looped.codecs, ['opus']);
    assert.ok(looped.seconds > 2.5, `heard ${looped.seconds} s of a 1 s file`);
    assert.ok(Math.abs(looped.frequency - 660) < 15, `heard ${looped.frequency} Hz`);
    const quiet = runs(await decode(await hear(capture(`${gate.url}/channels/other/listen`), 1)));
    assert.deepEqual(quiet.map(([loud]) => loud), [false], 'silence');
    assert.ok(gate.logs.some((line) => line.includes('the fallback is not in the archive; silence instead')));
    const bare = await gate.request('GET', '/channels/bare/listen');
    assert.equal(bare.status, 404);
    assert.match(bare.body.detail, /Nothing is on air on channel bare, and it has no fallback/);
    await waitFor(() => ffmpegChildren().length === 0, 'the fallbacks to stop with their last listeners', 5_000);
  });

  test('a channel made at run time plays its own fallback: silence until its prerecording is in the archive, then the file; changed to none, /listen is a 404', async () => {
    const tune = crypto.randomUUID();
    const start = '2026-12-04T20:00:00';
    const gate = await restart({ ONAIR_GATE_FALLBACK: 'none' });
    const made = await gate.request('POST', '/channels', { name: 'tuned', fallback: { prerecording: { event: tune, start } } });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    assert.equal((await gate.request('POST', '/channels', { name: 'plain' })).status, 201);
    assert.equal((await gate.request('GET', '/channels/plain/listen')).status, 404, 'ONAIR_GATE_FALLBACK none');
    const quiet = runs(await decode(await hear(capture(`${gate.url}/channels/tuned/listen`), 1)));
    assert.deepEqual(quiet.map(([loud]) => loud), [false], 'silence while the archive has no such file');
    await waitFor(() => ffmpegChildren().length === 0, 'the fallback to stop with its last listener', 5_000);
    await adoptTune(gate, tune, start);
    const looped = await analyse(await hear(capture(`${gate.url}/channels/tuned/listen`), 2));
    assert.ok(Math.abs(looped.frequency - 660) < 15, `heard ${looped.frequency} Hz`);
    await waitFor(() => ffmpegChildren().length === 0, 'the fallback to stop with its last listener', 5_000);
    const changed = await gate.request('PATCH', '/channels/tuned', { fallback: 'none' });
    assert.equal(changed.status, 200, JSON.stringify(changed.body));
    assert.equal((await gate.request('GET', '/channels/tuned/listen')).status, 404, 'no fallback any more');
    assert.equal((await gate.request('PATCH', '/channels/plain', { fallback: 'silence' })).status, 200);
    assert.deepEqual(runs(await decode(await hear(capture(`${gate.url}/channels/plain/listen`), 1))).map(([loud]) => loud), [false]);
    await waitFor(() => ffmpegChildren().length === 0, 'the fallback to stop', 5_000);
  });

  test('a run-time channel\'s fallback changed while listeners hear it: they hear the new one at once without reconnecting; changed to none, they are let go', async () => {
    const event = crypto.randomUUID();
    const start = '2026-12-04T20:00:00';
    const gate = await restart({ ONAIR_GATE_FALLBACK: 'silence' });
    await adoptTune(gate, event, start);
    assert.equal((await gate.request('POST', '/channels', { name: 'studio' })).status, 201);
    const listener = capture(`${gate.url}/channels/studio/listen`);
    assert.equal((await listener.answered).status, 200);
    await waitFor(() => listener.arrivals.length > 50, 'a second of silence');
    const changed = await gate.request('PATCH', '/channels/studio', { fallback: { prerecording: { event, start } } });
    assert.equal(changed.status, 200, JSON.stringify(changed.body));
    await hear(listener, (performance.now() - listener.arrivals[0]!.at) / 1000 + 2.5);
    const [before, after, ...more] = links(listener.arrivals).map((link) => Buffer.concat(link.map((a) => a.page)));
    assert.equal(more.length, 0, 'two links: the old fallback, the new one');
    assert.deepEqual(runs(await decode(before!)).map(([loud]) => loud), [false], 'silence first');
    const tune = await analyse(after!);
    assert.ok(tune.seconds > 1.5 && Math.abs(tune.frequency - 660) < 15, `then the tune: ${JSON.stringify(tune)}`);

    const again = capture(`${gate.url}/channels/studio/listen`);
    await waitFor(() => again.arrivals.length > 10, 'the tune');
    assert.equal((await gate.request('PATCH', '/channels/studio', { fallback: 'none' })).status, 200);
    await waitFor(() => again.ended(), 'the listener to be let go', 5_000);
    await waitFor(() => ffmpegChildren().length === 0, 'the fallback to stop', 5_000);
  });

  test('an MPEG-TS session lets the Ogg listeners go and is heard as MPEG-TS; after it, /listen is the fallback again', async () => {
    const gate = await restart({ ONAIR_GATE_FALLBACK: 'silence' });
    const ogg = capture(`${gate.url}/listen`);
    assert.equal((await ogg.answered).type, 'audio/ogg');
    await waitFor(() => ogg.arrivals.length > 3, 'the fallback');
    const event = gate.programme.add('live', Date.now() - 60_000);
    const reserved = await gate.request('POST', '/reserve', { instance: { event: event.id, start: event.start }, format: 'mpegts' });
    assert.equal(reserved.status, 201, JSON.stringify(reserved.body));
    const source = pushTone(reserved.body.url, { seconds: 4, format: 'mpegts' });
    await waitFor(() => ogg.ended(), 'the Ogg listener to be let go', 15_000);
    const ts = await new Promise<{ type: string | undefined }>((resolve) => httpRequest(`${gate.url}/listen`, (res) => {
      resolve({ type: res.headers['content-type'] });
      res.destroy();
    }).end());
    assert.equal(ts.type, 'video/mp2t');
    assert.equal(await source.exited, 0, source.stderr());
    await waitFor(async () => (await gate.request('GET', '/check')).body.state === 'idle', 'the session to end', 15_000);
    const after = capture(`${gate.url}/listen`);
    assert.equal((await after.answered).type, 'audio/ogg');
    assert.deepEqual(runs(await decode(await hear(after, 1))).map(([loud]) => loud), [false]);
    await waitFor(() => ffmpegChildren().length === 0, 'the fallback to stop', 5_000);
  });
});

describe('the fallback and two instances sharing PostgreSQL', { skip: !postgresAvailable && 'PostgreSQL not reachable' }, () => {
  test('an instance does not play its fallback for a channel another instance holds: /listen there is a 404 naming that node', async () => {
    const url = await postgresDatabase.create();
    const programme = new StandInProgramme();
    const env = { ONAIR_GATE_FALLBACK: 'silence' };
    const first = await startGate({ database: postgresDatabase, databaseUrl: url, programme, env });
    const second = await startGate({ database: postgresDatabase, databaseUrl: url, programme, env: { ...env, ONAIR_SRT_PORT_START: String(first.port) } });
    try {
      const event = programme.add('live', Date.now() - 60_000);
      assert.equal((await first.request('POST', '/reserve', { instance: { event: event.id, start: event.start } })).status, 201);
      const elsewhere = await second.request('GET', '/listen');
      assert.equal(elsewhere.status, 404);
      assert.match(elsewhere.body.detail, /^Channel main is on air on node .+: listen there$/);
      const here = capture(`${first.url}/listen`);
      assert.equal((await here.answered).status, 200, 'the instance holding it plays its fallback until the source comes');
      here.close();
    } finally {
      await first.stop();
      await second.stop();
      await postgresDatabase.drop(url);
    }
    assert.deepEqual(ffmpegChildren(), []);
  });

  test('a run-time channel\'s fallback changed or removed on one instance reaches the listeners of the other: changed to none or removed, they are let go', async () => {
    const url = await postgresDatabase.create();
    const env = { ONAIR_GATE_FALLBACK: 'silence' };
    const first = await startGate({ database: postgresDatabase, databaseUrl: url, env });
    const second = await startGate({ database: postgresDatabase, databaseUrl: url, env: { ...env, ONAIR_SRT_PORT_START: String(first.port) } });
    try {
      assert.equal((await first.request('POST', '/channels', { name: 'studio' })).status, 201);
      const there = capture(`${second.url}/channels/studio/listen`);
      await waitFor(() => there.arrivals.length > 10, 'the fallback on the other instance');
      assert.equal((await first.request('PATCH', '/channels/studio', { fallback: 'none' })).status, 200);
      await waitFor(() => there.ended(), 'the listener of the other instance to be let go', 10_000);
      assert.equal((await second.request('GET', '/channels/studio/listen')).status, 404);

      assert.equal((await first.request('POST', '/channels', { name: 'removed' })).status, 201);
      const left = capture(`${second.url}/channels/removed/listen`);
      await waitFor(() => left.arrivals.length > 10, 'the fallback of the channel to remove on the other instance');
      assert.equal((await first.request('DELETE', '/channels/removed')).status, 204);
      await waitFor(() => left.ended(), 'the listener of the removed channel on the other instance to be let go', 10_000);
    } finally {
      await first.stop();
      await second.stop();
      await postgresDatabase.drop(url);
    }
    assert.deepEqual(ffmpegChildren(), []);
  });
});
