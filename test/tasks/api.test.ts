import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testDatabases } from '../support/databases.ts';
import { startOnair, waitFor, type Running } from '../support/onair.ts';

const task = (operation = 'test', parameters: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) => ({
  operation: { type: operation, parameters },
  condition: { type: 'now', parameters: {} },
  dependencies: {},
  ...extra,
});

for (const database of testDatabases) {
  describe(`Tasks API on ${database.name}`, () => {
    let server: Running;
    before(async () => {
      server = await startOnair({ database });
    });
    after(() => server.stop());

    const completed = (id: string) => waitFor(async () => {
      const answer = await server.request('GET', `/tasks/${id}`);
      return answer.body.status === 'completed' ? answer : undefined;
    }, `task ${id} to complete`);

    test('GET and HEAD /ping answer 204 with no-store', async () => {
      for (const method of ['GET', 'HEAD']) {
        const answer = await server.request(method, '/ping');
        assert.equal(answer.status, 204);
        assert.equal(answer.headers.get('cache-control'), 'no-store');
        assert.equal(answer.body, null);
      }
    });

    test('POST /tasks answers 201 with the queued shape, and the task runs', async () => {
      const answer = await server.request('POST', '/tasks', task('test', { hello: 'world' }));
      assert.equal(answer.status, 201);
      assert.match(answer.body.task.id, /^[0-9a-f-]{36}$/);
      assert.deepEqual(answer.body.task.operation, { type: 'test', parameters: { hello: 'world' } });
      assert.ok(!Number.isNaN(Date.parse(answer.body.enqueued)));
      await completed(answer.body.task.id);
      const done = await server.request('GET', `/tasks/completed/${answer.body.task.id}`);
      assert.equal(done.status, 200);
      assert.deepEqual(done.body.result, { parameters: { hello: 'world' }, dependencies: {} });
      for (const stamp of ['enqueued', 'dequeued', 'started', 'completed']) assert.ok(done.body[stamp], stamp);
    });

    test('GET /tasks lists ids under every status', async () => {
      const answer = await server.request('GET', '/tasks');
      assert.equal(answer.status, 200);
      assert.deepEqual(Object.keys(answer.body).sort(),
        ['cancelled', 'completed', 'failed', 'queued', 'running', 'sleeping', 'waiting']);
    });

    test('GET /tasks in pages: status, limit and after walk the same ids as the whole answer, in enqueue order', async () => {
      const made: string[] = [];
      for (let i = 0; i < 23; i++) made.push((await server.request('POST', '/tasks', task())).body.task.id);
      await completed(made.at(-1)!);
      await waitFor(async () => (await server.request('GET', '/tasks')).body.completed.includes(made[0]) || undefined, 'the first to complete');
      const whole = (await server.request('GET', '/tasks')).body;
      const walked: Record<string, string[]> = {};
      let after: string | null | undefined;
      let pages = 0;
      do {
        const answer = await server.request('GET', `/tasks?limit=7${after ? `&after=${after}` : ''}`);
        assert.equal(answer.status, 200);
        const { next, ...lists } = answer.body;
        const size = Object.values(lists as Record<string, string[]>).flat().length;
        assert.ok(size <= 7, `a page holds at most limit (${size})`);
        for (const [status, ids] of Object.entries(lists as Record<string, string[]>)) (walked[status] ??= []).push(...ids);
        after = next;
        pages++;
      } while (after);
      assert.ok(pages >= 4);
      assert.deepEqual(walked, whole, 'the pages make up the whole answer');
      const completedOnly = await server.request('GET', '/tasks?status=completed&limit=1000');
      assert.deepEqual(Object.keys(completedOnly.body).sort(), ['completed', 'next']);
      assert.deepEqual(completedOnly.body.completed, whole.completed);
      assert.equal(completedOnly.body.next, null);
      const inOrder = made.filter((id) => whole.completed.includes(id));
      assert.deepEqual(whole.completed.filter((id: string) => made.includes(id)), inOrder, 'enqueue order');
    });

    test('GET /tasks refuses a list it cannot give, naming the parameter', async () => {
      for (const [query, field] of [['status=done', 'status'], ['status=completed,', 'status'], ['limit=0', 'limit'],
        ['limit=1001', 'limit'], ['limit=2.5', 'limit'], ['after=yesterday', 'after'], ['page=2', 'page']]) {
        const answer = await server.request('GET', `/tasks?${query}`);
        assert.equal(answer.status, 400, query);
        assert.match(answer.body.detail, new RegExp(field!), query);
      }
    });

    test('GET /tasks/{id}: 400 for a non-UUID, 404 for an unknown one', async () => {
      const bad = await server.request('GET', '/tasks/not-a-uuid');
      assert.equal(bad.status, 400);
      assert.match(bad.body.detail, /params\.id/);
      const unknown = await server.request('GET', '/tasks/00000000-0000-4000-8000-000000000000');
      assert.equal(unknown.status, 404);
      assert.equal(unknown.headers.get('content-type'), 'application/problem+json; charset=utf-8');
    });

    test('GET /tasks/{status}/{id}: 404 when the task is in another status, 400 for an unknown status', async () => {
      const created = await server.request('POST', '/tasks', task());
      await completed(created.body.task.id);
      assert.equal((await server.request('GET', `/tasks/failed/${created.body.task.id}`)).status, 404);
      assert.equal((await server.request('GET', `/tasks/bogus/${created.body.task.id}`)).status, 400);
    });

    test('POST /tasks: 400 naming the field for unknown types and bad parameters', async () => {
      const cases: Array<[unknown, RegExp]> = [
        [task('nope'), /operation\.type/],
        [{ ...task(), condition: { type: 'sometime', parameters: {} } }, /condition\.type/],
        [{ ...task(), condition: { type: 'at', parameters: { datetime: 'tomorrow' } } }, /condition\.parameters\.datetime/],
        [{ ...task(), condition: { type: 'cron', parameters: { expression: '* * *', timezone: 'UTC' } } }, /condition\.parameters\.expression/],
        [{ ...task(), condition: { type: 'cron', parameters: { expression: '0 * * * *', timezone: 'Mars/Olympus' } } }, /condition\.parameters\.timezone/],
        [task('delay', { milliseconds: 'soon' }), /operation\.parameters\.milliseconds/],
        [task('delay', {}), /operation\.parameters\.milliseconds/],
        [{ ...task(), dependencies: { a: 'x' } }, /body\.dependencies/],
        [{ condition: { type: 'now', parameters: {} } }, /body\.operation/],
        ['{"operation":', /JSON/],
      ];
      for (const [body, field] of cases) {
        const answer = await server.request('POST', '/tasks', body);
        assert.equal(answer.status, 400, JSON.stringify(body));
        assert.match(answer.body.detail, field, JSON.stringify(answer.body));
      }
    });

    test('POST /tasks applies the defaults the schema documents', async () => {
      const cron = await server.request('POST', '/tasks', { operation: { type: 'test', parameters: {} }, condition: { type: 'cron', parameters: { expression: '0 3 * * *' } } });
      assert.equal(cron.status, 201, JSON.stringify(cron.body));
      assert.deepEqual(cron.body.task.condition.parameters, { expression: '0 3 * * *', timezone: 'UTC' });
      assert.deepEqual((await server.request('GET', `/tasks/${cron.body.task.id}`)).body.task.condition.parameters, { expression: '0 3 * * *', timezone: 'UTC' });
      await server.request('DELETE', `/tasks/${cron.body.task.id}`);
      const bare = await server.request('POST', '/tasks', { operation: { type: 'test' } });
      assert.equal(bare.status, 201, JSON.stringify(bare.body));
      assert.deepEqual(bare.body.task.operation, { type: 'test', parameters: {} });
    });

    test('POST /tasks: 404 for an unknown dependency', async () => {
      const answer = await server.request('POST', '/tasks', task('test', {}, { dependencies: { a: '00000000-0000-4000-8000-000000000001' } }));
      assert.equal(answer.status, 404);
      assert.match(answer.body.detail, /00000000-0000-4000-8000-000000000001/);
    });

    test('DELETE /tasks/{id}: 200 cancelled shape, 409 when finished, 404 when unknown', async () => {
      const waiting = await server.request('POST', '/tasks', {
        ...task(), condition: { type: 'at', parameters: { datetime: '2999-01-01T00:00:00' } },
      });
      const cancelled = await server.request('DELETE', `/tasks/${waiting.body.task.id}`);
      assert.equal(cancelled.status, 200);
      assert.ok(cancelled.body.cancelled);
      assert.equal((await server.request('GET', `/tasks/${waiting.body.task.id}`)).body.status, 'cancelled');
      assert.equal((await server.request('DELETE', `/tasks/${waiting.body.task.id}`)).status, 409);
      assert.equal((await server.request('DELETE', '/tasks/00000000-0000-4000-8000-000000000002')).status, 404);
    });

    test('POST /tasks/clean: all, timedelta, and 400 for an unknown strategy', async () => {
      const created = await server.request('POST', '/tasks', task());
      await completed(created.body.task.id);
      const young = await server.request('POST', '/tasks/clean', { strategy: { type: 'timedelta', parameters: { delta: 'P1D' } } });
      assert.equal(young.status, 200);
      assert.ok(!young.body.removed.includes(created.body.task.id));
      const all = await server.request('POST', '/tasks/clean', { strategy: { type: 'all', parameters: {} } });
      assert.ok(all.body.removed.includes(created.body.task.id));
      assert.equal((await server.request('GET', `/tasks/${created.body.task.id}`)).status, 404);
      const bad = await server.request('POST', '/tasks/clean', { strategy: { type: 'some', parameters: {} } });
      assert.equal(bad.status, 400);
      const badDelta = await server.request('POST', '/tasks/clean', { strategy: { type: 'timedelta', parameters: { delta: 'a week' } } });
      assert.equal(badDelta.status, 400);
      assert.match(badDelta.body.detail, /strategy\.parameters\.delta/);
    });

    test('OpenAPI is served and documents the task routes', async () => {
      const answer = await server.request('GET', '/openapi.json');
      assert.equal(answer.status, 200);
      for (const path of ['/tasks', '/tasks/{id}', '/tasks/{status}/{id}', '/tasks/clean', '/ping', '/sse']) {
        assert.ok(answer.body.paths[path], path);
      }
      assert.equal((await server.request('GET', '/docs/')).status, 200);
    });

    test('a page of several statuses is one snapshot: a task changing status meanwhile is listed once', async () => {
      const created = await server.request('POST', '/tasks', task('test', {}, { condition: { type: 'at', parameters: { datetime: '2099-01-01T00:00:00Z' } } }));
      const { id } = created.body.task;
      await waitFor(async () => (await server.request('GET', `/tasks/waiting/${id}`)).status === 200, 'the task to wait');
      const db = server.onair.database.kysely;
      let flipping = true;
      const flips = (async () => {
        for (let n = 0; flipping; n++) {
          await db.updateTable('tasks').set({ status: n % 2 ? 'waiting' : 'sleeping' }).where('id', '=', id).execute();
          await new Promise(setImmediate);
        }
      })();
      try {
        for (let n = 0; n < 200; n++) {
          const { body } = await server.request('GET', '/tasks?status=sleeping,waiting&limit=1000');
          const listed = [...body.sleeping, ...body.waiting].filter((listedId: string) => listedId === id);
          assert.equal(listed.length, 1, `listing ${n}: ${JSON.stringify({ sleeping: body.sleeping.includes(id), waiting: body.waiting.includes(id) })}`);
        }
      } finally {
        flipping = false;
        await flips;
      }
      await db.updateTable('tasks').set({ status: 'waiting' }).where('id', '=', id).execute();
      assert.equal((await server.request('DELETE', `/tasks/${id}`)).status, 200);
    });
  });
}
