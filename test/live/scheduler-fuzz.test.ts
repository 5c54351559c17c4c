import assert from 'node:assert/strict';
import fc from 'fast-check';
import { after, before, describe, test } from 'node:test';
import { ManualClock } from '../../src/core/clock.ts';
import { testDatabases } from '../support/databases.ts';
import type { Running } from '../support/onair.ts';
import { answered, createJob, PATH, schedule, SEED_NOW, startLive } from './scheduler-support.ts';

const RUNS = 200;
const NOW = SEED_NOW / 1000;

for (const database of testDatabases) {
  describe(`jobstartstop routes under malformed input (${database.name})`, () => {
    let server: Running;
    let job: string;
    let pending: string;
    before(async () => {
      server = await startLive(database, new ManualClock(SEED_NOW));
      job = (await createJob(server)).id;
      pending = (await schedule(server, job, NOW + 1000 * 3600, NOW + 1001 * 3600)).workflow_id;
    });
    after(() => server.stop());

    const time = fc.oneof(
      fc.integer({ min: NOW - 3600, max: NOW + 7200 }), fc.integer(), fc.double(), fc.string(), fc.constantFrom(null, -1, 0, 2 ** 53, 1e300, '1617386100'),
    );
    const task = fc.oneof(fc.jsonValue(), fc.record({ time_utc: time, notification: fc.oneof(time, fc.integer({ min: -10, max: 10_000 })), extra: fc.jsonValue() }, { requiredKeys: [] }));
    const text = fc.oneof(fc.string(), fc.jsonValue(), fc.constantFrom('a'.repeat(5000), '\u0000'));
    const url = fc.oneof(text, fc.constantFrom('http://127.0.0.1:9/hooks', 'http://10.0.0.1/x', 'ftp://example.org/x', 'http://', 'https://[::1]/x', 'javascript:alert(1)'));
    // Near-valid tasks too, so that successes and the checks behind the schema (times, overlaps, URLs) are reached.
    const goodTask = fc.record({ time_utc: fc.integer({ min: NOW - 10, max: NOW + 20_000 }), notification: fc.integer({ min: 1, max: 3000 }) }, { requiredKeys: ['time_utc'] });
    const nearlyValid = fc.record({
      job_id: fc.constant<unknown>('JOB'), activation: goodTask, deactivation: goodTask, notification_url: fc.constantFrom('http://127.0.0.1:9/hooks', 'http://10.0.0.1/x'),
      description: fc.string(), redundant_group: fc.boolean(),
    }, { requiredKeys: ['job_id', 'activation', 'deactivation'] });
    const body = (jobId: fc.Arbitrary<unknown>) => fc.oneof(fc.jsonValue(), nearlyValid, fc.record({
      job_id: jobId, activation: task, deactivation: task, description: text, notification_url: url, redundant_group: fc.oneof(fc.boolean(), fc.jsonValue()),
      other: fc.jsonValue(),
    }, { requiredKeys: [] }));

    test('POST: any body is a workflow or a clear 4xx', async () => {
      await fc.assert(fc.asyncProperty(body(fc.oneof(fc.constant('JOB'), text)), async (value) => {
        const answer = await server.request('POST', PATH, JSON.stringify(value).replaceAll('"JOB"', `"${job}"`));
        answered(answer, `POST ${JSON.stringify(value)}`);
        if (answer.status === 200) assert.equal((await server.request('DELETE', `${PATH}/${answer.body.workflow_id}`)).status, 200);
      }), { numRuns: RUNS });
    });

    test('PUT and DELETE: any body and id is an answer or a clear 4xx', async () => {
      const id = fc.oneof(fc.constant('PENDING'), fc.string({ minLength: 1 }).filter((s) => s !== '.' && s !== '..'), fc.constantFrom('a'.repeat(300), '0'.repeat(32)));
      const moves = fc.record({
        activation: fc.record({ time_utc: fc.integer({ min: NOW - 10, max: NOW + 10_000 }) }), deactivation: fc.record({ time_utc: fc.integer({ min: NOW + 9000, max: NOW + 20_000 }) }),
      }, { requiredKeys: [] });
      const change = fc.oneof(body(text), fc.record({ activation: goodTask, deactivation: goodTask }, { requiredKeys: [] }), moves);
      await fc.assert(fc.asyncProperty(id, change, fc.constantFrom('PUT', 'DELETE', 'GET'), async (given, value, method) => {
        const workflow = given === 'PENDING' ? pending : given;
        const path = `${PATH}/${encodeURIComponent(workflow)}`;
        answered(await server.request(method, path, method === 'PUT' ? JSON.stringify(value) : undefined), `${method} ${path} ${JSON.stringify(value)}`);
        if (method === 'DELETE' && workflow === pending) pending = (await schedule(server, job, NOW + 1000 * 3600, NOW + 1001 * 3600)).workflow_id;
      }), { numRuns: RUNS });
    });

    test("the list's query: any parameter and value is a page or a clear 4xx", async () => {
      const name = fc.constantFrom('job_id', 'state', 'start', 'end', 'page_size', 'start_token', 'other');
      const value = fc.oneof(fc.string(), fc.integer().map(String), fc.constantFrom('pending,failed', 'pending,', ',', 'eyJ4IjoxfQ', 'WzEsImEiXQ', '1e3', '-1', '1000', '1001'));
      await fc.assert(fc.asyncProperty(fc.array(fc.tuple(name, value), { maxLength: 4 }), async (pairs) => {
        const query = pairs.map(([n, v]) => `${n}=${encodeURIComponent(v)}`).join('&');
        answered(await server.request('GET', `${PATH}?${query}`), `GET ?${query}`);
      }), { numRuns: RUNS });
    });
  });
}
