import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ManualClock } from '../../src/core/clock.ts';
import { postgresAvailable } from '../support/databases.ts';
import { waitFor } from '../support/onair.ts';
import { TwoNodes } from './jobs-support.ts';

/** Two instances sharing PostgreSQL: a job's ingest lives on the node that created it. */
describe('a job of another node (PostgreSQL, two instances)', { skip: !postgresAvailable }, () => {
  /** The other node's clock: its wait for the job's node moves only when told. */
  const clock = new ManualClock(Date.now());
  const nodes = new TwoNodes(clock);
  before(() => nodes.start());
  after(() => nodes.stop());

  test('activate on the other node opens it on its own node through a pinned task; deactivate works from anywhere', async () => {
    const job = (await nodes.home.request('POST', '/v1/jobs', { static: true })).body;
    assert.equal(job.node, 'home');
    // Asked on the other node, the ingest is where an encoder reaches the job's node: the directory's address of it.
    const seen = (await nodes.other.request('GET', `/v1/jobs/${job.id}`)).body;
    assert.deepEqual([seen.ingest.host, seen.ingest.port, seen.ingest.url], ['home.example.org', job.ingest.port, job.ingest.url.replace('//127.0.0.1:', '//home.example.org:')]);
    const activated = await nodes.other.request('PUT', `/v1/jobs/${job.id}/activate`);
    assert.deepEqual([activated.status, activated.body.state, activated.body.sep_state], [200, 'waiting', 'waiting'], JSON.stringify(activated.body));
    const availability = await nodes.home.onair.gate.gate.availability(job.channel);
    assert.equal(availability.state, 'reserved');
    const [task] = await waitFor(() => (nodes.tasks.length >= 1 ? nodes.tasks : undefined), 'the task');
    const record = (await nodes.home.onair.tasks.service.get((task.data as { id: string }).id))!;
    assert.deepEqual([record.task.node, record.status, record.result], ['home', 'completed', { job: job.id, state: 'waiting', sep_state: 'waiting' }]);
    assert.ok(!JSON.stringify(record).includes(job.ingest.stream_key), 'the key is not in the task');
    const again = await nodes.other.request('PUT', `/v1/jobs/${job.id}/activate`);
    assert.deepEqual([again.status, again.body.history], [200, activated.body.history], 'already active: as it is');
    assert.equal(nodes.tasks.filter((e) => (e.data as { status: string }).status === 'queued').length, 1, 'without another task');
    const deactivated = await nodes.other.request('PUT', `/v1/jobs/${job.id}/deactivate`);
    assert.deepEqual([deactivated.body.state, deactivated.body.sep_state], ['standby', 'ready']);
    assert.equal((await nodes.home.onair.gate.gate.availability(job.channel)).state, 'idle');
  });

  test('the job\'s node does not answer within 10 s: the task is cancelled and the activation is a 503 naming node and job', async () => {
    const job = (await nodes.home.request('POST', '/v1/jobs', { static: true })).body;
    await nodes.home.stop();
    nodes.tasks.length = 0;
    const asked = nodes.other.request('PUT', `/v1/jobs/${job.id}/activate`);
    const [queued] = await waitFor(() => (nodes.tasks.length >= 1 ? nodes.tasks : undefined), 'the task to be queued');
    clock.advance(10_000);
    const answer = await asked;
    assert.deepEqual([answer.status, answer.body], [503, { error: `node home did not open job ${job.id} within 10 s` }]);
    const record = (await nodes.other.onair.tasks.service.get((queued.data as { id: string }).id))!;
    assert.equal(record.status, 'cancelled');
    assert.equal((await nodes.other.request('GET', `/v1/jobs/${job.id}`)).body.sep_state, 'ready', 'nothing changed');
  });
});
