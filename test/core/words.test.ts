import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { durationProblem, parseDuration } from '../../src/core/duration.ts';
import { patternWords } from '../../src/core/http/validation.ts';
import { formatLocal, localField, parseLocal } from '../../src/core/time.ts';
import { testDatabases } from '../support/databases.ts';
import { startOnair, waitFor, type Running } from '../support/onair.ts';

const UUID = '00000000-0000-4000-8000-000000000000';

/** Every `pattern` anywhere in a JSON document. */
function patterns(document: unknown): string[] {
  if (typeof document !== 'object' || document === null) return [];
  return Object.entries(document).flatMap(([key, value]) => (key === 'pattern' && typeof value === 'string' ? [value] : patterns(value)));
}

describe('one ISO 8601 duration', () => {
  test('weeks, days, hours, minutes and seconds, to the millisecond', () => {
    assert.equal(parseDuration('P7D'), 7 * 86_400_000);
    assert.equal(parseDuration('P2W'), 14 * 86_400_000);
    assert.equal(parseDuration('PT1H30M'), 5_400_000);
    assert.equal(parseDuration('P1DT0.5S'), 86_400_500);
    for (const bad of ['P1M', 'P1Y', 'P', 'PT', '1H', 'P1DT', 'PT1.2345S', 'p1d', 'PT-1S', 'P1D ']) assert.equal(parseDuration(bad), undefined, bad);
  });

  test('any sum of fixed units reads back as its milliseconds', () => {
    fc.assert(fc.property(fc.nat(1000), fc.nat(1000), fc.nat(100), fc.nat(100), fc.nat(100), fc.nat(999), (w, d, h, m, s, ms) => {
      const text = `P${w}W${d}DT${h}H${m}M${s}.${String(ms).padStart(3, '0')}S`;
      return parseDuration(text) === (((w * 7 + d) * 24 + h) * 60 + m) * 60_000 + s * 1000 + ms;
    }));
  });

  test('months and years are refused, saying why', () => {
    for (const calendar of ['P1M', 'P1Y', 'P1Y2D', 'P2W1M']) assert.match(durationProblem(calendar), /years or months, which have no fixed length/, calendar);
    assert.match(durationProblem('PT1M'), /must be an ISO 8601 duration/);
  });
});

describe('one naive local date-time', () => {
  test('seconds may be left out; the one spelling writes them; no 30 February', () => {
    assert.equal(localField('start', '2026-12-04T20:00'), '2026-12-04T20:00:00');
    assert.equal(localField('start', '2028-02-29T23:59:59'), '2028-02-29T23:59:59');
    for (const bad of ['2026-02-30T20:00:00', '2026-12-04T24:00:00', '2026-12-04T20:00:00Z', '2026-12-04 20:00:00', '2026-12-04T20:00:00.5', '0999-01-01T00:00']) {
      assert.throws(() => localField('start', bad), /is not a real local date-time such as 2026-12-04T20:00:00/, bad);
    }
  });

  test('formatting then parsing any time of years 1000 to 9999 gives it back', () => {
    const first = Date.UTC(1000, 0, 1);
    const last = Date.UTC(9999, 11, 31, 23, 59, 59);
    fc.assert(fc.property(fc.integer({ min: first / 1000, max: last / 1000 }), (seconds) => parseLocal(formatLocal(seconds * 1000)) === seconds * 1000));
  });
});

for (const database of testDatabases) {
  describe(`errors in a person's words on ${database.name}`, () => {
    let server: Running;
    let live: { id: string };
    before(async () => {
      server = await startOnair({ database });
      const show = (await server.request('POST', '/shows', { title: 'Evening news' })).body;
      live = (await server.request('POST', '/events', { showId: show.id, type: 'live', start: '2026-12-04T20:00:00', duration: 3600, timezone: 'UTC' })).body;
    });
    after(() => server.stop());

    const refusal = async (method: string, path: string, body?: unknown, headers?: Record<string, string>) => {
      const answer = await server.request(method, path, body, headers);
      assert.equal(answer.status, 400, `${method} ${path}: ${JSON.stringify(answer.body)}`);
      return answer.body as { detail: string; errors: Array<{ field: string; message: string }> };
    };

    test('every pattern of the API is explained in words, and no refusal quotes a regular expression', async () => {
      const document = (await server.request('GET', '/openapi.json')).body;
      const unexplained = [...new Set(patterns(document))].filter((pattern) => patternWords(pattern) === undefined);
      assert.deepEqual(unexplained, []);
      const refusals = [
        await refusal('POST', '/channels', { name: 'Bad Name' }),
        await refusal('POST', '/reserve', { instance: { event: live.id, start: 'tonight' } }),
        await refusal('GET', `/recordings/${live.id}/2026-12-04`),
        await refusal('GET', '/tasks?status=bogus'),
        await refusal('GET', '/sse', undefined, { 'last-event-id': 'abc' }),
        await refusal('POST', '/tasks', { operation: { type: 'stream', parameters: { event: 'x', start: 'bad' } } }),
        await refusal('POST', '/events', { showId: UUID, type: 'live', start: 'Friday', duration: 60, timezone: 'UTC' }),
      ];
      for (const { detail } of refusals) {
        assert.doesNotMatch(detail, /pattern|\^|\\d|\$"/, detail);
        assert.match(detail, /must be /, detail);
      }
      assert.equal(refusals[0]!.detail, 'body.name must be 1 to 64 lowercase letters, digits, - or _, starting with a letter or digit');
      assert.match(refusals[1]!.detail, /^body\.instance\.start must be a local date-time without an offset, such as 2026-12-04T20:00:00/);
    });

    test('a field the route does not know is called an unknown field', async () => {
      const body = await refusal('POST', '/shows', { title: 'x', colour: 'red' });
      assert.deepEqual(body.errors, [{ field: 'body.colour', message: 'is an unknown field' }]);
      const task = await refusal('POST', '/tasks', { operation: { type: 'test', parameters: {} }, condition: { type: 'at', parameters: { datetime: '2030-01-01T00:00:00', zone: 'UTC' } } });
      assert.equal(task.detail, 'condition.parameters.zone: is an unknown field');
    });

    test('types, formats and missing fields are said in words; an empty or broken body asks for a JSON object', async () => {
      const said = async (path: string, body: unknown) => (await refusal('POST', path, body)).detail;
      assert.equal(await said('/shows', { title: 5 }), 'body.title must be text');
      assert.equal(await said('/shows', {}), 'body.title is required');
      assert.equal(await said('/shows', '[]'), 'body must be a JSON object');
      assert.equal(await said('/events', { showId: 'nope', type: 'live', start: '2026-12-04T20:00:00', duration: 60, timezone: 'UTC' }),
        'body.showId must be a UUID such as 3f2c8a4e-9b1d-4c6e-8f0a-2d5b7e9c1a34');
      assert.equal(await said('/shows', ''), 'The body is empty: send a JSON object');
      assert.equal(await said('/shows', '{"title":'), 'The body is not valid JSON: send a JSON object');
    });

    test('a text/plain body gets the same 415 as a form body', async () => {
      const answers = await Promise.all(['text/plain', 'application/x-www-form-urlencoded'].map((type) => server.request('POST', '/shows', 'title=x', { 'content-type': type })));
      assert.deepEqual(answers.map((a) => a.status), [415, 415]);
      assert.deepEqual(answers.map((a) => a.body.detail.replace(/"[^"]*"/, 'TYPE')), answers.map(() => 'Content-Type TYPE is not accepted here: send JSON with Content-Type: application/json'));
    });

    test('GET /recordings/{unknown event} is a 404; a known event without files an empty list', async () => {
      for (const kind of ['recordings', 'prerecordings']) {
        const unknown = await server.request('GET', `/${kind}/${UUID}`);
        assert.equal(unknown.status, 404, JSON.stringify(unknown.body));
        assert.equal(unknown.body.detail, `No event ${UUID} in the programme or the archive`);
        assert.equal((await server.request('GET', `/${kind}/${live.id}`)).body.count, 0);
      }
    });

    test('/instances/{event}/{bad start} is a 400 naming the start; a start with no instance a 404', async () => {
      for (const bad of ['garbage', '2026-02-30T20:00:00']) {
        const body = await refusal('GET', `/instances/${live.id}/${bad}`);
        assert.equal(body.errors[0]!.field, 'params.start', bad);
      }
      assert.equal((await server.request('GET', `/instances/${live.id}/2026-12-04T20:00`)).body.instance.start, '2026-12-04T20:00:00');
      assert.equal((await server.request('GET', `/instances/${live.id}/2026-12-05T20:00:00`)).status, 404);
    });

    test('a start with an offset is told to leave the zone to timezone; a task read under the wrong status says what it is', async () => {
      const show = (await server.request('POST', '/shows', { title: 'Offsets' })).body;
      const body = await refusal('POST', '/events', { showId: show.id, type: 'live', start: '2026-12-04T20:00:00+01:00', duration: 60, timezone: 'UTC' });
      assert.deepEqual(body.errors.map((e) => [e.field, e.message]),
        [['body.start', 'must be a local date-time without an offset, such as 2026-12-04T20:00:00 (seconds may be left out)']]);
      const gone = await server.request('GET', `/tasks/failed/${UUID}`);
      assert.deepEqual([gone.status, gone.body.detail], [404, `There is no task ${UUID}`]);
      const task = (await server.request('POST', '/tasks', { operation: { type: 'test', parameters: {} }, condition: { type: 'at', parameters: { datetime: '2099-01-01T00:00:00Z' } }, dependencies: {} })).body.task;
      await waitFor(async () => (await server.request('GET', `/tasks/waiting/${task.id}`)).status === 200, 'the task to wait');
      assert.equal((await server.request('GET', `/tasks/failed/${task.id}`)).body.detail, `Task ${task.id} is waiting, not failed`);
    });

    test('an event duration is seconds or an ISO 8601 duration; answers give seconds', async () => {
      const show = (await server.request('POST', '/shows', { title: 'Tape' })).body;
      const event = await server.request('POST', '/events', { showId: show.id, type: 'live', start: '2026-12-04T20:00:00', duration: 'PT1H30M', timezone: 'UTC' });
      assert.equal(event.status, 201, JSON.stringify(event.body));
      assert.equal(event.body.duration, 5400);
      assert.equal((await server.request('PATCH', `/events/${event.body.id}`, { duration: 'P1DT1S' })).body.duration, 86_401);
      const month = await refusal('PATCH', `/events/${event.body.id}`, { duration: 'P1M' });
      assert.equal(month.detail, 'duration: "P1M" uses years or months, which have no fixed length: write days instead (P30D)');
      assert.match((await refusal('PATCH', `/events/${event.body.id}`, { duration: 'PT0.5S' })).detail, /^duration: must be at least 1 s/);
      assert.match((await refusal('PATCH', `/events/${event.body.id}`, { duration: 'PT1.5S' })).detail, /^duration: must be whole seconds/);
    });

    test('the clean of tasks refuses a month rather than reading it as 30 days', async () => {
      const body = await refusal('POST', '/tasks/clean', { strategy: { type: 'timedelta', parameters: { delta: 'P1M' } } });
      assert.match(body.detail, /^strategy\.parameters\.delta: "P1M" uses years or months/);
    });
  });
}
