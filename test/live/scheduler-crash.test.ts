import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { test } from 'node:test';
import { testDatabases } from '../support/databases.ts';
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
