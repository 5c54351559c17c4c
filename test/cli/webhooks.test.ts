import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testDatabases } from '../support/databases.ts';
import { startOnair, waitFor, type Running } from '../support/onair.ts';
import { runOnair } from '../support/process.ts';
import { startReceiver, type Receiver } from '../webhooks/receiver.ts';

describe('the onair command, webhooks', () => {
  let server: Running;
  let receiver: Receiver;
  before(async () => {
    receiver = await startReceiver();
    server = await startOnair({ database: testDatabases[0]!, env: { ONAIR_ALLOWED_PRIVATE_ADDRESSES: '127.0.0.0/8' } });
  });
  after(async () => {
    await server.stop();
    await receiver.close();
  });

  test('add, list, show, deliveries, retry, rotate and remove talk to the server; errors exit 1 with the detail', async () => {
    const added = await runOnair(server.url, 'webhooks', 'add', receiver.url, 'task-status-changed', '--description', 'backend');
    assert.equal(added.code, 0, added.stderr);
    const [, id, secret] = /^webhook (\S+) added .*\nsecret: (whsec_\S+) \(shown only now\)$/m.exec(added.stdout.trim()) ?? [];
    assert.ok(id && secret, added.stdout);
    assert.match((await runOnair(server.url, 'webhooks', 'list')).stdout, /backend/);
    const shown = JSON.parse((await runOnair(server.url, 'webhooks', 'show', id, '--json')).stdout);
    assert.deepEqual(shown.types, ['task-status-changed']);

    receiver.answer = () => ({ status: 500, body: 'down' });
    await server.request('POST', '/tasks', { operation: { type: 'test', parameters: {} } });
    await waitFor(() => receiver.received.length >= 1, 'a delivery');
    const log = await waitFor(async () => {
      const listed = JSON.parse((await runOnair(server.url, 'webhooks', 'deliveries', id, '--failed', '--json')).stdout);
      return listed.deliveries.length > 0 ? listed : undefined;
    }, 'the failed delivery in the log');
    assert.equal(log.deliveries[0].status, 500);
    receiver.answer = () => ({ status: 200 });
    const retried = await runOnair(server.url, 'webhooks', 'retry', id, log.deliveries[0].id);
    assert.equal(retried.code, 0, retried.stderr);
    assert.match(retried.stdout, /^message msg_\w+ sent again/);
    const recovered = await runOnair(server.url, 'webhooks', 'retry', id, '--since', '2026-01-01T00:00:00Z');
    assert.match(recovered.stdout, /messages? sent again/);

    const rotated = await runOnair(server.url, 'webhooks', 'rotate', id);
    assert.match(rotated.stdout, /secret: whsec_/);
    assert.ok(!rotated.stdout.includes(secret));
    assert.equal((await runOnair(server.url, 'webhooks', 'remove', id)).code, 0);
    const gone = await runOnair(server.url, 'webhooks', 'show', id);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /error 404: Webhook .* does not exist/);
    const bad = await runOnair(server.url, 'webhooks', 'add', 'ftp://example.org', '*');
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /error 400: body\.url/);
    const usage = await runOnair(server.url, 'webhooks', 'frobnicate');
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /onair webhooks add URL TYPE/);
  });
});
