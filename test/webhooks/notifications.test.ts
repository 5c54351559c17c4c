import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { Webhook } from 'standardwebhooks';
import { InvalidInput } from '../../src/core/errors.ts';
import { testDatabases } from '../support/databases.ts';
import { startOnair, waitFor, type Running } from '../support/onair.ts';
import { signedWith, startReceiver, type Receiver } from './receiver.ts';

const ALLOW_LOOPBACK = { ONAIR_ALLOWED_PRIVATE_ADDRESSES: '127.0.0.0/8' };

for (const database of testDatabases) {
  describe(`notifications to a given URL on ${database.name}`, () => {
    let receiver: Receiver;
    let server: Running;
    /** The warnings onair logged. */
    const warnings: Array<Record<string, unknown>> = [];
    before(async () => {
      receiver = await startReceiver();
      const logger = pino({ level: 'warn' }, { write: (line: string) => warnings.push(JSON.parse(line)) });
      server = await startOnair({ database, env: ALLOW_LOOPBACK, logger });
    });
    after(async () => {
      await server.stop();
      await receiver.close();
    });

    test('one webhook per URL, its secret answered only when made; the body goes as it is, signed, once per key', async () => {
      const notifications = server.onair.webhooks.notifications;
      const url = `${receiver.url}/jobstartstop`;
      const [first, second] = await Promise.all([notifications.endpoint(url, 'body.notification_url'), notifications.endpoint(url, 'body.notification_url')]);
      assert.equal(first.webhook, second.webhook);
      const secrets = [first.secret, second.secret].filter((s) => s !== undefined);
      assert.equal(secrets.length, 1, 'only the call that made the webhook answers its secret');
      assert.equal((await notifications.endpoint(url, 'x')).secret, undefined);
      const listed = await server.request('GET', `/webhooks/${first.webhook}`);
      assert.equal(listed.status, 200);
      assert.deepEqual(listed.body.types, [], 'it is subscribed to no event');

      const body = { action: 'activate', workflow: { workflow_id: 'd44cf29f4f184757ac0995beb8a0097e', activation: { state: 'finished' } } };
      const id = await notifications.notify(url, 'task-1 activate', 'jobstartstop.activate', body);
      assert.equal(await notifications.notify(url, 'task-1 activate', 'jobstartstop.activate', body), id, 'the same key is the same message');
      const got = await waitFor(() => receiver.received.find((r) => r.headers['webhook-id'] === id), 'the notification');
      assert.deepEqual(JSON.parse(got.body), body, 'the body is sent as it is, not wrapped');
      assert.deepEqual(new Webhook(secrets[0]!).verify(got.body, signedWith(got)), body);
      const log = await server.request('GET', `/webhooks/${first.webhook}/deliveries`);
      assert.equal(log.body.deliveries.length, 1, 'sent once');
      assert.equal(log.body.deliveries[0].type, 'jobstartstop.activate');
    });

    test('a URL leading to a refused address is refused naming the field; a removed webhook is not made again and gets nothing', async () => {
      const notifications = server.onair.webhooks.notifications;
      await assert.rejects(notifications.endpoint('http://10.1.2.3/x', 'body.notification_url'),
        (error: unknown) => error instanceof InvalidInput && /body\.notification_url/.test(JSON.stringify(error.errors)));
      const url = `${receiver.url}/again?token=s3cr3t-in-query`;
      const { webhook } = await notifications.endpoint(url, 'f');
      assert.equal((await server.request('DELETE', `/webhooks/${webhook}`)).status, 204);
      warnings.length = 0;
      assert.equal(await notifications.notify(url, 'after removal', 'jobstartstop.deactivate', { action: 'deactivate' }), undefined, 'nothing sent');
      assert.equal((await server.request('GET', `/webhooks/${webhook}`)).status, 404, 'not made again with a secret nobody has');
      const [warning] = warnings.filter((w) => w.webhook === webhook);
      assert.equal(warning?.url, `${receiver.url}/again`, `the warning names the URL without its query: ${JSON.stringify(warnings)}`);
      assert.ok(!JSON.stringify(warnings).includes('s3cr3t-in-query'));
      // A URL that has its webhook still gets its notifications, and the removed one's never comes.
      const kept = `${receiver.url}/kept`;
      await notifications.endpoint(kept, 'f');
      const id = await notifications.notify(kept, 'kept', 'jobstartstop.deactivate', { action: 'deactivate' });
      await waitFor(() => receiver.received.some((r) => r.headers['webhook-id'] === id), 'the notification of the kept URL');
      assert.ok(!receiver.received.some((r) => r.url?.startsWith('/again')), 'nothing reached the removed webhook\'s URL');
    });
  });
}
