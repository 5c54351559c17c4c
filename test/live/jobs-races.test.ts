import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { NotFound } from '../../src/core/errors.ts';
import { Backend, appsSetting } from '../hooks/backend.ts';
import { testDatabases } from '../support/databases.ts';
import { startOnair, waitFor, type Running } from '../support/onair.ts';
import { JOBS_ENV } from './jobs-support.ts';

/** What a job's history tells, oldest first. */
const reasons = (job: { history: Array<{ sep_state: string; reason: string }> }) => job.history.map((c) => `${c.sep_state}: ${c.reason}`);

/** A gate answer held until the test lets it go. */
function held() {
  let release!: () => void;
  const until = new Promise<void>((resolve) => {
    release = resolve;
  });
  return { until, release };
}

for (const database of testDatabases) {
  describe(`live jobs when changes cross (${database.name})`, () => {
    let server: Running;
    let backend: Backend;
    before(async () => {
      // The hook backend is asked before the gate opens a job: holding its answer holds the opening.
      backend = await Backend.start();
      server = await startOnair({ database, env: { ...JOBS_ENV, ONAIR_HOOK_APPS: appsSetting({ name: 'station', url: backend.url, methods: ['connect'] }) } });
    });
    beforeEach(() => backend.reset());
    after(async () => {
      await server.stop();
      await backend.close();
    });

    const get = async (id: string) => (await server.request('GET', `/v1/jobs/${id}`)).body;

    /** Activates a new job with the gate's opening held; answers the job and the pending answer. */
    async function opening(hook: { status?: number }) {
      const job = (await server.request('POST', '/v1/jobs', { static: true })).body;
      const gate = held();
      backend.answer('connect', { until: gate.until, body: hook });
      const calls = backend.of('connect').length;
      const activation = server.request('PUT', `/v1/jobs/${job.id}/activate`);
      await waitFor(() => backend.of('connect').length > calls, 'the gate to ask the hook backend');
      assert.equal((await get(job.id)).sep_state, 'activation_in_progress');
      return { job, activation, release: gate.release };
    }

    for (const [outcome, hook] of [['fails', { status: 403 }], ['opens', {}]] as const) {
      test(`an opening that ${outcome} after a deactivation meanwhile leaves the job deactivated, and its caller gets a 409`, async () => {
        const { job, activation, release } = await opening(hook);
        const deactivated = await server.request('PUT', `/v1/jobs/${job.id}/deactivate`);
        assert.deepEqual([deactivated.status, deactivated.body.state, deactivated.body.sep_state], [200, 'standby', 'ready'], JSON.stringify(deactivated.body));
        release();
        const answer = await activation;
        assert.deepEqual([answer.status, answer.body], [409, { error: `Job ${job.id} was deactivated meanwhile` }]);
        const now = await get(job.id);
        assert.deepEqual([now.state, now.sep_state, now.history.at(-1).reason], ['standby', 'ready', 'deactivated'], reasons(now).join('\n'));
        assert.ok(!reasons(now).some((r) => r.includes('activation failed')), reasons(now).join('\n'));
        await waitFor(async () => (await server.onair.gate.gate.availability(job.channel)).state === 'idle', 'the channel to be free');
        backend.reset();
        const again = await server.request('PUT', `/v1/jobs/${job.id}/activate`);
        assert.deepEqual([again.status, again.body.sep_state], [200, 'waiting'], 'it opens again');
        assert.equal((await server.request('PUT', `/v1/jobs/${job.id}/deactivate`)).body.sep_state, 'ready');
      });
    }

    test('activate, deactivate, activate again while the first still opens: the first one\'s failure leaves the second alone', async () => {
      const job = (await server.request('POST', '/v1/jobs', { static: true })).body;
      const [first, second] = [held(), held()];
      const asked = backend.of('connect').length;
      backend.answer('connect', (_body, n) => (n === asked + 1 ? { until: first.until, body: { status: 403 } } : { until: second.until }));
      const firstAnswer = server.request('PUT', `/v1/jobs/${job.id}/activate`);
      await waitFor(() => backend.of('connect').length === asked + 1, 'the first opening to ask the hook backend');
      assert.equal((await server.request('PUT', `/v1/jobs/${job.id}/deactivate`)).body.sep_state, 'ready');
      const secondAnswer = server.request('PUT', `/v1/jobs/${job.id}/activate`);
      await waitFor(() => backend.of('connect').length === asked + 2, 'the second opening to ask the hook backend');
      first.release();
      assert.deepEqual(await firstAnswer.then((a) => [a.status, a.body]), [409, { error: `Job ${job.id} was deactivated meanwhile` }]);
      assert.equal((await get(job.id)).sep_state, 'activation_in_progress', 'the second opening goes on');
      second.release();
      const opened = await secondAnswer;
      assert.deepEqual([opened.status, opened.body.state, opened.body.sep_state], [200, 'waiting', 'waiting'], reasons(opened.body).join('\n'));
      assert.ok(!reasons(opened.body).some((r) => r.includes('activation failed')), reasons(opened.body).join('\n'));
      assert.equal((await server.onair.gate.gate.availability(job.channel)).state, 'reserved', 'open on the gate');
      assert.equal((await server.request('PUT', `/v1/jobs/${job.id}/deactivate`)).body.sep_state, 'ready');
    });

    test('activate while the job is being deactivated is a 409 "the job is being deactivated"', async () => {
      const job = (await server.request('POST', '/v1/jobs', { static: true })).body;
      for (const state of ['pending_deactivation', 'deactivation_in_progress']) {
        // As a deactivation waiting for the job's node leaves it.
        await server.onair.database.kysely.updateTable('live_jobs').set({ sep_state: state }).where('id', '=', job.id).execute();
        const answer = await server.request('PUT', `/v1/jobs/${job.id}/activate`);
        assert.deepEqual([answer.status, answer.body], [409, { error: `Job ${job.id} is being deactivated` }], state);
      }
    });

    test('a deactivation left pending (its node was out of reach) is finished when the job\'s session ends', async () => {
      const job = (await server.request('POST', '/v1/jobs', { static: true })).body;
      assert.equal((await server.request('PUT', `/v1/jobs/${job.id}/activate`)).body.sep_state, 'waiting');
      // As a deactivation that timed out waiting for the job's node leaves it.
      await server.onair.database.kysely.updateTable('live_jobs').set({ sep_state: 'pending_deactivation' }).where('id', '=', job.id).execute();
      await server.onair.gate.gate.deactivate(job.channel);
      let now: any;
      await waitFor(async () => {
        now = await get(job.id);
        return now.sep_state === 'ready';
      }, 'the job to be closed').catch((error) => assert.fail(`${error.message}: ${reasons(now).join(', ')}`));
      assert.deepEqual([now.state, now.history.at(-1).reason], ['standby', 'deactivated']);
    });

    test('a cancel that cannot remove the channel cancels nothing; the next one finishes it', async () => {
      const job = (await server.request('POST', '/v1/jobs', { static: true })).body;
      const gate = server.onair.gate.gate;
      // The channel is in use outside the job (opened on the gate itself): its removal is refused.
      await gate.activate(job.channel, { who: 'test' });
      const refused = await server.request('PUT', `/v1/jobs/${job.id}/cancel`);
      assert.equal((await get(job.id)).sep_state, 'ready', 'not cancelled');
      assert.deepEqual([refused.status, refused.body.error], [409, `Job ${job.id} is in use (activated meanwhile?): deactivate it, then cancel it`]);
      await gate.deactivate(job.channel);
      await waitFor(async () => (await gate.availability(job.channel)).state === 'idle', 'the channel to be free');
      const cancelled = await server.request('PUT', `/v1/jobs/${job.id}/cancel`);
      assert.deepEqual([cancelled.status, cancelled.body.sep_state], [200, 'cancelled'], JSON.stringify(cancelled.body));
      await assert.rejects(gate.ingest(job.channel), NotFound, 'the channel is gone');
      assert.equal((await server.request('PUT', `/v1/jobs/${job.id}/cancel`)).status, 409, 'cancelled already');
    });
  });
}
