import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { test } from 'node:test';
import pg from 'pg';
import { postgresAvailable, postgresDatabase, testDatabases } from '../support/databases.ts';
import { tempDir, waitFor } from '../support/onair.ts';
import { spawnOnair, type OnairProcess } from '../support/process.ts';
import { liveEnv, PATH } from './scheduler-support.ts';

/** The workflow as a running `onair serve` answers it. */
async function workflowOf(onair: OnairProcess, id: string): Promise<any> {
  const answer = await onair.request('GET', `${PATH}/${id}`);
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  return answer.body;
}

for (const database of testDatabases) {
  test(`kill -9 of onair serve between activation and deactivation: the deactivation still fires (${database.name})`, async () => {
    const dataDir = tempDir();
    const databaseUrl = await database.create();
    const env = { ...liveEnv({ ONAIR_SRT_PORT_START: '26500', ONAIR_SRT_PORT_END: '26599' }), ONAIR_DATA_DIR: dataDir, ...(databaseUrl ? { ONAIR_DATABASE_URL: databaseUrl } : {}) };
    let onair: OnairProcess | undefined;
    try {
      onair = await spawnOnair(env);
      const job = await onair.request('POST', '/v1/jobs', { static: true, max_waiting_time: 600 });
      assert.equal(job.status, 201, JSON.stringify(job.body));
      // Real time: whole seconds, a little ahead.
      const activation = Math.ceil(Date.now() / 1000) + 2;
      const deactivation = activation + 8;
      const made = await onair.request('POST', PATH, { job_id: job.body.id, activation: { time_utc: activation }, deactivation: { time_utc: deactivation } });
      assert.equal(made.status, 200, JSON.stringify(made.body));
      const id = made.body.workflow_id;
      const activated = await waitFor(async () => {
        const found = await workflowOf(onair!, id);
        return found.activation.state === 'finished' ? found : undefined;
      }, 'the activation', 15_000, 50);
      // The activation starts ONAIR_LIVE_OPEN_LEAD (250 ms by default) before time_utc, so that the ingest is open then.
      const late = Date.parse(activated.activation.fired_at) - activation * 1000;
      assert.ok(late >= -250, `not early: ${late} ms`);
      process.stdout.write(`# activation fired ${late} ms after its time_utc\n`);
      await onair.crash();
      onair = await spawnOnair(env);
      assert.equal((await workflowOf(onair, id)).deactivation.state, 'pending', 'the crash came before the deactivation');
      const done = await waitFor(async () => {
        const found = await workflowOf(onair!, id);
        return found.deactivation.state === 'finished' ? found : undefined;
      }, 'the deactivation after the restart', 20_000, 50);
      const lateDeactivation = Date.parse(done.deactivation.fired_at) - deactivation * 1000;
      assert.ok(lateDeactivation >= 0, 'not early');
      process.stdout.write(`# deactivation fired ${lateDeactivation} ms after its time_utc, after a kill -9 and a restart\n`);
      // Not left open. (Whether the restart opened the job again first is the jobs part's: under load its relay's
      // port was once still held by the killed run's ffmpeg, and the job ended `failed` before the deactivation.)
      const closed = (await onair.request('GET', `/v1/jobs/${job.body.id}`)).body;
      assert.ok(['standby', 'failed'].includes(closed.state), JSON.stringify(closed.history.slice(-6)));
      if (closed.state === 'standby') assert.equal(closed.history.at(-1).by, `workflow ${id}`);
    } finally {
      await onair?.stop();
      await database.drop(databaseUrl);
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
}

/**
 * The activation's task claims its step, then onair is killed while the job is being opened (the test holds the job's
 * row lock on PostgreSQL): the task resumed after the restart finishes the activation rather than skip it.
 */
test('kill -9 of onair serve while the activation is firing: the resumed task opens the job (postgres)', { skip: !postgresAvailable && 'no PostgreSQL' }, async () => {
  const dataDir = tempDir();
  const databaseUrl = (await postgresDatabase.create())!;
  const env = { ...liveEnv({ ONAIR_SRT_PORT_START: '26600', ONAIR_SRT_PORT_END: '26699' }), ONAIR_DATA_DIR: dataDir, ONAIR_DATABASE_URL: databaseUrl };
  const holder = new pg.Client({ connectionString: databaseUrl });
  let onair: OnairProcess | undefined;
  let held = false;
  try {
    onair = await spawnOnair(env);
    await holder.connect();
    const job = await onair.request('POST', '/v1/jobs', { static: true, max_waiting_time: 600 });
    assert.equal(job.status, 201, JSON.stringify(job.body));
    const activation = Math.ceil(Date.now() / 1000) + 2;
    const made = await onair.request('POST', PATH, { job_id: job.body.id, activation: { time_utc: activation }, deactivation: { time_utc: activation + 3600 } });
    assert.equal(made.status, 200, JSON.stringify(made.body));
    const id = made.body.workflow_id;
    await holder.query('BEGIN');
    await holder.query('SELECT id FROM live_jobs WHERE id = $1 FOR UPDATE', [job.body.id]);
    held = true;
    // Waiting on the holder itself, which holds the job's row alone: other lock waits (the outbox's) say nothing of it.
    await waitFor(async () => {
      const waiting = await holder.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE pg_backend_pid() = ANY(pg_blocking_pids(pid))');
      return waiting.rows[0].n > 0;
    }, 'the activation waiting on the job', 15_000, 50);
    const claimed = await workflowOf(onair, id);
    assert.equal(claimed.activation.state, 'pending');
    assert.ok(claimed.activation.fired_at, 'claimed by its task: fired_at set while it fires');
    await onair.crash();
    await holder.query('ROLLBACK');
    held = false;
    onair = await spawnOnair(env);
    const done = await waitFor(async () => {
      const found = await workflowOf(onair!, id);
      return found.activation.state === 'finished' ? found : undefined;
    }, 'the activation finished by the resumed task', 20_000, 50);
    assert.equal(done.activation.fired_at, claimed.activation.fired_at, 'fired when it was claimed');
    const opened = (await onair.request('GET', `/v1/jobs/${job.body.id}`)).body;
    assert.equal(opened.state, 'waiting', JSON.stringify(opened.history.slice(-4)));
    assert.equal(opened.history.at(-1).by, `workflow ${id}`);
  } finally {
    if (held) await holder.query('ROLLBACK');
    await holder.end().catch(() => undefined);
    await onair?.stop();
    await postgresDatabase.drop(databaseUrl);
    rmSync(dataDir, { recursive: true, force: true });
  }
});
