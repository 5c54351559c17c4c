import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { ManualClock } from '../../src/core/clock.ts';
import { DailyCleaner } from '../../src/tasks/cleaner.ts';
import type { TaskStore } from '../../src/tasks/store.ts';
import { testDatabases } from '../support/databases.ts';
import { startOnair, waitFor, type Running } from '../support/onair.ts';

const DAY = 24 * 3600 * 1000;

for (const database of testDatabases) {
  describe(`daily task cleaner on ${database.name}`, () => {
    const clock = new ManualClock(Date.parse('2026-05-01T12:00:00Z'));
    let server: Running;
    before(async () => {
      server = await startOnair({ database, clock });
    });
    after(() => server.stop());

    test('runs at its time every day, removes what is past retention, and survives its own errors', async () => {
      const store = server.onair.tasks.engine.store;
      let calls = 0;
      // The real store, except that the first clean fails.
      const flaky = Object.create(store, {
        clean: { value: (...args: Parameters<TaskStore['clean']>) => (++calls === 1 ? Promise.reject(new Error('disk on fire')) : store.clean(...args)) },
      }) as TaskStore;
      const errors: string[] = [];
      const logger = pino({ level: 'error' }, { write: (line: string) => errors.push(JSON.parse(line).msg) });
      const cleaner = new DailyCleaner({ store: flaky, bus: server.onair.bus, clock, logger, retention: 'P1D', time: '03:30' });
      const created = await server.request('POST', '/tasks', { operation: { type: 'test', parameters: {} } });
      const id = created.body.task.id as string;
      await waitFor(async () => (await store.get(id))?.status === 'completed', 'the task to complete');
      cleaner.start();
      try {
        clock.set(Date.parse('2026-05-02T03:30:00Z'));
        await waitFor(() => calls === 1 && errors.length === 1, 'the first clean to fail');
        assert.match(errors[0]!, /daily task clean failed/);
        assert.ok(await store.get(id), 'nothing removed by the failed run');
        clock.set(Date.parse('2026-05-03T03:29:59Z'));
        assert.equal(calls, 1, 'not before its time');
        clock.set(Date.parse('2026-05-03T03:30:00Z'));
        await waitFor(async () => calls === 2 && (await store.get(id)) === undefined, 'the next day\'s clean to remove the task');
        clock.set(Date.parse('2026-05-03T03:30:00Z') + DAY);
        await waitFor(() => calls === 3, 'a third run the day after');
      } finally {
        cleaner.stop();
      }
    });
  });
}
