import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { ManualClock } from '../../src/core/clock.ts';
import { testDatabases } from '../support/databases.ts';
import { startOnair, type Running } from '../support/onair.ts';

const TEN_YEARS = 10 * 365 * 24 * 3600 * 1000;
/** These changes are the test's own: nobody hears of them. */
const quietly = async () => {};

for (const database of testDatabases) {
  describe(`leases and fencing on ${database.name}`, () => {
    const clock = new ManualClock(Date.parse('2026-07-01T00:00:00Z'));
    let server: Running;
    before(async () => {
      server = await startOnair({ database, clock });
    });
    after(() => server.stop());

    test('an expired lease is taken over with a new epoch, and the former owner\'s late write is rejected', async () => {
      const store = server.onair.tasks.engine.store;
      // Ten years ahead of the engine's clock: the running engine leaves this task to the test.
      const now = clock.now() + TEN_YEARS;
      const id = randomUUID();
      await store.insert([{ id, operation: { type: 'test', parameters: {} }, condition: { type: 'now', parameters: {} }, dependencies: {}, dueAt: now, enqueuedAt: now }]);
      const [claimed] = await store.claim('former', now, now, 1000, 10, () => undefined, quietly);
      assert.equal(claimed!.record.task.id, id);
      assert.equal(claimed!.epoch, 1);

      assert.deepEqual(await store.expired('successor', now + 999), [], 'not expired while the lease runs');
      const [expired] = await store.expired('successor', now + 1001);
      const epoch = await store.takeOver(expired!, 'successor', now + 1001, 1000, quietly);
      assert.equal(epoch, 2);
      assert.equal(await store.takeOver(expired!, 'third', now + 1001, 1000, quietly), undefined, 'taken over once');

      const [late] = await store.finish([{ id, operation: 'test', owner: 'former', epoch: 1, outcome: { completed: now + 1002, result: 'stale' } }], quietly);
      assert.equal(late!.written, false, 'the former owner is fenced out');
      const [current] = await store.finish([{ id, operation: 'test', owner: 'successor', epoch: 2, outcome: { completed: now + 1003, result: 'fresh' } }], quietly);
      assert.equal(current!.written, true);
      const record = await store.get(id);
      assert.equal(record!.status, 'completed');
      assert.equal(record!.result, 'fresh');
    });

    test('a renewed lease does not expire', async () => {
      const store = server.onair.tasks.engine.store;
      const now = clock.now() + TEN_YEARS;
      const id = randomUUID();
      await store.insert([{ id, operation: { type: 'test', parameters: {} }, condition: { type: 'now', parameters: {} }, dependencies: {}, dueAt: now, enqueuedAt: now }]);
      await store.claim('owner', now, now, 1000, 10, () => undefined, quietly);
      assert.deepEqual(await store.renewLeases('owner', [id], now + 900, 1000), [id]);
      assert.deepEqual(await store.renewLeases('owner', [], now + 950, 1000), [], 'only the runs named are renewed');
      assert.ok(!(await store.expired('successor', now + 1500)).some((r) => r.task.id === id));
      assert.ok((await store.expired('successor', now + 2000)).some((r) => r.task.id === id));
    });
  });
}
