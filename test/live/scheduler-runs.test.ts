import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { ManualClock } from '../../src/core/clock.ts';
import { taskId } from '../../src/live/scheduler.ts';
import { testDatabases } from '../support/databases.ts';
import { tempDir, waitFor, type Running } from '../support/onair.ts';
import { startReceiver, type Receiver, type Received } from '../webhooks/receiver.ts';
import { createJob, jobState, PATH, reaches, schedule, SEED_NOW, startLive, workflow } from './scheduler-support.ts';

// Seed 001's example body with notifications, as the seed writes it.
const SEED_NOTIFICATIONS = `{
		"job_id": "your Job ID",
		"activation": {
			"time_utc": 1612274100,
			"notification": 600
		},
		"deactivation": {
			"time_utc": 1612281600,
			"notification": 600
		},
		"description": "My Tuesday broadcast",
		"notification_url": "https://example.com/live/jobstartstop/callbacks"
	}`;
// The seed's times are in February 2021: its clock is 55 minutes before the activation (13:55Z).
const SEED_FEBRUARY = Date.parse('2021-02-02T13:00:00Z');

const body = (received: Received) => JSON.parse(received.body);

/** The signature a Standard Webhooks sender makes with `secret` for what was received, as the package computes it. */
function verify(secret: string, received: Received): void {
  const headers = received.headers;
  const expected = new Webhook(secret).sign(String(headers['webhook-id']), new Date(Number(headers['webhook-timestamp']) * 1000), received.body);
  assert.equal(headers['webhook-signature'], expected);
}

/**
 * Waits until onair too has seen `count` messages delivered, before time moves on: an attempt still under way when
 * the ManualClock jumps would time out on it and be sent again.
 */
async function delivered(server: Running, webhook: string, count: number): Promise<void> {
  await waitFor(async () => {
    const log = await server.request('GET', `/webhooks/${webhook}/deliveries`);
    return log.body.deliveries.filter((d: { status: number | null }) => d.status === 200).length >= count;
  }, `${count} notifications delivered`);
}

async function takenPort(port: number): Promise<Socket> {
  const socket = createSocket('udp4');
  socket.bind(port, '0.0.0.0');
  await once(socket, 'listening');
  return socket;
}

for (const database of testDatabases) {
  describe(`jobstartstop runs (${database.name})`, () => {
    let receiver: Receiver;
    before(async () => {
      receiver = await startReceiver();
    });
    after(() => receiver.close());

    test("the seed's notification example: notify-activate, activate, notify-deactivate, deactivate, signed, each after its action", async () => {
      receiver.received.length = 0;
      const clock = new ManualClock(SEED_FEBRUARY);
      const server = await startLive(database, clock);
      try {
        const job = (await createJob(server)).id;
        const post = await server.request('POST', PATH, SEED_NOTIFICATIONS.replace('your Job ID', job).replace('https://example.com/live/jobstartstop/callbacks', receiver.url));
        assert.equal(post.status, 200, JSON.stringify(post.body));
        const made = post.body;
        assert.deepEqual(made.activation, { state: 'pending', time_utc: 1612274100, notification: 600 });
        assert.deepEqual(made.deactivation, { state: 'pending', time_utc: 1612281600, notification: 600 });
        assert.equal(made.description, 'My Tuesday broadcast');
        assert.equal(made.notification_url, receiver.url);
        assert.match(made.notification_webhook, /^[0-9a-f-]{36}$/);
        assert.match(made.notification_secret, /^whsec_/);
        assert.equal(post.headers.get('cache-control'), 'no-store');
        assert.equal((await workflow(server, made.workflow_id)).notification_secret, undefined, 'the secret is shown once');
        const again = await schedule(server, job, 1612290000, 1612293600, { notification_url: receiver.url });
        assert.equal(again.notification_webhook, made.notification_webhook, 'one webhook per URL');
        assert.equal(again.notification_secret, undefined);
        assert.equal((await server.request('DELETE', `${PATH}/${again.workflow_id}`)).status, 200);

        const step = async (at: number, count: number, action: string) => {
          clock.set(at * 1000);
          await waitFor(() => receiver.received.length >= count, `${action} received`);
          await delivered(server, made.notification_webhook, count);
          const received = receiver.received[count - 1]!;
          verify(made.notification_secret, received);
          assert.equal(received.headers['webhook-id']?.toString().startsWith('msg_'), true);
          const message = body(received);
          assert.deepEqual(Object.keys(message), ['action', 'workflow'], received.body);
          assert.equal(message.action, action);
          return message.workflow;
        };
        const beforeActivation = await step(1612274100 - 600, 1, 'notify-activate');
        assert.equal(beforeActivation.activation.state, 'pending');
        const activated = await step(1612274100, 2, 'activate');
        assert.equal(activated.activation.state, 'finished');
        assert.equal(activated.activation.fired_at, '2021-02-02T13:55:00.000Z');
        assert.equal(activated.deactivation.state, 'pending');
        assert.equal(await jobState(server, job), 'waiting', 'the job was really opened');
        const beforeDeactivation = await step(1612281600 - 600, 3, 'notify-deactivate');
        assert.equal(beforeDeactivation.deactivation.state, 'pending');
        const deactivated = await step(1612281600, 4, 'deactivate');
        assert.equal(deactivated.deactivation.state, 'finished');
        assert.deepEqual(deactivated, await workflow(server, made.workflow_id));
        assert.equal(await jobState(server, job), 'standby');
        assert.equal(receiver.received.length, 4);
        assert.deepEqual(receiver.received.map((r) => r.headers['content-type']), Array(4).fill('application/json'));
      } finally {
        await server.stop();
      }
    });

    test('an activation that fails notifies activate with its error, cancels the deactivation and fails its task', async () => {
      receiver.received.length = 0;
      const clock = new ManualClock(SEED_NOW);
      const server = await startLive(database, clock);
      let socket: Socket | undefined;
      try {
        const job = await createJob(server);
        socket = await takenPort(job.ingest.port);
        const start = SEED_NOW / 1000 + 60;
        const made = await schedule(server, job.id, start, start + 600, { notification_url: receiver.url });
        clock.set(start * 1000);
        const failed = await reaches(server, made.workflow_id, 'activation', 'failed');
        assert.match(failed.activation.error, new RegExp(`UDP port ${job.ingest.port} is taken`), "the gate's reason is kept");
        assert.equal(failed.deactivation.state, 'cancelled');
        await waitFor(() => receiver.received.length >= 1, 'activate received');
        await delivered(server, made.notification_webhook, 1);
        const message = body(receiver.received[0]!);
        assert.equal(message.action, 'activate');
        assert.equal(message.error, failed.activation.error);
        assert.deepEqual(message.workflow, failed);
        const tasks = server.onair.tasks.service;
        await waitFor(async () => (await tasks.get(taskId(made.workflow_id, 0, 'activate')))?.status === 'failed', 'the activation task failed');
        assert.equal((await tasks.get(taskId(made.workflow_id, 0, 'deactivate')))?.status, 'cancelled');
        clock.set((start + 600) * 1000);
        assert.equal((await workflow(server, made.workflow_id)).deactivation.state, 'cancelled');
        assert.equal(receiver.received.length, 1, 'nothing more is sent');
      } finally {
        socket?.close();
        await server.stop();
      }
    });

    test("a workflow's tasks survive a restart between its activation and its deactivation", async () => {
      const dataDir = tempDir();
      const databaseUrl = await database.create();
      let server: Running | undefined;
      try {
        const first = new ManualClock(SEED_NOW);
        server = await startLive(database, first, { dataDir, databaseUrl });
        const job = (await createJob(server)).id;
        const start = SEED_NOW / 1000 + 60;
        const made = await schedule(server, job, start, start + 600);
        first.set(start * 1000);
        await reaches(server, made.workflow_id, 'activation', 'finished');
        assert.equal(await jobState(server, job), 'waiting');
        await server.stop();
        server = undefined;
        const second = new ManualClock((start + 300) * 1000);
        server = await startLive(database, second, { dataDir, databaseUrl });
        assert.equal((await workflow(server, made.workflow_id)).deactivation.state, 'pending');
        second.set((start + 600) * 1000);
        const done = await reaches(server, made.workflow_id, 'deactivation', 'finished');
        assert.equal(done.deactivation.fired_at, new Date((start + 600) * 1000).toISOString());
        assert.equal(await jobState(server, job), 'standby');
      } finally {
        await server?.stop();
        await database.drop(databaseUrl);
        rmSync(dataDir, { recursive: true, force: true });
      }
    });
  });
}
