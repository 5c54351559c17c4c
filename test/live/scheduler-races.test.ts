import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { ManualClock } from '../../src/core/clock.ts';
import { taskId } from '../../src/live/scheduler.ts';
import { postgresAvailable, postgresDatabase, testDatabases } from '../support/databases.ts';
import { tempDir, waitFor, type Running } from '../support/onair.ts';
import { startReceiver, type Receiver } from '../webhooks/receiver.ts';
import { createJob, jobState, PATH, reaches, refused, schedule, SEED_NOW, startLive, workflow } from './scheduler-support.ts';

const HOUR = 3600;

for (const database of testDatabases) {
  describe(`jobstartstop under concurrency and lost tasks (${database.name})`, () => {
    let server: Running;
    let clock: ManualClock;
    let receiver: Receiver;
    before(async () => {
      clock = new ManualClock(SEED_NOW);
      server = await startLive(database, clock);
      receiver = await startReceiver();
    });
    after(async () => {
      await server.stop();
      await receiver.close();
    });

    test('30 parallel POSTs of one window of one job (a notification URL whose host is looked up): one is stored, the others refused', async () => {
      const job = (await createJob(server)).id;
      const now = clock.now() / 1000;
      const body = { job_id: job, activation: { time_utc: now + HOUR }, deactivation: { time_utc: now + 2 * HOUR }, notification_url: receiver.url.replace('127.0.0.1', 'localhost') };
      const answers = await Promise.all(Array.from({ length: 30 }, () => server.request('POST', PATH, body)));
      const made = answers.filter((answer) => answer.status === 200);
      assert.equal(made.length, 1, `stored: ${answers.map((answer) => answer.status).join(' ')}`);
      for (const answer of answers.filter((a) => a.status !== 200)) refused(answer, 400, 'body.activation.time_utc', made[0]!.body.workflow_id);
      const listed = await server.request('GET', `${PATH}?job_id=${job}&page_size=100`);
      assert.deepEqual(listed.body.workflows.map((w: any) => w.workflow_id), [made[0]!.body.workflow_id]);
    });

    test('parallel PUTs moving two workflows of one job onto one window: one moves, the other is refused', async () => {
      const job = (await createJob(server)).id;
      const now = clock.now() / 1000;
      const first = await schedule(server, job, now + 10 * HOUR, now + 11 * HOUR);
      const second = await schedule(server, job, now + 12 * HOUR, now + 13 * HOUR);
      const window = { activation: { time_utc: now + 5 * HOUR }, deactivation: { time_utc: now + 6 * HOUR } };
      const answers = await Promise.all([first, second].map((w) => server.request('PUT', `${PATH}/${w.workflow_id}`, window)));
      assert.deepEqual(answers.map((answer) => answer.status).sort(), [200, 400], JSON.stringify(answers.map((answer) => answer.body)));
      refused(answers.find((answer) => answer.status === 400)!, 400, 'body.activation.time_utc', 'overlaps');
    });

    test('a PUT moving only the activation past the deactivation names body.activation.time_utc', async () => {
      const job = (await createJob(server)).id;
      const now = clock.now() / 1000;
      const made = await schedule(server, job, now + 20 * HOUR, now + 21 * HOUR);
      refused(await server.request('PUT', `${PATH}/${made.workflow_id}`, { activation: { time_utc: now + 22 * HOUR } }), 400, 'body.activation.time_utc', 'before deactivation.time_utc');
      refused(await server.request('PUT', `${PATH}/${made.workflow_id}`, { deactivation: { time_utc: now + 19 * HOUR } }), 400, 'body.deactivation.time_utc', 'after activation.time_utc');
    });

    test('the list refuses a /v1/jobs next_token (400)', async () => {
      for (let i = 0; i < 2; i++) await createJob(server);
      const jobs = await server.request('GET', '/v1/jobs?page_size=1');
      assert.equal(jobs.status, 200, JSON.stringify(jobs.body));
      assert.equal(typeof jobs.body.next_token, 'string');
      refused(await server.request('GET', `${PATH}?start_token=${encodeURIComponent(jobs.body.next_token)}`), 400, 'start_token');
    });
  });

  test(`a step whose task was cancelled by hand is submitted again under a new revision at start, and fires (${database.name})`, async () => {
    const dataDir = tempDir();
    const databaseUrl = await database.create();
    const clock = new ManualClock(SEED_NOW);
    let server = await startLive(database, clock, { dataDir, databaseUrl });
    try {
      const job = (await createJob(server)).id;
      const start = clock.now() / 1000 + 60;
      const made = await schedule(server, job, start, start + 600);
      assert.equal((await server.request('DELETE', `/tasks/${taskId(made.workflow_id, 0, 'activate')}`)).status, 200);
      await server.stop();
      server = await startLive(database, clock, { dataDir, databaseUrl });
      const task = await server.onair.tasks.service.get(taskId(made.workflow_id, 1, 'activate'));
      assert.equal(task?.dueAt, start * 1000 - server.config.live.openLeadMs, 'submitted again under revision 1');
      clock.set(start * 1000);
      await reaches(server, made.workflow_id, 'activation', 'finished');
      assert.equal(await jobState(server, job), 'waiting');
      clock.set((start + 600) * 1000);
      await reaches(server, made.workflow_id, 'deactivation', 'finished');
      assert.equal(await jobState(server, job), 'standby');
    } finally {
      await server.stop();
      await database.drop(databaseUrl);
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
}

/**
 * The activation is held inside the job's activation (the test holds the job's row lock on PostgreSQL) after its task
 * has claimed the step: the task is even cancelled by hand meanwhile (its run goes on), yet PUT and DELETE must lose.
 */
test('PUT and DELETE while the activation is firing answer 409; the job opens and its deactivation still closes it (postgres)', { skip: !postgresAvailable && 'no PostgreSQL' }, async () => {
  const databaseUrl = (await postgresDatabase.create())!;
  const clock = new ManualClock(SEED_NOW);
  const server = await startLive(postgresDatabase, clock, { databaseUrl });
  const holder = new pg.Client({ connectionString: databaseUrl });
  await holder.connect();
  let held = false;
  try {
    const job = (await createJob(server)).id;
    const start = clock.now() / 1000 + 60;
    const made = await schedule(server, job, start, start + 600);
    await holder.query('BEGIN');
    await holder.query('SELECT id FROM live_jobs WHERE id = $1 FOR UPDATE', [job]);
    held = true;
    clock.set(start * 1000);
    // Claimed (fired_at set) and held inside the job's activation, which waits for the job's row.
    await waitFor(async () => (await workflow(server, made.workflow_id)).activation.fired_at !== undefined, 'the activation to claim its step', 20_000);
    await waitFor(async () => {
      const waiting = await holder.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE pg_backend_pid() = ANY(pg_blocking_pids(pid))');
      return waiting.rows[0].n > 0;
    }, 'the activation waiting on the job', 20_000);
    assert.equal((await server.request('DELETE', `/tasks/${taskId(made.workflow_id, 0, 'activate')}`)).status, 200, 'cancelled by hand while it runs');
    refused(await server.request('PUT', `${PATH}/${made.workflow_id}`, { activation: { time_utc: start + 300 } }), 409, 'activation');
    refused(await server.request('DELETE', `${PATH}/${made.workflow_id}`), 409, 'activation');
    await holder.query('COMMIT');
    held = false;
    const activated = await reaches(server, made.workflow_id, 'activation', 'finished');
    assert.equal(activated.activation.time_utc, start, 'not moved');
    assert.equal(activated.deactivation.state, 'pending');
    assert.equal(await jobState(server, job), 'waiting', 'the job is open');
    clock.set((start + 600) * 1000);
    await reaches(server, made.workflow_id, 'deactivation', 'finished');
    assert.equal(await jobState(server, job), 'standby', 'and closed by the deactivation');
    assert.equal((await workflow(server, made.workflow_id)).activation.state, 'finished');
  } finally {
    if (held) await holder.query('ROLLBACK');
    await holder.end();
    await server.stop();
    await postgresDatabase.drop(databaseUrl);
  }
});
