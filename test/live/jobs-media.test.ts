import assert from 'node:assert/strict';
import { ManualClock } from '../../src/core/clock.ts';
import { pino } from 'pino';
import { rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { testDatabases } from '../support/databases.ts';
import { startOnair, tempDir, waitFor, type Running } from '../support/onair.ts';
import { spawnOnair } from '../support/process.ts';
import { ffmpegChildren, listen, pushTone } from '../gate/harness.ts';
import { jobChanges, JOBS_ENV } from './jobs-support.ts';

type Job = { id: string; channel: string; state: string; sep_state: string; ingest: { url: string; stream_key: string }; history: Array<{ reason: string }> };
type Ask = (method: string, path: string, body?: unknown) => Promise<{ status: number; body: any }>;

/** Waits until the job is in `state` (and `sep`), answering it. */
function until(ask: Ask, id: string, state: string, sep = 'waiting', ms = 20_000): Promise<Job> {
  return waitFor(async () => {
    const job = (await ask('GET', `/v1/jobs/${id}`)).body as Job;
    return job.state === state && job.sep_state === sep ? job : undefined;
  }, `job ${id} to be ${state}/${sep}`, ms, 50);
}

const encoder = (job: Job, seconds: number, key = job.ingest.stream_key) => pushTone(job.ingest.url, { seconds, passphrase: key });

describe('live jobs with real encoders (sqlite)', () => {
  let server: Running;
  let ask: Ask;
  const logs: string[] = [];
  const keys: string[] = [];
  before(async () => {
    const logger = pino({ level: 'debug' }, { write: (line: string) => logs.push(line) });
    server = await startOnair({ database: testDatabases[0], env: JOBS_ENV, logger });
    ask = async (method, path, body) => {
      const answer = await server.request(method, path, body);
      if (answer.body?.ingest?.stream_key) keys.push(answer.body.ingest.stream_key);
      return answer;
    };
  });
  after(async () => {
    await server.stop();
    assert.deepEqual(ffmpegChildren(), [], 'no ffmpeg is left behind');
    assert.ok(logs.some((line) => line.includes('live job activated')), 'the jobs log');
    for (const key of new Set(keys)) assert.ok(!logs.some((line) => line.includes(key)), 'no stream key in any log line');
  });

  test('encoder on air, dropped, back within reconnect_time, then deactivated: the stream ends within a second and no encoder gets in', async () => {
    const sse = await jobChanges(server.url);
    const job = (await ask('POST', '/v1/jobs', { static: true, reconnect_time: 60 })).body as Job;
    await ask('PUT', `/v1/jobs/${job.id}/activate`);
    const first = encoder(job, 60);
    await until(ask, job.id, 'processing');
    const heard = listen(`${server.url}/channels/${job.channel}/listen`);
    await heard.firstByte;
    first.child.kill('SIGKILL');
    await until(ask, job.id, 'disconnected');
    const back = encoder(job, 60);
    const again = await until(ask, job.id, 'processing');
    assert.equal((await server.onair.gate.gate.availability(job.channel)).state, 'publishing');
    const reasons = again.history.map((c) => c.reason);
    assert.deepEqual(reasons.slice(-3), ['encoder connected', 'encoder disconnected', 'encoder connected']);

    const started = performance.now();
    const closed = await ask('PUT', `/v1/jobs/${job.id}/deactivate`);
    const answered = performance.now() - started;
    const { bytes } = await heard.done;
    const ended = performance.now() - started;
    process.stdout.write(`# deactivation of a job on air: answered in ${answered.toFixed(0)} ms, the listener's stream ended after ${ended.toFixed(0)} ms\n`);
    assert.ok(ended < 1000, `${ended} ms`);
    assert.deepEqual([closed.status, closed.body.state, closed.body.sep_state], [200, 'standby', 'ready']);
    assert.ok(bytes.includes(Buffer.from('OggS')), `the listener heard Ogg audio (${bytes.length} bytes)`);
    await waitFor(() => back.child.exitCode !== null || back.child.signalCode !== null, 'the encoder to notice', 10_000);
    const refused = encoder(job, 1);
    assert.notEqual(await refused.exited, 0, 'nobody listens for the encoder any more');
    const history = (await ask('GET', `/v1/jobs/${job.id}`)).body.history;
    await waitFor(() => sse.of(job.id).length >= history.length, 'every change on /sse');
    await sse.close();
    assert.deepEqual(sse.of(job.id).map((view) => view.history.at(-1)), history, 'every change, the gate\'s included, arrived on /sse');
    assert.ok(!JSON.stringify(sse.frames).includes(job.ingest.stream_key), 'without the key');
  });

  test('a wrong key is refused; after a rotation the old key is refused and the new one gets in', async () => {
    const job = (await ask('POST', '/v1/jobs', { static: true })).body as Job;
    await ask('PUT', `/v1/jobs/${job.id}/activate`);
    const wrong = encoder(job, 1, 'not-the-key-of-this-job');
    assert.notEqual(await wrong.exited, 0, wrong.stderr());
    assert.equal((await ask('GET', `/v1/jobs/${job.id}`)).body.state, 'waiting');
    await ask('PUT', `/v1/jobs/${job.id}/deactivate`);

    const rotated = (await ask('POST', `/v1/jobs/${job.id}/stream_key/rotate`)).body as Job;
    await ask('PUT', `/v1/jobs/${job.id}/activate`);
    const old = encoder(job, 1);
    assert.notEqual(await old.exited, 0, 'the old key no longer opens the channel');
    assert.equal((await ask('GET', `/v1/jobs/${job.id}`)).body.state, 'waiting');
    const fresh = encoder(rotated, 30);
    await until(ask, job.id, 'processing');
    await ask('PUT', `/v1/jobs/${job.id}/deactivate`);
    await fresh.exited;
  });
});

describe('reconnect_time on the injected clock, with a real encoder (sqlite)', () => {
  test('the encoder does not come back within reconnect_time: standby/ready by itself, with its reason', async () => {
    const clock = new ManualClock(Date.now());
    const server = await startOnair({ database: testDatabases[0], env: JOBS_ENV, clock });
    const ask: Ask = (method, path, body) => server.request(method, path, body);
    try {
      const job = (await ask('POST', '/v1/jobs', { static: true, reconnect_time: 30 })).body as Job;
      await ask('PUT', `/v1/jobs/${job.id}/activate`);
      const source = encoder(job, 1);
      await until(ask, job.id, 'processing');
      assert.equal(await source.exited, 0, source.stderr());
      await until(ask, job.id, 'disconnected');
      clock.advance(29_999);
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal((await ask('GET', `/v1/jobs/${job.id}`)).body.state, 'disconnected', 'a millisecond before');
      clock.advance(1);
      const ended = await until(ask, job.id, 'standby', 'ready');
      assert.equal(ended.history.at(-1)!.reason, 'the encoder did not come back within reconnect_time');
    } finally {
      await server.stop();
    }
  });
});

for (const database of testDatabases) {
  test(`kill -9 of onair serve while a job is on air: after the restart the job is open again and its encoder gets in (${database.name})`, async () => {
    const dataDir = tempDir();
    const url = await database.create();
    const env = { ...JOBS_ENV, ONAIR_DATA_DIR: dataDir, ...(url ? { ONAIR_DATABASE_URL: url } : {}) };
    let onair = await spawnOnair(env);
    try {
      const job = (await onair.request('POST', '/v1/jobs', { static: true, reconnect_time: 120 })).body as Job;
      await onair.request('PUT', `/v1/jobs/${job.id}/activate`);
      const source = encoder(job, 120);
      await until(onair.request, job.id, 'processing');
      await onair.crash();
      // ffmpeg as a caller does not reconnect by itself: the station's encoder is started again, as a new one.
      source.child.kill('SIGKILL');
      onair = await spawnOnair(env);
      const reopened = await until(onair.request, job.id, 'disconnected');
      assert.equal(reopened.history.at(-1)!.reason, 'opened again after a restart');
      // It was on air: the encoder has reconnect_time (120 s) to come back, not max_waiting_time (1800 s).
      const waits = Date.parse((await onair.request('GET', `/channels/${job.channel}/check`)).body.expiresAt) - Date.now();
      assert.ok(waits > 100_000 && waits <= 120_000, `${waits} ms`);
      const next = encoder(job, 60);
      await until(onair.request, job.id, 'processing');
      next.child.kill('SIGKILL');
      await onair.request('PUT', `/v1/jobs/${job.id}/deactivate`);
    } finally {
      await onair.stop();
      await database.drop(url);
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
}
