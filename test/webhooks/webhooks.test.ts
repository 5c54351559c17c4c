import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { ManualClock } from '../../src/core/clock.ts';
import type { BusEvent } from '../../src/core/events/bus.ts';
import { Deliverer } from '../../src/webhooks/delivery.ts';
import { SCHEDULE } from '../../src/webhooks/schedule.ts';
import { testDatabases } from '../support/databases.ts';
import { rmSync } from 'node:fs';
import { startOnair, tempDir, waitFor, type Running } from '../support/onair.ts';
import { signedWith, startReceiver, type Receiver } from './receiver.ts';

/** Receivers listen on loopback, which URLs from the API may not lead to unless allowed. */
const ALLOW_LOOPBACK = { ONAIR_ALLOWED_PRIVATE_ADDRESSES: '127.0.0.0/8' };
const START = Date.parse('2026-12-06T10:00:00Z');

async function messageRow(server: Running, id: string) {
  return server.onair.database.kysely.selectFrom('webhook_messages').selectAll().where('id', '=', id).executeTakeFirst();
}

/** The task planned for a message's attempt, once it exists. */
async function planned(server: Running, message: string, plan: number) {
  return waitFor(() => server.onair.tasks.service.get(Deliverer.taskId(message, plan)), `attempt task ${plan} of ${message}`);
}

function collect(server: Running): BusEvent[] {
  const events: BusEvent[] = [];
  server.onair.bus.subscribe((event) => events.push(event));
  return events;
}

for (const database of testDatabases) {
  describe(`webhooks on ${database.name}`, () => {
    let receiver: Receiver;
    before(async () => {
      receiver = await startReceiver();
    });
    after(() => receiver.close());

    test('events are signed per Standard Webhooks (standardwebhooks verifies them, during a rotation with either secret); a * subscription never gets its own deliveries\' tasks', async () => {
      receiver.received.length = 0;
      receiver.answer = () => ({ status: 200 });
      const server = await startOnair({ database, env: ALLOW_LOOPBACK });
      try {
        const refused = await server.request('POST', '/webhooks', { url: 'http://127.0.0.1:1/x', types: ['nope!'] });
        assert.equal(refused.status, 400);
        const created = await server.request('POST', '/webhooks', { url: receiver.url, types: ['task-status-changed'], description: 'tasks' });
        assert.equal(created.status, 201, JSON.stringify(created.body));
        const { id, secret } = created.body;
        assert.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
        const all = await server.request('POST', '/webhooks', { url: `${receiver.url}?all`, types: ['*'] });
        const shown = await server.request('GET', `/webhooks/${id}`);
        assert.equal(shown.body.secret, undefined, 'the secret is shown only on creation and rotation');
        assert.deepEqual(shown.body.types, ['task-status-changed']);

        const task = (await server.request('POST', '/tasks', { operation: { type: 'test', parameters: {} } })).body.task.id;
        const completed = (r: { message: { type: string; data: any } }) => r.message.type === 'task-status-changed' && r.message.data.id === task && r.message.data.status === 'completed';
        await waitFor(() => receiver.received.filter(completed).length === 2, 'the completion, once to each subscription');
        const first = receiver.received.find((r) => completed(r) && !r.url.endsWith('?all'));
        const verified = new Webhook(secret).verify(first!.body, signedWith(first!)) as { type: string; data: unknown; timestamp: string };
        assert.deepEqual(verified.data, { id: task, operation: 'test', status: 'completed' });
        assert.ok(!Number.isNaN(Date.parse(verified.timestamp)));

        const rotated = await server.request('POST', `/webhooks/${id}/secret/rotate`);
        assert.equal(rotated.status, 200);
        assert.notEqual(rotated.body.secret, secret);
        assert.ok(Date.parse(rotated.body.previousSecretUntil) > Date.now() + 23 * 3600_000);
        const next = (await server.request('POST', '/tasks', { operation: { type: 'test', parameters: {} } })).body.task.id;
        const during = await waitFor(() => receiver.received.find((r) => r.message.data?.id === next && r.message.data.status === 'completed' && !r.url.endsWith('?all')
          && r.headers['webhook-signature']!.includes(' ')), 'a completion signed with both secrets');
        for (const key of [secret, rotated.body.secret]) assert.deepEqual((new Webhook(key).verify(during.body, signedWith(during)) as any).data.id, next);
        assert.throws(() => new Webhook(`whsec_${Buffer.alloc(32, 7).toString('base64')}`).verify(during.body, signedWith(during)));

        assert.ok(receiver.received.some((r) => r.message.type === 'webhook-created'), 'the * subscription gets webhook events');
        assert.ok(!receiver.received.some((r) => r.message.data?.operation === 'webhook-delivery'), 'no event of a delivery task is delivered');
        const log = await server.request('GET', `/webhooks/${all.body.id}/deliveries?limit=1000`);
        assert.equal(log.status, 200);
        assert.ok(log.body.deliveries.every((d: { status: number; attempt: number }) => d.status === 200 && d.attempt === 1));
      } finally {
        await server.stop();
      }
    });

    test('a failing receiver (an error, a redirect) is tried again on the scheme\'s schedule with jitter, under the same webhook-id, ten attempts in all', async () => {
      receiver.received.length = 0;
      // A redirect is a failure too, never followed.
      receiver.answer = () => (receiver.received.length % 2 === 1 ? { status: 500, body: 'down' } : { status: 307, headers: { location: `${receiver.url}/moved` } });
      const clock = new ManualClock(START);
      // 0.75: each delay 5 % longer than the schedule's.
      const server = await startOnair({ database, clock, env: ALLOW_LOOPBACK, random: () => 0.75 });
      try {
        const { id } = (await server.request('POST', '/webhooks', { url: receiver.url, types: ['programme-changed'] })).body;
        const first = await server.request('POST', `/webhooks/${id}/test`);
        assert.equal(first.status, 200);
        assert.equal(first.body.status, 500);
        assert.equal(first.body.attempt, 1);
        const message = first.body.message as string;
        for (let attempt = 2; attempt <= SCHEDULE.length; attempt++) {
          const failedAt = clock.now();
          const task = await planned(server, message, attempt);
          const due = failedAt + Math.round(SCHEDULE[attempt - 1]! * 1.05);
          assert.equal(task.dueAt, due, `attempt ${attempt} is due ${SCHEDULE[attempt - 1]} ms + 5 % after attempt ${attempt - 1}`);
          clock.set(due - 101);
          assert.equal(receiver.received.length, attempt - 1);
          clock.set(due);
          await waitFor(() => receiver.received.length === attempt, `attempt ${attempt}`);
          const received = receiver.received.at(-1)!;
          assert.equal(received.headers['webhook-id'], message);
          assert.equal(received.headers['webhook-timestamp'], String(Math.floor(due / 1000)));
          if (attempt < SCHEDULE.length) await planned(server, message, attempt + 1);
        }
        await waitFor(async () => (await messageRow(server, message))?.status === 'failed', 'the message to fail after the last attempt');
        assert.equal(await server.onair.tasks.service.get(Deliverer.taskId(message, SCHEDULE.length + 1)), undefined);
        const log = await server.request('GET', `/webhooks/${id}/deliveries?message=${message}`);
        assert.deepEqual(log.body.deliveries.map((d: { attempt: number }) => d.attempt), [10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
        assert.deepEqual(log.body.deliveries.map((d: { status: number }) => d.status), [307, 500, 307, 500, 307, 500, 307, 500, 307, 500]);
        assert.equal(log.body.deliveries.at(-1).excerpt, 'down');
        assert.ok(!receiver.received.some((r) => r.url.endsWith('/moved')));
      } finally {
        await server.stop();
      }
    });

    test('Retry-After is honoured, webhook-delivery: abort-message stops a message, 410 disables the subscription with an event; retry and recovery send again', async () => {
      receiver.received.length = 0;
      const clock = new ManualClock(START);
      const server = await startOnair({ database, clock, env: ALLOW_LOOPBACK, random: () => 0.5 });
      const events = collect(server);
      try {
        const { id } = (await server.request('POST', '/webhooks', { url: receiver.url, types: ['programme-changed'] })).body;
        receiver.answer = () => ({ status: 503, headers: { 'retry-after': '120' } });
        const message = (await server.request('POST', `/webhooks/${id}/test`)).body.message as string;
        assert.equal((await planned(server, message, 2)).dueAt, START + 120_000);
        receiver.answer = () => ({ status: 429, headers: { 'retry-after': new Date(START + 120_000 + 3_600_000).toUTCString() } });
        clock.set(START + 120_000);
        assert.equal((await planned(server, message, 3)).dueAt, START + 120_000 + 3_600_000);

        receiver.answer = () => ({ status: 500, headers: { 'webhook-delivery': 'abort-message' } });
        const aborted = (await server.request('POST', `/webhooks/${id}/test`)).body;
        await waitFor(async () => (await messageRow(server, aborted.message))?.status === 'aborted', 'the message to be aborted');
        assert.equal(await server.onair.tasks.service.get(Deliverer.taskId(aborted.message, 2)), undefined);

        receiver.answer = () => ({ status: 410 });
        clock.set(START + 120_000 + 3_600_000);
        await waitFor(async () => (await server.request('GET', `/webhooks/${id}`)).body.enabled === false, 'the subscription to be disabled');
        const disabled = await waitFor(() => events.find((e) => e.type === 'webhook-disabled'), 'webhook-disabled');
        assert.equal((disabled.data as { id: string }).id, id);
        assert.match((await server.request('GET', `/webhooks/${id}`)).body.disabledReason, /410/);
        assert.equal((await messageRow(server, message))?.status, 'failed');
        assert.equal((await server.request('POST', `/webhooks/${id}/test`)).status, 409, 'a disabled subscription takes no test');

        receiver.answer = () => ({ status: 204 });
        assert.equal((await server.request('PATCH', `/webhooks/${id}`, { enabled: true })).body.enabled, true);
        const count = receiver.received.length;
        const delivery = (await server.request('GET', `/webhooks/${id}/deliveries?message=${aborted.message}`)).body.deliveries[0].id;
        const retried = await server.request('POST', `/webhooks/${id}/deliveries/${delivery}/retry`);
        assert.equal(retried.status, 202);
        await waitFor(() => receiver.received.length === count + 1, 'the retry');
        assert.equal(receiver.received.at(-1)!.headers['webhook-id'], aborted.message, 'a retry keeps the webhook-id');
        await waitFor(async () => (await messageRow(server, aborted.message))?.status === 'delivered', 'the retried message to be delivered');

        const recovered = await server.request('POST', `/webhooks/${id}/recover`, { since: new Date(START).toISOString() });
        assert.deepEqual(recovered.body, { messages: 1 }, 'the message 410 ended');
        await waitFor(() => receiver.received.some((r, i) => i > count && r.headers['webhook-id'] === message), 'the recovered message');
        const none = await server.request('POST', `/webhooks/${id}/recover`, { since: new Date(START + 86_400_000).toISOString() });
        assert.deepEqual(none.body, { messages: 0 });
        assert.equal((await server.request('POST', `/webhooks/${id}/deliveries/nosuch/retry`)).status, 404);
      } finally {
        await server.stop();
      }
    });

    test('at the next start, a message a killed dispatch stored but did not plan is planned, and one whose task ended without its attempt is planned anew', async () => {
      receiver.received.length = 0;
      receiver.answer = () => ({ status: 200 });
      const url = await database.create();
      const dataDir = tempDir();
      let server = await startOnair({ database, databaseUrl: url, dataDir, env: ALLOW_LOOPBACK });
      try {
        const { id } = (await server.request('POST', '/webhooks', { url: receiver.url, types: ['programme-changed'] })).body;
        const now = Date.now();
        const stored = (message: string) => ({
          id: message, subscription: id, event_id: null, type: 'programme-changed', body: '{"type":"programme-changed","timestamp":"2026-12-06T10:00:00.000Z","data":{}}',
          status: 'pending' as const, attempts: 0, plan: 1, next_at: now, created_at: now, updated_at: now,
        });
        await server.onair.database.kysely.insertInto('webhook_messages').values([stored('msg_unplanned'), stored('msg_stuck')]).execute();
        // A task of the stuck message's plan that ended without recording its attempt.
        const ended = Deliverer.taskId('msg_stuck', 1);
        await server.onair.tasks.service.submit({ operation: { type: 'test', parameters: {} } }, ended);
        await waitFor(async () => (await server.onair.tasks.service.get(ended))?.status === 'completed', 'the task to end');
        await server.stop();
        assert.equal(receiver.received.length, 0);
        server = await startOnair({ database, databaseUrl: url, dataDir, env: ALLOW_LOOPBACK });
        await waitFor(() => receiver.received.find((r) => r.headers['webhook-id'] === 'msg_unplanned'), 'the unplanned message');
        await waitFor(() => receiver.received.find((r) => r.headers['webhook-id'] === 'msg_stuck'), 'the stuck message');
        assert.equal((await messageRow(server, 'msg_stuck'))?.plan, 2);
      } finally {
        await server.stop();
        await database.drop(url);
        rmSync(dataDir, { recursive: true, force: true });
      }
    });

    test('task-progress, which is not kept, goes once and signed to a subscription that names it, and not to a * one', async () => {
      receiver.received.length = 0;
      receiver.answer = () => ({ status: 200 });
      const server = await startOnair({ database, env: ALLOW_LOOPBACK });
      try {
        const { secret } = (await server.request('POST', '/webhooks', { url: receiver.url, types: ['task-progress'] })).body;
        await server.request('POST', '/webhooks', { url: `${receiver.url}?all`, types: ['*'] });
        server.onair.bus.publish('task-progress', { id: 'a-task', operation: 'stream', progress: { step: 'copy' } });
        const got = await waitFor(() => receiver.received.find((r) => r.message.type === 'task-progress'), 'the progress');
        assert.deepEqual((new Webhook(secret).verify(got.body, signedWith(got)) as { data: unknown }).data, { id: 'a-task', operation: 'stream', progress: { step: 'copy' } });
        const marker = (await server.request('POST', '/tasks', { operation: { type: 'test', parameters: {} } })).body.task.id;
        await waitFor(() => receiver.received.some((r) => r.url.endsWith('?all') && r.message.data?.id === marker && r.message.data.status === 'completed'), 'a later event');
        assert.equal(receiver.received.filter((r) => r.message.type === 'task-progress').length, 1);
      } finally {
        await server.stop();
      }
    });

    test('a subscription gets no event recorded before it was made, even one the dispatch had not reached yet', async () => {
      receiver.received.length = 0;
      receiver.answer = () => ({ status: 200 });
      const server = await startOnair({ database, env: ALLOW_LOOPBACK });
      const record = (data: unknown) => server.onair.bus.record(server.onair.database.kysely, 'webhook-test-event' as never, [data as never]);
      try {
        const from = server.onair.bus.delivered;
        await record({ n: 'before' });
        await waitFor(() => server.onair.bus.delivered > from, 'the event to be delivered here');
        // As after a downtime: the dispatch is behind the outbox.
        await server.onair.database.kysely.updateTable('webhook_cursor').set({ through: from }).execute();
        await server.request('POST', '/webhooks', { url: receiver.url, types: ['webhook-test-event'] });
        await record({ n: 'after' });
        await waitFor(() => receiver.received.length > 0, 'the later event');
        await server.onair.webhooks.dispatcher.request();
        assert.deepEqual(receiver.received.map((r) => r.message.data), [{ n: 'after' }]);
      } finally {
        await server.stop();
      }
    });

    test('a URL that leads to a loopback address is refused unless ONAIR_ALLOWED_PRIVATE_ADDRESSES allows it', async () => {
      const server = await startOnair({ database });
      try {
        const refused = await server.request('POST', '/webhooks', { url: receiver.url, types: ['*'] });
        assert.equal(refused.status, 400);
        assert.match(refused.body.detail, /body\.url/);
      } finally {
        await server.stop();
      }
    });

    test('a subscription whose deliveries all failed for 5 days is disabled, with an event saying so', async () => {
      receiver.received.length = 0;
      receiver.answer = () => ({ status: 500 });
      const clock = new ManualClock(START);
      const server = await startOnair({ database, clock, env: ALLOW_LOOPBACK, random: () => 0.5 });
      const events = collect(server);
      try {
        const { id } = (await server.request('POST', '/webhooks', { url: receiver.url, types: ['programme-changed'] })).body;
        const first = (await server.request('POST', `/webhooks/${id}/test`)).body.message;
        assert.equal((await server.request('GET', `/webhooks/${id}`)).body.failingSince, new Date(START).toISOString());
        clock.set(START + 5 * 86_400_000 - 1);
        // Its second attempt, due long before, is made now and fails: it plans the third.
        await planned(server, first, 3);
        assert.equal((await server.request('POST', `/webhooks/${id}/test`)).body.status, 500);
        assert.equal((await server.request('GET', `/webhooks/${id}`)).body.enabled, true, 'not yet five days');
        clock.set(START + 5 * 86_400_000);
        await server.request('POST', `/webhooks/${id}/test`);
        const shown = await server.request('GET', `/webhooks/${id}`);
        assert.equal(shown.body.enabled, false);
        assert.match(shown.body.disabledReason, /5 days/);
        await waitFor(() => events.find((e) => e.type === 'webhook-disabled'), 'webhook-disabled');

        const kept = async () => (await server.onair.database.kysely.selectFrom('webhook_messages').select('status').execute()).map((m) => m.status).sort();
        assert.deepEqual(await kept(), ['failed', 'pending', 'pending']);
        assert.equal(await server.onair.webhooks.clean(START + 5 * 86_400_000 + 1), 1, 'the daily clean removes messages that ended');
        assert.deepEqual(await kept(), ['pending', 'pending']);
      } finally {
        await server.stop();
      }
    });
  });
}
