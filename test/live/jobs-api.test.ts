import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ManualClock } from '../../src/core/clock.ts';
import type { StreamStatus } from '../../src/gate/contract.ts';
import { pageTokens } from '../../src/live/paging.ts';
import { testDatabases } from '../support/databases.ts';
import { startOnair, waitFor, type Running } from '../support/onair.ts';
import { jobChanges, JOBS_ENV } from './jobs-support.ts';

const KEY = 'jobs-test-api-key';
const auth = { 'x-api-key': KEY };

for (const database of testDatabases) {
  describe(`live jobs API on ${database.name}`, () => {
    let server: Running;
    const call = (method: string, path: string, body?: unknown) => server.request(method, path, body, auth);
    before(async () => {
      server = await startOnair({ database, env: { ...JOBS_ENV, ONAIR_API_KEY: KEY, ONAIR_PUBLIC_URL: 'https://radio.example.org' } });
    });
    after(() => server.stop());

    test('create with every field: 201, the job as the contract has it, a 192-bit key, no-store', async () => {
      const before = Date.now();
      const made = await call('POST', '/v1/jobs', {
        static: true, name: 'Morning show', region: 'eu-central', format: 'mpegts', record: true, outputs: [], reconnect_time: 60, max_waiting_time: 7200,
      });
      assert.equal(made.status, 201, JSON.stringify(made.body));
      assert.equal(made.headers.get('cache-control'), 'no-store');
      const job = made.body;
      assert.match(job.id, /^[0-9a-f]{32}$/);
      assert.deepEqual(
        [job.name, job.region, job.format, job.record, job.static, job.reconnect_time, job.max_waiting_time, job.state, job.sep_state],
        ['Morning show', 'eu-central', 'mpegts', true, true, 60, 7200, 'standby', 'ready'],
      );
      assert.equal(job.channel, `job-${job.id}`);
      assert.equal(job.node, server.onair.bus.origin);
      assert.equal(job.playback_url, `https://radio.example.org/channels/job-${job.id}/listen`);
      assert.ok(job.ingest.port >= Number(JOBS_ENV.ONAIR_SRT_PORT_START) && job.ingest.port <= Number(JOBS_ENV.ONAIR_SRT_PORT_END), String(job.ingest.port));
      assert.equal(job.ingest.url, `srt://${job.ingest.host}:${job.ingest.port}?pbkeylen=32&linger=3`);
      // base64url of 24 random bytes: 32 characters of 64 possible ones, 192 bits.
      assert.match(job.ingest.stream_key, /^[A-Za-z0-9_-]{32}$/);
      assert.ok(job.created_at >= before && job.created_at <= Date.now() && job.updated_at === job.created_at);
      assert.deepEqual(job.history.map((c: any) => [c.state, c.sep_state, c.reason]), [['standby', 'ready', 'created']]);
      assert.match(job.history[0].by, /^api /);
      const channel = await call('GET', `/channels/${job.channel}`);
      assert.deepEqual([channel.status, channel.body.port], [200, job.ingest.port]);
      const got = await call('GET', `/v1/jobs/${job.id}`);
      assert.deepEqual([got.status, got.body, got.headers.get('cache-control')], [200, job, 'no-store']);
    });

    test('defaults: the node region, ogg, no recording, 1800 s; keys differ between jobs', async () => {
      const [a, b] = [(await call('POST', '/v1/jobs', { static: true })).body, (await call('POST', '/v1/jobs', { static: true })).body];
      assert.deepEqual([a.region, a.format, a.record, a.reconnect_time, a.max_waiting_time, a.name], [server.config.node.region, 'ogg', false, 1800, 1800, a.channel]);
      assert.notEqual(a.ingest.stream_key, b.ingest.stream_key);
      assert.notEqual(a.ingest.port, b.ingest.port);
    });

    test('bad input is a 400 {"error"} naming the field', async () => {
      const cases: Array<[unknown, string]> = [
        ['{"static": tru', 'JSON'],
        [{ static: false }, 'body.static'],
        [{}, 'body.static'],
        [{ static: 'yes' }, 'static'],
        [{ static: true, name: 42 }, 'name'],
        [{ static: true, format: 'mp3' }, 'format'],
        [{ static: true, record: 'no' }, 'record'],
        [{ static: true, colour: 'red' }, 'colour'],
        [{ static: true, reconnect_time: 0 }, 'reconnect_time'],
        [{ static: true, reconnect_time: 7201 }, 'reconnect_time'],
        [{ static: true, max_waiting_time: 0 }, 'max_waiting_time'],
        [{ static: true, max_waiting_time: 1.5 }, 'max_waiting_time'],
        [{ static: true, outputs: [{ type: 'icecast', url: 'icecast://x' }] }, 'body.outputs'],
        [{ static: true, outputs: 'none' }, 'outputs'],
        [{ static: true, region: 'EU Central' }, 'region'],
      ];
      for (const [body, field] of cases) {
        const answer = await call('POST', '/v1/jobs', body);
        assert.equal(answer.status, 400, `${JSON.stringify(body)}: ${JSON.stringify(answer.body)}`);
        assert.deepEqual(Object.keys(answer.body), ['error'], JSON.stringify(answer.body));
        assert.ok(answer.body.error.includes(field), `${JSON.stringify(body)}: ${answer.body.error}`);
      }
      assert.match((await call('POST', '/v1/jobs', { static: false })).body.error, /only static entry point jobs/);
      assert.match((await call('POST', '/v1/jobs', { static: true, outputs: [{}] })).body.error, /push outputs of live jobs are not supported yet/);
      for (const query of ['page_size=0', 'page_size=1001', 'page_size=x', 'state=live', 'start_token=nonsense', 'colour=red']) {
        const answer = await call('GET', `/v1/jobs?${query}`);
        assert.equal(answer.status, 400, `${query}: ${JSON.stringify(answer.body)}`);
        assert.ok(answer.body.error.includes(query.split('=')[0]), `${query}: ${answer.body.error}`);
      }
    });

    test('the API document: every /v1/jobs route answers the key holder only, and documents its errors in the {"error"} form', async () => {
      const paths = (await call('GET', '/openapi.json')).body.paths;
      const expected: Record<string, string[]> = {
        'post /v1/jobs': ['201', '400', '401', '409'], 'get /v1/jobs': ['200', '400', '401'], 'get /v1/jobs/{id}': ['200', '400', '401', '404'],
        'put /v1/jobs/{id}/activate': ['200', '400', '401', '404', '409', '503'], 'put /v1/jobs/{id}/deactivate': ['200', '401', '404', '408', '409', '503'],
        'put /v1/jobs/{id}/cancel': ['200', '401', '404', '409'], 'post /v1/jobs/{id}/stream_key/rotate': ['200', '401', '404', '409'],
      };
      for (const [route, codes] of Object.entries(expected)) {
        const [method, path] = route.split(' ');
        const operation = paths[path]?.[method];
        assert.ok(operation, route);
        assert.deepEqual(operation.security, [{ apiKey: [] }], route);
        for (const code of codes) assert.ok(operation.responses[code], `${route} documents ${code}`);
        const error = (code: string) => JSON.stringify(operation.responses[code].content['application/json'].schema.properties);
        assert.match(error('401'), /"message"/, route);
        assert.match(error('400'), /"error"/, route);
      }
      assert.match(paths['/v1/jobs/{id}/deactivate'].put.responses['503'].description, /stays pending_deactivation/, 'a deactivation its node cannot be reached for');
      assert.match(paths['/v1/jobs/{id}/activate'].put.responses['409'].description, /being deactivated/);
    });

    test('unknown ids: 404 {"error"}, whether or not they are 32 hex', async () => {
      for (const id of ['0123456789abcdef0123456789abcdef', 'not-a-job']) {
        for (const [method, path] of [['GET', ''], ['PUT', '/activate'], ['PUT', '/deactivate'], ['PUT', '/cancel'], ['POST', '/stream_key/rotate']]) {
          const answer = await call(method, `/v1/jobs/${id}${path}`);
          assert.equal(answer.status, 404, `${method} ${id}${path}`);
          assert.deepEqual(Object.keys(answer.body), ['error']);
        }
      }
    });

    test('without X-API-KEY: 401 {"message":"Unauthorized"}, reads included', async () => {
      const job = (await call('POST', '/v1/jobs', { static: true })).body;
      for (const [method, path] of [['POST', '/v1/jobs'], ['GET', '/v1/jobs'], ['GET', `/v1/jobs/${job.id}`], ['PUT', `/v1/jobs/${job.id}/activate`],
        ['PUT', `/v1/jobs/${job.id}/cancel`], ['POST', `/v1/jobs/${job.id}/stream_key/rotate`]]) {
        for (const headers of [{}, { 'x-api-key': 'wrong' }] as Array<Record<string, string>>) {
          const answer = await server.request(method, path, method === 'POST' && path === '/v1/jobs' ? { static: true } : undefined, headers);
          assert.deepEqual([answer.status, answer.body], [401, { message: 'Unauthorized' }], `${method} ${path}`);
        }
      }
      assert.equal((await call('GET', `/v1/jobs/${job.id}`)).body.state, 'standby', 'nothing changed');
    });

    test('list: newest first, state filter, next_token walks every job once, a bad token is a 400', async () => {
      const made: string[] = [];
      for (let i = 0; i < 7; i++) made.push((await call('POST', '/v1/jobs', { static: true, name: `list ${i}` })).body.id);
      for (const id of made.slice(0, 2)) assert.equal((await call('PUT', `/v1/jobs/${id}/cancel`)).status, 200);
      const all = (await call('GET', '/v1/jobs?page_size=1000')).body;
      assert.equal(all.next_token, null);
      const created = all.jobs.map((j: any) => j.created_at);
      assert.deepEqual(created, [...created].sort((a: number, b: number) => b - a), 'newest first');
      const walked: string[] = [];
      let token: string | null = null;
      let pages = 0;
      do {
        const page: any = (await call('GET', `/v1/jobs?page_size=3${token ? `&start_token=${token}` : ''}`)).body;
        assert.ok(page.jobs.length <= 3);
        walked.push(...page.jobs.map((j: any) => j.id));
        token = page.next_token;
        pages++;
      } while (token);
      assert.deepEqual(walked, all.jobs.map((j: any) => j.id), 'the pages make the whole list, in order, without duplicates');
      assert.equal(pages, Math.ceil(all.jobs.length / 3));
      assert.equal(new Set(walked).size, walked.length);
      assert.equal((await call('GET', '/v1/jobs')).body.jobs.length, Math.min(10, all.jobs.length), 'page_size 10 by default');

      const cancelled = (await call('GET', '/v1/jobs?state=cancelled&page_size=1000')).body.jobs.map((j: any) => j.id);
      for (const id of made.slice(0, 2)) assert.ok(cancelled.includes(id));
      assert.ok(!cancelled.some((id: string) => made.slice(2).includes(id)));
      const either = (await call('GET', '/v1/jobs?state=standby,cancelled&page_size=1000')).body.jobs;
      assert.ok(either.every((j: any) => ['standby', 'cancelled'].includes(j.state)));
      assert.ok(made.every((id) => either.some((j: any) => j.id === id)));
      const forged = Buffer.from(JSON.stringify([Date.now(), 'zz'])).toString('base64url');
      assert.match((await call('GET', `/v1/jobs?start_token=${forged}`)).body.error, /start_token/);
      const workflows = pageTokens('jobstartstop workflows').write({ at: all.jobs[0].created_at, id: all.jobs[0].id });
      const refused = await call('GET', `/v1/jobs?start_token=${workflows}`);
      assert.deepEqual([refused.status, refused.body.error], [400, 'querystring.start_token: is not a next_token this list gave'], 'another list\'s token');
    });

    test('cancel: deactivates, cancelled/cancelled, removes the channel, stays readable; again is a 409; then activate is a 409', async () => {
      const job = (await call('POST', '/v1/jobs', { static: true })).body;
      assert.equal((await call('PUT', `/v1/jobs/${job.id}/activate`)).body.sep_state, 'waiting');
      const cancelled = await call('PUT', `/v1/jobs/${job.id}/cancel`);
      assert.equal(cancelled.status, 200);
      assert.deepEqual([cancelled.body.state, cancelled.body.sep_state, cancelled.body.ingest.stream_key], ['cancelled', 'cancelled', '']);
      assert.deepEqual(cancelled.body.history.map((c: any) => c.sep_state).slice(-4), ['pending_deactivation', 'deactivation_in_progress', 'ready', 'cancelled']);
      assert.equal((await call('GET', `/channels/${job.channel}`)).status, 404, 'its channel is gone');
      assert.equal((await call('GET', `/v1/jobs/${job.id}`)).body.state, 'cancelled');
      const again = await call('PUT', `/v1/jobs/${job.id}/cancel`);
      assert.equal(again.status, 409);
      assert.deepEqual(Object.keys(again.body), ['error']);
      assert.equal((await call('PUT', `/v1/jobs/${job.id}/activate`)).status, 409);
      assert.equal((await call('POST', `/v1/jobs/${job.id}/stream_key/rotate`)).status, 409);
      assert.equal((await call('PUT', `/v1/jobs/${job.id}/deactivate`)).body.state, 'cancelled', 'deactivating a cancelled job answers it as it is');
    });

    test('rotate: a new key, 409 "deactivate the job first" while active', async () => {
      const job = (await call('POST', '/v1/jobs', { static: true })).body;
      const rotated = await call('POST', `/v1/jobs/${job.id}/stream_key/rotate`);
      assert.equal(rotated.status, 200);
      assert.equal(rotated.headers.get('cache-control'), 'no-store');
      assert.match(rotated.body.ingest.stream_key, /^[A-Za-z0-9_-]{32}$/);
      assert.notEqual(rotated.body.ingest.stream_key, job.ingest.stream_key);
      assert.equal(rotated.body.ingest.port, job.ingest.port);
      assert.equal(rotated.body.history.at(-1).reason, 'stream key rotated');
      assert.equal((await server.onair.gate.gate.ingest(job.channel)).streamKey, rotated.body.ingest.stream_key);
      await call('PUT', `/v1/jobs/${job.id}/activate`);
      const busy = await call('POST', `/v1/jobs/${job.id}/stream_key/rotate`);
      assert.equal(busy.status, 409);
      assert.match(busy.body.error, /deactivate the job first/);
      assert.equal((await call('PUT', `/v1/jobs/${job.id}/deactivate`)).body.state, 'standby');
    });

    test('history keeps the last 200 changes', async () => {
      const job = (await call('POST', '/v1/jobs', { static: true })).body;
      for (let i = 0; i < 204; i++) assert.equal((await call('POST', `/v1/jobs/${job.id}/stream_key/rotate`)).status, 200);
      const history = (await call('GET', `/v1/jobs/${job.id}`)).body.history;
      assert.equal(history.length, 200);
      assert.ok(history.every((c: any) => c.reason === 'stream key rotated'), 'the oldest went first');
    });

    test('an activation for a programme instance records to it; the gate ending the session ends the activation', async () => {
      const job = (await call('POST', '/v1/jobs', { static: true, record: true, format: 'mpegts' })).body;
      const show = (await call('POST', '/shows', { title: 'Live jobs' })).body;
      const start = new Date().toISOString().slice(0, 19);
      const event = (await call('POST', '/events', { showId: show.id, type: 'live', start, duration: 3600, timezone: 'UTC' })).body;
      const instance = { event: event.id, start };
      const opened = await server.onair.live.jobs.activate(job.id, { instance, by: 'automation' });
      assert.deepEqual([opened.state, opened.history.at(-1)!.reason, opened.history.at(-1)!.by], ['waiting', 'activated', 'automation']);
      const availability = await server.onair.gate.gate.availability(job.channel);
      assert.deepEqual(availability.instance, instance);
      const [stream] = (await server.onair.gate.gate.streams()).filter((s) => s.channel === job.channel);
      assert.deepEqual([stream.record, stream.format], [true, 'mpegts']);
      await server.onair.gate.gate.terminate(availability.session!, 'terminated');
      const ended = await waitFor(async () => {
        const now = (await call('GET', `/v1/jobs/${job.id}`)).body;
        return now.sep_state === 'ready' ? now : undefined;
      }, 'the job to follow the gate');
      assert.deepEqual([ended.state, ended.history.at(-1).reason, ended.history.at(-1).by], ['standby', 'the stream ended: terminated', 'onair']);
    });

    test('the gate\'s events: only those of the job\'s current session count; stream-failed fails the job', async () => {
      const job = (await call('POST', '/v1/jobs', { static: true })).body;
      await call('PUT', `/v1/jobs/${job.id}/activate`);
      const { session } = await server.onair.gate.gate.availability(job.channel);
      const { bus, database } = server.onair;
      const failed = (of: string, reason: string) => bus.record(database.kysely, 'stream-failed', [{ channel: job.channel, session: of, reason } as StreamStatus]);
      await failed('a-session-of-before', 'not this one');
      await failed(session!, 'ffmpeg fell over');
      const now = await waitFor(async () => {
        const current = (await call('GET', `/v1/jobs/${job.id}`)).body;
        return current.sep_state === 'ready' ? current : undefined;
      }, 'the job to fail');
      assert.deepEqual([now.state, now.history.at(-1).reason], ['failed', 'the stream failed: ffmpeg fell over']);
      assert.equal(now.history.filter((c: any) => c.state === 'failed').length, 1, 'the other session\'s event changed nothing');
      await server.onair.gate.gate.deactivate(job.channel);
      assert.equal((await call('PUT', `/v1/jobs/${job.id}/activate`)).body.state, 'waiting', 'failed is not final');
      assert.equal((await call('PUT', `/v1/jobs/${job.id}/deactivate`)).body.state, 'standby');
    });

    test('activate and deactivate: the steps in history, already active or not active answers as is, every change on /sse without the key', async () => {
      const sse = await jobChanges(server.url, auth);
      const job = (await call('POST', '/v1/jobs', { static: true, record: true })).body;
      const activated = await call('PUT', `/v1/jobs/${job.id}/activate`);
      assert.equal(activated.status, 200);
      assert.deepEqual([activated.body.state, activated.body.sep_state], ['waiting', 'waiting']);
      assert.equal((await server.onair.gate.gate.availability(job.channel)).state, 'reserved', 'the gate listens for the encoder');
      assert.deepEqual((await call('PUT', `/v1/jobs/${job.id}/activate`)).body.history, activated.body.history, 'already active: as it is');
      const deactivated = await call('PUT', `/v1/jobs/${job.id}/deactivate`);
      assert.deepEqual([deactivated.body.state, deactivated.body.sep_state], ['standby', 'ready']);
      assert.equal((await server.onair.gate.gate.availability(job.channel)).state, 'idle');
      assert.deepEqual((await call('PUT', `/v1/jobs/${job.id}/deactivate`)).body.history, deactivated.body.history, 'not active: as it is');
      const steps = deactivated.body.history.map((c: any) => [c.state, c.sep_state]);
      assert.deepEqual(steps, [
        ['standby', 'ready'], ['standby', 'pending_activation'], ['standby', 'activation_in_progress'], ['waiting', 'waiting'],
        ['waiting', 'pending_deactivation'], ['waiting', 'deactivation_in_progress'], ['standby', 'ready'],
      ]);
      assert.match(deactivated.body.history[3].reason, /without recording/, 'record without a programme instance');

      await waitFor(() => sse.of(job.id).length >= 7, 'the seven changes on /sse');
      await sse.close();
      const changes = sse.of(job.id);
      assert.deepEqual(changes.map((view) => view.history.at(-1)), deactivated.body.history, 'one event per change, in order');
      assert.ok(changes.every((view) => view.ingest.stream_key === undefined && view.ingest.port === job.ingest.port));
      assert.ok(!JSON.stringify(sse.frames).includes(job.ingest.stream_key), 'the key is in no event');
    });
  });
}

describe('max_waiting_time on the injected clock', () => {
  let server: Running;
  const clock = new ManualClock(Date.now());
  before(async () => {
    server = await startOnair({ database: testDatabases[0], clock, env: JOBS_ENV });
  });
  after(() => server.stop());

  test('no encoder within max_waiting_time: standby/ready by itself, with its reason', async () => {
    const job = (await server.request('POST', '/v1/jobs', { static: true, max_waiting_time: 1 })).body;
    await server.request('PUT', `/v1/jobs/${job.id}/activate`);
    clock.advance(999);
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal((await server.request('GET', `/v1/jobs/${job.id}`)).body.state, 'waiting', 'still waiting a millisecond before');
    clock.advance(1);
    const ended = await waitFor(async () => {
      const now = (await server.request('GET', `/v1/jobs/${job.id}`)).body;
      return now.sep_state === 'ready' && now;
    }, 'the job to deactivate itself');
    assert.deepEqual([ended.state, ended.history.at(-1).reason, ended.history.at(-1).by], ['standby', 'no encoder within max_waiting_time', 'onair']);
    assert.equal((await server.onair.gate.gate.availability(job.channel)).state, 'idle');
  });

  test('a failed activation: state failed, sep_state ready, the error in history; activating again works', async () => {
    const job = (await server.request('POST', '/v1/jobs', { static: true })).body;
    // The gate cannot open a channel that is open already: an activation of the gate's own takes it first.
    await server.onair.gate.gate.activate(job.channel);
    const refused = await server.request('PUT', `/v1/jobs/${job.id}/activate`);
    assert.equal(refused.status, 409, JSON.stringify(refused.body));
    const failed = (await server.request('GET', `/v1/jobs/${job.id}`)).body;
    assert.deepEqual([failed.state, failed.sep_state], ['failed', 'ready']);
    assert.match(failed.history.at(-1).reason, /^activation failed: /);
    await server.onair.gate.gate.deactivate(job.channel);
    await server.onair.gate.gate.waitUntilFree(job.channel);
    const again = await server.request('PUT', `/v1/jobs/${job.id}/activate`);
    assert.deepEqual([again.status, again.body.state, again.body.sep_state], [200, 'waiting', 'waiting']);
    await server.request('PUT', `/v1/jobs/${job.id}/deactivate`);
  });
});
