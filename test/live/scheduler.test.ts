import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ManualClock } from '../../src/core/clock.ts';
import { Conflict } from '../../src/core/errors.ts';
import { taskId } from '../../src/live/scheduler.ts';
import { testDatabases } from '../support/databases.ts';
import { startOnair, waitFor, type Running } from '../support/onair.ts';
import {
  createJob, jobState, liveEnv, PATH, reaches, refused, schedule, SEED_ACCOUNT, SEED_NOW, startLive, workflow,
} from './scheduler-support.ts';
import { SEED_DELETE_ANSWER, SEED_POST, SEED_POST_ANSWER, SEED_PUT, SEED_PUT_ANSWER } from './seed-examples.ts';

/** The seed's example answer field by field (the job is ours, the workflow id random), and the real API's start time. */
function matchesSeed(answer: any, example: string, job: string): void {
  const expected = JSON.parse(example);
  assert.match(answer.workflow_id, /^[0-9a-f]{32}$/);
  for (const [field, value] of Object.entries(expected)) {
    if (field === 'workflow_id') continue;
    assert.deepEqual(answer[field], field === 'job_id' ? job : value, field);
  }
  assert.equal(answer.workflow_start_time_utc, expected.activation.time_utc);
  assert.deepEqual(Object.keys(answer).sort(), [...Object.keys(expected), 'workflow_start_time_utc'].sort());
}

const HOUR = 3600;
const seedSeconds = SEED_NOW / 1000;

for (const database of testDatabases) {
  describe(`jobstartstop scheduler API (${database.name})`, () => {
    let server: Running;
    let clock: ManualClock;
    let job: string;
    before(async () => {
      clock = new ManualClock(SEED_NOW);
      server = await startLive(database, clock);
      job = (await createJob(server)).id;
    });
    after(() => server.stop());

    test("seed 001's POST, PUT and DELETE examples answer as the seed's examples", async () => {
      const post = await server.request('POST', PATH, SEED_POST.replace('your Job ID', job));
      assert.equal(post.status, 200, JSON.stringify(post.body));
      matchesSeed(post.body, SEED_POST_ANSWER, job);
      const id = post.body.workflow_id;
      const put = await server.request('PUT', `${PATH}/${id}`, SEED_PUT);
      assert.equal(put.status, 200, JSON.stringify(put.body));
      matchesSeed(put.body, SEED_PUT_ANSWER, job);
      assert.equal(put.body.workflow_id, id);
      matchesSeed(await workflow(server, id), SEED_PUT_ANSWER, job);
      const removed = await server.request('DELETE', `${PATH}/${id}`);
      assert.equal(removed.status, 200, JSON.stringify(removed.body));
      matchesSeed(removed.body, SEED_DELETE_ANSWER, job);
    });

    test('every change is recorded as live-workflow-changed with the workflow after it, and no secret', async () => {
      const seen: any[] = [];
      const unsubscribe = server.onair.bus.subscribe((event) => {
        if (event.type === 'live-workflow-changed') seen.push(event.data);
      });
      try {
        const now = clock.now() / 1000;
        const made = await schedule(server, job, now + 50 * HOUR, now + 51 * HOUR, { notification_url: 'http://127.0.0.1:9/events' });
        assert.match(made.notification_secret, /^whsec_/);
        await server.request('PUT', `${PATH}/${made.workflow_id}`, { deactivation: { time_utc: now + 52 * HOUR } });
        await server.request('DELETE', `${PATH}/${made.workflow_id}`);
        const mine = await waitFor(() => {
          const found = seen.filter((w) => w.workflow_id === made.workflow_id);
          return found.length >= 3 ? found : undefined;
        }, 'three live-workflow-changed events');
        assert.deepEqual(mine.map((w) => [w.activation.state, w.deactivation.state, w.deactivation.time_utc]), [
          ['pending', 'pending', now + 51 * HOUR], ['pending', 'pending', now + 52 * HOUR], ['cancelled', 'cancelled', now + 52 * HOUR],
        ]);
        assert.ok(mine.every((w) => !JSON.stringify(w).includes('whsec_')), 'no secret in events');
        assert.deepEqual(mine[2], await workflow(server, made.workflow_id));
      } finally {
        unsubscribe();
      }
    });

    test('GET of an unknown workflow is a 404 {"error"}; PUT and DELETE too', async () => {
      for (const method of ['GET', 'PUT', 'DELETE']) {
        refused(await server.request(method, `${PATH}/0123456789abcdef0123456789abcdef`, method === 'PUT' ? { deactivation: { time_utc: seedSeconds + HOUR } } : undefined), 404, '0123456789abcdef0123456789abcdef');
      }
    });

    test('a cancelled task cannot be moved (409), nor cancelled again (409)', async () => {
      const made = await schedule(server, job, seedSeconds + 10 * HOUR, seedSeconds + 11 * HOUR);
      assert.equal((await server.request('DELETE', `${PATH}/${made.workflow_id}`)).status, 200);
      refused(await server.request('PUT', `${PATH}/${made.workflow_id}`, { activation: { time_utc: seedSeconds + 10 * HOUR + 60 } }), 409, 'activation', 'cancelled');
      refused(await server.request('PUT', `${PATH}/${made.workflow_id}`, { deactivation: { time_utc: seedSeconds + 12 * HOUR } }), 409, 'deactivation');
      refused(await server.request('DELETE', `${PATH}/${made.workflow_id}`), 409, 'nothing left pending');
    });

    test('after the activation, DELETE cancels the deactivation only, and the activation cannot be moved', async () => {
      const start = clock.now() / 1000 + 60;
      const made = await schedule(server, job, start, start + 600);
      clock.set(start * 1000);
      const activated = await reaches(server, made.workflow_id, 'activation', 'finished');
      assert.equal(activated.activation.fired_at, new Date(start * 1000).toISOString());
      assert.equal(await jobState(server, job), 'waiting', 'the job is open');
      refused(await server.request('PUT', `${PATH}/${made.workflow_id}`, { activation: { time_utc: start + 60 } }), 409, 'activation is finished');
      const removed = await server.request('DELETE', `${PATH}/${made.workflow_id}`);
      assert.equal(removed.status, 200, JSON.stringify(removed.body));
      assert.equal(removed.body.activation.state, 'finished');
      assert.equal(removed.body.deactivation.state, 'cancelled');
      refused(await server.request('DELETE', `${PATH}/${made.workflow_id}`), 409);
      clock.set((start + 600) * 1000);
      assert.equal((await workflow(server, made.workflow_id)).deactivation.state, 'cancelled');
      assert.equal((await server.request('PUT', `/v1/jobs/${job}/deactivate`)).status, 200);
    });

    test('a PUT submits the tasks anew: a task cancelled by hand neither blocks it nor fires, the new one does', async () => {
      const other = (await createJob(server)).id;
      const start = clock.now() / 1000 + 120;
      const made = await schedule(server, other, start, start + 600);
      const tasks = server.onair.tasks.service;
      assert.equal((await tasks.cancel(taskId(made.workflow_id, 0, 'activate'))).status, 'cancelled');
      const moved = await server.request('PUT', `${PATH}/${made.workflow_id}`, { activation: { time_utc: start + 60 } });
      assert.equal(moved.status, 200, JSON.stringify(moved.body));
      assert.equal((await tasks.get(taskId(made.workflow_id, 0, 'deactivate')))?.status, 'cancelled', 'the old revision is withdrawn');
      const lead = server.config.live.openLeadMs;
      assert.equal((await tasks.get(taskId(made.workflow_id, 1, 'activate')))?.dueAt, (start + 60) * 1000 - lead, 'due the open lead before time_utc');
      assert.equal((await tasks.get(taskId(made.workflow_id, 1, 'deactivate')))?.dueAt, (start + 600) * 1000);
      clock.set((start + 60) * 1000 - lead);
      const activated = await reaches(server, made.workflow_id, 'activation', 'finished');
      assert.equal(activated.activation.fired_at, new Date((start + 60) * 1000 - lead).toISOString());
      clock.set((start + 600) * 1000);
      await reaches(server, made.workflow_id, 'deactivation', 'finished');
      assert.equal(await jobState(server, other), 'standby');
    });

    test('bad input: 400 {"error"} naming the field', async () => {
      const now = clock.now() / 1000;
      const body = (extra: Record<string, unknown> = {}) => ({ job_id: job, activation: { time_utc: now + HOUR }, deactivation: { time_utc: now + 2 * HOUR }, ...extra });
      const post = (value: unknown) => server.request('POST', PATH, value);
      refused(await post(body({ activation: { time_utc: now } })), 400, 'body.activation.time_utc', 'not in the future');
      refused(await post(body({ activation: { time_utc: now - 1 } })), 400, 'body.activation.time_utc');
      refused(await post(body({ activation: { time_utc: (now + HOUR) * 1000 }, deactivation: { time_utc: (now + 2 * HOUR) * 1000 } })), 400,
        'body.activation.time_utc', 'Unix seconds', 'milliseconds');
      refused(await post(body({ deactivation: { time_utc: now + HOUR } })), 400, 'body.deactivation.time_utc', 'after activation');
      refused(await post(body({ job_id: 'ffffffffffffffffffffffffffffffff' })), 400, 'body.job_id', 'ffffffffffffffffffffffffffffffff');
      refused(await post(body({ activation: { time_utc: now + HOUR, notification: 60 } })), 400, 'body.activation.notification', 'notification_url');
      refused(await post(body({ deactivation: { time_utc: now + 2 * HOUR, notification: 60 } })), 400, 'body.deactivation.notification', 'notification_url');
      refused(await post(body({ activation: { time_utc: now + HOUR, notification: HOUR }, notification_url: 'http://127.0.0.1:9/hooks' })), 400, 'body.activation.notification', 'already past');
      refused(await post(body({ redundant_group: true })), 400, 'body.redundant_group', 'no redundant groups');
      refused(await post(body({ colour: 'red' })), 400, 'body.colour', 'unknown field');
      refused(await post(body({ activation: { time_utc: now + HOUR, at: 1 } })), 400, 'body.activation.at');
      refused(await post(body({ activation: { time_utc: 'soon' } })), 400, 'body.activation.time_utc');
      refused(await post(body({ activation: { time_utc: now + HOUR + 0.5 } })), 400, 'body.activation.time_utc');
      refused(await post(body({ notification_url: 'ftp://example.org/x' })), 400, 'body.notification_url');
      refused(await post({ activation: { time_utc: now + HOUR } }), 400, 'job_id');
      refused(await post('{"job_id":'), 400);
      assert.equal((await post(body({ redundant_group: false }))).status, 200, 'redundant_group false is the default');
    });

    test('overlapping workflows of one job are refused naming the other; PUT is checked the same way', async () => {
      const now = clock.now() / 1000;
      const first = await schedule(server, job, now + 20 * HOUR, now + 21 * HOUR);
      refused(await server.request('POST', PATH, { job_id: job, activation: { time_utc: now + 20 * HOUR + 1800 }, deactivation: { time_utc: now + 22 * HOUR } }), 400, 'body.activation.time_utc', first.workflow_id);
      refused(await server.request('POST', PATH, { job_id: job, activation: { time_utc: now + 19 * HOUR }, deactivation: { time_utc: now + 22 * HOUR } }), 400, first.workflow_id);
      const next = await schedule(server, job, now + 21 * HOUR, now + 22 * HOUR);
      refused(await server.request('PUT', `${PATH}/${next.workflow_id}`, { activation: { time_utc: now + 20 * HOUR + 1800 } }), 400, 'body.activation.time_utc', first.workflow_id);
      refused(await server.request('PUT', `${PATH}/${first.workflow_id}`, { deactivation: { time_utc: now + 21 * HOUR + 1 } }), 400, 'body.deactivation.time_utc', next.workflow_id);
      refused(await server.request('PUT', `${PATH}/${first.workflow_id}`, { deactivation: { time_utc: now + 20 * HOUR } }), 400, 'body.deactivation.time_utc', 'after activation');
      refused(await server.request('PUT', `${PATH}/${first.workflow_id}`, { activation: { time_utc: now - 1 } }), 400, 'body.activation.time_utc');
      refused(await server.request('PUT', `${PATH}/${first.workflow_id}`, {}), 400);
      refused(await server.request('PUT', `${PATH}/${first.workflow_id}`, { description: 'x' }), 400, 'body.description');
      // A cancelled workflow no longer holds its window.
      assert.equal((await server.request('DELETE', `${PATH}/${first.workflow_id}`)).status, 200);
      const moved = await server.request('PUT', `${PATH}/${next.workflow_id}`, { activation: { time_utc: now + 20 * HOUR + 1800 } });
      assert.equal(moved.status, 200, JSON.stringify(moved.body));
      assert.equal(moved.body.workflow_start_time_utc, now + 20 * HOUR + 1800);
      assert.equal((await server.request('DELETE', `${PATH}/${next.workflow_id}`)).status, 200);
    });

    test('a cancelled job takes no workflow, and cancelling a job cancels its pending workflows', async () => {
      const other = (await createJob(server)).id;
      const now = clock.now() / 1000;
      const made = await schedule(server, other, now + 30 * HOUR, now + 31 * HOUR);
      assert.equal((await server.request('PUT', `/v1/jobs/${other}/cancel`)).status, 200);
      const cancelled = await workflow(server, made.workflow_id);
      assert.deepEqual([cancelled.activation.state, cancelled.deactivation.state], ['cancelled', 'cancelled']);
      refused(await server.request('POST', PATH, { job_id: other, activation: { time_utc: now + 40 * HOUR }, deactivation: { time_utc: now + 41 * HOUR } }), 400, 'body.job_id', 'cancelled');
    });

    test('the list: job, state, start/end filters and paging by workflow_start_time_utc', async () => {
      const other = (await createJob(server)).id;
      const base = clock.now() / 1000 + 100 * HOUR;
      const mine: string[] = [];
      for (let i = 0; i < 5; i++) mine.push((await schedule(server, other, base + i * HOUR, base + i * HOUR + 1800)).workflow_id);
      assert.equal((await server.request('DELETE', `${PATH}/${mine[3]}`)).status, 200);
      const list = async (query: string) => {
        const answer = await server.request('GET', `${PATH}?${query}`);
        assert.equal(answer.status, 200, `${query}: ${JSON.stringify(answer.body)}`);
        return answer.body as { workflows: any[]; next_token: string | null };
      };
      const ids = (page: { workflows: any[] }) => page.workflows.map((w) => w.workflow_id);
      assert.deepEqual(ids(await list(`job_id=${other}&page_size=100`)), mine);
      assert.deepEqual(ids(await list(`job_id=${other}&state=cancelled`)), [mine[3]]);
      assert.deepEqual(ids(await list(`job_id=${other}&state=pending`)), [mine[0], mine[1], mine[2], mine[4]]);
      assert.deepEqual(ids(await list(`job_id=${other}&state=finished,failed`)), []);
      assert.deepEqual(ids(await list(`job_id=${other}&start=${base + HOUR}&end=${base + 3 * HOUR}`)), [mine[1], mine[2]], 'start inclusive, end exclusive');
      assert.deepEqual(ids(await list(`start=${base + 4 * HOUR}`)), [mine[4]]);
      // Every workflow, two a page: all of them once, in order.
      const walked: any[] = [];
      let token: string | null = null;
      let pages = 0;
      do {
        const page = await list(`page_size=2${token ? `&start_token=${encodeURIComponent(token)}` : ''}`);
        assert.ok(page.workflows.length <= 2);
        walked.push(...page.workflows);
        token = page.next_token;
        pages++;
      } while (token !== null && pages < 100);
      const everything = await list('page_size=1000');
      assert.equal(everything.next_token, null);
      assert.deepEqual(walked.map((w) => w.workflow_id), ids(everything));
      assert.equal(new Set(walked.map((w) => w.workflow_id)).size, walked.length, 'no duplicates');
      const order = walked.map((w) => [w.workflow_start_time_utc, w.workflow_id]);
      assert.deepEqual(order, [...order].sort((a, b) => a[0] - b[0] || (a[1] < b[1] ? -1 : 1)));
      assert.equal((await list('')).workflows.length, Math.min(10, walked.length), 'page_size defaults to 10');
      refused(await server.request('GET', `${PATH}?start_token=nonsense`), 400, 'start_token');
      refused(await server.request('GET', `${PATH}?page_size=0`), 400, 'page_size');
      refused(await server.request('GET', `${PATH}?page_size=1001`), 400, 'page_size');
      refused(await server.request('GET', `${PATH}?state=pending,waiting`), 400, 'state');
      refused(await server.request('GET', `${PATH}?start=soon`), 400, 'start');
      refused(await server.request('GET', `${PATH}?colour=red`), 400, 'colour');
    });

    test('LiveScheduler: times not after now fire at once, move refuses a fired task, back-to-back windows keep the job open', async () => {
      const scheduler = server.onair.live.scheduler;
      const other = (await createJob(server)).id;
      const now = clock.now();
      assert.equal(await scheduler.get('0123456789abcdef0123456789abcdef'), undefined);
      // The automation's back-to-back instances overlap by the lead: no overlap check for it.
      const first = await scheduler.schedule({ job: other, activation: now - 1000, deactivation: now + 600_000, description: 'first' });
      const second = await scheduler.schedule({ job: other, activation: now + 300_000, deactivation: now + 900_000, instance: { event: 'e', start: '2021-04-02T13:05:00' } });
      assert.deepEqual(second.instance, { event: 'e', start: '2021-04-02T13:05:00' });
      await reaches(server, first.workflow_id, 'activation', 'finished');
      assert.equal(await jobState(server, other), 'waiting');
      await assert.rejects(scheduler.move(first.workflow_id, { activation: now + 60_000 }), (e: Error) => e instanceof Conflict);
      const moved = await scheduler.move(second.workflow_id, { activation: now + 240_000 });
      assert.equal(moved.activation.time_utc, (now + 240_000) / 1000);
      clock.set(now + 240_000);
      await reaches(server, second.workflow_id, 'activation', 'finished');
      clock.set(now + 600_000);
      await reaches(server, first.workflow_id, 'deactivation', 'finished');
      assert.equal(await jobState(server, other), 'waiting', 'left open: the second window is under way');
      clock.set(now + 900_000);
      await reaches(server, second.workflow_id, 'deactivation', 'finished');
      assert.equal(await jobState(server, other), 'standby');
      const third = await scheduler.schedule({ job: other, activation: now + 2_000_000, deactivation: now + 3_000_000 });
      assert.equal((await scheduler.cancel(third.workflow_id)).activation.state, 'cancelled');
    });
  });
}

test('without X-API-KEY every route is 401 {"message":"Unauthorized"} when ONAIR_API_KEY is set', async () => {
  const server = await startOnair({ database: testDatabases[0]!, clock: new ManualClock(SEED_NOW), env: liveEnv({ ONAIR_API_KEY: 'k'.repeat(32) }) });
  try {
    const id = '0123456789abcdef0123456789abcdef';
    for (const [method, path] of [['POST', PATH], ['GET', PATH], ['GET', `${PATH}/${id}`], ['PUT', `${PATH}/${id}`], ['DELETE', `${PATH}/${id}`]] as const) {
      const answer = await server.request(method, path, method === 'POST' || method === 'PUT' ? {} : undefined);
      assert.equal(answer.status, 401, `${method} ${path}`);
      assert.deepEqual(answer.body, { message: 'Unauthorized' });
      const keyed = await server.request(method, path, method === 'POST' || method === 'PUT' ? {} : undefined, { 'x-api-key': 'k'.repeat(32) });
      assert.notEqual(keyed.status, 401, `${method} ${path} with the key`);
    }
    assert.equal(SEED_ACCOUNT, server.config.live.accountId);
  } finally {
    await server.stop();
  }
});
