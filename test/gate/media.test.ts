import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { testDatabases } from '../support/databases.ts';
import { waitFor } from '../support/onair.ts';
import { analyse, ffmpegChildren, listen, pushTone, startGate, type GateServer } from './harness.ts';

const run = promisify(execFile);

for (const database of testDatabases) describe(`gate media path on ${database.name}: SRT ingest with real ffmpeg, HTTP listening, recording`, () => {
  let server: GateServer;
  before(async () => {
    server = await startGate({ database });
  });
  after(async () => {
    await server.stop();
    assert.deepEqual(ffmpegChildren(), [], 'no ffmpeg is left behind');
  });

  const reserve = async (body: Record<string, unknown> = {}) => {
    const event = server.programme.add('live', Date.now() - 60_000);
    const answer = await server.request('POST', '/reserve', { instance: { event: event.id, start: event.start }, ...body });
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
    return { event, answer };
  };
  const idle = () => waitFor(async () => (await server.request('GET', '/check')).body.state === 'idle', 'the channel to be free', 15_000);

  test('a pushed Opus tone reaches HTTP listeners as Ogg/Opus of the same length and pitch', async () => {
    const { answer } = await reserve();
    assert.match(answer.body.url, new RegExp(`^srt://127\\.0\\.0\\.1:${server.port}\\?passphrase=`));
    assert.ok(Buffer.from(answer.body.credentials.token, 'base64url').length >= 16, 'at least 128 random bits');
    const listener = listen(`${server.url}/listen`);
    const source = pushTone(answer.body.url, { seconds: 3, frequency: 440 });
    await listener.firstByte;
    const check = await server.request('GET', '/check');
    assert.equal(check.body.state, 'publishing');
    const late = listen(`${server.url}/channels/main/listen`);
    assert.equal(await source.exited, 0, source.stderr());
    const [early, joined] = await Promise.all([listener.done, late.done]);
    assert.equal(early.type, 'audio/ogg');
    const full = await analyse(early.bytes);
    assert.deepEqual(full.codecs, ['opus']);
    assert.ok(Math.abs(full.seconds - 3) < 0.3, `received ${full.seconds} s`);
    assert.ok(Math.abs(full.frequency - 440) < 10, `heard ${full.frequency} Hz`);
    // A listener joining mid-stream gets the Opus headers first, so what it receives decodes too.
    const part = await analyse(joined.bytes);
    assert.deepEqual(part.codecs, ['opus']);
    assert.ok(part.seconds > 1 && part.seconds < full.seconds, `late listener got ${part.seconds} s`);
    assert.ok(Math.abs(part.frequency - 440) < 10);
    await idle();
    const [session] = (await server.request('GET', '/channels/main/sessions')).body;
    assert.equal(session.state, 'ended');
    assert.equal(session.reason, 'source-left');
    assert.equal(session.exitCode, 0);
    assert.equal(session.codec, 'opus');
    assert.ok(session.bytes > 10_000 && session.duration > 2, JSON.stringify(session));
    const types = server.events.filter((e) => (e.data as { session?: string }).session === session.id).map((e) => e.type);
    assert.deepEqual(types, ['stream-reserved', 'stream-publishing', 'stream-ended']);
  });

  test('a wrong or missing passphrase is refused in the SRT handshake; the right one still works after', async () => {
    const { answer } = await reserve();
    const base = `srt://127.0.0.1:${server.port}`;
    const wrong = pushTone(`${base}?passphrase=${'x'.repeat(32)}&pbkeylen=32`, { seconds: 1 });
    const missing = pushTone(base, { seconds: 1 });
    assert.notEqual(await wrong.exited, 0);
    assert.notEqual(await missing.exited, 0);
    assert.equal((await server.request('GET', '/check')).body.state, 'reserved');
    const right = pushTone(answer.body.url, { seconds: 1 });
    assert.equal(await right.exited, 0, right.stderr());
    await idle();
  });

  test('a source that fails to go on air does not burn the reservation: the right source still connects, the attempt is kept', async () => {
    const { answer } = await reserve();
    const { token } = answer.body.credentials;
    const id = (await server.request('GET', '/check')).body.session;
    // A misconfigured encoder: it passes the handshake, then sends raw PCM, which the relay cannot read.
    const misconfigured = spawn('ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'quiet', '-re', '-f', 'lavfi', '-i', 'sine=d=2', '-f', 's16le', answer.body.url]);
    await once(misconfigured, 'exit');
    const listening = await waitFor(() => server.events.find((e) => e.type === 'stream-reserved'
      && (e.data as { session: string; reason?: string }).session === id && (e.data as { reason?: string }).reason), 'the failed attempt to be announced');
    assert.match((listening.data as { reason: string }).reason, /error/i);
    assert.equal((await server.request('GET', '/check')).body.state, 'reserved');
    const right = pushTone(answer.body.url, { seconds: 2 });
    assert.equal(await right.exited, 0, right.stderr());
    await idle();
    const [session] = (await server.request('GET', '/channels/main/sessions')).body;
    assert.equal(session.id, id);
    assert.deepEqual([session.state, session.reason], ['ended', 'source-left'], JSON.stringify(session));
    assert.ok(session.duration > 1.5, `on air ${session.duration} s`);
    assert.equal(session.attempts.length, 1, JSON.stringify(session.attempts));
    assert.match(session.attempts[0].error, /error/i);
    assert.ok(Date.parse(session.attempts[0].at) <= Date.parse(session.publishedAt));
    assert.ok(server.logs.some((line) => line.includes('failed to connect') && line.includes(id)), 'the attempt is logged');
    for (const text of [JSON.stringify(server.events), server.logs.join('\n'), JSON.stringify(session)]) assert.ok(!text.includes(token), 'no passphrase');
  });

  test('record: true puts a recording of the pushed length into the archive', async () => {
    const { event, answer } = await reserve({ record: true });
    const source = pushTone(answer.body.url, { seconds: 3, frequency: 660 });
    assert.equal(await source.exited, 0, source.stderr());
    await idle();
    const [recording] = await server.archive.find('recordings', event.id, event.start);
    assert.ok(recording, 'adopted into the archive');
    assert.ok(Math.abs(recording.duration - 3) <= 0.5, `recorded ${recording.duration} s`);
    // It starts with the source's first packet (libopus's pre-skip frame at -312), at 0 like any upload: nothing of
    // the start was dropped while the relay probed its input.
    const { stdout } = await run('ffprobe', ['-v', 'error', '-show_entries', 'format=start_time:packet=pts', '-read_intervals', '%+#1', '-of', 'json', recording.path]);
    const probed = JSON.parse(stdout) as { format: { start_time: string }; packets: Array<{ pts: number }> };
    assert.deepEqual([probed.packets[0]?.pts, Number(probed.format.start_time)], [-312, 0]);
    assert.deepEqual(readdirSync(server.archive.stagingDir), [], 'nothing left in staging');
    assert.ok(existsSync(recording.path));
  });

  test('killing the source mid-stream ends the session within the 3 s source idle time, before SRT\'s 5 s peer timeout', async () => {
    const { answer } = await reserve();
    const listener = listen(`${server.url}/listen`);
    const source = pushTone(answer.body.url, { seconds: 30 });
    await listener.firstByte;
    source.child.kill('SIGKILL');
    const killedAt = Date.now();
    await listener.done;
    await idle();
    const [session] = (await server.request('GET', '/channels/main/sessions')).body;
    assert.deepEqual([session.state, session.reason], ['ended', 'source-left'], JSON.stringify(session));
    const after = Date.parse(session.endedAt) - killedAt;
    assert.ok(after >= 2500 && after < 4500, `ended ${after} ms after the source was killed`);
    assert.equal(ffmpegChildren().length, 0);
  });
});
