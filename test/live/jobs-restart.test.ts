import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { describe, test } from 'node:test';
import { ManualClock } from '../../src/core/clock.ts';
import { testDatabases } from '../support/databases.ts';
import { startOnair, tempDir, waitFor, type Running } from '../support/onair.ts';
import { JOBS_ENV } from './jobs-support.ts';

for (const database of testDatabases) {
  describe(`a stop leaves active jobs as they are; the next start opens them again (${database.name})`, () => {
    test('a waiting job keeps what is left of max_waiting_time (at least 1 s); a job deactivating finishes', async () => {
      const url = await database.create();
      const dataDir = tempDir();
      const clock = new ManualClock(Date.now());
      const start = () => startOnair({ database, databaseUrl: url, dataDir, clock, env: JOBS_ENV });
      let server: Running = await start();
      try {
        const job = (await server.request('POST', '/v1/jobs', { static: true, max_waiting_time: 100 })).body;
        const late = (await server.request('POST', '/v1/jobs', { static: true, max_waiting_time: 10 })).body;
        const activatedAt = clock.now();
        const closing = (await server.request('POST', '/v1/jobs', { static: true })).body;
        for (const { id } of [job, late, closing]) assert.equal((await server.request('PUT', `/v1/jobs/${id}/activate`)).body.sep_state, 'waiting');
        // As a crash in the middle of its deactivation leaves it.
        await server.onair.database.kysely.updateTable('live_jobs').set({ sep_state: 'deactivation_in_progress' }).where('id', '=', closing.id).execute();
        await server.stop();
        clock.advance(40_000);
        server = await start();
        for (const { id } of [job, late]) {
          const reopened = (await server.request('GET', `/v1/jobs/${id}`)).body;
          assert.deepEqual([reopened.state, reopened.sep_state, reopened.history.at(-1).reason], ['waiting', 'waiting', 'opened again after a restart']);
        }
        const finished = (await server.request('GET', `/v1/jobs/${closing.id}`)).body;
        assert.deepEqual([finished.state, finished.sep_state, finished.history.at(-1).reason], ['standby', 'ready', 'deactivated (finished after a restart)']);
        const gate = server.onair.gate.gate;
        assert.equal((await gate.availability(closing.channel)).state, 'idle');
        assert.equal((await gate.availability(job.channel)).expiresAt, activatedAt + 100_000, 'what was left of the wait');
        assert.equal((await gate.availability(late.channel)).expiresAt, clock.now() + 1000, 'its wait was over: 1 s');
        clock.advance(1000);
        await waitFor(async () => (await server.request('GET', `/v1/jobs/${late.id}`)).body.sep_state === 'ready', 'the late job to close');
        clock.advance(59_000);
        const closed = await waitFor(async () => {
          const now = (await server.request('GET', `/v1/jobs/${job.id}`)).body;
          return now.sep_state === 'ready' && now;
        }, 'the job to close once its wait is over');
        assert.deepEqual([closed.state, closed.history.at(-1).reason], ['standby', 'no encoder within max_waiting_time']);
        const reasons = closed.history.map((c: { reason: string }) => c.reason);
        assert.equal(reasons.filter((r: string) => r === 'opened again after a restart').length, 1);
        assert.ok(!reasons.some((r: string) => r.startsWith('the stream')), `the sessions the stop ended are not the job's any more: ${reasons}`);
      } finally {
        await server.stop();
        await database.drop(url);
        rmSync(dataDir, { recursive: true, force: true });
      }
    });
  });
}
