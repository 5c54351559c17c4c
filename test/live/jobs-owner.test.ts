import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { ManualClock } from '../../src/core/clock.ts';
import { postgresAvailable } from '../support/databases.ts';
import { waitFor } from '../support/onair.ts';
import { TwoNodes } from './jobs-support.ts';

/** Two instances sharing PostgreSQL; the job's node (home) is out of reach, or slow to open it. */
describe('a job whose node is gone or slow (PostgreSQL, two instances)', { skip: !postgresAvailable }, () => {
  /** The other node's clock: its waits for the job's node move only when told. */
  const clock = new ManualClock(Date.now());
  const nodes = new TwoNodes(clock);
  before(() => nodes.start());
  after(() => nodes.stop());

  const db = () => nodes.other.onair.database.kysely as any;
  const get = async (id: string) => (await nodes.other.request('GET', `/v1/jobs/${id}`)).body;

  test('a deactivation its node cannot be reached for keeps the job pending_deactivation; the node closes it when back, never opens it', async () => {
    const job = (await nodes.home.request('POST', '/v1/jobs', { static: true })).body;
    assert.equal((await nodes.home.request('PUT', `/v1/jobs/${job.id}/activate`)).body.sep_state, 'waiting');
    // As kill -9 leaves it: the session still holds the channel for a node that does not answer.
    const slot = await db().selectFrom('gate_slots').selectAll().where('channel', '=', job.channel).executeTakeFirstOrThrow();
    await nodes.home.stop();
    let answer, waiting, activation;
    try {
      await db().updateTable('gate_sessions').set({ ended_at: null, state: 'reserved', reason: null }).where('id', '=', slot.session_id).execute();
      await db().insertInto('gate_slots').values({ ...slot, heartbeat_at: clock.now() }).execute();
      let answered = false;
      const asked = nodes.other.request('PUT', `/v1/jobs/${job.id}/deactivate`).finally(() => {
        answered = true;
      });
      // The gate waits 5 s (on this clock) for the job's node to end the session.
      await waitFor(() => {
        if (!answered) clock.advance(1000);
        return answered;
      }, 'the deactivation to give up on the node');
      answer = await asked;
      waiting = await get(job.id);
      activation = await nodes.other.request('PUT', `/v1/jobs/${job.id}/activate`);
    } finally {
      // Home comes back after its crash: its start finishes what it left.
      nodes.home = await nodes.startHome();
    }
    const closed = await get(job.id);
    assert.deepEqual([closed.state, closed.sep_state, closed.history.at(-1).reason], ['standby', 'ready', 'deactivated (finished after a restart)'], JSON.stringify(closed.history));
    assert.ok(!closed.history.some((c: { reason: string }) => c.reason === 'opened again after a restart'));
    assert.equal(answer.status, 503, JSON.stringify(answer.body));
    assert.match(answer.body.error, new RegExp(`^Job ${job.id} will be deactivated when node home is back: Node home did not end session`));
    assert.equal(waiting.sep_state, 'pending_deactivation', JSON.stringify(waiting.history));
    assert.deepEqual([activation.status, activation.body], [409, { error: `Job ${job.id} is being deactivated` }]);
    assert.equal((await nodes.home.onair.gate.gate.availability(job.channel)).state, 'idle');
  });

  /** Holds the job's row locked (PostgreSQL) until released: the job's node blocks at its first change of the job. */
  async function lockJob(id: string) {
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let locked!: () => void;
    const taken = new Promise<void>((resolve) => {
      locked = resolve;
    });
    const holding = db().transaction().execute(async (trx: any) => {
      await trx.selectFrom('live_jobs').select('id').where('id', '=', id).forUpdate().execute();
      locked();
      await released;
    });
    await taken;
    return async () => {
      release();
      await holding;
    };
  }

  /**
   * The task of an activation asked on the other node, once home runs it and waits for the row's lock. Its due time is
   * the other node's clock, which earlier tests moved ahead of home's: home may take some seconds to claim it.
   */
  async function running(from: number) {
    const task = await waitFor(() => nodes.tasks.slice(from).find((e) => (e.data as { status: string }).status === 'running'), 'the task to run on home', 40_000);
    await waitFor(async () => {
      const { rows } = await sql`select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and query like '%live_jobs%'`.execute(db());
      return (rows[0] as { n: number }).n > 0;
    }, 'home to wait for the job\'s row');
    return task.data as { id: string };
  }

  test('an activation through another node whose task is running after 10 s is waited for, not cancelled nor told as failed', async () => {
    const job = (await nodes.home.request('POST', '/v1/jobs', { static: true })).body;
    const release = await lockJob(job.id);
    const from = nodes.tasks.length;
    const asked = nodes.other.request('PUT', `/v1/jobs/${job.id}/activate`);
    const task = await running(from);
    clock.advance(10_000);
    await release();
    const answer = await asked;
    assert.deepEqual([answer.status, answer.body.sep_state], [200, 'waiting'], JSON.stringify(answer.body));
    assert.equal((await nodes.other.onair.tasks.service.get(task.id))!.status, 'completed');
    assert.equal((await nodes.home.onair.gate.gate.availability(job.channel)).state, 'reserved');
    assert.equal((await nodes.other.request('PUT', `/v1/jobs/${job.id}/deactivate`)).body.sep_state, 'ready');
  });

  test('an activation task cancelled before it opens the job does not open it', async () => {
    const job = (await nodes.home.request('POST', '/v1/jobs', { static: true })).body;
    const release = await lockJob(job.id);
    const from = nodes.tasks.length;
    const asked = nodes.other.request('PUT', `/v1/jobs/${job.id}/activate`);
    const task = await running(from);
    await nodes.other.onair.tasks.service.cancel(task.id);
    await release();
    const answer = await asked;
    assert.equal(answer.status, 503, JSON.stringify(answer.body));
    let last: any;
    const now = await waitFor(async () => {
      last = await get(job.id);
      return last.sep_state === 'ready' && last.history.length > 1 && last;
    }, 'the cancelled activation to be over').catch((error) => assert.fail(`${error.message}: ${JSON.stringify(last.history)}`));
    assert.deepEqual([now.state, now.history.at(-1).reason], ['standby', 'activation cancelled'], JSON.stringify(now.history));
    assert.equal((await nodes.home.onair.gate.gate.availability(job.channel)).state, 'idle');
  });
});
