import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testDatabases } from '../support/databases.ts';
import { startOnair, type Running } from '../support/onair.ts';

const UUID = '00000000-0000-4000-8000-000000000000';
const task = (parameters: unknown, extra: Record<string, unknown> = {}) => ({ operation: { type: 'test', parameters }, ...extra });

/** A JSON text of `depth` objects nested one in another. */
function nested(depth: number): string {
  return `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
}

for (const database of testDatabases) {
  describe(`input every route refuses alike on ${database.name}`, () => {
    let server: Running;
    before(async () => {
      server = await startOnair({ database });
    });
    after(() => server.stop());

    const refused = async (method: string, path: string, body: unknown, field: string, message: RegExp) => {
      const answer = await server.request(method, path, body);
      assert.equal(answer.status, 400, `${method} ${path} ${JSON.stringify(body)}: ${JSON.stringify(answer.body)}`);
      assert.equal(answer.headers.get('content-type'), 'application/problem+json; charset=utf-8');
      assert.deepEqual(answer.body.errors.map((e: { field: string }) => e.field), [field]);
      assert.match(answer.body.errors[0].message, message);
    };

    test('U+0000 in any string is a 400 naming the field, and nothing is stored', async () => {
      const nul = /U\+0000/;
      const show = (await server.request('POST', '/shows', { title: 'Night tape' })).body;
      await refused('POST', '/shows', { title: 'a\u0000b' }, 'body.title', nul);
      await refused('POST', '/shows', { title: 'ok', description: 'x\u0000' }, 'body.description', nul);
      await refused('PATCH', `/shows/${show.id}`, { description: '\u0000' }, 'body.description', nul);
      await refused('POST', '/events', { showId: show.id, type: 'live', start: '2026-12-04T20:00:00', duration: 60, timezone: 'UTC\u0000' }, 'body.timezone', nul);
      await refused('POST', '/tasks', task({ list: ['ok', 'n\u0000'] }), 'body.operation.parameters.list.1', nul);
      await refused('POST', '/tasks', task({ 'key\u0000': 1 }), 'body.operation.parameters.key\u0000', nul);
      await refused('POST', '/tasks', task({}, { dependencies: { 'x\u0000': UUID } }), 'body.dependencies.x\u0000', nul);
      await refused('POST', '/tasks', { operation: { type: 'stream', parameters: { event: 'e\u0000', start: '2026-12-04T20:00:00' } } }, 'body.operation.parameters.event', nul);
      await refused('POST', '/tasks', { operation: { type: 'test', parameters: {} }, condition: { type: 'cron', parameters: { expression: '0 3 * * *\u0000' } } }, 'body.condition.parameters.expression', nul);
      const nulQuery = await server.request('GET', '/events?type=live%00');
      assert.equal(nulQuery.status, 400);
      assert.match(nulQuery.body.detail, /querystring\.type/);
      assert.deepEqual((await server.request('GET', '/shows')).body.shows.map((s: { title: string }) => s.title), ['Night tape']);
      assert.deepEqual((await server.request('GET', '/tasks')).body.queued, []);
    });

    test('free-form parameters are bounded in depth and size', async () => {
      const deep = await server.request('POST', '/tasks', `{"operation":{"type":"test","parameters":{"x":${nested(5000)}}}}`);
      assert.equal(deep.status, 400, JSON.stringify(deep.body));
      assert.match(deep.body.detail, /^body\.operation\.parameters\.x(\.a)+ is nested more than 32 levels deep/);
      const wide = await server.request('POST', '/tasks', task({ blob: 'x'.repeat(70_000) }));
      assert.equal(wide.status, 400, JSON.stringify(wide.body));
      assert.match(wide.body.detail, /^operation\.parameters: .*at most 65536/);
      const condition = await server.request('POST', '/tasks', task({}, { condition: { type: 'now', parameters: { blob: 'x'.repeat(70_000) } } }));
      assert.equal(condition.status, 400);
      assert.match(condition.body.detail, /^condition\.parameters: /);
      assert.equal((await server.request('POST', '/tasks', `{"operation":{"type":"test","parameters":{"x":${nested(25)}}}}`)).status, 201);
    });

    test('a bad submission does not fail the others sent with it', async () => {
      const bodies = Array.from({ length: 40 }, (_, i) => (i === 7 ? `{"operation":{"type":"test","parameters":{"x":${nested(5000)}}}}` : task({ i })));
      const answers = await Promise.all(bodies.map((body) => server.request('POST', '/tasks', body)));
      assert.deepEqual(answers.map((a) => a.status), bodies.map((_, i) => (i === 7 ? 400 : 201)));
    });
  });
}
