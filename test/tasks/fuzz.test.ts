import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { testDatabases } from '../support/databases.ts';
import { startOnair, type Answer, type Running } from '../support/onair.ts';

const RUNS = Number(process.env.ONAIR_FUZZ_RUNS ?? 1000);

/** A body near a valid task, with any part replaced by arbitrary JSON. */
const taskBody = fc.record({
  operation: fc.oneof(fc.jsonValue(), fc.record({
    type: fc.oneof(fc.constantFrom('test', 'delay', 'nope', ''), fc.jsonValue()),
    parameters: fc.oneof(fc.jsonValue(), fc.record({ milliseconds: fc.jsonValue() })),
  })),
  condition: fc.oneof(fc.jsonValue(), fc.record({
    type: fc.oneof(fc.constantFrom('now', 'at', 'cron', 'soon'), fc.jsonValue()),
    parameters: fc.oneof(fc.jsonValue(), fc.record({
      datetime: fc.oneof(fc.string(), fc.date({ noInvalidDate: true }).map((d) => d.toISOString()), fc.jsonValue()),
      expression: fc.oneof(fc.string(), fc.constantFrom('* * * * *', '0 0 31 2 *', '@yearly', '61 * * * *')),
      timezone: fc.oneof(fc.string(), fc.constantFrom('Europe/Warsaw', 'UTC', 'Nowhere/City')),
    }, { requiredKeys: [] })),
  })),
  dependencies: fc.oneof(fc.jsonValue(), fc.dictionary(fc.string(), fc.oneof(fc.uuid(), fc.string()))),
}, { requiredKeys: [] });

const rawBody = fc.oneof(fc.string(), fc.string().map((s) => `{"operation":${s}`), fc.constantFrom('', 'null', '[]', '{', '"x"', '1e999'));
const idSegment = fc.oneof(fc.uuid(), fc.string({ minLength: 1 }), fc.constantFrom('..', '%00', '%ZZ', 'clean', 'a'.repeat(600)))
  .map((s) => encodeURIComponent(s));

function assertClientError(answer: Answer, what: string): void {
  assert.ok(answer.status < 500, `${what} answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  if (answer.status >= 400) {
    assert.equal(typeof answer.body?.detail, 'string', `${what}: problem detail missing`);
    assert.ok(answer.body.detail.length > 0);
  }
}

for (const database of testDatabases) {
  describe(`Tasks API under malformed input on ${database.name}`, () => {
    let server: Running;
    before(async () => {
      server = await startOnair({ database });
    });
    after(() => server.stop());

    test('POST /tasks with arbitrary bodies answers 201 or a clear 4xx', async () => {
      await fc.assert(fc.asyncProperty(taskBody, async (body) => {
        const answer = await server.request('POST', '/tasks', body);
        assertClientError(answer, `POST /tasks ${JSON.stringify(body)}`);
      }), { numRuns: RUNS });
    });

    test('POST /tasks and /tasks/clean with broken JSON and odd content types answer 4xx', async () => {
      await fc.assert(fc.asyncProperty(rawBody, fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded'), fc.constantFrom('/tasks', '/tasks/clean'),
        async (body, type, path) => {
          const answer = await server.request('POST', path, body, { 'content-type': type });
          assertClientError(answer, `POST ${path} ${type} ${body}`);
          assert.ok(answer.status >= 400);
        }), { numRuns: RUNS });
    });

    test('POST /tasks/clean with arbitrary strategies answers 200 or a clear 4xx', async () => {
      const strategy = fc.record({
        type: fc.oneof(fc.constantFrom('all', 'timedelta'), fc.jsonValue()),
        parameters: fc.oneof(fc.jsonValue(), fc.record({ delta: fc.oneof(fc.string(), fc.constantFrom('P1D', 'PT0S', 'P-1D', 'P99999999Y'), fc.jsonValue()) })),
      }, { requiredKeys: [] });
      await fc.assert(fc.asyncProperty(fc.oneof(fc.jsonValue(), fc.record({ strategy })), async (body) => {
        assertClientError(await server.request('POST', '/tasks/clean', body), `clean ${JSON.stringify(body)}`);
      }), { numRuns: RUNS });
    });

    test('GET and DELETE on arbitrary ids and statuses answer a clear 4xx', async () => {
      await fc.assert(fc.asyncProperty(idSegment, fc.oneof(idSegment, fc.constantFrom('queued', 'failed', 'completed')), fc.constantFrom('GET', 'DELETE', 'HEAD'),
        async (id, status, method) => {
          for (const path of [`/tasks/${id}`, `/tasks/${status}/${id}`]) {
            const answer = await server.request(method, path);
            assert.ok(answer.status < 500, `${method} ${path} answered ${answer.status}`);
          }
        }), { numRuns: RUNS });
    });

    test('query strings on list routes are refused by name, never break them', async () => {
      await fc.assert(fc.asyncProperty(fc.dictionary(fc.string({ minLength: 1 }), fc.string()), async (query) => {
        const answer = await server.request('GET', `/tasks?${new URLSearchParams(query)}`);
        if (Object.keys(query).length === 0) return assert.equal(answer.status, 200);
        assert.equal(answer.status, 400, JSON.stringify(answer.body));
        assert.match(answer.body.detail, /^querystring\..* is an unknown field/);
      }), { numRuns: RUNS / 4 });
    });

    test('a body over the limit answers 413, and the server keeps serving', async () => {
      const huge = JSON.stringify({ operation: { type: 'test', parameters: { blob: 'x'.repeat(2 * 1024 * 1024) } } });
      const answer = await server.request('POST', '/tasks', huge);
      assert.equal(answer.status, 413);
      assert.equal((await server.request('GET', '/ping')).status, 204);
    });
  });
}
