import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { MAX_SENDING } from '../../src/webhooks/delivery.ts';
import { testDatabases } from '../support/databases.ts';
import { startOnair, waitFor } from '../support/onair.ts';

/** A receiver that holds every answer until released, counting the requests it holds. */
async function holdingReceiver() {
  const held: ServerResponse[] = [];
  let most = 0;
  const server = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      held.push(response);
      most = Math.max(most, held.length);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`,
    held: () => held.length,
    most: () => most,
    release: () => held.splice(0).forEach((response) => response.end('ok')),
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

test(`a backlog falling due at once has at most ${MAX_SENDING} requests in flight; the rest wait their turn and are all delivered`, async () => {
  const receiver = await holdingReceiver();
  const server = await startOnair({ database: testDatabases[0]!, env: { ONAIR_ALLOWED_PRIVATE_ADDRESSES: '127.0.0.1/32' } });
  try {
    const created = await server.request('POST', '/webhooks', { url: receiver.url, types: ['task-status-changed'] });
    assert.equal(created.status, 201);
    const count = 3 * MAX_SENDING;
    const events = Array.from({ length: count }, (_, i) => ({ id: `backlog-${i}`, operation: 'test', status: 'completed' as const }));
    await server.onair.bus.record(server.onair.database.kysely, 'task-status-changed', events);
    const running = async () => (await server.onair.tasks.engine.store.countByStatus()).find((c) => c.status === 'running')?.count ?? 0;
    // Every attempt's task has started: without a limit each would hold a request now.
    await waitFor(async () => (await running()) >= count && receiver.held() >= MAX_SENDING, 'every attempt to start', 20_000);
    assert.equal(receiver.held(), MAX_SENDING);
    const delivered = () => server.onair.database.kysely.selectFrom('webhook_messages').select((eb) => eb.fn.countAll<number>().as('n'))
      .where('status', '=', 'delivered').executeTakeFirstOrThrow();
    await waitFor(async () => {
      receiver.release();
      return Number((await delivered()).n) === count;
    }, 'every message to be delivered', 20_000);
    assert.equal(receiver.most(), MAX_SENDING);
    const tasks = await server.onair.tasks.engine.store.countByStatus();
    assert.ok(!tasks.some((c) => c.status === 'failed'), JSON.stringify(tasks));
  } finally {
    receiver.release();
    await server.stop();
    await receiver.close();
  }
});
