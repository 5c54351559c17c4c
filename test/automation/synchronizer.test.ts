import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { ManualClock } from '../../src/core/clock.ts';
import { BroadcastKeys, BroadcastStore, LiveWindowStore } from '../../src/automation/store.ts';
import { LiveWindows } from '../../src/automation/windows.ts';
import { Synchronizer } from '../../src/automation/synchronizer.ts';
import { STATUSES } from '../../src/tasks/model.ts';
import { postgresAvailable, postgresDatabase, testDatabases } from '../support/databases.ts';
import { startOnair, waitFor, type Running } from '../support/onair.ts';

const LEAD_MS = 15 * 60_000;
const NO_WINDOWS = { expected: 0, created: 0, moved: 0, retired: 0 };

async function makeEvent(server: Running, type: string, start: string, extra: Record<string, unknown> = {}): Promise<string> {
  const show = await server.request('POST', '/shows', { title: `${type} show` });
  assert.equal(show.status, 201, JSON.stringify(show.body));
  const event = await server.request('POST', '/events', {
    showId: show.body.id, type, start, duration: 3600, timezone: 'Europe/Warsaw', recurrence: { rule: 'FREQ=DAILY' }, ...extra,
  });
  assert.equal(event.status, 201, JSON.stringify(event.body));
  return event.body.id;
}

/** The stream tasks in the task engine (not the automation's own rows), with their instance and condition. */
async function streamTasks(server: Running) {
  const { engine } = server.onair.tasks;
  const ids = (await engine.store.listed(STATUSES, 1_000_000)).map((t) => t.id);
  const records = await Promise.all(ids.map((id) => engine.store.get(id)));
  return records.filter((r) => r?.task.operation.type === 'stream').map((r) => ({
    id: r!.task.id, status: r!.status, event: r!.task.operation.parameters.event as string,
    start: r!.task.operation.parameters.start as string, condition: r!.task.condition,
  }));
}

const broadcasts = async (server: Running) => (await server.request('GET', '/automation/broadcasts')).body.broadcasts as
  Array<{ event: string; start: string; startsAt: string; task: string; status: string; reserveAt: string; playerAt: string }>;

test('broadcast keys: a key is its event, local start and moment together', () => {
  const keys = new BroadcastKeys();
  const at = Date.parse('2027-03-28T01:30:00Z');
  // Warsaw's 02:30 does not exist on the spring change and moves to 03:30: two local starts, one moment.
  const [gap, after, other] = [{ event: 'a', start: '2027-03-28T02:30:00', startsAt: at }, { event: 'a', start: '2027-03-28T03:30:00', startsAt: at },
    { event: 'b', start: '2027-03-28T03:30:00', startsAt: at }];
  for (const key of [gap, after, other, { ...gap }]) keys.add(key);
  assert.deepEqual(keys.values(), [gap, after, other]);
  assert.equal(keys.delete({ ...after, startsAt: at + 1 }), false);
  assert.equal(keys.delete({ ...after }), true);
  assert.equal(keys.delete(after), false);
  assert.deepEqual(keys.values(), [gap, other]);
  assert.ok(keys.delete(gap) && keys.delete(other));
  assert.deepEqual(keys.values(), []);
});

for (const database of testDatabases) {
  describe(`automation synchronizer on ${database.name}`, () => {
    let server: Running;
    let clock: ManualClock;
    before(async () => {
      // Saturday before the spring change in Europe/Warsaw (2027-03-28, 02:00 -> 03:00).
      clock = new ManualClock(Date.parse('2027-03-27T12:00:30Z'));
      server = await startOnair({ database, clock });
    });
    after(() => server.stop());

    test('schedules one stream task per automated instance in the window, idempotently', async () => {
      const prerecorded = await makeEvent(server, 'prerecorded', '2027-03-20T20:00:00');
      const replay = await makeEvent(server, 'replay', '2027-03-20T22:30:00');
      await makeEvent(server, 'live', '2027-03-20T18:00:00');
      const first = await (await server.request('POST', '/automation/sync')).body;
      // The live event names no job: no window.
      assert.deepEqual(first, { expected: 2, created: first.created, cancelled: 0, windows: NO_WINDOWS });
      const tasks = await streamTasks(server);
      // Today's 20:00 CET is 19:00 UTC; 22:30 CET is 21:30 UTC: each is due 15 minutes before.
      assert.deepEqual(tasks.map((t) => [t.event, t.start, t.condition]).sort(), [
        [prerecorded, '2027-03-27T20:00:00', { type: 'at', parameters: { datetime: '2027-03-27T18:45:00.000Z' } }],
        [replay, '2027-03-27T22:30:00', { type: 'at', parameters: { datetime: '2027-03-27T21:15:00.000Z' } }],
      ].sort());
      const again = await (await server.request('POST', '/automation/sync')).body;
      assert.deepEqual(again, { expected: 2, created: 0, cancelled: 0, windows: NO_WINDOWS });
      assert.equal((await streamTasks(server)).length, 2);
      const listed = await broadcasts(server);
      assert.deepEqual(listed.map((b) => b.startsAt).sort(), ['2027-03-27T19:00:00.000Z', '2027-03-27T21:30:00.000Z']);
      // The timed steps' planned times, by the default leads: the channel reserved 10 s before the start, the player 1 s.
      assert.deepEqual(listed.map((b) => [b.reserveAt, b.playerAt]).sort(), [
        ['2027-03-27T18:59:50.000Z', '2027-03-27T18:59:59.000Z'], ['2027-03-27T21:29:50.000Z', '2027-03-27T21:29:59.000Z']]);
      assert.ok(listed.every((b) => b.status === 'waiting' || b.status === 'queued'), JSON.stringify(listed));
    });

    test('a moved instance gets a new task and its old one is cancelled, woken by programme-changed', async () => {
      const event = await makeEvent(server, 'prerecorded', '2027-03-20T17:00:00');
      await waitFor(async () => (await streamTasks(server)).some((t) => t.event === event), 'the task of the new event');
      const moved = await server.request('PATCH', `/events/${event}`, { start: '2027-03-20T17:30:00' });
      assert.equal(moved.status, 200, JSON.stringify(moved.body));
      const tasks = await waitFor(async () => {
        const mine = (await streamTasks(server)).filter((t) => t.event === event);
        return mine.some((t) => t.status === 'cancelled') && mine.some((t) => t.start === '2027-03-27T17:30:00') ? mine : undefined;
      }, 'the moved instance to be rescheduled');
      assert.deepEqual(tasks.map((t) => [t.start, t.status === 'cancelled']).sort(),
        [['2027-03-27T17:00:00', true], ['2027-03-27T17:30:00', false]]);
      const deleted = await server.request('DELETE', `/events/${event}`);
      assert.ok(deleted.status < 300, JSON.stringify(deleted.body));
      // The pass cancels the task, then lets the broadcast go: wait for both.
      await waitFor(async () => (await streamTasks(server)).filter((t) => t.event === event).every((t) => t.status === 'cancelled')
        && (await broadcasts(server)).every((b) => b.event !== event), 'the deleted event\'s task to be cancelled and its broadcast let go');
    });

    test('the interval alarm follows the clock across the DST change', async () => {
      const event = await makeEvent(server, 'prerecorded', '2027-03-25T20:00:00');
      await waitFor(async () => (await streamTasks(server)).some((t) => t.event === event), 'the first task');
      // Moving the clock a day fires the minute alarms; the 28th's 20:00 is CEST, 18:00 UTC.
      clock.set(Date.parse('2027-03-28T06:00:00Z'));
      const tasks = await waitFor(async () => {
        const mine = (await streamTasks(server)).filter((t) => t.event === event);
        return mine.some((t) => t.start === '2027-03-28T20:00:00') ? mine : undefined;
      }, 'the task on the DST day');
      const dst = tasks.find((t) => t.start === '2027-03-28T20:00:00')!;
      assert.deepEqual(dst.condition, { type: 'at', parameters: { datetime: '2027-03-28T17:45:00.000Z' } });
      assert.equal(tasks.filter((t) => t.start === '2027-03-28T20:00:00').length, 1);
    });

    test('a claim whose task never appeared is left alone for a minute, then claimed anew', async () => {
      const { onair } = server;
      await onair.automation.synchronizer.stop();
      try {
        const event = await makeEvent(server, 'prerecorded', '2027-03-27T23:40:00');
        // A synchronizer that claimed the instance and died before creating its task.
        const found = await onair.programme.reader.getInstance(event, '2027-03-28T23:40:00');
        const key = { event, start: found!.instance.start, startsAt: found!.instance.startsAt };
        const orphan = crypto.randomUUID();
        assert.equal((await new BroadcastStore(onair.database).claim([{ key, task: orphan }], clock.now())).length, 1);
        const fresh = await onair.automation.synchronizer.sync();
        assert.equal(fresh.created, 0, 'a fresh claim belongs to its claimer');
        clock.set(clock.now() + 61_000);
        const stale = await onair.automation.synchronizer.sync();
        assert.equal(stale.created, 1);
        const mine = (await streamTasks(server)).filter((t) => t.event === event && t.start === '2027-03-28T23:40:00');
        assert.equal(mine.length, 1);
        assert.notEqual(mine[0]!.id, orphan);
        assert.equal((await broadcasts(server)).find((b) => b.event === event && b.start === '2027-03-28T23:40:00')?.task, mine[0]!.id);
      } finally {
        onair.automation.synchronizer.start();
      }
    });

    test('two synchronizers at once create each task once', async () => {
      const events = await Promise.all(Array.from({ length: 5 }, (_, i) => makeEvent(server, 'replay', `2027-03-27T1${i + 5}:10:00`)));
      const { onair } = server;
      const logger = pino({ level: 'silent' });
      const windows = new LiveWindows({
        store: new LiveWindowStore(onair.database), live: onair.live.scheduler, programme: onair.programme.reader, clock, logger,
        windowMs: 86_400_000, leadMs: 0, graceMs: 0,
      });
      const make = () => new Synchronizer({
        store: new BroadcastStore(onair.database), windows, tasks: onair.tasks.service, programme: onair.programme.reader, bus: onair.bus,
        clock, logger: pino({ level: 'silent' }), leadMs: LEAD_MS, windowMs: 86_400_000, intervalMs: 60_000,
      });
      await Promise.all([make().sync(), make().sync(), server.request('POST', '/automation/sync')]);
      const mine = (await streamTasks(server)).filter((t) => events.includes(t.event) && t.status !== 'cancelled');
      const keys = mine.map((t) => `${t.event} ${t.start}`);
      assert.equal(new Set(keys).size, keys.length, `duplicates: ${keys.join(', ')}`);
      // The clock is on 2027-03-28 06:00 UTC: one instance of each event starts within the next day.
      assert.equal(mine.length, events.length);
    });

    test('a stream task removed by POST /tasks/clean frees its instance at once: it is scheduled again, no minute to wait', async () => {
      const event = await makeEvent(server, 'prerecorded', '2027-03-20T23:50:00');
      const first = await waitFor(async () => (await streamTasks(server)).find((t) => t.event === event), 'its stream task');
      assert.equal((await server.request('DELETE', `/tasks/${first.id}`)).status, 200);
      await server.request('POST', '/automation/sync');
      assert.deepEqual((await streamTasks(server)).filter((t) => t.event === event).map((t) => t.id), [first.id], 'a cancelled task is not recreated');
      const cleaned = await server.request('POST', '/tasks/clean', { strategy: { type: 'all', parameters: {} } });
      assert.ok(cleaned.body.removed.includes(first.id), JSON.stringify(cleaned.body));
      // The clock stands still: only the tasks area's event and the claim's mark can bring the new task.
      const again = await waitFor(async () => (await streamTasks(server)).find((t) => t.event === event), 'a new task for the instance', 5_000);
      assert.notEqual(again.id, first.id);
      assert.equal(again.start, first.start);
      assert.ok(['queued', 'waiting'].includes(again.status), again.status);
      assert.equal((await broadcasts(server)).find((b) => b.event === event)?.task, again.id);
    });
  });
}

describe('automation on two onair instances sharing PostgreSQL', { skip: !postgresAvailable && 'PostgreSQL is not reachable' }, () => {
  test('both wake on the same programme change; each instance gets one task', async () => {
    const clock = new ManualClock(Date.parse('2026-10-24T12:00:30Z'));
    const databaseUrl = await postgresDatabase.create();
    const one = await startOnair({ database: postgresDatabase, clock, databaseUrl });
    const two = await startOnair({ database: postgresDatabase, clock, databaseUrl });
    try {
      // The fall-back night in Europe/Warsaw: 02:30 local happens twice on 2026-10-25.
      const ids = await Promise.all(['01:30', '02:30', '03:30', '12:00', '23:00'].map((t) => makeEvent(one, 'prerecorded', `2026-10-20T${t}:00`)));
      await Promise.all([one.request('POST', '/automation/sync'), two.request('POST', '/automation/sync'), one.request('POST', '/automation/sync')]);
      const expected = (await one.onair.programme.reader.instancesBetween(clock.now(), clock.now() + 86_400_000, ['prerecorded']))
        .filter((s) => s.instance.startsAt > clock.now() && s.instance.startsAt < clock.now() + 86_400_000);
      const tasks = await streamTasks(one);
      assert.equal(tasks.length, expected.length);
      assert.ok(tasks.length >= ids.length, `${tasks.length} tasks`);
      for (const { event, instance } of expected) {
        const task = tasks.filter((t) => t.event === event.id && t.start === instance.start);
        assert.equal(task.length, 1, `${event.id} ${instance.start}`);
        assert.equal(task[0].condition.parameters.datetime, new Date(instance.startsAt - LEAD_MS).toISOString());
      }
    } finally {
      await two.stop();
      await one.stop();
      await postgresDatabase.drop(databaseUrl);
    }
  });
});

for (const database of testDatabases) {
  describe(`finished broadcasts on ${database.name}`, () => {
    const clock = new ManualClock(Date.parse('2027-05-10T12:00:00Z'));
    let server: Running;
    before(async () => {
      server = await startOnair({ database, clock });
    });
    after(() => server.stop());

    test('a broadcast cancelled by hand stays listed, and is not recreated, until its instance ends', async () => {
      // 16:00 CEST is 14:00Z; the instance lasts an hour.
      const event = await makeEvent(server, 'prerecorded', '2027-05-10T16:00:00');
      await server.request('POST', '/automation/sync');
      const today = async () => (await broadcasts(server)).find((b) => b.event === event && b.start === '2027-05-10T16:00:00');
      const listed = await today();
      assert.ok(listed?.task, JSON.stringify(listed));
      assert.equal((await server.request('DELETE', `/tasks/${listed.task}`)).status, 200);

      clock.set(Date.parse('2027-05-10T14:30:00Z'));
      await server.request('POST', '/automation/sync');
      assert.equal((await today())?.status, 'cancelled', 'listed while its instance runs');
      const mine = (await streamTasks(server)).filter((t) => t.event === event && t.start === '2027-05-10T16:00:00');
      assert.equal(mine.length, 1, 'not recreated');

      clock.set(Date.parse('2027-05-10T15:00:01Z'));
      await server.request('POST', '/automation/sync');
      assert.equal(await today(), undefined, 'let go once the instance ended');
    });
  });
}
