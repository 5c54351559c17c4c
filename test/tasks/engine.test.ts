import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterEach, describe, test } from 'node:test';
import { Type } from 'typebox';
import { ManualClock } from '../../src/core/clock.ts';
import { Conflict } from '../../src/core/errors.ts';
import { testDatabases } from '../support/databases.ts';
import { startOnair, waitFor, type Running } from '../support/onair.ts';

const now = { type: 'now', parameters: {} };

for (const database of testDatabases) {
  describe(`task engine on ${database.name}`, () => {
    let server: Running | undefined;
    afterEach(async () => {
      await server?.stop();
      server = undefined;
    });

    const statusOf = async (id: string) => (await server!.request('GET', `/tasks/${id}`)).body.status as string;
    const until = (id: string, status: string) => waitFor(async () => (await statusOf(id)) === status, `task ${id} to be ${status}`);
    const post = async (body: unknown) => {
      const answer = await server!.request('POST', '/tasks', body);
      assert.equal(answer.status, 201, JSON.stringify(answer.body));
      return answer.body.task.id as string;
    };

    test('a dependency chain hands results on, in order', async () => {
      server = await startOnair({ database });
      const first = await post({ operation: { type: 'test', parameters: { n: 1 } }, condition: now, dependencies: {} });
      const second = await post({ operation: { type: 'test', parameters: { n: 2 } }, condition: now, dependencies: { previous: first } });
      const third = await post({ operation: { type: 'test', parameters: { n: 3 } }, condition: now, dependencies: { a: first, b: second } });
      await until(third, 'completed');
      const done = await server.request('GET', `/tasks/completed/${third}`);
      assert.deepEqual(done.body.result.parameters, { n: 3 });
      assert.deepEqual(done.body.result.dependencies.a, { parameters: { n: 1 }, dependencies: {} });
      assert.deepEqual(done.body.result.dependencies.b.dependencies.previous, { parameters: { n: 1 }, dependencies: {} });
      const starts = await Promise.all([first, second, third].map(async (id) =>
        Date.parse((await server!.request('GET', `/tasks/completed/${id}`)).body.started)));
      assert.ok(starts[0]! <= starts[1]! && starts[1]! <= starts[2]!, `started in order: ${starts.join(', ')}`);
    });

    test('a failed or cancelled dependency fails its dependents, down the chain', async () => {
      server = await startOnair({ database });
      server.onair.tasks.operations.register({
        type: 'explode', summary: 'fails', parameters: Type.Object({}), run: async () => { throw new Error('boom'); },
      });
      const failing = await post({ operation: { type: 'explode', parameters: {} }, condition: now, dependencies: {} });
      const child = await post({ operation: { type: 'test', parameters: {} }, condition: now, dependencies: { x: failing } });
      const grandchild = await post({ operation: { type: 'test', parameters: {} }, condition: now, dependencies: { y: child } });
      await until(grandchild, 'failed');
      assert.equal((await server.request('GET', `/tasks/failed/${failing}`)).body.error, 'boom');
      assert.equal((await server.request('GET', `/tasks/failed/${child}`)).body.error, `Dependency ${failing} finished with status failed.`);
      assert.equal((await server.request('GET', `/tasks/failed/${grandchild}`)).body.error, `Dependency ${child} finished with status failed.`);

      const later = await post({ operation: { type: 'test', parameters: {} }, condition: { type: 'at', parameters: { datetime: '2999-01-01T00:00:00Z' } }, dependencies: {} });
      const waiting = await post({ operation: { type: 'test', parameters: {} }, condition: now, dependencies: { later } });
      await server.request('DELETE', `/tasks/${later}`);
      await until(waiting, 'failed');
      assert.equal((await server.request('GET', `/tasks/failed/${waiting}`)).body.error, `Dependency ${later} finished with status cancelled.`);

      const afterTheFact = await post({ operation: { type: 'test', parameters: {} }, condition: now, dependencies: { gone: failing } });
      await until(afterTheFact, 'failed');
    });

    test('dependents failed by propagation are announced with their operation and error', async () => {
      server = await startOnair({ database });
      server.onair.tasks.operations.register({
        type: 'explode', summary: 'fails', parameters: Type.Object({}), run: async () => { throw new Error('boom'); },
      });
      const announced: Array<{ id: string; operation: string; status: string; error?: string }> = [];
      server.onair.bus.subscribe((event) => {
        if (event.type === 'task-status-changed') announced.push(event.data as (typeof announced)[number]);
      });
      const failedOf = (id: string) => waitFor(() => announced.find((e) => e.id === id && e.status === 'failed'), `task ${id} announced failed`);
      const failing = await post({ operation: { type: 'explode', parameters: {} }, condition: now, dependencies: {} });
      const child = await post({ operation: { type: 'delay', parameters: { milliseconds: 1 } }, condition: now, dependencies: { x: failing } });
      const grandchild = await post({ operation: { type: 'test', parameters: {} }, condition: now, dependencies: { y: child } });
      assert.deepEqual(await failedOf(child), { id: child, operation: 'delay', status: 'failed', error: `Dependency ${failing} finished with status failed.` });
      assert.deepEqual(await failedOf(grandchild), { id: grandchild, operation: 'test', status: 'failed', error: `Dependency ${child} finished with status failed.` });

      const later = await post({ operation: { type: 'test', parameters: {} }, condition: { type: 'at', parameters: { datetime: '2999-01-01T00:00:00Z' } }, dependencies: {} });
      const waiting = await post({ operation: { type: 'delay', parameters: { milliseconds: 1 } }, condition: now, dependencies: { later } });
      await server.request('DELETE', `/tasks/${later}`);
      assert.deepEqual(await failedOf(waiting), { id: waiting, operation: 'delay', status: 'failed', error: `Dependency ${later} finished with status cancelled.` });
    });

    test('a submit with an id that exists is a conflict of its own: the others of its tick are stored', async () => {
      server = await startOnair({ database });
      const { engine } = server.onair.tasks;
      const input = { operation: { type: 'test', parameters: {} } };
      const existing = (await engine.submit(input)).task.id;
      const fresh = crypto.randomUUID();
      const answers = await Promise.allSettled([
        engine.submit(input), engine.submit(input, existing), engine.submit(input), engine.submit(input, fresh), engine.submit(input, fresh),
      ]);
      assert.deepEqual(answers.map((a) => a.status), ['fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'rejected']);
      for (const index of [1, 4]) {
        const { reason } = answers[index] as PromiseRejectedResult;
        assert.ok(reason instanceof Conflict, String(reason));
        assert.match(reason.message, /already exists/);
      }
      for (const answer of answers.filter((a) => a.status === 'fulfilled')) await until(answer.value.task.id, 'completed');
    });

    test('cancelling a running task aborts its work at once', async () => {
      server = await startOnair({ database });
      let aborted = false;
      let started = false;
      server.onair.tasks.operations.register({
        type: 'hold', summary: 'runs until aborted', parameters: Type.Object({}),
        run: ({ signal }) => new Promise((_resolve, reject) => {
          started = true;
          signal.addEventListener('abort', () => {
            aborted = true;
            reject(signal.reason);
          });
        }),
      });
      const id = await post({ operation: { type: 'hold', parameters: {} }, condition: now, dependencies: {} });
      await until(id, 'running');
      await waitFor(() => started, 'the operation to start');
      const cancelled = await server.request('DELETE', `/tasks/${id}`);
      assert.equal(cancelled.status, 200);
      await waitFor(() => aborted, 'the operation to be aborted', 2000);
      assert.equal(await statusOf(id), 'cancelled');

      const delay = await post({ operation: { type: 'delay', parameters: { milliseconds: 600_000 } }, condition: now, dependencies: {} });
      await until(delay, 'running');
      const begun = Date.now();
      await server.request('DELETE', `/tasks/${delay}`);
      await waitFor(() => server!.onair.tasks.engine.store.get(delay).then((r) => r?.status === 'cancelled'), 'cancel');
      assert.ok(Date.now() - begun < 2000);
    });

    test('at tasks start when due on an injected clock, not before', async () => {
      const clock = new ManualClock(Date.parse('2026-06-01T10:00:00Z'));
      server = await startOnair({ database, clock });
      const offset = await post({ operation: { type: 'test', parameters: {} }, condition: { type: 'at', parameters: { datetime: '2026-06-01T14:00:00+02:00' } }, dependencies: {} });
      const naive = await post({ operation: { type: 'test', parameters: {} }, condition: { type: 'at', parameters: { datetime: '2026-06-01T12:00:00.500' } }, dependencies: {} });
      await until(offset, 'waiting');
      await until(naive, 'waiting');
      clock.set(Date.parse('2026-06-01T11:59:59.000Z'));
      assert.equal(await statusOf(offset), 'waiting');
      // Claimed a moment ahead of its time (running under this node's lease), the operation waits for the due time.
      clock.set(Date.parse('2026-06-01T11:59:59.999Z'));
      await until(offset, 'running');
      assert.equal(await statusOf(offset), 'running', 'not run before its time');
      clock.set(Date.parse('2026-06-01T12:00:00.000Z'));
      await until(offset, 'completed');
      assert.equal(await statusOf(naive), 'waiting', 'naive date-times are UTC');
      clock.set(Date.parse('2026-06-01T12:00:00.500Z'));
      await until(naive, 'completed');
      assert.equal((await server.request('GET', `/tasks/completed/${naive}`)).body.started, '2026-06-01T12:00:00.500Z');
      assert.equal((await server.request('GET', `/tasks/completed/${offset}`)).body.completed, '2026-06-01T12:00:00.000Z', 'run at its time');
    });

    test('statuses answers the status of every id that exists, over more ids than one statement takes', async () => {
      server = await startOnair({ database });
      const { engine, service } = server.onair.tasks;
      const dueAt = Date.now() + 86_400_000;
      const condition = { type: 'at', parameters: { datetime: new Date(dueAt).toISOString() } };
      const task = (id: string) => ({ id, operation: { type: 'test', parameters: {} }, condition, dependencies: {}, dueAt, enqueuedAt: Date.now() });
      const stored = Array.from({ length: 12_000 }, () => task(randomUUID()));
      // Ids that an array literal must quote, with and without characters that JSON would escape.
      const quoted = ['with "quote"', 'back\\slash', 'comma,in', '{brace}', 'NULL', ' spaced ', ''];
      const odd = [...quoted, 'tab\there', 'pair \u{1F600}'];
      await engine.store.insert([...stored, ...odd.map(task)]);
      for (const ids of [quoted, odd]) assert.deepEqual([...(await service.statuses(ids)).keys()].sort(), [...ids].sort());
      const cancelled = (await service.submit({ operation: { type: 'test', parameters: {} }, condition })).task.id;
      await service.cancel(cancelled);
      const unknown = Array.from({ length: 500 }, () => randomUUID());
      const statuses = await service.statuses([...unknown, ...stored.map((t) => t.id), cancelled]);
      assert.equal(statuses.size, stored.length + 1);
      assert.ok(stored.every((t) => ['queued', 'waiting'].includes(statuses.get(t.id)!)), 'every stored task, in every statement');
      assert.equal(statuses.get(cancelled), 'cancelled');
      assert.ok(unknown.every((id) => !statuses.has(id)));
    });

    test('a daily cron task in Europe/Warsaw keeps its local time across spring-forward and fall-back', async () => {
      const clock = new ManualClock(Date.parse('2026-03-27T12:00:00Z'));
      server = await startOnair({ database, clock });
      await post({ operation: { type: 'test', parameters: {} }, condition: { type: 'cron', parameters: { expression: '0 20 * * *', timezone: 'Europe/Warsaw' } }, dependencies: {} });
      const expected = ['2026-03-27T19:00:00.000Z', '2026-03-28T19:00:00.000Z', '2026-03-29T18:00:00.000Z', '2026-03-30T18:00:00.000Z'];
      await runOccurrences(server, clock, expected);
    });

    test('a cron time that falls in the spring-forward gap runs once at the gap\'s end; a repeated time runs once', async () => {
      const clock = new ManualClock(Date.parse('2026-03-27T12:00:00Z'));
      server = await startOnair({ database, clock });
      await post({ operation: { type: 'test', parameters: {} }, condition: { type: 'cron', parameters: { expression: '30 2 * * *', timezone: 'Europe/Warsaw' } }, dependencies: {} });
      await runOccurrences(server, clock, ['2026-03-28T01:30:00.000Z', '2026-03-29T01:00:00.000Z', '2026-03-30T00:30:00.000Z']);
    });

    test('fall-back in America/New_York: 01:30 daily runs once on the repeated hour', async () => {
      const clock = new ManualClock(Date.parse('2026-10-31T12:00:00Z'));
      server = await startOnair({ database, clock });
      await post({ operation: { type: 'test', parameters: {} }, condition: { type: 'cron', parameters: { expression: '30 1 * * *', timezone: 'America/New_York' } }, dependencies: {} });
      await runOccurrences(server, clock, ['2026-11-01T05:30:00.000Z', '2026-11-02T06:30:00.000Z']);
    });
  });
}

/** Moves the clock to each expected due time and checks that exactly one occurrence started then. */
async function runOccurrences(server: Running, clock: ManualClock, expected: string[]): Promise<void> {
  const completed = async () => (await server.request('GET', '/tasks')).body.completed as string[];
  for (const [i, due] of expected.entries()) {
    const pending = async () => {
      const lists = (await server.request('GET', '/tasks')).body;
      return [...lists.queued, ...lists.waiting] as string[];
    };
    const [next] = await waitFor(async () => {
      const ids = await pending();
      return ids.length === 1 ? ids : undefined;
    }, `occurrence ${i + 1} to be scheduled`);
    const record = await server.onair.tasks.engine.store.get(next!);
    assert.equal(new Date(record!.dueAt).toISOString(), due, `occurrence ${i + 1}`);
    clock.set(Date.parse(due) - 1);
    assert.equal((await completed()).length, i);
    clock.set(Date.parse(due));
    await waitFor(async () => (await completed()).length === i + 1, `occurrence ${i + 1} to run`);
    const done = await server.request('GET', `/tasks/completed/${next}`);
    assert.equal(done.body.started, due);
  }
}
