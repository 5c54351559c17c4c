import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { ManualClock } from '../../src/core/clock.ts';
import { conflict } from '../../src/core/errors.ts';
import { LiveWindowStore } from '../../src/automation/store.ts';
import { LiveWindows } from '../../src/automation/windows.ts';
import { postgresAvailable, postgresDatabase, testDatabases } from '../support/databases.ts';
import { startOnair, waitFor, type Running } from '../support/onair.ts';
import type { LiveScheduler, Workflow } from '../../src/live/contract.ts';
import { runOnair } from '../support/process.ts';
import { ffmpegChildren, listen, pushTone } from '../gate/harness.ts';

/** A job id the programme accepts (32 hex) that no job has. */
const UNKNOWN_JOB = 'c'.repeat(32);
const MINUTE = 60_000;
const LEAD = 5 * MINUTE;
const GRACE = 2 * MINUTE;
// Nine days ahead from Saturday noon: Sunday 2027-03-21 (CET) and Sunday 2027-03-28 (CEST, the change's day), not 04-04.
const ENV = {
  ONAIR_LIVE_LEAD: 'PT5M', ONAIR_LIVE_GRACE: 'PT2M', ONAIR_AUTOMATION_WINDOW: 'P9D', ONAIR_SRT_PORT_START: '22000', ONAIR_SRT_PORT_END: '22999',
};
const NOON = Date.parse('2027-03-20T12:00:00Z');
const at = (iso: string) => Date.parse(iso);

interface Setup {
  server: Running;
  clock: ManualClock;
  /** onair's own scheduler (the live area's). */
  scheduler: LiveScheduler;
  /** A real static job. */
  job: string;
  warnings: Array<Record<string, unknown>>;
}

interface WindowView {
  event: string;
  start: string;
  startsAt: string;
  endsAt: string;
  job: string;
  workflow: string | null;
  activation: { at: string; state: string | null };
  deactivation: { at: string; state: string | null };
  error: string | null;
}

/** A real static job; it waits long for its encoder, so that only the windows open and close it. */
async function createJob(server: Running): Promise<string> {
  const answer = await server.request('POST', '/v1/jobs', { static: true, max_waiting_time: 7200 });
  assert.equal(answer.status, 201, JSON.stringify(answer.body));
  return answer.body.id;
}

/**
 * Runs `run` on a whole onair with a job of its own. Its synchronizer runs only when asked (POST /automation/sync),
 * so that each pass's report is the test's own, unless `woken`; `wrap` puts something between the automation and
 * onair's own scheduler.
 */
async function withOnair(database: (typeof testDatabases)[number], run: (setup: Setup) => Promise<void>,
  options: { woken?: boolean; wrap?: (scheduler: () => LiveScheduler) => LiveScheduler } = {}): Promise<void> {
  const clock = new ManualClock(NOON);
  const warnings: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(JSON.parse(line)) });
  let real: LiveScheduler | undefined;
  const liveScheduler = options.wrap?.(() => real!);
  const server = await startOnair({ database, clock, env: ENV, logger, liveScheduler, prepare: (onair) => (real = onair.live.scheduler) });
  try {
    if (!options.woken) await server.onair.automation.synchronizer.stop();
    await run({ server, clock, scheduler: server.onair.live.scheduler, job: await createJob(server), warnings });
  } finally {
    await server.stop();
  }
}

async function liveEvent(server: Running, job: string, fields: Record<string, unknown> = {}): Promise<string> {
  const show = await server.request('POST', '/shows', { title: 'live show' });
  const event = await server.request('POST', '/events', {
    showId: show.body.id, type: 'live', start: '2027-03-21T20:00:00', duration: 3600, timezone: 'Europe/Warsaw',
    recurrence: { rule: 'FREQ=WEEKLY' }, liveJob: job, ...fields,
  });
  assert.equal(event.status, 201, JSON.stringify(event.body));
  return event.body.id;
}

async function sync(server: Running) {
  const answer = await server.request('POST', '/automation/sync');
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  return answer.body.windows as { expected: number; created: number; moved: number; retired: number };
}

async function windowsOf(server: Running, event: string): Promise<WindowView[]> {
  const answer = await server.request('GET', '/automation/windows');
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  return (answer.body.windows as WindowView[]).filter((w) => w.event === event);
}

/** Waits until `check` holds of the event's windows; answers them. */
function windowsUntil(server: Running, event: string, check: (windows: WindowView[]) => boolean, what: string): Promise<WindowView[]> {
  return waitFor(async () => {
    const windows = await windowsOf(server, event);
    return check(windows) ? windows : undefined;
  }, what, 15_000, 20);
}

const jobState = async (server: Running, job: string) => (await server.request('GET', `/v1/jobs/${job}`)).body.state as string;

/** The job's workflows, as the scheduler's API lists them. */
async function workflowsOf(server: Running, job: string): Promise<Workflow[]> {
  const answer = await server.request('GET', `/v1/scheduler/jobstartstop?job_id=${job}&page_size=1000`);
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  return answer.body.workflows;
}

const states = (w: Workflow | undefined) => [w?.activation.state, w?.deactivation.state];

/** A window's times as the scheduler was asked for them, and their states. */
const times = (w: WindowView) => [w.start, w.activation.at, w.activation.state, w.deactivation.at, w.deactivation.state];

for (const database of testDatabases) {
  describe(`live windows on ${database.name}`, () => {
    test('a weekly live event naming a job: one workflow per instance, right on both sides of the DST change', async () => {
      await withOnair(database, async ({ server, scheduler, job }) => {
        const event = await liveEvent(server, job);
        assert.deepEqual(await sync(server), { expected: 2, created: 2, moved: 0, retired: 0 });
        const windows = await windowsOf(server, event);
        // 20:00 in Warsaw is 19:00Z on the 21st (CET) and 18:00Z on the 28th (CEST): activation lead before, deactivation grace after.
        assert.deepEqual(windows.map(times), [
          ['2027-03-21T20:00:00', '2027-03-21T18:55:00.000Z', 'pending', '2027-03-21T20:02:00.000Z', 'pending'],
          ['2027-03-28T20:00:00', '2027-03-28T17:55:00.000Z', 'pending', '2027-03-28T19:02:00.000Z', 'pending'],
        ]);
        assert.deepEqual(windows.map((w) => [w.startsAt, w.endsAt, w.job, w.error]), [
          ['2027-03-21T19:00:00.000Z', '2027-03-21T20:00:00.000Z', job, null], ['2027-03-28T18:00:00.000Z', '2027-03-28T19:00:00.000Z', job, null],
        ]);
        // Each window is one workflow of the job, naming its instance.
        for (const w of windows) {
          const workflow = await scheduler.get(w.workflow!);
          assert.deepEqual([workflow?.job_id, workflow?.instance], [job, { event, start: w.start }]);
        }
        assert.equal((await workflowsOf(server, job)).length, 2);
        assert.deepEqual(await sync(server), { expected: 2, created: 0, moved: 0, retired: 0 }, 'a second pass changes nothing');
        assert.equal((await workflowsOf(server, job)).length, 2);
      });
    });

    test('moving the start cancels the pending workflows and makes new ones; shortening moves the deactivation', async () => {
      await withOnair(database, async ({ server, scheduler, job }) => {
        const event = await liveEvent(server, job);
        await sync(server);
        const before = (await windowsOf(server, event)).map((w) => w.workflow!);
        assert.equal((await server.request('PATCH', `/events/${event}`, { start: '2027-03-21T21:00:00' })).status, 200);
        assert.deepEqual(await sync(server), { expected: 2, created: 2, moved: 0, retired: 2 });
        for (const id of before) assert.deepEqual(states(await scheduler.get(id)), ['cancelled', 'cancelled']);
        const moved = await windowsOf(server, event);
        assert.deepEqual(moved.map(times), [
          ['2027-03-21T21:00:00', '2027-03-21T19:55:00.000Z', 'pending', '2027-03-21T21:02:00.000Z', 'pending'],
          ['2027-03-28T21:00:00', '2027-03-28T18:55:00.000Z', 'pending', '2027-03-28T20:02:00.000Z', 'pending'],
        ]);
        assert.ok(moved.every((w) => !before.includes(w.workflow!)));

        assert.equal((await server.request('PATCH', `/events/${event}`, { duration: 'PT30M' })).status, 200);
        assert.deepEqual(await sync(server), { expected: 2, created: 0, moved: 2, retired: 0 });
        const shortened = await windowsOf(server, event);
        assert.deepEqual(shortened.map((w) => w.workflow), moved.map((w) => w.workflow), 'the same workflows');
        assert.deepEqual(shortened.map((w) => [w.endsAt, w.deactivation.at]), [
          ['2027-03-21T20:30:00.000Z', '2027-03-21T20:32:00.000Z'], ['2027-03-28T19:30:00.000Z', '2027-03-28T19:32:00.000Z'],
        ]);
      });
    });

    test('a programme change wakes the synchronizer: no pass asked for', async () => {
      await withOnair(database, async ({ server, job }) => {
        const event = await liveEvent(server, job);
        await windowsUntil(server, event, (ws) => ws.length === 2 && ws.every((w) => w.workflow), 'the workflows of the new event');
        await server.request('PATCH', `/events/${event}`, { duration: 1800 });
        await windowsUntil(server, event, (ws) => ws.every((w) => w.deactivation.at.endsWith(':32:00.000Z')), 'the deactivations moved');
      }, { woken: true });
    });

    test('deleting the event during a window moves its deactivation to now: the job closes; the later window is cancelled', async () => {
      await withOnair(database, async ({ server, clock, scheduler, job }) => {
        const event = await liveEvent(server, job);
        await sync(server);
        const [open, later] = (await windowsOf(server, event)).map((w) => w.workflow!);
        clock.set(at('2027-03-21T19:10:00Z'));
        await waitFor(async () => (await scheduler.get(open!))?.activation.state === 'finished', 'the activation');
        assert.equal(await jobState(server, job), 'waiting', 'the job is open for its encoder');
        assert.equal((await server.request('DELETE', `/events/${event}`)).status, 200);
        assert.deepEqual(await sync(server), { expected: 0, created: 0, moved: 0, retired: 2 });
        const cut = await waitFor(async () => {
          const found = await scheduler.get(open!);
          return found?.deactivation.state === 'finished' ? found : undefined;
        }, 'the deactivation moved to now');
        assert.equal(cut.deactivation.time_utc, at('2027-03-21T19:10:00Z') / 1000);
        await waitFor(async () => (await jobState(server, job)) === 'standby', 'the job closed');
        assert.deepEqual(states(await scheduler.get(later!)), ['cancelled', 'cancelled']);
        assert.deepEqual(await windowsOf(server, event), []);
      });
    });

    test('shortening a window under way to an end already past closes the job now', async () => {
      await withOnair(database, async ({ server, clock, scheduler, job }) => {
        const event = await liveEvent(server, job, { recurrence: null });
        await sync(server);
        const [open] = (await windowsOf(server, event)).map((w) => w.workflow!);
        clock.set(at('2027-03-21T19:30:00Z'));
        await waitFor(async () => (await jobState(server, job)) === 'waiting', 'the job opened');
        assert.equal((await server.request('PATCH', `/events/${event}`, { duration: 600 })).status, 200);
        await sync(server);
        const cut = await waitFor(async () => {
          const found = await scheduler.get(open!);
          return found?.deactivation.state === 'finished' ? found : undefined;
        }, 'the deactivation moved to now');
        assert.equal(cut.deactivation.time_utc, at('2027-03-21T19:30:00Z') / 1000);
        await waitFor(async () => (await jobState(server, job)) === 'standby', 'the job closed');
      });
    });

    test('a window ending normally is listed until a synchronizer window after, then let go', async () => {
      await withOnair(database, async ({ server, clock, job }) => {
        const event = await liveEvent(server, job, { recurrence: null });
        await sync(server);
        clock.set(at('2027-03-21T19:00:00Z'));
        await waitFor(async () => (await jobState(server, job)) === 'waiting', 'the job opened');
        clock.set(at('2027-03-21T20:05:00Z'));
        const [done] = await windowsUntil(server, event, (ws) => ws[0]?.deactivation.state === 'finished', 'the deactivation');
        assert.deepEqual(times(done!), ['2027-03-21T20:00:00', '2027-03-21T18:55:00.000Z', 'finished', '2027-03-21T20:02:00.000Z', 'finished']);
        await waitFor(async () => (await jobState(server, job)) === 'standby', 'the job closed');
        await sync(server);
        assert.equal((await windowsOf(server, event)).length, 1, 'still listed');
        clock.set(at('2027-03-30T20:03:00Z'));
        await sync(server);
        assert.deepEqual(await windowsOf(server, event), []);
      });
    });

    test('changing the job cancels the workflow and makes one for the new job; no job lets the windows go', async () => {
      await withOnair(database, async ({ server, scheduler, job }) => {
        const other = await createJob(server);
        const event = await liveEvent(server, job);
        await sync(server);
        const before = (await windowsOf(server, event)).map((w) => w.workflow!);
        assert.equal((await server.request('PATCH', `/events/${event}`, { liveJob: other })).status, 200);
        assert.deepEqual(await sync(server), { expected: 2, created: 2, moved: 0, retired: 2 });
        const after = await windowsOf(server, event);
        assert.deepEqual(after.map((w) => w.job), [other, other]);
        for (const w of after) assert.equal((await scheduler.get(w.workflow!))?.job_id, other);
        for (const id of before) assert.deepEqual(states(await scheduler.get(id)), ['cancelled', 'cancelled']);
        assert.equal((await server.request('PATCH', `/events/${event}`, { liveJob: null })).status, 200);
        assert.deepEqual(await sync(server), { expected: 0, created: 0, moved: 0, retired: 2 });
        assert.deepEqual(await windowsOf(server, event), []);
      });
    });

    test('an unknown or cancelled job: no workflow, the window listed with the error, one warning per window', async () => {
      await withOnair(database, async ({ server, warnings }) => {
        const gone = await createJob(server);
        assert.equal((await server.request('PUT', `/v1/jobs/${gone}/cancel`)).status, 200);
        const unknown = await liveEvent(server, UNKNOWN_JOB);
        const cancelled = await liveEvent(server, gone, { recurrence: null });
        await sync(server);
        await sync(server);
        const windows = [...await windowsOf(server, unknown), ...await windowsOf(server, cancelled)];
        assert.deepEqual(windows.map((w) => [w.start, w.job, w.workflow, w.activation.state]), [
          ['2027-03-21T20:00:00', UNKNOWN_JOB, null, null], ['2027-03-28T20:00:00', UNKNOWN_JOB, null, null], ['2027-03-21T20:00:00', gone, null, null],
        ]);
        assert.match(windows[0]!.error!, new RegExp(`there is no job ${UNKNOWN_JOB}`));
        assert.match(windows[2]!.error!, new RegExp(`job ${gone} is cancelled`));
        assert.equal(windows[1]!.activation.at, '2027-03-28T17:55:00.000Z', 'the times it would have');
        const warned = warnings.filter((w) => w.msg === 'live window without a workflow: the scheduler refused it');
        assert.deepEqual(warned.map((w) => [w.event, w.start, w.job]).sort(), [
          [unknown, '2027-03-21T20:00:00', UNKNOWN_JOB], [unknown, '2027-03-28T20:00:00', UNKNOWN_JOB], [cancelled, '2027-03-21T20:00:00', gone],
        ].sort());
        assert.deepEqual(await workflowsOf(server, gone), []);
      });
    });

    test('a window the scheduler failed to take (not a refusal) is taken over a minute later', async () => {
      let failures = 1;
      // onair's own scheduler, but its first schedule() fails as one that cannot reach its database would.
      const wrap = (real: () => LiveScheduler): LiveScheduler => ({
        schedule: (w) => (failures-- > 0 ? Promise.reject(new Error('scheduler unreachable')) : real().schedule(w)),
        move: (id, t) => real().move(id, t), cancel: (id) => real().cancel(id), get: (id) => real().get(id),
      });
      await withOnair(database, async ({ server, clock, scheduler, job, warnings }) => {
        const event = await liveEvent(server, job, { recurrence: null });
        assert.deepEqual(await sync(server), { expected: 1, created: 0, moved: 0, retired: 0 });
        assert.deepEqual((await windowsOf(server, event)).map((w) => [w.workflow, w.error]), [[null, null]]);
        assert.ok(warnings.some((w) => w.msg === 'live window not scheduled; trying again in a minute'));
        assert.deepEqual(await sync(server), { expected: 1, created: 0, moved: 0, retired: 0 }, 'its claim is left alone for a minute');
        clock.advance(61_000);
        assert.deepEqual(await sync(server), { expected: 1, created: 1, moved: 0, retired: 0 });
        const [taken] = await windowsOf(server, event);
        assert.deepEqual([taken!.activation.state, (await scheduler.get(taken!.workflow!))?.job_id], ['pending', job]);
      }, { wrap });
    });

    test('a window whose workflow was firing as it was retired is kept, and retired by the next pass', async () => {
      let refusals = 1;
      // onair's own scheduler, but the first cancel() meets an activation firing at that very moment, as the scheduler refuses it.
      const wrap = (real: () => LiveScheduler): LiveScheduler => ({
        schedule: (w) => real().schedule(w), move: (id, t) => real().move(id, t), get: (id) => real().get(id),
        cancel: (id) => (refusals-- > 0 ? Promise.reject(conflict(`Workflow ${id}: task x is firing now; read the workflow again`)) : real().cancel(id)),
      });
      await withOnair(database, async ({ server, scheduler, job }) => {
        const event = await liveEvent(server, job, { recurrence: null });
        await sync(server);
        const [window] = await windowsOf(server, event);
        assert.equal((await server.request('DELETE', `/events/${event}`)).status, 200);
        assert.deepEqual(await sync(server), { expected: 0, created: 0, moved: 0, retired: 0 });
        assert.deepEqual((await windowsOf(server, event)).map((w) => w.workflow), [window!.workflow], 'kept');
        assert.deepEqual(await sync(server), { expected: 0, created: 0, moved: 0, retired: 1 });
        assert.deepEqual(states(await scheduler.get(window!.workflow!)), ['cancelled', 'cancelled']);
        assert.deepEqual(await windowsOf(server, event), []);
      }, { wrap });
    });

    test('two synchronizers at once make each workflow once', async () => {
      await withOnair(database, async ({ server, clock, scheduler, job }) => {
        const { onair } = server;
        const events = await Promise.all(Array.from({ length: 4 }, (_, i) => liveEvent(server, job, { start: `2027-03-21T1${i}:00:00` })));
        const make = () => new LiveWindows({
          store: new LiveWindowStore(onair.database), live: scheduler, programme: onair.programme.reader, clock,
          logger: pino({ level: 'silent' }), windowMs: 9 * 86_400_000, leadMs: LEAD, graceMs: GRACE,
        });
        const reports = await Promise.all([make().sync(), make().sync(), make().sync()]);
        assert.equal(reports.reduce((n, r) => n + r.created, 0), 8, JSON.stringify(reports));
        const workflows = await workflowsOf(server, job);
        for (const [i, event] of events.entries()) {
          const starts = workflows.filter((w) => w.instance?.event === event).map((w) => w.instance!.start).sort();
          assert.deepEqual(starts, [`2027-03-21T1${i}:00:00`, `2027-03-28T1${i}:00:00`]);
        }
      });
    });
  });
}

describe('live windows on two onair instances sharing PostgreSQL', { skip: !postgresAvailable && 'PostgreSQL is not reachable' }, () => {
  test('both wake on the same programme changes; each window gets one workflow, each change is made once', async () => {
    // The fall-back night in Europe/Warsaw: 02:30 local happens twice on 2026-10-25.
    const clock = new ManualClock(Date.parse('2026-10-24T12:00:30Z'));
    const databaseUrl = await postgresDatabase.create();
    const [one, two] = await Promise.all([0, 1].map(() => startOnair({ database: postgresDatabase, clock, databaseUrl, env: ENV }))) as [Running, Running];
    try {
      const job = await createJob(one);
      const pending = async () => (await workflowsOf(one, job)).filter((w) => w.activation.state === 'pending')
        .map((w) => `${w.instance!.event} ${w.instance!.start}`);
      const events = await Promise.all(['01:30', '02:30', '03:30'].map((t) => liveEvent(one, job, { start: `2026-10-20T${t}:00`, recurrence: { rule: 'FREQ=DAILY' } })));
      await Promise.all([one.request('POST', '/automation/sync'), two.request('POST', '/automation/sync'), one.request('POST', '/automation/sync')]);
      // The nine days ahead (ONAIR_AUTOMATION_WINDOW) hold nine instances of each; each has one workflow.
      const first = await pending();
      assert.equal(first.length, 27, first.join(', '));
      assert.equal(new Set(first).size, first.length, 'no duplicates');
      assert.equal((await one.request('PATCH', `/events/${events[0]}`, { start: '2026-10-20T01:45:00' })).status, 200);
      await Promise.all([two.request('POST', '/automation/sync'), one.request('POST', '/automation/sync')]);
      const moved = await pending();
      assert.equal(new Set(moved).size, moved.length, 'no duplicates');
      assert.deepEqual(moved.filter((key) => key.startsWith(events[0]!)).map((key) => key.slice(-8)), Array(9).fill('01:45:00'));
      const cancelled = (await workflowsOf(one, job)).filter((w) => w.instance!.event === events[0] && w.activation.state === 'cancelled');
      assert.equal(cancelled.length, 9, 'each old window retired once');
    } finally {
      await two.stop();
      await one.stop();
      await postgresDatabase.drop(databaseUrl);
    }
  });
});

for (const database of testDatabases) describe(`a live window opens and closes a real job on ${database.name}`, () => {
  test('at the activation a real encoder gets on air; at the deactivation its stream ends and a new connection is refused', async () => {
    await withOnair(database, async ({ server, clock, job }) => {
      const { channel, ingest } = (await server.request('GET', `/v1/jobs/${job}`)).body;
      const encoder = (seconds: number) => pushTone(ingest.url, { seconds, passphrase: ingest.stream_key });
      const state = () => jobState(server, job);
      const event = await liveEvent(server, job, { recurrence: null });
      await sync(server);
      const before = encoder(1);
      assert.notEqual(await before.exited, 0, 'before the activation nobody listens for the encoder');

      clock.set(at('2027-03-21T18:55:00Z'));
      await waitFor(async () => (await state()) === 'waiting', 'the job opened at the activation', 15_000, 50);
      const source = encoder(120);
      await waitFor(async () => (await state()) === 'processing', 'the encoder on air', 20_000, 50);
      const heard = listen(`${server.url}/channels/${channel}/listen`);
      await heard.firstByte;
      assert.equal(source.child.exitCode, null, 'still sending');

      const started = performance.now();
      clock.set(at('2027-03-21T20:02:00Z'));
      const { bytes } = await heard.done;
      const ended = performance.now() - started;
      process.stdout.write(`# deactivation by the live window: the listener's stream ended ${ended.toFixed(0)} ms after the clock reached it\n`);
      assert.ok(bytes.includes(Buffer.from('OggS')), `the listener heard Ogg audio (${bytes.length} bytes)`);
      await waitFor(async () => (await state()) === 'standby', 'the job closed', 10_000, 50);
      await waitFor(() => source.child.exitCode !== null || source.child.signalCode !== null, 'the encoder to notice', 10_000);
      const after = encoder(1);
      assert.notEqual(await after.exited, 0, 'after the deactivation nobody listens for the encoder');
      const [window] = await windowsOf(server, event);
      assert.deepEqual([window!.activation.state, window!.deactivation.state], ['finished', 'finished']);
    });
    assert.deepEqual(ffmpegChildren(), [], 'no ffmpeg is left behind');
  });
});

describe('liveJob on programme events', () => {
  const database = testDatabases[0]!;
  test('kept on live events, shown by the views, refused on other types and in another form, naming body.liveJob', async () => {
    await withOnair(database, async ({ server, job }) => {
      const event = await liveEvent(server, job, { recurrence: null });
      assert.equal((await server.request('GET', `/events/${event}`)).body.liveJob, job);
      const schedule = await server.request('GET', '/schedule?start=2027-03-21T00:00:00&end=2027-03-22T00:00:00');
      assert.equal(schedule.body.schedules[0].event.liveJob, job);
      const show = await server.request('POST', '/shows', { title: 'replays' });
      const base = { showId: show.body.id, start: '2027-03-21T20:00:00', duration: 3600, timezone: 'Europe/Warsaw' };
      const plain = await server.request('POST', '/events', { ...base, type: 'replay' });
      assert.equal(plain.body.liveJob, null);
      for (const body of [{ ...base, type: 'replay', liveJob: job }, { ...base, type: 'live', liveJob: 'ABC' }]) {
        const refused = await server.request('POST', '/events', body);
        assert.equal(refused.status, 400, JSON.stringify(refused.body));
        assert.equal(refused.body.errors[0].field, 'body.liveJob', JSON.stringify(refused.body));
      }
      const retyped = await server.request('PATCH', `/events/${event}`, { type: 'prerecorded' });
      assert.equal(retyped.status, 400);
      assert.equal(retyped.body.errors[0].field, 'body.liveJob');
      const both = await server.request('PATCH', `/events/${event}`, { type: 'prerecorded', liveJob: null });
      assert.deepEqual([both.status, both.body.liveJob], [200, null]);
    });
  });
});

describe('onair automation windows', () => {
  test('add-event --live-job, automation sync and windows: one row per window, --no-live-job lets them go', async () => {
    await withOnair(testDatabases[0]!, async ({ server, job }) => {
      const show = await server.request('POST', '/shows', { title: 'live show' });
      const added = await runOnair(server.url, 'programme', 'add-event', show.body.id, 'live', '2027-03-21T20:00:00', 'PT1H',
        '--timezone', 'Europe/Warsaw', '--rule', 'FREQ=WEEKLY', '--live-job', job);
      assert.equal(added.code, 0, added.stderr);
      const event = /^event (\S+) created/.exec(added.stdout)?.[1];
      assert.ok(event, added.stdout);
      const synced = await runOnair(server.url, 'automation', 'sync');
      assert.match(synced.stdout, /\n2 live windows; 2 workflows made, 0 moved, 0 cancelled or cut short\n$/);
      const listed = await runOnair(server.url, 'automation', 'windows');
      const rows = listed.stdout.split('\n').filter((line) => line.includes(event!)).map((line) => line.trim().split(/\s+/));
      assert.deepEqual(rows.map((r) => [r[1], r[2], r[4], r[5], r[6], r[7]]), [
        ['2027-03-21T20:00:00', job, '2027-03-21T18:55:00.000Z', 'pending', '2027-03-21T20:02:00.000Z', 'pending'],
        ['2027-03-28T20:00:00', job, '2027-03-28T17:55:00.000Z', 'pending', '2027-03-28T19:02:00.000Z', 'pending'],
      ], listed.stdout);
      const edited = await runOnair(server.url, 'programme', 'edit-event', event!, '--no-live-job');
      assert.equal(edited.code, 0, edited.stderr);
      assert.equal((await server.request('GET', `/events/${event}`)).body.liveJob, null);
      assert.match((await runOnair(server.url, 'automation', 'sync')).stdout, /0 live windows; 0 workflows made, 0 moved, 2 cancelled or cut short/);
    });
  });
});
