import fc from 'fast-check';
import { after, before, describe, test } from 'node:test';
import { ManualClock } from '../../src/core/clock.ts';
import { testDatabases } from '../support/databases.ts';
import type { Running } from '../support/onair.ts';
import { JOBS_ENV } from './jobs-support.ts';
import { answered, createJob, SEED_NOW, startLive } from './scheduler-support.ts';

const RUNS = 200;

for (const database of testDatabases) {
  describe(`live job routes under malformed input (${database.name})`, () => {
    let server: Running;
    let job: string;
    before(async () => {
      server = await startLive(database, new ManualClock(SEED_NOW), { env: JOBS_ENV });
      job = (await createJob(server)).id;
    });
    after(() => server.stop());

    const text = fc.oneof(fc.string(), fc.jsonValue(), fc.constantFrom('a'.repeat(5000), '\u0000', ''));
    const seconds = fc.oneof(fc.integer({ min: -10, max: 8000 }), fc.double(), fc.string(), fc.constantFrom(null, 2 ** 53, 1e300, '1800'));
    // Near-valid bodies too, so that jobs are really made and the checks behind the schema are reached.
    const nearlyValid = fc.record({
      static: fc.constant(true), name: fc.string({ maxLength: 250 }), region: fc.constantFrom('eu-central', 'EU', 'x'.repeat(70), ''),
      format: fc.constantFrom('ogg', 'mpegts', 'flv'), record: fc.boolean(), outputs: fc.constantFrom([], [{ type: 'icecast', url: 'http://x' }]),
      reconnect_time: fc.integer({ min: 0, max: 7201 }), max_waiting_time: fc.integer({ min: 0, max: 7201 }),
    }, { requiredKeys: ['static'] });
    const body = fc.oneof(fc.jsonValue(), nearlyValid, fc.record({
      static: fc.oneof(fc.boolean(), text), name: text, region: text, format: text, record: text, outputs: text,
      reconnect_time: seconds, max_waiting_time: seconds, other: fc.jsonValue(),
    }, { requiredKeys: [] }));

    test('POST: any body is a job or a clear 4xx', async () => {
      await fc.assert(fc.asyncProperty(body, async (value) => {
        const answer = await server.request('POST', '/v1/jobs', JSON.stringify(value));
        answered(answer, `POST ${JSON.stringify(value)}`);
        // Cancelled, the job gives its port back to the range.
        if (answer.status === 201) answered(await server.request('PUT', `/v1/jobs/${answer.body.id}/cancel`), 'cancel');
      }), { numRuns: RUNS });
    });

    test('the actions on any id, with any body, are an answer or a clear 4xx', async () => {
      const id = fc.oneof(fc.constant('JOB'), fc.string({ minLength: 1 }).filter((s) => s !== '.' && s !== '..'), fc.constantFrom('a'.repeat(300), '0'.repeat(32)));
      const action = fc.constantFrom('GET', 'activate', 'deactivate', 'stream_key/rotate', 'cancel');
      await fc.assert(fc.asyncProperty(id, action, fc.option(fc.jsonValue()), async (given, what, value) => {
        const path = `/v1/jobs/${encodeURIComponent(given === 'JOB' ? job : given)}`;
        const [method, url] = what === 'GET' ? ['GET', path] : what === 'stream_key/rotate' ? ['POST', `${path}/${what}`] : ['PUT', `${path}/${what}`];
        answered(await server.request(method, url, value === null || method === 'GET' ? undefined : JSON.stringify(value)), `${method} ${url} ${JSON.stringify(value)}`);
        if (given === 'JOB' && what === 'cancel') job = (await createJob(server)).id;
        if (given === 'JOB' && what === 'activate') await server.request('PUT', `/v1/jobs/${job}/deactivate`);
      }), { numRuns: RUNS });
    });

    test("the list's query: any parameter and value is a page or a clear 4xx", async () => {
      const name = fc.constantFrom('state', 'page_size', 'start_token', 'other');
      const value = fc.oneof(fc.string(), fc.integer().map(String), fc.constantFrom('standby,waiting', 'waiting,', ',', 'eyJ4IjoxfQ', 'WzEsImEiXQ', '1e3', '-1', '1000', '1001'));
      await fc.assert(fc.asyncProperty(fc.array(fc.tuple(name, value), { maxLength: 4 }), async (pairs) => {
        const query = pairs.map(([n, v]) => `${n}=${encodeURIComponent(v)}`).join('&');
        answered(await server.request('GET', `/v1/jobs?${query}`), `GET ?${query}`);
      }), { numRuns: RUNS });
    });
  });
}
